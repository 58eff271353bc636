package gatttool_test

import (
	"context"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatttool"
	"github.com/gogatt/gogatt/sim"
)

// BenchmarkReadRoundTrip: one char-read-hnd through the real gatttool and the shim.
func BenchmarkReadRoundTrip(b *testing.B) {
	p, _ := testPeripheral(b, testAddr)
	r := setup(b, gatttool.Config{}, p)
	d := connect(b, r, testAddr, gogatt.ConnectOptions{})
	ctx := context.Background()
	h := p.ValueHandle(uRW)
	if _, err := d.CharReadHandle(ctx, h); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := d.CharReadHandle(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reads/s")
}

// BenchmarkNotifications: b.N generator values (4-byte LE sequence numbers) pushed as fast as the
// link takes them, through gatttool's "Notification handle = …" lines, into the handler. Loss
// and order are counted and reported.
func BenchmarkNotifications(b *testing.B) {
	p, _ := testPeripheral(b, testAddr)
	r := setup(b, gatttool.Config{}, p)
	d := connect(b, r, testAddr, gogatt.ConnectOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n := b.N
	sc := newSeqCounter(n)
	if err := d.Subscribe(ctx, uNotify, sc.handle, gogatt.SubscribeOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	stop := p.StartGenerator(p.ValueHandle(uNotify), n, 0)
	select {
	case <-sc.done:
	case <-ctx.Done():
	}
	el := time.Since(start)
	stop()
	b.StopTimer()
	got, bad := sc.counts()
	b.ReportMetric(float64(got)/el.Seconds(), "notifications/s")
	b.ReportMetric(float64(n-got), "lost")
	b.ReportMetric(float64(bad), "out-of-order")
	if got != n || bad != 0 {
		b.Fatalf("received %d of %d, %d out of order", got, n, bad)
	}
}

// BenchmarkDiscoveryTorture: the whole attribute tree of the torture device (≥ 50
// characteristics) with primary + characteristics + char-desc, each on a fresh connection.
func BenchmarkDiscoveryTorture(b *testing.B) {
	p := sim.NewTortureDevice(bt.MustParseAddress(sim.TortureAddress), 1)
	r := setup(b, gatttool.Config{}, p)
	ctx := context.Background()
	chars := 0
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		d := connect(b, r, sim.TortureAddress, gogatt.ConnectOptions{})
		b.StartTimer()
		start := time.Now()
		s, err := d.Services(ctx)
		total += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		chars = 0
		for _, sv := range s {
			chars += len(sv.Characteristics)
		}
		d.Disconnect()
		b.StartTimer()
	}
	b.ReportMetric(float64(chars), "characteristics")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/discovery")
}
