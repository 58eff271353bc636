package gatttool

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/gatttool/internal/parse"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Limits checked before a value reaches gatttool.
const (
	defaultMTU  = 23  // ATT_MTU before any exchange (Core v5.3 Vol 3 Part F §3.2.8)
	maxMTU      = 517 // largest useful ATT_MTU: 512-byte value + 5 (Core v5.3 Vol 3 Part F §3.2.9)
	maxValueLen = 512 // attribute value limit (Core v5.3 Vol 3 Part F §3.2.9)
)

// device is one connection: one gatttool process. It is the raw device that gattkit.Wrap
// turns into the public Device (reconnection lives there).
type device struct {
	b    *Backend
	addr string
	p    *proc
	reg  *gattkit.Registry
	svc  *gattkit.ServiceCache

	mu   sync.Mutex
	mtu  int // 0 until exchanged
	subs map[uint16]subscription

	closeOnce sync.Once
	done      chan struct{} // closed when the link is gone (Disconnected)
}

type subscription struct {
	cccd       uint16
	indication bool
}

var (
	_ gogatt.Device                    = (*device)(nil)
	_ gogatt.SubscriptionStatsReporter = (*device)(nil)
)

// DeliveryGroup implements gattkit.GroupMember: the wrapper's queues join the backend's group.
func (d *device) DeliveryGroup() *gattkit.Group { return &d.b.deliveries }

// SubscriptionStats returns the registry's counters of the subscription of valueHandle.
func (d *device) SubscriptionStats(valueHandle uint16) (gogatt.SubscriptionStats, bool) {
	return d.reg.Stats(valueHandle)
}

func (d *device) Address() string { return d.addr }

// watch closes done when the process's link is gone, then waits until the process has been
// reaped and forgets the device. The values queued before a loss are still delivered
// (CloseAsync); Disconnect and the backend's Stop discard them (Registry.Stop).
func (d *device) watch() {
	defer d.b.wg.Done()
	<-d.p.lost
	d.reg.CloseAsync()
	d.closeOnce.Do(func() { close(d.done) })
	<-d.p.exited
	d.b.forget(d)
}

// Bond raises the link's security with `sec-level medium` (docs/bluez-tools.md §Security level:
// applied to the socket at once over LE; on real hardware that starts SMP pairing, Core v5.3 Vol 3
// Part H). Whether the keys are stored (permanent) is decided by the kernel and bluetoothd, not by
// gatttool, so permanent is accepted either way. The answer of the `sec-level` query that follows
// confirms the level; a btio failure is reported as printed.
func (d *device) Bond(ctx context.Context, permanent bool) error {
	_, err := d.p.do(ctx, &op{name: "bond", cmd: "sec-level medium", silent: true,
		accept: func(l parse.Line) bool { return l.Kind == parse.SecLevel }})
	return err
}

// RSSI is not available through gatttool.
func (d *device) RSSI(ctx context.Context) (int, error) {
	return 0, fmt.Errorf("gatttool: RSSI: %w", gogatt.ErrUnsupported)
}

func (d *device) Services(ctx context.Context) ([]gogatt.Service, error) { return d.svc.Services(ctx) }

func (d *device) DiscoverCharacteristics(ctx context.Context) (map[gogatt.UUID][]gogatt.Characteristic, error) {
	s, err := d.svc.Services(ctx)
	if err != nil {
		return nil, err
	}
	return gogatt.CharacteristicMap(s), nil
}

func (d *device) GetHandle(ctx context.Context, uuid gogatt.UUID) (uint16, error) {
	c, err := d.svc.Characteristic(ctx, uuid)
	if err != nil {
		return 0, err
	}
	return c.ValueHandle, nil
}

// discover builds the attribute tree with three gatttool commands: `primary`, `characteristics`
// and `char-desc` over the whole range (each a burst of lines from one callback), then assigns
// every attribute after a characteristic's value handle and before the next declaration to it
// as a descriptor (Core v5.3 Vol 3 Part G §4.7.1) — so the CCCD is the real one.
func (d *device) discover(ctx context.Context) ([]gogatt.Service, error) {
	notFound := func(l parse.Line) bool {
		return l.Kind == parse.ATTErrorLine && l.Code == att.ErrAttributeNotFound ||
			l.Kind == parse.ErrorLine && l.Text == "No primary service found"
	}
	prim, err := d.p.do(ctx, &op{name: "discover services", cmd: "primary", multi: true, errorIsEmpty: notFound,
		accept: func(l parse.Line) bool { return l.Kind == parse.Primary }})
	if err != nil {
		return nil, err
	}
	chars, err := d.p.do(ctx, &op{name: "discover characteristics", cmd: "characteristics", multi: true, errorIsEmpty: notFound,
		accept: func(l parse.Line) bool { return l.Kind == parse.Characteristic }})
	if err != nil {
		return nil, err
	}
	descs, err := d.p.do(ctx, &op{name: "discover descriptors", cmd: "char-desc", multi: true, errorIsEmpty: notFound,
		accept: func(l parse.Line) bool { return l.Kind == parse.Descriptor }})
	if err != nil {
		return nil, err
	}
	return buildTree(prim, chars, descs), nil
}

