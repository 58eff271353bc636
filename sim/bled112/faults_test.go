package bled112

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/sim"
)

func TestInjectGarbage(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	h := newHostOpt(t, e.Pipe(), true)
	h.quiet() // the session is up
	if !e.InjectGarbage([]byte{0xFF, 0x13, 0x42}) {
		t.Fatal("no session")
	}
	h.quiet()
	if n := h.skipped.Load(); n != 3 {
		t.Fatalf("skipped %d", n)
	}
}

func TestDropOutput(t *testing.T) {
	e, _ := New(Config{})
	defer e.Close()
	h := newHostOpt(t, e.Pipe(), true)
	h.quiet()
	// The first hello response loses its first two bytes; the decoder skips the remaining
	// "00 01" and finds the second response.
	e.DropOutput(2)
	h.send(&wire.CmdSystemHello{})
	h.send(&wire.CmdSystemHello{})
	h.expect(&wire.RspSystemHello{})
	h.quiet()
	if n := h.skipped.Load(); n != 2 {
		t.Fatalf("skipped %d", n)
	}
}

func TestResponseDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := New(Config{})
		defer e.Close()
		h := newHost(t, e.Pipe())
		e.SetResponseDelay(3 * time.Second)
		start := time.Now()
		h.send(&wire.CmdSystemHello{})
		h.expect(&wire.RspSystemHello{})
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("response after %v (virtual time)", d)
		}
		e.SetResponseDelay(0)
		h.quiet()
		e.Close()
	})
}

// TestResponseDelayHostGone: a host that closes its end while a command is delayed does not
// keep the port for the rest of the delay: once the emulator has seen the close (synctest.Wait),
// the delayed command has been executed, the session has ended, and the next opener is served
// at once (the port used to stay busy for the whole delay, and the next Pipe was refused).
func TestResponseDelayHostGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := New(Config{})
		defer e.Close()
		e.SetResponseDelay(time.Hour)
		first := e.Pipe()
		h := newHost(t, first)
		start := time.Now()
		h.send(&wire.CmdSystemAesSetkey{Key: make([]byte, 16)})
		synctest.Wait() // the command is delayed
		first.Close()
		synctest.Wait()
		if e.InjectGarbage(nil) {
			t.Fatal("the session outlived its host")
		}
		e.SetResponseDelay(0)
		h = newHost(t, e.Pipe())
		h.send(&wire.CmdSystemAesEncrypt{Data: make([]byte, 16)})
		// AES-128 of the zero block under the zero key: the delayed aes_setkey was executed.
		want, _ := hex.DecodeString("66e94bd4ef8a2c3b884cfa59ca342b2e")
		h.expect(&wire.RspSystemAesEncrypt{Data: want})
		if d := time.Since(start); d != 0 {
			t.Fatalf("the port was free after %v (virtual time), want at once", d)
		}
		e.Close()
	})
}

// TestLinkModel checks in virtual time that the link model paces notifications: 4 PDUs per
// 10 ms connection event.
func TestLinkModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := sim.NewHeartRateSensor(hrmAddr, 1)
		e, _ := New(Config{Peripherals: []*sim.Peripheral{p}, Link: &LinkModel{ConnInterval: 10 * time.Millisecond, PacketsPerEvent: 4}})
		defer e.Close()
		h := newHost(t, e.Pipe())
		h.connect(hrmAddr, 0)
		h.send(&wire.CmdAttclientAttributeWrite{Handle: 0x15, Data: []byte{0x01, 0x00}})
		h.expect(&wire.RspAttclientAttributeWrite{}, procDone(0, 0x15))
		const n = 400
		start := time.Now()
		stop := p.StartGenerator(0x14, n, 0)
		defer stop()
		for i := range n {
			av := h.nextMsg().(*wire.EvtAttclientAttributeValue)
			if seq := binary.LittleEndian.Uint32(av.Value); seq != uint32(i) {
				t.Fatalf("event %d has sequence %d", i, seq)
			}
		}
		elapsed := time.Since(start)
		// 400 PDUs at 4 per 10 ms need at least 99 further connection events.
		if elapsed < 990*time.Millisecond || elapsed > 1100*time.Millisecond {
			t.Fatalf("400 notifications took %v of virtual time, want ≈1 s", elapsed)
		}
		stop()
		e.Close()
	})
}

// TestCloseWhileHostStalls: the host stops reading during a notification flood; the emulator
// applies backpressure and Close still returns promptly.
func TestCloseWhileHostStalls(t *testing.T) {
	p := sim.NewHeartRateSensor(hrmAddr, 1)
	e, _ := New(Config{Peripherals: []*sim.Peripheral{p}})
	host := e.Pipe()
	defer host.Close()
	h := newHost(t, host)
	h.connect(hrmAddr, 0)
	h.send(&wire.CmdAttclientAttributeWrite{Handle: 0x15, Data: []byte{0x01, 0x00}})
	h.expect(&wire.RspAttclientAttributeWrite{}, procDone(0, 0x15))
	stop := p.StartGenerator(0x14, 1_000_000, 0)
	defer stop()
	// the host's reader is buffered (1024 frames); leave it full and close the emulator
	for range 10 {
		h.next()
	}
	done := make(chan struct{})
	go func() { e.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(failAfter):
		t.Fatal("Close hung")
	}
}

// TestWriteCommandQueueFull: with a slow link, write_command answers 0x0182 once the TX
// queue is full (docs/bgapi-protocol.md §Result codes), and accepts again once it drains.
func TestWriteCommandQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := New(Config{Peripherals: sim.DemoPeripherals(1), Link: &LinkModel{ConnInterval: 50 * time.Millisecond, PacketsPerEvent: 1}})
		defer e.Close()
		h := newHost(t, e.Pipe())
		h.connect(hrmAddr, 0)
		full := 0
		for range 40 {
			h.send(&wire.CmdAttclientWriteCommand{Handle: 0x11, Data: []byte{1}})
			if r := h.nextMsg().(*wire.RspAttclientWriteCommand); r.Result == wire.ResultOutOfMemory {
				full++
			}
		}
		if full == 0 {
			t.Fatal("queue never full")
		}
		time.Sleep(5 * time.Second) // virtual time: the queue drains
		h.send(&wire.CmdAttclientWriteCommand{Handle: 0x11, Data: []byte{1}})
		h.expect(&wire.RspAttclientWriteCommand{})
		e.Close()
	})
}

func TestConnectToConnectedPeerIsSilent(t *testing.T) {
	_, h, _ := setup(t, Config{ZeroDisconnectReason: true})
	h.connect(hrmAddr, 0)
	h.send(&wire.CmdGapConnectDirect{Address: hrmAddr, ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 100})
	h.expect(&wire.RspGapConnectDirect{ConnectionHandle: 1})
	h.quiet()
	h.send(&wire.CmdGapEndProcedure{})
	h.expect(&wire.RspGapEndProcedure{})
	h.send(&wire.CmdConnectionDisconnect{Connection: 0})
	h.expect(&wire.RspConnectionDisconnect{}, &wire.EvtConnectionDisconnected{Reason: 0})
}
