package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

const (
	hStream     = 0x0029 // TortureStream value
	hStreamCCCD = 0x002A
	hIndicate   = 0x001B
	hIndCCCD    = 0x001C
)

func mustRead(t *testing.T, l *Link) []byte {
	t.Helper()
	pdu, err := l.ReadPDU()
	if err != nil {
		t.Fatal(err)
	}
	return pdu
}

func enable(t *testing.T, l *Link, cccd, bits uint16) {
	t.Helper()
	req := att.WriteReq{Handle: cccd, Value: binary.LittleEndian.AppendUint16(nil, bits)}.Append(nil)
	if got := roundTrip(t, l, req); !bytes.Equal(got, []byte{0x13}) {
		t.Fatalf("enable CCCD 0x%04X: % x", cccd, got)
	}
}

func TestNotifyOnlySubscribedLinks(t *testing.T) {
	p := torture(t)
	l1, l2 := connect(t, p), connect(t, p)
	enable(t, l1, hStreamCCCD, 1)
	if n := p.Subscribers(hStream); n != 1 {
		t.Fatalf("Subscribers = %d", n)
	}
	p.Notify(hStream, []byte("hi"))
	if got := mustRead(t, l1); !bytes.Equal(got, hx("1b 2900 6869")) {
		t.Fatalf("notification % x", got)
	}
	// l2 did not subscribe: its next PDU is the response to its own request.
	if got := roundTrip(t, l2, hx("0a 0300")); got[0] != 0x0b {
		t.Fatalf("l2 got % x", got)
	}
	// Values are truncated to ATT_MTU-3.
	p.Notify(hStream, bytes.Repeat([]byte{7}, 30))
	if got := mustRead(t, l1); len(got) != 23 {
		t.Fatalf("notification of %d octets at MTU 23", len(got))
	}
	enable(t, l1, hStreamCCCD, 0)
	p.Notify(hStream, []byte("x"))
	if got := roundTrip(t, l1, hx("0a 0300")); got[0] != 0x0b {
		t.Fatalf("notification after unsubscribe: % x", got)
	}
	if err := p.Update(0x0020, []byte("new")); err != nil || string(p.Value(0x0020)) != "new" {
		t.Fatal("Update", err)
	}
	if p.SetValue(0x000B, nil) == nil || p.SetValue(0x0100, nil) == nil || p.SetValue(0x0020, make([]byte, 513)) == nil {
		t.Fatal("SetValue accepted a declaration, a missing handle or 513 octets")
	}
}

func TestIndicationOneOutstanding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := torture(t)
		l := connect(t, p)
		enable(t, l, hIndCCCD, 2)
		var sent atomic.Int32
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, v := range []string{"a", "b"} {
				p.Notify(hIndicate, []byte(v))
				sent.Add(1)
			}
		}()
		if got := mustRead(t, l); !bytes.Equal(got, hx("1d 1b00 61")) {
			t.Fatalf("first indication % x", got)
		}
		synctest.Wait()
		if len(l.c.out) != 0 || sent.Load() != 1 {
			t.Fatalf("second indication sent before confirmation (queued %d, sent %d)", len(l.c.out), sent.Load())
		}
		if err := l.WritePDU([]byte{0x1e}); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, l); !bytes.Equal(got, hx("1d 1b00 62")) {
			t.Fatalf("second indication % x", got)
		}
		<-done
		l.WritePDU([]byte{0x1e})
	})
}

func TestGeneratorNoLossInOrder(t *testing.T) {
	p := torture(t)
	l := connect(t, p)
	enable(t, l, hStreamCCCD, 1)
	const n = 3000
	stop := p.StartGenerator(hStream, n, 0)
	defer stop()
	for i := range n {
		pdu := mustRead(t, l)
		var ntf att.HandleValueNtf
		if err := ntf.Unmarshal(pdu); err != nil || ntf.Handle != hStream || len(ntf.Value) != 20 {
			t.Fatalf("value %d: % x (%v)", i, pdu, err)
		}
		if seq := binary.LittleEndian.Uint32(ntf.Value); seq != uint32(i) {
			t.Fatalf("value %d has sequence %d", i, seq)
		}
	}
	stop()
}

func TestBackpressureNeverDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := torture(t)
		l := connect(t, p)
		enable(t, l, hStreamCCCD, 1)
		const n = linkQueue + 50
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range n {
				p.Notify(hStream, binary.LittleEndian.AppendUint32(nil, uint32(i)))
			}
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Notify did not block on a full queue")
		default:
		}
		for i := range n {
			pdu := mustRead(t, l)
			if binary.LittleEndian.Uint32(pdu[3:]) != uint32(i) {
				t.Fatalf("value %d out of order", i)
			}
		}
		<-done
	})
}

func TestGeneratorRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := torture(t)
		l := connect(t, p)
		enable(t, l, hIndCCCD, 2)
		start := time.Now()
		stop := p.StartGenerator(hIndicate, 10, 100)
		for i := range 10 {
			pdu := mustRead(t, l)
			if pdu[0] != 0x1d || binary.LittleEndian.Uint32(pdu[3:]) != uint32(i) {
				t.Fatalf("indication %d: % x", i, pdu)
			}
			l.WritePDU([]byte{0x1e})
		}
		if el := time.Since(start); el != 100*time.Millisecond {
			t.Fatalf("10 values at 100/s took %v", el)
		}
		stop()
		// An endless generator stops on demand, even while blocked on backpressure.
		stop = p.StartGenerator(hIndicate, 0, 0)
		mustRead(t, l)
		stop()
		stop()
	})
}

// coarseWait models an operating-system timer that wakes only on whole milliseconds after
// the call (Go's netpoller sleeps at least 1 ms on Linux), the cause of a time.Ticker dropping
// ticks above about 1 kHz.
func coarseWait(until time.Time, stop <-chan struct{}) bool {
	now := time.Now()
	d := until.Sub(now)
	d = (d + time.Millisecond - 1) / time.Millisecond * time.Millisecond
	return waitUntil(now.Add(d), stop)
}

// TestGeneratorDeliversRateWithCoarseTimer asks for 2,000, 3,000 and 4,000 values per second
// for half a second on a virtual clock whose timer wakes on whole milliseconds: every value
// arrives, in order, and the last by 0.5 s + 1 ms (the asked rate).
func TestGeneratorDeliversRateWithCoarseTimer(t *testing.T) {
	for _, rate := range []int{2000, 3000, 4000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := torture(t)
				p.genWait = coarseWait
				l := connect(t, p)
				enable(t, l, hStreamCCCD, 1)
				n := rate / 2
				start := time.Now()
				stop := p.StartGenerator(hStream, n, float64(rate))
				defer stop()
				for i := range n {
					pdu := mustRead(t, l)
					if seq := binary.LittleEndian.Uint32(pdu[3:]); seq != uint32(i) {
						t.Fatalf("value %d has sequence %d", i, seq)
					}
				}
				el := time.Since(start)
				if got := float64(n) / el.Seconds(); el > 500*time.Millisecond+time.Millisecond {
					t.Fatalf("%d values asked at %d/s took %v (%.0f/s)", n, rate, el, got)
				}
			})
		})
	}
}

func TestHeartRateAutoNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewHeartRateSensor(bt.MustParseAddress(HeartRateAddress), 7)
		hrm := p.ValueHandle(bt.UUID16(0x2A37))
		ci, _ := p.Characteristic(bt.UUID16(0x2A37))
		l := connect(t, p)
		start := time.Now()
		enable(t, l, ci.CCCDHandle, 1)
		var first []byte
		for range 3 {
			pdu := mustRead(t, l)
			if pdu[0] != 0x1b || binary.LittleEndian.Uint16(pdu[1:]) != hrm || pdu[3] != 0x06 || pdu[4] < 60 || pdu[4] > 100 {
				t.Fatalf("measurement % x", pdu)
			}
			first = append(first, pdu[4])
		}
		if el := time.Since(start); el != 3*time.Second {
			t.Fatalf("3 values at 1 Hz took %v", el)
		}
		if err := p.SetNotifyRate(hrm, 1000); err != nil || p.NotifyRate(hrm) != 1000 {
			t.Fatal(err)
		}
		start = time.Now()
		for range 1000 {
			mustRead(t, l)
		}
		if el := time.Since(start); el != time.Second {
			t.Fatalf("1000 values at 1 kHz took %v", el)
		}
		// Unsubscribing stops the source; notifications in flight may precede the response.
		l.WritePDU(hx("12 0d00 0000"))
		for pdu := mustRead(t, l); pdu[0] != 0x13; pdu = mustRead(t, l) {
		}
		<-time.After(time.Second)
		if len(l.c.out) != 0 {
			t.Fatal("notifications after unsubscribing")
		}
		// Same seed, same values.
		p2 := NewHeartRateSensor(bt.MustParseAddress(HeartRateAddress), 7)
		l2 := connect(t, p2)
		enable(t, l2, ci.CCCDHandle, 1)
		for i := range 3 {
			if pdu := mustRead(t, l2); pdu[4] != first[i] {
				t.Fatalf("value %d differs for the same seed", i)
			}
		}
		if p.SetNotifyRate(0x0003, 1) == nil || p.SetNotifyRate(hrm, 0) == nil {
			t.Fatal("SetNotifyRate accepted a bad handle or rate")
		}
	})
}