// buildTree assembles services, characteristics and descriptors from discovery lines.
func buildTree(prim, chars, descs []parse.Line) []gogatt.Service {
	sort.Slice(prim, func(i, j int) bool { return prim[i].Start < prim[j].Start })
	sort.Slice(chars, func(i, j int) bool { return chars[i].Handle < chars[j].Handle })
	sort.Slice(descs, func(i, j int) bool { return descs[i].Handle < descs[j].Handle })
	svcs := make([]gogatt.Service, 0, len(prim))
	for _, p := range prim {
		s := gogatt.Service{UUID: p.UUID, Handle: p.Start, EndHandle: p.End}
		for i, c := range chars {
			if c.Handle < p.Start || c.Handle > p.End {
				continue
			}
			end := p.End
			if i+1 < len(chars) && chars[i+1].Handle <= p.End {
				end = chars[i+1].Handle - 1
			}
			ch := gogatt.Characteristic{UUID: c.UUID, Handle: c.Handle, ValueHandle: c.ValueHandle,
				EndHandle: end, Properties: gogatt.Properties(c.Properties)}
			for _, dl := range descs {
				if dl.Handle > c.ValueHandle && dl.Handle <= end {
					ch.Descriptors = append(ch.Descriptors, gogatt.Descriptor{UUID: dl.UUID, Handle: dl.Handle})
				}
			}
			s.Characteristics = append(s.Characteristics, ch)
		}
		svcs = append(svcs, s)
	}
	return svcs
}

func (d *device) CharRead(ctx context.Context, uuid gogatt.UUID) ([]byte, error) {
	c, err := d.svc.Characteristic(ctx, uuid)
	if err != nil {
		return nil, err
	}
	return d.CharReadHandle(ctx, c.ValueHandle)
}

// CharReadHandle reads with `char-read-hnd` and returns at most ATT_MTU-1 bytes, what one ATT Read
// returns (Core v5.3 Vol 3 Part F §3.4.4.4). gatttool itself continues with Read Blob when the
// value fills the response (docs/bluez-tools.md §Long values); CharReadLongHandle returns all of
// it.
func (d *device) CharReadHandle(ctx context.Context, handle uint16) ([]byte, error) {
	v, err := d.readHandle(ctx, handle, "read")
	if err != nil {
		return nil, err
	}
	if limit := d.currentMTU() - 1; len(v) > limit {
		v = v[:limit]
	}
	return v, nil
}

