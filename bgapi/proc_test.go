package bgapi

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// Virtual-time tests of the per-connection GATT procedure slot when the serial line loses or
// forges frames, and when a procedure is abandoned by its caller.

// goOp runs op on a goroutine and returns its result channel once op is blocked.
func goOp(op func() error) <-chan error {
	res := make(chan error, 1)
	go func() { res <- op() }()
	synctest.Wait()
	return res
}

// A response that does not come from the dongle (garbage on the line that frames as the
// read's response with a non-zero result) fails that one read; the dongle still runs the read,
// and the next procedure waits for it instead of failing with wrong_state.
func TestVirtualForgedResponse(t *testing.T) {
	for _, tc := range []struct {
		name string
		// forged returns what is injected just before the read's real response; want is the
		// result the first read then reports.
		forged func(conn uint8) []byte
		want   wire.Result
	}{
		// Garbage that frames as a response header with one payload byte: the first two
		// bytes of the real response complete it (result 0x0300), the rest is skipped.
		{"garbage completed by the real response", func(h uint8) []byte { return []byte{0x00, 0x03, 0x04, 0x04, h} }, 0x0300},
		// A whole response frame that the dongle never sent; the real one is then dropped.
		{"whole forged frame", func(h uint8) []byte {
			return (&wire.RspAttclientReadByHandle{Connection: h, Result: wire.ResultTimeout}).AppendFrame(nil)
		}, wire.ResultTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true, CommandTimeout: time.Second})
				d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
				p := env.periphs[tortureAddr]
				h := p.ValueHandle(sim.TortureMaxLen)
				// The dongle answers 100 ms after the command (less than the inter-byte
				// timeout, so the garbage and the response meet in the host's parser); the
				// peer answers 500 ms after the request.
				env.emu.SetResponseDelay(100 * time.Millisecond)
				p.SetResponseDelay(500 * time.Millisecond)
				res := goRead(d, h)
				env.emu.InjectGarbage(tc.forged(connHandle(t, env)))
				r := <-res
				var be *Error
				if !errors.As(r.err, &be) || be.Result != tc.want {
					t.Fatalf("first read = %x, %v; want the forged result 0x%04x", r.v, r.err, uint16(tc.want))
				}
				// The next procedure is a write: a real read response still on its way (the
				// forged frame took its place) cannot pass for the write's.
				env.emu.SetResponseDelay(0)
				if err := d.CharWriteHandle(t.Context(), h, []byte{0x42}, true); err != nil {
					t.Fatalf("write after the forged response: %v", err)
				}
				if got := p.Value(h); !bytes.Equal(got, []byte{0x42}) {
					t.Fatalf("the peer holds %x", got)
				}
			})
		})
	}
}

// connHandle returns the connection handle of the only connection of env's backend.
func connHandle(t *testing.T, env *emuEnv) uint8 {
	t.Helper()
	c, err := env.b.client()
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.conns) != 1 {
		t.Fatalf("%d connections", len(c.conns))
	}
	for h := range c.conns {
		return h
	}
	return 0
}

