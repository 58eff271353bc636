package bgapi

import (
	"context"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// BenchmarkNotificationsAutoReconnect is BenchmarkNotifications through a Device with
// AutoReconnect, the configuration of a gateway: the value's whole path from the serial read to
// the handler, with the allocations per notification.
func BenchmarkNotificationsAutoReconnect(b *testing.B) {
	env := startEmu(b, bled112.Config{}, Config{NoReset: true})
	d, err := env.b.Connect(context.Background(), tortureAddr, gogatt.ConnectOptions{AutoReconnect: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Disconnect() })
	p := env.periphs[tortureAddr]
	n := b.N
	chk := newSeqChecker(n)
	if err := d.Subscribe(context.Background(), sim.TortureStream, chk.handle, gogatt.SubscribeOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	stop := p.StartGenerator(p.ValueHandle(sim.TortureStream), n, 0)
	select {
	case <-chk.complete:
	case <-time.After(60 * time.Second):
	}
	el := time.Since(start)
	b.StopTimer()
	stop()
	got, lost, reorder := chk.result()
	b.ReportMetric(float64(got)/el.Seconds(), "notifications/s")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(reorder), "out-of-order")
	if got != n {
		b.Errorf("received %d of %d", got, n)
	}
}
