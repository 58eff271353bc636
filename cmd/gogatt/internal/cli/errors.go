package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bluez"
)

// adapterError is a failure to open or start the adapter (Env.Open, Backend.Start): a timeout
// there is the adapter's, not a device's.
type adapterError struct {
	err      error
	timedOut bool // --timeout passed while starting
}

func (e *adapterError) Error() string { return e.err.Error() }
func (e *adapterError) Unwrap() error { return e.err }

// opError is a failed operation of a command on one characteristic, with what classify needs to
// say what to do in the command's own terms (the CHAR as typed, the characteristic's
// properties, the value's length).
type opError struct {
	op      string // "read", "write" or "subscribe"
	address string // ADDRESS as the device reports it
	char    string // CHAR as typed
	t       target
	size    int  // write: bytes of the value
	long    bool // --long
	noResp  bool // write: a Write Command (--no-response, or the characteristic takes only those)
	err     error
}

func (e *opError) Error() string {
	verb := map[string]string{"read": "reading", "write": "writing", "subscribe": "subscribing to"}[e.op]
	return fmt.Sprintf("%s %s: %v", verb, e.t.label(), e.err)
}

func (e *opError) Unwrap() error { return e.err }

// cmdLine is the command line that does op on the same characteristic, as a hint quotes it.
func (e *opError) cmdLine(op string) string {
	return fmt.Sprintf("'gogatt %s %s %s'", op, e.address, e.char)
}

