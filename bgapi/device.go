package bgapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// ATT limits with the fixed ATT_MTU of 23 of BLE SDK 1.x (docs/bgapi-protocol.md §ATT_MTU).
const (
	attMTU       = 23
	maxWriteLen  = attMTU - 3 // attribute_write / write_command value
	prepareChunk = attMTU - 5 // prepare_write value per request
)

// link is one connection handle of the dongle: the gattkit.Link of this backend. Everything
// above handles (UUIDs, subscriptions, reconnection) is gattkit's one Device.
type link struct {
	b  *Backend
	cn *conn
}

var _ gattkit.Link = (*link)(nil)

// Done is closed when the link is gone.
func (d *link) Done() <-chan struct{} { return d.cn.done }

// Err is nil while connected, then the *gogatt.DisconnectError saying why the link went.
func (d *link) Err() error { return d.cn.linkErr() }

// Close sends connection_disconnect and waits for connection_disconnected (pygatt only
// waited for the response, docs/bgapi-protocol.md#pygatt-disconnect). It is idempotent.
func (d *link) Close() error {
	ctx, cancel := context.WithTimeout(d.cn.c.stopCtx, 5*time.Second)
	defer cancel()
	return d.disconnect(ctx)
}

func (d *link) disconnect(ctx context.Context) error {
	cn, c := d.cn, d.cn.c
	c.mu.Lock()
	if cn.err != nil {
		c.mu.Unlock()
		return nil
	}
	cn.localClose = true
	c.mu.Unlock()
	m := &wire.CmdConnectionDisconnect{Connection: cn.handle}
	var r wire.RspConnectionDisconnect
	if err := c.call(ctx, m, &r); err == nil {
		if r.Result == wire.ResultNotConnected {
			// The dongle has no such link any more: nothing will follow.
			c.mu.Lock()
			if c.conns[cn.handle] == cn {
				delete(c.conns, cn.handle)
			}
			cn.endLocked(&gogatt.DisconnectError{Address: cn.addr.String(), Reason: "closed by local host", Local: true})
			c.mu.Unlock()
			return nil
		} else if r.Result != wire.ResultSuccess {
			return resultError(m.Name(), "disconnect", int(cn.handle), 0, r.Result)
		}
	} else if errors.Is(err, ErrAdapterLost) || errors.Is(err, gogatt.ErrNotStarted) {
		return nil // the link went with the adapter
	}
	select {
	case <-cn.done:
		return nil
	case <-ctx.Done():
		return gattkit.CtxErr(ctx, "disconnect")
	}
}

// Bond encrypts the link and, when permanent, stores a bond (sm_encrypt_start,
// docs/bgapi-protocol.md §Bonding). A passkey request is answered through Config.Passkey.
// Unlike pygatt (docs/bgapi-protocol.md#pygatt-bond) it checks the result and waits for the
// encrypted flag on this connection's handle. A link that is already encrypted — with the
// stored bond, as Connect re-encrypts the link to a bonded peer — is left as it is. A new bond
// is recorded in the dongle's persistent store (see Backend.ClearBond).
func (d *link) Bond(ctx context.Context, permanent bool) error {
	cn, c := d.cn, d.cn.c
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, attTimeout)
		defer cancel()
	}
	release, err := cn.acquire(ctx, "bond")
	if err != nil {
		return err
	}
	defer release()
	c.mu.Lock()
	done := cn.encrypted && (cn.bondHandle != wire.NoBond || !permanent)
	c.mu.Unlock()
	if done {
		return nil
	}
	bondable := uint8(0)
	if permanent {
		bondable = 1
	}
	if err := c.call(ctx, &wire.CmdSmSetBondableMode{Bondable: bondable}, nil); err != nil {
		return cn.linkOr("bond", err)
	}
	if permanent {
		defer func() { // leave the dongle not bondable, as Start set it
			ctx, cancel := context.WithTimeout(c.stopCtx, c.cmdTimeout)
			defer cancel()
			_ = c.call(ctx, &wire.CmdSmSetBondableMode{Bondable: 0}, nil)
		}()
	}
	if err := cn.encrypt(ctx, "bond", bondable); err != nil {
		return err
	}
	if permanent {
		c.mu.Lock()
		h := cn.bondHandle
		c.mu.Unlock()
		if h != wire.NoBond {
			if err := c.recordBond(ctx, h, cn.addr); err != nil {
				c.log.Warn("bgapi: the bond could not be recorded in the persistent store", "address", cn.addr, "bond", h, "err", err)
			}
		}
	}
	return nil
}