func TestThermometerIndications(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewThermometer(bt.MustParseAddress(ThermometerAddress), 1)
		tm, _ := p.Characteristic(bt.UUID16(0x2A1C))
		interval := p.ValueHandle(bt.UUID16(0x2A21))
		l := connect(t, p)
		enable(t, l, tm.CCCDHandle, 2)
		start := time.Now()
		pdu := mustRead(t, l)
		if pdu[0] != 0x1d || len(pdu) != 8 || pdu[3] != 0 || pdu[7] != 0xff {
			t.Fatalf("indication % x", pdu)
		}
		if c := int32(binary.LittleEndian.Uint32(pdu[4:]) & 0xFFFFFF); c < 360 || c > 379 {
			t.Fatalf("temperature %d", c)
		}
		l.WritePDU([]byte{0x1e})
		req := att.WriteReq{Handle: interval, Value: []byte{2, 0}}.Append(nil)
		if got := roundTrip(t, l, req); got[0] != 0x13 {
			t.Fatalf("interval write % x", got)
		}
		if pdu := mustRead(t, l); pdu[0] != 0x1d {
			t.Fatalf("second indication % x", pdu)
		}
		if el := time.Since(start); el != 3*time.Second {
			t.Fatalf("second indication after %v, want 1 s + 2 s", el)
		}
		l.WritePDU([]byte{0x1e})
		req = att.WriteReq{Handle: interval, Value: []byte{0, 0}}.Append(nil)
		if got := roundTrip(t, l, req); !bytes.Equal(got, att.ErrorRsp{Request: att.OpWriteReq, Handle: interval, Code: att.ErrOutOfRange}.Append(nil)) {
			t.Fatalf("interval 0: % x", got)
		}
	})
}

func TestFaults(t *testing.T) {
	t.Run("unresponsive", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := torture(t)
			l := connect(t, p)
			p.SetUnresponsive(true)
			l.WritePDU(hx("0a 0300"))
			got := make(chan []byte)
			go func() {
				pdu, err := l.ReadPDU()
				if err == nil {
					got <- pdu
				}
				close(got)
			}()
			select {
			case pdu := <-got:
				t.Fatalf("unresponsive server answered % x", pdu)
			case <-time.After(30 * time.Second): // the ATT transaction timeout, in virtual time
			}
			l.Close()
			<-got
		})
	})
	t.Run("delay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := torture(t)
			l := connect(t, p)
			p.SetResponseDelay(2 * time.Second)
			start := time.Now()
			roundTrip(t, l, hx("0a 0300"))
			if el := time.Since(start); el != 2*time.Second {
				t.Fatalf("response after %v", el)
			}
		})
	})
	t.Run("out of range", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := torture(t)
			l := connect(t, p)
			l.SetSupervisionTimeout(time.Second)
			start := time.Now()
			p.SetInRange(false)
			if p.InRange() {
				t.Fatal("InRange")
			}
			<-l.Done()
			if el := time.Since(start); el != time.Second {
				t.Fatalf("link lost after %v", el)
			}
			if !errors.Is(l.Err(), ErrLinkLost) {
				t.Fatal(l.Err())
			}
			if _, err := l.ReadPDU(); !errors.Is(err, ErrLinkLost) {
				t.Fatal(err)
			}
			if err := l.WritePDU([]byte{1}); !errors.Is(err, ErrLinkLost) {
				t.Fatal(err)
			}
			if _, err := p.Connect(testCentral, 0); !errors.Is(err, ErrOutOfRange) {
				t.Fatal(err)
			}
			if p.ConnectionCount() != 0 {
				t.Fatal("lost link still counted")
			}
			p.SetInRange(true)
			connect(t, p)
		})
	})
	t.Run("back in range in time", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := torture(t)
			l := connect(t, p)
			l.SetSupervisionTimeout(time.Second)
			p.SetInRange(false)
			l.WritePDU(hx("0a 0300"))
			<-time.After(500 * time.Millisecond)
			if len(l.c.out) != 0 {
				t.Fatal("answered while out of range")
			}
			p.SetInRange(true)
			if pdu := mustRead(t, l); pdu[0] != 0x0b {
				t.Fatalf("% x", pdu)
			}
			<-time.After(time.Second)
			if l.Err() != nil {
				t.Fatal(l.Err())
			}
		})
	})
	t.Run("lost at once", func(t *testing.T) {
		p := torture(t)
		l := connect(t, p)
		p.SetInRange(false)
		<-l.Done()
		if !errors.Is(l.Err(), ErrLinkLost) {
			t.Fatal(l.Err())
		}
	})
	t.Run("refuse connections", func(t *testing.T) {
		p := torture(t)
		p.SetRefuseConnections(true)
		if _, err := p.Connect(testCentral, 0); !errors.Is(err, ErrRefused) {
			t.Fatal(err)
		}
		p.SetRefuseConnections(false)
		connect(t, p)
	})
	t.Run("corrupt", func(t *testing.T) {
		p := torture(t)
		l := connect(t, p)
		p.SetCorruptResponses(true)
		if got := roundTrip(t, l, hx("0a 0300")); got[0] != 0x8b {
			t.Fatalf("% x", got)
		}
		p.SetCorruptResponses(false)
		if got := roundTrip(t, l, hx("0a 0300")); got[0] != 0x0b {
			t.Fatalf("% x", got)
		}
	})
	t.Run("disconnect", func(t *testing.T) {
		p := torture(t)
		l := connect(t, p)
		p.DisconnectAll()
		<-l.Done()
		if !errors.Is(l.Err(), ErrDisconnected) {
			t.Fatal(l.Err())
		}
	})
	t.Run("close", func(t *testing.T) {
		p := torture(t)
		l := connect(t, p)
		if l.Err() != nil {
			t.Fatal(l.Err())
		}
		l.Close()
		l.Close()
		if _, err := l.ReadPDU(); !errors.Is(err, net.ErrClosed) {
			t.Fatal(err)
		}
		if err := l.WritePDU(hx("0a 0300")); !errors.Is(err, net.ErrClosed) {
			t.Fatal(err)
		}
		if l.WritePDU(nil) == nil {
			t.Fatal("empty PDU accepted")
		}
	})
	t.Run("not connectable", func(t *testing.T) {
		p := NewBuilder(bt.Address{1}).NonConnectable().MustBuild()
		if _, err := p.Connect(testCentral, 0); !errors.Is(err, ErrNotConnectable) || p.Connectable() {
			t.Fatal(err)
		}
		if !bytes.Equal(p.AdvertisingData(), []byte{2, 1, 4}) {
			t.Fatalf("% x", p.AdvertisingData())
		}
	})
}