// The event that ends a started procedure is lost on the serial line: that operation ends at
// its deadline, and the next one on the connection works at once (the dongle is idle), not
// after the ATT transaction timeout.
func TestVirtualLostProcedureEnd(t *testing.T) {
	const cmdTimeout = time.Second
	for _, tc := range []struct {
		name string
		op   func(ctx context.Context, d gogatt.Device, h uint16) error
		// lost is the frame the dongle ends the procedure with.
		lost func(conn uint8, h uint16, value []byte) wire.Message
	}{
		{"read_by_handle's attribute_value", func(ctx context.Context, d gogatt.Device, h uint16) error {
			_, err := d.CharReadHandle(ctx, h)
			return err
		}, func(c uint8, h uint16, v []byte) wire.Message {
			return &wire.EvtAttclientAttributeValue{Connection: c, AttHandle: h, Type: wire.AttValueRead, Value: v}
		}},
		{"attribute_write's procedure_completed", func(ctx context.Context, d gogatt.Device, h uint16) error {
			return d.CharWriteHandle(ctx, h, []byte{0x42}, true)
		}, func(c uint8, h uint16, _ []byte) wire.Message {
			return &wire.EvtAttclientProcedureCompleted{Connection: c, Result: wire.ResultSuccess, ChrHandle: h}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true, CommandTimeout: cmdTimeout})
				d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
				p := env.periphs[tortureAddr]
				h := p.ValueHandle(sim.TortureMaxLen)
				if err := d.CharWriteHandle(t.Context(), h, []byte{0x42}, true); err != nil {
					t.Fatal(err)
				}
				p.SetResponseDelay(100 * time.Millisecond)
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				defer cancel()
				res := goOp(func() error { return tc.op(ctx, d, h) })
				// The dongle has answered the command; the next bytes it sends end the procedure.
				env.emu.DropOutput(len(tc.lost(connHandle(t, env), h, []byte{0x42}).AppendFrame(nil)))
				if err := <-res; !errors.Is(err, gogatt.ErrTimeout) {
					t.Fatalf("operation whose end was lost: %v", err)
				}
				p.SetResponseDelay(0)
				start := time.Now()
				got, err := d.CharReadHandle(t.Context(), h)
				if err != nil || !bytes.Equal(got, []byte{0x42}) {
					t.Fatalf("next read = %x, %v", got, err)
				}
				if el := time.Since(start); el > cmdTimeout {
					t.Fatalf("next read took %v, more than a command timeout", el)
				}
			})
		})
	}
}

// A long write abandoned by its context leaves prepared chunks in the peer's prepare queue
// (Core v5.3 Vol 3 Part F §3.4.6); they are cancelled before anything else runs on the link, so
// the next long write (to another characteristic) commits only its own value. The caller learns
// that the abandoned write did not happen, or that its outcome is unknown once the execute
// write was sent.
func TestVirtualAbandonedLongWrite(t *testing.T) {
	const step = 100 * time.Millisecond // one request's delay
	for _, tc := range []struct {
		name     string
		dongle   bool          // the dongle's responses are slow (else the peer's)
		n        int           // bytes written to TortureLong
		deadline time.Duration // when the long write is abandoned
		wantText string
		applied  bool // whether the abandoned value ends up written
	}{
		// The 6th prepare_write awaits the dongle's response (so has not started yet).
		{"awaiting a prepare's response", true, 300, 5*step + step/2, "did not happen", false},
		// The 6th prepare_write runs: the peer has queued it but not answered.
		{"during a prepare", false, 300, 5*step + step/2, "did not happen", false},
		{"during the execute", false, 36, 2*step + step/2, "outcome is unknown", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env, log := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
				d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
				p := env.periphs[tortureAddr]
				long, other := p.ValueHandle(sim.TortureLong), p.ValueHandle(sim.TortureMax)
				orig := p.Value(long)
				abandoned := bytes.Repeat([]byte{0xAB}, tc.n)
				if tc.dongle {
					env.emu.SetResponseDelay(step)
				} else {
					p.SetResponseDelay(step)
				}
				ctx, cancel := context.WithTimeout(t.Context(), tc.deadline)
				defer cancel()
				err := d.CharWriteLongHandle(ctx, long, abandoned)
				if !errors.Is(err, gogatt.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("abandoned long write: %v; want a timeout saying %q", err, tc.wantText)
				}
				n := len(log.commands())
				value := bytes.Repeat([]byte{0xCD}, 100)
				if err := d.CharWriteLongHandle(t.Context(), other, value); err != nil {
					t.Fatalf("next long write: %v", err)
				}
				if got := p.Value(other); !bytes.Equal(got, value) {
					t.Fatalf("the next long write's characteristic holds %d bytes % x", len(got), got)
				}
				want := orig
				if tc.applied {
					want = abandoned // a long write replaces the whole value
				}
				if got := p.Value(long); !bytes.Equal(got, want) {
					t.Fatalf("the abandoned long write's characteristic holds %d bytes % x, want %d bytes", len(got), got, len(want))
				}
				// The first procedure command after the abandoned write cancels the queue.
				for _, cmd := range log.commands()[n:] {
					if cmd[0] == wire.ClassAttclient {
						if cmd != ident(wire.CmdAttclientExecuteWrite{}) {
							t.Fatalf("first procedure after the abandoned write: %v, want execute_write", cmd)
						}
						break
					}
				}
			})
		})
	}
}
