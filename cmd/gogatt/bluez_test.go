package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

// TestBluezBackend runs the binary with --backend bluez against the simulated bluetoothd of
// internal/bluezsim on a private bus (D-Bus only), which DBUS_SYSTEM_BUS_ADDRESS makes the
// system bus of the child, as it would for any D-Bus client.
func TestBluezBackend(t *testing.T) {
	bluezsim.RequireDBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ps := sim.DemoPeripherals(1)
	for _, p := range ps {
		if p.Address().String() == hrm {
			// 20 values a second: subscribe --count does not wait seconds for its values.
			if err := p.SetNotifyRate(p.ValueHandle(bt.UUID16(0x2a37)), 20); err != nil {
				t.Fatal(err)
			}
		}
	}
	env, err := bluezsim.Start(ctx, bluezsim.Options{Peripherals: ps, DBusOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	environ := append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+env.BusAddress())

	bz := func(code int, args ...string) res {
		t.Helper()
		return runEnv(t, environ, code, append([]string{"--backend", "bluez"}, args...)...)
	}

	// The scan runs until it has printed the three devices (however long a loaded machine
	// takes), then Ctrl-C ends it.
	scan := exec.CommandContext(ctx, bin, "--backend", "bluez", "scan", "--duration", "1h")
	scan.Env = environ
	s := startCmd(t, scan)
	s.waitUntil(t, func(lines []string) bool {
		all := strings.Join(lines, "\n")
		return strings.Contains(all, hrm) && strings.Contains(all, thermo) && strings.Contains(all, torture)
	})
	if code, _ := s.interrupt(t); code != 0 {
		t.Errorf("bluez scan: exit %d after Ctrl-C; stderr %s", code, s.stderr)
	}

	r := bz(0, "services", hrm)
	if !strings.Contains(r.stdout, "2a37 Heart Rate Measurement  notify") {
		t.Errorf("bluez services:\n%s", r.stdout)
	}
	r = bz(0, "read", hrm, "180f/2a19")
	if !regexp.MustCompile(`^\d{1,3} %\n$`).MatchString(r.stdout) {
		t.Errorf("bluez read: %q", r.stdout)
	}
	r = bz(0, "write", "--json", hrm, "2a39", "01")
	if !strings.Contains(r.stdout, `"hex":"01"`) {
		t.Errorf("bluez write: %q", r.stdout)
	}
	for _, mode := range []string{"auto", "start", "acquire"} {
		args := []string{"subscribe", hrm, "2a37", "--count", "3", "--notify", mode}
		r = bz(0, args...)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || !strings.Contains(lines[0], " bpm") || !strings.HasPrefix(lines[3], "3 value(s) in ") {
			t.Errorf("bluez %q:\n%s", args, r.stdout)
		}
	}
	// 2a1c only indicates: StartNotify by default (bluetoothd refuses AcquireNotify), and the
	// deprecated --acquire-notify still works.
	for _, args := range [][]string{{"subscribe", thermo, "2a1c", "--count", "1"}, {"subscribe", "--acquire-notify", thermo, "2a1c", "--count", "1"}} {
		r = bz(0, args...)
		if !strings.Contains(r.stdout, " °C\n1 value(s) in ") {
			t.Errorf("bluez %q (an indication):\n%s", args, r.stdout)
		}
	}

	// Errors, each with its one line and exit status.
	for _, tc := range []struct {
		args []string
		code int
		line string
	}{
		{[]string{"rssi", hrm}, 8,
			"gogatt rssi: reading the RSSI of C0:FF:EE:00:00:01: bluez: RSSI of a connection: operation not supported by this backend (Device1.RSSI is set by discovery only) (try --backend bgapi)"},
		{[]string{"--hci", "hci7", "scan"}, 3,
			"gogatt scan: bluetoothd has no Bluetooth adapter hci7 (it has hci0): pass --hci, or leave out --backend bluez to use a BLED112 (or the emulator: --sim)"},
		{[]string{"write", hrm, "2a38", "02"}, 6,
			"gogatt write: writing 2a38 Body Sensor Location [0x000f]: write handle 0x000f: ATT error 0x03 (Write Not Permitted): the characteristic is not writable: see its properties with 'gogatt services C0:FF:EE:00:00:01'"},
		{[]string{"read", torture, "7e570103-0000-4000-8000-746f72747572"}, 6,
			"gogatt read: reading 7e570103-0000-4000-8000-746f72747572 [0x0010]: read handle 0x0010: ATT error 0x05 (Insufficient Authentication): the characteristic needs a paired link: add --bond (with --passkey N or --passkey ask if the device shows a passkey), or run 'gogatt bond C0:FF:EE:00:00:03' once"},
	} {
		r := bz(tc.code, tc.args...)
		if got := strings.TrimSuffix(r.stderr, "\n"); got != tc.line {
			t.Errorf("bluez %q: stderr\n%s\nwant\n%s", tc.args, got, tc.line)
		}
	}

	// --passkey answers the backend's agent: the torture device shows its passkey, the
	// command line gives it, and the read that needs an authenticated link succeeds.
	ta, err := bt.ParseAddress(torture)
	if err != nil {
		t.Fatal(err)
	}
	env.SetPeerIO(ta, bluezsim.PeerDisplayOnly)
	r = bz(0, "read", "--bond", "--passkey", fmt.Sprint(bluezsim.PeerPasskey(ta)), torture, authenticatedChar, "--format", "utf8")
	if r.stdout != "top secret\n" {
		t.Errorf("bluez read --bond --passkey of an authenticated characteristic: %q", r.stdout)
	}

	// A numeric comparison (the peer has a display and yes/no buttons): --passkey N confirms
	// the number N, another number is refused. The thermometer has no encrypted characteristic:
	// bond, then clear the bond.
	th, err := bt.ParseAddress(thermo)
	if err != nil {
		t.Fatal(err)
	}
	env.SetPeerIO(th, bluezsim.PeerDisplayYesNo)
	other := (bluezsim.PeerPasskey(th) + 1) % 1000000
	r = bz(6, "bond", "--passkey", fmt.Sprintf("%06d", other), thermo)
	if !strings.Contains(r.stderr, fmt.Sprintf("shows %06d, not the --passkey %06d", bluezsim.PeerPasskey(th), other)) {
		t.Errorf("bluez bond with the wrong number to compare: stderr %q", r.stderr)
	}
	bz(0, "bond", "--passkey", fmt.Sprintf("%06d", bluezsim.PeerPasskey(th)), thermo)
	bz(0, "clear-bond", thermo)

	// Without bluetoothd: exit 3 and what to do.
	if err := env.SetBluetoothd(false); err != nil {
		t.Fatal(err)
	}
	r = bz(3, "read", hrm, "180f/2a19")
	const want = "gogatt read: bluetoothd is not running (nothing owns org.bluez on the system bus): start it ('sudo systemctl start bluetooth'), or leave out --backend bluez to use a BLED112 (or the emulator: --sim)\n"
	if r.stderr != want {
		t.Errorf("bluez read without bluetoothd: stderr\n%swant\n%s", r.stderr, want)
	}
}
