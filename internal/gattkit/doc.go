// Package gattkit holds the machinery both backends share, above their protocol clients and
// below the public API:
//
//   - Registry: the subscription registry. Values from a reader goroutine are copied and queued
//     per subscription, then delivered in order on a library goroutine, never under a lock.
//   - ServiceCache: the attribute tree of one connection, discovered once (concurrent callers
//     share one discovery) and then looked up by UUID or value handle.
//   - Wrap: the reconnection layer. A backend's raw Device knows nothing of reconnection (as in
//     paho.golang); Wrap turns it into a Device that re-dials with backoff, re-applies
//     subscriptions and reports ConnectionEvents.
//   - CtxErr and TimeoutError: the errors of an ended context and of a timeout, as every backend
//     reports them (matching gogatt.ErrTimeout and context.DeadlineExceeded for deadlines).
//
// It is internal: its API may change with the backends that use it.
package gattkit
