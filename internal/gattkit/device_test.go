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
	"github.com/gogatt/gogatt/bt"
)

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

// mustConnect connects over dl or fails the test.
func mustConnect(t *testing.T, dl *linkDialer, opts gogatt.ConnectOptions, g *Group) (gogatt.Device, *fakeLink) {
	t.Helper()
	dev, l, err := dl.connect(t.Context(), opts, g)
	if err != nil {
		t.Fatal(err)
	}
	return dev, l
}

func statsOf(d gogatt.Device, h uint16) (gogatt.SubscriptionStats, bool) {
	return d.(gogatt.SubscriptionStatsReporter).SubscriptionStats(h)
}

func TestDeviceWithoutAutoReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := newEventLog()
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{OnConnectionEvent: log.record}, nil)
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
		if st, ok := statsOf(w, 3); !ok || st.Delivered != 2 {
			t.Errorf("stats: %+v %v", st, ok)
		}
		if n := dl.dials(); n != 1 {
			t.Errorf("dialled %d times without AutoReconnect, want 1 (Connect's)", n)
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

func TestDeviceReconnectsWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := newEventLog()
		refused := errors.New("refused")
		dl := &linkDialer{script: []error{refused, refused, refused}}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{
			AutoReconnect:     true,
			ReconnectBackoff:  gogatt.ExponentialBackoff(100*time.Millisecond, 250*time.Millisecond, 0),
			OnConnectionEvent: log.record,
		}, nil)
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
		// The MTU first, then every subscription with its options (12 as an indication).
		if got := fmt.Sprint(nd.calls("cfg", "mtu")); got != "[mtu 247 cfg 3 on cfg 12 ind]" {
			t.Errorf("re-applied %s", got)
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
		if st, ok := statsOf(w, 3); !ok || st.Delivered != 6 || st.Received != 6 {
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
			t.Error("link not closed")
		}
	})
}

func TestDeviceGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := newEventLog()
		refused := errors.New("refused")
		dl := &linkDialer{script: []error{refused, refused, refused, refused}}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{
			AutoReconnect:     true,
			ReconnectBackoff:  gogatt.ExponentialBackoff(100*time.Millisecond, time.Second, 0),
			ReconnectAttempts: 3,
			OnConnectionEvent: log.record,
		}, nil)
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
		if n := dl.dials(); n != 4 {
			t.Errorf("dialled %d times, want 1 + 3 attempts", n)
		}
	})
}

// The Device waits what the policy says, before the first attempt too, asking it with the
// number of failed attempts so far.
func TestDeviceUsesBackoffPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := newEventLog()
		refused := errors.New("refused")
		dl := &linkDialer{script: []error{refused, refused, refused}}
		var mu sync.Mutex
		var asked []int
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{
			AutoReconnect: true,
			ReconnectBackoff: func(failures int) time.Duration {
				mu.Lock()
				asked = append(asked, failures)
				mu.Unlock()
				return []time.Duration{30 * time.Millisecond, 70 * time.Millisecond, -time.Second, 200 * time.Millisecond}[failures]
			},
			OnConnectionEvent: log.record,
		}, nil)
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
func TestDeviceDefaultBackoffDesynchronises(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const devices, attempts = 3, 7
		start := time.Now()
		var mu sync.Mutex
		at := make([][]time.Duration, devices)
		var ws []gogatt.Device
		var raws []*fakeLink
		for i := range devices {
			refused := errors.New("refused")
			dl := &linkDialer{script: slices.Repeat([]error{refused}, attempts)}
			w, raw := mustConnect(t, dl, gogatt.ConnectOptions{
				AutoReconnect:     true,
				ReconnectAttempts: attempts,
				OnConnectionEvent: func(e gogatt.ConnectionEvent) {
					if e.Kind == gogatt.EventReconnecting {
						mu.Lock()
						at[i] = append(at[i], time.Since(start))
						mu.Unlock()
					}
				},
			}, nil)
			ws = append(ws, w)
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
func TestDeviceDisconnectDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := newEventLog()
		dl := &linkDialer{before: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{
			AutoReconnect:     true,
			Timeout:           time.Second,
			OnConnectionEvent: log.record,
		}, nil)
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
func TestDeviceResubscribeChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := newEventLog()
		gate := make(chan struct{})
		dl := &linkDialer{
			before: func(context.Context) error { <-gate; return nil },
			setup: func(i int, l *fakeLink) {
				if i > 0 {
					l.failOn("cfg 12", &gogatt.ATTError{Op: "subscribe", Handle: 13, Code: 0x05})
				}
			},
		}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true, OnConnectionEvent: log.record}, nil)
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
		if got := fmt.Sprint(dl.last().calls("cfg")); got != "[cfg 12 on cfg 6 on]" {
			t.Errorf("re-applied %s", got)
		}
		if want := "[0s disconnected err 0s reconnecting #1 0s reconnected #1 err]"; log.String() != want {
			t.Errorf("events %s, want %s", log, want)
		}
		// The failed one stays registered: it is tried again after the next loss.
		dl.last().lose("again")
		synctest.Wait()
		if n := dl.dials(); n != 3 {
			t.Fatalf("%d dials, want 3", n)
		}
		if got := fmt.Sprint(dl.last().calls("cfg")); got != "[cfg 12 on cfg 6 on]" {
			t.Errorf("re-applied after second loss %s", got)
		}
		w.Disconnect()
	})
}

