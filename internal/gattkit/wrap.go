package gattkit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogatt/gogatt"
)

const (
	// resubscribeTimeout bounds the re-application of the subscriptions after a reconnection,
	// as the ATT transaction timeout bounds one request (Core v5.3 Vol 3 Part F §3.3.3).
	resubscribeTimeout = 30 * time.Second
)

// Wrap returns a Device that forwards every call to the current raw device, first at the start.
//
// The raw device (the backend's protocol-level connection) knows nothing of reconnection, as in
// paho.golang. When it reports a loss (first.Disconnected() is closed), the wrapper emits
// EventDisconnected. Without opts.AutoReconnect that is the end: the wrapper's Disconnected is
// closed and Err returns the raw device's *gogatt.DisconnectError. With it, the wrapper calls
// dial, waiting before each attempt as opts.ReconnectPolicy() says (by default at once, then
// from ReconnectMinDelay doubling up to ReconnectMaxDelay, with jitter), at most
// ReconnectAttempts times (0 = unlimited), emitting EventReconnecting before each attempt. Each
// attempt gets a context bounded by opts.ConnectTimeout(). On success it re-applies, on the new
// raw device, every subscription made through the wrapper (by UUID or by handle, as made) and
// the last MTU asked for with ExchangeMTU, then emits EventReconnected, whose Err joins the
// errors of subscriptions that could not be restored (they stay registered and are tried again
// after the next reconnection). When the attempts run out it emits EventGaveUp and the Device is
// dead.
//
// While reconnecting, calls fail at once with an error matching gogatt.ErrNotConnected and Err
// returns the loss; after a successful reconnection Err is nil again. Disconnected is closed only
// when the Device is gone for good: after Disconnect, after the loss when AutoReconnect is off,
// or after EventGaveUp — and only after every event before it has been delivered.
//
// Events go to opts.OnConnectionEvent one at a time, in order, on a goroutine of the wrapper's,
// never under a lock. With AutoReconnect each subscription's handler is called through a queue of
// the wrapper's, so that values keep their order and the handler is never called concurrently,
// even across a reconnection, when values of the old and the new raw device might otherwise
// overlap. A subscription's QueueLimit applies to that queue as well. After a loss these queues
// still deliver what they hold; Disconnect discards it (counted in SubscriptionStats as
// Discarded), and so does the Stop of the Group of first's deliveries, when first implements
// GroupMember.
//
// ctx supplies values only: its cancellation is ignored, because the Device outlives the Connect
// call that created it. Disconnect stops reconnection and closes the current raw device.
func Wrap(ctx context.Context, first gogatt.Device, dial func(ctx context.Context) (gogatt.Device, error), opts gogatt.ConnectOptions) gogatt.Device {
	stopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w := &wrapper{
		addr:        first.Address(),
		dial:        dial,
		opts:        opts,
		stopCtx:     stopCtx,
		stop:        stop,
		cur:         first,
		up:          true,
		done:        make(chan struct{}),
		watcherDone: make(chan struct{}),
	}
	w.events.fn = func(f func()) { f() }
	if gm, ok := first.(GroupMember); ok && opts.AutoReconnect && gm.DeliveryGroup() != nil {
		w.group = gm.DeliveryGroup()
		w.queuesStopped = !w.group.join(w)
	}
	go w.watch(first)
	return w
}

type wrapper struct {
	addr    string
	dial    func(ctx context.Context) (gogatt.Device, error)
	opts    gogatt.ConnectOptions
	stopCtx context.Context // cancelled by Disconnect
	stop    context.CancelFunc

	// subMu serialises changes of the subscription list with their re-application after a
	// reconnection, so that none is lost or resurrected. Never held while user code runs.
	subMu sync.Mutex
	subs  []*wsub
	mtu   int // last ExchangeMTU request, re-applied after a reconnection
	// queuesStopped: Disconnect (or the group's Stop) ended delivery; new queues start stopped.
	queuesStopped bool
	group         *Group // with AutoReconnect: the raw devices' delivery group, if any

	mu      sync.Mutex
	cur     gogatt.Device
	up      bool  // cur is connected
	lost    error // the loss being repaired (while !up)
	final   error // set once the Device is gone for good
	closing bool  // Disconnect was called

	events      serial[func()] // connection events, then the closing of done
	done        chan struct{}
	watcherDone chan struct{}
}

