package bled112

import (
	"bytes"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// failAfter bounds every wait in these tests; it is a failure guard, not synchronisation.
const failAfter = 10 * time.Second

var (
	hrmAddr    = bt.MustParseAddress(sim.HeartRateAddress)
	thermoAddr = bt.MustParseAddress(sim.ThermometerAddress)
	absentAddr = bt.MustParseAddress("C0:FF:EE:00:00:99")
)

// host is a minimal BGAPI host over an io.ReadWriteCloser: it sends commands and reads
// frames, checking that every frame the emulator writes is a valid BGAPI 1.x message.
type host struct {
	t       testing.TB
	rwc     io.ReadWriteCloser
	frames  chan []byte
	done    chan struct{}
	skipped atomic.Uint64
}

func newHost(t testing.TB, rwc io.ReadWriteCloser) *host { return newHostOpt(t, rwc, false) }

// newHostOpt starts the host's reader; unless garbageOK, bytes that are not valid frames
// fail the test.
func newHostOpt(t testing.TB, rwc io.ReadWriteCloser, garbageOK bool) *host {
	h := &host{t: t, rwc: rwc, frames: make(chan []byte, 1024), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		defer close(h.frames)
		d := wire.NewDecoder(rwc)
		for {
			f, err := d.Next()
			if err != nil {
				return
			}
			h.skipped.Store(d.Skipped())
			if d.Skipped() != 0 && !garbageOK {
				t.Errorf("emulator wrote %d bytes that are not valid frames", d.Skipped())
			}
			h.frames <- wire.AppendFrame(nil, f)
		}
	}()
	t.Cleanup(func() {
		rwc.Close()
		<-h.done
	})
	return h
}

// setup starts an emulator with the demo peripherals over a pipe.
func setup(t testing.TB, c Config) (*Emulator, *host, []*sim.Peripheral) {
	t.Helper()
	if c.Peripherals == nil {
		c.Peripherals = sim.DemoPeripherals(1)
	}
	e, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, newHost(t, e.Pipe()), c.Peripherals
}

func (h *host) send(m wire.Message) {
	h.t.Helper()
	if _, err := h.rwc.Write(m.AppendFrame(nil)); err != nil {
		h.t.Fatalf("send %s: %v", m.Name(), err)
	}
}

func (h *host) sendRaw(b []byte) {
	h.t.Helper()
	if _, err := h.rwc.Write(b); err != nil {
		h.t.Fatalf("send: %v", err)
	}
}

// next returns the next frame; it fails the test if none arrives.
func (h *host) next() []byte {
	h.t.Helper()
	select {
	case f, ok := <-h.frames:
		if !ok {
			h.t.Fatal("port closed")
		}
		return f
	case <-time.After(failAfter):
		h.t.Fatal("no frame from the emulator")
	}
	return nil
}

// nextMsg decodes the next frame as a response or event.
func (h *host) nextMsg() wire.Message {
	h.t.Helper()
	b := h.next()
	f := wire.Frame{Event: b[0]&0x80 != 0, Class: b[2], ID: b[3], Payload: b[4:]}
	var m wire.Message
	var err error
	if f.Event {
		m, err = wire.DecodeEvent(f)
	} else {
		m, err = wire.DecodeResponse(f)
	}
	if err != nil {
		h.t.Fatalf("frame % X: %v", b, err)
	}
	return m
}

// expect checks that the next frames equal want, byte for byte.
func (h *host) expect(want ...wire.Message) {
	h.t.Helper()
	for _, w := range want {
		got := h.next()
		if wb := w.AppendFrame(nil); !bytes.Equal(got, wb) {
			h.t.Fatalf("%s:\n got % X (%s)\nwant % X", w.Name(), got, describe(got), wb)
		}
	}
}

// expectHex checks the next frame against a hex string.
func (h *host) expectHex(s string) {
	h.t.Helper()
	want, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		h.t.Fatal(err)
	}
	if got := h.next(); !bytes.Equal(got, want) {
		h.t.Fatalf("\n got % X (%s)\nwant % X", got, describe(got), want)
	}
}

// skipScan reads frames until one that is not a gap_scan_response.
func (h *host) skipScan() []byte {
	h.t.Helper()
	for {
		b := h.next()
		if !(b[0] == 0x80 && b[2] == 6 && b[3] == 0) {
			return b
		}
	}
}

// quiet asserts that nothing arrives before a hello round-trip completes.
func (h *host) quiet() {
	h.t.Helper()
	h.send(&wire.CmdSystemHello{})
	h.expect(&wire.RspSystemHello{})
}

func describe(b []byte) string {
	if len(b) < 4 {
		return "short"
	}
	k := wire.KindResponse
	if b[0]&0x80 != 0 {
		k = wire.KindEvent
	}
	if info, ok := wire.Lookup(k, b[2], b[3]); ok {
		return k.String() + " " + info.Name
	}
	return "unknown"
}

// connect opens a connection to addr and checks its handle (supervision timeout 1 s).
func (h *host) connect(addr bt.Address, wantHandle uint8) {
	h.t.Helper()
	h.connectT(addr, wantHandle, 100)
}

// connectT is connect with a supervision timeout in 10 ms units.
func (h *host) connectT(addr bt.Address, wantHandle uint8, timeout uint16) {
	h.t.Helper()
	h.send(&wire.CmdGapConnectDirect{Address: addr, ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: timeout, Latency: 0})
	h.expect(&wire.RspGapConnectDirect{ConnectionHandle: wantHandle})
	m := h.nextMsg()
	st, ok := m.(*wire.EvtConnectionStatus)
	if !ok || st.Connection != wantHandle || st.Flags != wire.FlagConnected|wire.FlagCompleted || st.Address != addr {
		h.t.Fatalf("connection_status: %+v", m)
	}
}

var _ = net.Pipe