// Handlers and event callbacks may call the Device, including Subscribe, Unsubscribe and
// Disconnect, without deadlock.
func TestDeviceReentrantCallbacks(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(fmt.Sprintf("AutoReconnect=%v", auto), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var w gogatt.Device // assigned before the link is lost, so before any callback runs
				dl := &linkDialer{}
				reads := 0
				w, raw := mustConnect(t, dl, gogatt.ConnectOptions{
					AutoReconnect: auto,
					OnConnectionEvent: func(ev gogatt.ConnectionEvent) {
						if ev.Kind == gogatt.EventReconnected {
							_ = w.Disconnect()
						}
					},
				}, nil)
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
				if got := fmt.Sprint(raw.calls("cfg")); got != "[cfg 3 on cfg 3 off cfg 12 on]" {
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

// Values keep their order across a reconnection even when the old link's values are still
// being delivered while the new link's arrive.
func TestDeviceOrderAcrossReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true}, nil)
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
		if nd == raw {
			t.Fatal("not reconnected")
		}
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

// BenchmarkDeviceDelivery measures Sink → handler through the Device's registry.
func BenchmarkDeviceDelivery(b *testing.B) {
	for _, auto := range []bool{false, true} {
		b.Run(fmt.Sprintf("AutoReconnect=%v", auto), func(b *testing.B) {
			dl := &linkDialer{}
			w, raw, err := dl.connect(context.Background(), gogatt.ConnectOptions{AutoReconnect: auto}, nil)
			if err != nil {
				b.Fatal(err)
			}
			var mu sync.Mutex
			n := 0
			done := make(chan struct{})
			target := b.N
			err = w.SubscribeHandle(context.Background(), 3, func(uint16, []byte) {
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
		})
	}
}

// With AutoReconnect, Disconnect — from outside or from the blocked handler itself — discards
// the values waiting in the queue (counted), and no handler call starts after it returns; the
// call that was running finishes.
func TestDeviceDisconnectDiscardsQueued(t *testing.T) {
	for _, inside := range []bool{false, true} {
		t.Run(fmt.Sprintf("fromHandler=%v", inside), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dl := &linkDialer{}
				w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true}, nil)
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
				if st, _ := statsOf(w, 3); st.Queued != 0 || st.Received != 50 {
					t.Errorf("after Disconnect: %+v", st)
				}
				close(release)
				synctest.Wait()
				if calls != 1 {
					t.Errorf("handler called %d times, want 1: delivery went on after Disconnect", calls)
				}
				if st, _ := statsOf(w, 3); st.Delivered != 1 || st.Discarded != 49 {
					t.Errorf("after the blocked call: %+v", st)
				}
				<-w.Disconnected()
			})
		})
	}
}

// After a loss the queues still deliver what arrived before it, even once the Device has given
// up; the Stop of the backend's group (Backend.Stop) discards it, and no handler call starts
// afterwards.
func TestDeviceGroupStopEndsDrainingQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group
		dl := &linkDialer{script: []error{errors.New("refused")}}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true, ReconnectAttempts: 1}, &g)
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
		if st, _ := statsOf(w, 3); st.Queued != 19 {
			t.Errorf("after giving up, still draining: %+v", st)
		}
		g.Stop()
		if st, _ := statsOf(w, 3); st.Queued != 0 || st.Discarded != 19 {
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

// A Device made in a stopped group delivers nothing (Backend.Stop already returned).
func TestDeviceConnectInStoppedGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group
		g.Stop()
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{}, &g)
		calls := 0
		if err := w.SubscribeHandle(t.Context(), 3, func(uint16, []byte) { calls++ }, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		raw.notify(3, 1)
		synctest.Wait()
		if calls != 0 {
			t.Errorf("handler called %d times in a stopped group", calls)
		}
		w.Disconnect()
	})
}