func TestPairingAndBonds(t *testing.T) {
	p := torture(t)
	l := connect(t, p)
	p.SetRefusePairing(true)
	if err := l.Pair(SecurityEncrypted, true); !errors.Is(err, ErrPairingRefused) || l.Security() != SecurityNone {
		t.Fatal(err)
	}
	p.SetRefusePairing(false)
	if l.Pair(SecurityNone, false) == nil {
		t.Fatal("pairing to level none accepted")
	}
	if err := l.Pair(SecurityEncrypted, true); err != nil || l.Security() != SecurityEncrypted {
		t.Fatal(err)
	}
	if lvl, ok := p.Bonded(testCentral); !ok || lvl != SecurityEncrypted {
		t.Fatal("no bond")
	}
	l.Close()
	if l.Pair(SecurityEncrypted, false) == nil || l.Encrypt() == nil {
		t.Fatal("pairing on a closed link")
	}
	l2 := connect(t, p)
	if got := roundTrip(t, l2, hx("0a 1000")); got[0] != 0x01 {
		t.Fatal("a new link starts unencrypted")
	}
	if err := l2.Encrypt(); err != nil {
		t.Fatal(err)
	}
	if got := roundTrip(t, l2, hx("0a 1000")); got[0] != 0x0b {
		t.Fatalf("% x", got)
	}
	other, _ := p.Connect(bt.Address{9}, 0)
	defer other.Close()
	if err := other.Encrypt(); !errors.Is(err, ErrNotBonded) {
		t.Fatal(err)
	}
	p.ClearBonds()
	if _, ok := p.Bonded(testCentral); ok {
		t.Fatal("bond survived ClearBonds")
	}
	if SecurityAuthenticated.String() != "authenticated" || SecurityLevel(9).String() == "" {
		t.Fatal("String")
	}
}

// pipeBearer is one end of an in-test message pipe.
type pipeBearer struct {
	in     <-chan []byte
	out    chan<- []byte
	closed chan struct{}
	once   *sync.Once
	sec    *atomic.Int32
}

func newPipe() (server, client *pipeBearer) {
	a, b := make(chan []byte, 8), make(chan []byte, 8)
	closed, once, sec := make(chan struct{}), new(sync.Once), new(atomic.Int32)
	return &pipeBearer{in: a, out: b, closed: closed, once: once, sec: sec},
		&pipeBearer{in: b, out: a, closed: closed, once: once, sec: sec}
}

func (b *pipeBearer) ReadPDU() ([]byte, error) {
	select {
	case p := <-b.in:
		return p, nil
	case <-b.closed:
		return nil, net.ErrClosed
	}
}

func (b *pipeBearer) WritePDU(p []byte) error {
	select {
	case b.out <- append([]byte(nil), p...):
		return nil
	case <-b.closed:
		return net.ErrClosed
	}
}

func (b *pipeBearer) Central() bt.Address        { return testCentral }
func (b *pipeBearer) Close() error               { b.once.Do(func() { close(b.closed) }); return nil }
func (b *pipeBearer) Security() SecurityLevel    { return SecurityLevel(b.sec.Load()) }
func (b *pipeBearer) exchange(req string) []byte { b.WritePDU(hx(req)); p, _ := b.ReadPDU(); return p }

