package bgapi

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"go.bug.st/serial"
)

// BLED112 USB identity (docs/bgapi-protocol.md §USB identity): Silicon Labs / Bluegiga VID
// 0x2458, PID 0x0001.
const (
	BLED112VID = "2458"
	BLED112PID = "0001"
)

// Port errors. A *PortError wraps one of them (or gogatt.ErrNoAdapter, gogatt.ErrNotSerialPort),
// so test with errors.Is; it also matches fs.ErrPermission or gogatt.ErrBusy, as the other
// backends' errors do.
var (
	// ErrPermissionDenied: the port exists but this user may not open it. On Linux add the
	// user to the "dialout" group (sudo usermod -aG dialout $USER, then log in again) or
	// install a udev rule such as
	//   SUBSYSTEM=="tty", ATTRS{idVendor}=="2458", ATTRS{idProduct}=="0001", MODE="0666"
	ErrPermissionDenied = errors.New("bgapi: permission denied opening serial port")
	// ErrPortBusy: another process holds the port: it opened it exclusively, or (on Linux,
	// macOS and the BSDs) it holds the advisory lock this package takes on the device node, which
	// also keeps a second program run by root from resetting a dongle in use.
	ErrPortBusy = errors.New("bgapi: serial port busy")
)

// PortError says why a serial port could not be opened or found.
type PortError struct {
	Port string // the path, "" when auto-detection found nothing
	Hint string // what the user can do about it
	Kind error  // ErrPermissionDenied, ErrPortBusy, gogatt.ErrNoAdapter, gogatt.ErrNotSerialPort or nil
	Err  error  // the underlying error
}

