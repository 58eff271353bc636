package bgapi

// Fault matrix, BGAPI column: what only a dongle can do — answer slowly — while a Connect waits,
// in virtual time over the emulator's pipe. The rows every backend shares (Stop and
// cancellation during a Scan, a Connect or a notification stream) are tests of the contract
// suite (gogatttest, run by TestContract), with noLibGoroutines as the environment's check.

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/gogatttest"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// libGoroutine reports whether a goroutine runs code of the library (package bgapi outside its
// tests, internal/gattkit), given its stack.
func libGoroutine(g string) bool {
	if strings.Contains(g, "gogatt/gogatt/bgapi.Test") {
		return false // a goroutine of the tests
	}
	return strings.Contains(g, "gogatt/gogatt/bgapi.(") || strings.Contains(g, "gogatt/gogatt/bgapi.newClient") ||
		strings.Contains(g, "gogatt/gogatt/internal/gattkit.")
}

// noLibGoroutines fails t if a goroutine of the library is left; inside a synctest bubble
// (settled first with synctest.Wait) it looks once, outside it polls until a hang deadline.
func noLibGoroutines(t *testing.T, bubble bool) {
	t.Helper()
	if !bubble {
		gogatttest.NoGoroutines(t, "goroutines of the library", libGoroutine)
		return
	}
	synctest.Wait()
	if g := gogatttest.Goroutines(libGoroutine); len(g) > 0 {
		t.Fatalf("%d goroutines of the library left:\n%s", len(g), strings.Join(g, "\n\n"))
	}
}

// goConnect starts a Connect to the torture device, which only Stop ends, and returns its error.
func goConnect(env *emuEnv) <-chan error {
	res := make(chan error, 1)
	go func() {
		d, err := env.b.Connect(context.Background(), tortureAddr, gogatt.ConnectOptions{Timeout: time.Hour})
		if d != nil {
			err = errors.New("Connect returned a Device")
		}
		res <- err
	}()
	return res
}

// Stop during a Connect that waits for a dongle slow to answer gap_connect_direct: Connect
// returns at once (no virtual time passes) with an error matching gogatt.ErrNotStarted, no
// goroutine of the library is left, and after a new Start the peripheral connects (even if the
// dongle, left connecting, reached it meanwhile).
func TestMatrixStopDuringConnectSlowDongle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
		env.emu.SetResponseDelay(time.Second)
		res := goConnect(env)
		synctest.Wait() // Connect waits for the dongle
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
		env.emu.SetResponseDelay(0)
		synctest.Wait() // the emulator has seen the port close: the delayed command is done
		if err := env.b.Start(t.Context()); err != nil {
			t.Fatalf("Start after Stop: %v", err)
		}
		d := env.connect(t, tortureAddr, gogatt.ConnectOptions{Timeout: 5 * time.Second})
		if _, err := d.CharRead(t.Context(), sim.TortureCounter); err != nil {
			t.Fatalf("read after a new Start: %v", err)
		}
	})
}

// Cancelling the context of a Connect that waits for a dongle slow to answer: Connect returns
// an error matching context.Canceled (not a timeout), and the next Connect to the same
// peripheral works.
func TestMatrixCancelDuringConnectSlowDongle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
		env.emu.SetResponseDelay(time.Second)
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
		synctest.Wait() // Connect waits for the dongle
		cancel()
		wg.Wait()
		if err := <-res; !errors.Is(err, context.Canceled) || errors.Is(err, gogatt.ErrTimeout) {
			t.Fatalf("cancelled Connect: %v", err)
		}
		env.emu.SetResponseDelay(0)
		synctest.Wait()
		// The dongle connected once it got to gap_connect_direct, after the host had given
		// up: the host disconnects that orphan, so the peripheral advertises again.
		d, err := env.b.Connect(t.Context(), tortureAddr, gogatt.ConnectOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("Connect after a cancelled one: %v", err)
		}
		defer d.Disconnect()
		if _, err := d.CharRead(t.Context(), sim.TortureCounter); err != nil {
			t.Fatalf("read after a cancelled Connect: %v", err)
		}
	})
}

// stallPort is the emulator's pipe on which the write of one command (stall, class and ID)
// blocks until the port is closed and then fails, as a write to a dongle that stopped reading
// its endpoint does.
type stallPort struct {
	net.Conn
	stall   [2]uint8
	entered chan struct{} // closed as the stalled write begins
	closed  chan struct{}
	once    sync.Once
}

func (*stallPort) ResetInputBuffer() error { return nil }

func (p *stallPort) Write(b []byte) (int, error) {
	if len(b) >= wire.HeaderLen && [2]uint8{b[2], b[3]} == p.stall {
		close(p.entered)
		<-p.closed
		return 0, os.ErrClosed
	}
	return p.Conn.Write(b)
}

func (p *stallPort) Close() error {
	p.once.Do(func() { close(p.closed) })
	return p.Conn.Close()
}

// Stop while a Connect's command is being written: the write fails because Stop closed the
// port, and Connect reports that (an error matching gogatt.ErrNotStarted), not the loss of the
// adapter it used to report (the contract suite's StopDuringConnect failed ~1 run in 6 under
// load with "gap_connect_direct: bgapi: adapter lost: write: bad file descriptor").
func TestMatrixStopDuringConnectWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newEmuEnv(t, bled112.Config{})
		sp := &stallPort{stall: ident(wire.CmdGapConnectDirect{}), entered: make(chan struct{}), closed: make(chan struct{})}
		env.start(t, Config{NoReset: true, Port: "emulator", open: func(string) (serialPort, error) {
			sp.Conn = env.emu.Pipe()
			return sp, nil
		}})
		res := goConnect(env)
		<-sp.entered
		if err := env.b.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := <-res; !errors.Is(err, gogatt.ErrNotStarted) || errors.Is(err, ErrAdapterLost) {
			t.Fatalf("Connect ended by Stop during its write: %v, want an error matching ErrNotStarted", err)
		}
		noLibGoroutines(t, true)
	})
}
