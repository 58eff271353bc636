package bgapi

// Fault matrix, BGAPI column: Stop and context cancellation while a Scan, a Connect or a
// notification stream is in progress, against the BLED112 emulator (sim/bled112) — in virtual
// time over its pipe where a timeout or an instant matters, over a real pty otherwise.

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// libGoroutines returns the stacks of the goroutines that run code of the library (package
// bgapi outside its tests, internal/gattkit), other than the caller's.
func libGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 || strings.Contains(g, "gogatt/gogatt/bgapi.Test") {
			continue // the caller; goroutines of the tests
		}
		if strings.Contains(g, "gogatt/gogatt/bgapi.(") || strings.Contains(g, "gogatt/gogatt/bgapi.newClient") ||
			strings.Contains(g, "gogatt/gogatt/internal/gattkit.") {
			out = append(out, g)
		}
	}
	return out
}

// noLibGoroutines fails t if a goroutine of the library is left; inside a synctest bubble
// (settled first with synctest.Wait) it looks once, outside it polls until a hang deadline.
func noLibGoroutines(t *testing.T, bubble bool) {
	t.Helper()
	if bubble {
		synctest.Wait()
		if g := libGoroutines(); len(g) > 0 {
			t.Fatalf("%d goroutines of the library left:\n%s", len(g), strings.Join(g, "\n\n"))
		}
		return
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		g := libGoroutines()
		if len(g) == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%d goroutines of the library left:\n%s", len(g), strings.Join(g, "\n\n"))
		}
	}
}

// awaitEmuSessionEnd waits (virtual time) until the emulator serves no port: it serves one at a
// time and notices that the host has closed its end only after the command it is executing
// (maybe delayed) is done. A dongle left connecting may reach its peripheral meanwhile.
func awaitEmuSessionEnd(env *emuEnv) {
	for env.emu.InjectGarbage(nil) {
		<-time.After(time.Millisecond)
	}
}

type scanOutcome struct {
	res []gogatt.ScanResult
	err error
}

// goScan starts a scan of an hour on b and returns its outcome channel and a channel that
// receives the address of the first device seen.
func goScan(ctx context.Context, b *Backend) (<-chan scanOutcome, <-chan string) {
	first := make(chan string, 1)
	out := make(chan scanOutcome, 1)
	go func() {
		res, err := b.Scan(ctx, gogatt.ScanOptions{Timeout: time.Hour, OnAdvertisement: func(r gogatt.ScanResult) bool {
			select {
			case first <- r.Address:
			default:
			}
			return true
		}})
		out <- scanOutcome{res, err}
	}()
	return out, first
}

func hasAddress(res []gogatt.ScanResult, a string) bool {
	for _, r := range res {
		if r.Address == a {
			return true
		}
	}
	return false
}

// Stop during a Scan: the Scan returns at once (no virtual time passes) with the devices seen so
// far and an error matching gogatt.ErrNotStarted; no goroutine of the library is left.
func TestMatrixStopDuringScan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
		out, first := goScan(context.Background(), env.b)
		a := <-first
		start := time.Now()
		if err := env.b.Stop(); err != nil {
			t.Fatal(err)
		}
		r := <-out
		if el := time.Since(start); el != 0 {
			t.Fatalf("Scan returned %v after Stop (virtual time)", el)
		}
		if !errors.Is(r.err, gogatt.ErrNotStarted) || errors.Is(r.err, gogatt.ErrTimeout) || errors.Is(r.err, context.Canceled) {
			t.Fatalf("Scan ended by Stop: %v", r.err)
		}
		if !hasAddress(r.res, a) {
			t.Fatalf("Scan ended by Stop returned %+v, without %s seen before", r.res, a)
		}
		noLibGoroutines(t, true)
	})
}

