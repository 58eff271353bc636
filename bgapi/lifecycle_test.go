package bgapi

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// Lifecycle tests: Start, Stop and restarts racing with operations, adapters that go away or
// restart, and callbacks that do not return. Deadlines only catch hangs.

// Start and Stop in a loop beside loops of Connect/read/Disconnect and Scan: the race detector
// sees no unsynchronised access (Start writes the slot count that Connect reads), and nothing
// hangs.
func TestEmuStartStopRace(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	ctx := ctxT(t, 60*time.Second)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var once sync.Once
	stopLoops := func() {
		once.Do(func() { close(stop) })
		wg.Wait()
	}
	defer stopLoops()
	var reads, scans atomic.Int64
	progress := make(chan struct{}, 1) // an operation succeeded
	done := func(n *atomic.Int64) {
		n.Add(1)
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	for _, addr := range []string{hrmAddr, thermoAddr} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				d, err := env.b.Connect(cctx, addr, gogatt.ConnectOptions{})
				if err == nil {
					if _, err := d.CharRead(cctx, gogatt.UUID16(0x2A00)); err == nil {
						done(&reads)
					}
					_ = d.Disconnect()
				}
				cancel()
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := env.b.Scan(ctx, gogatt.ScanOptions{Timeout: 20 * time.Millisecond}); err == nil {
				done(&scans)
			}
		}
	})
	for i := range 30 {
		select {
		case <-progress:
		default:
		}
		if err := env.b.Stop(); err != nil {
			t.Fatalf("Stop %d: %v", i, err)
		}
		if err := env.b.Start(ctx); err != nil {
			t.Fatalf("Start %d: %v", i, err)
		}
		select { // let the loops work on this start
		case <-progress:
		case <-ctx.Done():
			t.Fatalf("no operation succeeded after Start %d", i)
		}
	}
	stopLoops()
	if ctx.Err() != nil {
		t.Fatal("the loops did not end before the deadline")
	}
	t.Logf("%d reads and %d scans completed across 30 restarts", reads.Load(), scans.Load())
	env.connect(t, hrmAddr, gogatt.ConnectOptions{})
	if n := env.emu.Connections(); n != 1 {
		t.Fatalf("the emulator has %d connections, want 1", n)
	}
}

// A Connect whose context ends before gap_connect_direct's response: the dongle connects
// anyway, later. The backend disconnects that connection nobody waits for, so the peripheral
// (which stopped advertising when it was connected) can be connected again, and the dongle
// holds only the new connection.
func TestVirtualConnectCancelledBeforeResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
		env.emu.SetResponseDelay(2 * time.Second)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		_, err := env.b.Connect(ctx, hrmAddr, gogatt.ConnectOptions{})
		cancel()
		if !errors.Is(err, gogatt.ErrTimeout) {
			t.Fatalf("connect with a 1 s deadline and a 2 s response: %v", err)
		}
		env.emu.SetResponseDelay(0)
		d := env.connect(t, hrmAddr, gogatt.ConnectOptions{Timeout: 5 * time.Second})
		if _, err := d.CharRead(t.Context(), gogatt.UUID16(0x2A00)); err != nil {
			t.Fatal(err)
		}
		if n := env.emu.Connections(); n != 1 {
			t.Fatalf("the dongle holds %d connections, want 1", n)
		}
	})
}