func TestServeOverBearer(t *testing.T) {
	p := torture(t)
	srv, cli := newPipe()
	errc := make(chan error, 1)
	go func() { errc <- p.Serve(srv) }()
	if got := cli.exchange("0a 1000"); !bytes.Equal(got, hx("01 0a 1000 0f")) {
		t.Fatalf("% x", got)
	}
	p.SetAuthorizer(func(c bt.Address, _ uint16) bool { return c == testCentral })
	if got := cli.exchange("0a 1400"); got[0] != 0x0b {
		t.Fatalf("central address not taken from the bearer: % x", got)
	}
	cli.sec.Store(int32(SecurityEncrypted))
	if got := cli.exchange("0a 1000"); !bytes.Equal(got, append([]byte{0x0b}, "secret"...)) {
		t.Fatalf("% x", got)
	}
	enable2 := cli.exchange("12 2a00 0100")
	if enable2[0] != 0x13 {
		t.Fatalf("% x", enable2)
	}
	p.Notify(hStream, []byte{1})
	if got, _ := cli.ReadPDU(); !bytes.Equal(got, hx("1b 2900 01")) {
		t.Fatalf("% x", got)
	}
	cli.Close()
	if err := <-errc; err != nil {
		t.Fatalf("Serve after the bearer closed: %v", err)
	}

	srv, cli = newPipe()
	go func() { errc <- p.Serve(srv) }()
	cli.exchange("0a 0300")
	p.SetInRange(false)
	if err := <-errc; !errors.Is(err, ErrLinkLost) {
		t.Fatalf("Serve after loss: %v", err)
	}
	if _, err := cli.ReadPDU(); err == nil {
		t.Fatal("bearer not closed after loss")
	}
	if err := p.Serve(srv); !errors.Is(err, ErrOutOfRange) {
		t.Fatal(err)
	}
	srv, _ = newPipe()
	if err := NewBuilder(bt.Address{}).NonConnectable().MustBuild().Serve(srv); !errors.Is(err, ErrNotConnectable) {
		t.Fatal(err)
	}
}

func TestMTU(t *testing.T) {
	p := NewBuilder(bt.Address{1}).MTU(100).MustBuild()
	l := connect(t, p)
	if l.MTU() != 23 {
		t.Fatal(l.MTU())
	}
	if got := roundTrip(t, l, hx("02 0502")); !bytes.Equal(got, hx("03 6400")) || l.MTU() != 100 {
		t.Fatalf("% x, MTU %d", got, l.MTU())
	}
	roundTrip(t, l, hx("02 3200"))
	if l.MTU() != 50 {
		t.Fatal(l.MTU())
	}
	if l.Central() != testCentral || l.Peripheral() != p {
		t.Fatal("identity")
	}
}

func TestAdvertising(t *testing.T) {
	ps := DemoPeripherals(1)
	want := []struct{ adv, scan string }{
		{"020106 05030d180f18 0b09" + hexStr(HeartRateName) + "03194103", "02 0a00 09ffffff" + hexStr("gogatt")},
		{"020106 03030918 03190003", "0e09" + hexStr(ThermometerName)},
		{"020106 1107" + uuidLE(TortureService) + "05ffffff7e57", "0f09" + hexStr(TortureName) + "020afc 0516f0ff0102"},
	}
	addrs := []string{HeartRateAddress, ThermometerAddress, TortureAddress}
	names := []string{HeartRateName, ThermometerName, TortureName}
	for i, p := range ps {
		if !bytes.Equal(p.AdvertisingData(), hx(want[i].adv)) || !bytes.Equal(p.ScanResponseData(), hx(want[i].scan)) {
			t.Errorf("%s:\n adv  % x\n scan % x", p.Name(), p.AdvertisingData(), p.ScanResponseData())
		}
		if p.Address().String() != addrs[i] || p.Name() != names[i] || p.AddressType() != bt.AddressPublic ||
			!p.Connectable() || p.AdvertisingInterval() != 100*time.Millisecond || !p.InRange() {
			t.Errorf("%s identity", p.Name())
		}
		if len(p.AdvertisingData()) > adv.MaxLegacyPayload || len(p.ScanResponseData()) > adv.MaxLegacyPayload {
			t.Errorf("%s: AD too long", p.Name())
		}
	}
	d := adv.Data{ServiceUUIDs: []bt.UUID{bt.UUID32(0x12345678)}, ServiceUUIDsIncomplete: true,
		ServiceData: map[bt.UUID][]byte{bt.UUID32(0x12345678): nil, TortureService: nil}}
	p := NewBuilder(bt.Address{}).Advertise(d).ScanResponse(adv.Data{LocalName: "x"}).MustBuild()
	d.ServiceData[TortureService] = []byte{1} // the builder kept a copy
	if b := p.AdvertisingData(); !bytes.Equal(b, hx("05 04 78563412 05 20 78563412 11 21"+uuidLE(TortureService))) {
		t.Fatalf("% x", b)
	}
	if b := p.ScanResponseData(); !bytes.Equal(b, hx("02 08 78")) {
		t.Fatalf("% x", b)
	}
	if _, err := NewBuilder(bt.Address{}).Advertise(adv.Data{LocalName: string(make([]byte, 30))}).Build(); !errors.Is(err, adv.ErrTooLong) {
		t.Fatalf("32-octet payload: %v", err)
	}
	if NewBuilder(bt.Address{}).Name("n").MustBuild().ScanResponseData() != nil {
		t.Fatal("scan response without fields")
	}
}

