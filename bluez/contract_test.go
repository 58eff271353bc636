package bluez_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/gogatttest"
	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

// newEnv starts a simulated bluetoothd serving ps and a backend on its bus.
func newEnv(t *testing.T, ps []*sim.Peripheral) (*bluezsim.Env, *bluez.Backend) {
	t.Helper()
	bluezsim.RequireDBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := startSim(ctx, ps)
	if err != nil {
		t.Fatalf("bluezsim: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	b := bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress()})
	t.Cleanup(func() { b.Stop() })
	return env, b
}

// TestContract runs the contract suite against the simulated org.bluez service, with
// subscriptions through AcquireNotify (the default, NotifyAuto, which falls back to StartNotify
// for indications) and through StartNotify only.
func TestContract(t *testing.T) {
	t.Run("AcquireNotify", func(t *testing.T) { runContract(t, bluez.NotifyAuto) })
	t.Run("StartNotify", func(t *testing.T) { runContract(t, bluez.NotifyStartNotify) })
}

func runContract(t *testing.T, mode bluez.NotifyMode) {
	gogatttest.Run(t, func(t *testing.T) gogatttest.Env {
		ps := sim.DemoPeripherals(1)
		env, b := newEnv(t, ps)
		if mode != bluez.NotifyAuto {
			b = bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress(), Notify: mode})
			t.Cleanup(func() { b.Stop() })
		}
		byAddr := map[string]*sim.Peripheral{}
		for _, p := range ps {
			byAddr[p.Address().String()] = p
		}
		return gogatttest.Env{Backend: b, Peripherals: ps, CanBond: true,
			SetInRange:   func(a string, in bool) { byAddr[a].SetInRange(in) },
			CheckStopped: func(t *testing.T) { nothingLeft(t, env, ps) },
			NoCCCDWrites: "bluetoothd owns the CCCDs: GattDescriptor1.WriteValue on one fails with NotPermitted (src/gatt-client.c, BlueZ 5.66)"}
	})
}

// startSim starts a D-Bus-only simulated bluetoothd serving ps.
func startSim(ctx context.Context, ps []*sim.Peripheral) (*bluezsim.Env, error) {
	if err := bluezsim.AvailableDBus(); err != nil {
		return nil, err
	}
	return bluezsim.Start(ctx, bluezsim.Options{Peripherals: ps, DBusOnly: true})
}

// nothingLeft checks what a stopped backend must not leave: goroutines of the library, a
// connection or a connection attempt held by bluetoothd, a discovery session.
func nothingLeft(t *testing.T, env *bluezsim.Env, ps []*sim.Peripheral) {
	t.Helper()
	gogatttest.NoGoroutines(t, "goroutines of the library", func(stack string) bool {
		return strings.Contains(stack, "gogatt/gogatt/bluez.") || strings.Contains(stack, "gogatt/internal/gattkit.")
	})
	for _, p := range ps {
		if env.GATTConnected(p.Address()) || env.ConnectPending(p.Address()) {
			t.Errorf("bluetoothd still connected (or connecting) to %s after Stop", p.Address())
		}
	}
	if v, err := busProp(t, env.BusAddress(), dbus.ObjectPath("/org/bluez/"+env.HCIDevice()), "org.bluez.Adapter1.Discovering"); err != nil || v.Value() != false {
		t.Errorf("Discovering after Stop = %v, %v; want false", v, err)
	}
}
