package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"
	"go.uber.org/goleak"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/bt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, fb *fakeBackend, args ...string) result {
	t.Helper()
	return runCtx(t, context.Background(), fb, args...)
}

func runCtx(t *testing.T, ctx context.Context, fb *fakeBackend, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(ctx, testEnv(fb, &out, &errb), args)
	return result{code, out.String(), errb.String()}
}

// testEnv runs the commands against fb (nil: no adapter) with a fixed clock.
func testEnv(fb *fakeBackend, stdout, stderr io.Writer) Env {
	return Env{
		Stdout: stdout, Stderr: stderr,
		Open: func(ctx context.Context, c BackendConfig) (gogatt.Backend, error) {
			if fb == nil {
				return nil, fmt.Errorf("bgapi: %w", gogatt.ErrNoAdapter)
			}
			return fb, nil
		},
		ServeSim: func(ctx context.Context, _ *slog.Logger, link SimLink, ready func(string, []SimPeripheral)) error {
			if link != (SimLink{}) {
				fmt.Fprintf(stderr, "fake emulator link model: %v, %d per event\n", link.Interval, link.PerEvent)
			}
			ready("/tmp/fake/ttyACM0", []SimPeripheral{{Address: hrmAddr, Name: "gogatt HRM", Kind: "heart-rate sensor"}})
			<-ctx.Done()
			return ctx.Err()
		},
		Now: func() time.Time { return time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC) },
	}
}

