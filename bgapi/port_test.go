package bgapi

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/gogatt/gogatt"
	"go.bug.st/serial"
)

func TestDetectPort(t *testing.T) {
	list := func(ports ...*portDetails) func() ([]*portDetails, error) {
		return func() ([]*portDetails, error) { return ports, nil }
	}
	tests := []struct {
		name  string
		list  func() ([]*portDetails, error)
		want  string
		noAdp bool
	}{
		{"none", list(), "", true},
		{"other usb", list(&portDetails{Name: "/dev/ttyUSB0", IsUSB: true, VID: "0403", PID: "6001"}), "", true},
		{"not usb", list(&portDetails{Name: "/dev/ttyS0", VID: "2458", PID: "0001"}), "", true},
		{"bled112", list(
			&portDetails{Name: "/dev/ttyUSB0", IsUSB: true, VID: "0403", PID: "6001"},
			&portDetails{Name: "/dev/ttyACM1", IsUSB: true, VID: "2458", PID: "0001"},
			&portDetails{Name: "/dev/ttyACM0", IsUSB: true, VID: "2458", PID: "0001"},
		), "/dev/ttyACM0", false},
		{"hex case-insensitive", list(&portDetails{Name: "/dev/cu.usbmodem1", IsUSB: true, VID: "2458", PID: "0001"}), "/dev/cu.usbmodem1", false},
		{"upper-case vid", list(&portDetails{Name: "COM3", IsUSB: true, VID: "2458", PID: "0001"}), "COM3", false},
		{"enumeration fails", func() ([]*portDetails, error) { return nil, errors.New("boom") }, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := detectPort(tc.list)
			if tc.noAdp {
				if !errors.Is(err, gogatt.ErrNoAdapter) {
					t.Fatalf("err = %v, want ErrNoAdapter", err)
				}
				return
			}
			if err != nil || d.Name != tc.want {
				t.Fatalf("got %v, %v; want %s", d, err, tc.want)
			}
		})
	}
	if !isBLED112(&portDetails{IsUSB: true, VID: "2458", PID: "0001"}) || isBLED112(&portDetails{IsUSB: true, VID: "2458", PID: "0002"}) {
		t.Fatal("isBLED112")
	}
	if !isBLED112(&portDetails{IsUSB: true, VID: "2458", PID: "0001"}) {
		t.Fatal("lower")
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := openSerial(filepath.Join(t.TempDir(), "ttyACM9"))
	if !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("missing port: %v", err)
	}
	tests := []struct {
		name string
		in   error
		want error
		hint string
	}{
		{"busy", &serial.PortError{}, ErrPortBusy, "another program"},
		{"permission", fmt.Errorf("open: %w", syscall.EACCES), ErrPermissionDenied, "dialout"},
		{"not found", fmt.Errorf("open: %w", syscall.ENOENT), gogatt.ErrNoAdapter, "plugged"},
	}
	for _, tc := range tests {
		err := classifyOpenError("/dev/ttyACM0", tc.in)
		var pe *PortError
		if !errors.Is(err, tc.want) || !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// A regular file is not a serial port.
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openSerial(f); err == nil || errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("regular file: %v", err)
	}
}

// TestOpenNotSerialPort: a path that names something other than a serial port (a device that is
// not a terminal, a regular file, a directory) fails to open, and to start the backend, with an
// error matching gogatt.ErrNotSerialPort and none of the other port sentinels.
func TestOpenNotSerialPort(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "read-only")
	if err := os.WriteFile(readOnly, nil, 0o400); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{"regular file": file, "read-only file": readOnly, "directory": dir}
	if runtime.GOOS != "windows" {
		paths["null device"] = os.DevNull
	}
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			_, err := openSerial(path)
			var pe *PortError
			if !errors.Is(err, gogatt.ErrNotSerialPort) || !errors.As(err, &pe) || pe.Port != path {
				t.Fatalf("openSerial(%s) = %v, want a *PortError matching gogatt.ErrNotSerialPort", path, err)
			}
			for _, not := range []error{gogatt.ErrNoAdapter, gogatt.ErrBusy, fs.ErrPermission, ErrPortBusy, ErrPermissionDenied} {
				if errors.Is(err, not) {
					t.Errorf("openSerial(%s) = %v also matches %v", path, err, not)
				}
			}
			if !strings.Contains(err.Error(), "not a serial port") {
				t.Errorf("openSerial(%s) = %q does not say it is not a serial port", path, err)
			}
			b := New(Config{Port: path, NoReset: true})
			defer b.Stop()
			if err := b.Start(t.Context()); !errors.Is(err, gogatt.ErrNotSerialPort) {
				t.Errorf("Start on %s = %v, want gogatt.ErrNotSerialPort", path, err)
			}
		})
	}
}