// Stop does not wait for the application's pairing callbacks: not for a PasskeyDisplay or a
// Passkey that ignores its context and blocks (released only at the end of the test), and a
// PasskeyDisplay that waits for its context returns once the pairing has ended.
func TestEmuStopDuringPairingCallbacks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		display bool // PasskeyDisplay, else Passkey (the emulator asks for one or shows one)
		honour  bool // the callback returns when its context ends
	}{
		{"display waits for its context", true, true},
		{"display ignores its context", true, false},
		{"passkey ignores its context", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release) // after Stop: the callbacks still blocked may now return
			called := make(chan struct{}, 1)
			returned := make(chan error, 1)
			block := func(ctx context.Context) error {
				called <- struct{}{}
				if tc.honour {
					<-ctx.Done()
				} else {
					<-release
				}
				returned <- ctx.Err()
				return ctx.Err()
			}
			cfg := Config{NoReset: true}
			if tc.display {
				cfg.PasskeyDisplay = func(ctx context.Context, _ string, _ uint32) { _ = block(ctx) }
			} else {
				cfg.Passkey = func(ctx context.Context, _ string) (uint32, error) { return 123456, block(ctx) }
			}
			env := startEmu(t, bled112.Config{}, cfg)
			d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
			ctx := ctxT(t, 30*time.Second)
			bonded := make(chan error, 1)
			go func() { bonded <- d.Bond(ctx, true) }()
			select {
			case <-called:
			case <-ctx.Done():
				t.Fatal("the pairing callback was not called")
			}
			if tc.honour {
				// The display shows the passkey while the peer pairs; once the bond is done
				// the callback's context ends.
				if err := <-bonded; err != nil {
					t.Fatalf("bond: %v", err)
				}
				select {
				case err := <-returned:
					if err == nil {
						t.Fatal("the callback returned with its context still live")
					}
				case <-ctx.Done():
					t.Fatal("the display callback's context did not end with the pairing")
				}
			}
			stopped := make(chan error, 1)
			go func() { stopped <- env.b.Stop() }()
			select {
			case err := <-stopped:
				if err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				t.Fatal("Stop hangs on a pairing callback")
			}
			if !tc.honour && !tc.display {
				if err := <-bonded; !errors.Is(err, gogatt.ErrNotConnected) {
					t.Fatalf("bond stopped by Stop: %v", err)
				}
			}
		})
	}
}

// A Device with AutoReconnect survives the dongle being unplugged, plugged back in and the
// backend started again: Start keeps the application's Devices, whose reconnection then dials
// through the new port, and the subscription resumes. The Device is never ended by the restart.
func TestEmuAutoReconnectAcrossReplug(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	p := env.periphs[tortureAddr]
	ctx := ctxT(t, 30*time.Second)
	events := make(chan gogatt.ConnectionEvent, 100)
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{
		AutoReconnect: true, ReconnectMinDelay: 10 * time.Millisecond, ReconnectMaxDelay: 50 * time.Millisecond,
		OnConnectionEvent: func(e gogatt.ConnectionEvent) { events <- e },
	})
	got := make(chan []byte, 10)
	if err := d.Subscribe(ctx, sim.TortureDescFirst, func(_ uint16, v []byte) { got <- v }, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	vh := p.ValueHandle(sim.TortureDescFirst)
	// until waits for an event of kind k; any end of the Device fails the test.
	until := func(k gogatt.ConnectionEventKind) {
		t.Helper()
		for {
			select {
			case e := <-events:
				if e.Kind == k {
					return
				}
				if e.Kind == gogatt.EventGaveUp {
					t.Fatalf("gave up: %v", e.Err)
				}
			case <-d.Disconnected():
				t.Fatalf("the Device ended waiting for %v: %v", k, d.Err())
			case <-ctx.Done():
				t.Fatalf("no %v event", k)
			}
		}
	}
	env.pty.Unplug()
	until(gogatt.EventDisconnected)
	if err := d.Err(); !errors.Is(err, ErrAdapterLost) {
		t.Fatalf("Err while the dongle is unplugged: %v", err)
	}
	until(gogatt.EventReconnecting) // dialling fails while the backend has no port
	if err := env.pty.Replug(); err != nil {
		t.Fatal(err)
	}
	if err := env.b.Start(ctx); err != nil {
		t.Fatalf("Start after replug: %v", err)
	}
	until(gogatt.EventReconnected)
	p.Notify(vh, []byte("back"))
	if v := recv(t, ctx, got, "no notification after the restart"); string(v) != "back" {
		t.Fatalf("got %q", v)
	}
	if _, err := d.CharRead(ctx, sim.TortureCounter); err != nil {
		t.Fatal(err)
	}
	if n := env.emu.Connections(); n != 1 {
		t.Fatalf("the dongle holds %d connections, want 1", n)
	}
}

