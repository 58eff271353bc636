package sim

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

// FuzzServer feeds random PDUs (each prefixed by its length) to the torture device: every
// request must get exactly one well-formed response — its own response opcode or an Error
// Response naming it — commands and other PDUs nothing, in order, without panic or hang (a
// hang is a synctest deadlock).
func FuzzServer(f *testing.F) {
	seeds := []string{
		"03 02 0502 05 04 0100 ffff 07 10 0100 ffff 0028",
		"05 0c 0c00 1600 03 0a 1000 03 0a 0000 07 08 0100 ffff 0328",
		"07 16 2000 0000 4142 07 16 2000 0a00 43 02 18 01 02 18 02 02 18 00",
		"05 12 2a00 0100 05 0e 1e00 3c00 05 20 1e00 3700 04 52 2000 41",
		"02 3f 00 01 14 02 7f 00 01 1e 04 1b 0300 00",
		"10 d2 3300 41 000102030405060708090a0b 09 06 0100 ffff 0028 f0ff",
	}
	for _, s := range seeds {
		f.Add(hx(s))
	}
	f.Fuzz(serveOnce)
}

func serveOnce(t *testing.T, data []byte) {
	synctest.Test(t, func(t *testing.T) {
		p := torture(t)
		l := connect(t, p)
		var reqs []att.Opcode
		for len(data) > 0 && len(reqs) < 100 {
			n := min(int(data[0]), len(data)-1)
			pdu := data[1 : 1+n]
			data = data[1+n:]
			if n == 0 {
				continue
			}
			if err := l.WritePDU(pdu); err != nil {
				t.Fatal(err)
			}
			if att.Opcode(pdu[0]).IsRequest() {
				reqs = append(reqs, att.Opcode(pdu[0]))
			}
		}
		l.WritePDU(att.ReadReq{Handle: 3}.Append(nil))
		reqs = append(reqs, att.OpReadReq)
		for i, op := range reqs {
			pdu, err := l.ReadPDU()
			if err != nil {
				t.Fatal(err)
			}
			if len(pdu) > att.MaxMTU {
				t.Fatalf("response of %d octets", len(pdu))
			}
			d, err := att.Decode(pdu)
			if err != nil {
				t.Fatalf("response %d to %v is malformed: % x: %v", i, op, pdu, err)
			}
			want, _ := op.Response()
			if e, ok := d.(att.ErrorRsp); ok {
				if e.Request != op || e.Code == 0 {
					t.Fatalf("error response %v to %v", e, op)
				}
			} else if !op.Known() || d.Opcode() != want {
				t.Fatalf("response %v to %v", d.Opcode(), op)
			}
		}
		synctest.Wait()
		if len(l.c.out) != 0 {
			t.Fatalf("%d unexpected PDUs", len(l.c.out))
		}
	})
}

func benchPeripheral(b *testing.B) (*Peripheral, *conn) {
	p := NewTortureDevice(bt.MustParseAddress(TortureAddress), 1)
	return p, newConn(p, testCentral, bt.AddressPublic)
}

// BenchmarkServerRead measures the server's handling of one Read Request (no transport).
func BenchmarkServerRead(b *testing.B) {
	_, c := benchPeripheral(b)
	req := att.ReadReq{Handle: 0x0003}.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		if rsp := c.handle(req); rsp[0] != 0x0b {
			b.Fatal(rsp)
		}
	}
}

// BenchmarkServerReadByType measures a discovery step: characteristic declarations.
func BenchmarkServerReadByType(b *testing.B) {
	_, c := benchPeripheral(b)
	req := att.ReadByTypeReq{StartHandle: 0x0042, EndHandle: 0xFFFF, Type: gatt.UUIDCharacteristic}.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		if rsp := c.handle(req); rsp[0] != 0x09 {
			b.Fatal(rsp)
		}
	}
}