func TestStartNoAdapter(t *testing.T) {
	b := New(Config{ports: func() ([]*portDetails, error) { return nil, nil }})
	if err := b.Start(t.Context()); !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("auto-detect with nothing: %v", err)
	}
	if err := b.Stop(); err != nil {
		t.Fatalf("Stop after failed Start: %v", err)
	}
	b = New(Config{Port: filepath.Join(t.TempDir(), "gone"), NoReset: true})
	if err := b.Start(t.Context()); !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("missing port: %v", err)
	}
	if _, err := b.Connect(t.Context(), hrmAddr, gogatt.ConnectOptions{}); !errors.Is(err, gogatt.ErrNotStarted) {
		t.Fatalf("connect before start: %v", err)
	}
}

func TestStartSilentDeviceFails(t *testing.T) {
	// A pty nobody answers on: system_hello times out, Start fails cleanly.
	m, s, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer s.Close()
	b := New(Config{Port: s.Name(), NoReset: true, CommandTimeout: 200 * time.Millisecond})
	if err := b.Start(t.Context()); !errors.Is(err, gogatt.ErrTimeout) {
		t.Fatalf("Start on a silent port: %v", err)
	}
	b.Stop()
}

// After system_reset a BLED112 may come back under another name (ttyACM0 → ttyACM1,
// docs/bgapi-protocol.md#pygatt-reset): an explicit port is followed by its USB serial number.
func TestRelocate(t *testing.T) {
	id := &portDetails{Name: "/dev/ttyACM0", IsUSB: true, VID: "2458", PID: "0001", SerialNumber: "1"}
	list := func(ports ...*portDetails) func() ([]*portDetails, error) {
		return func() ([]*portDetails, error) { return ports, nil }
	}
	tests := []struct {
		name string
		list func() ([]*portDetails, error)
		id   *portDetails
		want string
	}{
		{"same name", list(id), id, "/dev/ttyACM0"},
		{"renamed", list(&portDetails{Name: "/dev/ttyACM1", IsUSB: true, VID: "2458", PID: "0001", SerialNumber: "1"}), id, "/dev/ttyACM1"},
		{"other dongle", list(&portDetails{Name: "/dev/ttyACM1", IsUSB: true, VID: "2458", PID: "0001", SerialNumber: "2"}), id, "/dev/ttyACM0"},
		{"not back yet", list(), id, "/dev/ttyACM0"},
		{"no identity", list(&portDetails{Name: "/dev/ttyACM1", IsUSB: true, VID: "2458", PID: "0001", SerialNumber: "1"}), nil, "/dev/ttyACM0"},
	}
	for _, tc := range tests {
		if got := relocate(tc.list, "/dev/ttyACM0", tc.id); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if portIdentity(list(id), "/dev/ttyACM0") != id || portIdentity(list(id), "/dev/ttyS0") != nil {
		t.Error("portIdentity")
	}
}

// TestPortErrorSharedSentinels: a port the user may not open matches fs.ErrPermission and a busy
// port gogatt.ErrBusy, as the gatttool backend's errors do, besides this package's sentinels.
func TestPortErrorSharedSentinels(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []error
		not  []error
	}{
		// serial.Open reports EACCES as a *serial.PortError that does not wrap the errno.
		{"permission (serial)", &PortError{Port: "/dev/ttyACM0", Kind: ErrPermissionDenied, Err: errors.New("Permission denied"), Hint: permissionHint},
			[]error{fs.ErrPermission, ErrPermissionDenied}, []error{gogatt.ErrBusy}},
		{"permission (lock)", classifyOpenError("/dev/ttyACM0", fmt.Errorf("open: %w", syscall.EACCES)),
			[]error{fs.ErrPermission, ErrPermissionDenied}, []error{gogatt.ErrBusy}},
		{"busy", classifyOpenError("/dev/ttyACM0", &serial.PortError{}),
			[]error{gogatt.ErrBusy, ErrPortBusy}, []error{fs.ErrPermission}},
		{"missing", classifyOpenError("/dev/ttyACM0", fmt.Errorf("open: %w", syscall.ENOENT)),
			[]error{gogatt.ErrNoAdapter}, []error{fs.ErrPermission, gogatt.ErrBusy}},
		{"not a serial port", &PortError{Port: "/dev/null", Kind: gogatt.ErrNotSerialPort, Err: errors.New("inappropriate ioctl for device")},
			[]error{gogatt.ErrNotSerialPort}, []error{fs.ErrPermission, gogatt.ErrBusy, gogatt.ErrNoAdapter}},
		{"other", &PortError{Port: "/dev/ttyACM0", Err: errors.New("input/output error")},
			nil, []error{gogatt.ErrNotSerialPort, fs.ErrPermission, gogatt.ErrBusy, gogatt.ErrNoAdapter}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range tc.want {
				if !errors.Is(tc.err, w) {
					t.Errorf("errors.Is(%v, %v) = false, want true", tc.err, w)
				}
			}
			for _, w := range tc.not {
				if errors.Is(tc.err, w) {
					t.Errorf("errors.Is(%v, %v) = true, want false", tc.err, w)
				}
			}
		})
	}
}
