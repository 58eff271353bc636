package gattkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

const (
	// resubscribeTimeout bounds the re-application of the subscriptions after a reconnection,
	// as the ATT transaction timeout bounds one request (Core v5.3 Vol 3 Part F §3.3.3).
	resubscribeTimeout = 30 * time.Second

	minMTU      = 23  // ATT_MTU of LE before any exchange (Core v5.3 Vol 3 Part F §3.2.8)
	maxMTU      = 517 // largest useful ATT_MTU: a 512-byte value + 5 (Core v5.3 Vol 3 Part F §3.2.9)
	maxValueLen = 512 // attribute value limit (Core v5.3 Vol 3 Part F §3.2.9)
)

// Config is what a backend gives Connect besides the caller's arguments.
type Config struct {
	// Dial opens one link; Connect calls it for the first link, reconnection for the next.
	Dial Dialer
	// Group is the backend's delivery domain: its Stop ends delivery to every Device's
	// handlers. Nil gives the Device a registry of its own.
	Group *Group
	// Log receives warnings (Service Changed, failed re-subscriptions); nil discards them.
	Log *slog.Logger
	// Values supplies context values to reconnection attempts; its cancellation is ignored,
	// because the Device outlives the call that made it.
	Values context.Context
}

// CheckConnect checks Connect's arguments as every backend must: the address, its type and the
// connection parameters. Errors match gogatt.ErrInvalidParameter.
func CheckConnect(address string, opts gogatt.ConnectOptions) (bt.Address, error) {
	addr, err := bt.ParseAddress(address)
	if err != nil {
		return bt.Address{}, fmt.Errorf("connect: %w: %w", gogatt.ErrInvalidParameter, err)
	}
	if opts.AddressType != bt.AddressPublic && opts.AddressType != bt.AddressRandom {
		return bt.Address{}, fmt.Errorf("connect %s: %w: address type %d", addr, gogatt.ErrInvalidParameter, opts.AddressType)
	}
	if _, err := opts.Resolve(); err != nil {
		return bt.Address{}, fmt.Errorf("connect %s: %w", addr, err)
	}
	return addr, nil
}

// Connect checks the arguments, dials the first link (bounded by ctx and
// opts.ConnectTimeout()) and returns the one implementation of gogatt.Device over it.
//
// The Device owns what no backend repeats: UUID resolution with a discovery cache per link
// (kept in step by Service Changed indications, see ServiceChanged), the subscriptions and
// their registry (one for the Device's whole life, so values keep their order across
// reconnections and SubscriptionStats count across them), the checks of handles, values and
// MTUs, and reconnection.
//
// When the link is lost the Device emits EventDisconnected. Without opts.AutoReconnect that is
// the end: Disconnected is closed and Err returns the link's *gogatt.DisconnectError; the values
// that arrived before the loss are still delivered. With it, the Device dials again, waiting
// before each attempt as opts.ReconnectPolicy() says, at most ReconnectAttempts times
// (0 = unlimited), emitting EventReconnecting before each attempt; each attempt is bounded by
// opts.ConnectTimeout(). On success it re-applies, on the new link, every subscription (by UUID
// or by handle, as made) and the last MTU asked for, then emits EventReconnected, whose Err joins
// the errors of subscriptions that could not be restored (they stay registered and are tried
// again after the next reconnection). When the attempts run out it emits EventGaveUp and the
// Device is dead. While reconnecting, calls fail at once with an error matching
// gogatt.ErrNotConnected.
//
// Events go to opts.OnConnectionEvent one at a time, in order, on a goroutine of the Device's,
// never under a lock; Disconnected is closed after the last of them.
func Connect(ctx context.Context, address string, opts gogatt.ConnectOptions, cfg Config) (gogatt.Device, error) {
	addr, err := CheckConnect(address, opts)
	if err != nil {
		return nil, err
	}
	values := cfg.Values
	if values == nil {
		values = context.Background()
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stopCtx, stop := context.WithCancel(context.WithoutCancel(values))
	d := &device{
		addr:        addr,
		opts:        opts,
		dial:        cfg.Dial,
		log:         log,
		stopCtx:     stopCtx,
		stop:        stop,
		done:        make(chan struct{}),
		watcherDone: make(chan struct{}),
	}
	if cfg.Group != nil {
		d.reg = cfg.Group.NewRegistry()
	} else {
		d.reg = NewRegistry()
	}
	d.events.fn = func(f func()) { f() }
	dctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout())
	l, err := d.dial(dctx, addr, opts, d.reg.Dispatch)
	cancel()
	if err == nil && l == nil {
		err = fmt.Errorf("connect %s: the backend returned no link", addr)
	}
	if err != nil {
		stop()
		d.reg.Stop()
		return nil, err
	}
	d.cur, d.up = d.attach(l), true
	go d.watch(d.cur)
	return d, nil
}