// classify turns an error into an exit status and one line saying what happened and what to
// do about it, in the terms of the command line: flags and commands, never library API names.
func (a *app) classify(ctx context.Context, err error, c *command) (int, string) {
	msg := strings.ReplaceAll(err.Error(), "gogatt: ", "")
	var amb *gogatt.AmbiguousUUIDError
	var ae *gogatt.ATTError
	var be *bgapi.Error
	var pe *bgapi.PortError
	var ad *adapterError
	var op *opError
	errors.As(err, &op)
	var bze *bluez.Error
	if errors.As(err, &bze) && errors.As(bze.Unwrap(), &ae) {
		// An ATT error bluetoothd reported as a D-Bus error: said as the other backends say
		// it; -v shows the D-Bus error.
		a.log.Debug("bluetoothd", "err", bze)
		msg = strings.Replace(msg, strings.ReplaceAll(bze.Error(), "gogatt: ", ""), strings.ReplaceAll(ae.Error(), "gogatt: ", ""), 1)
	}
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return ExitInterrupted, "interrupted"
	case errors.As(err, &pe) && (pe.Port != "" || pe.Kind != gogatt.ErrNoAdapter):
		return ExitNoAdapter, a.portLine(pe)
	case errors.As(err, &ad) && ad.timedOut:
		a.log.Debug("starting the adapter", "err", err)
		return ExitNoAdapter, a.adapterName() + " did not answer within --timeout " + a.g.timeout.String() + ": " + a.adapterTimeoutHint()
	case a.g.backend == "bluez" && a.bluezLine(err) != "":
		a.log.Debug("bluez backend", "err", err)
		return ExitNoAdapter, a.bluezLine(err)
	case errors.Is(err, bgapi.ErrAdapterLost):
		// Before ErrNotConnected: the links went with the adapter.
		return ExitNoAdapter, msg + ": was the adapter unplugged, or reset by another program using it?"
	case errors.Is(err, gogatt.ErrNoAdapter):
		a.log.Debug("no adapter", "err", err)
		switch {
		case a.g.backend == "gatttool":
			return ExitNoAdapter, "no Bluetooth adapter " + a.g.hci + ": check 'hciconfig -a', pass --hci, or leave out --backend gatttool to use a BLED112 (or the emulator: --sim)"
		case a.g.port != "":
			return ExitNoAdapter, msg + ": check the path given to --port, or try --sim"
		}
		return ExitNoAdapter, "no BLED112 found: plug one in, pass --port, use BlueZ with --backend bluez, or try --sim"
	case errors.Is(err, exec.ErrNotFound) && errors.As(err, &ad) && a.g.backend == "gatttool":
		a.log.Debug("gatttool backend", "err", err)
		return ExitNoAdapter, "gatttool is not installed: install BlueZ's deprecated tools (gatttool, hcitool), or leave out --backend gatttool to use a BLED112 (or the emulator: --sim)"
	case errors.Is(err, gogatt.ErrNotSerialPort):
		// Not from a *bgapi.PortError (those are said above): name what was opened as --port.
		a.log.Debug("not a serial port", "err", err)
		port := "--port " + a.g.port
		if a.g.port == "" {
			port = "the adapter's port"
		}
		return ExitNoAdapter, port + notSerialPortLine
	case errors.Is(err, fs.ErrPermission):
		return ExitNoAdapter, msg + ": add yourself to the group that owns the device (often 'dialout') and log in again"
	case errors.As(err, &amb):
		return ExitNotFound, msg + " (e.g. SERVICE/CHAR or handle:0x" + hex4(firstHandle(amb)) + ")"
	case errors.Is(err, gogatt.ErrNotFound) && c.name == "clear-bond":
		return ExitNotFound, msg + ": connect to it once with any gogatt command, so that the adapter names its bond, and run clear-bond again; or remove every bond with 'gogatt clear-bond --all'"
	case errors.Is(err, gogatt.ErrNotFound) && op != nil && op.op == "subscribe" && op.t.known && !notifies(op.t):
		return ExitNotFound, msg + ": it neither notifies nor indicates" + op.readHint()
	case errors.Is(err, gogatt.ErrNotFound):
		return ExitNotFound, msg + ": run 'gogatt services ADDRESS' to see what the device offers"
	case errors.Is(err, gogatt.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		if op != nil {
			return ExitTimeout, msg + ": the device did not answer in time: is it still in range? (raise --timeout if it is slow)"
		}
		return ExitTimeout, msg + ": is the device in range and advertising? (raise --timeout if it is slow)"
	case errors.As(err, &ae):
		if hint := a.securityHint(ae.Code, c); hint != "" {
			return ExitRefused, msg + ": " + hint
		}
		if hint := attHint(ae, op); hint != "" {
			return ExitRefused, msg + ": " + hint
		}
		return ExitRefused, msg
	case errors.As(err, &be) && be.Result == wire.ResultPinOrKeyMissing:
		return ExitRefused, msg + ": the device has lost its keys of the bond: remove the bond with 'gogatt clear-bond " + a.peerArg() + "', then bond again"
	case errors.As(err, &be) && be.Result == wire.ResultAuthenticationRequirements && a.g.passkey == "":
		return ExitRefused, msg + ": the device wants pairing with MITM protection: add --passkey N (its passkey) or --passkey ask"
	case errors.As(err, &be) && (be.Result == wire.ResultPasskeyEntryFailed || be.Result == wire.ResultConfirmValueFailed):
		return ExitRefused, msg + ": was the passkey right?"
	case errors.Is(err, gogatt.ErrNotConnected):
		return ExitLinkLost, msg + ": is the device still in range and powered?"
	case errors.Is(err, gogatt.ErrUnsupported) && op != nil && op.op == "subscribe" && op.t.known && !notifies(op.t):
		return ExitUnsupported, msg + ": it neither notifies nor indicates" + op.readHint()
	case errors.Is(err, gogatt.ErrUnsupported):
		other := "gatttool"
		if a.g.backend != "bgapi" {
			other = "bgapi"
		}
		return ExitUnsupported, msg + " (try --backend " + other + ")"
	case errors.Is(err, gogatt.ErrInvalidParameter) && op != nil && op.op == "write" && !op.long && op.size > defaultATTMTU-3:
		// The library says which of its calls takes more (CharWriteLong): say which flag does.
		how := "add --long to write it with Prepare/Execute Write (up to 512 bytes)"
		if op.noResp {
			how = "a Write Command carries no more: add --long (acknowledged Prepare/Execute Write, up to 512 bytes)"
		}
		return ExitUsage, fmt.Sprintf("writing %s: %d bytes do not fit in one ATT write: %s", op.t.label(), op.size, how)
	case errors.Is(err, gogatt.ErrInvalidParameter):
		return ExitUsage, msg
	case errors.Is(err, gogatt.ErrBusy):
		return ExitFailure, msg + ": another program may be using the adapter"
	}
	if strings.Contains(msg, "pairing") || strings.Contains(msg, "bonding") {
		return ExitRefused, msg
	}
	return ExitFailure, msg
}

