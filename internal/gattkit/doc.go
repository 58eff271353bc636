// Package gattkit is the one client every backend shares, above their protocol clients and
// below the public API:
//
//   - Link: the narrow per-connection interface a backend implements (handles only), and
//     Connect: the one implementation of gogatt.Device on top of it — UUID resolution,
//     subscriptions, statistics, argument checks and reconnection (a backend's link knows
//     nothing of reconnection, as in paho.golang; reconnecting is dialling a new link and
//     swapping it in, with backoff, re-applied subscriptions and ConnectionEvents).
//   - Registry: the subscription registry. Values from a reader goroutine are copied and queued
//     per subscription, then delivered in order on a library goroutine, never under a lock.
//   - ServiceCache: the attribute tree of one connection, discovered once (concurrent callers
//     share one discovery) and then looked up by UUID or value handle.
//   - Devices: the set of Devices a backend handed out, which its Stop ends.
//   - CtxErr and TimeoutError: the errors of an ended context and of a timeout, as every backend
//     reports them (matching gogatt.ErrTimeout and context.DeadlineExceeded for deadlines).
//
// It is internal: its API may change with the backends that use it.
package gattkit