type notification struct {
	handle uint16
	value  []byte
}

// wsub is a subscription made through the wrapper.
type wsub struct {
	byUUID  bool
	uuid    gogatt.UUID
	handle  uint16 // the value handle (for byUUID: as learned by GetHandle, 0 if unknown)
	opts    gogatt.SubscribeOptions
	fn      atomic.Pointer[gogatt.NotificationHandler]
	q       *serial[notification] // nil without AutoReconnect: raw handlers call fn directly
	handler gogatt.NotificationHandler
}

// newSub makes a subscription record (subMu held).
func (w *wrapper) newSub(byUUID bool, uuid gogatt.UUID, handle uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) *wsub {
	s := &wsub{byUUID: byUUID, uuid: uuid, handle: handle, opts: opts}
	s.fn.Store(&fn)
	if !w.opts.AutoReconnect {
		s.handler = func(h uint16, v []byte) { (*s.fn.Load())(h, v) }
		return s
	}
	s.q = &serial[notification]{limit: max(opts.QueueLimit, 0)}
	s.q.fn = func(n notification) { (*s.fn.Load())(n.handle, n.value) }
	if w.queuesStopped {
		s.q.stop()
	}
	// The raw device's registry already copied the value for us, so it can be queued as is.
	s.handler = func(h uint16, v []byte) { s.q.push(notification{h, v}) }
	return s
}

// stopQueues ends delivery through the subscriptions' queues now: queued values are discarded
// (counted), no handler call starts any more; a call in progress finishes. It never waits for a
// handler, so it may run inside one.
func (w *wrapper) stopQueues() {
	w.subMu.Lock()
	w.queuesStopped = true
	for _, s := range w.subs {
		if s.q != nil {
			s.q.stop()
		}
	}
	w.subMu.Unlock()
}

func (w *wrapper) stopNow() { w.stopQueues() }

// emit queues a connection event for opts.OnConnectionEvent.
func (w *wrapper) emit(kind gogatt.ConnectionEventKind, attempt int, err error) {
	ev := gogatt.ConnectionEvent{Kind: kind, Address: w.addr, Attempt: attempt, Err: err}
	if cb := w.opts.OnConnectionEvent; cb != nil {
		w.events.push(func() { cb(ev) })
	}
}

// finish makes the Device dead with err, emitting kind (if not 0) as the last event.
func (w *wrapper) finish(err error, kind gogatt.ConnectionEventKind) {
	w.mu.Lock()
	if w.final != nil {
		w.mu.Unlock()
		return
	}
	w.final, w.up = err, false
	w.mu.Unlock()
	if kind != 0 {
		w.emit(kind, 0, err)
	}
	w.events.push(func() { close(w.done) })
}

// watch waits for the loss of the raw device d and repairs it; it exits when the Device is dead
// or Disconnect was called.
func (w *wrapper) watch(d gogatt.Device) {
	defer close(w.watcherDone)
	for {
		select {
		case <-d.Disconnected():
		case <-w.stopCtx.Done():
			return
		}
		loss := w.asDisconnect(d.Err(), "link lost")
		w.mu.Lock()
		if w.closing {
			w.mu.Unlock()
			return
		}
		w.up, w.lost = false, loss
		w.mu.Unlock()
		w.emit(gogatt.EventDisconnected, 0, loss)
		if !w.opts.AutoReconnect {
			w.finish(loss, 0)
			return
		}
		nd, err := w.reconnect(loss)
		if nd == nil {
			if err != nil {
				w.finish(err, gogatt.EventGaveUp)
			}
			return
		}
		d = nd
	}
}

// asDisconnect makes sure a loss is reported as a *gogatt.DisconnectError.
func (w *wrapper) asDisconnect(err error, reason string) error {
	var de *gogatt.DisconnectError
	if errors.As(err, &de) {
		return err
	}
	return &gogatt.DisconnectError{Address: w.addr, Reason: reason, Err: err}
}

