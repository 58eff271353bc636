package gattkit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
)

// fakeDevice is a test double of the gogatt.Device interface: a raw backend device whose link
// the test can break. Notifications go through a real Registry, as in the backends.
type fakeDevice struct {
	addr string
	reg  *Registry

	mu       sync.Mutex
	err      error
	done     chan struct{}
	handles  map[gogatt.UUID]uint16
	subCalls []string
	subErr   map[uint16]error // SubscribeHandle/Subscribe fails with this
	mtu      int
	reads    int
}

func newFake(addr string) *fakeDevice {
	return &fakeDevice{
		addr:    addr,
		reg:     NewRegistry(),
		done:    make(chan struct{}),
		handles: map[gogatt.UUID]uint16{chrHRM: 3, chrBL: 12},
		subErr:  map[uint16]error{},
	}
}

func (f *fakeDevice) lose(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return
	}
	f.err = &gogatt.DisconnectError{Address: f.addr, Reason: reason, Code: 0x0208}
	close(f.done)
	f.reg.CloseAsync()
}

func (f *fakeDevice) check(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return fmt.Errorf("%s: %w", op, f.err)
	}
	return nil
}

func (f *fakeDevice) notify(h uint16, v ...byte) bool { return f.reg.Dispatch(h, v) }

func (f *fakeDevice) Address() string                   { return f.addr }
func (f *fakeDevice) Bond(context.Context, bool) error  { return f.check("bond") }
func (f *fakeDevice) RSSI(context.Context) (int, error) { return -42, f.check("rssi") }
func (f *fakeDevice) Services(context.Context) ([]gogatt.Service, error) {
	return testTree(), f.check("services")
}
func (f *fakeDevice) DiscoverCharacteristics(context.Context) (map[gogatt.UUID][]gogatt.Characteristic, error) {
	return gogatt.CharacteristicMap(testTree()), f.check("discover")
}
func (f *fakeDevice) GetHandle(_ context.Context, u gogatt.UUID) (uint16, error) {
	if err := f.check("get handle"); err != nil {
		return 0, err
	}
	h, ok := f.handles[u]
	if !ok {
		return 0, gogatt.ErrNotFound
	}
	return h, nil
}
func (f *fakeDevice) CharRead(ctx context.Context, u gogatt.UUID) ([]byte, error) {
	h, err := f.GetHandle(ctx, u)
	if err != nil {
		return nil, err
	}
	return f.CharReadHandle(ctx, h)
}
func (f *fakeDevice) CharReadHandle(_ context.Context, h uint16) ([]byte, error) {
	if err := f.check("read"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.reads++
	f.mu.Unlock()
	return []byte{byte(h)}, nil
}
func (f *fakeDevice) CharReadLong(ctx context.Context, u gogatt.UUID) ([]byte, error) {
	return f.CharRead(ctx, u)
}
func (f *fakeDevice) CharReadLongHandle(ctx context.Context, h uint16) ([]byte, error) {
	return f.CharReadHandle(ctx, h)
}
func (f *fakeDevice) CharWrite(context.Context, gogatt.UUID, []byte, bool) error {
	return f.check("write")
}
func (f *fakeDevice) CharWriteHandle(context.Context, uint16, []byte, bool) error {
	return f.check("write")
}
func (f *fakeDevice) CharWriteLong(context.Context, gogatt.UUID, []byte) error {
	return f.check("write")
}
func (f *fakeDevice) CharWriteLongHandle(context.Context, uint16, []byte) error {
	return f.check("write")
}
func (f *fakeDevice) Subscribe(ctx context.Context, u gogatt.UUID, fn gogatt.NotificationHandler, o gogatt.SubscribeOptions) error {
	h, err := f.GetHandle(ctx, u)
	if err != nil {
		return err
	}
	return f.SubscribeHandle(ctx, h, fn, o)
}
func (f *fakeDevice) SubscribeHandle(_ context.Context, h uint16, fn gogatt.NotificationHandler, o gogatt.SubscribeOptions) error {
	if err := f.check("subscribe"); err != nil {
		return err
	}
	f.mu.Lock()
	err := f.subErr[h]
	f.subCalls = append(f.subCalls, fmt.Sprintf("sub %d", h))
	f.mu.Unlock()
	if err != nil {
		return err
	}
	f.reg.Add(h, fn, o)
	return nil
}
func (f *fakeDevice) Unsubscribe(ctx context.Context, u gogatt.UUID) error {
	h, err := f.GetHandle(ctx, u)
	if err != nil {
		return err
	}
	return f.UnsubscribeHandle(ctx, h)
}
func (f *fakeDevice) UnsubscribeHandle(_ context.Context, h uint16) error {
	if err := f.check("unsubscribe"); err != nil {
		return err
	}
	f.mu.Lock()
	f.subCalls = append(f.subCalls, fmt.Sprintf("unsub %d", h))
	f.mu.Unlock()
	f.reg.Remove(h)
	return nil
}
func (f *fakeDevice) ResubscribeAll(context.Context) error { return f.check("resubscribe") }
func (f *fakeDevice) ExchangeMTU(_ context.Context, mtu int) (int, error) {
	if err := f.check("mtu"); err != nil {
		return 0, err
	}
	f.mu.Lock()
	f.mtu = mtu
	f.mu.Unlock()
	return min(mtu, 100), nil
}
func (f *fakeDevice) Disconnect() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = &gogatt.DisconnectError{Address: f.addr, Reason: "local", Local: true}
		close(f.done)
	}
	f.reg.Stop() // as the backends do: Disconnect discards what is queued (also after a loss)
	return nil
}
func (f *fakeDevice) Disconnected() <-chan struct{} { return f.done }
func (f *fakeDevice) SubscriptionStats(h uint16) (gogatt.SubscriptionStats, bool) {
	return f.reg.Stats(h)
}
func (f *fakeDevice) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
func (f *fakeDevice) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.subCalls...)
}

