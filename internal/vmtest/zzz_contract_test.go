//go:build vmtest

package vmtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/gogatttest"
	"github.com/gogatt/gogatt/internal/simhci"
	"github.com/gogatt/gogatt/sim"
)

// The contract suite (package gogatttest) against the real stack of the guest: the demo
// peripherals of package sim, each served by package simhci on a controller of its own (hci2,
// hci3, hci4, taken from bluetoothd through an HCI user channel) on the same emulated radio as
// hci0, reached from hci0 through bluetoothd. It runs after the other tests but the one of
// zzzz_experimental_test.go (file names): the suite's peripherals advertise only during it.

// firstSimController is the index of the first controller given to a sim peripheral.
const firstSimController = 2

// simEnv serves fresh demo peripherals for one test of the suite; at the end of the test it
// ends their connections, gives their controllers back to bluetoothd and has bluetoothd on
// hci0 forget them.
func simEnv(t *testing.T) ([]*sim.Peripheral, map[string]*simhci.Host) {
	t.Helper()
	ps := sim.DemoPeripherals(1)
	hosts := map[string]*simhci.Host{}
	lb := &logBuffer{}
	lg := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		for _, h := range hosts {
			h.Close()
		}
		forget(t, ps)
		if t.Failed() {
			t.Logf("simhci log:\n%s", lb.String())
		}
	})
	for i, p := range ps {
		c := takeController(t, firstSimController+i)
		h, err := simhci.Serve(ctxT(t, 20*time.Second), c, p, lg)
		if err != nil {
			t.Fatalf("serve %v: %v", p.Address(), err)
		}
		hosts[p.Address().String()] = h
	}
	return ps, hosts
}

// takeController powers hciN off through bluetoothd's management interface and opens its
// user channel; bluetoothd powers a controller on again as soon as the kernel gives it back
// (AutoEnable), so this retries until the bind succeeds.
func takeController(t *testing.T, index int) io.ReadWriteCloser {
	t.Helper()
	var c io.ReadWriteCloser
	eventually(t, 20*time.Second, func() (bool, string) {
		out, _ := exec.Command("btmgmt", "--index", strconv.Itoa(index), "power", "off").CombinedOutput()
		var err error
		c, err = simhci.OpenUserChannel(index)
		if err != nil {
			return false, fmt.Sprintf("%v (btmgmt power off: %s)", err, bytes.TrimSpace(out))
		}
		return true, ""
	})
	return c
}

// forget removes the peripherals' device objects from bluetoothd on hci0 (the suite's next
// test serves new peripherals at the same addresses, with no bond and no cached services).
func forget(t *testing.T, ps []*sim.Peripheral) {
	bus, err := dbus.ConnectSystemBus()
	if err != nil {
		t.Logf("system bus: %v", err)
		return
	}
	defer bus.Close()
	for _, p := range ps {
		path := devicePath(p.Address().String())
		err := bus.Object("org.bluez", dbus.ObjectPath("/org/bluez/"+central)).Call("org.bluez.Adapter1.RemoveDevice", 0, path).Err
		if err != nil && !strings.Contains(err.Error(), "Does Not Exist") && !strings.Contains(err.Error(), "DoesNotExist") {
			t.Logf("RemoveDevice %s: %v", path, err)
		}
	}
}

// simContractEnv is the environment of one test of the suite on hci0, for backend b: fresh
// demo peripherals on hci2-hci4, and what every backend shares on this stack.
func simContractEnv(t *testing.T, b gogatt.Backend) gogatttest.Env {
	ps, hosts := simEnv(t)
	return gogatttest.Env{
		Backend:     b,
		Peripherals: ps,
		// simhci pairs (LE legacy pairing, Just Works) and keeps the keys it distributes.
		CanBond: true,
		SetInRange: func(a string, in bool) {
			p, h := gogatttest.Env{Peripherals: ps}.Peripheral(a), hosts[a]
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if in {
				p.SetInRange(true)
				if err := h.SetInRange(ctx, true); err != nil {
					t.Errorf("SetInRange %s: %v", a, err)
				}
				return
			}
			h.SetInRange(ctx, false)
			p.SetInRange(false)
		},
		// Connect includes the scan that finds the device and, with bluez, the discovery of
		// all its services (the torture device: about 3 s under TCG at normal load); the
		// default 5 s leaves no margin on a loaded machine. 15 s as in bluezConnect.
		ConnectTimeout: 15 * time.Second,
		NoConcurrentLinks: "btvirt (BlueZ 5.66 emulator/btdev.c) relays ACL data with the sender's connection handle " +
			"unchanged and tells the peripheral the central's handle, while each controller files the link under the " +
			"lowest free handle of its own: a second link from hci0 (handle 0x002b) to another controller (0x002a) " +
			"carries data one way only (measured: the peripheral's answers were dropped, or sent with its own handle, " +
			"delivered to hci0's first link)",
	}
}

// TestContractBluez runs the contract suite against the D-Bus backend on hci0.
func TestContractBluez(t *testing.T) {
	gogatttest.Run(t, func(t *testing.T) gogatttest.Env {
		e := simContractEnv(t, bluez.New(bluez.Config{Adapter: central}))
		e.NoCCCDWrites = "bluetoothd owns the CCCDs: GattDescriptor1.WriteValue on one fails with NotPermitted (src/gatt-client.c, BlueZ 5.66)"
		// bluetoothd's gap plugin claims GAP, and claimed services are not exported.
		e.HiddenServices = []gogatt.UUID{gatt.UUIDGenericAccess}
		e.LateUnsubscribe = "bluetoothd answers StopNotify before it writes the CCCD"
		return e
	})
}