func TestRSSIDeterministic(t *testing.T) {
	a := NewBuilder(bt.Address{1}).Seed(5).RSSI(-70, 6).MustBuild()
	b := NewBuilder(bt.Address{1}).Seed(5).RSSI(-70, 6).MustBuild()
	l := connect(t, a)
	varies := false
	for i := range 50 {
		x, y := a.SampleRSSI(), b.SampleRSSI()
		if i == 49 {
			x, y = l.RSSI(), b.SampleRSSI()
		}
		if x != y || x < -76 || x > -64 {
			t.Fatalf("sample %d: %d vs %d", i, x, y)
		}
		varies = varies || x != -70
	}
	if !varies {
		t.Fatal("RSSI never varies")
	}
	if NewBuilder(bt.Address{}).RSSI(-50, 0).MustBuild().SampleRSSI() != -50 {
		t.Fatal("fixed RSSI")
	}
}

func TestBuilderErrors(t *testing.T) {
	cases := map[string]*Builder{
		"long value": func() *Builder {
			b := NewBuilder(bt.Address{})
			b.Service(bt.UUID16(1)).Characteristic(bt.UUID16(2), gatt.PropRead).Value(make([]byte, 513))
			return b
		}(),
		"cccd no notify": func() *Builder {
			b := NewBuilder(bt.Address{})
			b.Service(bt.UUID16(1)).Characteristic(bt.UUID16(2), gatt.PropRead).CCCD()
			return b
		}(),
		"cccd twice": func() *Builder {
			b := NewBuilder(bt.Address{})
			b.Service(bt.UUID16(1)).Characteristic(bt.UUID16(2), gatt.PropNotify).CCCD().CCCD()
			return b
		}(),
		"overlap":       func() *Builder { b := NewBuilder(bt.Address{}); b.Service(bt.UUID16(1)).AtHandle(3); return b }(),
		"mtu":           NewBuilder(bt.Address{}).MTU(600),
		"interval":      NewBuilder(bt.Address{}).AdvertisingInterval(time.Millisecond),
		"jitter":        NewBuilder(bt.Address{}).RSSI(-50, -1),
		"queue":         NewBuilder(bt.Address{}).PrepareQueueLimit(0),
		"adv too long":  NewBuilder(bt.Address{}).Name("a name that is far too long for one advertising packet"),
		"scan too long": NewBuilder(bt.Address{}).ScanResponse(adv.Data{LocalName: string(make([]byte, 40))}),
		"auto notify": func() *Builder {
			b := NewBuilder(bt.Address{})
			b.Service(bt.UUID16(1)).Characteristic(bt.UUID16(2), gatt.PropNotify).AutoNotify(0, nil)
			return b
		}(),
		"max length": func() *Builder {
			b := NewBuilder(bt.Address{})
			b.Service(bt.UUID16(1)).Characteristic(bt.UUID16(2), gatt.PropRead).MaxLength(600)
			return b
		}(),
		"descriptor long": func() *Builder {
			b := NewBuilder(bt.Address{})
			b.Service(bt.UUID16(1)).Characteristic(bt.UUID16(2), gatt.PropRead).Descriptor(bt.UUID16(0x2901), make([]byte, 513))
			return b
		}(),
	}
	for name, b := range cases {
		if _, err := b.Build(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustBuild did not panic")
		}
	}()
	NewBuilder(bt.Address{}).MTU(1).MustBuild()
}