// device is the one gogatt.Device: the semantics of GATT above whichever Link is current.
type device struct {
	addr    bt.Address
	opts    gogatt.ConnectOptions
	dial    Dialer
	log     *slog.Logger
	reg     *Registry          // every subscription's queue, for the Device's whole life
	stopCtx context.Context    // cancelled by Disconnect
	stop    context.CancelFunc // cancels stopCtx

	// subMu serialises changes of the subscription list with their re-application after a
	// reconnection, so that none is lost or resurrected. Never held while user code runs.
	subMu sync.Mutex
	subs  []*sub
	mtu   int // last ExchangeMTU request, re-applied after a reconnection

	mu      sync.Mutex
	cur     *linkState
	up      bool  // cur is connected
	lost    error // the loss being repaired (while !up)
	final   error // set once the Device is gone for good
	closing bool  // Disconnect was called

	events      serial[func()] // connection events, then the closing of done
	done        chan struct{}
	watcherDone chan struct{}
}

// linkState is a link with the discovery cache of its attribute tree.
type linkState struct {
	Link
	cache *ServiceCache
	sc    *ServiceChanged
	steps Stepwise // nil unless the link discovers step by step
}

// sub is a subscription made through the Device.
type sub struct {
	byUUID bool
	uuid   gogatt.UUID
	handle uint16 // value handle (for byUUID: as resolved on the current link)
	fn     gogatt.NotificationHandler
	opts   gogatt.SubscribeOptions
}

var (
	_ gogatt.Device                    = (*device)(nil)
	_ gogatt.SubscriptionStatsReporter = (*device)(nil)
)

// attach gives l a discovery cache watched for Service Changed indications. A Stepwise link's
// full discovery reuses what partial discoveries learnt.
func (d *device) attach(l Link) *linkState {
	ls := &linkState{Link: l}
	discover := l.Discover
	if s, ok := l.(Stepwise); ok {
		ls.steps = s
		discover = func(ctx context.Context) ([]gogatt.Service, error) {
			if _, sk, ok := ls.cache.skeleton(); ok {
				return fillDescriptors(ctx, s, sk, ls.cache.knownDescriptorMap())
			}
			return l.Discover(ctx) // the link's own way, nothing being known yet
		}
	}
	ls.cache, ls.sc = WatchServiceChanged(discover, func(ctx context.Context, ch gogatt.Characteristic) error {
		return l.Configure(ctx, ch, IndicateOn)
	}, d.reg, d.log)
	return ls
}

// find returns the characteristic uuid (byUUID) or of value handle handle on l, with its
// descriptors when descs is set. While l's tree is not known and l is Stepwise, it discovers
// only the services and declarations (once) and, for descs, that characteristic's descriptors:
// the fewest requests that locate it and its CCCD. Otherwise it uses the whole tree.
func (d *device) find(ctx context.Context, l *linkState, byUUID bool, uuid gogatt.UUID, handle uint16, descs bool) (gogatt.Characteristic, error) {
	if _, known := l.cache.Cached(); known || l.steps == nil {
		if byUUID {
			return l.cache.Characteristic(ctx, uuid)
		}
		return l.cache.ByValueHandle(ctx, handle)
	}
	gen, sk, err := l.skeleton(ctx)
	if err != nil {
		return gogatt.Characteristic{}, err
	}
	var c gogatt.Characteristic
	if byUUID {
		c, err = gogatt.LookupCharacteristic(sk, uuid)
	} else {
		c, err = byValueHandle(sk, handle)
	}
	if err != nil || !descs {
		return c, err
	}
	return l.withDescriptors(ctx, gen, c)
}