// Stop during a Connect that waits (nobody at the address, the peripheral out of range, the
// dongle slow to answer gap_connect_direct): Connect returns at once with an error matching
// gogatt.ErrNotStarted, no goroutine of the library is left, and after a new Start the
// peripheral connects (even if the dongle, left connecting, reached it meanwhile).
func TestMatrixStopDuringConnect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addr  string
		fault func(*emuEnv) (undo func())
	}{
		{"nobody at the address", "C0:FF:EE:99:99:99", func(*emuEnv) func() { return func() {} }},
		{"peripheral out of range", tortureAddr, func(env *emuEnv) func() {
			p := env.periphs[tortureAddr]
			p.SetInRange(false)
			return func() { p.SetInRange(true) }
		}},
		{"dongle slow to answer", tortureAddr, func(env *emuEnv) func() {
			env.emu.SetResponseDelay(time.Second)
			return func() { env.emu.SetResponseDelay(0) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
				undo := tc.fault(env)
				res := make(chan error, 1)
				go func() {
					d, err := env.b.Connect(context.Background(), tc.addr, gogatt.ConnectOptions{Timeout: time.Hour})
					if d != nil {
						err = errors.New("Connect returned a Device")
					}
					res <- err
				}()
				synctest.Wait() // Connect waits for the dongle or the peripheral
				start := time.Now()
				if err := env.b.Stop(); err != nil {
					t.Fatal(err)
				}
				err := <-res
				if el := time.Since(start); el != 0 {
					t.Fatalf("Connect returned %v after Stop (virtual time)", el)
				}
				if !errors.Is(err, gogatt.ErrNotStarted) || errors.Is(err, gogatt.ErrTimeout) || errors.Is(err, context.Canceled) {
					t.Fatalf("Connect ended by Stop: %v", err)
				}
				noLibGoroutines(t, true)
				undo()
				awaitEmuSessionEnd(env)
				if err := env.b.Start(t.Context()); err != nil {
					t.Fatalf("Start after Stop: %v", err)
				}
				d := env.connect(t, tortureAddr, gogatt.ConnectOptions{Timeout: 5 * time.Second})
				if _, err := d.CharRead(t.Context(), sim.TortureCounter); err != nil {
					t.Fatalf("read after a new Start: %v", err)
				}
			})
		})
	}
}

