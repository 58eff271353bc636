package gatttool_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/gatttool"
)

// hangDeadline only catches hangs: Stop and Disconnect return after the backend's own clean-up
// (ending a gatttool process), far below it even on a loaded machine.
const hangDeadline = 10 * time.Second

// TestStopDiscardsQueuedValues: a handler blocks (on a channel of the test's) with a backlog of
// values queued behind it. Stop and Disconnect — from outside or from inside that handler —
// return at once instead of waiting for the backlog (which hung for ever, deadlocked from a
// handler, and took 34 s for 30,000 values); the backlog is discarded and counted, and no
// handler is called after they return except the call that was running.
func TestStopDiscardsQueuedValues(t *testing.T) {
	stop := func(r *rig, d gogatt.Device) error { return r.b.Stop() }
	disconnect := func(r *rig, d gogatt.Device) error { return d.Disconnect() }
	for _, tc := range []struct {
		name   string
		auto   bool // AutoReconnect: the handler is fed by the wrapper's queue
		inside bool // called from inside the blocked handler
		call   func(*rig, gogatt.Device) error
	}{
		{"Stop", false, false, stop},
		{"StopFromHandler", false, true, stop},
		{"Disconnect", false, false, disconnect},
		{"DisconnectFromHandler", false, true, disconnect},
		{"AutoReconnect/Stop", true, false, stop},
		{"AutoReconnect/StopFromHandler", true, true, stop},
		{"AutoReconnect/DisconnectFromHandler", true, true, disconnect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := testPeripheral(t, testAddr)
			r := setup(t, gatttool.Config{}, p)
			d := connect(t, r, testAddr, gogatt.ConnectOptions{AutoReconnect: tc.auto})
			ctx := ctxT(t, 60*time.Second)
			nh := p.ValueHandle(uNotify)
			const n = 300

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
					callErr <- tc.call(r, d)
				}
				<-release
			}
			if err := d.Subscribe(ctx, uNotify, handler, gogatt.SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.StartGenerator(nh, n, 0))
			waitStats(t, d, nh, func(st gogatt.SubscriptionStats) bool { return st.Received >= n }, "the values did not all arrive")
			close(backlog)
			if !tc.inside {
				go func() { callErr <- tc.call(r, d) }()
			}
			select {
			case err := <-callErr:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(hangDeadline):
				t.Fatalf("%s did not return within %v (handler blocked, %d values queued)", tc.name, hangDeadline, n-1)
			}
			checkStopped(t, d, nh, &calls, releaseOnce, returned)
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

// checkStopped runs once Stop or Disconnect has returned while the handler's first call is
// blocked: nothing is left queued, nothing more is delivered once that call is released, and
// every value that arrived is either delivered or counted as discarded.
func checkStopped(t *testing.T, d gogatt.Device, vh uint16, calls *atomic.Int64, release func(), returned <-chan struct{}) {
	t.Helper()
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
	release()
	<-returned
	// The released call counts as delivered once the handler has returned to the library.
	st = waitStats(t, d, vh, func(st gogatt.SubscriptionStats) bool {
		return st.Queued == 0 && st.Received == st.Delivered+st.Dropped+st.Discarded
	}, "counters never settle after the blocked call returned")
	if st.Discarded == 0 {
		t.Errorf("nothing counted as discarded: %+v", st)
	}
	if c := calls.Load(); c != 1 {
		t.Errorf("handler called %d times after release, want 1: delivery went on", c)
	}
}