var _ gogatt.Device = (*fakeDevice)(nil)

// eventLog records connection events with their virtual time since start.
type eventLog struct {
	start time.Time
	mu    sync.Mutex
	evs   []string
}

func newEventLog() *eventLog { return &eventLog{start: time.Now()} }

func (l *eventLog) record(ev gogatt.ConnectionEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf("%v %s", time.Since(l.start), ev.Kind)
	if ev.Attempt != 0 {
		s += fmt.Sprintf(" #%d", ev.Attempt)
	}
	if ev.Err != nil {
		s += " err"
	}
	l.evs = append(l.evs, s)
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.evs)
}

// dialer hands out scripted results: an error, or a new fakeDevice.
type dialer struct {
	mu      sync.Mutex
	script  []error // one per attempt; nil = succeed; beyond the script: succeed
	devices []*fakeDevice
	n       int
}

func (d *dialer) dial(ctx context.Context) (gogatt.Device, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.n
	d.n++
	if i < len(d.script) && d.script[i] != nil {
		return nil, d.script[i]
	}
	f := newFake("C0:FF:EE:00:00:01")
	d.devices = append(d.devices, f)
	return f, nil
}

func (d *dialer) last() *fakeDevice {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.devices[len(d.devices)-1]
}

func TestWrapWithoutAutoReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw := newFake("C0:FF:EE:00:00:01")
		log := newEventLog()
		dl := &dialer{}
		w := Wrap(t.Context(), raw, dl.dial, gogatt.ConnectOptions{OnConnectionEvent: log.record})
		if w.Err() != nil {
			t.Fatal("Err while connected")
		}
		var got []byte
		if err := w.Subscribe(t.Context(), chrHRM, func(_ uint16, v []byte) { got = append(got, v...) }, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		raw.notify(3, 1)
		raw.notify(3, 2)
		synctest.Wait()
		raw.lose("connection timeout")
		<-w.Disconnected()
		if fmt.Sprint(got) != "[1 2]" {
			t.Errorf("got %v", got)
		}
		if st, ok := w.(gogatt.SubscriptionStatsReporter).SubscriptionStats(3); !ok || st.Delivered != 2 {
			t.Errorf("forwarded stats: %+v %v", st, ok)
		}
		if dl.n != 0 {
			t.Error("dialled without AutoReconnect")
		}
		var de *gogatt.DisconnectError
		if err := w.Err(); !errors.As(err, &de) || de.Code != 0x0208 || !errors.Is(err, gogatt.ErrNotConnected) {
			t.Errorf("Err = %v", err)
		}
		if _, err := w.CharRead(t.Context(), chrBL); !errors.Is(err, gogatt.ErrNotConnected) {
			t.Errorf("read after loss: %v", err)
		}
		if want := "[0s disconnected err]"; log.String() != want {
			t.Errorf("events %s, want %s", log, want)
		}
		if err := w.Disconnect(); err != nil {
			t.Errorf("Disconnect after loss: %v", err)
		}
	})
}

func TestWrapReconnectsWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw := newFake("C0:FF:EE:00:00:01")
		log := newEventLog()
		refused := errors.New("refused")
		dl := &dialer{script: []error{refused, refused, refused}}
		w := Wrap(t.Context(), raw, dl.dial, gogatt.ConnectOptions{
			AutoReconnect:     true,
			ReconnectBackoff:  gogatt.ExponentialBackoff(100*time.Millisecond, 250*time.Millisecond, 0),
			OnConnectionEvent: log.record,
		})
		var hr, bl []int
		ctx := t.Context()
		if err := w.Subscribe(ctx, chrHRM, func(h uint16, v []byte) { hr = append(hr, int(v[0])) }, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := w.SubscribeHandle(ctx, 12, func(h uint16, v []byte) { bl = append(bl, int(v[0])) }, gogatt.SubscribeOptions{Indication: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ExchangeMTU(ctx, 247); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			raw.notify(3, byte(i))
		}
		raw.lose("connection timeout")
		synctest.Wait()
		// While reconnecting: Err is the loss, calls fail with ErrNotConnected, Disconnected open.
		if err := w.Err(); !errors.Is(err, gogatt.ErrNotConnected) {
			t.Errorf("Err while reconnecting = %v", err)
		}
		if _, err := w.RSSI(ctx); !errors.Is(err, gogatt.ErrNotConnected) {
			t.Errorf("RSSI while reconnecting = %v", err)
		}
		select {
		case <-w.Disconnected():
			t.Fatal("Disconnected closed while reconnecting")
		default:
		}
		time.Sleep(time.Second) // virtual: attempts at 0, 100, 300, 550 ms
		synctest.Wait()
		want := "[0s disconnected err 0s reconnecting #1 100ms reconnecting #2 300ms reconnecting #3 550ms reconnecting #4 550ms reconnected #4]"
		if log.String() != want {
			t.Errorf("events\n %s\nwant\n %s", log, want)
		}
		nd := dl.last()
		if got := fmt.Sprint(nd.calls()); got != "[sub 3 sub 12]" {
			t.Errorf("re-applied %s", got)
		}
		if subs := nd.reg.Subscriptions(); !subs[12].Indication {
			t.Errorf("options not re-applied: %v", subs)
		}
		if nd.mtu != 247 {
			t.Errorf("MTU not re-applied: %d", nd.mtu)
		}
		if w.Err() != nil {
			t.Errorf("Err after reconnect = %v", w.Err())
		}
		for i := 3; i < 6; i++ {
			nd.notify(3, byte(i))
		}
		nd.notify(12, 99)
		if _, err := w.CharRead(ctx, chrBL); err != nil {
			t.Errorf("read after reconnect: %v", err)
		}
		synctest.Wait()
		if fmt.Sprint(hr, bl) != "[0 1 2 3 4 5] [99]" {
			t.Errorf("delivered %v %v", hr, bl)
		}
		if st, ok := w.(gogatt.SubscriptionStatsReporter).SubscriptionStats(3); !ok || st.Delivered != 6 || st.Received != 6 {
			t.Errorf("stats across reconnection: %+v %v", st, ok)
		}
		if err := w.Disconnect(); err != nil {
			t.Fatal(err)
		}
		<-w.Disconnected()
		var de *gogatt.DisconnectError
		if !errors.As(w.Err(), &de) || !de.Local {
			t.Errorf("Err after Disconnect = %v", w.Err())
		}
		if nd.Err() == nil {
			t.Error("raw device not disconnected")
		}
	})
}

func TestWrapGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw := newFake("C0:FF:EE:00:00:01")
		log := newEventLog()
		refused := errors.New("refused")
		dl := &dialer{script: []error{refused, refused, refused, refused}}
		w := Wrap(t.Context(), raw, dl.dial, gogatt.ConnectOptions{
			AutoReconnect:     true,
			ReconnectBackoff:  gogatt.ExponentialBackoff(100*time.Millisecond, time.Second, 0),
			ReconnectAttempts: 3,
			OnConnectionEvent: log.record,
		})
		raw.lose("connection timeout")
		<-w.Disconnected()
		want := "[0s disconnected err 0s reconnecting #1 100ms reconnecting #2 300ms reconnecting #3 300ms gave up err]"
		if log.String() != want {
			t.Errorf("events\n %s\nwant\n %s", log, want)
		}
		var de *gogatt.DisconnectError
		if err := w.Err(); !errors.As(err, &de) || !errors.Is(err, gogatt.ErrNotConnected) {
			t.Errorf("Err = %v", err)
		}
		if _, err := w.CharRead(t.Context(), chrBL); !errors.Is(err, gogatt.ErrNotConnected) {
			t.Errorf("read after giving up: %v", err)
		}
	})
}

// The wrapper waits what the policy says, before the first attempt too, asking it with the
// number of failed attempts so far.
func TestWrapUsesBackoffPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw := newFake("C0:FF:EE:00:00:01")
		log := newEventLog()
		refused := errors.New("refused")
		dl := &dialer{script: []error{refused, refused, refused}}
		var mu sync.Mutex
		var asked []int
		w := Wrap(t.Context(), raw, dl.dial, gogatt.ConnectOptions{
			AutoReconnect: true,
			ReconnectBackoff: func(failures int) time.Duration {
				mu.Lock()
				asked = append(asked, failures)
				mu.Unlock()
				return []time.Duration{30 * time.Millisecond, 70 * time.Millisecond, -time.Second, 200 * time.Millisecond}[failures]
			},
			OnConnectionEvent: log.record,
		})
		raw.lose("connection timeout")
		time.Sleep(time.Second)
		synctest.Wait()
		want := "[0s disconnected err 30ms reconnecting #1 100ms reconnecting #2 100ms reconnecting #3 300ms reconnecting #4 300ms reconnected #4]"
		if log.String() != want {
			t.Errorf("events\n %s\nwant\n %s", log, want)
		}
		mu.Lock()
		if fmt.Sprint(asked) != "[0 1 2 3]" {
			t.Errorf("policy asked with %v, want [0 1 2 3]", asked)
		}
		mu.Unlock()
		if err := w.Disconnect(); err != nil {
			t.Fatal(err)
		}
	})
}