// Stop during a notification stream (the torture device's generator as fast as the link takes
// it; the heart-rate sensor at 200 Hz), with and without AutoReconnect: Stop returns, and by
// then the Device's Disconnected is closed, Err is a local *gogatt.DisconnectError, the dongle
// holds no connection and no goroutine of the library is left.
func TestMatrixStopDuringNotifications(t *testing.T) {
	for _, src := range []struct {
		name  string
		addr  string
		uuid  gogatt.UUID
		start func(p *sim.Peripheral, vh uint16) (stop func())
	}{
		{"torture generator", tortureAddr, sim.TortureStream, func(p *sim.Peripheral, vh uint16) func() {
			return p.StartGenerator(vh, 0, 0)
		}},
		{"heart rate 200 Hz", hrmAddr, gogatt.UUID16(0x2A37), func(p *sim.Peripheral, vh uint16) func() {
			if err := p.SetNotifyRate(vh, 200); err != nil {
				panic(err)
			}
			return func() {}
		}},
	} {
		for _, auto := range []bool{false, true} {
			name := src.name
			if auto {
				name += "/AutoReconnect"
			}
			t.Run(name, func(t *testing.T) {
				env := startEmu(t, bled112.Config{}, Config{NoReset: true})
				d := env.connect(t, src.addr, gogatt.ConnectOptions{AutoReconnect: auto})
				p := env.periphs[src.addr]
				vh := p.ValueHandle(src.uuid)
				ctx := ctxT(t, 30*time.Second)
				var calls atomic.Int64
				if err := d.Subscribe(ctx, src.uuid, func(uint16, []byte) { calls.Add(1) }, gogatt.SubscribeOptions{}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(src.start(p, vh))
				waitStats(t, d, vh, func(st gogatt.SubscriptionStats) bool { return st.Delivered >= 20 }, "the stream did not flow")
				stopped := make(chan error, 1)
				go func() { stopped <- env.b.Stop() }()
				select {
				case err := <-stopped:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(10 * time.Second): // hang-only deadline
					t.Fatal("Stop did not return during a notification stream")
				}
				select {
				case <-d.Disconnected():
				default:
					t.Fatal("Disconnected not closed when Stop returned")
				}
				var de *gogatt.DisconnectError
				if err := d.Err(); !errors.As(err, &de) || !de.Local || !errors.Is(err, gogatt.ErrNotConnected) {
					t.Fatalf("Err after Stop = %v (%+v), want a local *gogatt.DisconnectError", err, de)
				}
				if n := env.emu.Connections(); n != 0 {
					t.Fatalf("the dongle holds %d connections after Stop", n)
				}
				noLibGoroutines(t, false)
				t.Logf("%d values delivered before Stop", calls.Load())
			})
		}
	}
}

// Cancelling the context of a Scan: it returns the devices seen so far and an error matching
// context.Canceled (not a timeout) at once; the dongle's procedure is ended, so the next Scan
// works.
func TestMatrixCancelDuringScan(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, log := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out, first := goScan(ctx, env.b)
		a := <-first
		start := time.Now()
		cancel()
		r := <-out
		if el := time.Since(start); el != 0 {
			t.Fatalf("Scan returned %v after the cancellation (virtual time)", el)
		}
		if !errors.Is(r.err, context.Canceled) || errors.Is(r.err, gogatt.ErrTimeout) {
			t.Fatalf("cancelled Scan: %v", r.err)
		}
		if !hasAddress(r.res, a) {
			t.Fatalf("cancelled Scan returned %+v, without %s seen before", r.res, a)
		}
		synctest.Wait()
		if cmds := log.commands(); cmds[len(cmds)-1] != cmdGapEndProcedure {
			t.Fatalf("last command %v, want gap_end_procedure", cmds[len(cmds)-1])
		}
		res, err := env.b.Scan(t.Context(), gogatt.ScanOptions{Timeout: time.Second})
		if err != nil || !hasAddress(res, a) {
			t.Fatalf("Scan after a cancelled one: %+v, %v", res, err)
		}
	})
}

// Cancelling the context of a Connect that waits: Connect returns an error matching
// context.Canceled (not a timeout), no goroutine of it is left, and the next Connect to the
// same peripheral works.
func TestMatrixCancelDuringConnect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(*emuEnv) (undo func())
	}{
		{"peripheral out of range", func(env *emuEnv) func() {
			p := env.periphs[tortureAddr]
			p.SetInRange(false)
			return func() { p.SetInRange(true) }
		}},
		{"dongle slow to answer", func(env *emuEnv) func() {
			env.emu.SetResponseDelay(time.Second)
			return func() { env.emu.SetResponseDelay(0) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
				undo := tc.fault(env)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				res := make(chan error, 1)
				var wg sync.WaitGroup
				wg.Go(func() {
					d, err := env.b.Connect(ctx, tortureAddr, gogatt.ConnectOptions{Timeout: time.Hour})
					if d != nil {
						err = errors.New("Connect returned a Device")
					}
					res <- err
				})
				synctest.Wait() // Connect waits for the dongle or the peripheral
				cancel()
				wg.Wait()
				if err := <-res; !errors.Is(err, context.Canceled) || errors.Is(err, gogatt.ErrTimeout) {
					t.Fatalf("cancelled Connect: %v", err)
				}
				undo()
				synctest.Wait()
				// The dongle connected once it got to gap_connect_direct, after the host had
				// given up: the host disconnects that orphan, so the peripheral advertises again.
				d, err := env.b.Connect(t.Context(), tortureAddr, gogatt.ConnectOptions{Timeout: 5 * time.Second})
				if err != nil {
					t.Fatalf("Connect after a cancelled one: %v", err)
				}
				defer d.Disconnect()
				if _, err := d.CharRead(t.Context(), sim.TortureCounter); err != nil {
					t.Fatalf("read after a cancelled Connect: %v", err)
				}
			})
		})
	}
}