func TestBuilderFeatures(t *testing.T) {
	var got []byte
	b := NewBuilder(bt.Address{2}).WithoutGAPService().AddressType(bt.AddressRandom)
	b.Service(bt.UUID16(0x1234)).
		Characteristic(bt.UUID16(0x5678), gatt.PropRead|gatt.PropWrite|gatt.PropNotify).
		Security(SecurityNone, SecurityAuthenticated).
		OnRead(func(r Request) ([]byte, att.ErrorCode) { return []byte{byte(r.Handle)}, 0 }).
		OnWrite(func(r Request, v []byte) att.ErrorCode { got = append(got, v...); return 0 }).
		Descriptor(gatt.UUIDCCCD, nil).
		Service(bt.UUID16(0x9999)).Characteristic(bt.UUID16(0x1111), gatt.PropRead).
		Characteristic(bt.UUID16(0x2222), gatt.PropRead).OnRead(func(Request) ([]byte, att.ErrorCode) { return nil, 0x81 })
	p := b.MustBuild()
	if p.AddressType() != bt.AddressRandom || p.HandleCount() != 9 {
		t.Fatalf("type %v, %d handles", p.AddressType(), p.HandleCount())
	}
	l := connect(t, p)
	if r := roundTrip(t, l, hx("0a 0300")); !bytes.Equal(r, hx("0b 03")) {
		t.Fatalf("% x", r)
	}
	if r := roundTrip(t, l, hx("12 0300 01")); !bytes.Equal(r, hx("01 12 0300 05")) {
		t.Fatalf("% x", r)
	}
	l.Pair(SecurityAuthenticated, false)
	if r := roundTrip(t, l, hx("12 0300 01")); !bytes.Equal(r, hx("13")) || !bytes.Equal(got, []byte{1}) {
		t.Fatalf("% x", r)
	}
	if r := roundTrip(t, l, hx("0a 0900")); !bytes.Equal(r, hx("01 0a 0900 81")) {
		t.Fatalf("% x", r)
	}
	if _, ok := p.CharacteristicIn(bt.UUID16(0x9999), bt.UUID16(0x5678)); ok {
		t.Fatal("CharacteristicIn found a characteristic of another service")
	}
	if c, ok := p.CharacteristicIn(bt.UUID16(0x9999), bt.UUID16(0x2222)); !ok || c.ValueHandle != 9 {
		t.Fatal("CharacteristicIn")
	}
	if _, ok := p.Characteristic(bt.UUID16(0x7777)); ok || p.ValueHandle(bt.UUID16(0x7777)) != 0 {
		t.Fatal("found a missing characteristic")
	}
}

func TestTortureDevice(t *testing.T) {
	p := torture(t)
	n := 0
	services := map[bt.UUID]int{}
	for _, s := range p.Services() {
		for _, c := range s.Characteristics {
			if s.UUID != bt.UUID16(0x1800) && s.UUID != bt.UUID16(0x1801) {
				n++
			}
			if c.UUID == TortureDuplicate {
				services[s.UUID]++
			}
		}
	}
	if n < 50 || len(services) != 2 {
		t.Fatalf("%d characteristics, duplicate UUID in %d services", n, len(services))
	}
	df, _ := p.Characteristic(TortureDescFirst)
	if df.CCCDHandle == df.ValueHandle+1 || df.Descriptors[0].UUID != gatt.UUIDUserDescription || df.CCCDHandle != 0x0018 {
		t.Fatalf("%+v", df)
	}
	if v := p.Value(p.ValueHandle(TortureLong)); len(v) != 300 || v[299] != 299%256 {
		t.Fatal("long value")
	}
	if wo, _ := p.Characteristic(TortureWriteOnly); wo.Properties&gatt.PropRead != 0 || wo.Properties&gatt.PropWrite == 0 {
		t.Fatal("write-only")
	}
	if p.Value(0xFFFF) != nil || p.Subscribers(0xFFFF) != 0 {
		t.Fatal("missing handle")
	}
	// A generator on a handle without CCCD ends at once.
	p.StartGenerator(0x0003, 5, 0)()
}

func TestHeartRateControlPoint(t *testing.T) {
	p := DemoPeripherals(3)[0]
	cp := p.ValueHandle(bt.UUID16(0x2A39))
	l := connect(t, p)
	ok := att.WriteReq{Handle: cp, Value: []byte{1}}.Append(nil)
	bad := att.WriteReq{Handle: cp, Value: []byte{2}}.Append(nil)
	if got := roundTrip(t, l, ok); !bytes.Equal(got, []byte{0x13}) {
		t.Fatalf("% x", got)
	}
	if got := roundTrip(t, l, bad); !bytes.Equal(got, att.ErrorRsp{Request: att.OpWriteReq, Handle: cp, Code: 0x80}.Append(nil)) {
		t.Fatalf("% x", got)
	}
	if got := roundTrip(t, l, att.ReadReq{Handle: p.ValueHandle(bt.UUID16(0x2A25))}.Append(nil)); string(got[1:]) != "SIM-3" {
		t.Fatalf("serial % x", got)
	}
}