// Unsubscribe of a characteristic never subscribed through this Device still writes 0 to its
// CCCD: the peer may keep notifications on from an earlier connection.
func TestDeviceUnsubscribeNeverSubscribed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{}, nil)
		ctx := t.Context()
		if err := w.UnsubscribeHandle(ctx, 12); err != nil {
			t.Fatal(err)
		}
		if err := w.Unsubscribe(ctx, chrHRM); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(raw.calls("cfg")); got != "[cfg 12 off cfg 3 off]" {
			t.Errorf("calls %s, want [cfg 12 off cfg 3 off]", got)
		}
		// Without a CCCD there is nothing to clear.
		if err := w.UnsubscribeHandle(ctx, 18); !errors.Is(err, gogatt.ErrNotFound) {
			t.Errorf("UnsubscribeHandle without CCCD = %v, want ErrNotFound", err)
		}
		w.Disconnect()
	})
}

// A re-subscription (same value handle, new handler) whose configuration fails leaves the
// subscription in force, with its old handler; a new one whose configuration fails is
// forgotten.
func TestDeviceResubscribeFailureKeepsOld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{}, nil)
		ctx := t.Context()
		var old, repl []byte
		if err := w.SubscribeHandle(ctx, 3, func(_ uint16, v []byte) { old = append(old, v...) }, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		refused := &gogatt.ATTError{Op: "write", Handle: 4, Code: 0x0e}
		raw.failOn("cfg", refused)
		err := w.Subscribe(ctx, chrHRM, func(_ uint16, v []byte) { repl = append(repl, v...) }, gogatt.SubscribeOptions{})
		if !errors.Is(err, refused) {
			t.Fatalf("re-subscribe = %v, want the link's error", err)
		}
		if !raw.notify(3, 7) {
			t.Error("value of the kept subscription not wanted")
		}
		synctest.Wait()
		if fmt.Sprint(old, repl) != "[7] []" {
			t.Errorf("old handler got %v, new %v; want the old one to stay in force", old, repl)
		}
		if err := w.SubscribeHandle(ctx, 6, func(uint16, []byte) { t.Error("forgotten subscription delivered") }, gogatt.SubscribeOptions{}); !errors.Is(err, refused) {
			t.Fatalf("new subscription = %v, want the link's error", err)
		}
		if raw.notify(6, 1) {
			t.Error("value of a failed new subscription wanted")
		}
		if _, ok := statsOf(w, 6); ok {
			t.Error("failed new subscription has stats")
		}
		synctest.Wait()
		// Only the kept one is re-applied.
		raw.failOn("cfg", nil)
		if err := w.ResubscribeAll(ctx); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(raw.calls("cfg")); got != "[cfg 3 on cfg 3 on cfg 6 on cfg 3 on]" {
			t.Errorf("calls %s", got)
		}
		w.Disconnect()
	})
}

// ResubscribeAll tries every subscription even when some fail, and joins their errors.
func TestDeviceResubscribeAllJoinsErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{}, nil)
		ctx := t.Context()
		nop := func(uint16, []byte) {}
		for _, h := range []uint16{3, 6, 12} {
			if err := w.SubscribeHandle(ctx, h, nop, gogatt.SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		e3, e12 := errors.New("cccd 4 refused"), errors.New("cccd 13 refused")
		raw.failOn("cfg 3", e3)
		raw.failOn("cfg 12", e12)
		err := w.ResubscribeAll(ctx)
		if !errors.Is(err, e3) || !errors.Is(err, e12) {
			t.Errorf("ResubscribeAll = %v, want both errors", err)
		}
		if got := fmt.Sprint(raw.calls("cfg")[3:]); got != "[cfg 3 on cfg 6 on cfg 12 on]" {
			t.Errorf("tried %s, want all three", got)
		}
		// The failed ones stay subscribed.
		for _, h := range []uint16{3, 6, 12} {
			if !raw.notify(h, 1) {
				t.Errorf("handle %d no longer subscribed", h)
			}
		}
		synctest.Wait()
		w.Disconnect()
	})
}