// reconnect dials until it succeeds (returning the new raw device, installed), runs out of
// attempts (returning the give-up error), or Disconnect is called (returning nil, nil).
func (w *wrapper) reconnect(loss error) (gogatt.Device, error) {
	backoff := w.opts.ReconnectPolicy()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for attempt := 1; ; attempt++ {
		if delay := backoff(attempt - 1); delay > 0 {
			if timer == nil {
				timer = time.NewTimer(delay)
			} else {
				timer.Reset(delay)
			}
			select {
			case <-timer.C:
			case <-w.stopCtx.Done():
				return nil, nil
			}
		}
		w.emit(gogatt.EventReconnecting, attempt, nil)
		dctx, cancel := context.WithTimeout(w.stopCtx, w.opts.ConnectTimeout())
		nd, err := w.dial(dctx)
		cancel()
		if err == nil && nd == nil {
			err = errors.New("gattkit: dial returned no device")
		}
		if err == nil {
			var subErr error
			var ok bool
			if subErr, ok = w.install(nd); ok {
				w.emit(gogatt.EventReconnected, attempt, subErr)
				return nd, nil
			}
			_ = nd.Disconnect()
			err = subErr
		}
		if w.stopCtx.Err() != nil {
			return nil, nil
		}
		if n := w.opts.ReconnectAttempts; n > 0 && attempt >= n {
			return nil, &gogatt.DisconnectError{
				Address: w.addr,
				Reason:  fmt.Sprintf("reconnection failed after %d attempts (last: %v)", attempt, err),
				Err:     loss,
			}
		}
	}
}

