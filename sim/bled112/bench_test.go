package bled112

import (
	"io"
	"testing"
	"time"

	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/sim"
)

// benchHost is a lean host for benchmarks: it decodes frames without copying.
func benchNotify(b *testing.B, rwc io.ReadWriteCloser, p *sim.Peripheral) {
	d := wire.NewDecoder(rwc)
	send := func(m wire.Message) {
		if _, err := rwc.Write(m.AppendFrame(nil)); err != nil {
			b.Fatal(err)
		}
	}
	until := func(class, id uint8, event bool) {
		for {
			f, err := d.Next()
			if err != nil {
				b.Fatal(err)
			}
			if f.Event == event && f.Class == class && f.ID == id {
				return
			}
		}
	}
	send(&wire.CmdGapConnectDirect{Address: hrmAddr, ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 100})
	until(3, 0, true)
	send(&wire.CmdAttclientAttributeWrite{Handle: 0x15, Data: []byte{0x01, 0x00}})
	until(4, 1, true)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	stop := p.StartGenerator(0x14, b.N, 0)
	defer stop()
	var ev wire.EvtAttclientAttributeValue
	for i := 0; i < b.N; {
		f, err := d.Next()
		if err != nil {
			b.Fatal(err)
		}
		if f.Event && f.Class == 4 && f.ID == 5 {
			if err := ev.UnmarshalPayload(f.Payload); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "notifications/s")
}

func BenchmarkNotificationsPipe(b *testing.B) {
	p := sim.NewHeartRateSensor(hrmAddr, 1)
	e, _ := New(Config{Peripherals: []*sim.Peripheral{p}})
	defer e.Close()
	host := e.Pipe()
	defer host.Close()
	benchNotify(b, host, p)
}

func BenchmarkNotificationsPTY(b *testing.B) {
	p := sim.NewHeartRateSensor(hrmAddr, 1)
	e, _ := New(Config{Peripherals: []*sim.Peripheral{p}})
	defer e.Close()
	pt, err := e.ListenPTY("")
	if err != nil {
		b.Fatal(err)
	}
	defer pt.Close()
	port := openSerial(b, pt.Path())
	defer port.Close()
	benchNotify(b, port, p)
}

// BenchmarkReadByHandle measures one attclient_read_by_handle round trip (command, response,
// attribute_value) through the emulator and the sim ATT server.
func BenchmarkReadByHandle(b *testing.B) {
	e, _ := New(Config{Peripherals: sim.DemoPeripherals(1)})
	defer e.Close()
	host := e.Pipe()
	defer host.Close()
	d := wire.NewDecoder(host)
	host.Write(wire.CmdGapConnectDirect{Address: hrmAddr, ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 100}.AppendFrame(nil))
	for n := 0; n < 2; n++ {
		if _, err := d.Next(); err != nil {
			b.Fatal(err)
		}
	}
	cmd := wire.CmdAttclientReadByHandle{Handle: 0x0F}.AppendFrame(nil)
	b.ReportAllocs()
	for b.Loop() {
		host.Write(cmd)
		for n := 0; n < 2; n++ {
			if _, err := d.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