// The default policy is the documented one — at once, then ReconnectMinDelay doubling up to
// ReconnectMaxDelay, each delay in [0.8·d, d] — and Devices that lost their links at the same
// moment (an adapter reset) do not redial in lockstep.
func TestWrapDefaultBackoffDesynchronises(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const devices, attempts = 3, 7
		start := time.Now()
		var mu sync.Mutex
		at := make([][]time.Duration, devices)
		var ws []gogatt.Device
		var raws []*fakeDevice
		for i := range devices {
			raw := newFake("C0:FF:EE:00:00:01")
			refused := errors.New("refused")
			dl := &dialer{script: slices.Repeat([]error{refused}, attempts)}
			ws = append(ws, Wrap(t.Context(), raw, dl.dial, gogatt.ConnectOptions{
				AutoReconnect:     true,
				ReconnectAttempts: attempts,
				OnConnectionEvent: func(e gogatt.ConnectionEvent) {
					if e.Kind == gogatt.EventReconnecting {
						mu.Lock()
						at[i] = append(at[i], time.Since(start))
						mu.Unlock()
					}
				},
			}))
			raws = append(raws, raw)
		}
		for _, raw := range raws {
			raw.lose("adapter reset")
		}
		for _, w := range ws {
			<-w.Disconnected()
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		for i, times := range at {
			if len(times) != attempts || times[0] != 0 {
				t.Fatalf("device %d: attempts at %v, want %d, the first at once", i, times, attempts)
			}
			d := gogatt.DefaultReconnectMinDelay
			for n := 1; n < attempts; n++ {
				gap := times[n] - times[n-1]
				if lo := d - d/5; gap < lo || gap > d {
					t.Errorf("device %d: %v between attempts %d and %d, want within [%v, %v]", i, gap, n, n+1, lo, d)
				}
				d = min(2*d, gogatt.DefaultReconnectMaxDelay)
			}
		}
		for i := 1; i < devices; i++ {
			if slices.Equal(at[0][1:], at[i][1:]) {
				t.Errorf("devices 0 and %d redial in lockstep: %v", i, at[0])
			}
		}
	})
}

// A dial that hangs is bounded by the connect timeout; Disconnect during backoff stops at once.
func TestWrapDisconnectDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw := newFake("C0:FF:EE:00:00:01")
		log := newEventLog()
		hang := func(ctx context.Context) (gogatt.Device, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		w := Wrap(t.Context(), raw, hang, gogatt.ConnectOptions{
			AutoReconnect:     true,
			Timeout:           time.Second,
			OnConnectionEvent: log.record,
		})
		raw.lose("connection timeout")
		time.Sleep(1050 * time.Millisecond)
		synctest.Wait()
		if err := w.Disconnect(); err != nil {
			t.Fatal(err)
		}
		<-w.Disconnected()
		want := "[0s disconnected err 0s reconnecting #1]"
		if log.String() != want {
			t.Errorf("events %s, want %s", log, want)
		}
		if time.Since(log.start) != 1050*time.Millisecond {
			t.Errorf("Disconnect took until %v", time.Since(log.start))
		}
		var de *gogatt.DisconnectError
		if !errors.As(w.Err(), &de) || !de.Local {
			t.Errorf("Err = %v", w.Err())
		}
		w.Disconnect() // idempotent
	})
}

// Unsubscribing while reconnecting means the subscription is not restored; a subscription that
// fails to re-apply is reported in EventReconnected and kept.
func TestWrapResubscribeChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw := newFake("C0:FF:EE:00:00:01")
		log := newEventLog()
		gate := make(chan struct{})
		var dl dialer
		dial := func(ctx context.Context) (gogatt.Device, error) {
			<-gate
			d, _ := dl.dial(ctx)
			d.(*fakeDevice).subErr[12] = &gogatt.ATTError{Op: "subscribe", Handle: 13, Code: 0x05}
			return d, nil
		}
		w := Wrap(t.Context(), raw, dial, gogatt.ConnectOptions{AutoReconnect: true, OnConnectionEvent: log.record})
		ctx := t.Context()
		nop := func(uint16, []byte) {}
		for _, u := range []gogatt.UUID{chrHRM, chrBL} {
			if err := w.Subscribe(ctx, u, nop, gogatt.SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.SubscribeHandle(ctx, 6, nop, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		raw.lose("gone")
		synctest.Wait()
		if err := w.UnsubscribeHandle(ctx, 3); err != nil { // subscribed by UUID, removed by handle
			t.Errorf("UnsubscribeHandle while reconnecting: %v", err)
		}
		close(gate)
		synctest.Wait()
		if got := fmt.Sprint(dl.last().calls()); got != "[sub 12 sub 6]" {
			t.Errorf("re-applied %s", got)
		}
		if want := "[0s disconnected err 0s reconnecting #1 0s reconnected #1 err]"; log.String() != want {
			t.Errorf("events %s, want %s", log, want)
		}
		// The failed one stays registered: it is tried again after the next loss.
		dl.last().lose("again")
		synctest.Wait()
		if got := fmt.Sprint(dl.last().calls()); got != "[sub 12 sub 6]" {
			t.Errorf("re-applied after second loss %s", got)
		}
		w.Disconnect()
	})
}

