package gogatttest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim"
)

// stopTests are the tests of Stop and Disconnect against a backlog of values: a blocked
// handler, and the drain after a remote link loss (docs/reliability.md, the Stop / Disconnect
// contract).
func stopTests() []suiteTest {
	var tests []suiteTest
	for _, r := range []struct {
		name       string
		auto       bool // AutoReconnect: the handler is fed by the reconnect layer's queue
		inside     bool // called from inside the blocked handler
		disconnect bool // Device.Disconnect instead of Backend.Stop
	}{
		{"Stop", false, false, false},
		{"StopFromHandler", false, true, false},
		{"Disconnect", false, false, true},
		{"DisconnectFromHandler", false, true, true},
		{"AutoReconnect/Stop", true, false, false},
		{"AutoReconnect/StopFromHandler", true, true, false},
		{"AutoReconnect/DisconnectFromHandler", true, true, true},
	} {
		tests = append(tests, suiteTest{"StopDiscardsQueuedValues/" + r.name, func(t *testing.T, e Env) {
			testStopDiscardsQueuedValues(t, e, r.auto, r.inside, r.disconnect)
		}})
	}
	return append(tests, suiteTest{"LinkLossDrainsUntilStop", testLinkLossDrainsUntilStop})
}

// A handler blocks (on a channel of the test's) with a backlog of values queued behind it. Stop
// or Disconnect — from outside or from inside that handler — returns without waiting for the
// backlog; right after it nothing is queued, and once the blocked call is released the handler
// is not called again; every value is either delivered or counted as discarded.
func testStopDiscardsQueuedValues(t *testing.T, e Env, auto, inside, disconnect bool) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{AutoReconnect: auto})
	call := e.Backend.Stop
	if disconnect {
		call = d.Disconnect
	}
	vh := p.ValueHandle(sim.TortureStream)
	const n = 300

	var calls atomic.Int64
	backlog := make(chan struct{})  // closed once n values have arrived
	release := make(chan struct{})  // closed by the test: the blocked call may return
	callErr := make(chan error, 1)  // result of call
	returned := make(chan struct{}) // closed as the blocked call returns
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // a handler still running at Stop is the caller's to end
	handler := func(uint16, []byte) {
		if calls.Add(1) != 1 {
			return
		}
		defer close(returned)
		<-backlog
		if inside {
			callErr <- call()
		}
		<-release
	}
	if err := d.Subscribe(ctx, sim.TortureStream, handler, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.StartGenerator(vh, n, 0))
	waitStats(t, d, vh, "every value to arrive", func(st gogatt.SubscriptionStats) bool { return st.Received >= n })
	// The first value's handler call must be under way (blocked on backlog) before the call:
	// on a loaded machine every value can arrive before the delivery goroutine has made it.
	waitFor(t, "the handler's first call", func() bool { return calls.Load() >= 1 })
	close(backlog)
	if !inside {
		go func() { callErr <- call() }()
	}
	if err := recv(t, callErr, "Stop/Disconnect with a handler blocked and a backlog"); err != nil {
		t.Fatal(err)
	}
	st := stats(t, d, vh)
	if st.Queued != 0 || st.Discarded == 0 || st.Received != st.Delivered+st.Dropped+st.Discarded+1 {
		t.Errorf("right after the call, with one handler call running: %+v", st)
	}
	if c := calls.Load(); c != 1 {
		t.Errorf("handler called %d times, want 1 (the blocked call)", c)
	}
	releaseOnce()
	recv(t, returned, "the released handler call to return")
	// The released call counts as delivered once the handler has returned to the library.
	st = waitStats(t, d, vh, "the counters to settle after the blocked call returned", func(st gogatt.SubscriptionStats) bool {
		return st.Queued == 0 && st.Received == st.Delivered+st.Dropped+st.Discarded
	})
	if st.Discarded == 0 {
		t.Errorf("nothing counted as discarded: %+v", st)
	}
	if c := calls.Load(); c != 1 {
		t.Errorf("handler called %d times after release, want 1: delivery went on after the call returned", c)
	}
}

// Values that arrived before a remote link loss are still delivered after it (nothing is lost
// silently), and a Stop during that drain discards the rest: no handler call starts after it
// returns.
func testLinkLossDrainsUntilStop(t *testing.T, e Env) {
	needRange(t, e)
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{SupervisionTimeout: 200 * time.Millisecond})
	vh := p.ValueHandle(sim.TortureStream)
	const n = 300
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
	waitStats(t, d, vh, "every value to arrive", func(st gogatt.SubscriptionStats) bool { return st.Received >= n })
	e.SetInRange(sim.TortureAddress, false)
	t.Cleanup(func() { e.SetInRange(sim.TortureAddress, true) })
	recv(t, d.Disconnected(), "the link loss to be noticed")
	recv(t, entered, "the first handler call")
	for range 2 { // the drain goes on after the loss: two more calls start
		step <- struct{}{}
		recv(t, entered, "the queue to drain after the loss")
	}
	if err := e.Backend.Stop(); err != nil {
		t.Fatal(err)
	}
	at := calls.Load()
	st := stats(t, d, vh)
	if st.Queued != 0 || st.Discarded == 0 || st.Received != st.Delivered+st.Discarded+1 {
		t.Errorf("after Stop, one call running: %+v", st)
	}
	step <- struct{}{} // the call running at Stop returns
	waitStats(t, d, vh, "the counters to settle", func(st gogatt.SubscriptionStats) bool { return st.Received == st.Delivered+st.Discarded })
	if c := calls.Load(); c != at || at != 3 {
		t.Errorf("handler calls: %d at Stop (want 3), %d after", at, c)
	}
}

// needRange skips t if the environment cannot take a peripheral out of range.
func needRange(t *testing.T, e Env) {
	t.Helper()
	if e.SetInRange == nil {
		t.Skip("the environment cannot take a peripheral out of range")
	}
}
