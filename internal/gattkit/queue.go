package gattkit

import (
	"sync"

	"github.com/gogatt/gogatt"
)

// serial delivers items to fn one at a time, in push order, on a goroutine of its own that is
// started when the queue becomes non-empty and exits when it drains (so an idle queue owns no
// goroutine). push never blocks. fn runs with no lock held.
type serial[T any] struct {
	fn    func(T)
	limit int // >0: drop the oldest queued item beyond this many
	// workers, if set, learns when a delivery goroutine starts and exits (a Registry counts
	// them to know when it has drained).
	workers interface {
		started()
		exited()
	}

	mu        sync.Mutex
	buf       []T
	head      int
	running   bool
	stopped   bool
	received  uint64
	delivered uint64
	dropped   uint64
	discarded uint64
}

// push appends v and makes sure a delivery goroutine runs. After stop it counts v as received
// and discarded, and reports false.
func (q *serial[T]) push(v T) bool {
	q.mu.Lock()
	q.received++
	if q.stopped {
		q.discarded++
		q.mu.Unlock()
		return false
	}
	if q.limit > 0 && len(q.buf)-q.head >= q.limit {
		var zero T
		q.buf[q.head] = zero
		q.head++
		q.dropped++
	}
	if q.head > 0 && q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head >= 64 && 2*q.head >= len(q.buf) {
		// Compact so that a queue that never fully drains does not grow without bound.
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, v)
	start := !q.running
	q.running = true
	if start && q.workers != nil {
		q.workers.started()
	}
	q.mu.Unlock()
	if start {
		go q.run()
	}
	return true
}

// run delivers until the queue is empty or stopped; after stop it returns as soon as the call
// of fn in progress does.
func (q *serial[T]) run() {
	if q.workers != nil {
		defer q.workers.exited()
	}
	q.mu.Lock()
	for !q.stopped && q.head < len(q.buf) {
		v := q.buf[q.head]
		var zero T
		q.buf[q.head] = zero
		q.head++
		q.mu.Unlock()
		q.fn(v)
		q.mu.Lock()
		q.delivered++
	}
	q.buf, q.head = q.buf[:0], 0
	q.running = false
	q.mu.Unlock()
}

// stop discards the queued items (counting them), refuses new ones and starts no new call of
// fn; it does not wait for a call in progress, so fn itself may call it. Idempotent.
func (q *serial[T]) stop() {
	q.mu.Lock()
	q.stopped = true
	q.discarded += uint64(len(q.buf) - q.head)
	clear(q.buf)
	q.buf, q.head = nil, 0
	q.mu.Unlock()
}

// stats returns the queue's counters.
func (q *serial[T]) stats() gogatt.SubscriptionStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return gogatt.SubscriptionStats{
		Received:  q.received,
		Delivered: q.delivered,
		Queued:    len(q.buf) - q.head,
		Dropped:   q.dropped,
		Discarded: q.discarded,
	}
}