func (d *device) readHandle(ctx context.Context, handle uint16, opName string) ([]byte, error) {
	if err := checkHandle(handle); err != nil {
		return nil, err
	}
	lines, err := d.p.do(ctx, &op{name: opName, handle: handle, cmd: fmt.Sprintf("char-read-hnd 0x%04x", handle),
		accept: func(l parse.Line) bool { return l.Kind == parse.Value }})
	if err != nil {
		return nil, err
	}
	v := lines[0].Value
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (d *device) CharReadLong(ctx context.Context, uuid gogatt.UUID) ([]byte, error) {
	c, err := d.svc.Characteristic(ctx, uuid)
	if err != nil {
		return nil, err
	}
	return d.CharReadLongHandle(ctx, c.ValueHandle)
}

// CharReadLongHandle reads a value of any length: gatttool's char-read-hnd sends Read Blob Requests
// while each response fills ATT_MTU (Core v5.3 Vol 3 Part G §4.8.3; docs/bluez-tools.md §Long
// values). gatttool swallows an error during the blob phase and prints the part it has, so a
// failing peer gives a short value rather than an error.
func (d *device) CharReadLongHandle(ctx context.Context, handle uint16) ([]byte, error) {
	return d.readHandle(ctx, handle, "read long")
}

func (d *device) CharWrite(ctx context.Context, uuid gogatt.UUID, value []byte, withResponse bool) error {
	c, err := d.svc.Characteristic(ctx, uuid)
	if err != nil {
		return err
	}
	return d.CharWriteHandle(ctx, c.ValueHandle, value, withResponse)
}

// CharWriteHandle writes with `char-write-req` (a Write Request; gatttool switches to
// Prepare/Execute Write by itself above ATT_MTU-3 bytes, docs/bluez-tools.md §Long values) or
// `char-write-cmd` (a Write Command, which gatttool would silently truncate to ATT_MTU-3 bytes:
// longer values are refused here).
func (d *device) CharWriteHandle(ctx context.Context, handle uint16, value []byte, withResponse bool) error {
	if err := checkHandle(handle); err != nil {
		return err
	}
	if err := checkValue(value); err != nil {
		return err
	}
	if !withResponse {
		if limit := d.currentMTU() - 3; len(value) > limit {
			return fmt.Errorf("%w: write command of %d bytes exceeds ATT_MTU-3 = %d (Core v5.3 Vol 3 Part F §3.4.5.3)", gogatt.ErrInvalidParameter, len(value), limit)
		}
		_, err := d.p.do(ctx, &op{name: "write command", handle: handle, silent: true,
			cmd:    fmt.Sprintf("char-write-cmd 0x%04x %s", handle, hex.EncodeToString(value)),
			accept: func(l parse.Line) bool { return false }})
		return err
	}
	_, err := d.p.do(ctx, &op{name: "write", handle: handle,
		cmd:    fmt.Sprintf("char-write-req 0x%04x %s", handle, hex.EncodeToString(value)),
		accept: func(l parse.Line) bool { return l.Kind == parse.Written }})
	return err
}

func (d *device) CharWriteLong(ctx context.Context, uuid gogatt.UUID, value []byte) error {
	return d.CharWrite(ctx, uuid, value, true)
}

// CharWriteLongHandle uses `char-write-req`, which sends Prepare Write Requests and an Execute
// Write when the value exceeds ATT_MTU-3 (Core v5.3 Vol 3 Part G §4.9.4; docs/bluez-tools.md §Long
// values). A failed prepare is reported; gatttool does not cancel the server's queue.
func (d *device) CharWriteLongHandle(ctx context.Context, handle uint16, value []byte) error {
	return d.CharWriteHandle(ctx, handle, value, true)
}

func (d *device) currentMTU() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mtu == 0 {
		return defaultMTU
	}
	return d.mtu
}

func (d *device) Subscribe(ctx context.Context, uuid gogatt.UUID, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	c, err := d.svc.Characteristic(ctx, uuid)
	if err != nil {
		return err
	}
	return d.subscribe(ctx, c, fn, opts)
}

func (d *device) SubscribeHandle(ctx context.Context, valueHandle uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	if err := checkHandle(valueHandle); err != nil {
		return err
	}
	c, err := d.svc.ByValueHandle(ctx, valueHandle)
	if err != nil {
		return err
	}
	return d.subscribe(ctx, c, fn, opts)
}

// subscribe writes 0x0001 (notify) or 0x0002 (indicate) to the characteristic's CCCD found by
// descriptor discovery (Core v5.3 Vol 3 Part G §3.3.3.3), never value handle + 1. The handler
// is registered first, so that no value sent right after the write is lost.
func (d *device) subscribe(ctx context.Context, c gogatt.Characteristic, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	if fn == nil {
		return fmt.Errorf("%w: nil notification handler", gogatt.ErrInvalidParameter)
	}
	need, kind := gogatt.PropNotify, "notifications"
	if opts.Indication {
		need, kind = gogatt.PropIndicate, "indications"
	}
	if c.Properties&need == 0 {
		return fmt.Errorf("gatttool: subscribe 0x%04x: characteristic %s does not support %s (properties %s): %w",
			c.ValueHandle, c.UUID, kind, c.Properties, gogatt.ErrUnsupported)
	}
	cccd, ok := c.CCCD()
	if !ok {
		return fmt.Errorf("gatttool: subscribe 0x%04x: characteristic %s has no CCCD: %w", c.ValueHandle, c.UUID, gogatt.ErrNotFound)
	}
	// A re-subscribe whose write fails keeps the subscription in force (gogatt.Device.Subscribe).
	existed := d.reg.Has(c.ValueHandle)
	d.reg.Add(c.ValueHandle, fn, opts)
	if err := d.CharWriteHandle(ctx, cccd, cccdValue(opts.Indication), true); err != nil {
		if !existed {
			d.reg.Remove(c.ValueHandle)
		}
		return relabel(err, "subscribe")
	}
	d.mu.Lock()
	d.subs[c.ValueHandle] = subscription{cccd: cccd, indication: opts.Indication}
	d.mu.Unlock()
	return nil
}

// cccdValue is the Client Characteristic Configuration value that enables notifications (0x0001)
// or indications (0x0002), little-endian (Core v5.3 Vol 3 Part G §3.3.3.3).
func cccdValue(indication bool) []byte {
	if indication {
		return []byte{0x02, 0x00}
	}
	return []byte{0x01, 0x00}
}