// skeleton returns the services and declarations of l, discovering them once, and the cache
// generation they belong to. The first time, it also enables Service Changed indications, as a
// full discovery does.
func (l *linkState) skeleton(ctx context.Context) (uint64, []gogatt.Service, error) {
	gen, sk, ok := l.cache.skeleton()
	if ok {
		return gen, sk, nil
	}
	sk, err := skeletonOf(ctx, l.steps)
	if err != nil {
		return 0, nil, err
	}
	if l.cache.learnSkeleton(gen, sk) {
		for _, sv := range sk {
			if sv.UUID != gatt.UUIDGenericAttribute {
				continue
			}
			for _, c := range sv.Characteristics {
				if c.UUID == gatt.UUIDServiceChanged && c.Properties&gogatt.PropIndicate != 0 {
					if c, err := l.withDescriptors(ctx, gen, c); err == nil {
						sv.Characteristics = []gogatt.Characteristic{c}
						l.sc.discovered(ctx, []gogatt.Service{sv})
					}
				}
			}
		}
	}
	return gen, sk, nil
}

// withDescriptors fills in c's descriptors, discovering them once. c comes from the skeleton of
// generation gen: what is learnt is kept only while that skeleton is (a Service Changed
// indication meanwhile makes it stale).
func (l *linkState) withDescriptors(ctx context.Context, gen uint64, c gogatt.Characteristic) (gogatt.Characteristic, error) {
	ds, ok := l.cache.knownDescriptors(gen, c.ValueHandle)
	if !ok {
		var err error
		if ds, err = descriptorsOf(ctx, l.steps, c); err != nil {
			return c, err
		}
		l.cache.learnDescriptors(gen, c.ValueHandle, ds)
	}
	c.Descriptors = ds
	return c, nil
}

// current returns the link to run op on, or why there is none.
func (d *device) current(op string) (*linkState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.final != nil:
		return nil, fmt.Errorf("%s: %w", op, d.final)
	case !d.up:
		return nil, fmt.Errorf("%s: reconnecting: %w", op, d.lost)
	}
	return d.cur, nil
}

// emit queues a connection event for opts.OnConnectionEvent.
func (d *device) emit(kind gogatt.ConnectionEventKind, attempt int, err error) {
	ev := gogatt.ConnectionEvent{Kind: kind, Address: d.addr.String(), Attempt: attempt, Err: err}
	if cb := d.opts.OnConnectionEvent; cb != nil {
		d.events.push(func() { cb(ev) })
	}
}

// finish makes the Device dead with err, emitting kind (if not 0) as the last event.
func (d *device) finish(err error, kind gogatt.ConnectionEventKind) {
	d.mu.Lock()
	if d.final != nil {
		d.mu.Unlock()
		return
	}
	d.final, d.up = err, false
	d.mu.Unlock()
	if kind != 0 {
		d.emit(kind, 0, err)
	}
	d.events.push(func() { close(d.done) })
}

// watch waits for the loss of link l and repairs it; it exits when the Device is dead or
// Disconnect was called.
func (d *device) watch(l *linkState) {
	defer close(d.watcherDone)
	for {
		select {
		case <-l.Done():
		case <-d.stopCtx.Done():
			return
		}
		loss := d.asDisconnect(l.Err(), "link lost")
		d.mu.Lock()
		if d.closing {
			d.mu.Unlock()
			return
		}
		d.up, d.lost = false, loss
		d.mu.Unlock()
		_ = l.Close() // frees what the backend still holds of the lost link
		d.emit(gogatt.EventDisconnected, 0, loss)
		if !d.opts.AutoReconnect {
			d.reg.CloseAsync() // what arrived before the loss is still delivered
			d.finish(loss, 0)
			return
		}
		nl, err := d.reconnect(loss)
		if nl == nil {
			d.mu.Lock()
			closing := d.closing // Disconnect ends the Device itself, as a local disconnect
			d.mu.Unlock()
			if err != nil && !closing {
				d.reg.CloseAsync()
				d.finish(err, gogatt.EventGaveUp)
			}
			return
		}
		l = nl
	}
}