// securityHint says what to do about an ATT security error from the peer, in gogatt's own
// terms: pair (Insufficient Encryption), or pair with MITM protection — a passkey — when the
// characteristic needs an authenticated link (Insufficient Authentication, Core v5.3 Vol 3
// Part F §3.4.1.1), which bonding again without a passkey would never give.
func (a *app) securityHint(code att.ErrorCode, c *command) string {
	peer := a.peerArg()
	paired := a.opts.bond || c.name == "bond"
	switch code {
	case att.ErrInsufficientEncryption, att.ErrInsufficientEncryptionKeySize:
		if paired {
			return ""
		}
		return "pair first: add --bond, or run 'gogatt bond " + peer + "' once (later connections are then encrypted with the bond)"
	case att.ErrInsufficientAuthentication:
		switch {
		case a.g.backend == "bluez" && !paired:
			// bluetoothd reports Insufficient Authentication, Encryption and Encryption Key Size
			// alike ("Not paired", src/gatt-client.c): say what all three need.
			return "the characteristic needs a paired link: add --bond (with --passkey N or --passkey ask if the device shows a passkey), or run 'gogatt bond " + peer + "' once"
		case a.g.backend == "bluez":
			return "the bond in use does not give the security the characteristic needs: remove it with 'gogatt clear-bond " + peer + "', then bond again with --passkey N (the device's passkey) or --passkey ask"
		case a.g.backend == "gatttool":
			return "the characteristic needs pairing with MITM protection: pair with bluetoothctl (its agent asks for the passkey), then run this again"
		case a.g.passkey == "":
			add := "--bond --passkey"
			if c.name == "bond" {
				add = "--passkey"
			}
			return "the characteristic needs pairing with MITM protection: add " + add + " N (the device's passkey) or " + add + " ask; a bond made without it must go first: 'gogatt clear-bond " + peer + "'"
		case !paired:
			return "add --bond to pair with the passkey; a bond made without it must go first: 'gogatt clear-bond " + peer + "'"
		}
		return "the bond in use was made without MITM protection, and pairing reuses it: remove it with 'gogatt clear-bond " + peer + "', then bond again with --passkey"
	}
	return ""
}

// portLine says what is wrong with a serial port the BGAPI backend could not open, in the terms
// of --port. The library's own hint (which names its Config) is not repeated; -v logs the
// cause.
func (a *app) portLine(pe *bgapi.PortError) string {
	a.log.Debug("serial port", "err", pe)
	port := pe.Port
	switch {
	case port == "":
		port = "the BLED112's serial port"
	case a.g.port != "":
		port = "--port " + port
	}
	switch {
	case pe.Kind == bgapi.ErrPortBusy:
		return port + " is busy: another program (a second gogatt, ModemManager, a serial console) has it open; stop it, or pass another --port"
	case pe.Kind == bgapi.ErrPermissionDenied:
		return "permission denied opening " + port + ": add yourself to the group that owns it (often 'dialout': sudo usermod -aG dialout $USER) and log in again"
	case pe.Kind == gogatt.ErrNoAdapter:
		return port + " does not exist: is the dongle plugged in? Check the path, leave out --port to find a BLED112, or try --sim"
	case errors.Is(pe, gogatt.ErrNotSerialPort):
		return port + notSerialPortLine
	}
	return "cannot open " + port + ": " + strings.ReplaceAll(fmt.Sprint(pe.Err), "gogatt: ", "") + ": is it a BLED112? Unplug it and plug it in again, or pass another --port"
}

// notSerialPortLine follows the port's name when it is not a serial port.
const notSerialPortLine = " is not a serial port: pass a BLED112's port (e.g. /dev/ttyACM0) to --port, or leave it out to find one (-v says why)"

// adapterName names the adapter the global flags chose, as a timeout message says it.
func (a *app) adapterName() string {
	switch {
	case a.g.sim:
		return "the emulated BLED112"
	case a.g.backend == "gatttool":
		return "the Bluetooth adapter " + a.g.hci + " (BlueZ)"
	case a.g.backend == "bluez":
		return "bluetoothd (BlueZ, adapter " + a.g.hci + ")"
	case a.g.port != "":
		return "the BLED112 on " + a.g.port
	}
	return "the BLED112"
}

func (a *app) adapterTimeoutHint() string {
	switch {
	case a.g.backend == "gatttool":
		return "check 'hciconfig -a' (is it up?) and that bluetoothd runs"
	case a.g.backend == "bluez":
		return "check that bluetoothd runs ('systemctl status bluetooth') and answers 'bluetoothctl list'"
	case a.g.port != "":
		return "is --port a BLED112? Unplug it and plug it in again"
	}
	return "unplug it and plug it in again, or pass its --port"
}

// D-Bus error names (the D-Bus Specification, "Message Bus Specification"; libdbus's
// dbus-protocol.h) that say why bluetoothd cannot be reached.
const (
	dbusAccessDenied   = "org.freedesktop.DBus.Error.AccessDenied"
	dbusServiceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown"
	dbusNameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner"
)