// install re-applies the subscriptions and the MTU on nd and makes it current. It reports false
// (with the reason) when nd was lost meanwhile or Disconnect was called.
func (w *wrapper) install(nd gogatt.Device) (error, bool) {
	w.subMu.Lock()
	defer w.subMu.Unlock()
	ctx, cancel := context.WithTimeout(w.stopCtx, resubscribeTimeout)
	defer cancel()
	lostNow := func(err error) bool {
		return errors.Is(err, gogatt.ErrNotConnected) || w.stopCtx.Err() != nil
	}
	var errs []error
	if w.mtu > 0 {
		if _, err := nd.ExchangeMTU(ctx, w.mtu); err != nil {
			if lostNow(err) {
				return err, false
			}
			if !errors.Is(err, gogatt.ErrUnsupported) {
				errs = append(errs, err)
			}
		}
	}
	for _, s := range w.subs {
		var err error
		if s.byUUID {
			err = nd.Subscribe(ctx, s.uuid, s.handler, s.opts)
		} else {
			err = nd.SubscribeHandle(ctx, s.handle, s.handler, s.opts)
		}
		if err != nil {
			if lostNow(err) {
				return err, false
			}
			errs = append(errs, err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing {
		return errors.New("gattkit: disconnected during reconnection"), false
	}
	w.cur, w.up, w.lost = nd, true, nil
	return errors.Join(errs...), true
}

// device returns the raw device to forward op to, or why there is none.
func (w *wrapper) device(op string) (gogatt.Device, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.final != nil:
		return nil, fmt.Errorf("%s: %w", op, w.final)
	case !w.up:
		return nil, fmt.Errorf("%s: reconnecting: %w", op, w.lost)
	}
	return w.cur, nil
}

// Current returns the raw device in use now (for backend-specific methods).
func (w *wrapper) Current() gogatt.Device {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// SubscriptionStats implements gogatt.SubscriptionStatsReporter. With AutoReconnect it reports
// the wrapper's own queue of the subscription (counting across reconnections); otherwise it asks
// the raw device.
func (w *wrapper) SubscriptionStats(valueHandle uint16) (gogatt.SubscriptionStats, bool) {
	w.subMu.Lock()
	var q *serial[notification]
	for _, s := range w.subs {
		if s.handle == valueHandle && s.q != nil {
			q = s.q
			break
		}
	}
	w.subMu.Unlock()
	if q == nil {
		if r, ok := w.Current().(gogatt.SubscriptionStatsReporter); ok {
			return r.SubscriptionStats(valueHandle)
		}
		return gogatt.SubscriptionStats{}, false
	}
	return q.stats(), true
}

func (w *wrapper) Address() string { return w.addr }

func (w *wrapper) Bond(ctx context.Context, permanent bool) error {
	d, err := w.device("bond")
	if err != nil {
		return err
	}
	return d.Bond(ctx, permanent)
}

func (w *wrapper) RSSI(ctx context.Context) (int, error) {
	d, err := w.device("rssi")
	if err != nil {
		return 0, err
	}
	return d.RSSI(ctx)
}

func (w *wrapper) Services(ctx context.Context) ([]gogatt.Service, error) {
	d, err := w.device("discover services")
	if err != nil {
		return nil, err
	}
	return d.Services(ctx)
}

func (w *wrapper) DiscoverCharacteristics(ctx context.Context) (map[gogatt.UUID][]gogatt.Characteristic, error) {
	d, err := w.device("discover characteristics")
	if err != nil {
		return nil, err
	}
	return d.DiscoverCharacteristics(ctx)
}

func (w *wrapper) GetHandle(ctx context.Context, uuid gogatt.UUID) (uint16, error) {
	d, err := w.device("get handle")
	if err != nil {
		return 0, err
	}
	return d.GetHandle(ctx, uuid)
}

func (w *wrapper) CharRead(ctx context.Context, uuid gogatt.UUID) ([]byte, error) {
	d, err := w.device("read")
	if err != nil {
		return nil, err
	}
	return d.CharRead(ctx, uuid)
}

func (w *wrapper) CharReadHandle(ctx context.Context, handle uint16) ([]byte, error) {
	d, err := w.device("read")
	if err != nil {
		return nil, err
	}
	return d.CharReadHandle(ctx, handle)
}

func (w *wrapper) CharReadLong(ctx context.Context, uuid gogatt.UUID) ([]byte, error) {
	d, err := w.device("read long")
	if err != nil {
		return nil, err
	}
	return d.CharReadLong(ctx, uuid)
}

func (w *wrapper) CharReadLongHandle(ctx context.Context, handle uint16) ([]byte, error) {
	d, err := w.device("read long")
	if err != nil {
		return nil, err
	}
	return d.CharReadLongHandle(ctx, handle)
}

func (w *wrapper) CharWrite(ctx context.Context, uuid gogatt.UUID, value []byte, withResponse bool) error {
	d, err := w.device("write")
	if err != nil {
		return err
	}
	return d.CharWrite(ctx, uuid, value, withResponse)
}

func (w *wrapper) CharWriteHandle(ctx context.Context, handle uint16, value []byte, withResponse bool) error {
	d, err := w.device("write")
	if err != nil {
		return err
	}
	return d.CharWriteHandle(ctx, handle, value, withResponse)
}

func (w *wrapper) CharWriteLong(ctx context.Context, uuid gogatt.UUID, value []byte) error {
	d, err := w.device("write long")
	if err != nil {
		return err
	}
	return d.CharWriteLong(ctx, uuid, value)
}

func (w *wrapper) CharWriteLongHandle(ctx context.Context, handle uint16, value []byte) error {
	d, err := w.device("write long")
	if err != nil {
		return err
	}
	return d.CharWriteLongHandle(ctx, handle, value)
}

// findSub returns the subscription made by UUID (byUUID) or by handle; subMu held.
func (w *wrapper) findSub(byUUID bool, uuid gogatt.UUID, handle uint16) int {
	for i, s := range w.subs {
		if s.byUUID == byUUID && ((byUUID && s.uuid == uuid) || (!byUUID && s.handle == handle)) {
			return i
		}
	}
	return -1
}

func (w *wrapper) subscribe(ctx context.Context, byUUID bool, uuid gogatt.UUID, handle uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	if fn == nil {
		return fmt.Errorf("subscribe: %w: nil handler", gogatt.ErrInvalidParameter)
	}
	w.subMu.Lock()
	defer w.subMu.Unlock()
	d, err := w.device("subscribe")
	if err != nil {
		return err
	}
	i := w.findSub(byUUID, uuid, handle)
	var s *wsub
	if i >= 0 {
		s = w.subs[i]
	} else {
		s = w.newSub(byUUID, uuid, handle, fn, opts)
	}
	if byUUID {
		err = d.Subscribe(ctx, uuid, s.handler, opts)
	} else {
		err = d.SubscribeHandle(ctx, handle, s.handler, opts)
	}
	if err != nil {
		return err
	}
	if i >= 0 {
		s.fn.Store(&fn)
		s.opts = opts
		if s.q != nil {
			s.q.mu.Lock()
			s.q.limit = max(opts.QueueLimit, 0)
			s.q.mu.Unlock()
		}
		return nil
	}
	if byUUID {
		// Learn the value handle, so that UnsubscribeHandle can find this subscription.
		if h, err := d.GetHandle(ctx, uuid); err == nil {
			s.handle = h
		}
	}
	w.subs = append(w.subs, s)
	return nil
}

// unsubscribe forgets the subscriptions matching (by UUID or value handle) and stops their
// delivery; then it asks the raw device, if connected, to unsubscribe.
func (w *wrapper) unsubscribe(byUUID bool, uuid gogatt.UUID, handle uint16, call func(gogatt.Device) error) error {
	w.subMu.Lock()
	defer w.subMu.Unlock()
	if byUUID {
		if i := w.findSub(true, uuid, 0); i >= 0 {
			handle = w.subs[i].handle
		}
	}
	kept := w.subs[:0]
	for _, s := range w.subs {
		if (s.byUUID && s.uuid == uuid && byUUID) || (handle != 0 && s.handle == handle) {
			if s.q != nil {
				s.q.stop()
			}
			continue
		}
		kept = append(kept, s)
	}
	clear(w.subs[len(kept):])
	w.subs = kept
	w.mu.Lock()
	d, up, final := w.cur, w.up, w.final
	w.mu.Unlock()
	if final != nil {
		return fmt.Errorf("unsubscribe: %w", final)
	}
	if !up {
		return nil // nothing to write: the subscription will not be restored
	}
	return call(d)
}

func (w *wrapper) Subscribe(ctx context.Context, uuid gogatt.UUID, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	return w.subscribe(ctx, true, uuid, 0, fn, opts)
}

func (w *wrapper) SubscribeHandle(ctx context.Context, valueHandle uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	return w.subscribe(ctx, false, gogatt.UUID{}, valueHandle, fn, opts)
}

func (w *wrapper) Unsubscribe(ctx context.Context, uuid gogatt.UUID) error {
	return w.unsubscribe(true, uuid, 0, func(d gogatt.Device) error { return d.Unsubscribe(ctx, uuid) })
}

func (w *wrapper) UnsubscribeHandle(ctx context.Context, valueHandle uint16) error {
	return w.unsubscribe(false, gogatt.UUID{}, valueHandle, func(d gogatt.Device) error { return d.UnsubscribeHandle(ctx, valueHandle) })
}

func (w *wrapper) ResubscribeAll(ctx context.Context) error {
	d, err := w.device("resubscribe")
	if err != nil {
		return err
	}
	return d.ResubscribeAll(ctx)
}

func (w *wrapper) ExchangeMTU(ctx context.Context, mtu int) (int, error) {
	d, err := w.device("exchange MTU")
	if err != nil {
		return 0, err
	}
	got, err := d.ExchangeMTU(ctx, mtu)
	if err == nil {
		w.subMu.Lock()
		w.mtu = mtu
		w.subMu.Unlock()
	}
	return got, err
}

// Disconnect stops any reconnection, closes the current raw device, ends delivery through the
// wrapper's queues (discarding, and counting, what they hold) and makes the Device dead with a
// local *gogatt.DisconnectError. It waits for no handler and no OnConnectionEvent callback: the
// EventDisconnected it causes is delivered after it returns, then Disconnected is closed. It is
// idempotent; it may be called from a notification handler or an OnConnectionEvent callback.
func (w *wrapper) Disconnect() error {
	w.mu.Lock()
	if w.closing {
		w.mu.Unlock()
		return nil
	}
	w.closing = true
	w.mu.Unlock()
	w.stop()
	<-w.watcherDone // prompt: every wait of the watcher also watches stopCtx
	w.mu.Lock()
	d, up, final := w.cur, w.up, w.final
	w.mu.Unlock()
	err := d.Disconnect() // idempotent; frees the raw device even after a loss
	// After the raw device, so that nothing it still hands over is left in a queue; also after a
	// loss, when the queues may still be draining.
	w.stopQueues()
	if w.group != nil {
		w.group.leave(w)
	}
	if final != nil {
		return nil
	}
	local := &gogatt.DisconnectError{Address: w.addr, Reason: "disconnected by the application", Local: true}
	if up {
		w.finish(local, gogatt.EventDisconnected)
	} else {
		w.finish(local, 0)
	}
	return err
}

func (w *wrapper) Disconnected() <-chan struct{} { return w.done }

func (w *wrapper) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.final != nil:
		return w.final
	case !w.up:
		return w.lost
	}
	return nil
}