// asDisconnect makes sure a loss is reported as a *gogatt.DisconnectError.
func (d *device) asDisconnect(err error, reason string) error {
	var de *gogatt.DisconnectError
	if errors.As(err, &de) {
		return err
	}
	return &gogatt.DisconnectError{Address: d.addr.String(), Reason: reason, Err: err}
}

// reconnect dials until it succeeds (returning the new link, installed), runs out of attempts
// (returning the give-up error), or Disconnect is called (returning nil, nil).
func (d *device) reconnect(loss error) (*linkState, error) {
	backoff := d.opts.ReconnectPolicy()
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
			case <-d.stopCtx.Done():
				return nil, nil
			}
		}
		d.emit(gogatt.EventReconnecting, attempt, nil)
		dctx, cancel := context.WithTimeout(d.stopCtx, d.opts.ConnectTimeout())
		l, err := d.dial(dctx, d.addr, d.opts, d.reg.Dispatch)
		cancel()
		if err == nil && l == nil {
			err = errors.New("gattkit: dial returned no link")
		}
		if err == nil {
			ls := d.attach(l)
			subErr, ok := d.install(ls)
			if ok {
				d.emit(gogatt.EventReconnected, attempt, subErr)
				return ls, nil
			}
			_ = l.Close()
			err = subErr
		}
		if d.stopCtx.Err() != nil {
			return nil, nil
		}
		if n := d.opts.ReconnectAttempts; n > 0 && attempt >= n {
			return nil, &gogatt.DisconnectError{
				Address: d.addr.String(),
				Reason:  fmt.Sprintf("reconnection failed after %d attempts (last: %v)", attempt, err),
				Err:     loss,
			}
		}
	}
}

