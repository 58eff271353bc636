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
	limit int             // >0: drop the oldest queued item beyond this many
	wg    *sync.WaitGroup // optional: counts running delivery goroutines

	mu        sync.Mutex
	buf       []T
	head      int
	running   bool
	stopped   bool
	received  uint64
	delivered uint64
	dropped   uint64
}

// push appends v and makes sure a delivery goroutine runs. It reports false after stop.
func (q *serial[T]) push(v T) bool {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return false
	}
	q.received++
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
	if start && q.wg != nil {
		q.wg.Add(1)
	}
	q.mu.Unlock()
	if start {
		go q.run()
	}
	return true
}

func (q *serial[T]) run() {
	if q.wg != nil {
		defer q.wg.Done()
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

// stop discards the queued items and refuses new ones; a call of fn in progress finishes.
func (q *serial[T]) stop() {
	q.mu.Lock()
	q.stopped = true
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
	}
}