// RSSI returns the link's RSSI (connection_get_rssi). No retry on particular values
// (docs/bgapi-protocol.md#pygatt-rssi).
func (d *link) RSSI(ctx context.Context) (int, error) {
	cn, c := d.cn, d.cn.c
	if err := cn.linkErr(); err != nil {
		return 0, fmt.Errorf("rssi: %w", err)
	}
	var r wire.RspConnectionGetRssi
	if err := c.call(ctx, &wire.CmdConnectionGetRssi{Connection: cn.handle}, &r); err != nil {
		return 0, cn.linkOr("rssi", err)
	}
	v := r.RSSI
	if err := cn.linkErr(); err != nil {
		return 0, fmt.Errorf("rssi: %w", err)
	}
	return int(v), nil
}

var _ gattkit.Stepwise = (*link)(nil)

// Discover walks the tree (docs/bgapi-protocol.md §Discovery) with the fewest ATT requests
// the firmware's procedures allow at ATT_MTU 23: primary services (read_by_group_type 0x2800),
// the characteristic declarations of each run of adjacent services in one read_by_type 0x2803,
// then the descriptors between each value handle and the next declaration with find_information
// over ranges planned to need the fewest responses (descriptorsOfAll). pygatt used
// find_information alone over the whole range (docs/bgapi-protocol.md#pygatt-discovery). An
// operation that needs less uses the procedures one by one (gattkit.Stepwise).
func (d *link) Discover(ctx context.Context) ([]gogatt.Service, error) {
	svcs, err := d.PrimaryServices(ctx)
	if err != nil {
		return nil, err
	}
	// A Read By Type response packs as many declarations as fit, across service boundaries
	// (Core v5.3 Vol 3 Part F §3.4.4.2), and the procedure ends with one Attribute Not Found
	// per range: so one range per run of services whose handles follow each other (what lies
	// between two runs, such as a secondary service, is not searched). A declaration is
	// followed by its value within the service (Core v5.3 Vol 3 Part G §3.3), so declarations
	// lie in start+1 … end−1: searching only there spares the final request that finds nothing
	// when the last characteristic's value is the run's last handle (§4.6.1).
	var decls []gogatt.Characteristic
	for i := 0; i < len(svcs); {
		j := i
		for j+1 < len(svcs) && svcs[j].EndHandle < 0xFFFF && svcs[j+1].Handle == svcs[j].EndHandle+1 {
			j++
		}
		if start, end := svcs[i].Handle, svcs[j].EndHandle; uint32(start)+2 <= uint32(end) {
			ds, err := d.Declarations(ctx, start+1, end-1)
			if err != nil {
				return nil, err
			}
			decls = append(decls, ds...)
		}
		i = j + 1
	}
	svcs = gattkit.BuildTree(svcs, decls, nil)
	if err := d.descriptorsOfAll(ctx, svcs); err != nil {
		return nil, err
	}
	return svcs, nil
}

func (d *link) PrimaryServices(ctx context.Context) ([]gogatt.Service, error) {
	cn := d.cn
	p := newProc(pkGroups, "discover services", 1)
	m := &wire.CmdAttclientReadByGroupType{Connection: cn.handle, Start: 1, End: 0xFFFF, UUID: []byte{0x00, 0x28}}
	if err := cn.procedure(ctx, p, m); err != nil && !isNotFound(err) {
		return nil, err
	}
	var svcs []gogatt.Service
	for _, it := range p.items {
		u, err := bt.UUIDFromLE(it.uuid)
		if err != nil {
			return nil, fmt.Errorf("discover services: service at 0x%04x: %w", it.start, err)
		}
		svcs = append(svcs, gogatt.Service{UUID: u, Handle: it.start, EndHandle: it.end})
	}
	slices.SortFunc(svcs, func(a, b gogatt.Service) int { return int(a.Handle) - int(b.Handle) })
	return svcs, nil
}

