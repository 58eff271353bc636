package bgapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// rawConnect connects without AutoReconnect.
func (env *emuEnv) rawConnect(b *testing.B, addr string) gogatt.Device {
	b.Helper()
	d, err := env.b.Connect(context.Background(), addr, gogatt.ConnectOptions{IntervalMin: 7500 * time.Microsecond, IntervalMax: 7500 * time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Disconnect() })
	return d
}

// rawLink dials one link, below the Device.
func (env *emuEnv) rawLink(b testing.TB, addr string) *link {
	b.Helper()
	l, err := env.b.dial(context.Background(), bt.MustParseAddress(addr), gogatt.ConnectOptions{}, func(uint16, []byte) bool { return false })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l.(*link)
}

// BenchmarkReadRoundTrip: one attclient_read_by_handle → attribute_value over the emulator's
// pty, as fast as the emulator answers (no link model).
func BenchmarkReadRoundTrip(b *testing.B) {
	env := startEmu(b, bled112.Config{}, Config{NoReset: true})
	d := env.rawConnect(b, hrmAddr)
	ctx := context.Background()
	h := env.periphs[hrmAddr].ValueHandle(gogatt.UUID16(0x2A38))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.CharReadHandle(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNotifications: b.N generator values end to end (sim → emulator → pty → client →
// registry → handler); reports notifications/s and lost / out-of-order counts.
func BenchmarkNotifications(b *testing.B) {
	env := startEmu(b, bled112.Config{}, Config{NoReset: true})
	benchNotifications(b, env, env.rawConnect(b, tortureAddr))
}

// benchNotifications streams b.N generator values of the torture device to d and reports
// notifications/s, lost and out-of-order counts.
func benchNotifications(b *testing.B, env *emuEnv, d gogatt.Device) {
	p := env.periphs[tortureAddr]
	n := b.N
	chk := newSeqChecker(n)
	if err := d.Subscribe(context.Background(), sim.TortureStream, chk.handle, gogatt.SubscribeOptions{}); err != nil {
		b.Fatal(err)
	}
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

// BenchmarkLongWrite512: a 512-byte prepare_write ×29 + execute_write.
func BenchmarkLongWrite512(b *testing.B) {
	env := startEmu(b, bled112.Config{}, Config{NoReset: true})
	d := env.rawConnect(b, tortureAddr)
	h := env.periphs[tortureAddr].ValueHandle(sim.TortureMax)
	val := bytes.Repeat([]byte{0xA5}, 512)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := d.CharWriteLongHandle(ctx, h, val); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "B/s")
}

// BenchmarkDiscovery: the full tree of the torture device (≥ 50 characteristics).
func BenchmarkDiscovery(b *testing.B) {
	env := startEmu(b, bled112.Config{}, Config{NoReset: true})
	d := env.rawLink(b, tortureAddr)
	ctx := context.Background()
	var chars int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		svcs, err := d.Discover(ctx)
		if err != nil {
			b.Fatal(err)
		}
		chars = 0
		for _, s := range svcs {
			chars += len(s.Characteristics)
		}
	}
	b.ReportMetric(float64(chars), "characteristics")
}

// BenchmarkScan: advertising reports per second from 50 beacons advertising every 20 ms plus
// the demo peripherals, merged per device.
func BenchmarkScan(b *testing.B) {
	var beacons []*sim.Peripheral
	for i := range 50 {
		a := bt.MustParseAddress(fmt.Sprintf("C0:FF:EE:10:00:%02X", i))
		beacons = append(beacons, sim.NewBuilder(a).Name(fmt.Sprintf("beacon %d", i)).AdvertisingInterval(20*time.Millisecond).
			Advertise(adv.Data{HasFlags: true, Flags: adv.FlagGeneralDiscoverable | adv.FlagBREDRNotSupported, LocalName: fmt.Sprintf("beacon %d", i), NameComplete: true}).MustBuild())
	}
	env := startEmu(b, bled112.Config{}, Config{NoReset: true}, beacons...)
	reports := 0
	b.ResetTimer()
	start := time.Now()
	res, err := env.b.Scan(context.Background(), gogatt.ScanOptions{Timeout: time.Minute, Interval: 10 * time.Millisecond, Window: 10 * time.Millisecond,
		OnAdvertisement: func(gogatt.ScanResult) bool { reports++; return reports < b.N }})
	el := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(reports)/el.Seconds(), "reports/s")
	b.ReportMetric(float64(len(res)), "devices")
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// BenchmarkFrameDecode: the client's decode path for one notification frame: resynchronising
// parser, then the typed in-place decode of package wire (no allocation).
func BenchmarkFrameDecode(b *testing.B) {
	frame := wire.AppendFrame(nil, wire.Frame{Event: true, Class: 4, ID: 5, Payload: cat([]byte{0}, le16(0x12), []byte{byte(wire.AttValueNotify), 20}, pattern(20))})
	p := wire.NewParser(wire.DecoderConfig{})
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		p.Feed(frame)
		f, ok := p.Next()
		if !ok {
			b.Fatal("no frame")
		}
		var e wire.EvtAttclientAttributeValue
		if err := e.UnmarshalPayload(f.Payload); err != nil || e.AttHandle != 0x12 || e.Type != wire.AttValueNotify || len(e.Value) != 20 {
			b.Fatal("bad decode")
		}
	}
}

// BenchmarkEventRoute: the reader's whole handling of one notification (decode, route by
// connection, registry dispatch with its copy of the value).
func BenchmarkEventRoute(b *testing.B) {
	c := &client{conns: map[uint8]*conn{}, closed: make(chan struct{})}
	c.log = testLogger()
	if c.log == nil {
		c.log = discardLogger()
	}
	reg := gattkit.NewRegistry()
	cn := newConn(c, 0, bt.MustParseAddress(hrmAddr), reg.Dispatch)
	c.conns[0] = cn
	done := make(chan struct{}, 1)
	n := 0
	reg.Add(0x12, func(uint16, []byte) {
		n++
		if n == b.N {
			done <- struct{}{}
		}
	}, gogatt.SubscribeOptions{})
	defer reg.Close()
	f := wire.Frame{Event: true, Class: 4, ID: 5, Payload: cat([]byte{0}, le16(0x12), []byte{byte(wire.AttValueNotify), 20}, pattern(20))}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.handleEvent(f)
	}
	<-done
}
