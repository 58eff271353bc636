package bgapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// seqChecker counts generator values (4-byte LE sequence numbers, sim.StartGenerator): lost
// and out-of-order values.
type seqChecker struct {
	mu       sync.Mutex
	next     uint32
	got      int
	lost     int
	reorder  int
	complete chan struct{}
	want     int
}

func newSeqChecker(want int) *seqChecker {
	return &seqChecker{want: want, complete: make(chan struct{})}
}

func (s *seqChecker) handle(_ uint16, v []byte) {
	if len(v) < 4 {
		return
	}
	seq := binary.LittleEndian.Uint32(v)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case seq == s.next:
	case seq > s.next:
		s.lost += int(seq - s.next)
	default:
		s.reorder++
		return
	}
	s.next = seq + 1
	s.got++
	if s.got == s.want {
		close(s.complete)
	}
}

func (s *seqChecker) result() (got, lost, reorder int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got, s.lost, s.reorder
}

// TestEmuConcurrency: three connections at once, each with a notification stream and several
// goroutines reading, writing, long-reading and (un)subscribing; every stream arrives complete
// and in order.
func TestEmuConcurrency(t *testing.T) {
	extra := []*sim.Peripheral{
		sim.NewTortureDevice(bt.MustParseAddress("C0:FF:EE:00:01:04"), 4),
		sim.NewTortureDevice(bt.MustParseAddress("C0:FF:EE:00:01:05"), 5),
	}
	env := startEmu(t, bled112.Config{}, Config{NoReset: true}, extra...)
	addrs := []string{tortureAddr, "C0:FF:EE:00:01:04", "C0:FF:EE:00:01:05"}
	const n, iters = 2000, 40
	ctx := ctxT(t, 60*time.Second)
	var wg sync.WaitGroup
	var ops atomic.Int64
	errc := make(chan error, 100)
	report := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	for _, a := range addrs {
		d := env.connect(t, a, gogatt.ConnectOptions{})
		p := env.periphs[a]
		chk := newSeqChecker(n)
		if err := d.Subscribe(ctx, sim.TortureStream, chk.handle, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		stop := p.StartGenerator(p.ValueHandle(sim.TortureStream), n, 20000)
		t.Cleanup(stop)
		for w := range 4 {
			wg.Go(func() {
				for i := range iters {
					var err error
					switch (w + i) % 4 {
					case 0:
						_, err = d.CharRead(ctx, sim.TortureCounter)
					case 1:
						v := []byte(fmt.Sprintf("%s-%d", a[12:], i%100))
						err = d.CharWrite(ctx, sim.TortureMaxLen, v, true)
					case 2:
						var v []byte
						v, err = d.CharReadLong(ctx, sim.TortureLong)
						if err == nil && !bytes.Equal(v, pattern(300)) {
							err = fmt.Errorf("long read of %s: %d bytes", a, len(v))
						}
					case 3:
						err = d.Subscribe(ctx, sim.TortureDescFirst, func(uint16, []byte) {}, gogatt.SubscribeOptions{})
						if err == nil {
							err = d.Unsubscribe(ctx, sim.TortureDescFirst)
						}
					}
					if err != nil {
						report(fmt.Errorf("%s worker %d: %w", a, w, err))
						return
					}
					ops.Add(1)
				}
			})
		}
		wg.Go(func() {
			select {
			case <-chk.complete:
			case <-ctx.Done():
			}
			got, lost, reorder := chk.result()
			if got != n || lost != 0 || reorder != 0 {
				report(fmt.Errorf("%s: %d of %d notifications, %d lost, %d out of order", a, got, n, lost, reorder))
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	t.Logf("%d GATT operations alongside %d notifications on 3 connections", ops.Load(), 3*n)
}

// TestEmuFaultGarbage: garbage in the stream between frames is skipped; operations go on.
func TestEmuFaultGarbage(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true, CommandTimeout: 500 * time.Millisecond})
	d := env.connect(t, hrmAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 20*time.Second)
	garbage := [][]byte{
		{0xFF, 0xFE, 0x00},
		{0x80, 0x10, 0x03},             // a plausible header cut short
		{0x00, 0x03, 0x04, 0x04, 0x00}, // a response header with a short payload
		bytes.Repeat([]byte{0x80}, 40),
		{0x80, 0x05, 0x04, 0x01, 0x00, 0x01}, // half a procedure_completed
	}
	for i, g := range garbage {
		if !env.emu.InjectGarbage(g) {
			t.Fatal("no session")
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := d.CharRead(rctx, gogatt.UUID16(0x2A38))
		cancel()
		// Garbage that happens to frame as a plausible response may fail this one read with a
		// typed error; it must not hang past the deadline or break the next read.
		if err != nil && !errors.Is(err, gogatt.ErrTimeout) && !errors.As(err, new(*Error)) && !errors.As(err, new(*gogatt.ATTError)) {
			t.Fatalf("garbage %d: %v", i, err)
		}
		if err == nil && !bytes.Equal(v, []byte{1}) {
			t.Fatalf("garbage %d: read %x", i, v)
		}
		// Whatever the garbage did to one operation, the next works.
		if v, err := d.CharRead(ctx, gogatt.UUID16(0x2A38)); err != nil || !bytes.Equal(v, []byte{1}) {
			t.Fatalf("after garbage %d: %x %v", i, v, err)
		}
	}
}

// TestEmuFaultUnplug: the port vanishes during a read; the read and the link fail at once with
// typed errors; after a replug a new Start works.
func TestEmuFaultUnplug(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	ctx := ctxT(t, 10*time.Second)
	d, p := env.connectDiscovered(t, ctx, hrmAddr)
	p.SetResponseDelay(time.Hour)
	errc := make(chan error, 1)
	go func() { _, err := d.CharRead(ctx, gogatt.UUID16(0x2A38)); errc <- err }()
	waitProc(t, env.b)
	env.pty.Unplug()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrAdapterLost) || !errors.Is(err, gogatt.ErrNotConnected) {
			t.Fatalf("read: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("read did not fail after unplug")
	}
	<-d.Disconnected()
	if _, err := env.b.Connect(ctx, hrmAddr, gogatt.ConnectOptions{}); !errors.Is(err, ErrAdapterLost) {
		t.Fatalf("connect after unplug: %v", err)
	}
	p.SetResponseDelay(0)
	if err := env.pty.Replug(); err != nil {
		t.Fatal(err)
	}
	// Start on a backend whose adapter was lost stops it and opens the port again.
	if err := env.b.Start(ctx); err != nil {
		t.Fatalf("Start after replug: %v", err)
	}
	d2 := env.connect(t, hrmAddr, gogatt.ConnectOptions{})
	if _, err := d2.CharRead(ctx, gogatt.UUID16(0x2A38)); err != nil {
		t.Fatal(err)
	}
}

// TestEmuFaultLinkLoss: the peripheral goes out of range during each kind of procedure; the
// procedure fails with a *gogatt.DisconnectError (reason 0x0208) within its deadline, and the
// backend connects again once it is back.
func TestEmuFaultLinkLoss(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	p := env.periphs[tortureAddr]
	procs := []struct {
		name string
		run  func(ctx context.Context, d gogatt.Device) error
	}{
		{"discovery", func(ctx context.Context, d gogatt.Device) error { _, err := d.Services(ctx); return err }},
		{"read", func(ctx context.Context, d gogatt.Device) error { _, err := d.CharReadHandle(ctx, 3); return err }},
		{"read long", func(ctx context.Context, d gogatt.Device) error { _, err := d.CharReadLongHandle(ctx, 3); return err }},
		{"write", func(ctx context.Context, d gogatt.Device) error { return d.CharWriteHandle(ctx, 3, []byte{1}, true) }},
		{"write long", func(ctx context.Context, d gogatt.Device) error {
			return d.CharWriteLongHandle(ctx, 3, make([]byte, 100))
		}},
		{"subscribe", func(ctx context.Context, d gogatt.Device) error {
			return d.Subscribe(ctx, sim.TortureDescFirst, func(uint16, []byte) {}, gogatt.SubscribeOptions{})
		}},
	}
	for _, pc := range procs {
		t.Run(pc.name, func(t *testing.T) {
			p.SetInRange(true)
			p.SetUnresponsive(false)
			d := env.connect(t, tortureAddr, gogatt.ConnectOptions{SupervisionTimeout: 200 * time.Millisecond})
			ctx := ctxT(t, 10*time.Second)
			if pc.name == "subscribe" {
				if _, err := d.Services(ctx); err != nil {
					t.Fatal(err)
				}
			}
			p.SetUnresponsive(true) // the procedure starts and hangs…
			p.SetInRange(false)     // …then the link is lost after the supervision timeout
			start := time.Now()
			err := pc.run(ctx, d)
			var de *gogatt.DisconnectError
			if !errors.As(err, &de) || de.Code != 0x0208 || !errors.Is(err, gogatt.ErrNotConnected) {
				t.Fatalf("err = %v", err)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Fatalf("took %v", el)
			}
			select {
			case <-d.Disconnected():
			case <-ctx.Done():
				t.Fatal("Disconnected not closed")
			}
			p.SetUnresponsive(false)
			p.SetInRange(true)
			d2 := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
			if _, err := d2.CharRead(ctx, sim.TortureCounter); err != nil {
				t.Fatalf("after reconnect: %v", err)
			}
			d2.Disconnect()
		})
	}
}

// TestEmuFaultCancelMidProcedure: a slow peripheral and a short deadline: the operation ends
// with ErrTimeout at its deadline; the next operation works.
func TestEmuFaultCancelMidProcedure(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	ctx := ctxT(t, 30*time.Second)
	d, p := env.connectDiscovered(t, ctx, hrmAddr)
	p.SetResponseDelay(2 * time.Second)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	start := time.Now()
	_, err := d.CharRead(short, gogatt.UUID16(0x2A38))
	cancel()
	if !errors.Is(err, gogatt.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// Only a hang is caught here (a loaded machine may be late by any amount of real time);
	// TestVirtualContextCancelMidProcedure checks that the deadline is met exactly.
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("returned after %v, deadline was 50ms", el)
	}
	// Cancellation (not deadline) keeps context.Canceled.
	cctx, ccancel := context.WithCancel(ctx)
	go ccancel()
	if _, err := d.CharRead(cctx, gogatt.UUID16(0x2A38)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	p.SetResponseDelay(0)
	if v, err := d.CharRead(ctx, gogatt.UUID16(0x2A38)); err != nil || !bytes.Equal(v, []byte{1}) {
		t.Fatalf("after cancel: %x %v", v, err)
	}
}

// TestEmuConnectErrors: invalid parameters never reach the wire, a refusing peripheral ends
// the attempt at once, a second connection to a connected peer is ErrBusy. (Nobody at the
// address: TestVirtualConnectTimeoutEndsProcedure.)
func TestEmuConnectErrors(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	if _, err := env.b.Connect(ctxT(t, 10*time.Second), "bogus", gogatt.ConnectOptions{}); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("bad address: %v", err)
	}
	if _, err := env.b.Connect(ctxT(t, 10*time.Second), hrmAddr, gogatt.ConnectOptions{IntervalMin: time.Millisecond}); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("bad interval: %v", err)
	}
	// A peripheral that refuses: connection_disconnected 0x023E for the reserved handle ends
	// the attempt at once with a typed error.
	env.periphs[thermoAddr].SetRefuseConnections(true)
	start := time.Now()
	_, err := env.b.Connect(ctxT(t, 10*time.Second), thermoAddr, gogatt.ConnectOptions{})
	var be *Error
	if !errors.As(err, &be) || be.Result != wire.ResultConnectionFailedToBeEstablished {
		t.Fatalf("refused connection: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("refused connection took %v", el)
	}
	env.periphs[thermoAddr].SetRefuseConnections(false)
	env.connect(t, thermoAddr, gogatt.ConnectOptions{})
	env.connect(t, hrmAddr, gogatt.ConnectOptions{AddressType: gogatt.AddressPublic})
	if _, err := env.b.Connect(ctxT(t, 10*time.Second), hrmAddr, gogatt.ConnectOptions{}); !errors.Is(err, gogatt.ErrBusy) {
		t.Fatalf("second connection to the same peer: %v", err)
	}
}

// TestEmuAutoReconnect: link lost and back: the device reconnects by itself and its
// subscription is restored.
func TestEmuAutoReconnect(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	p := env.periphs[tortureAddr]
	events := make(chan gogatt.ConnectionEvent, 20)
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{
		AutoReconnect: true, SupervisionTimeout: 200 * time.Millisecond,
		ReconnectMinDelay: 10 * time.Millisecond, ReconnectMaxDelay: 50 * time.Millisecond,
		OnConnectionEvent: func(e gogatt.ConnectionEvent) { events <- e },
	})
	ctx := ctxT(t, 20*time.Second)
	got := make(chan []byte, 10)
	if err := d.Subscribe(ctx, sim.TortureDescFirst, func(h uint16, v []byte) { got <- v }, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	vh := p.ValueHandle(sim.TortureDescFirst)
	p.SetInRange(false)
	waitEvent(t, ctx, events, gogatt.EventDisconnected)
	p.SetInRange(true)
	waitEvent(t, ctx, events, gogatt.EventReconnected)
	p.Notify(vh, []byte("again"))
	if v := recv(t, ctx, got, "no notification after reconnection"); string(v) != "again" {
		t.Fatalf("got %q", v)
	}
	if _, err := d.CharRead(ctx, sim.TortureCounter); err != nil {
		t.Fatal(err)
	}
	d.Disconnect()
	<-d.Disconnected()
}

func waitEvent(t *testing.T, ctx context.Context, ch <-chan gogatt.ConnectionEvent, k gogatt.ConnectionEventKind) {
	t.Helper()
	for {
		select {
		case e := <-ch:
			if e.Kind == k {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %v event", k)
		}
	}
}

// waitProc polls until a GATT procedure of the backend is in flight (fault tests need to strike
// mid-procedure).
func waitProc(t *testing.T, b *Backend) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	timeout := time.After(5 * time.Second)
	for {
		c, err := b.client()
		if err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		busy := false
		for _, cn := range c.conns {
			busy = busy || cn.proc != nil || cn.bond != nil
		}
		c.mu.Unlock()
		if busy {
			return
		}
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatal("no procedure in flight")
		}
	}
}

// TestEmuFaultLinkLossDuringBond: the link drops while the passkey is awaited; Bond fails at
// once with a *gogatt.DisconnectError and the passkey callback's context ends.
func TestEmuFaultLinkLossDuringBond(t *testing.T) {
	asked := make(chan struct{})
	cbDone := make(chan error, 1)
	env := startEmu(t, bled112.Config{}, Config{NoReset: true, Passkey: func(ctx context.Context, addr string) (uint32, error) {
		close(asked)
		<-ctx.Done()
		cbDone <- ctx.Err()
		return 0, ctx.Err()
	}})
	p := env.periphs[tortureAddr]
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{SupervisionTimeout: 200 * time.Millisecond})
	ctx := ctxT(t, 10*time.Second)
	errc := make(chan error, 1)
	go func() { errc <- d.Bond(ctx, true) }()
	<-asked
	p.SetInRange(false)
	err := <-errc
	var de *gogatt.DisconnectError
	if !errors.As(err, &de) || de.Code != 0x0208 {
		t.Fatalf("bond: %v", err)
	}
	if err := <-cbDone; err == nil {
		t.Fatal("passkey callback context not ended")
	}
	p.SetInRange(true)
}

// A notification handler may call Device methods — read, even unsubscribe itself — while values
// keep arriving (pygatt deadlocked until a 30 s timeout,
// docs/bgapi-protocol.md#pygatt-callback-lock).
func TestEmuHandlerReentrancy(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
	p := env.periphs[tortureAddr]
	ctx := ctxT(t, 20*time.Second)
	done := make(chan error, 1)
	n := 0
	handler := func(h uint16, v []byte) {
		n++
		if _, err := d.CharRead(ctx, sim.TortureCounter); err != nil {
			done <- err
			return
		}
		if n == 3 {
			done <- d.Unsubscribe(ctx, sim.TortureStream)
		}
	}
	if err := d.Subscribe(ctx, sim.TortureStream, handler, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	stop := p.StartGenerator(p.ValueHandle(sim.TortureStream), 0, 0)
	defer stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("handler blocked")
	}
	if s := p.Subscribers(p.ValueHandle(sim.TortureStream)); s != 0 {
		t.Fatalf("%d subscribers after unsubscribing from the handler", s)
	}
}