// Declarations discovers the characteristic declarations in start–end with read_by_type 0x2803.
func (d *link) Declarations(ctx context.Context, start, end uint16) ([]gogatt.Characteristic, error) {
	cn := d.cn
	if start == 0 || start > end {
		return nil, nil
	}
	p := newProc(pkTypes, "discover characteristics", start)
	m := &wire.CmdAttclientReadByType{Connection: cn.handle, Start: start, End: end, UUID: []byte{0x03, 0x28}}
	if err := cn.procedure(ctx, p, m); err != nil && !isNotFound(err) {
		return nil, err
	}
	var chars []gogatt.Characteristic
	for _, it := range p.items {
		// Characteristic declaration value: properties u8, value handle u16, UUID
		// (Core v5.3 Vol 3 Part G §3.3.1).
		v := it.value
		if len(v) != 5 && len(v) != 19 {
			return nil, fmt.Errorf("discover characteristics: malformed declaration at 0x%04x: %d bytes", it.start, len(v))
		}
		props, vh := v[0], binary.LittleEndian.Uint16(v[1:3])
		u, err := bt.UUIDFromLE(v[3:])
		if err != nil {
			return nil, fmt.Errorf("discover characteristics: declaration at 0x%04x: %w", it.start, err)
		}
		chars = append(chars, gogatt.Characteristic{UUID: u, Handle: it.start, ValueHandle: vh, Properties: gogatt.Properties(props)})
	}
	slices.SortFunc(chars, func(a, b gogatt.Characteristic) int { return int(a.Handle) - int(b.Handle) })
	return chars, nil
}

// Descriptors discovers the descriptors in start–end with find_information.
func (d *link) Descriptors(ctx context.Context, start, end uint16) ([]gogatt.Descriptor, error) {
	cn := d.cn
	p := newProc(pkInfo, "discover descriptors", start)
	if err := cn.procedure(ctx, p, &wire.CmdAttclientFindInformation{Connection: cn.handle, Start: start, End: end}); err != nil && !isNotFound(err) {
		return nil, err
	}
	var out []gogatt.Descriptor
	for _, it := range p.items {
		if it.start < start || it.start > end {
			continue
		}
		u, err := bt.UUIDFromLE(it.uuid)
		if err != nil {
			return nil, fmt.Errorf("discover descriptors: at 0x%04x: %w", it.start, err)
		}
		out = append(out, gogatt.Descriptor{UUID: u, Handle: it.start})
	}
	return out, nil
}

