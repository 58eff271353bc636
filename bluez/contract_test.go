package bluez_test

import (
	"context"
	"testing"
	"time"

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
// subscriptions through StartNotify and through AcquireNotify.
func TestContract(t *testing.T) {
	t.Run("StartNotify", func(t *testing.T) { runContract(t, false) })
	t.Run("AcquireNotify", func(t *testing.T) { runContract(t, true) })
}

func runContract(t *testing.T, acquire bool) {
	gogatttest.Run(t, func(t *testing.T) gogatttest.Env {
		ps := sim.DemoPeripherals(1)
		env, b := newEnv(t, ps)
		if acquire {
			b = bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress(), AcquireNotify: true})
			t.Cleanup(func() { b.Stop() })
		}
		byAddr := map[string]*sim.Peripheral{}
		for _, p := range ps {
			byAddr[p.Address().String()] = p
		}
		return gogatttest.Env{Backend: b, Peripherals: ps,
			SetInRange:   func(a string, in bool) { byAddr[a].SetInRange(in) },
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
