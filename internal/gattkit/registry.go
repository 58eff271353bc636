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
// Buffer lifetime: Dispatch copies value, so the caller (typically a reader goroutine) may reuse
// its buffer as soon as Dispatch returns; the copy belongs to the handler, which may keep it.
type Registry struct {
	mu     sync.RWMutex
	subs   map[uint16]*subscription
	closed bool
	wg     sync.WaitGroup // delivery goroutines
}

type subscription struct {
	handle uint16
	opts   gogatt.SubscribeOptions
	fn     atomic.Pointer[gogatt.NotificationHandler]
	q      serial[[]byte]
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{subs: make(map[uint16]*subscription)} }

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
	s := &subscription{handle: valueHandle, opts: opts}
	s.fn.Store(&fn)
	s.q.limit = opts.QueueLimit
	s.q.wg = &r.wg
	s.q.fn = func(v []byte) { (*s.fn.Load())(s.handle, v) }
	r.subs[valueHandle] = s
}

// Remove stops delivery for valueHandle and discards its queued values; a handler call already
// running finishes (Remove does not wait for it, so a handler may call Remove). It reports
// whether there was a subscription.
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
// valueHandle or the registry is closed (the value is then discarded).
func (r *Registry) Dispatch(valueHandle uint16, value []byte) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.subs[valueHandle]
	if !ok || r.closed {
		return false
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

// Close stops accepting values (Dispatch then reports false) and waits until every value queued
// before it has been delivered and every delivery goroutine has exited. Subscriptions stay listed.
// Close must not be called from a handler, since it would wait for that handler; a backend whose
// Disconnect may run inside a handler calls CloseAsync there and waits for its channel later
// (for example in Backend.Stop). Close is idempotent.
func (r *Registry) Close() { <-r.CloseAsync() }

// CloseAsync is Close without the wait: it stops accepting values and returns a channel that is
// closed once every queued value has been delivered and every delivery goroutine has exited.
func (r *Registry) CloseAsync() <-chan struct{} {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	return done
}
