package gatttool

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/gatttool/internal/parse"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Limits checked before a value reaches gatttool.
const (
	defaultMTU = 23 // ATT_MTU before any exchange (Core v5.3 Vol 3 Part F §3.2.8)
)

// link is one connection: one gatttool process. It is the gattkit.Link of this backend;
// everything above handles (UUIDs, subscriptions, reconnection) is gattkit's one Device.
type link struct {
	b    *Backend
	addr string
	p    *proc

	mu  sync.Mutex
	mtu int // 0 until exchanged

	closeOnce sync.Once
	done      chan struct{} // closed when the link is gone (Disconnected)
}

// watch closes done when the process's link is gone, then waits until the process has been
// reaped and forgets the device. The values queued before a loss are still delivered
// by the Device; Disconnect and the backend's Stop discard them.
func (d *link) watch() {
	defer d.b.wg.Done()
	<-d.p.lost
	d.closeOnce.Do(func() { close(d.done) })
	<-d.p.exited
	d.b.forget(d)
}

// Bond raises the link's security with `sec-level medium` (docs/bluez-tools.md §Security level:
// applied to the socket at once over LE; on real hardware that starts SMP pairing, Core v5.3 Vol 3
// Part H). Whether the keys are stored (permanent) is decided by the kernel and bluetoothd, not by
// gatttool, so permanent is accepted either way. The answer of the `sec-level` query that follows
// confirms the level; a btio failure is reported as printed.
func (d *link) Bond(ctx context.Context, permanent bool) error {
	_, err := d.p.do(ctx, &op{name: "bond", cmd: "sec-level medium", silent: true,
		accept: func(l parse.Line) bool { return l.Kind == parse.SecLevel }})
	return err
}

// RSSI is not available through gatttool.
func (d *link) RSSI(ctx context.Context) (int, error) {
	return 0, fmt.Errorf("gatttool: RSSI: %w", gogatt.ErrUnsupported)
}

var _ gattkit.Stepwise = (*link)(nil)

// Discover builds the attribute tree with three gatttool commands over the whole range:
// `primary`, `characteristics` and `char-desc` (each a burst of lines from one callback), then
// assigns every attribute after a characteristic's value handle and before the next declaration
// to it as a descriptor (gattkit.BuildTree) — so the CCCD is the real one.
func (d *link) Discover(ctx context.Context) ([]gogatt.Service, error) {
	svcs, err := d.PrimaryServices(ctx)
	if err != nil {
		return nil, err
	}
	chars, err := d.Declarations(ctx, 0x0001, 0xFFFF)
	if err != nil {
		return nil, err
	}
	descs, err := d.Descriptors(ctx, 0x0001, 0xFFFF)
	if err != nil {
		return nil, err
	}
	return gattkit.BuildTree(svcs, chars, descs), nil
}

// discoveryEnded reports the lines that end a discovery with nothing (more) found.
func discoveryEnded(l parse.Line) bool {
	return l.Kind == parse.ATTErrorLine && l.Code == att.ErrAttributeNotFound ||
		l.Kind == parse.ErrorLine && l.Text == "No primary service found"
}

// PrimaryServices runs `primary`.
func (d *link) PrimaryServices(ctx context.Context) ([]gogatt.Service, error) {
	lines, err := d.p.do(ctx, &op{name: "discover services", cmd: "primary", multi: true, errorIsEmpty: discoveryEnded,
		accept: func(l parse.Line) bool { return l.Kind == parse.Primary }})
	if err != nil {
		return nil, err
	}
	svcs := make([]gogatt.Service, 0, len(lines))
	for _, l := range lines {
		svcs = append(svcs, gogatt.Service{UUID: l.UUID, Handle: l.Start, EndHandle: l.End})
	}
	return svcs, nil
}

// Declarations runs `characteristics START END`.
func (d *link) Declarations(ctx context.Context, start, end uint16) ([]gogatt.Characteristic, error) {
	lines, err := d.p.do(ctx, &op{name: "discover characteristics", cmd: fmt.Sprintf("characteristics 0x%04x 0x%04x", start, end),
		multi: true, errorIsEmpty: discoveryEnded,
		accept: func(l parse.Line) bool { return l.Kind == parse.Characteristic }})
	if err != nil {
		return nil, err
	}
	chars := make([]gogatt.Characteristic, 0, len(lines))
	for _, l := range lines {
		chars = append(chars, gogatt.Characteristic{UUID: l.UUID, Handle: l.Handle, ValueHandle: l.ValueHandle, Properties: gogatt.Properties(l.Properties)})
	}
	return chars, nil
}