// SubscriptionStats count across a reconnection: received, delivered and dropped on both links
// add up in one subscription's counters.
func TestDeviceStatsAcrossReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true}, nil)
		release := make(chan struct{})
		var got []byte
		if err := w.Subscribe(t.Context(), chrHRM, func(_ uint16, v []byte) {
			<-release
			got = append(got, v...)
		}, gogatt.SubscribeOptions{QueueLimit: 2}); err != nil {
			t.Fatal(err)
		}
		raw.notify(3, 0)
		synctest.Wait() // 0 is in the handler
		// 1 is dropped when 3 arrives; 2 and 3 wait.
		for i := 1; i < 4; i++ {
			raw.notify(3, byte(i))
		}
		raw.lose("gone")
		synctest.Wait()
		nd := dl.last()
		if nd == raw || w.Err() != nil {
			t.Fatalf("not reconnected: %v", w.Err())
		}
		nd.notify(3, 4) // drops 2
		if st, ok := statsOf(w, 3); !ok || st.Received != 5 || st.Dropped != 2 || st.Queued != 2 {
			t.Errorf("before release: %+v %v", st, ok)
		}
		close(release)
		synctest.Wait()
		if st, _ := statsOf(w, 3); st.Received != 5 || st.Delivered != 3 || st.Dropped != 2 || st.Queued != 0 {
			t.Errorf("after release: %+v", st)
		}
		if fmt.Sprint(got) != "[0 3 4]" {
			t.Errorf("delivered %v", got)
		}
		w.Disconnect()
	})
}

// Arguments the Device can tell are wrong fail with ErrInvalidParameter and reach no link.
func TestDeviceInvalidParameters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{}, nil)
		ctx := t.Context()
		if _, err := w.Services(ctx); err != nil { // warm the cache: by-UUID calls need no discovery
			t.Fatal(err)
		}
		before := len(raw.calls())
		nop := func(uint16, []byte) {}
		big := make([]byte, 513)
		for name, call := range map[string]func() error{
			"CharReadHandle 0":      func() error { _, err := w.CharReadHandle(ctx, 0); return err },
			"CharReadLongHandle 0":  func() error { _, err := w.CharReadLongHandle(ctx, 0); return err },
			"CharWriteHandle 0":     func() error { return w.CharWriteHandle(ctx, 0, []byte{1}, true) },
			"CharWriteHandle 0 cmd": func() error { return w.CharWriteHandle(ctx, 0, []byte{1}, false) },
			"CharWriteLongHandle 0": func() error { return w.CharWriteLongHandle(ctx, 0, []byte{1}) },
			"SubscribeHandle 0":     func() error { return w.SubscribeHandle(ctx, 0, nop, gogatt.SubscribeOptions{}) },
			"UnsubscribeHandle 0":   func() error { return w.UnsubscribeHandle(ctx, 0) },
			"CharWriteHandle 513":   func() error { return w.CharWriteHandle(ctx, 12, big, true) },
			"CharWriteHandle 513 cmd": func() error {
				return w.CharWriteHandle(ctx, 12, big, false)
			},
			"CharWriteLongHandle 513": func() error { return w.CharWriteLongHandle(ctx, 12, big) },
			"CharWrite 513":           func() error { return w.CharWrite(ctx, chrBL, big, true) },
			"CharWriteLong 513":       func() error { return w.CharWriteLong(ctx, chrBL, big) },
			"ExchangeMTU 22":          func() error { _, err := w.ExchangeMTU(ctx, 22); return err },
			"ExchangeMTU 518":         func() error { _, err := w.ExchangeMTU(ctx, 518); return err },
			"ExchangeMTU 0":           func() error { _, err := w.ExchangeMTU(ctx, 0); return err },
			"Subscribe nil":           func() error { return w.Subscribe(ctx, chrHRM, nil, gogatt.SubscribeOptions{}) },
			"SubscribeHandle nil":     func() error { return w.SubscribeHandle(ctx, 3, nil, gogatt.SubscribeOptions{}) },
		} {
			if err := call(); !errors.Is(err, gogatt.ErrInvalidParameter) {
				t.Errorf("%s = %v, want ErrInvalidParameter", name, err)
			}
		}
		if got := raw.calls()[before:]; len(got) != 0 {
			t.Errorf("invalid calls reached the link: %v", got)
		}
		// The bounds themselves are valid.
		if err := w.CharWriteHandle(ctx, 12, big[:512], true); err != nil {
			t.Errorf("512-byte write: %v", err)
		}
		for _, mtu := range []int{23, 517} {
			if _, err := w.ExchangeMTU(ctx, mtu); err != nil {
				t.Errorf("ExchangeMTU(%d): %v", mtu, err)
			}
		}
		if got := fmt.Sprint(raw.calls()[before:]); got != "[write 12 mtu 23 mtu 517]" {
			t.Errorf("valid calls %s", got)
		}
		w.Disconnect()
	})
}