// A write handler may send indications and wait for their confirmations.
func TestHandlerIndicates(t *testing.T) {
	var p *Peripheral
	b := NewBuilder(bt.Address{3})
	b.Service(bt.UUID16(0xAAAA)).
		Characteristic(bt.UUID16(0xAAA1), gatt.PropIndicate).
		Characteristic(bt.UUID16(0xAAA2), gatt.PropWrite).OnWrite(func(_ Request, v []byte) att.ErrorCode {
		for i := range 3 {
			p.Notify(p.ValueHandle(bt.UUID16(0xAAA1)), []byte{v[0], byte(i)})
		}
		return 0
	})
	p = b.MustBuild()
	ind, _ := p.Characteristic(bt.UUID16(0xAAA1))
	for _, serve := range []bool{false, true} {
		var l Bearer
		errc := make(chan error, 1)
		if serve {
			srv, cli := newPipe()
			go func() { errc <- p.Serve(srv) }()
			l = cli
		} else {
			l = connect(t, p)
			errc <- nil
		}
		l.WritePDU(att.WriteReq{Handle: ind.CCCDHandle, Value: []byte{2, 0}}.Append(nil))
		if rsp, _ := l.ReadPDU(); rsp[0] != 0x13 {
			t.Fatalf("% x", rsp)
		}
		l.WritePDU(att.WriteReq{Handle: p.ValueHandle(bt.UUID16(0xAAA2)), Value: []byte{9}}.Append(nil))
		for i := range 3 {
			pdu, _ := l.ReadPDU()
			if !bytes.Equal(pdu, att.HandleValueInd{Handle: ind.ValueHandle, Value: []byte{9, byte(i)}}.Append(nil)) {
				t.Fatalf("serve=%v: % x", serve, pdu)
			}
			l.WritePDU([]byte{0x1e})
		}
		if rsp, _ := l.ReadPDU(); rsp[0] != 0x13 {
			t.Fatalf("% x", rsp)
		}
		l.Close()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// Read By Type stops before an attribute it may not read, unless it is the first
// (Core v5.3 Vol 3 Part F §3.4.4.1).
func TestReadByTypeStopsAtAccessError(t *testing.T) {
	u := bt.UUID16(0xBBB1)
	b := NewBuilder(bt.Address{4}).WithoutGAPService()
	b.Service(bt.UUID16(0xBBBB)).
		Characteristic(u, gatt.PropRead).Value([]byte{1, 1}).
		Characteristic(u, gatt.PropRead).Value([]byte{2, 2}).
		Characteristic(u, gatt.PropRead).Value([]byte{3, 3}).RequireEncryption().
		Characteristic(u, gatt.PropRead).Value([]byte{4, 4})
	l := connect(t, b.MustBuild())
	if got := roundTrip(t, l, hx("08 0100 ffff b1bb")); !bytes.Equal(got, hx("09 04 0300 0101 0500 0202")) {
		t.Fatalf("% x", got)
	}
	if got := roundTrip(t, l, hx("08 0600 ffff b1bb")); !bytes.Equal(got, hx("01 08 0700 0f")) {
		t.Fatalf("% x", got)
	}
	if got := roundTrip(t, l, hx("08 0800 ffff b1bb")); !bytes.Equal(got, hx("09 04 0900 0404")) {
		t.Fatalf("% x", got)
	}
}

// Several links, pushers and a generator at once: every subscribed link gets every value, in
// order per source (run with -race).
func TestConcurrentUse(t *testing.T) {
	p := torture(t)
	const links, per = 3, 300
	var ls []*Link
	for range links {
		l := connect(t, p)
		enable(t, l, hStreamCCCD, 1)
		ls = append(ls, l)
	}
	var wg sync.WaitGroup
	counts := make([]int, links)
	for i, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := map[byte]int{0: -1, 1: -1}
			for counts[i] < 2*per {
				pdu, err := l.ReadPDU()
				if err != nil {
					t.Error(err)
					return
				}
				src, seq := pdu[3+4], int(binary.LittleEndian.Uint32(pdu[3:]))
				if seq != last[src]+1 {
					t.Errorf("link %d source %d: %d after %d", i, src, seq, last[src])
				}
				last[src] = seq
				counts[i]++
			}
		}()
	}
	p.SetValue(hStream, append(make([]byte, 4), 1)) // generator values end in 1
	stop := p.StartGenerator(hStream, per, 0)
	for i := range per {
		p.Notify(hStream, append(binary.LittleEndian.AppendUint32(nil, uint32(i)), 0)) // pushed values end in 0
		p.SampleRSSI()
	}
	wg.Wait()
	stop()
}

// The advertising payloads parse with package adv into the fields they were built from.
func TestAdvertisingParses(t *testing.T) {
	for _, p := range DemoPeripherals(1) {
		var d adv.Data
		if err := d.Parse(adv.ConnectableUndirected, p.AdvertisingData()); err != nil {
			t.Fatal(err)
		}
		if err := d.Parse(adv.ScanResponse, p.ScanResponseData()); err != nil {
			t.Fatal(err)
		}
		if d.LocalName != p.Name() || !d.NameComplete || d.Flags != adv.FlagGeneralDiscoverable|adv.FlagBREDRNotSupported {
			t.Errorf("%s: %+v", p.Name(), d)
		}
		switch p.Name() {
		case HeartRateName:
			if len(d.ServiceUUIDs) != 2 || d.ServiceUUIDs[0] != bt.UUID16(0x180D) || d.Appearance != 0x0341 ||
				string(d.ManufacturerData[0xFFFF]) != "gogatt" || !d.HasTxPower {
				t.Errorf("HRM: %+v", d)
			}
		case TortureName:
			if len(d.ServiceUUIDs) != 1 || d.ServiceUUIDs[0] != TortureService || d.TxPower != -4 ||
				!bytes.Equal(d.ServiceData[bt.UUID16(0xFFF0)], []byte{1, 2}) {
				t.Errorf("torture: %+v", d)
			}
		}
	}
}