// descriptorsOfAll finds the descriptors of every characteristic of svcs: the handles after
// its value up to its EndHandle. Each find_information range costs one request per response,
// and a response packs the (handle, type) pairs that fit in ATT_MTU − 2 octets while their
// UUIDs keep one length (Core v5.3 Vol 3 Part F §3.4.3.2); the procedure ends once a response
// reaches the end of the range. Where the attributes between two characteristics' descriptors
// are known (service, declaration and value attributes of services whose handles follow each
// other), one range over both can need fewer responses than two, so the ranges are chosen by
// dynamic programming over that estimate (descriptor types counted as 16-bit UUIDs, the usual
// case); whatever the estimate, every range covers all descriptors, and the attributes it
// returns that are not descriptors are skipped.
func (d *link) descriptorsOfAll(ctx context.Context, svcs []gogatt.Service) error {
	cn := d.cn
	type gap struct {
		c          *gogatt.Characteristic
		start, end uint16
	}
	var gaps []gap
	size := map[uint16]int{} // known attributes: UUID length of their type (0: a descriptor)
	for i := range svcs {
		s := &svcs[i]
		size[s.Handle] = 2
		for k := range s.Characteristics {
			c := &s.Characteristics[k]
			size[c.Handle] = 2
			size[c.ValueHandle] = len(c.UUID.AppendLE(nil))
			if c.ValueHandle < c.EndHandle {
				gaps = append(gaps, gap{c, c.ValueHandle + 1, c.EndHandle})
				for h := uint32(c.ValueHandle) + 1; h <= uint32(c.EndHandle); h++ {
					size[uint16(h)] = 0
				}
			}
		}
	}
	if len(gaps) == 0 {
		return nil
	}
	// cost[i][j-i]: estimated responses of one range from gaps[i].start to gaps[j].end (0: not
	// allowed, an unknown attribute lies between).
	const room = 23 - 2
	cost := make([][]int, len(gaps))
	for i := range gaps {
		n, left, cur := 0, 0, 0
		for j := i; j < len(gaps); j++ {
			from := gaps[i].start
			if j > i {
				from = gaps[j-1].end + 1
			}
			ok := true
			for h := uint32(from); h <= uint32(gaps[j].end); h++ {
				sz, known := size[uint16(h)]
				if !known {
					ok = false
					break
				}
				if sz == 0 {
					sz = 2
				}
				if sz != cur || left < 2+sz {
					n, left, cur = n+1, room, sz
				}
				left -= 2 + sz
			}
			if !ok {
				break
			}
			cost[i] = append(cost[i], n)
		}
	}
	// best[j]: fewest responses for gaps[:j]; from[j]: where its last range starts.
	best, from := make([]int, len(gaps)+1), make([]int, len(gaps)+1)
	for j := 1; j <= len(gaps); j++ {
		best[j] = -1
		for i := j - 1; i >= 0 && j-1-i < len(cost[i]); i-- {
			if c := best[i] + cost[i][j-1-i]; best[j] < 0 || c < best[j] {
				best[j], from[j] = c, i
			}
		}
	}
	var ranges [][2]int
	for j := len(gaps); j > 0; j = from[j] {
		ranges = append(ranges, [2]int{from[j], j - 1})
	}
	for _, r := range slices.Backward(ranges) {
		start, end := gaps[r[0]].start, gaps[r[1]].end
		p := newProc(pkInfo, "discover descriptors", start)
		if err := cn.procedure(ctx, p, &wire.CmdAttclientFindInformation{Connection: cn.handle, Start: start, End: end}); err != nil && !isNotFound(err) {
			return err
		}
		for _, it := range p.items {
			for _, g := range gaps[r[0] : r[1]+1] {
				if it.start < g.start || it.start > g.end {
					continue
				}
				u, err := bt.UUIDFromLE(it.uuid)
				if err != nil {
					return fmt.Errorf("discover descriptors: at 0x%04x: %w", it.start, err)
				}
				g.c.Descriptors = append(g.c.Descriptors, gogatt.Descriptor{UUID: u, Handle: it.start})
			}
		}
	}
	return nil
}

// isNotFound: Attribute Not Found ends a discovery normally (docs/bgapi-protocol.md
// §Procedures).
func isNotFound(err error) bool {
	var ae *gogatt.ATTError
	return errors.As(err, &ae) && ae.Code == att.ErrAttributeNotFound
}

// Read reads handle with attclient_read_by_handle: the value arrives as attribute_value type 0
// on that handle, an error as procedure_completed (docs/bgapi-protocol.md §Procedures). With
// long it uses attclient_read_long (Read then Read Blob, Core v5.3 Vol 3 Part G §4.8.3) and
// returns no partial value on error (docs/bgapi-protocol.md#pygatt-read-long).
func (d *link) Read(ctx context.Context, handle uint16, long bool) ([]byte, error) {
	if long {
		return d.read(ctx, pkReadLong, "read long", handle, &wire.CmdAttclientReadLong{Connection: d.cn.handle, Handle: handle})
	}
	return d.read(ctx, pkRead, "read", handle, &wire.CmdAttclientReadByHandle{Connection: d.cn.handle, Handle: handle})
}

// read runs the read procedure m of handle and returns its value (the Device checks the handle
// and turns no value into an empty one).
func (d *link) read(ctx context.Context, kind procKind, op string, handle uint16, m wire.Message) ([]byte, error) {
	p := newProc(kind, op, handle)
	if err := d.cn.procedure(ctx, p, m); err != nil {
		return nil, err
	}
	return p.value, nil
}