// TestNegativeArguments: a negative number among the flags is an argument (pflag alone would
// take "-5" for a shorthand flag), unless it is a flag's value; the arguments keep their order.
func TestNegativeArguments(t *testing.T) {
	a, c := hrmAddr, "2a39"
	for _, tc := range []struct{ args, want []string }{
		{[]string{"write", a, c, "--format", "int", "--signed", "-5"}, []string{"write", "--format", "int", "--signed", "--", a, c, "-5"}},
		{[]string{"--sim", "write", "--signed", a, "-7", "--format=int", c}, []string{"write", "--sim", "--signed", "--format=int", "--", a, "-7", c}},
		{[]string{"--port", "/dev/x", "write", a, c, "-1", "--size", "2"}, []string{"write", "--port", "/dev/x", "--size", "2", "--", a, c, "-1"}},
		{[]string{"subscribe", a, c, "--count", "-1"}, []string{"subscribe", "--count", "-1", "--", a, c}},
		{[]string{"write", a, "--", "--format", "-x"}, []string{"write", a, "--", "--format", "-x"}},
		{[]string{"write", a, c, "--", "-5"}, []string{"write", "--", a, c, "-5"}},
		{[]string{"scan", "--duration", "1s"}, []string{"scan", "--duration", "1s"}},
		{[]string{"-5"}, []string{"-5"}},
	} {
		ap := &app{}
		root := ap.newRoot(false)
		if got := negativeArguments(root, tc.args); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestParseCharRef(t *testing.T) {
	svc := bt.UUID16(0x180f)
	for _, tc := range []struct {
		in   string
		want charRef
		err  bool
	}{
		{"2a19", charRef{uuid: bt.UUID16(0x2a19)}, false},
		{"0x2A19", charRef{uuid: bt.UUID16(0x2a19)}, false},
		{"180f/2a19", charRef{uuid: bt.UUID16(0x2a19), service: &svc}, false},
		{"handle:0x0013", charRef{handle: 0x13}, false},
		{"HANDLE:19", charRef{handle: 19}, false},
		{"handle:0", charRef{}, true},
		{"handle:0x10000", charRef{}, true},
		{"handle:x", charRef{}, true},
		{"zz", charRef{}, true},
		{"180f/zz", charRef{}, true},
		{"zz/2a19", charRef{}, true},
	} {
		got, err := parseCharRef(tc.in)
		if (err != nil) != tc.err || (err == nil && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("parseCharRef(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestHelp(t *testing.T) {
	r := run(t, nil, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "'gogatt help exit-codes'") || !strings.Contains(r.stdout, "\n  subscribe ") {
		t.Errorf("--help: %d %q", r.code, r.stdout)
	}
	if h := run(t, nil, "help"); h.code != 0 || h.stdout != r.stdout {
		t.Errorf("help: %d %q", h.code, h.stdout)
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {"help", c.name}, {c.name, "-h"}, {"--sim", c.name, "-h"}} {
			r := run(t, nil, args...)
			if r.code != 0 || !strings.Contains(r.stdout, "Examples:\n  gogatt "+c.name) || !strings.HasPrefix(r.stdout, "Usage: "+c.synopsis()+"\n") {
				t.Errorf("%q: code %d, stdout %q", args, r.code, r.stdout)
			}
			// The exit statuses are referenced, not repeated in every command's help.
			if !strings.Contains(r.stdout, "'gogatt help exit-codes'") || strings.Contains(r.stdout, "130  interrupted") {
				t.Errorf("%q: exit statuses: %q", args, r.stdout)
			}
		}
	}
	r = run(t, nil, "help", "exit-codes")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Exit status:\n") || !strings.Contains(r.stdout, "130  interrupted by Ctrl-C") {
		t.Errorf("help exit-codes: %+v", r)
	}
	for _, args := range [][]string{{"help", "-h"}, {"help", "--help"}} {
		if r := run(t, nil, args...); r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: gogatt help [flags] [COMMAND|TOPIC]\n") {
			t.Errorf("%q: %+v", args, r)
		}
	}
	if r := run(t, nil); r.code != ExitUsage || !strings.Contains(r.stderr, "Usage:") || r.stdout != "" {
		t.Errorf("no args: %+v", r)
	}
	if r := run(t, nil, "--sim"); r.code != ExitUsage || !strings.Contains(r.stderr, "Usage:") {
		t.Errorf("a global flag alone: %+v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	fb := newFake()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"scna"}, `unknown command "scna": did you mean scan?`},
		{[]string{"--sim", "servcies", hrmAddr}, `unknown command "servcies": did you mean services?`},
		{[]string{"help", "frob"}, `unknown command "frob"`},
		{[]string{"help", "redd"}, `unknown command "redd": did you mean read?`},
		{[]string{"help", "read", "write"}, "accepts at most 1 arg(s)"},
		{[]string{"read", hrmAddr}, "takes 2 argument(s)"},
		{[]string{"read", "nonsense", "2a19"}, "invalid Bluetooth address"},
		{[]string{"read", hrmAddr, "2a1"}, "invalid UUID"},
		{[]string{"read", hrmAddr, "2a19", "--format", "base64"}, "format \"base64\""},
		{[]string{"read", hrmAddr, "2a19", "--format", "int", "--size", "3"}, "integer size 3"},
		{[]string{"write", hrmAddr, "2a39", "0g"}, "is not a hex digit"},
		{[]string{"write", hrmAddr, "2a39", "--format", "int", "300"}, "300 does not fit in 1 byte(s)"},
		{[]string{"write", hrmAddr, "2a39", strings.Repeat("00", 513)}, "at most 512"},
		{[]string{"scan", "--duration", "0s"}, "--duration must be positive"},
		{[]string{"scan", "--bogus"}, "gogatt scan: unknown flag: --bogus\n"},
		{[]string{"scan", "--durtion", "1s"}, "unknown flag: --durtion: did you mean --duration?"},
		{[]string{"scan", "--timeout", "banana"}, `gogatt scan: invalid argument "banana" for "--timeout" flag: time: invalid duration "banana"`},
		{[]string{"--timeout", "banana", "scan"}, `invalid argument "banana" for "--timeout" flag`},
		{[]string{"read", "--format"}, "flag needs an argument: --format"},
		{[]string{"scan", "-x"}, "gogatt scan: unknown shorthand flag: 'x' in -x\n"},
		{[]string{"-sim", "scan"}, "unknown shorthand flag: 's' in -sim: did you mean --sim?"},
		{[]string{"--version", "scan"}, "unknown flag: --version"},
		{[]string{"scan", "--backend", "nope"}, `--backend "nope"`},
		{[]string{"scan", "--sim", "--backend", "gatttool"}, "--sim emulates a BLED112"},
		{[]string{"scan", "--sim", "--backend", "bluez"}, "--sim emulates a BLED112"},
		{[]string{"scan", "--backend", "bluez", "--hci", "usb0"}, `--hci "usb0": want an adapter's name, hciN`},
		{[]string{"scan", "--backend", "bgapi", "--acquire-notify"}, "--acquire-notify works with --backend bluez"},
		{[]string{"scan", "--backend", "bgapi", "--notify", "start"}, "--notify works with --backend bluez"},
		{[]string{"scan", "--backend", "bluez", "--notify", "signals"}, `--notify "signals": want auto, start or acquire`},
		{[]string{"scan", "--backend", "bluez", "--notify", "start", "--acquire-notify"}, "--acquire-notify (deprecated) means --notify auto"},
		{[]string{"bond", hrmAddr, "--passkey", "1", "--backend", "gatttool"}, "--passkey works with --backend bgapi or bluez"},
		{[]string{"scan", "--timeout", "-1s"}, "--timeout -1s must be positive"},
		{[]string{"scan", "--sim", "--port", "/dev/ttyACM0"}, "exclude each other"},
		{[]string{"completion", "tcsh"}, `unknown shell "tcsh"`},
		{[]string{"clear-bond", "xx"}, "invalid Bluetooth address"},
		{[]string{"demo", "--address", "xx"}, "--address"},
		{[]string{"subscribe", hrmAddr, "2a37", "--count", "-1"}, "must not be negative"},
		{[]string{"bond", hrmAddr, "--address-type", "weird"}, "invalid address type"},
	} {
		r := run(t, fb, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: code %d stderr %q; want %d containing %q", tc.args, r.code, r.stderr, ExitUsage, tc.want)
		}
		if strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
			t.Errorf("%q: more than two lines on stderr: %q", tc.args, r.stderr)
		}
	}
	if len(fb.writes) != 0 || fb.started {
		t.Errorf("bad input reached the adapter: writes %v, started %v", fb.writes, fb.started)
	}
}

// TestErrorsAndExitCodes: every kind of error the commands meet comes out as one line on stderr
// that says what to do in the command line's terms (flags, commands; never a library call such
// as CharWriteLong or a Config field), with the documented exit status. The errors are the
// ones the backends return (the e2e tests in cmd/gogatt meet them through the emulator).
func TestErrorsAndExitCodes(t *testing.T) {
	const absent = "AA:BB:CC:DD:EE:FF"
	failing := func(op string, err error) func(*fakeBackend) {
		return func(f *fakeBackend) { f.fail = map[string]error{op: err} }
	}
	starting := func(err error) func(*fakeBackend) { return func(f *fakeBackend) { f.startErr = err } }
	attErr := func(op string, h uint16, code att.ErrorCode) error {
		return &gogatt.ATTError{Op: op, Handle: h, Code: code}
	}
	// As bgapi says it (bgapi/device.go).
	tooLong := func(op string) error {
		return fmt.Errorf("%s handle 0x0034: %w: 30 bytes exceed 20 (ATT_MTU 23); use CharWriteLong", op, gogatt.ErrInvalidParameter)
	}
	long30 := strings.Repeat("ab", 30)
	for _, tc := range []struct {
		name  string
		fb    *fakeBackend
		args  []string
		setup func(*fakeBackend)
		code  int
		line  string
	}{
		// The adapter.
		{"no adapter", nil, []string{"scan"}, nil, ExitNoAdapter,
			"gogatt scan: no BLED112 found: plug one in, pass --port, use BlueZ with --backend bluez, or try --sim"},
		{"no adapter with port", nil, []string{"scan", "--port", "/dev/x"}, nil, ExitNoAdapter,
			"gogatt scan: bgapi: no BLE adapter found: check the path given to --port, or try --sim"},
		{"no adapter gatttool", nil, []string{"scan", "--backend", "gatttool"}, nil, ExitNoAdapter,
			"gogatt scan: no Bluetooth adapter hci0: check 'hciconfig -a', pass --hci, or leave out --backend gatttool to use a BLED112 (or the emulator: --sim)"},
		{"gatttool not installed", newFake(), []string{"scan", "--backend", "gatttool"},
			starting(fmt.Errorf("gatttool backend: %w (install BlueZ's deprecated tools)", &exec.Error{Name: "gatttool", Err: exec.ErrNotFound})), ExitNoAdapter,
			"gogatt scan: gatttool is not installed: install BlueZ's deprecated tools (gatttool, hcitool), or leave out --backend gatttool to use a BLED112 (or the emulator: --sim)"},
		{"no adapter bluez", nil, []string{"scan", "--backend", "bluez", "--hci", "hci1"}, nil, ExitNoAdapter,
			"gogatt scan: bluetoothd has no Bluetooth adapter hci1: check 'bluetoothctl list', pass --hci, or leave out --backend bluez to use a BLED112 (or the emulator: --sim)"},
		{"bluez powered off", newFake(), []string{"scan", "--backend", "bluez"},
			starting(fmt.Errorf("bluez: adapter hci0 is powered off: %w", errors.Join(bluez.ErrPoweredOff, gogatt.ErrNoAdapter))), ExitNoAdapter,
			"gogatt scan: the Bluetooth adapter hci0 is powered off: power it on ('bluetoothctl power on'; 'rfkill list' shows a radio switched off)"},
		{"no bluetoothd", newFake(), []string{"read", "--backend", "bluez", hrmAddr, "2a19"},
			starting(fmt.Errorf("bluez: adapter hci0: %w: %w", gogatt.ErrNoAdapter, dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown", Body: []any{"The name org.bluez was not provided by any .service files"}})), ExitNoAdapter,
			"gogatt read: bluetoothd is not running (nothing owns org.bluez on the system bus): start it ('sudo systemctl start bluetooth'), or leave out --backend bluez to use a BLED112 (or the emulator: --sim)"},
		{"bluetoothd gone", newFake(), []string{"read", "--backend", "bluez", hrmAddr, "180f/2a19"},
			failing("read", &bluez.Error{Op: "read", Name: "org.freedesktop.DBus.Error.ServiceUnknown", Text: "The name org.bluez was not provided by any .service files"}), ExitNoAdapter,
			"gogatt read: bluetoothd is not running (nothing owns org.bluez on the system bus): start it ('sudo systemctl start bluetooth'), or leave out --backend bluez to use a BLED112 (or the emulator: --sim)"},
		{"bluez policy", newFake(), []string{"scan", "--backend", "bluez"},
			starting(fmt.Errorf("bluez: adapter hci0: %w: %w", fs.ErrPermission, &dbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied", Body: []any{"Rejected send message"}})), ExitNoAdapter,
			"gogatt scan: the system bus's policy does not let this user call bluetoothd (org.bluez): BlueZ's policy file (bluetooth.conf in dbus-1/system.d) allows root and, on most systems, the group 'bluetooth': add yourself to it (sudo usermod -aG bluetooth $USER) and log in again"},
		{"bluez no bus", newFake(), []string{"scan", "--backend", "bluez"},
			starting(fmt.Errorf("bluez: connecting to the bus: %w", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ENOENT)})), ExitNoAdapter,
			"gogatt scan: cannot connect to the system D-Bus (connecting to the bus: dial unix: connect: no such file or directory): is the D-Bus daemon running? (DBUS_SYSTEM_BUS_ADDRESS, when set, names the system bus)"},
		{"port busy", newFake(), []string{"scan", "--port", "/dev/ttyACM0"},
			starting(&bgapi.PortError{Port: "/dev/ttyACM0", Kind: bgapi.ErrPortBusy, Err: errors.New("flock: resource temporarily unavailable"), Hint: "x"}), ExitNoAdapter,
			"gogatt scan: --port /dev/ttyACM0 is busy: another program (a second gogatt, ModemManager, a serial console) has it open; stop it, or pass another --port"},
		{"auto-detected port busy", newFake(), []string{"scan"},
			starting(&bgapi.PortError{Port: "/dev/ttyACM0", Kind: bgapi.ErrPortBusy, Err: errors.New("flock: resource temporarily unavailable")}), ExitNoAdapter,
			"gogatt scan: /dev/ttyACM0 is busy: another program (a second gogatt, ModemManager, a serial console) has it open; stop it, or pass another --port"},
		{"port permission", newFake(), []string{"scan", "--port", "/dev/ttyACM0"},
			starting(&bgapi.PortError{Port: "/dev/ttyACM0", Kind: bgapi.ErrPermissionDenied, Err: os.ErrPermission, Hint: "x"}), ExitNoAdapter,
			"gogatt scan: permission denied opening --port /dev/ttyACM0: add yourself to the group that owns it (often 'dialout': sudo usermod -aG dialout $USER) and log in again"},
		{"permission", newFake(), []string{"scan"}, starting(fmt.Errorf("open: %w", os.ErrPermission)), ExitNoAdapter,
			"gogatt scan: open: permission denied: add yourself to the group that owns the device (often 'dialout') and log in again"},
		{"not a serial port", newFake(), []string{"scan", "--port", "/dev/null"},
			starting(&bgapi.PortError{Port: "/dev/null", Kind: gogatt.ErrNotSerialPort, Err: errors.New("Invalid serial port: error getting term settings: inappropriate ioctl for device")}), ExitNoAdapter,
			"gogatt scan: --port /dev/null is not a serial port: pass a BLED112's port (e.g. /dev/ttyACM0) to --port, or leave it out to find one (-v says why)"},
		{"not a serial port (directory)", newFake(), []string{"read", "--port", "/tmp", "C0:FF:EE:00:00:01", "2a19"},
			starting(&bgapi.PortError{Port: "/tmp", Kind: gogatt.ErrNotSerialPort, Err: errors.New("is a directory"), Hint: "x"}), ExitNoAdapter,
			"gogatt read: --port /tmp is not a serial port: pass a BLED112's port (e.g. /dev/ttyACM0) to --port, or leave it out to find one (-v says why)"},
		{"not a serial port (not a PortError)", newFake(), []string{"scan", "--port", "/dev/null"},
			starting(fmt.Errorf("open /dev/null: %w", gogatt.ErrNotSerialPort)), ExitNoAdapter,
			"gogatt scan: --port /dev/null is not a serial port: pass a BLED112's port (e.g. /dev/ttyACM0) to --port, or leave it out to find one (-v says why)"},
		{"port fails otherwise", newFake(), []string{"scan", "--port", "/dev/ttyACM0"},
			starting(&bgapi.PortError{Port: "/dev/ttyACM0", Err: errors.New("input/output error")}), ExitNoAdapter,
			"gogatt scan: cannot open --port /dev/ttyACM0: input/output error: is it a BLED112? Unplug it and plug it in again, or pass another --port"},
		{"port does not exist", newFake(), []string{"scan", "--port", "/dev/ttyACM9"},
			starting(&bgapi.PortError{Port: "/dev/ttyACM9", Kind: gogatt.ErrNoAdapter, Err: os.ErrNotExist, Hint: "is the dongle plugged in?"}), ExitNoAdapter,
			"gogatt scan: --port /dev/ttyACM9 does not exist: is the dongle plugged in? Check the path, leave out --port to find a BLED112, or try --sim"},
		{"adapter timeout", newFake(), []string{"scan", "--port", "/dev/ttyACM0", "--timeout", "50ms"},
			func(f *fakeBackend) { f.startHangs = true }, ExitNoAdapter,
			"gogatt scan: the BLED112 on /dev/ttyACM0 did not answer within --timeout 50ms: is --port a BLED112? Unplug it and plug it in again"},
		{"adapter timeout auto-detected", newFake(), []string{"read", hrmAddr, "2a19", "--timeout", "50ms"},
			func(f *fakeBackend) { f.startHangs = true }, ExitNoAdapter,
			"gogatt read: the BLED112 did not answer within --timeout 50ms: unplug it and plug it in again, or pass its --port"},
		{"adapter timeout gatttool", newFake(), []string{"scan", "--backend", "gatttool", "--timeout", "50ms"},
			func(f *fakeBackend) { f.startHangs = true }, ExitNoAdapter,
			"gogatt scan: the Bluetooth adapter hci0 (BlueZ) did not answer within --timeout 50ms: check 'hciconfig -a' (is it up?) and that bluetoothd runs"},
		{"adapter timeout bluez", newFake(), []string{"scan", "--backend", "bluez", "--timeout", "50ms"},
			func(f *fakeBackend) { f.startHangs = true }, ExitNoAdapter,
			"gogatt scan: bluetoothd (BlueZ, adapter hci0) did not answer within --timeout 50ms: check that bluetoothd runs ('systemctl status bluetooth') and answers 'bluetoothctl list'"},
		{"adapter lost", newFake(), []string{"subscribe", hrmAddr, "2a37"}, func(f *fakeBackend) {
			f.dropLink, f.lostBy = true, fmt.Errorf("%w: the dongle restarted (system_boot)", bgapi.ErrAdapterLost)
		}, ExitNoAdapter,
			"gogatt subscribe: C0:FF:EE:00:00:01 disconnected: adapter stopped: bgapi: adapter lost: the dongle restarted (system_boot): was the adapter unplugged, or reset by another program using it?"},
		{"adapter busy", newFake(), []string{"scan"}, func(f *fakeBackend) {
			f.adverts = []gogatt.ScanResult{}
			f.startErr = fmt.Errorf("scan: %w", gogatt.ErrBusy)
		}, ExitFailure,
			"gogatt scan: scan: adapter busy: another program may be using the adapter"},

		// Finding the characteristic.
		{"not found", newFake(), []string{"read", hrmAddr, "2aff"}, nil, ExitNotFound,
			"gogatt read: characteristic 00002aff-0000-1000-8000-00805f9b34fb: not found: run 'gogatt services ADDRESS' to see what the device offers"},
		{"ambiguous", newFake(), []string{"read", hrmAddr, "2a19"}, nil, ExitNotFound, ""},

		// The device.
		{"connect timeout", newFake(), []string{"read", absent, "2a19", "--timeout", "50ms"}, nil, ExitTimeout,
			"gogatt read: connecting to AA:BB:CC:DD:EE:FF: connect: context deadline exceeded: is the device in range and advertising? (raise --timeout if it is slow)"},
		{"operation timeout", newFake(), []string{"read", hrmAddr, "180f/2a19"}, failing("read", fmt.Errorf("read handle 0x0022: %w", gogatt.ErrTimeout)), ExitTimeout,
			"gogatt read: reading 2a19 Battery Level [0x0022]: read handle 0x0022: timeout: the device did not answer in time: is it still in range? (raise --timeout if it is slow)"},
		{"link lost", newFake(), []string{"subscribe", hrmAddr, "2a37"}, func(f *fakeBackend) { f.dropLink = true }, ExitLinkLost,
			"gogatt subscribe: C0:FF:EE:00:00:01 disconnected: connection timeout (supervision) (0x0208): is the device still in range and powered?"},

		// ATT errors (Core v5.3 Vol 3 Part F §3.4.1.1).
		{"read not permitted", newFake(), []string{"read", hrmAddr, "2a39"}, nil, ExitRefused,
			"gogatt read: reading 2a39 Heart Rate Control Point [0x0015]: read handle 0x0015: ATT error 0x02 (Read Not Permitted): the characteristic is not readable: see its properties with 'gogatt services C0:FF:EE:00:00:01'"},
		{"read of a notify-only characteristic", newFake(), []string{"read", hrmAddr, "2a37"}, nil, ExitRefused,
			"gogatt read: reading 2a37 Heart Rate Measurement [0x0012]: read handle 0x0012: ATT error 0x02 (Read Not Permitted): it is not readable but sends its values: run 'gogatt subscribe C0:FF:EE:00:00:01 2a37'"},
		{"write not permitted", newFake(), []string{"write", hrmAddr, "fff1", "01"}, failing("write", attErr("write", 0x34, att.ErrWriteNotPermitted)), ExitRefused,
			"gogatt write: writing fff1 [0x0034]: write handle 0x0034: ATT error 0x03 (Write Not Permitted): the characteristic is not writable: see its properties with 'gogatt services C0:FF:EE:00:00:01'"},
		{"invalid handle", newFake(), []string{"read", hrmAddr, "handle:0x0300"}, failing("read", attErr("read", 0x300, att.ErrInvalidHandle)), ExitRefused,
			"gogatt read: reading handle 0x0300: read handle 0x0300: ATT error 0x01 (Invalid Handle): the device has no attribute with that handle: run 'gogatt services C0:FF:EE:00:00:01' for the handles it has"},
		{"insufficient authorization", newFake(), []string{"read", hrmAddr, "fff1"}, failing("read", attErr("read", 0x34, att.ErrInsufficientAuthorization)), ExitRefused,
			"gogatt read: reading fff1 [0x0034]: read handle 0x0034: ATT error 0x08 (Insufficient Authorization): the device has not authorized this client: allow it on the device or in its app (pairing with --bond does not)"},
		{"not paired bluez", newFake(), []string{"read", "--backend", "bluez", hrmAddr, "fff1"}, failing("read", attErr("read", 0x34, att.ErrInsufficientAuthentication)), ExitRefused,
			"gogatt read: reading fff1 [0x0034]: read handle 0x0034: ATT error 0x05 (Insufficient Authentication): the characteristic needs a paired link: add --bond (with --passkey N or --passkey ask if the device shows a passkey), or run 'gogatt bond C0:FF:EE:00:00:01' once"},
		{"not paired enough bluez", newFake(), []string{"read", "--bond", "--backend", "bluez", hrmAddr, "fff1"}, failing("read", attErr("read", 0x34, att.ErrInsufficientAuthentication)), ExitRefused,
			"gogatt read: reading fff1 [0x0034]: read handle 0x0034: ATT error 0x05 (Insufficient Authentication): the bond in use does not give the security the characteristic needs: remove it with 'gogatt clear-bond C0:FF:EE:00:00:01', then bond again with --passkey N (the device's passkey) or --passkey ask"},
		{"insufficient encryption", newFake(), []string{"read", hrmAddr, "fff1"}, failing("read", attErr("read", 0x34, att.ErrInsufficientEncryption)), ExitRefused, ""},
		{"invalid length", newFake(), []string{"write", hrmAddr, "2a39", "0102"}, failing("write", attErr("write", 0x15, att.ErrInvalidAttributeValueLength)), ExitRefused,
			"gogatt write: writing 2a39 Heart Rate Control Point [0x0015]: write handle 0x0015: ATT error 0x0d (Invalid Attribute Value Length): the device does not take a value of that length: check the value (--format int --size N for an integer)"},
		{"attribute not long", newFake(), []string{"read", "--long", hrmAddr, "fff1"}, failing("read", attErr("read blob", 0x34, att.ErrAttributeNotLong)), ExitRefused,
			"gogatt read: reading fff1 [0x0034]: read blob handle 0x0034: ATT error 0x0b (Attribute Not Long): the value fits in one ATT packet: leave out --long"},
		{"long write not supported", newFake(), []string{"write", "--long", hrmAddr, "2a39", "01"}, failing("write", attErr("write long", 0x15, att.ErrRequestNotSupported)), ExitRefused,
			"gogatt write: writing 2a39 Heart Rate Control Point [0x0015]: write long handle 0x0015: ATT error 0x06 (Request Not Supported): the device does not support long reads or writes: leave out --long"},

		// Values too long for one packet: the flag, not the library call.
		{"write too long", newFake(), []string{"write", hrmAddr, "fff1", long30}, failing("write", tooLong("write")), ExitUsage,
			"gogatt write: writing fff1 [0x0034]: 30 bytes do not fit in one ATT write: add --long to write it with Prepare/Execute Write (up to 512 bytes)"},
		{"write command too long", newFake(), []string{"write", "--no-response", hrmAddr, "fff1", long30}, failing("write", tooLong("write command")), ExitUsage,
			"gogatt write: writing fff1 [0x0034]: 30 bytes do not fit in one ATT write: a Write Command carries no more: add --long (acknowledged Prepare/Execute Write, up to 512 bytes)"},

		// Subscribing to what does not notify.
		{"subscribe without CCCD", newFake(), []string{"subscribe", hrmAddr, "fff1"},
			failing("subscribe", fmt.Errorf("subscribe fff1 (handle 0x0034): no Client Characteristic Configuration descriptor: %w", gogatt.ErrNotFound)), ExitNotFound,
			"gogatt subscribe: subscribing to fff1 [0x0034]: subscribe fff1 (handle 0x0034): no Client Characteristic Configuration descriptor: not found: it neither notifies nor indicates: read it with 'gogatt read C0:FF:EE:00:00:01 fff1'"},
		{"subscribe unsupported", newFake(), []string{"subscribe", "--backend", "gatttool", hrmAddr, "2a39"},
			failing("subscribe", fmt.Errorf("gatttool: subscribe handle 0x0015: %w", gogatt.ErrUnsupported)), ExitUnsupported,
			"gogatt subscribe: subscribing to 2a39 Heart Rate Control Point [0x0015]: gatttool: subscribe handle 0x0015: operation not supported by this backend: it neither notifies nor indicates: see its properties with 'gogatt services C0:FF:EE:00:00:01'"},
		{"unsupported bluez", newFake(), []string{"rssi", "--backend", "bluez", hrmAddr}, failing("rssi", fmt.Errorf("bluez: RSSI of a connection: %w", gogatt.ErrUnsupported)), ExitUnsupported,
			"gogatt rssi: reading the RSSI of C0:FF:EE:00:00:01: bluez: RSSI of a connection: operation not supported by this backend (try --backend bgapi)"},
		{"unsupported", newFake(), []string{"rssi", "--backend", "gatttool", hrmAddr}, failing("rssi", fmt.Errorf("gatttool: RSSI: %w", gogatt.ErrUnsupported)), ExitUnsupported,
			"gogatt rssi: reading the RSSI of C0:FF:EE:00:00:01: gatttool: RSSI: operation not supported by this backend (try --backend bgapi)"},

		// Pairing.
		{"bond refused", newFake(), []string{"bond", "C0:FF:EE:00:00:02"}, nil, ExitRefused, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(tc.fb)
			}
			r := run(t, tc.fb, tc.args...)
			// subscribe says on stderr that it has subscribed: the error comes after that.
			stderr, _ := strings.CutPrefix(r.stderr, "Subscribed to 2a37 Heart Rate Measurement [0x0012] on C0:FF:EE:00:00:01; Ctrl-C to stop.\n")
			line, rest, _ := strings.Cut(stderr, "\n")
			if r.code != tc.code || rest != "" || (tc.line != "" && line != tc.line) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and the one line\n%s", r.code, r.stderr, tc.code, tc.line)
			}
			for _, lib := range []string{"CharWrite", "CharRead", "Config.", "Config{", "SubscribeHandle", "ScanOptions"} {
				if strings.Contains(line, lib) {
					t.Errorf("the line names the library's %s: %s", lib, line)
				}
			}
			if tc.fb != nil && tc.fb.started && !tc.fb.stopped {
				t.Error("adapter not stopped")
			}
		})
	}
}

func TestServices(t *testing.T) {
	r := run(t, newFake(), "services", hrmAddr)
	want := `C0:FF:EE:00:00:01: 3 services, 5 characteristics, 2 descriptors
[0x0010-0x0015] 180d Heart Rate
  ├─ [0x0012] 2a37 Heart Rate Measurement  notify
  │   └─ [0x0013] 2902 Client Characteristic Configuration
  └─ [0x0015] 2a39 Heart Rate Control Point  write
[0x0020-0x0023] 180f Battery
  └─ [0x0022] 2a19 Battery Level  read,notify
      └─ [0x0023] 2902 Client Characteristic Configuration
[0x0030-0x0034] fff0
  ├─ [0x0032] 2a19 Battery Level  read
  └─ [0x0034] fff1  read
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("services: %d\n%s\nwant\n%s\nstderr %s", r.code, r.stdout, want, r.stderr)
	}
	r = run(t, newFake(), "services", "--json", hrmAddr)
	var v struct {
		Address  string
		Services []struct {
			UUID            string
			Characteristics []struct{ Properties []string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Address != hrmAddr || len(v.Services) != 3 || v.Services[1].Characteristics[0].Properties[1] != "notify" {
		t.Errorf("services --json: %v %+v %q", err, v, r.stdout)
	}
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"180f/2a19"}, "87 %\n"},
		{[]string{"handle:0x22"}, "87 %\n"},
		{[]string{"180f/2a19", "--format", "hex"}, "57\n"},
		{[]string{"180f/2a19", "--format", "int"}, "87\n"},
		{[]string{"fff1", "--format", "int", "--size", "2"}, "48042\n"},
		{[]string{"fff1", "--format", "int", "--size", "2", "--endian", "big", "--signed"}, "-21829\n"},
		{[]string{"fff1"}, "aabb\n"},
		{[]string{"fff1", "--long"}, "aabb\n"},
	} {
		r := run(t, newFake(), append([]string{"read", hrmAddr}, tc.args...)...)
		if r.code != 0 || r.stdout != tc.want {
			t.Errorf("read %q: %d %q (stderr %q), want %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}
	r := run(t, newFake(), "read", "--json", hrmAddr, "180f/2a19")
	var v map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%v: %q", err, r.stdout)
	}
	if v["hex"] != "57" || v["kind"] != "battery_level" || v["handle"] != float64(0x22) || v["decoded"].(map[string]any)["percent"] != float64(87) {
		t.Errorf("read --json = %v", v)
	}
	// A value whose size is not a multiple of --size is shown in hex with a note.
	r = run(t, newFake(), "read", hrmAddr, "fff1", "--format", "int", "--size", "4")
	if r.code != 0 || r.stdout != "aabb\n" || !strings.Contains(r.stderr, "not a whole number") {
		t.Errorf("odd int read: %+v", r)
	}
}

func TestWrite(t *testing.T) {
	fb := newFake()
	r := run(t, fb, "write", hrmAddr, "2a39", "01ff")
	if r.code != 0 || r.stdout != "wrote 2 byte(s) 01ff to 2a39 Heart Rate Control Point [0x0015] (acknowledged)\n" {
		t.Errorf("write: %+v", r)
	}
	r = run(t, fb, "write", hrmAddr, "2a39", "--format", "int", "--size", "2", "--signed", "-2", "--no-response")
	if r.code != 0 || !strings.Contains(r.stdout, "feff") || !strings.Contains(r.stdout, "unacknowledged") {
		t.Errorf("write int: %+v", r)
	}
	r = run(t, fb, "write", "--json", hrmAddr, "2a39", "--format", "utf8", "hi")
	if r.code != 0 || !strings.Contains(r.stdout, `"hex":"6869"`) || !strings.Contains(r.stdout, `"withResponse":true`) {
		t.Errorf("write --json: %+v", r)
	}
	want := []fakeWrite{{0x15, []byte{1, 0xff}, true}, {0x15, []byte{0xfe, 0xff}, false}, {0x15, []byte("hi"), true}}
	if !reflect.DeepEqual(fb.writes, want) {
		t.Errorf("writes = %v, want %v", fb.writes, want)
	}
}

func TestSubscribe(t *testing.T) {
	r := run(t, newFake(), "subscribe", hrmAddr, "2a37", "--count", "3")
	want := "09:30:00.000  60 bpm\n09:30:00.000  61 bpm\n09:30:00.000  62 bpm\n3 value(s) in 0.00s (0.0/s)\n"
	if r.code != 0 || r.stdout != want || !strings.Contains(r.stderr, "Subscribed to 2a37") {
		t.Errorf("subscribe: %+v\nwant %q", r, want)
	}
	// --seq over values 0,1,3,4 (2 skipped by the fake): one lost.
	r = run(t, newFake(), "subscribe", "--json", hrmAddr, "180f/2a19", "--seq", "--count", "4")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 5 {
		t.Fatalf("subscribe --json: %+v", r)
	}
	var last struct{ Summary map[string]any }
	if err := json.Unmarshal([]byte(lines[4]), &last); err != nil || last.Summary["lost"] != float64(1) || last.Summary["count"] != float64(4) || last.Summary["end"] != "count" {
		t.Errorf("summary %v: %v", lines[4], err)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first["seq"] != float64(0) || first["handle"] != float64(0x22) {
		t.Errorf("first value %v: %v", lines[0], err)
	}
}

// TestSubscribeInterrupted runs in a synctest bubble: synctest.Wait returns once the command
// has received every value and waits for more, the moment a person would press Ctrl-C.
func TestSubscribeInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := newFake()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan result)
		go func() { done <- runCtx(t, ctx, fb, "subscribe", hrmAddr, "2a37") }()
		synctest.Wait()
		cancel()
		r := <-done
		if r.code != 0 || !strings.Contains(r.stdout, "5 value(s) in") {
			t.Errorf("interrupted subscribe: %+v", r)
		}
		if !fb.stopped || fb.conns[0].disconns == 0 {
			t.Error("not cleaned up")
		}
	})
}

func TestInterruptedBeforeStream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := runCtx(t, ctx, newFake(), "read", "AA:BB:CC:DD:EE:FF", "2a19")
	if r.code != ExitInterrupted || r.stderr != "gogatt read: interrupted\n" {
		t.Errorf("interrupted read: %+v", r)
	}
}

func TestSubscribeDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := run(t, newFake(), "subscribe", hrmAddr, "2a37", "--duration", "2s")
		if r.code != 0 || !strings.Contains(r.stdout, "5 value(s)") {
			t.Errorf("subscribe --duration: %+v", r)
		}
	})
}

// lineWriter is a command's stdout that hands each complete line to the test as it is written.
// It checks who writes: every write must come from owner, the goroutine that runs the command
// (and owns stdout), and never from inside the backend's OnAdvertisement callback. Both are
// checked by goroutine identity, so the result does not depend on scheduling.
type lineWriter struct {
	lines chan string
	buf   []byte
	fb    *fakeBackend
	owner atomic.Uint64 // goid of the goroutine that runs the command
	errs  []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if id := goid(); id != w.owner.Load() {
		w.errs = append(w.errs, fmt.Sprintf("%q written by goroutine %d, not by the command's goroutine %d", p, id, w.owner.Load()))
	}
	if w.fb.insideCallback() {
		w.errs = append(w.errs, fmt.Sprintf("%q written from inside OnAdvertisement", p))
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

// TestScanStreams holds the fake scan after each advertisement and checks that exactly the
// line (or JSON object) for it has been printed before the scan goes on (synctest.Wait: the
// command has nothing left to do until the scan continues): output streams while the scan
// runs, a device is printed when first seen and again when it gains information (a name from
// the scan response, manufacturer data), never for an RSSI change alone. Ctrl-C keeps what was
// printed. Every line is written by the command's goroutine, none from inside the callback
// (lineWriter).
func TestScanStreams(t *testing.T) {
	hrmAdv := gogatt.ScanResult{Address: hrmAddr, Name: "gogatt HRM", RSSI: -52, Data: gogatt.AdvertisementData{LocalName: "gogatt HRM"}}
	hrmRsp := hrmAdv
	hrmRsp.Data.ManufacturerData = map[uint16][]byte{0x02ff: {1, 2}}
	hrmAgain := hrmRsp
	hrmAgain.RSSI = -40
	thermoAdv := gogatt.ScanResult{Address: "C0:FF:EE:00:00:02", RSSI: -60, Data: gogatt.AdvertisementData{ServiceUUIDs: []bt.UUID{bt.UUID16(0x1809)}}}
	thermoRsp := thermoAdv
	thermoRsp.Name, thermoRsp.Data.LocalName = "gogatt Thermometer", "gogatt Thermometer"
	adverts := []gogatt.ScanResult{hrmAdv, hrmRsp, thermoAdv, hrmAgain, thermoRsp}

	const (
		hrmLine    = "C0:FF:EE:00:00:01   -52 dBm  gogatt HRM"
		hrmMfr     = "C0:FF:EE:00:00:01   -52 dBm  gogatt HRM  [Silicon Labs 0102]"
		thermoAnon = "C0:FF:EE:00:00:02   -60 dBm  -"
		thermoLine = "C0:FF:EE:00:00:02   -60 dBm  gogatt Thermometer"
		// gogatt.ScanResult as it marshals itself (docs/cli-json.md).
		hrmJSON    = `{"address":"C0:FF:EE:00:00:01","addressType":"public","name":"gogatt HRM","rssi":-52,"data":{"localName":"gogatt HRM"}}`
		hrmMfrJSON = `{"address":"C0:FF:EE:00:00:01","addressType":"public","name":"gogatt HRM","rssi":-52,"data":{"localName":"gogatt HRM","manufacturerData":{"767":"AQI="}}}`
		thAnonJSON = `{"address":"C0:FF:EE:00:00:02","addressType":"public","rssi":-60,"data":{"serviceUUIDs":["00001809-0000-1000-8000-00805f9b34fb"]}}`
		thermoJSON = `{"address":"C0:FF:EE:00:00:02","addressType":"public","name":"gogatt Thermometer","rssi":-60,"data":{"localName":"gogatt Thermometer","serviceUUIDs":["00001809-0000-1000-8000-00805f9b34fb"]}}`
		// The summary that ends --json, as every stream's.
		sum2 = `{"summary":{"devices":2,"seconds":0,"end":"duration"}}`
		sum1 = `{"summary":{"devices":1,"seconds":0,"end":"duration"}}`
		sumC = `{"summary":{"devices":1,"seconds":0,"end":"interrupted"}}`
	)
	for _, tc := range []struct {
		name   string
		args   []string
		steps  [][]string // lines printed after each advertisement, while the scan is held
		cancel int        // Ctrl-C after this many advertisements (0: the scan runs out)
		end    string     // the last line, after the scan
		stderr string
	}{
		{"plain", nil, [][]string{{hrmLine}, {hrmMfr}, {thermoAnon}, nil, {thermoLine}}, 0, "", "Scan finished: 2 devices in 0.0s.\n"},
		{"json", []string{"--json"}, [][]string{{hrmJSON}, {hrmMfrJSON}, {thAnonJSON}, nil, {thermoJSON}}, 0, sum2, ""},
		{"name filter", []string{"--name", "THERMO"}, [][]string{nil, nil, nil, nil, {thermoLine}}, 0, "", "Scan finished: 1 device in 0.0s.\n"},
		{"name filter json", []string{"--name", "hrm", "--json"}, [][]string{{hrmJSON}, {hrmMfrJSON}, nil, nil, nil}, 0, sum1, ""},
		{"ctrl-c plain", nil, [][]string{{hrmLine}, {hrmMfr}, {thermoAnon}}, 3, "", "Scan finished: 2 devices in 0.0s.\n"},
		{"ctrl-c json", []string{"--json"}, [][]string{{hrmJSON}}, 1, sumC, ""},
	} {
		// In a synctest bubble, a command that does not print until the scan ends deadlocks
		// (the test waits for a line, the scan waits for the test), which synctest reports.
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fb := newFake()
				fb.adverts = adverts
				fb.resume = make(chan struct{})
				out := &lineWriter{lines: make(chan string, 100), fb: fb}
				var errb bytes.Buffer
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				exited := make(chan int, 1)
				go func() {
					out.owner.Store(goid())
					exited <- Run(ctx, testEnv(fb, out, &errb), append([]string{"scan", "--duration", "1h"}, tc.args...))
				}()
				for i, want := range tc.steps {
					for _, w := range want {
						select {
						case got := <-out.lines:
							if got != w {
								t.Fatalf("after advertisement %d: got %s\nwant %s", i, got, w)
							}
						case code := <-exited:
							t.Fatalf("scan ended (exit %d) before advertisement %d's line %s was printed", code, i, w)
						}
					}
					synctest.Wait() // the command is idle: the scan is held, nothing more to print
					select {
					case l := <-out.lines:
						t.Fatalf("after advertisement %d: unexpected line %s", i, l)
					default:
					}
					if i == tc.cancel-1 {
						cancel() // Ctrl-C while the scan is held
						break
					}
					fb.resume <- struct{}{}
				}
				if code := <-exited; code != 0 {
					t.Errorf("exit %d, stderr %q", code, errb.String())
				}
				close(out.lines)
				if tc.end != "" {
					if l := <-out.lines; l != tc.end {
						t.Errorf("last line %s, want %s", l, tc.end)
					}
				}
				for l := range out.lines {
					t.Errorf("unexpected line at the end: %s", l)
				}
				if len(out.buf) > 0 {
					t.Errorf("unterminated output %q", out.buf)
				}
				if errb.String() != tc.stderr {
					t.Errorf("stderr %q, want %q", errb.String(), tc.stderr)
				}
				for _, e := range out.errs {
					t.Error(e)
				}
			})
		})
	}
}

// brokenPipe is a stdout whose reader has gone (`gogatt scan | head -1` with SIGPIPE ignored).
type brokenPipe struct{ writes int }

func (w *brokenPipe) Write(p []byte) (int, error) {
	w.writes++
	return 0, syscall.EPIPE
}

// TestScanEndsWhenReaderGone: the scan is held after its first advertisement (it would run for
// an hour); the failed write of that device's line ends it, with exit status 0 and the summary.
func TestScanEndsWhenReaderGone(t *testing.T) {
	for _, args := range [][]string{nil, {"--json"}} {
		synctest.Test(t, func(t *testing.T) {
			fb := newFake()
			fb.resume = make(chan struct{}) // never resumed: only the end of ctx releases the scan
			var out brokenPipe
			var errb bytes.Buffer
			code := Run(context.Background(), testEnv(fb, &out, &errb), append([]string{"scan", "--duration", "1h"}, args...))
			if code != 0 || out.writes != 1 {
				t.Errorf("%q: exit %d after %d writes; stderr %q", args, code, out.writes, errb.String())
			}
			if args == nil && errb.String() != "Scan finished: 1 device in 0.0s.\n" {
				t.Errorf("stderr %q", errb.String())
			}
		})
	}
}

func TestBondRSSIClearBond(t *testing.T) {
	fb := newFake()
	if r := run(t, fb, "bond", hrmAddr); r.code != 0 || r.stdout != "bonded with C0:FF:EE:00:00:01\n" {
		t.Errorf("bond: %+v", r)
	}
	if !fb.bonds[hrmAddr] {
		t.Error("no bond stored")
	}
	if r := run(t, fb, "clear-bond", hrmAddr); r.code != 0 || r.stdout != "removed the bond with C0:FF:EE:00:00:01\n" || len(fb.bonds) != 0 {
		t.Errorf("clear-bond: %+v", r)
	}
	if r := run(t, fb, "clear-bond", "--all", "--json"); r.code != 0 || r.stdout != `{"cleared":"all"}`+"\n" {
		t.Errorf("clear-bond all: %+v", r)
	}
	if r := run(t, fb, "rssi", hrmAddr); r.code != 0 || r.stdout != "-42 dBm\n" {
		t.Errorf("rssi: %+v", r)
	}
	if r := run(t, fb, "rssi", "--watch", "--count", "3", "--interval", "1ms", hrmAddr); r.code != 0 || strings.Count(r.stdout, "  -42 dBm\n") != 3 ||
		!strings.HasSuffix(r.stdout, "\n3 measurement(s) in 0.00s: min -42, mean -42.0, max -42 dBm\n") {
		t.Errorf("rssi --watch: %+v", r)
	}
	r := run(t, fb, "rssi", "--watch", "--json", "--count", "2", "--interval", "1ms", hrmAddr)
	if want := `{"address":"C0:FF:EE:00:00:01","rssi":-42,"time":"2026-11-24T09:30:00Z"}` + "\n" +
		`{"address":"C0:FF:EE:00:00:01","rssi":-42,"time":"2026-11-24T09:30:00Z"}` + "\n" +
		`{"summary":{"count":2,"seconds":0,"min":-42,"max":-42,"mean":-42,"end":"count"}}` + "\n"; r.code != 0 || r.stdout != want {
		t.Errorf("rssi --watch --json: %+v", r)
	}
	if r := run(t, fb, "read", "--bond", hrmAddr, "180f/2a19"); r.code != 0 || r.stdout != "87 %\n" {
		t.Errorf("read --bond: %+v", r)
	}
}

func TestDemo(t *testing.T) {
	synctest.Test(t, testDemo)
}

func testDemo(t *testing.T) {
	r := run(t, newFake(), "demo")
	for _, want := range []string{
		"== Scanning for 2s", "C0:FF:EE:00:00:01   -52 dBm  gogatt HRM",
		"== Connecting to C0:FF:EE:00:00:01 (gogatt HRM)",
		"== Service tree (3 services, 5 characteristics, 2 descriptors",
		"== Battery level (180f/2a19)\n87 %\n",
		"09:30:00.000  64 bpm\n",
		"== Summary\n5 heart-rate notifications in",
		"disconnected from C0:FF:EE:00:00:01",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != 0 {
		t.Errorf("demo exit %d: %s", r.code, r.stderr)
	}
	r = run(t, newFake(), "demo", "--json")
	steps := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var v struct{ Step string }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("demo --json line %q: %v", l, err)
		}
		steps[v.Step]++
	}
	if want := map[string]int{"scan": 1, "connect": 1, "services": 1, "battery": 1, "notification": 5, "summary": 1}; !reflect.DeepEqual(steps, want) {
		t.Errorf("demo --json steps %v, want %v", steps, want)
	}
}

// TestSimLinkModel: --interval and --per-event reach the emulator as its link model (4 PDUs
// per event unless given), announced on stdout; out-of-range values are usage errors.
func TestSimLinkModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			args       []string
			link, line string
		}{
			{[]string{"--interval", "7.5ms", "--per-event", "4"}, "7.5ms, 4 per event", "Link model: a connection event every 7.5ms, 4 ATT PDU(s) per event.\n"},
			{[]string{"--interval", "30ms"}, "30ms, 4 per event", "Link model: a connection event every 30ms, 4 ATT PDU(s) per event.\n"},
			{[]string{"--interval=30ms", "--per-event=1"}, "30ms, 1 per event", "Link model: a connection event every 30ms, 1 ATT PDU(s) per event.\n"},
		} {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan result)
			go func() { done <- runCtx(t, ctx, nil, append([]string{"sim"}, c.args...)...) }()
			synctest.Wait()
			cancel()
			r := <-done
			if r.code != 0 || !strings.Contains(r.stderr, "fake emulator link model: "+c.link+"\n") || !strings.Contains(r.stdout, c.line) {
				t.Errorf("sim %v: %+v", c.args, r)
			}
		}
	})
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--per-event", "2"}, "--per-event needs --interval"},
		{[]string{"--interval", "5ms"}, "--interval 5ms: a connection interval is 7.5ms to 4s"},
		{[]string{"--interval", "5s"}, "--interval 5s: a connection interval is 7.5ms to 4s"},
		{[]string{"--interval", "10ms", "--per-event", "-1"}, "--per-event -1: must be at least 1"},
	} {
		r := run(t, nil, append([]string{"sim"}, c.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("sim %v: %+v, want usage error %q", c.args, r, c.msg)
		}
	}
}

func TestSimCommand(t *testing.T) {
	synctest.Test(t, testSimCommand)
}

func testSimCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result)
	go func() { done <- runCtx(t, ctx, nil, "sim") }()
	synctest.Wait()
	cancel()
	r := <-done
	if r.code != 0 || !strings.HasPrefix(r.stdout, "/tmp/fake/ttyACM0\n") || !strings.HasSuffix(r.stdout, "\nBLED112 emulator stopped after 0.0s\n") {
		t.Errorf("sim: %+v", r)
	}
	// --json: the emulator object, then the summary that ends every stream.
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- runCtx(t, ctx, nil, "sim", "--json") }()
	synctest.Wait()
	cancel()
	r = <-done
	want := `{"port":"/tmp/fake/ttyACM0","peripherals":[{"address":"C0:FF:EE:00:00:01","name":"gogatt HRM","kind":"heart-rate sensor"}]}` + "\n" +
		`{"summary":{"seconds":0,"end":"interrupted"}}` + "\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("sim --json: exit %d, stdout\n%s\nwant\n%s", r.code, r.stdout, want)
	}
}

// TestCompletionScripts: a script for each shell, generated from the command tree; each asks
// the binary (__complete) for the words. (cmd/gogatt runs them in real shells.)
func TestCompletionScripts(t *testing.T) {
	for _, tc := range []struct{ shell, want string }{
		{"bash", "complete -o default -F __start_gogatt gogatt"},
		{"zsh", "#compdef gogatt\ncompdef _gogatt gogatt\n"},
		{"fish", "complete -c gogatt "},
		{"powershell", "Register-ArgumentCompleter -CommandName 'gogatt'"},
	} {
		r := run(t, nil, "completion", tc.shell)
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) || !strings.Contains(r.stdout, "__complete") {
			t.Errorf("completion %s: code %d, lacks %q:\n%s", tc.shell, r.code, tc.want, r.stdout)
		}
	}
}

// complete runs a completion request as a shell's script sends it and returns the words
// offered (with their descriptions) and the directive.
func complete(t *testing.T, fb *fakeBackend, line ...string) ([]string, string) {
	t.Helper()
	r := run(t, fb, append([]string{"__complete"}, line...)...)
	out := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || len(out) == 0 || !strings.HasPrefix(out[len(out)-1], ":") {
		t.Fatalf("__complete %q: %+v", line, r)
	}
	return out[:len(out)-1], out[len(out)-1]
}

// TestCompletionRequests: what the shells' scripts get for a line — commands, flags anywhere
// after global ones, flag values, addresses from a scan and a device's characteristics.
func TestCompletionRequests(t *testing.T) {
	const noFiles = ":4"
	for _, tc := range []struct {
		line []string
		want []string
		dir  string
	}{
		{[]string{"sc"}, []string{"scan\tlist advertising devices"}, noFiles},
		{[]string{"--sim", "su"}, []string{"subscribe\tstream notifications or indications"}, noFiles},
		{[]string{"--sim", "scan", "--dur"}, []string{"--duration\thow long to scan"}, noFiles},
		{[]string{"--port", "/dev/ttyACM0", "read", "--fo"}, []string{"--format\tvalue format: auto, hex, utf8 or int"}, noFiles},
		{[]string{"read", hrmAddr, "--si"}, []string{"--sim\tuse an in-process emulated BLED112 with the demo peripherals (no hardware needed)", "--size\tint format: bytes per integer (1, 2, 4 or 8)", "--signed\tint format: signed (two's complement)"}, noFiles},
		{[]string{"--backend", ""}, []string{"bgapi\tBLED112 dongle (BGAPI)", "bluez\tBlueZ's bluetoothd over D-Bus", "gatttool\tBlueZ's gatttool"}, noFiles},
		{[]string{"write", "--endian", "b"}, []string{"big"}, noFiles},
		{[]string{"--port", ""}, nil, ":0"}, // file names
		{[]string{"scan", "--duration", ""}, nil, noFiles},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish", "powershell"}, noFiles},
		{[]string{"help", "ex"}, []string{"exit-codes\thelp topic"}, noFiles},
		{[]string{"read", ""}, []string{hrmAddr + "\tgogatt HRM, -52 dBm", "C0:FF:EE:00:00:02\tgogatt Thermometer, -60 dBm"}, noFiles},
		{[]string{"--sim", "services", "c0:ff:ee:00:00:0"}, []string{hrmAddr + "\tgogatt HRM, -52 dBm", "C0:FF:EE:00:00:02\tgogatt Thermometer, -60 dBm"}, noFiles},
		{[]string{"demo", "--address", "C0:FF:EE:00:00:02"}, []string{"C0:FF:EE:00:00:02\tgogatt Thermometer, -60 dBm"}, noFiles},
		{[]string{"read", hrmAddr, ""}, []string{
			"2a37\tHeart Rate Measurement, in 180d Heart Rate",
			"2a39\tHeart Rate Control Point, in 180d Heart Rate",
			"180f/2a19\tBattery Level, in 180f Battery",
			"fff0/2a19\tBattery Level, in fff0",
			"fff1\tin fff0",
		}, noFiles},
		{[]string{"read", hrmAddr, "180f/"}, []string{"180f/2a19\tBattery Level, in 180f Battery"}, noFiles},
		{[]string{"--json", "subscribe", "--count", "3", hrmAddr, "handle:0x001"}, []string{
			"handle:0x0012\tHeart Rate Measurement, in 180d Heart Rate",
			"handle:0x0015\tHeart Rate Control Point, in 180d Heart Rate",
		}, noFiles},
		{[]string{"write", hrmAddr, "2a39", ""}, nil, noFiles},
		{[]string{"frob", ""}, nil, ":0"},
	} {
		got, dir := complete(t, newFake(), tc.line...)
		if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) || dir != tc.dir {
			t.Errorf("%q: %q %s, want %q %s", tc.line, got, dir, tc.want, tc.dir)
		}
	}
}

// TestCompletionUnreachable: without an adapter, or with a device that does not answer,
// addresses and characteristics complete to nothing, within completionLimit (virtual time),
// not --timeout.
func TestCompletionUnreachable(t *testing.T) {
	if got, _ := complete(t, nil, "read", ""); len(got) != 0 {
		t.Errorf("no adapter: %q", got)
	}
	if got, _ := complete(t, nil, "read", hrmAddr, ""); len(got) != 0 {
		t.Errorf("no adapter: %q", got)
	}
	if got, _ := complete(t, nil, "--backend", "nope", "read", ""); len(got) != 0 {
		t.Errorf("bad --backend: %q", got)
	}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if got, _ := complete(t, newFake(), "--timeout", "1h", "read", "AA:BB:CC:DD:EE:FF", ""); len(got) != 0 {
			t.Errorf("absent device: %q", got)
		}
		if d := time.Since(start); d != completionLimit {
			t.Errorf("the completion took %v, want %v", d, completionLimit)
		}
	})
}

func TestClassifyInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a := &app{}
	if code, _ := a.classify(ctx, fmt.Errorf("x: %w", context.Canceled), commands[0]); code != ExitInterrupted {
		t.Errorf("code %d", code)
	}
	if code, _ := a.classify(context.Background(), errors.New("weird"), commands[0]); code != ExitFailure {
		t.Errorf("code %d", code)
	}
}

// TestHostileText: what a device sends (its name, a value) and an error that quotes it reach
// stdout and stderr escaped; --json carries them as JSON strings with every control escaped.
// (The e2e tests in cmd/gogatt run the same through the emulator.)
func TestHostileText(t *testing.T) {
	const evil = "\x1b]0;pwned\x07\x1b[2J\u009b31m\xff"
	const shown = `\x1b]0;pwned\x07\x1b[2J\u009b31m\xff`
	clean := func(what, s string) {
		t.Helper()
		if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && (r < 0x20 || r >= 0x7f && r <= 0x9f) }) {
			t.Errorf("%s: control character or byte that is not UTF-8 in %q", what, s)
		}
	}
	hostile := func() *fakeBackend {
		fb := newFake()
		fb.devices[0].Name = "HRM" + evil
		fb.values[0x34] = []byte(evil)
		return fb
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"read", hrmAddr, "fff1", "--format", "utf8"}, shown + "\n"},
		{[]string{"read", hrmAddr, "fff1"}, "1b5d303b70776e6564071b5b324ac29b33316dff\n"},
		{[]string{"read", "--json", hrmAddr, "fff1", "--format", "utf8"}, `"text":"\u001b]0;pwned\u0007\u001b[2J\u009b31m\ufffd"`},
		{[]string{"scan"}, "-52 dBm  HRM" + shown + "  [Silicon Labs 0102]\n"},
		{[]string{"scan", "--json"}, `"name":"HRM\u001b]0;pwned\u0007\u001b[2J\u009b31m\ufffd"`},
	} {
		r := run(t, hostile(), tc.args...)
		clean(fmt.Sprint(tc.args), r.stdout)
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) {
			t.Errorf("%q: exit %d, stdout %q lacks %q", tc.args, r.code, r.stdout, tc.want)
		}
	}
	fb := newFake()
	fb.startErr = fmt.Errorf("hcitool: unexpected line: %s", "C0:FF:EE:00:00:01 "+evil)
	r := run(t, fb, "scan")
	clean("stderr", r.stderr)
	if !strings.Contains(r.stderr, shown) {
		t.Errorf("stderr %q lacks %q", r.stderr, shown)
	}
	synctest.Test(t, func(t *testing.T) { // last: it ends the test if it fails
		r := run(t, hostile(), "demo")
		clean("demo", r.stdout)
		if !strings.Contains(r.stdout, "== Connecting to C0:FF:EE:00:00:01 (HRM"+shown+")\n") {
			t.Errorf("demo:\n%s", r.stdout)
		}
		r = run(t, hostile(), "demo", "--json")
		clean("demo --json", r.stdout)
	})
}

// TestBluezBackendConfig: --backend bluez hands the adapter named by --hci, and --notify
// ("auto" by default), to the backend factory.
func TestBluezBackendConfig(t *testing.T) {
	var got BackendConfig
	var out, errb bytes.Buffer
	env := testEnv(newFake(), &out, &errb)
	open := env.Open
	env.Open = func(ctx context.Context, c BackendConfig) (gogatt.Backend, error) {
		got = c
		return open(ctx, c)
	}
	if code := Run(context.Background(), env, []string{"read", "--backend", "bluez", "--hci", "hci2", "--notify", "start", hrmAddr, "180f/2a19"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got.Kind != "bluez" || got.HCI != "hci2" || got.Notify != "start" || got.Sim {
		t.Errorf("BackendConfig = %+v", got)
	}
	if code := Run(context.Background(), env, []string{"read", "--backend", "bluez", hrmAddr, "180f/2a19"}); code != ExitOK || got.Notify != "auto" {
		t.Errorf("without --notify: exit %d, Notify %q; want auto", code, got.Notify)
	}
}