// relabel renames the Op of an ATT error (the CCCD write belongs to subscribe/unsubscribe).
func relabel(err error, opName string) error {
	if e, ok := err.(*Error); ok {
		if ae, ok := e.Err.(*gogatt.ATTError); ok {
			c, a := *e, *ae
			a.Op = opName
			c.Op, c.Err = opName, &a
			return &c
		}
	}
	return err
}

func (d *device) Unsubscribe(ctx context.Context, uuid gogatt.UUID) error {
	c, err := d.svc.Characteristic(ctx, uuid)
	if err != nil {
		return err
	}
	return d.unsubscribe(ctx, c)
}

// UnsubscribeHandle writes 0x0000 to the CCCD and stops delivery.
func (d *device) UnsubscribeHandle(ctx context.Context, valueHandle uint16) error {
	if err := checkHandle(valueHandle); err != nil {
		return err
	}
	c, err := d.svc.ByValueHandle(ctx, valueHandle)
	if err != nil {
		return err
	}
	return d.unsubscribe(ctx, c)
}

// unsubscribe stops delivery and writes 0x0000 to the CCCD found by discovery, also when this
// Device did not subscribe: the peer may keep it enabled from an earlier connection
// (gogatt.Device.Unsubscribe).
func (d *device) unsubscribe(ctx context.Context, c gogatt.Characteristic) error {
	d.mu.Lock()
	delete(d.subs, c.ValueHandle)
	d.mu.Unlock()
	d.reg.Remove(c.ValueHandle)
	cccd, ok := c.CCCD()
	if !ok {
		return fmt.Errorf("gatttool: unsubscribe 0x%04x: characteristic %s has no CCCD: %w", c.ValueHandle, c.UUID, gogatt.ErrNotFound)
	}
	return relabel(d.CharWriteHandle(ctx, cccd, []byte{0, 0}, true), "unsubscribe")
}

// ResubscribeAll writes every subscription's CCCD again; it tries them all and joins the
// errors.
func (d *device) ResubscribeAll(ctx context.Context) error {
	d.mu.Lock()
	subs := maps.Clone(d.subs)
	d.mu.Unlock()
	var errs []error
	for _, s := range subs {
		if err := d.CharWriteHandle(ctx, s.cccd, cccdValue(s.indication), true); err != nil {
			errs = append(errs, relabel(err, "subscribe"))
		}
	}
	return errors.Join(errs...)
}

// ExchangeMTU sends `mtu N` once per connection (gatttool allows one exchange, docs/bluez-tools.md
// §MTU); a later call returns the MTU in force. mtu is checked first (23…517), which also avoids
// gatttool's "invalid value poisons later mtu" bug.
func (d *device) ExchangeMTU(ctx context.Context, mtu int) (int, error) {
	if mtu < defaultMTU || mtu > maxMTU {
		return 0, fmt.Errorf("%w: MTU %d out of range %d–%d (Core v5.3 Vol 3 Part F §3.4.2.1)", gogatt.ErrInvalidParameter, mtu, defaultMTU, maxMTU)
	}
	d.mu.Lock()
	if d.mtu != 0 {
		m := d.mtu
		d.mu.Unlock()
		return m, nil
	}
	d.mu.Unlock()
	lines, err := d.p.do(ctx, &op{name: "exchange MTU", cmd: fmt.Sprintf("mtu %d", mtu),
		accept: func(l parse.Line) bool { return l.Kind == parse.MTUExchanged }})
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.mtu = lines[0].MTU
	d.mu.Unlock()
	return lines[0].MTU, nil
}

// Disconnect ends delivery to the handlers (the queued values are discarded and counted, a call
// in progress finishes on its own), then ends the gatttool process (which closes the link) and
// waits for it. It never waits for a handler, so a handler may call it. Idempotent.
func (d *device) Disconnect() error {
	d.reg.Stop()
	d.p.close("disconnected by the application")
	d.closeOnce.Do(func() { close(d.done) })
	return nil
}

func (d *device) Disconnected() <-chan struct{} { return d.done }

func (d *device) Err() error {
	select {
	case <-d.done:
		return d.p.loss()
	default:
		return nil
	}
}

func checkHandle(h uint16) error {
	if h == 0 {
		return fmt.Errorf("%w: handle 0x0000 is reserved (Core v5.3 Vol 3 Part F §3.2.2)", gogatt.ErrInvalidParameter)
	}
	return nil
}

func checkValue(v []byte) error {
	if len(v) == 0 {
		return fmt.Errorf("%w: gatttool cannot write an empty value (it answers \"Invalid value\")", gogatt.ErrUnsupported)
	}
	if len(v) > maxValueLen {
		return fmt.Errorf("%w: value of %d bytes exceeds %d (Core v5.3 Vol 3 Part F §3.2.9)", gogatt.ErrInvalidParameter, len(v), maxValueLen)
	}
	return nil
}
