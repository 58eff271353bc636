package bluez_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

// records keeps the messages of every log record at or above its level.
type records struct {
	level slog.Level
	mu    sync.Mutex
	msgs  []string
}

func (r *records) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	m := rec.Message
	rec.Attrs(func(a slog.Attr) bool { m += " " + a.String(); return true })
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

// notifyEnv is a simulated bluetoothd with the demo peripherals and a started backend whose
// Config.Notify is mode, logging at debug level into the returned records.
func notifyEnv(t *testing.T, mode bluez.NotifyMode) (*bluezsim.Env, *bluez.Backend, *sim.Peripheral, *records) {
	t.Helper()
	ps := sim.DemoPeripherals(1)
	env, _ := newEnv(t, ps)
	rec := &records{level: slog.LevelDebug}
	b := bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress(), Notify: mode, Logger: slog.New(rec)})
	t.Cleanup(func() { b.Stop() })
	if err := b.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	var p *sim.Peripheral
	for _, x := range ps {
		if x.Address().String() == sim.TortureAddress {
			p = x
		}
	}
	return env, b, p, rec
}

// charPathOf is the object path bluetoothd gives characteristic u of p.
func charPathOf(env *bluezsim.Env, p *sim.Peripheral, u gogatt.UUID) dbus.ObjectPath {
	info, _ := p.Characteristic(u)
	return devPath(env.HCIDevice(), p.Address().String()) + dbus.ObjectPath(fmt.Sprintf("/service%04x/char%04x", serviceOf(p, info.Handle), info.Handle))
}

// counter collects uint32 sequence numbers and says when it has n.
type counter struct {
	mu   sync.Mutex
	got  []uint32
	n    int
	all  chan struct{}
	once sync.Once
}

func newCounter(n int) *counter { return &counter{n: n, all: make(chan struct{})} }

func (c *counter) handle(_ uint16, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, binary.LittleEndian.Uint32(v))
	if len(c.got) >= c.n {
		c.once.Do(func() { close(c.all) })
	}
}