// Error says which port, what went wrong and what helps.
func (e *PortError) Error() string {
	var b strings.Builder
	b.WriteString("bgapi: ")
	if e.Port != "" {
		fmt.Fprintf(&b, "open %s: ", e.Port)
	}
	switch {
	case e.Kind != nil && e.Err != nil:
		fmt.Fprintf(&b, "%s (%v)", strings.TrimPrefix(strings.TrimPrefix(e.Kind.Error(), "bgapi: "), "gogatt: "), e.Err)
	case e.Kind != nil:
		b.WriteString(strings.TrimPrefix(strings.TrimPrefix(e.Kind.Error(), "bgapi: "), "gogatt: "))
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Is matches the error's kind (ErrPermissionDenied, ErrPortBusy, gogatt.ErrNoAdapter,
// gogatt.ErrNotSerialPort) and the sentinel shared by every backend: fs.ErrPermission (os.ErrPermission) for ErrPermissionDenied,
// gogatt.ErrBusy for ErrPortBusy.
func (e *PortError) Is(target error) bool {
	switch {
	case e.Kind == nil:
		return false
	case target == e.Kind:
		return true
	case e.Kind == ErrPermissionDenied:
		return target == fs.ErrPermission
	case e.Kind == ErrPortBusy:
		return target == gogatt.ErrBusy
	}
	return false
}

// Unwrap returns the underlying error.
func (e *PortError) Unwrap() error { return e.Err }

const permissionHint = `add your user to the "dialout" group (sudo usermod -aG dialout $USER, then log in again) ` +
	`or install a udev rule: SUBSYSTEM=="tty", ATTRS{idVendor}=="2458", ATTRS{idProduct}=="0001", MODE="0666"`

// serialPort is what the backend needs from an open port: the byte stream plus input flushing.
type serialPort interface {
	io.ReadWriteCloser
	ResetInputBuffer() error
}

// errTTYBusy marks an open that failed because another process holds the port exclusively
// (openTTY on Linux).
var errTTYBusy = errors.New("port busy")

// errNotTTY: the path opened is not a terminal device (the terminal ioctls fail).
var errNotTTY = errors.New("not a serial port")

// readDeadliner is a port whose pending Read a deadline can end (see client.readLoop).
type readDeadliner interface {
	SetReadDeadline(t time.Time) error
}

// openSerial opens path as a raw serial port (openTTY: a file on the runtime's poller on Linux,
// go.bug.st/serial elsewhere) and classifies failures. Where the OS allows, the port is locked
// first (lockPort) and until it is closed: a second opener gets ErrPortBusy before it has
// written anything.
func openSerial(path string) (serialPort, error) {
	unlock, err := lockPort(path)
	if err != nil {
		return nil, err
	}
	p, err := openTTY(path)
	if err != nil {
		unlock()
		return nil, classifyOpenError(path, err)
	}
	return &lockedPort{serialPort: p, unlock: unlock}, nil
}

// lockedPort is an open serial port that releases its lock when closed.
type lockedPort struct {
	serialPort
	once   sync.Once
	unlock func()
}

// Close closes the port, then releases the lock.
func (p *lockedPort) Close() error {
	err := p.serialPort.Close()
	p.once.Do(p.unlock)
	return err
}

// SetReadDeadline sets the port's read deadline where it has one (errors.ErrUnsupported
// otherwise).
func (p *lockedPort) SetReadDeadline(t time.Time) error {
	if d, ok := p.serialPort.(readDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return errors.ErrUnsupported
}

const (
	busyHint          = "another program (a second gogatt, ModemManager, a serial console) has it open"
	notSerialPortHint = "give the BLED112's serial port (e.g. /dev/ttyACM0, /dev/cu.usbmodem1, COM3)"
)

// classifyOpenError gives err, the failure to open path, its kind. A path naming a regular file
// or a directory is not a serial port whatever the open said (a directory fails with EISDIR, a
// regular file the user may not write with EACCES); go.bug.st/serial reports a node that
// refuses the terminal ioctls (/dev/null, a file) as InvalidSerialPort.
func classifyOpenError(path string, err error) error {
	if fi, serr := os.Stat(path); serr == nil && (fi.IsDir() || fi.Mode().IsRegular()) {
		return &PortError{Port: path, Kind: gogatt.ErrNotSerialPort, Err: err, Hint: notSerialPortHint}
	}
	var pe *serial.PortError
	if errors.As(err, &pe) {
		switch pe.Code() {
		case serial.InvalidSerialPort:
			return &PortError{Port: path, Kind: gogatt.ErrNotSerialPort, Err: err, Hint: notSerialPortHint}
		case serial.PortBusy:
			return &PortError{Port: path, Kind: ErrPortBusy, Err: err, Hint: busyHint}
		case serial.PermissionDenied:
			return &PortError{Port: path, Kind: ErrPermissionDenied, Err: err, Hint: permissionHint}
		case serial.PortNotFound:
			return &PortError{Port: path, Kind: gogatt.ErrNoAdapter, Err: err, Hint: "is the dongle plugged in?"}
		}
	}
	switch {
	case errors.Is(err, errNotTTY):
		return &PortError{Port: path, Kind: gogatt.ErrNotSerialPort, Err: err, Hint: notSerialPortHint}
	case errors.Is(err, errTTYBusy):
		return &PortError{Port: path, Kind: ErrPortBusy, Err: err, Hint: busyHint}
	case errors.Is(err, fs.ErrNotExist):
		return &PortError{Port: path, Kind: gogatt.ErrNoAdapter, Err: err, Hint: "is the dongle plugged in?"}
	case errors.Is(err, fs.ErrPermission):
		return &PortError{Port: path, Kind: ErrPermissionDenied, Err: err, Hint: permissionHint}
	}
	return &PortError{Port: path, Err: err}
}

// isBLED112 reports whether a port's USB identity is a BLED112; hex digits compare
// case-insensitively.
func isBLED112(p *portDetails) bool {
	return p != nil && p.IsUSB && strings.EqualFold(p.VID, BLED112VID) && strings.EqualFold(p.PID, BLED112PID)
}

// maybeBLED112 reports whether a port may be a BLED112: it is one, or (where USB IDs cannot be
// read, usbIDsUnknown) it is a USB port of unknown identity.
func maybeBLED112(p *portDetails) bool {
	return isBLED112(p) || (usbIDsUnknown && p != nil && p.IsUSB && p.VID == "" && p.PID == "")
}

// findBLED112 lists serial ports and returns the BLED112s (see maybeBLED112), sorted by name.
func findBLED112(list func() ([]*portDetails, error)) ([]*portDetails, error) {
	ports, err := list()
	if err != nil {
		return nil, &PortError{Kind: gogatt.ErrNoAdapter, Err: err, Hint: "could not list serial ports; give Config.Port explicitly"}
	}
	var out []*portDetails
	for _, p := range ports {
		if maybeBLED112(p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *portDetails) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// detectPort returns the path of the first BLED112 found, or an error matching
// gogatt.ErrNoAdapter.
func detectPort(list func() ([]*portDetails, error)) (*portDetails, error) {
	found, err := findBLED112(list)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		hint := "no serial port with USB ID 2458:0001 (BLED112); plug one in or set Config.Port"
		if usbIDsUnknown {
			hint = "no /dev/cu.usbmodem* port (this build has no cgo, so USB IDs cannot be read); plug a BLED112 in or set Config.Port"
		}
		return nil, &PortError{Kind: gogatt.ErrNoAdapter, Hint: hint}
	}
	return found[0], nil
}

// portIdentity finds the USB details of path, if it is a USB port the enumerator knows.
func portIdentity(list func() ([]*portDetails, error), path string) *portDetails {
	if list == nil {
		return nil
	}
	ports, err := list()
	if err != nil {
		return nil
	}
	for _, p := range ports {
		if p != nil && p.Name == path && p.IsUSB {
			return p
		}
	}
	return nil
}

// relocate finds where a re-enumerated dongle came back: the same path if it exists, else a
// BLED112 port with the same USB serial number (the port name may change after system_reset,
// docs/bgapi-protocol.md §Reset and re-enumeration, #pygatt-reset).
func relocate(list func() ([]*portDetails, error), path string, id *portDetails) string {
	if id == nil || id.SerialNumber == "" || list == nil {
		return path
	}
	ports, err := list()
	if err != nil {
		return path
	}
	for _, p := range ports {
		if p != nil && p.Name == path {
			return path
		}
	}
	for _, p := range ports {
		if isBLED112(p) && p.SerialNumber == id.SerialNumber {
			return p.Name
		}
	}
	return path
}