// install re-applies the MTU and the subscriptions on l and makes it current. It reports false
// (with the reason) when l was lost meanwhile or Disconnect was called.
func (d *device) install(l *linkState) (error, bool) {
	d.subMu.Lock()
	defer d.subMu.Unlock()
	ctx, cancel := context.WithTimeout(d.stopCtx, resubscribeTimeout)
	defer cancel()
	lostNow := func(err error) bool {
		return errors.Is(err, gogatt.ErrNotConnected) || d.stopCtx.Err() != nil
	}
	var errs []error
	if d.mtu > 0 {
		if _, err := l.ExchangeMTU(ctx, d.mtu); err != nil {
			if lostNow(err) {
				return err, false
			}
			if !errors.Is(err, gogatt.ErrUnsupported) {
				errs = append(errs, err)
			}
		}
	}
	for _, err := range d.reapply(ctx, l) {
		if lostNow(err) {
			return err, false
		}
		errs = append(errs, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return errors.New("gattkit: disconnected during reconnection"), false
	}
	d.cur, d.up, d.lost = l, true, nil
	return errors.Join(errs...), true
}

// reapply enables every subscription on l again (subMu held) and returns the errors. A
// subscription by UUID follows its characteristic to the value handle it has on l: first every
// subscription is located, then all moves are made at once (two may swap handles), keeping each
// one's queue and counters, and only then is each configured.
func (d *device) reapply(ctx context.Context, l *linkState) []error {
	type target struct {
		s   *sub
		ch  gogatt.Characteristic
		n   Notify
		err error
	}
	ts := make([]target, len(d.subs))
	moves := map[uint16]uint16{}
	for i, s := range d.subs {
		t := &ts[i]
		t.s = s
		t.ch, t.err = d.find(ctx, l, s.byUUID, s.uuid, s.handle, true)
		if t.err == nil {
			t.n, t.err = checkSubscribe(t.ch, s.opts, "subscribe")
		}
		if t.err == nil && t.ch.ValueHandle != s.handle {
			moves[s.handle] = t.ch.ValueHandle
		}
	}
	if len(moves) > 0 {
		d.reg.Rekey(moves)
		for _, t := range ts {
			if nw, ok := moves[t.s.handle]; ok && t.err == nil {
				t.s.handle = nw
			}
		}
	}
	var errs []error
	for _, t := range ts {
		if t.err == nil {
			t.err = l.Configure(ctx, t.ch, t.n)
		}
		if t.err != nil {
			errs = append(errs, t.err)
		}
	}
	return errs
}

// checkSubscribe checks that ch can deliver what opts ask for and has a CCCD (found by
// discovery, never guessed as value handle + 1; Core v5.3 Vol 3 Part G §3.3.3.3).
func checkSubscribe(ch gogatt.Characteristic, opts gogatt.SubscribeOptions, op string) (Notify, error) {
	want, n, kind := gogatt.PropNotify, NotifyOn, "notifications"
	if opts.Indication {
		want, n, kind = gogatt.PropIndicate, IndicateOn, "indications"
	}
	if ch.Properties&want == 0 {
		return 0, fmt.Errorf("%s %s (handle 0x%04x): the characteristic does not support %s (properties %v): %w", op, ch.UUID.Short(), ch.ValueHandle, kind, ch.Properties, gogatt.ErrUnsupported)
	}
	if _, ok := ch.CCCD(); !ok {
		return 0, fmt.Errorf("%s %s (handle 0x%04x): no Client Characteristic Configuration descriptor: %w", op, ch.UUID, ch.ValueHandle, gogatt.ErrNotFound)
	}
	return n, nil
}

func checkHandle(op string, h uint16) error {
	if h == 0 {
		return fmt.Errorf("%s: %w: handle 0x0000 is reserved (Core v5.3 Vol 3 Part F §3.2.2)", op, gogatt.ErrInvalidParameter)
	}
	return nil
}

// SubscriptionStats implements gogatt.SubscriptionStatsReporter; the counters span
// reconnections.
func (d *device) SubscriptionStats(valueHandle uint16) (gogatt.SubscriptionStats, bool) {
	return d.reg.Stats(valueHandle)
}

func (d *device) Address() string { return d.addr.String() }

func (d *device) Bond(ctx context.Context, permanent bool) error {
	l, err := d.current("bond")
	if err != nil {
		return err
	}
	return l.Bond(ctx, permanent)
}

func (d *device) RSSI(ctx context.Context) (int, error) {
	l, err := d.current("rssi")
	if err != nil {
		return 0, err
	}
	return l.RSSI(ctx)
}

func (d *device) Services(ctx context.Context) ([]gogatt.Service, error) {
	l, err := d.current("discover services")
	if err != nil {
		return nil, err
	}
	return l.cache.Services(ctx)
}

func (d *device) DiscoverCharacteristics(ctx context.Context) (map[gogatt.UUID][]gogatt.Characteristic, error) {
	s, err := d.Services(ctx)
	if err != nil {
		return nil, err
	}
	return gogatt.CharacteristicMap(s), nil
}

func (d *device) GetHandle(ctx context.Context, uuid gogatt.UUID) (uint16, error) {
	l, err := d.current("get handle")
	if err != nil {
		return 0, err
	}
	ch, err := d.find(ctx, l, true, uuid, 0, false)
	if err != nil {
		return 0, err
	}
	return ch.ValueHandle, nil
}

// resolve returns the current link and the value handle of uuid on it.
func (d *device) resolve(ctx context.Context, op string, uuid gogatt.UUID) (*linkState, uint16, error) {
	l, err := d.current(op)
	if err != nil {
		return nil, 0, err
	}
	ch, err := d.find(ctx, l, true, uuid, 0, false)
	if err != nil {
		return nil, 0, err
	}
	return l, ch.ValueHandle, nil
}

func readOp(long bool) string {
	if long {
		return "read long"
	}
	return "read"
}

func (d *device) read(ctx context.Context, l *linkState, handle uint16, long bool) ([]byte, error) {
	op := readOp(long)
	if err := checkHandle(op, handle); err != nil {
		return nil, err
	}
	v, err := l.Read(ctx, handle, long)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (d *device) readByUUID(ctx context.Context, uuid gogatt.UUID, long bool) ([]byte, error) {
	op := readOp(long)
	l, err := d.current(op)
	if err != nil {
		return nil, err
	}
	if _, known := l.cache.Cached(); !known && !isGATTType(uuid) {
		if tr, ok := l.Link.(TypeReader); ok {
			if v, done, err := d.readByType(ctx, l, tr, uuid, long); done {
				return v, err
			}
		}
	}
	ch, err := d.find(ctx, l, true, uuid, 0, false)
	if err != nil {
		return nil, err
	}
	return d.read(ctx, l, ch.ValueHandle, long)
}

// readByType reads uuid's value without discovering the tree: one Read By Type Request finds
// the one characteristic value of that type and carries its value (Core v5.3 Vol 3 Part G
// §4.8.2). A value that filled the response is read again by its handle (Read, or Read and Read
// Blob for long), so the result is what a Read by handle gives. It leaves the call to the
// discovery path (done = false) when the answer does not settle it: no such attribute (the tree
// gives the not-found error), several (the tree names the candidates), or an error the peer
// reports for the first one (the tree decides whether that is the characteristic read). Read By
// Type matches any attribute of the type: a vendor descriptor that uses the UUID, or a
// characteristic of a secondary service, is read here where the tree (primary services only)
// would say not found.
func (d *device) readByType(ctx context.Context, l *linkState, tr TypeReader, uuid gogatt.UUID, long bool) (v []byte, done bool, err error) {
	hv, err := tr.ReadByType(ctx, uuid)
	if err != nil {
		// A timed-out transaction leaves the bearer unusable (Core v5.3 Vol 3 Part F §3.3.3):
		// no second try through the tree.
		if ctx.Err() != nil || errors.Is(err, gogatt.ErrNotConnected) || errors.Is(err, gogatt.ErrTimeout) {
			return nil, true, err
		}
		return nil, false, nil
	}
	if len(hv) != 1 {
		return nil, false, nil
	}
	if hv[0].Partial {
		v, err := d.read(ctx, l, hv[0].Handle, long)
		return v, true, err
	}
	if hv[0].Value == nil {
		return []byte{}, true, nil
	}
	return hv[0].Value, true, nil
}

// isGATTType reports whether u is one of the types GATT itself uses for declarations and
// descriptors (0x2800–0x29FF, Core v5.3 Vol 3 Part G §3): reading such a type by UUID is not a
// characteristic read, so it goes through the tree.
func isGATTType(u gogatt.UUID) bool {
	v, ok := u.Is16()
	return ok && v >= 0x2800 && v <= 0x29FF
}

func (d *device) readByHandle(ctx context.Context, handle uint16, long bool) ([]byte, error) {
	op := readOp(long)
	l, err := d.current(op)
	if err != nil {
		return nil, err
	}
	return d.read(ctx, l, handle, long)
}

func (d *device) CharRead(ctx context.Context, uuid gogatt.UUID) ([]byte, error) {
	return d.readByUUID(ctx, uuid, false)
}

func (d *device) CharReadHandle(ctx context.Context, handle uint16) ([]byte, error) {
	return d.readByHandle(ctx, handle, false)
}

func (d *device) CharReadLong(ctx context.Context, uuid gogatt.UUID) ([]byte, error) {
	return d.readByUUID(ctx, uuid, true)
}

func (d *device) CharReadLongHandle(ctx context.Context, handle uint16) ([]byte, error) {
	return d.readByHandle(ctx, handle, true)
}

func writeMode(withResponse bool) WriteMode {
	if withResponse {
		return WriteRequest
	}
	return WriteCommand
}

func (d *device) write(ctx context.Context, l *linkState, handle uint16, value []byte, mode WriteMode) error {
	op := mode.op()
	if err := checkHandle(op, handle); err != nil {
		return err
	}
	if len(value) > maxValueLen {
		return fmt.Errorf("%s handle 0x%04x: %w: %d bytes exceed %d (Core v5.3 Vol 3 Part F §3.2.9)", op, handle, gogatt.ErrInvalidParameter, len(value), maxValueLen)
	}
	return l.Write(ctx, handle, value, mode)
}

func (d *device) writeByUUID(ctx context.Context, uuid gogatt.UUID, value []byte, mode WriteMode) error {
	l, h, err := d.resolve(ctx, mode.op(), uuid)
	if err != nil {
		return err
	}
	return d.write(ctx, l, h, value, mode)
}

func (d *device) writeByHandle(ctx context.Context, handle uint16, value []byte, mode WriteMode) error {
	l, err := d.current(mode.op())
	if err != nil {
		return err
	}
	return d.write(ctx, l, handle, value, mode)
}

func (d *device) CharWrite(ctx context.Context, uuid gogatt.UUID, value []byte, withResponse bool) error {
	return d.writeByUUID(ctx, uuid, value, writeMode(withResponse))
}

func (d *device) CharWriteHandle(ctx context.Context, handle uint16, value []byte, withResponse bool) error {
	return d.writeByHandle(ctx, handle, value, writeMode(withResponse))
}

func (d *device) CharWriteLong(ctx context.Context, uuid gogatt.UUID, value []byte) error {
	return d.writeByUUID(ctx, uuid, value, WriteLong)
}

func (d *device) CharWriteLongHandle(ctx context.Context, handle uint16, value []byte) error {
	return d.writeByHandle(ctx, handle, value, WriteLong)
}

// findSub returns the index of the subscription of value handle h or, for byUUID, of a
// subscription by uuid whose characteristic has moved since (subMu held); -1 if none.
func (d *device) findSub(h uint16, byUUID bool, uuid gogatt.UUID) int {
	for i, s := range d.subs {
		if s.handle == h {
			return i
		}
	}
	if byUUID {
		for i, s := range d.subs {
			if s.byUUID && s.uuid == uuid {
				return i
			}
		}
	}
	return -1
}

// subscribe registers fn first (so that no value sent right after the configuration is lost),
// then configures the characteristic. A new subscription whose configuration fails is
// forgotten; a replaced one keeps the handler and options in force. A subscription by UUID
// made again after its characteristic moved (Service Changed) replaces the old one, which
// moves to the new handle with its queue and counters.
func (d *device) subscribe(ctx context.Context, byUUID bool, uuid gogatt.UUID, handle uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	if fn == nil {
		return fmt.Errorf("subscribe: %w: nil handler", gogatt.ErrInvalidParameter)
	}
	if !byUUID {
		if err := checkHandle("subscribe", handle); err != nil {
			return err
		}
	}
	d.subMu.Lock()
	defer d.subMu.Unlock()
	l, err := d.current("subscribe")
	if err != nil {
		return err
	}
	ch, err := d.find(ctx, l, byUUID, uuid, handle, true)
	if err != nil {
		return err
	}
	n, err := checkSubscribe(ch, opts, "subscribe")
	if err != nil {
		return err
	}
	vh := ch.ValueHandle
	i := d.findSub(vh, byUUID, ch.UUID)
	if i >= 0 && d.subs[i].handle != vh {
		d.reg.Rekey(map[uint16]uint16{d.subs[i].handle: vh})
		d.subs[i].handle = vh
	}
	if i < 0 {
		d.reg.Add(vh, fn, opts)
	}
	if err := l.Configure(ctx, ch, n); err != nil {
		if i < 0 {
			d.reg.Remove(vh)
		}
		return err
	}
	s := &sub{byUUID: byUUID, uuid: ch.UUID, handle: vh, fn: fn, opts: opts}
	if i >= 0 {
		d.reg.Add(vh, fn, opts) // replaces the handler; queued values go to it, in order
		d.subs[i] = s
	} else {
		d.subs = append(d.subs, s)
	}
	return nil
}

// unsubscribe forgets the subscriptions of the characteristic (by UUID: every one of that UUID,
// however made) and stops their delivery, then, if connected, disables the characteristic's
// notifications and indications — also when it was not subscribed through this Device, since
// the peer may keep them enabled from an earlier connection.
func (d *device) unsubscribe(ctx context.Context, byUUID bool, uuid gogatt.UUID, handle uint16) error {
	if !byUUID {
		if err := checkHandle("unsubscribe", handle); err != nil {
			return err
		}
	}
	d.subMu.Lock()
	defer d.subMu.Unlock()
	var forgotten []uint16
	kept := d.subs[:0]
	for _, s := range d.subs {
		if (byUUID && s.uuid == uuid) || (!byUUID && s.handle == handle) {
			forgotten = append(forgotten, s.handle)
			d.reg.Remove(s.handle)
			continue
		}
		kept = append(kept, s)
	}
	clear(d.subs[len(kept):])
	d.subs = kept
	if !byUUID {
		d.reg.Remove(handle)
	}
	d.mu.Lock()
	l, up, final := d.cur, d.up, d.final
	d.mu.Unlock()
	if final != nil {
		return fmt.Errorf("unsubscribe: %w", final)
	}
	if !up {
		return nil // nothing to write: the subscription will not be restored
	}
	var chars []gogatt.Characteristic
	if len(forgotten) > 0 { // located by their handles: a UUID may be in several services
		for _, h := range forgotten {
			ch, err := d.find(ctx, l, false, gogatt.UUID{}, h, true)
			if err != nil {
				return err
			}
			chars = append(chars, ch)
		}
	} else {
		ch, err := d.find(ctx, l, byUUID, uuid, handle, true)
		if err != nil {
			return err
		}
		d.reg.Remove(ch.ValueHandle)
		chars = append(chars, ch)
	}
	var errs []error
	for _, ch := range chars {
		if _, ok := ch.CCCD(); !ok {
			errs = append(errs, fmt.Errorf("unsubscribe %s (handle 0x%04x): no Client Characteristic Configuration descriptor: %w", ch.UUID, ch.ValueHandle, gogatt.ErrNotFound))
			continue
		}
		if err := l.Configure(ctx, ch, NotifyOff); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *device) Subscribe(ctx context.Context, uuid gogatt.UUID, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	return d.subscribe(ctx, true, uuid, 0, fn, opts)
}

func (d *device) SubscribeHandle(ctx context.Context, valueHandle uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	return d.subscribe(ctx, false, gogatt.UUID{}, valueHandle, fn, opts)
}

func (d *device) Unsubscribe(ctx context.Context, uuid gogatt.UUID) error {
	return d.unsubscribe(ctx, true, uuid, 0)
}

func (d *device) UnsubscribeHandle(ctx context.Context, valueHandle uint16) error {
	return d.unsubscribe(ctx, false, gogatt.UUID{}, valueHandle)
}

// ResubscribeAll configures every subscription again; it tries them all and joins the errors.
func (d *device) ResubscribeAll(ctx context.Context) error {
	d.subMu.Lock()
	defer d.subMu.Unlock()
	l, err := d.current("resubscribe")
	if err != nil {
		return err
	}
	return errors.Join(d.reapply(ctx, l)...)
}

func (d *device) ExchangeMTU(ctx context.Context, mtu int) (int, error) {
	if mtu < minMTU || mtu > maxMTU {
		return 0, fmt.Errorf("exchange MTU: %w: MTU %d out of range %d–%d (Core v5.3 Vol 3 Part F §3.4.2.1)", gogatt.ErrInvalidParameter, mtu, minMTU, maxMTU)
	}
	l, err := d.current("exchange MTU")
	if err != nil {
		return 0, err
	}
	got, err := l.ExchangeMTU(ctx, mtu)
	if err == nil {
		d.subMu.Lock()
		d.mtu = mtu
		d.subMu.Unlock()
	}
	return got, err
}

// Disconnect stops any reconnection, ends delivery to the handlers (discarding, and counting,
// what is queued), closes the current link and makes the Device dead with a local
// *gogatt.DisconnectError. It waits for no handler and no OnConnectionEvent callback: the
// EventDisconnected it causes is delivered after it returns, then Disconnected is closed. It is
// idempotent; it may be called from a notification handler or an OnConnectionEvent callback.
func (d *device) Disconnect() error {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return nil
	}
	d.closing = true
	d.mu.Unlock()
	d.stop()
	<-d.watcherDone // prompt: every wait of the watcher also watches stopCtx
	d.reg.Stop()
	d.mu.Lock()
	l, up, final := d.cur, d.up, d.final
	d.mu.Unlock()
	err := l.Close() // idempotent; frees the link even after a loss
	if final != nil {
		return nil
	}
	local := &gogatt.DisconnectError{Address: d.addr.String(), Reason: "disconnected by the application", Local: true}
	if up {
		d.finish(local, gogatt.EventDisconnected)
	} else {
		d.finish(local, 0)
	}
	return err
}

func (d *device) Disconnected() <-chan struct{} { return d.done }

func (d *device) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.final != nil:
		return d.final
	case !d.up:
		return d.lost
	}
	return nil
}