// Subscribing to a characteristic that cannot send what is asked for is ErrUnsupported; to one
// without a CCCD, ErrNotFound. Neither reaches the link.
func TestDeviceSubscribeChecksCharacteristic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{}, nil)
		ctx := t.Context()
		nop := func(uint16, []byte) {}
		for _, tc := range []struct {
			name   string
			handle uint16
			opts   gogatt.SubscribeOptions
			want   error
		}{
			{"read only", 15, gogatt.SubscribeOptions{}, gogatt.ErrUnsupported},
			{"indication of a notify-only characteristic", 3, gogatt.SubscribeOptions{Indication: true}, gogatt.ErrUnsupported},
			{"notify without CCCD", 18, gogatt.SubscribeOptions{}, gogatt.ErrNotFound},
			{"no characteristic there", 4, gogatt.SubscribeOptions{}, gogatt.ErrNotFound},
		} {
			if err := w.SubscribeHandle(ctx, tc.handle, nop, tc.opts); !errors.Is(err, tc.want) {
				t.Errorf("%s: SubscribeHandle(%d) = %v, want %v", tc.name, tc.handle, err, tc.want)
			}
			if _, ok := statsOf(w, tc.handle); ok {
				t.Errorf("%s: subscription registered", tc.name)
			}
		}
		if err := w.Subscribe(ctx, chrNoCCCD, nop, gogatt.SubscribeOptions{}); !errors.Is(err, gogatt.ErrNotFound) {
			t.Errorf("Subscribe(fff2) = %v, want ErrNotFound", err)
		}
		if got := raw.calls("cfg"); len(got) != 0 {
			t.Errorf("refused subscriptions reached the link: %v", got)
		}
		w.Disconnect()
	})
}

// Connect checks its arguments before dialling, and returns the dialler's error as it is.
func TestDeviceConnectErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := &linkDialer{}
		for _, addr := range []string{"", "xx", "C0:FF:EE:00:00"} {
			if _, err := Connect(t.Context(), addr, gogatt.ConnectOptions{}, Config{Dial: dl.dial}); !errors.Is(err, gogatt.ErrInvalidParameter) {
				t.Errorf("Connect(%q) = %v, want ErrInvalidParameter", addr, err)
			}
		}
		if n := dl.dials(); n != 0 {
			t.Errorf("dialled %d times for invalid addresses", n)
		}
		refused := errors.New("refused")
		_, err := Connect(t.Context(), fakeAddr, gogatt.ConnectOptions{}, Config{Dial: func(context.Context, bt.Address, gogatt.ConnectOptions, Sink) (Link, error) {
			return nil, refused
		}})
		if !errors.Is(err, refused) {
			t.Errorf("Connect = %v, want the dialler's error", err)
		}
	})
}

