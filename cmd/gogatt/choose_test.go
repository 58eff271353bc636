package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

// TestChooseBackend: the default backend over the probes' answers: a BLED112 wins, then
// bluetoothd on Linux, else bgapi; bluetoothd is not asked where a BLED112 decided or off Linux.
func TestChooseBackend(t *testing.T) {
	dongle := func() ([]string, error) { return []string{"/dev/ttyACM0"}, nil }
	none := func() ([]string, error) { return nil, nil }
	listFails := func() ([]string, error) { return nil, errors.New("sysfs unreadable") }
	up := func(context.Context) error { return nil }
	down := func(context.Context) error { return bluez.ErrNoBluetoothd }
	tests := []struct {
		name       string
		goos       string
		bled112    func() ([]string, error)
		bluetoothd func(context.Context) error
		kind       string
		asked      bool // bluetoothd asked
		why        string
	}{
		{"dongle, bluetoothd", "linux", dongle, up, "bgapi", false, "/dev/ttyACM0"},
		{"dongle, no bluetoothd", "linux", dongle, down, "bgapi", false, "BLED112 is plugged in"},
		{"bluetoothd", "linux", none, up, "bluez", true, "bluetoothd is on the system bus"},
		{"nothing", "linux", none, down, "bgapi", true, "bluetoothd not reachable"},
		{"ports unlisted, bluetoothd", "linux", listFails, up, "bluez", true, "sysfs unreadable"},
		{"windows", "windows", none, up, "bgapi", false, "Linux only"},
		{"darwin", "darwin", none, up, "bgapi", false, "Linux only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			asked := false
			kind, why := chooseBackend(context.Background(), backendProbes{goos: tc.goos, bled112: tc.bled112,
				bluetoothd: func(ctx context.Context) error { asked = true; return tc.bluetoothd(ctx) }})
			if kind != tc.kind || asked != tc.asked || !strings.Contains(why, tc.why) {
				t.Errorf("chooseBackend = %q, %q (bluetoothd asked: %v); want %q, …%q… (asked %v)", kind, why, asked, tc.kind, tc.why, tc.asked)
			}
		})
	}
}

// TestDefaultBackendProbe: the real bluetoothd probe asks the bus DBUS_SYSTEM_BUS_ADDRESS
// names: a private dbus-daemon with the simulated bluetoothd, then without it, then no bus.
// Then the binary without --backend uses bluez there (no BLED112 plugged in on a test machine;
// skipped where there is one), and says so in `gogatt version`.
func TestDefaultBackendProbe(t *testing.T) {
	bluezsim.RequireDBus(t)
	if ports, _ := bgapi.FindBLED112(); len(ports) > 0 {
		t.Skipf("a BLED112 is plugged in (%s): it would be the default", ports[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env, err := bluezsim.Start(ctx, bluezsim.Options{Peripherals: sim.DemoPeripherals(1), DBusOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", env.BusAddress())
	probe := realProbes().bluetoothd
	if err := probe(ctx); err != nil {
		t.Fatalf("probe with bluetoothd = %v, want nil", err)
	}

	// The bus is in this process's environment (t.Setenv above), so the binary's too.
	gogatt := func(code int, args ...string) res { t.Helper(); return run(t, code, args...) }
	if r := gogatt(0, "version"); !strings.Contains(r.stdout, "  backend:     bluez (no BLED112 plugged in; bluetoothd is on the system bus)\n") {
		t.Errorf("gogatt version with bluetoothd:\n%s", r.stdout)
	}
	r := gogatt(0, "-v", "read", hrm, "180f/2a19")
	if !strings.Contains(r.stderr, "backend=bluez") {
		t.Errorf("gogatt -v read: the choice is not logged:\n%s", r.stderr)
	}
	// The README's first command keeps its emulator, whatever the machine has.
	if r := gogatt(0, "--sim", "version"); !strings.Contains(r.stdout, "  backend:     bgapi (given)\n") {
		t.Errorf("gogatt --sim version:\n%s", r.stdout)
	}

	if err := env.SetBluetoothd(false); err != nil {
		t.Fatal(err)
	}
	if err := probe(ctx); !errors.Is(err, bluez.ErrNoBluetoothd) {
		t.Errorf("probe without bluetoothd = %v, want ErrNoBluetoothd", err)
	}
	if r := gogatt(0, "version"); !strings.Contains(r.stdout, "  backend:     bgapi (no BLED112 plugged in; bluetoothd not reachable: ") {
		t.Errorf("gogatt version without bluetoothd:\n%s", r.stdout)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "absent"))
	if err := probe(ctx); !errors.Is(err, bluez.ErrNoBus) {
		t.Errorf("probe without a bus = %v, want ErrNoBus", err)
	}
}