// Write writes with attclient_attribute_write (Write Request, waits for
// procedure_completed) or attclient_write_command (Write Command). A write_command refused with
// out_of_memory (0x0182, TX queue full) is retried with backoff until ctx ends
// (docs/bgapi-protocol.md §Result codes; pygatt ignored it,
// docs/bgapi-protocol.md#pygatt-write).
func (d *link) Write(ctx context.Context, handle uint16, value []byte, mode gattkit.WriteMode) error {
	if mode == gattkit.WriteLong {
		return d.writeLong(ctx, handle, value)
	}
	withResponse := mode == gattkit.WriteRequest
	op := "write"
	if !withResponse {
		op = "write command"
	}
	if len(value) > maxWriteLen {
		return fmt.Errorf("%s handle 0x%04x: %w: %d bytes exceed %d (ATT_MTU 23); use CharWriteLong", op, handle, gogatt.ErrInvalidParameter, len(value), maxWriteLen)
	}
	cn := d.cn
	if withResponse {
		return cn.procedure(ctx, newProc(pkWrite, op, handle), &wire.CmdAttclientAttributeWrite{Connection: cn.handle, Handle: handle, Data: value})
	}
	return d.writeCommand(ctx, handle, value)
}

func (d *link) writeCommand(ctx context.Context, handle uint16, value []byte) error {
	cn, c := d.cn, d.cn.c
	backoff := time.Millisecond
	var timer *time.Timer
	for {
		if err := cn.linkErr(); err != nil {
			return fmt.Errorf("write command: %w", err)
		}
		m := &wire.CmdAttclientWriteCommand{Connection: cn.handle, Handle: handle, Data: value}
		var r wire.RspAttclientWriteCommand
		if err := c.call(ctx, m, &r); err != nil {
			return cn.linkOr("write command", err)
		}
		res := r.Result
		if res != wire.ResultOutOfMemory {
			if res == wire.ResultNotConnected {
				if err := cn.linkErr(); err != nil {
					return fmt.Errorf("write command: %w", err)
				}
			}
			return resultError(m.Name(), "write command", int(cn.handle), handle, res)
		}
		// TX queue full: back off and retry.
		if timer == nil {
			timer = time.NewTimer(backoff)
			defer timer.Stop()
		} else {
			timer.Reset(backoff)
		}
		select {
		case <-timer.C:
		case <-ctx.Done():
			return gattkit.CtxErr(ctx, "write command")
		case <-cn.done:
			return fmt.Errorf("write command: %w", cn.linkErr())
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}

// writeLong writes up to 512 bytes with attclient_prepare_write chunks of 18 bytes at
// offsets 0, 18, 36, … then attclient_execute_write(1) (Core v5.3 Vol 3 Part G §4.9.4;
// docs/bgapi-protocol.md §ATT_MTU). It waits for each procedure_completed (no sleeps,
// docs/bgapi-protocol.md#pygatt-write-long) and holds the connection's procedure slot for the
// whole sequence so no other write interleaves with the server's prepare queue.
//
// If it fails or is abandoned (ctx ends) before the execute write is sent, the chunks already
// prepared stay in the peer's prepare queue (Core v5.3 Vol 3 Part F §3.4.6), where the next
// Execute Write on the link, even one for another characteristic, would commit them. So the
// queue is cancelled with execute_write(0): at once if ctx allows, else before the next
// procedure on the connection runs; the error says the write did not happen. Abandoned after
// the execute write was sent, the error says the outcome is unknown.
func (d *link) writeLong(ctx context.Context, handle uint16, value []byte) error {
	const op = "write long"
	cn := d.cn
	ctx, cancel := withATTTimeout(ctx)
	defer cancel()
	release, err := cn.acquire(ctx, op)
	if err != nil {
		return err
	}
	defer release()
	cn.setPrepared(true) // from the first prepare_write on
	for off := 0; off < len(value) || off == 0; off += prepareChunk {
		chunk := value[off:min(off+prepareChunk, len(value))]
		p := newProc(pkWrite, op, handle)
		err := cn.exec(ctx, p, &wire.CmdAttclientPrepareWrite{Connection: cn.handle, Handle: handle, Offset: uint16(off), Data: chunk})
		if err != nil {
			if ctx.Err() == nil && cn.linkErr() == nil {
				_ = cn.cancelPrepared(ctx) // if it fails, the connection stays marked
			}
			return fmt.Errorf("%s handle 0x%04x: the write did not happen (%d of %d bytes were prepared; the peer's prepare queue is cancelled): %w", op, handle, off, len(value), err)
		}
		if len(value) == 0 {
			break
		}
	}
	err = cn.exec(ctx, newProc(pkWrite, op, handle), &wire.CmdAttclientExecuteWrite{Connection: cn.handle, Commit: 1})
	switch {
	case peerAnswered(err):
		cn.setPrepared(false) // the peer has emptied its queue (Core v5.3 Vol 3 Part F §3.4.6.3)
		return err
	case cn.linkErr() != nil: // the peer discards the queue with the link
		return err
	}
	return fmt.Errorf("%s handle 0x%04x: no answer to the execute write; the outcome is unknown: %w", op, handle, err)
}

// Configure writes the CCCD of ch found by discovery (Core v5.3 Vol 3 Part G §3.3.3.3): 0x0001
// notify, 0x0002 indicate, 0 neither. Never "value handle + 1"
// (docs/bgapi-protocol.md#pygatt-cccd).
func (d *link) Configure(ctx context.Context, ch gogatt.Characteristic, n gattkit.Notify) error {
	cccd, ok := ch.CCCD()
	if !ok {
		return fmt.Errorf("%s %s (handle 0x%04x): no Client Characteristic Configuration descriptor: %w", n.Op(), ch.UUID, ch.ValueHandle, gogatt.ErrNotFound)
	}
	return d.writeCCCD(ctx, cccd, n.CCCDValue(), n.Op())
}

func (d *link) writeCCCD(ctx context.Context, cccd uint16, value []byte, op string) error {
	cn := d.cn
	p := newProc(pkWrite, op, cccd)
	return cn.procedure(ctx, p, &wire.CmdAttclientAttributeWrite{Connection: cn.handle, Handle: cccd, Data: value})
}

// ExchangeMTU is not available: BGAPI 1.x (BLE SDK 1.x firmware of the BLED112) has no MTU
// exchange command; ATT_MTU is fixed at 23 (docs/bgapi-protocol.md §ATT_MTU).
func (d *link) ExchangeMTU(ctx context.Context, mtu int) (int, error) {
	return attMTU, fmt.Errorf("exchange MTU: BGAPI 1.x has no MTU exchange command; ATT_MTU stays %d: %w", attMTU, gogatt.ErrUnsupported)
}

var _ gattkit.TypeReader = (*link)(nil)

// ReadByType reads the values of every attribute of type uuid with attclient_read_by_type over
// 0x0001–0xFFFF (BLE SDK 1.x API reference; the dongle continues the Read By Type Requests
// itself, one attribute_value type 3 per pair, then procedure_completed). Attribute Not Found
// means none.
func (d *link) ReadByType(ctx context.Context, uuid gogatt.UUID) ([]gattkit.HandleValue, error) {
	cn := d.cn
	p := newProc(pkTypes, "read", 1)
	m := &wire.CmdAttclientReadByType{Connection: cn.handle, Start: 1, End: 0xFFFF, UUID: uuid.AppendLE(nil)}
	if err := cn.procedure(ctx, p, m); err != nil && !isNotFound(err) { // not found: no (more)
		return nil, err
	}
	out := make([]gattkit.HandleValue, 0, len(p.items))
	for _, it := range p.items {
		// A Read By Type Response holds at most ATT_MTU−4 bytes of each value (Core v5.3 Vol 3
		// Part F §3.4.4.2).
		out = append(out, gattkit.HandleValue{Handle: it.start, Value: it.value, Partial: len(it.value) >= attMTU-4})
	}
	slices.SortFunc(out, func(a, b gattkit.HandleValue) int { return int(a.Handle) - int(b.Handle) })
	return out, nil
}