// A subscription made by UUID follows its characteristic to a new value handle on the next
// link; one made by handle stays at its handle.
func TestDeviceResubscribeByUUIDFollowsMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		moved := func() []gogatt.Service {
			s := linkTree()
			hr := &s[0].Characteristics[0] // Heart Rate Measurement: 3 → 0x23, CCCD 0x24
			hr.Handle, hr.ValueHandle, hr.EndHandle = 0x22, 0x23, 0x24
			hr.Descriptors = []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: 0x24}}
			return s
		}
		dl := &linkDialer{setup: func(i int, l *fakeLink) {
			if i > 0 {
				l.tree = moved
			}
		}}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true}, nil)
		var got []int
		if err := w.Subscribe(t.Context(), chrHRM, func(h uint16, v []byte) { got = append(got, int(h), int(v[0])) }, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		raw.notify(3, 1)
		synctest.Wait()
		raw.lose("gone")
		synctest.Wait()
		nd := dl.last()
		if c := fmt.Sprint(nd.calls("cfg")); c != "[cfg 35 on]" {
			t.Errorf("re-applied %s, want [cfg 35 on]", c)
		}
		if nd.notify(3, 9) {
			t.Error("old handle still routed")
		}
		nd.notify(0x23, 2)
		synctest.Wait()
		if fmt.Sprint(got) != "[3 1 35 2]" {
			t.Errorf("delivered (handle, value) %v", got)
		}
		if err := w.Unsubscribe(t.Context(), chrHRM); err != nil {
			t.Fatal(err)
		}
		if c := fmt.Sprint(nd.calls("cfg")); c != "[cfg 35 on cfg 35 off]" {
			t.Errorf("calls %s", c)
		}
		w.Disconnect()
	})
}

// Unsubscribing while reconnecting means the subscription is not restored, whether it is
// named by handle or by UUID, and whichever way it was made.
func TestDeviceUnsubscribeWhileReconnecting(t *testing.T) {
	for _, tc := range []struct {
		name        string
		byUUID      bool // subscribe by UUID (else by handle 3)
		unsubByUUID bool
	}{
		{"made by UUID, removed by UUID", true, true},
		{"made by UUID, removed by handle", true, false},
		{"made by handle, removed by handle", false, false},
		{"made by handle, removed by UUID", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				gate := make(chan struct{})
				dl := &linkDialer{before: func(context.Context) error { <-gate; return nil }}
				w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true}, nil)
				ctx := t.Context()
				nop := func(uint16, []byte) {}
				var err error
				if tc.byUUID {
					err = w.Subscribe(ctx, chrHRM, nop, gogatt.SubscribeOptions{})
				} else {
					err = w.SubscribeHandle(ctx, 3, nop, gogatt.SubscribeOptions{})
				}
				if err != nil {
					t.Fatal(err)
				}
				raw.lose("gone")
				synctest.Wait()
				if tc.unsubByUUID {
					err = w.Unsubscribe(ctx, chrHRM)
				} else {
					err = w.UnsubscribeHandle(ctx, 3)
				}
				if err != nil {
					t.Errorf("unsubscribe while reconnecting: %v", err)
				}
				close(gate)
				synctest.Wait()
				if c := dl.last().calls("cfg"); len(c) != 0 {
					t.Errorf("re-applied %v after unsubscribing", c)
				}
				if _, ok := statsOf(w, 3); ok {
					t.Error("subscription still listed")
				}
				w.Disconnect()
			})
		})
	}
}

// Each link's discovery cache is kept in step by Service Changed indications, the link after a
// reconnection too (the Device's one registry hands them to the newest link's cache).
func TestDeviceServiceChangedAcrossReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withSC := func() []gogatt.Service {
			return append(linkTree(), gogatt.Service{UUID: gogatt.UUID16(0x1801), Handle: 0x20, EndHandle: 0x23, Characteristics: []gogatt.Characteristic{
				{UUID: gogatt.UUID16(0x2A05), Handle: 0x21, ValueHandle: 0x22, EndHandle: 0x23, Properties: gogatt.PropIndicate,
					Descriptors: []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: 0x23}}},
			}})
		}
		dl := &linkDialer{setup: func(_ int, l *fakeLink) { l.tree = withSC }}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true}, nil)
		ctx := t.Context()
		for _, l := range []*fakeLink{raw, nil} {
			if l == nil {
				raw.lose("gone")
				synctest.Wait()
				if l = dl.last(); l == raw {
					t.Fatal("not reconnected")
				}
			}
			if _, err := w.GetHandle(ctx, chrHRM); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(l.calls("discover", "cfg")); got != "[discover cfg 34 ind]" {
				t.Fatalf("after the first lookup: %s", got)
			}
			if !l.notify(0x22, 0x01, 0x00, 0xff, 0xff) {
				t.Error("Service Changed indication not used")
			}
			if _, err := w.GetHandle(ctx, chrHRM); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(l.calls("discover", "cfg")); got != "[discover cfg 34 ind discover cfg 34 ind]" {
				t.Errorf("after Service Changed: %s, want a new discovery", got)
			}
		}
		w.Disconnect()
	})
}