// inOrder waits for n values 0…n-1 and checks their order.
func (c *counter) inOrder(t *testing.T) {
	t.Helper()
	select {
	case <-c.all:
	case <-time.After(hang):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("%d of %d values", len(c.got), c.n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, v := range c.got {
		if v != uint32(i) {
			t.Fatalf("value %d is %d: out of order", i, v)
		}
	}
}

// TestNotifyModes: the zero Config subscribes through AcquireNotify (NotifyAcquired true,
// Notifying false); NotifyStartNotify through StartNotify; NotifyAcquire through AcquireNotify.
// Values arrive whole and in order on each path, and Unsubscribe leaves the peripheral without
// a subscriber and bluetoothd without a socket. An indicate-only characteristic, whose
// AcquireNotify BlueZ 5.66 refuses (NotSupported), falls back to StartNotify with a debug log —
// except with NotifyAcquire, which fails with ErrUnsupported.
func TestNotifyModes(t *testing.T) {
	for _, tc := range []struct {
		mode     bluez.NotifyMode
		acquired bool // the notify characteristic's values come on a socket
		fallback bool // the indicate-only one falls back to StartNotify
	}{
		{bluez.NotifyAuto, true, true},
		{bluez.NotifyStartNotify, false, false},
		{bluez.NotifyAcquire, true, false},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			env, b, p, rec := notifyEnv(t, tc.mode)
			ctx := ctxT(t)
			d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
			charPath := charPathOf(env, p, sim.TortureStream)
			const n = 2000
			c := newCounter(n)
			if err := d.Subscribe(ctx, sim.TortureStream, c.handle, gogatt.SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			for prop, want := range map[string]bool{"NotifyAcquired": tc.acquired, "Notifying": !tc.acquired} {
				if v, err := busProp(t, env.BusAddress(), charPath, "org.bluez.GattCharacteristic1."+prop); err != nil || v.Value() != want {
					t.Errorf("%s = %v, %v; want %v", prop, v, err, want)
				}
			}
			vh := p.ValueHandle(sim.TortureStream)
			for i := range n {
				p.Notify(vh, binary.LittleEndian.AppendUint32(nil, uint32(i)))
			}
			c.inOrder(t)
			if err := d.Unsubscribe(ctx, sim.TortureStream); err != nil {
				t.Fatal(err)
			}
			if s := p.Subscribers(vh); s != 0 {
				t.Errorf("after Unsubscribe the peripheral has %d subscribers", s)
			}
			for _, prop := range []string{"NotifyAcquired", "Notifying"} {
				if v, err := busProp(t, env.BusAddress(), charPath, "org.bluez.GattCharacteristic1."+prop); err != nil || v.Value() != false {
					t.Errorf("%s after Unsubscribe = %v, %v; want false", prop, v, err)
				}
			}
			if got := rec.count(fmt.Sprintf("AcquireNotify refused; using StartNotify device=%s handle=%d ", sim.TortureAddress, vh)); got != 0 {
				t.Errorf("%d fallbacks logged for a notify characteristic", got)
			}

			// Indicate-only.
			ind := p.ValueHandle(sim.TortureIndicate)
			one := newCounter(1)
			err := d.Subscribe(ctx, sim.TortureIndicate, one.handle, gogatt.SubscribeOptions{Indication: true})
			if tc.mode == bluez.NotifyAcquire {
				if !errors.Is(err, gogatt.ErrUnsupported) {
					t.Fatalf("Subscribe(indicate-only) with NotifyAcquire = %v, want ErrUnsupported", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p.Notify(ind, binary.LittleEndian.AppendUint32(nil, 0))
			one.inOrder(t)
			if v, err := busProp(t, env.BusAddress(), charPathOf(env, p, sim.TortureIndicate), "org.bluez.GattCharacteristic1.Notifying"); err != nil || v.Value() != true {
				t.Errorf("indicate-only characteristic: Notifying = %v, %v; want true (StartNotify)", v, err)
			}
			if got, want := rec.count(fmt.Sprintf("AcquireNotify refused; using StartNotify device=%s handle=%d ", sim.TortureAddress, ind)), map[bool]int{true: 1, false: 0}[tc.fallback]; got != want {
				t.Errorf("%d fallbacks logged at debug level, want %d (log: %q)", got, want, rec.msgs)
			}
		})
	}
}

// TestNotifyFallbackInProgress: while another client of bluetoothd has a StartNotify session on
// the characteristic, AcquireNotify is refused with InProgress (BlueZ 5.66 allows no socket
// then); the default mode joins the notifications through StartNotify instead of failing.
func TestNotifyFallbackInProgress(t *testing.T) {
	env, b, p, rec := notifyEnv(t, bluez.NotifyAuto)
	ctx := ctxT(t)
	other, err := dbus.Connect(env.BusAddress())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	if err := other.Object("org.bluez", charPathOf(env, p, sim.TortureStream)).CallWithContext(ctx, "org.bluez.GattCharacteristic1.StartNotify", 0).Err; err != nil {
		t.Fatal(err)
	}
	const n = 200
	c := newCounter(n)
	if err := d.Subscribe(ctx, sim.TortureStream, c.handle, gogatt.SubscribeOptions{}); err != nil {
		t.Fatalf("Subscribe while another client notifies = %v", err)
	}
	vh := p.ValueHandle(sim.TortureStream)
	for i := range n {
		p.Notify(vh, binary.LittleEndian.AppendUint32(nil, uint32(i)))
	}
	c.inOrder(t)
	if rec.count(fmt.Sprintf("AcquireNotify refused; using StartNotify device=%s handle=%d err=In Progress", sim.TortureAddress, vh)) != 1 {
		t.Errorf("fallback not logged: %q", rec.msgs)
	}
}

// openFiles counts this process's open descriptors; it skips the test where /proc is missing.
func openFiles(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("counting descriptors: %v", err)
	}
	return len(es)
}

// TestAcquireNotifyReleasesSocket: Unsubscribe closes the socket of AcquireNotify — 20
// subscribe/unsubscribe cycles leave this process (which holds both bluetoothd's end, in the
// simulation, and the backend's) with the descriptors it had.
func TestAcquireNotifyReleasesSocket(t *testing.T) {
	env, b, p, _ := notifyEnv(t, bluez.NotifyAuto)
	ctx := ctxT(t)
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	charPath := charPathOf(env, p, sim.TortureStream)
	vh := p.ValueHandle(sim.TortureStream)
	cycle := func() {
		t.Helper()
		c := newCounter(1)
		if err := d.Subscribe(ctx, sim.TortureStream, c.handle, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		p.Notify(vh, binary.LittleEndian.AppendUint32(nil, 0))
		c.inOrder(t)
		if err := d.Unsubscribe(ctx, sim.TortureStream); err != nil {
			t.Fatal(err)
		}
	}
	cycle() // the first socket brings Go's poller up
	before := openFiles(t)
	for range 20 {
		cycle()
	}
	if after := openFiles(t); after != before {
		t.Errorf("%d descriptors open after 20 cycles, %d before", after, before)
	}
	if v, err := busProp(t, env.BusAddress(), charPath, "org.bluez.GattCharacteristic1.NotifyAcquired"); err != nil || v.Value() != false {
		t.Errorf("NotifyAcquired = %v, %v; want false", v, err)
	}
}

// TestAcquireNotifyLinkLoss: a link lost while a socket is acquired ends the socket (the
// descriptors go back to what they were), and after the reconnection the Device acquires a new
// one: values come over it again, in order.
func TestAcquireNotifyLinkLoss(t *testing.T) {
	env, b, p, _ := notifyEnv(t, bluez.NotifyAuto)
	ctx := ctxT(t)
	events := make(chan gogatt.ConnectionEvent, 64)
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{AutoReconnect: true,
		ReconnectMinDelay: 20 * time.Millisecond, ReconnectMaxDelay: 100 * time.Millisecond,
		OnConnectionEvent: func(ev gogatt.ConnectionEvent) { events <- ev }})
	waitKind := func(k gogatt.ConnectionEventKind) gogatt.ConnectionEvent {
		t.Helper()
		for {
			select {
			case ev := <-events:
				if ev.Kind == k {
					return ev
				}
				if ev.Kind == gogatt.EventGaveUp {
					t.Fatalf("gave up: %v", ev.Err)
				}
			case <-time.After(hang):
				t.Fatalf("no %v", k)
			}
		}
	}
	vh := p.ValueHandle(sim.TortureStream)
	// A first socket brings Go's poller up before the count.
	if err := d.Subscribe(ctx, sim.TortureStream, func(uint16, []byte) {}, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Unsubscribe(ctx, sim.TortureStream); err != nil {
		t.Fatal(err)
	}
	base := openFiles(t)
	const n = 100
	c := newCounter(2 * n)
	if err := d.Subscribe(ctx, sim.TortureStream, c.handle, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p.Notify(vh, binary.LittleEndian.AppendUint32(nil, uint32(i)))
	}
	if !waitUntil(func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.got) == n }) {
		t.Fatal("values before the loss missing")
	}
	p.SetInRange(false)
	waitKind(gogatt.EventDisconnected)
	if !waitUntil(func() bool { return openFiles(t) <= base }) {
		t.Errorf("%d descriptors open after the loss, %d before the subscription", openFiles(t), base)
	}
	p.SetInRange(true)
	if ev := waitKind(gogatt.EventReconnected); ev.Err != nil {
		t.Fatalf("reconnected with %v", ev.Err)
	}
	if v, err := busProp(t, env.BusAddress(), charPathOf(env, p, sim.TortureStream), "org.bluez.GattCharacteristic1.NotifyAcquired"); err != nil || v.Value() != true {
		t.Errorf("NotifyAcquired after the reconnection = %v, %v; want true", v, err)
	}
	for i := n; i < 2*n; i++ {
		p.Notify(vh, binary.LittleEndian.AppendUint32(nil, uint32(i)))
	}
	c.inOrder(t)
	if err := d.Unsubscribe(ctx, sim.TortureStream); err != nil {
		t.Fatal(err)
	}
	if got := openFiles(t); got != base {
		t.Errorf("%d descriptors open after Unsubscribe, %d before the subscription", got, base)
	}
}

// TestNotifyModeInvalid: Start refuses a Config.Notify that is none of the modes.
func TestNotifyModeInvalid(t *testing.T) {
	env, _ := newEnv(t, nil)
	b := bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress(), Notify: bluez.NotifyMode(7)})
	if err := b.Start(ctxT(t)); !errors.Is(err, gogatt.ErrInvalidParameter) {
		b.Stop()
		t.Fatalf("Start = %v, want ErrInvalidParameter", err)
	}
}

