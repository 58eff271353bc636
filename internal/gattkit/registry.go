package gattkit

import (
	"sync"

	"github.com/gogatt/gogatt"
)

// Registry routes notification and indication values to their handlers.
//
// Each subscription (one value handle) has its own queue. Dispatch copies the value, appends it
// and returns at once; a delivery goroutine, started when the queue becomes non-empty and
// exiting when it drains, calls the handler for one value at a time in arrival order. No lock is
// held while a handler runs, so a handler may call any Device method, including ones that call
// Add or Remove. All methods are safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Add routes values of valueHandle to fn, replacing any earlier handler of that handle (values
// already queued go to the new handler, in order). opts.QueueLimit bounds the queue; 0 means
// unbounded.
func (r *Registry) Add(valueHandle uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) {
}

// Remove stops delivery for valueHandle and discards its queued values. A handler call already
// running finishes. It reports whether there was a subscription.
func (r *Registry) Remove(valueHandle uint16) bool { return false }

// Dispatch queues a copy of value for the subscriber of valueHandle and returns without waiting
// for it. It reports false when nobody is subscribed or the registry is closed.
func (r *Registry) Dispatch(valueHandle uint16, value []byte) bool { return false }

// Subscriptions returns the options of every subscription, by value handle.
func (r *Registry) Subscriptions() map[uint16]gogatt.SubscribeOptions { return nil }

// Stats returns the counters of the subscription of valueHandle.
func (r *Registry) Stats(valueHandle uint16) (gogatt.SubscriptionStats, bool) {
	return gogatt.SubscriptionStats{}, false
}

// Close stops accepting values and waits until every queued value has been delivered. It must
// not be called from a handler (it would wait for itself); use CloseAsync there.
func (r *Registry) Close() {}
