package gattkit

import (
	"sync"
	"sync/atomic"

	"github.com/gogatt/gogatt"
)

// Registry routes notification and indication values to their handlers.
//
// Each subscription (one value handle) has its own queue. Dispatch copies the value, appends it
// and returns at once; a delivery goroutine, started when the queue becomes non-empty and
// exiting when it drains, calls the handler for one value at a time in arrival order. No lock is
// held while a handler runs, so a handler may call any Device method, including ones that call
// Add or Remove. All methods are safe for concurrent use.
//
// A registry ends in one of two ways. CloseAsync (the link was lost) refuses new values but
// still delivers those already queued, so that nothing that arrived is lost silently. Stop (the
// application disconnected, or stopped the backend) ends delivery now: queued values are
// discarded and counted in Stats as Discarded. Neither waits for a handler, so both may be
// called from one.
//
// Buffer lifetime: Dispatch copies value, so the caller (typically a reader goroutine) may reuse
// its buffer as soon as Dispatch returns; the copy belongs to the handler, which may keep it.
type Registry struct {
	mu     sync.RWMutex
	subs   map[uint16]*subscription
	closed bool   // no value is accepted any more
	group  *Group // nil for a registry of its own (NewRegistry)

	// tap sees every dispatched value first (WatchServiceChanged).
	tap atomic.Pointer[func(valueHandle uint16, value []byte) bool]

	// Delivery goroutines, and the end of delivery: done is closed once the registry is closed
	// and either no delivery goroutine is left (after CloseAsync) or Stop was called.
	runMu   sync.Mutex
	running int
	ending  bool
	ended   bool
	done    chan struct{}
}

type subscription struct {
	handle atomic.Uint32 // the value handle the handler is told (Rekey changes it)
	opts   gogatt.SubscribeOptions
	fn     atomic.Pointer[gogatt.NotificationHandler]
	q      serial[[]byte]
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{subs: make(map[uint16]*subscription), done: make(chan struct{})}
}