// A second backend on a port another one holds (a second gogatt, say) is refused with
// ErrPortBusy before it writes anything — in particular no system_reset — and the first one's
// subscription keeps streaming. The lock holds for root too, which TIOCEXCL does not stop.
func TestEmuSecondOpenerBusy(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	ctx := ctxT(t, 30*time.Second)
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
	p := env.periphs[tortureAddr]
	got := make(chan []byte, 10)
	if err := d.Subscribe(ctx, sim.TortureDescFirst, func(_ uint16, v []byte) { got <- v }, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	second := New(Config{Port: env.pty.Path(), ports: noPorts, Logger: testLogger()}) // resets on Start
	err := second.Start(ctx)
	second.Stop()
	var pe *PortError
	if !errors.Is(err, ErrPortBusy) || !errors.As(err, &pe) || pe.Port != env.pty.Path() {
		t.Fatalf("second Start on %s: %v", env.pty.Path(), err)
	}
	p.Notify(p.ValueHandle(sim.TortureDescFirst), []byte("still"))
	if v := recv(t, ctx, got, "the first backend's subscription went silent"); string(v) != "still" {
		t.Fatalf("got %q", v)
	}
	// Stop releases the port.
	env.b.Stop()
	if err := second.Start(ctx); err != nil {
		t.Fatalf("Start after the first backend stopped: %v", err)
	}
	second.Stop()
}

// The dongle restarts under a running backend — another program on the same port reset it; a
// module on a UART announces it with system_boot — so every link is gone: the Device ends with
// an error matching ErrAdapterLost (and gogatt.ErrNotConnected), as do later calls.
func TestEmuAdapterResetByAnotherHost(t *testing.T) {
	env := startEmu(t, bled112.Config{SendBootEvent: true}, Config{}) // Start's own reset boots too
	ctx := ctxT(t, 30*time.Second)
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
	if _, err := d.CharRead(ctx, sim.TortureCounter); err != nil {
		t.Fatal(err)
	}
	env.emu.Reset()
	select {
	case <-d.Disconnected():
	case <-ctx.Done():
		t.Fatal("the Device outlived the dongle's restart")
	}
	if err := d.Err(); !errors.Is(err, ErrAdapterLost) || !errors.Is(err, gogatt.ErrNotConnected) {
		t.Fatalf("Err = %v", err)
	}
	if _, err := env.b.Connect(ctx, hrmAddr, gogatt.ConnectOptions{}); !errors.Is(err, ErrAdapterLost) {
		t.Fatalf("connect after the restart: %v", err)
	}
	if err := env.b.Start(ctx); err != nil { // the port is still there: Start opens it again
		t.Fatal(err)
	}
	env.connect(t, tortureAddr, gogatt.ConnectOptions{})
}

// The dongle stops answering (reset or taken over by another program, or hung): a command that
// gets no response within CommandTimeout is followed by a system_hello, and when that gets
// none either the adapter is lost: the Device ends with ErrAdapterLost.
func TestVirtualAdapterStopsAnswering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env, _ := startPipeEmu(t, bled112.Config{}, Config{NoReset: true, CommandTimeout: time.Second})
		d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
		env.emu.SetResponseDelay(time.Hour)
		_, err := d.RSSI(t.Context())
		if !errors.Is(err, ErrAdapterLost) {
			t.Fatalf("rssi: %v", err)
		}
		<-d.Disconnected()
		if err := d.Err(); !errors.Is(err, ErrAdapterLost) || !errors.Is(err, gogatt.ErrNotConnected) {
			t.Fatalf("Err = %v", err)
		}
		env.b.Stop() // ends the emulator's hour-long wait too
	})
}