// Handlers and event callbacks may call the Device, including Subscribe, Unsubscribe and
// Disconnect, without deadlock.
func TestWrapReentrantCallbacks(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(fmt.Sprintf("AutoReconnect=%v", auto), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				raw := newFake("C0:FF:EE:00:00:01")
				var w gogatt.Device
				var dl dialer
				reads := 0
				w = Wrap(t.Context(), raw, dl.dial, gogatt.ConnectOptions{
					AutoReconnect: auto,
					OnConnectionEvent: func(ev gogatt.ConnectionEvent) {
						if ev.Kind == gogatt.EventReconnected {
							_ = w.Disconnect()
						}
					},
				})
				ctx := t.Context()
				err := w.Subscribe(ctx, chrHRM, func(h uint16, v []byte) {
					if _, err := w.CharRead(ctx, chrBL); err == nil {
						reads++
					}
					_ = w.Unsubscribe(ctx, chrHRM)
					_ = w.SubscribeHandle(ctx, 12, func(uint16, []byte) {}, gogatt.SubscribeOptions{})
				}, gogatt.SubscribeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				raw.notify(3, 1)
				synctest.Wait()
				if reads != 1 {
					t.Errorf("reads from handler = %d", reads)
				}
				if got := fmt.Sprint(raw.calls()); got != "[sub 3 unsub 3 sub 12]" {
					t.Errorf("calls %s", got)
				}
				raw.lose("gone")
				<-w.Disconnected()
				if !auto {
					w.Disconnect()
				}
			})
		})
	}
}

// Values keep their order across a reconnection even when the old device's queue is still
// delivering while the new device's values arrive.
func TestWrapOrderAcrossReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw := newFake("C0:FF:EE:00:00:01")
		var dl dialer
		w := Wrap(t.Context(), raw, dl.dial, gogatt.ConnectOptions{AutoReconnect: true})
		release := make(chan struct{})
		var got []int
		err := w.Subscribe(t.Context(), chrHRM, func(_ uint16, v []byte) {
			<-release
			got = append(got, int(v[0]))
		}, gogatt.SubscribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			raw.notify(3, byte(i))
		}
		raw.lose("gone")
		synctest.Wait()
		nd := dl.last()
		for i := 50; i < 100; i++ {
			nd.notify(3, byte(i))
		}
		close(release)
		synctest.Wait()
		if len(got) != 100 {
			t.Fatalf("got %d values", len(got))
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("got[%d] = %d", i, v)
			}
		}
		w.Disconnect()
	})
}

// BenchmarkWrapDelivery measures Dispatch → handler through the raw registry and, with
// AutoReconnect, the wrapper's own ordering queue.
func BenchmarkWrapDelivery(b *testing.B) {
	for _, auto := range []bool{false, true} {
		b.Run(fmt.Sprintf("AutoReconnect=%v", auto), func(b *testing.B) {
			raw := newFake("C0:FF:EE:00:00:01")
			var dl dialer
			w := Wrap(context.Background(), raw, dl.dial, gogatt.ConnectOptions{AutoReconnect: auto})
			var mu sync.Mutex
			n := 0
			done := make(chan struct{})
			target := b.N
			err := w.SubscribeHandle(context.Background(), 3, func(uint16, []byte) {
				mu.Lock()
				n++
				if n == target {
					close(done)
				}
				mu.Unlock()
			}, gogatt.SubscribeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			v := make([]byte, 20)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				raw.notify(3, v...)
			}
			<-done
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
			w.Disconnect()
			<-w.Disconnected()
			raw.reg.Close()
		})
	}
}