// bluezLine says why --backend bluez cannot reach the adapter, in the terms of the command
// line; "" when err is not about reaching it. The package's errors carry the bus's own
// D-Bus error (a policy's refusal, no bluetoothd); what is left of a failed start is the
// adapter (absent or powered off) or the bus itself.
func (a *app) bluezLine(err error) string {
	instead := ", or leave out --backend bluez to use a BLED112 (or the emulator: --sim)"
	var ad *adapterError
	var nf *bluez.AdapterNotFoundError
	switch name := dbusErrorName(err); {
	case name == dbusAccessDenied:
		return "the system bus's policy does not let this user call bluetoothd (org.bluez): BlueZ's policy file (bluetooth.conf in dbus-1/system.d) allows root and, on most systems, the group 'bluetooth': add yourself to it (sudo usermod -aG bluetooth $USER) and log in again"
	case name == dbusServiceUnknown || name == dbusNameHasNoOwner:
		return "bluetoothd is not running (nothing owns org.bluez on the system bus): start it ('sudo systemctl start bluetooth')" + instead
	case errors.Is(err, bluez.ErrNoBus):
		return "cannot connect to the system D-Bus (" + strings.ReplaceAll(err.Error(), "bluez: ", "") + ")"
	case !errors.Is(err, gogatt.ErrNoAdapter) && !errors.As(err, &ad):
		return ""
	case errors.Is(err, bluez.ErrBlocked):
		return "the Bluetooth adapter " + a.g.hci + " is blocked by rfkill: unblock it ('rfkill unblock bluetooth'; a hard block is a switch or key on the machine)"
	case errors.Is(err, bluez.ErrPoweredOff):
		return "the Bluetooth adapter " + a.g.hci + " is powered off: power it on ('bluetoothctl power on'; 'rfkill list' shows a radio switched off)"
	case errors.As(err, &nf) && len(nf.Available) > 0:
		return "bluetoothd has no Bluetooth adapter " + a.g.hci + " (it has " + strings.Join(nf.Available, ", ") + "): pass --hci" + instead
	case errors.Is(err, gogatt.ErrNoAdapter):
		return "bluetoothd has no Bluetooth adapter " + a.g.hci + ": check 'bluetoothctl list', pass --hci" + instead
	case name == "" && !errors.Is(err, gogatt.ErrInvalidParameter):
		// Start fails before any call only when it cannot connect to the bus.
		return "cannot connect to the system D-Bus (" + strings.ReplaceAll(err.Error(), "bluez: ", "") + "): is the D-Bus daemon running? (DBUS_SYSTEM_BUS_ADDRESS, when set, names the system bus)"
	}
	return ""
}

// dbusErrorName is the name of the D-Bus error in err's chain (as the bus sent it, or as
// package bluez keeps it), "" if there is none.
func dbusErrorName(err error) string {
	var be *bluez.Error
	var de dbus.Error
	var dep *dbus.Error
	switch {
	case errors.As(err, &be):
		return be.Name
	case errors.As(err, &dep):
		return dep.Name
	case errors.As(err, &de):
		return de.Name
	}
	return ""
}

// notifies reports whether the characteristic t sends notifications or indications.
func notifies(t target) bool {
	return t.char.Properties&(gogatt.PropNotify|gogatt.PropIndicate) != 0
}

// readHint suggests reading the characteristic when it can be read.
func (e *opError) readHint() string {
	if e.t.char.Properties&gogatt.PropRead != 0 {
		return ": read it with " + e.cmdLine("read")
	}
	return ": see its properties with 'gogatt services " + e.address + "'"
}

// attHint says what to do about an ATT Error Response (Core v5.3 Vol 3 Part F §3.4.1.1, Table
// 3.4), given the operation when the command knows it; "" when there is nothing to say.
func attHint(ae *gogatt.ATTError, op *opError) string {
	services := "'gogatt services ADDRESS'"
	if op != nil {
		services = "'gogatt services " + op.address + "'"
	}
	switch ae.Code {
	case att.ErrInvalidHandle:
		return "the device has no attribute with that handle: run " + services + " for the handles it has"
	case att.ErrReadNotPermitted:
		if op != nil && op.t.known && notifies(op.t) && op.t.char.Properties&gogatt.PropRead == 0 {
			return "it is not readable but sends its values: run " + op.cmdLine("subscribe")
		}
		return "the characteristic is not readable: see its properties with " + services
	case att.ErrWriteNotPermitted:
		return "the characteristic is not writable: see its properties with " + services
	case att.ErrInsufficientAuthorization:
		return "the device has not authorized this client: allow it on the device or in its app (pairing with --bond does not)"
	case att.ErrAttributeNotLong:
		return "the value fits in one ATT packet: leave out --long"
	case att.ErrRequestNotSupported:
		if op != nil && op.long {
			return "the device does not support long reads or writes: leave out --long"
		}
		return "the device does not support this request"
	case att.ErrInvalidAttributeValueLength:
		return "the device does not take a value of that length: check the value (--format int --size N for an integer)"
	}
	return ""
}

// peerArg is the device's address for a command line in a hint.
func (a *app) peerArg() string {
	if a.peer == "" {
		return "ADDRESS"
	}
	return a.peer
}

func firstHandle(e *gogatt.AmbiguousUUIDError) uint16 {
	if len(e.Candidates) > 0 {
		return e.Candidates[0].ValueHandle
	}
	return 0
}

func hex4(v uint16) string {
	const d = "0123456789abcdef"
	return string([]byte{d[v>>12], d[v>>8&15], d[v>>4&15], d[v&15]})
}
