package bled112

import (
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/sim"
)

// commandStream turns fuzz input into a stream of well-framed commands with arbitrary class,
// ID and payload (so unknown and malformed commands are exercised but nothing stays partial):
// each command takes class, ID and length bytes, then that many payload bytes (zero-padded).
func commandStream(in []byte) []byte {
	var out []byte
	for len(in) >= 3 {
		class, id, n := in[0]%wire.NumClasses, in[1]%24, int(in[2]%40)
		in = in[3:]
		p := make([]byte, n)
		copy(p, in)
		in = in[min(n, len(in)):]
		if class == 0 && id == 0 && n > 0 {
			p[0] = 0 // system_reset, but never into DFU
		}
		out = wire.AppendFrame(out, wire.Frame{Class: class, ID: id, Payload: p})
	}
	return out
}

func FuzzCommandStream(f *testing.F) {
	f.Add([]byte{0, 1, 0})                                                                             // hello
	f.Add([]byte{6, 2, 1, 2, 6, 4, 0})                                                                 // discover, end
	f.Add([]byte{6, 3, 15, 1, 0, 0, 0xEE, 0xFF, 0xC0, 0, 6, 0, 6, 0, 100, 0, 0, 0, 4, 4, 3, 0, 15, 0}) // connect, read
	f.Add([]byte{4, 1, 8, 0, 1, 0, 0xFF, 0xFF, 2, 0, 0x28, 3, 0, 1, 0})                                // group type, disconnect
	f.Add([]byte{5, 0, 2, 0, 1, 5, 5, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{4, 30, 3, 1, 2, 3, 1, 99, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		wd := time.AfterFunc(5*time.Second, func() {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic("watchdog: hang\n" + string(buf[:n]))
		})
		defer wd.Stop()
		e, err := New(Config{Peripherals: sim.DemoPeripherals(1), ATTTimeout: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		h := newHost(t, e.Pipe())
		h.sendRaw(append(commandStream(in), wire.CmdSystemHello{}.AppendFrame(nil)...))
		// Every frame out must be a valid BGAPI 1.x response or event (newHost fails on
		// bytes that are not frames); the final hello must be answered (no hang).
		for {
			m := h.nextMsg()
			if _, ok := m.(*wire.RspSystemHello); ok {
				return
			}
		}
	})
}

// FuzzRawStream feeds raw bytes (garbage, partial and oversized headers included) in virtual
// time: the emulator drops partial commands after its 1 s timeout, writes only valid frames,
// never panics, and answers a hello afterwards.
func FuzzRawStream(f *testing.F) {
	f.Add([]byte{0x00, 0x05, 0x04})
	f.Add([]byte{0x07, 0xFF, 0x01, 0x02})
	f.Add([]byte{0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01})
	f.Add([]byte{0x00, 0x01, 0x06, 0x02, 0x02, 0xFF, 0x0D, 0x0A})
	f.Fuzz(func(t *testing.T, in []byte) {
		synctest.Test(t, func(t *testing.T) {
			e, err := New(Config{Peripherals: sim.DemoPeripherals(1)})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			h := newHost(t, e.Pipe())
			h.sendRaw(in)
			time.Sleep(2 * time.Second) // virtual: any partial command times out
			h.send(&wire.CmdSystemHello{})
			for {
				if _, ok := h.nextMsg().(*wire.RspSystemHello); ok {
					break
				}
			}
			e.Close()
		})
	})
}