// With AutoReconnect, Disconnect — from outside or from the blocked handler itself — discards
// the values waiting in the wrapper's queue (counted), and no handler call starts after it
// returns; the call that was running finishes.
func TestWrapDisconnectDiscardsQueued(t *testing.T) {
	for _, inside := range []bool{false, true} {
		t.Run(fmt.Sprintf("fromHandler=%v", inside), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				raw := newFake("C0:FF:EE:00:00:01")
				var dl dialer
				w := Wrap(t.Context(), raw, dl.dial, gogatt.ConnectOptions{AutoReconnect: true})
				backlog, release := make(chan struct{}), make(chan struct{})
				disconnected := make(chan error, 1)
				calls := 0
				err := w.SubscribeHandle(t.Context(), 3, func(uint16, []byte) {
					if calls++; calls > 1 {
						return
					}
					<-backlog
					if inside {
						disconnected <- w.Disconnect()
					}
					<-release
				}, gogatt.SubscribeOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for i := range 50 {
					raw.notify(3, byte(i))
				}
				synctest.Wait()
				close(backlog)
				if !inside {
					disconnected <- w.Disconnect()
				}
				if err := <-disconnected; err != nil {
					t.Fatal(err)
				}
				stats := w.(gogatt.SubscriptionStatsReporter)
				if st, _ := stats.SubscriptionStats(3); st.Queued != 0 || st.Received != 50 {
					t.Errorf("after Disconnect: %+v", st)
				}
				close(release)
				synctest.Wait()
				if calls != 1 {
					t.Errorf("handler called %d times, want 1: delivery went on after Disconnect", calls)
				}
				if st, _ := stats.SubscriptionStats(3); st.Delivered != 1 || st.Discarded != 49 {
					t.Errorf("after the blocked call: %+v", st)
				}
				<-w.Disconnected()
			})
		})
	}
}

// groupedFake is a raw device whose deliveries belong to a Group, as the backends' are.
type groupedFake struct {
	*fakeDevice
	g *Group
}

func (f groupedFake) DeliveryGroup() *Group { return f.g }

// After a loss the wrapper's queues still deliver what arrived before it, even once the Device
// has given up; the Stop of the backend's group (Backend.Stop) discards it, and no handler call
// starts afterwards.
func TestWrapGroupStopEndsDrainingQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group
		raw := newFake("C0:FF:EE:00:00:01")
		raw.reg = g.NewRegistry()
		dl := &dialer{script: []error{errors.New("refused")}}
		w := Wrap(t.Context(), groupedFake{raw, &g}, dl.dial, gogatt.ConnectOptions{AutoReconnect: true, ReconnectAttempts: 1})
		release := make(chan struct{})
		calls := 0
		if err := w.SubscribeHandle(t.Context(), 3, func(uint16, []byte) {
			if calls++; calls == 1 {
				<-release
			}
		}, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			raw.notify(3, byte(i))
		}
		raw.lose("connection timeout")
		<-w.Disconnected() // gave up
		synctest.Wait()    // the first value is in the blocked handler
		stats := w.(gogatt.SubscriptionStatsReporter)
		if st, _ := stats.SubscriptionStats(3); st.Queued != 19 {
			t.Errorf("after giving up, still draining: %+v", st)
		}
		g.Stop()
		if st, _ := stats.SubscriptionStats(3); st.Queued != 0 || st.Discarded != 19 {
			t.Errorf("after the group's Stop: %+v", st)
		}
		close(release)
		synctest.Wait()
		if calls != 1 {
			t.Errorf("handler called %d times, want 1", calls)
		}
		w.Disconnect()
	})
}