// Add routes values of valueHandle to fn, replacing the handler and options of an existing
// subscription of that handle (values already queued then go to the new handler, still in
// order). opts.QueueLimit bounds the queue: 0 means unbounded, so nothing is ever dropped;
// otherwise, when a value arrives at a full queue, the oldest waiting value is dropped and
// counted in Stats. Add on a closed registry does nothing.
func (r *Registry) Add(valueHandle uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) {
	if opts.QueueLimit < 0 {
		opts.QueueLimit = 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if s, ok := r.subs[valueHandle]; ok {
		s.fn.Store(&fn)
		s.opts = opts
		s.q.mu.Lock()
		s.q.limit = opts.QueueLimit
		s.q.mu.Unlock()
		return
	}
	s := &subscription{opts: opts}
	s.handle.Store(uint32(valueHandle))
	s.fn.Store(&fn)
	s.q.limit = opts.QueueLimit
	s.q.workers = r
	s.q.fn = func(v []byte) { (*s.fn.Load())(uint16(s.handle.Load()), v) }
	r.subs[valueHandle] = s
}

// Rekey moves subscriptions to new value handles (moves maps old to new), all at once so that
// two subscriptions may swap handles: each keeps its handler, options, queued values and
// counters, and its handler is told the new handle from then on. A subscription already at a
// new handle that is not itself moved is replaced, and its queued values are discarded.
func (r *Registry) Rekey(moves map[uint16]uint16) {
	r.mu.Lock()
	moved := make(map[uint16]*subscription, len(moves))
	for old, nw := range moves {
		if s, ok := r.subs[old]; ok && old != nw {
			moved[nw] = s
			delete(r.subs, old)
		}
	}
	var displaced []*subscription
	for nw, s := range moved {
		if o, ok := r.subs[nw]; ok {
			displaced = append(displaced, o)
		}
		s.handle.Store(uint32(nw))
		r.subs[nw] = s
	}
	r.mu.Unlock()
	for _, o := range displaced {
		o.q.stop()
	}
}

// Remove stops delivery for valueHandle and discards its queued values (counted, but the
// subscription and its counters are gone); a handler call already running finishes (Remove does
// not wait for it, so a handler may call Remove). It reports whether there was a subscription.
func (r *Registry) Remove(valueHandle uint16) bool {
	r.mu.Lock()
	s, ok := r.subs[valueHandle]
	delete(r.subs, valueHandle)
	r.mu.Unlock()
	if ok {
		s.q.stop()
	}
	return ok
}

// Dispatch queues a copy of value for the subscriber of valueHandle and returns without waiting
// for delivery; it never blocks on a handler. It reports false when nobody is subscribed to
// valueHandle or the registry is closed (the value is then discarded), unless the library
// itself used the value (a Service Changed indication, see WatchServiceChanged).
func (r *Registry) Dispatch(valueHandle uint16, value []byte) bool {
	tapped := false
	if t := r.tap.Load(); t != nil {
		tapped = (*t)(valueHandle, value)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.subs[valueHandle]
	if !ok || r.closed {
		return tapped
	}
	// The copy is made here, not by the caller, so the caller's buffer may be reused at once;
	// make([]byte, 0) would be non-nil for an empty value, which handlers can rely on.
	return s.q.push(append(make([]byte, 0, len(value)), value...))
}

// Has reports whether valueHandle has a subscriber.
func (r *Registry) Has(valueHandle uint16) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.subs[valueHandle]
	return ok
}

// Subscriptions returns the options of every subscription, by value handle. The map is a copy.
func (r *Registry) Subscriptions() map[uint16]gogatt.SubscribeOptions {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := make(map[uint16]gogatt.SubscribeOptions, len(r.subs))
	for h, s := range r.subs {
		m[h] = s.opts
	}
	return m
}

// Stats returns the counters of the subscription of valueHandle; false when there is none.
func (r *Registry) Stats(valueHandle uint16) (gogatt.SubscriptionStats, bool) {
	r.mu.RLock()
	s, ok := r.subs[valueHandle]
	r.mu.RUnlock()
	if !ok {
		return gogatt.SubscriptionStats{}, false
	}
	return s.q.stats(), true
}

// Close is CloseAsync followed by a wait for its channel. It must not be called from a handler,
// since it would wait for that handler; backends close with CloseAsync or Stop.
func (r *Registry) Close() { <-r.CloseAsync() }

// CloseAsync stops accepting values (Dispatch then reports false) but keeps delivering those
// already queued: it is how a registry ends when the link is lost. It returns a channel that is
// closed once every queued value has been delivered and every delivery goroutine has exited —
// or at once by a later Stop. Subscriptions stay listed and their counters readable. CloseAsync
// is idempotent.
func (r *Registry) CloseAsync() <-chan struct{} {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.runMu.Lock()
	r.ending = true
	idle := r.running == 0
	r.runMu.Unlock()
	if idle {
		r.end()
	}
	return r.done
}

// Stop ends delivery now, as Disconnect and Backend.Stop require: it refuses new values,
// discards every queued value (counted in Stats as Discarded) and starts no new handler call.
// It does not wait for a handler call in progress, so a handler may call it; that call's
// goroutine exits as soon as the handler returns. The channel of CloseAsync is closed.
// Subscriptions stay listed and their counters readable. Stop is idempotent and may follow
// CloseAsync (the values still waiting to be drained are then discarded).
func (r *Registry) Stop() {
	r.mu.Lock()
	r.closed = true
	subs := make([]*subscription, 0, len(r.subs))
	for _, s := range r.subs {
		subs = append(subs, s)
	}
	r.mu.Unlock()
	for _, s := range subs {
		s.q.stop()
	}
	r.runMu.Lock()
	r.ending = true
	r.runMu.Unlock()
	r.end()
}

func (r *Registry) stopNow() { r.Stop() }

// started and exited count delivery goroutines (serial.workers).
func (r *Registry) started() {
	r.runMu.Lock()
	r.running++
	r.runMu.Unlock()
}

func (r *Registry) exited() {
	r.runMu.Lock()
	r.running--
	idle := r.ending && r.running == 0
	r.runMu.Unlock()
	if idle {
		r.end()
	}
}

// end closes done once and leaves the group: nothing of the registry is left to stop.
func (r *Registry) end() {
	r.runMu.Lock()
	first := !r.ended
	r.ended = true
	r.runMu.Unlock()
	if !first {
		return
	}
	close(r.done)
	if r.group != nil {
		r.group.leave(r)
	}
}

// Group is the delivery domain of one backend: the registries of its connections (made with
// Group.NewRegistry, one per Device). Stop ends delivery in all of
// them at once, as Registry.Stop does for one — including devices whose link was lost earlier
// and whose queues are still draining — so that no handler is called after Backend.Stop
// returns. A registry leaves the group once its delivery has ended. The zero value is ready to
// use; all methods are safe for concurrent use.
type Group struct {
	mu      sync.Mutex
	stopped bool
	members map[groupMember]struct{}
}

// groupMember is something whose delivery the group can end at once.
type groupMember interface{ stopNow() }

// NewRegistry returns an empty registry that belongs to g (stopped at once if g is).
func (g *Group) NewRegistry() *Registry {
	r := NewRegistry()
	r.group = g
	if !g.join(r) {
		r.Stop()
	}
	return r
}

// Stop ends delivery in every member (see Registry.Stop) without waiting for a handler in
// progress; members that try to join later are stopped at once. Idempotent.
func (g *Group) Stop() {
	g.mu.Lock()
	g.stopped = true
	ms := g.members
	g.members = nil
	g.mu.Unlock()
	for m := range ms {
		m.stopNow()
	}
}

// join adds m; false when the group is stopped (m must then stop itself).
func (g *Group) join(m groupMember) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	if g.members == nil {
		g.members = make(map[groupMember]struct{})
	}
	g.members[m] = struct{}{}
	return true
}

func (g *Group) leave(m groupMember) {
	g.mu.Lock()
	delete(g.members, m)
	g.mu.Unlock()
}