// TestAcquireNotifyContextEnds: a Subscribe whose context ends while AcquireNotify is in
// progress closes the socket bluetoothd's late reply brings, so that bluetoothd releases the
// notifications (NotifyAcquired false) and the characteristic can be subscribed to again —
// rather than keeping it acquired by a descriptor nobody reads until the link ends.
func TestAcquireNotifyContextEnds(t *testing.T) {
	env, b, p, _ := notifyEnv(t, bluez.NotifyAcquire)
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	charPath := charPathOf(env, p, sim.TortureStream)
	watch, err := dbus.Connect(env.BusAddress())
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	if err := watch.AddMatchSignal(dbus.WithMatchObjectPath(charPath), dbus.WithMatchInterface("org.freedesktop.DBus.Properties")); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan *dbus.Signal, 16)
	watch.Signal(sigs)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	returned := make(chan struct{})
	env.OnAcquireNotify(func() {
		cancel()
		select {
		case <-returned:
		case <-ctxT(t).Done():
		}
	})
	err = d.Subscribe(ctx, sim.TortureStream, func(uint16, []byte) {}, gogatt.SubscribeOptions{})
	close(returned)
	env.OnAcquireNotify(nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe whose context ended in AcquireNotify = %v, want context.Canceled", err)
	}
	timeout := time.After(hang)
	for released := false; !released; {
		select {
		case s := <-sigs:
			if len(s.Body) >= 2 {
				if v, ok := s.Body[1].(map[string]dbus.Variant)["NotifyAcquired"]; ok && v.Value() == false {
					released = true
				}
			}
		case <-timeout:
			t.Fatal("bluetoothd still has the notifications acquired: the late reply's socket was not closed")
		}
	}
	c := newCounter(1)
	if err := d.Subscribe(ctxT(t), sim.TortureStream, c.handle, gogatt.SubscribeOptions{}); err != nil {
		t.Fatalf("Subscribe again: %v", err)
	}
	p.Notify(p.ValueHandle(sim.TortureStream), binary.LittleEndian.AppendUint32(nil, 0))
	c.inOrder(t)
}
