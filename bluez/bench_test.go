package bluez_test

import (
	"context"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

// BenchmarkRead: one CharRead round trip through the simulated bluetoothd (D-Bus call, ATT Read
// to the simulated peripheral, reply).
func BenchmarkRead(b *testing.B) {
	ps := sim.DemoPeripherals(1)
	_, be := newEnvB(b, ps, bluez.NotifyAuto)
	ctx := context.Background()
	d, err := be.Connect(ctx, sim.TortureAddress, gogatt.ConnectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Disconnect()
	if _, err := d.CharRead(ctx, sim.TortureLong); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.CharRead(ctx, sim.TortureLong); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNotifications: values per second from the peripheral to the handler, through
// PropertiesChanged signals (StartNotify) or bluetoothd's socket (AcquireNotify).
func BenchmarkNotifications(b *testing.B) {
	for _, mode := range []bluez.NotifyMode{bluez.NotifyStartNotify, bluez.NotifyAcquire} {
		b.Run(mode.String(), func(b *testing.B) {
			ps := sim.DemoPeripherals(1)
			_, be := newEnvB(b, ps, mode)
			ctx := context.Background()
			d, err := be.Connect(ctx, sim.TortureAddress, gogatt.ConnectOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Disconnect()
			var p *sim.Peripheral
			for _, x := range ps {
				if x.Address().String() == sim.TortureAddress {
					p = x
				}
			}
			vh := p.ValueHandle(sim.TortureStream)
			got := make(chan struct{}, 1024)
			if err := d.Subscribe(ctx, sim.TortureStream, func(uint16, []byte) { got <- struct{}{} }, gogatt.SubscribeOptions{}); err != nil {
				b.Fatal(err)
			}
			val := make([]byte, 20)
			start := time.Now()
			b.ResetTimer()
			for b.Loop() {
				p.Notify(vh, val)
				<-got
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "values/s")
		})
	}
}

// newEnvB is newEnv for benchmarks, with the backend started.
func newEnvB(b *testing.B, ps []*sim.Peripheral, mode bluez.NotifyMode) (*bluezsim.Env, *bluez.Backend) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := startSim(ctx, ps)
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { env.Close() })
	be := bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress(), Notify: mode})
	if err := be.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Stop() })
	return env, be
}
