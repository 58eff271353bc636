//go:build vmtest

package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
)

// This file sorts last on purpose: its test restarts the guest's bluetoothd (with
// --experimental) and vmperiph; every other tier test runs before it on the stack the guest's
// init started.

// stopProcess ends the guest's processes named name and waits until they are gone.
func stopProcess(t *testing.T, name string) {
	t.Helper()
	out, _ := exec.Command("pidof", name).Output()
	for _, p := range strings.Fields(string(out)) {
		exec.Command("kill", p).Run()
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		o, _ := exec.Command("pidof", name).Output()
		return len(strings.TrimSpace(string(o))) == 0, name + " did not exit"
	})
}

// startProcess starts a guest process that runs until the guest powers off, its output
// appended to logPath.
func startProcess(t *testing.T, logPath, name string, args ...string) {
	t.Helper()
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("%s %v: %v", name, args, err)
	}
	go func() { cmd.Wait(); lf.Close() }()
}

// restartBluetoothd replaces the guest's bluetoothd with one started with args and waits until
// it reports both adapters powered.
func restartBluetoothd(t *testing.T, args ...string) {
	t.Helper()
	stopProcess(t, "bluetoothd")
	startProcess(t, "/tmp/bluetoothd-restart.log", "bluetoothd", append([]string{"-n"}, args...)...)
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, hci := range []string{"hci0", "hci1"} {
		eventually(t, 20*time.Second, func() (bool, string) {
			v, err := conn.Object("org.bluez", dbus.ObjectPath("/org/bluez/"+hci)).GetProperty("org.bluez.Adapter1.Powered")
			return err == nil && v.Value() == true, fmt.Sprintf("restarted bluetoothd: %s not powered (%v)", hci, err)
		})
	}
}

// TestBluezPassiveScanExperimental (last: it restarts bluetoothd with --experimental, then
// restores bluetoothd and vmperiph as the guest's init started them): with
// AdvertisementMonitorManager1 a passive scan finds an advertiser on hci1 by its Flags, with
// the name of its advertising data, not the one only its scan response carries; an active
// scan then gets the latter. An advertising instance set up with btmgmt supplies both
// (vmperiph, whose GATT application would not survive the restart, is stopped meanwhile).
func TestBluezPassiveScanExperimental(t *testing.T) {
	stopProcess(t, "vmperiph")
	restartBluetoothd(t, "--experimental")
	t.Cleanup(func() {
		exec.Command("btmgmt", "--index", "1", "rm-adv", "3").Run()
		restartBluetoothd(t)
		before, _ := os.ReadFile("/tmp/vmperiph.log")
		ready := strings.Count(string(before), "VMPERIPH READY")
		startProcess(t, "/tmp/vmperiph.log", "/vmtest/vmperiph", "-adapter", "hci1")
		eventually(t, 30*time.Second, func() (bool, string) {
			b, _ := os.ReadFile("/tmp/vmperiph.log")
			return strings.Count(string(b), "VMPERIPH READY") > ready, "vmperiph not ready again"
		})
	})
	// Flags 0x06 and a Complete Local Name in the advertising data, another in the scan response.
	advName, rspName := "adv gogatt", "rsp gogatt"
	btmgmt(t, "add-adv", "-c", "-d", fmt.Sprintf("020106%02x09%x", len(advName)+1, advName), "-s", fmt.Sprintf("%02x09%x", len(rspName)+1, rspName), "3")
	b := bluezBackend(t, bluez.NotifyAuto)
	for _, passive := range []bool{true, false, true} {
		want := map[bool]string{true: advName, false: rspName}[passive]
		t0 := time.Now()
		var first time.Duration
		res, err := b.Scan(ctxT(t, 30*time.Second), gogatt.ScanOptions{Passive: passive, Timeout: 10 * time.Second,
			OnAdvertisement: func(r gogatt.ScanResult) bool {
				if r.Address == peer && first == 0 {
					first = time.Since(t0)
				}
				return !(r.Address == peer && r.Name == want)
			}})
		var found *gogatt.ScanResult
		for i, r := range res {
			if r.Address == peer {
				found = &res[i]
			}
		}
		t.Logf("MEASURE bluez scan passive=%v with --experimental: %d results, err %v, peer after %v: %+v", passive, len(res), err, first, found)
		if err != nil || found == nil {
			t.Fatalf("passive=%v: scan = %d results, %v; peer not found", passive, len(res), err)
		}
		if found.Name != want {
			t.Errorf("passive=%v: name %q, want %q", passive, found.Name, want)
		}
	}
}