// BenchmarkServerWrite measures the server's handling of one Write Request (no transport).
func BenchmarkServerWrite(b *testing.B) {
	_, c := benchPeripheral(b)
	req := att.WriteReq{Handle: 0x0020, Value: []byte("0123456789")}.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		if rsp := c.handle(req); rsp[0] != 0x13 {
			b.Fatal(rsp)
		}
	}
}

// BenchmarkLinkRead measures a Read Request/Response round trip over an in-memory Link.
func BenchmarkLinkRead(b *testing.B) {
	p, _ := benchPeripheral(b)
	l := connect(b, p)
	req := att.ReadReq{Handle: 0x0003}.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		l.WritePDU(req)
		if rsp, err := l.ReadPDU(); err != nil || rsp[0] != 0x0b {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinkWrite measures a Write Request/Response round trip over an in-memory Link.
func BenchmarkLinkWrite(b *testing.B) {
	p, _ := benchPeripheral(b)
	l := connect(b, p)
	req := att.WriteReq{Handle: 0x0020, Value: []byte("0123456789")}.Append(nil)
	b.ReportAllocs()
	for b.Loop() {
		l.WritePDU(req)
		if rsp, err := l.ReadPDU(); err != nil || rsp[0] != 0x13 {
			b.Fatal(err)
		}
	}
}

// BenchmarkNotify measures Notify of a 20-octet value to one subscribed link drained by a
// reader goroutine.
func BenchmarkNotify(b *testing.B) {
	p, _ := benchPeripheral(b)
	l := connect(b, p)
	l.WritePDU(att.WriteReq{Handle: hStreamCCCD, Value: []byte{1, 0}}.Append(nil))
	l.ReadPDU()
	done := make(chan int)
	go func() {
		n := 0
		for {
			if _, err := l.ReadPDU(); err != nil {
				done <- n
				return
			}
			n++
		}
	}()
	v := make([]byte, 20)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		p.Notify(hStream, v)
	}
	el := time.Since(start)
	l.Close()
	<-done
	b.ReportMetric(float64(b.N)/el.Seconds(), "notifications/s")
}

// BenchmarkGenerator measures StartGenerator at rate 0 (as fast as the link takes values),
// received and decoded by the benchmark goroutine.
func BenchmarkGenerator(b *testing.B) {
	p, _ := benchPeripheral(b)
	l := connect(b, p)
	l.WritePDU(att.WriteReq{Handle: hStreamCCCD, Value: []byte{1, 0}}.Append(nil))
	l.ReadPDU()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	stop := p.StartGenerator(hStream, b.N, 0)
	var ntf att.HandleValueNtf
	for range b.N {
		pdu, err := l.ReadPDU()
		if err != nil || ntf.Unmarshal(pdu) != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	stop()
	b.ReportMetric(float64(b.N)/el.Seconds(), "notifications/s")
}

// BenchmarkGeneratorRate measures the rate StartGenerator delivers when asked for 2,000,
// 3,000 and 4,000 values per second: each iteration generates a tenth of a second's worth and
// the benchmark goroutine receives them.
func BenchmarkGeneratorRate(b *testing.B) {
	for _, rate := range []int{1000, 2000, 3000, 4000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			p, _ := benchPeripheral(b)
			l := connect(b, p)
			l.WritePDU(att.WriteReq{Handle: hStreamCCCD, Value: []byte{1, 0}}.Append(nil))
			l.ReadPDU()
			per := rate / 10
			var el time.Duration
			for b.Loop() {
				start := time.Now()
				stop := p.StartGenerator(hStream, per, float64(rate))
				for range per {
					if _, err := l.ReadPDU(); err != nil {
						b.Fatal(err)
					}
				}
				el += time.Since(start)
				stop()
			}
			b.ReportMetric(float64(per*b.N)/el.Seconds(), "values/s")
			b.ReportMetric(float64(per*b.N)/el.Seconds()/float64(rate), "delivered/asked")
		})
	}
}
