package bgapi

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// TestEmuStopDiscardsQueuedValues: a handler blocks (on a channel of the test's) with a backlog
// of generator values queued behind it. After Stop or Disconnect returns — called from outside
// or from inside that handler — nothing is queued any more and, once the blocked call is
// released, the handler is not called again (Stop used to return while hundreds of queued values
// were still being handed to handlers); every value is either delivered or counted as discarded.
func TestEmuStopDiscardsQueuedValues(t *testing.T) {
	stop := func(env *emuEnv, d gogatt.Device) error { return env.b.Stop() }
	disconnect := func(env *emuEnv, d gogatt.Device) error { return d.Disconnect() }
	for _, tc := range []struct {
		name   string
		auto   bool // AutoReconnect: the handler is fed by the wrapper's queue
		inside bool // called from inside the blocked handler
		call   func(*emuEnv, gogatt.Device) error
	}{
		{"Stop", false, false, stop},
		{"StopFromHandler", false, true, stop},
		{"Disconnect", false, false, disconnect},
		{"DisconnectFromHandler", false, true, disconnect},
		{"AutoReconnect/Stop", true, false, stop},
		{"AutoReconnect/DisconnectFromHandler", true, true, disconnect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := startEmu(t, bled112.Config{}, Config{NoReset: true})
			d := env.connect(t, tortureAddr, gogatt.ConnectOptions{AutoReconnect: tc.auto})
			p := env.periphs[tortureAddr]
			ctx := ctxT(t, 30*time.Second)
			vh := p.ValueHandle(sim.TortureStream)
			const n = 1000

			var calls atomic.Int64
			backlog := make(chan struct{})  // closed once n values have arrived
			release := make(chan struct{})  // closed by the test: the blocked call may return
			callErr := make(chan error, 1)  // result of tc.call
			returned := make(chan struct{}) // closed as the blocked call returns
			releaseOnce := sync.OnceFunc(func() { close(release) })
			t.Cleanup(releaseOnce) // a handler still running at Stop is the caller's to end
			handler := func(uint16, []byte) {
				if calls.Add(1) != 1 {
					return
				}
				defer close(returned)
				<-backlog
				if tc.inside {
					callErr <- tc.call(env, d)
				}
				<-release
			}
			if err := d.Subscribe(ctx, sim.TortureStream, handler, gogatt.SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.StartGenerator(vh, n, 0))
			waitStats(t, d, vh, func(st gogatt.SubscriptionStats) bool { return st.Received >= n }, "the values did not all arrive")
			close(backlog)
			if !tc.inside {
				go func() { callErr <- tc.call(env, d) }()
			}
			select {
			case err := <-callErr:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second): // hang-only deadline
				t.Fatalf("%s did not return (handler blocked, %d values queued)", tc.name, n-1)
			}
			st, ok := d.(gogatt.SubscriptionStatsReporter).SubscriptionStats(vh)
			if !ok {
				t.Fatal("no stats after Stop/Disconnect")
			}
			if st.Queued != 0 || st.Discarded == 0 || st.Received != st.Delivered+st.Dropped+st.Discarded+1 {
				t.Errorf("right after the call, with one handler call running: %+v", st)
			}
			if c := calls.Load(); c != 1 {
				t.Errorf("handler called %d times, want 1 (the blocked call)", c)
			}
			releaseOnce()
			<-returned
			// The released call counts as delivered once the handler has returned to the library.
			st = waitStats(t, d, vh, func(st gogatt.SubscriptionStats) bool {
				return st.Queued == 0 && st.Received == st.Delivered+st.Dropped+st.Discarded
			}, "counters never settle after the blocked call returned")
			if st.Discarded == 0 {
				t.Errorf("nothing counted as discarded: %+v", st)
			}
			if c := calls.Load(); c != 1 {
				t.Errorf("handler called %d times after release, want 1: delivery went on after %s returned", c, tc.name)
			}
		})
	}
}

// waitStats polls the subscription's counters until ok accepts them (hang-only deadline).
func waitStats(t *testing.T, d gogatt.Device, vh uint16, ok func(gogatt.SubscriptionStats) bool, what string) gogatt.SubscriptionStats {
	t.Helper()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		st, _ := d.(gogatt.SubscriptionStatsReporter).SubscriptionStats(vh)
		if ok(st) {
			return st
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: %+v", what, st)
		}
	}
}

// TestEmuLinkLossDrainsUntilStop: values that arrived before a link loss are still delivered
// after it (nothing is lost silently), and a Stop during that drain discards the rest: no
// handler call starts after it returns.
func TestEmuLinkLossDrainsUntilStop(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{SupervisionTimeout: 200 * time.Millisecond})
	p := env.periphs[tortureAddr]
	ctx := ctxT(t, 30*time.Second)
	vh := p.ValueHandle(sim.TortureStream)
	const n = 500
	var calls atomic.Int64
	entered := make(chan struct{}, n) // one per handler call, as it starts
	step := make(chan struct{})       // each receive lets one handler call return
	t.Cleanup(func() { close(step) })
	if err := d.Subscribe(ctx, sim.TortureStream, func(uint16, []byte) {
		calls.Add(1)
		entered <- struct{}{}
		<-step
	}, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.StartGenerator(vh, n, 0))
	waitStats(t, d, vh, func(st gogatt.SubscriptionStats) bool { return st.Received >= n }, "the values did not all arrive")
	p.SetInRange(false)
	t.Cleanup(func() { p.SetInRange(true) })
	select {
	case <-d.Disconnected():
	case <-ctx.Done():
		t.Fatal("link loss not noticed")
	}
	<-entered
	for range 2 { // the drain goes on after the loss: two more calls start
		step <- struct{}{}
		select {
		case <-entered:
		case <-ctx.Done():
			t.Fatal("the queue did not drain after the loss")
		}
	}
	if err := env.b.Stop(); err != nil {
		t.Fatal(err)
	}
	at := calls.Load()
	st, _ := d.(gogatt.SubscriptionStatsReporter).SubscriptionStats(vh)
	if st.Queued != 0 || st.Discarded == 0 || st.Received != st.Delivered+st.Discarded+1 {
		t.Errorf("after Stop, one call running: %+v", st)
	}
	step <- struct{}{} // the call running at Stop returns
	waitStats(t, d, vh, func(st gogatt.SubscriptionStats) bool { return st.Received == st.Delivered+st.Discarded }, "counters never settle")
	if c := calls.Load(); c != at || at != 3 {
		t.Errorf("handler calls: %d at Stop (want 3), %d after", at, c)
	}
}