// Descriptors runs `char-desc START END`, which lists every attribute of the range (gatttool
// sends Find Information Requests, Core v5.3 Vol 3 Part G §4.7.1).
func (d *link) Descriptors(ctx context.Context, start, end uint16) ([]gogatt.Descriptor, error) {
	lines, err := d.p.do(ctx, &op{name: "discover descriptors", cmd: fmt.Sprintf("char-desc 0x%04x 0x%04x", start, end),
		multi: true, errorIsEmpty: discoveryEnded,
		accept: func(l parse.Line) bool { return l.Kind == parse.Descriptor }})
	if err != nil {
		return nil, err
	}
	descs := make([]gogatt.Descriptor, 0, len(lines))
	for _, l := range lines {
		descs = append(descs, gogatt.Descriptor{UUID: l.UUID, Handle: l.Handle})
	}
	return descs, nil
}

// Read reads with `char-read-hnd`. gatttool itself continues with Read Blob Requests while each
// response fills ATT_MTU (Core v5.3 Vol 3 Part G §4.8.3; docs/bluez-tools.md §Long values), so a
// long read is the whole answer, and a single read is cut to ATT_MTU-1 bytes, what one ATT Read
// returns (Core v5.3 Vol 3 Part F §3.4.4.4). gatttool swallows an error during the blob phase and
// prints the part it has, so a failing peer gives a short long value rather than an error.
func (d *link) Read(ctx context.Context, handle uint16, long bool) ([]byte, error) {
	if long {
		return d.readHandle(ctx, handle, "read long")
	}
	v, err := d.readHandle(ctx, handle, "read")
	if err != nil {
		return nil, err
	}
	if limit := d.currentMTU() - 1; len(v) > limit {
		v = v[:limit]
	}
	return v, nil
}

func (d *link) readHandle(ctx context.Context, handle uint16, opName string) ([]byte, error) {
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

// Write writes with `char-write-req` (a Write Request; gatttool switches to Prepare/Execute Write
// by itself above ATT_MTU-3 bytes, docs/bluez-tools.md §Long values, so a long write is the same
// command; a failed prepare is reported, but gatttool does not cancel the server's queue) or
// `char-write-cmd` (a Write Command, which gatttool would silently truncate to ATT_MTU-3 bytes:
// longer values are refused here).
func (d *link) Write(ctx context.Context, handle uint16, value []byte, mode gattkit.WriteMode) error {
	if err := checkValue(value); err != nil {
		return err
	}
	if mode == gattkit.WriteCommand {
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

func (d *link) currentMTU() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mtu == 0 {
		return defaultMTU
	}
	return d.mtu
}

// Configure writes n to the CCCD of ch found by descriptor discovery (Core v5.3 Vol 3 Part G
// §3.3.3.3), never value handle + 1.
func (d *link) Configure(ctx context.Context, ch gogatt.Characteristic, n gattkit.Notify) error {
	cccd, ok := ch.CCCD()
	if !ok {
		return fmt.Errorf("gatttool: %s 0x%04x: characteristic %s has no CCCD: %w", n.Op(), ch.ValueHandle, ch.UUID, gogatt.ErrNotFound)
	}
	return relabel(d.Write(ctx, cccd, n.CCCDValue(), gattkit.WriteRequest), n.Op())
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

// ExchangeMTU sends `mtu N` once per connection (gatttool allows one exchange, docs/bluez-tools.md
// §MTU); a later call returns the MTU in force. mtu is checked first (23…517), which also avoids
// gatttool's "invalid value poisons later mtu" bug.
func (d *link) ExchangeMTU(ctx context.Context, mtu int) (int, error) {
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

// Close ends the gatttool process (which closes the link) and waits for it. Idempotent.
func (d *link) Close() error {
	d.p.close("disconnected by the application")
	d.closeOnce.Do(func() { close(d.done) })
	return nil
}

func (d *link) Done() <-chan struct{} { return d.done }

func (d *link) Err() error {
	select {
	case <-d.done:
		return d.p.loss()
	default:
		return nil
	}
}

func checkValue(v []byte) error {
	if len(v) == 0 {
		return fmt.Errorf("%w: gatttool cannot write an empty value (it answers \"Invalid value\")", gogatt.ErrUnsupported)
	}
	return nil
}
