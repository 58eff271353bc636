package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogatt/gogatt/bt"
)

// Peripheral is a simulated peripheral. It is safe for concurrent use. Build one with
// NewBuilder.
type Peripheral struct {
	addr        bt.Address
	addrType    bt.AddressType
	name        string
	seed        int64
	advInterval time.Duration
	connectable bool
	rssiBase    int8
	rssiJitter  int8
	serverMTU   int
	prepLimit   int
	adv         []byte
	scanRsp     []byte
	dbp         atomic.Pointer[database] // replaced whole by ChangeServices

	valMu sync.RWMutex // attribute values

	mu         sync.Mutex // everything below
	inRange    bool
	conns      map[*conn]struct{}
	bonds      map[bt.Address]SecurityLevel
	authorizer func(central bt.Address, handle uint16) bool
	connList   atomic.Pointer[[]*conn] // copy of conns for senders

	refuse        atomic.Bool
	delay         atomic.Int64
	unresponsive  atomic.Bool
	corrupt       atomic.Bool
	refusePairing atomic.Bool

	rngMu sync.Mutex
	rng   *rand.Rand

	// genWait, if set (tests only), replaces the generator's wait until an absolute time; it
	// models an operating-system timer that wakes late. It returns false if stop closed first.
	genWait func(until time.Time, stop <-chan struct{}) bool
}

// waitUntil blocks until t or until stop is closed (false).
func waitUntil(t time.Time, stop <-chan struct{}) bool {
	tm := time.NewTimer(time.Until(t))
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-stop:
		return false
	}
}

// db returns the current GATT database (see ChangeServices).
func (p *Peripheral) db() *database { return p.dbp.Load() }

func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9E3779B97F4A7C15))
}

// Address returns the peripheral's device address.
func (p *Peripheral) Address() bt.Address { return p.addr }

// AddressType returns the peripheral's address type.
func (p *Peripheral) AddressType() bt.AddressType { return p.addrType }

// Name returns the device name (GAP Device Name, usually also advertised).
func (p *Peripheral) Name() string { return p.name }

// AdvertisingData returns a copy of the encoded advertising payload (AD structures, ≤31
// octets).
func (p *Peripheral) AdvertisingData() []byte { return append([]byte(nil), p.adv...) }

// ScanResponseData returns a copy of the encoded scan-response payload, nil if none.
func (p *Peripheral) ScanResponseData() []byte {
	if p.scanRsp == nil {
		return nil
	}
	return append([]byte(nil), p.scanRsp...)
}

// AdvertisingInterval returns the advertising interval.
func (p *Peripheral) AdvertisingInterval() time.Duration { return p.advInterval }

// Connectable reports whether the peripheral advertises as connectable.
func (p *Peripheral) Connectable() bool { return p.connectable }

// InRange reports whether the peripheral is in range (see SetInRange).
func (p *Peripheral) InRange() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inRange
}

// SampleRSSI returns the RSSI of one received packet: the builder's base ± jitter, drawn from
// the seeded generator.
func (p *Peripheral) SampleRSSI() int8 {
	if p.rssiJitter == 0 {
		return p.rssiBase
	}
	p.rngMu.Lock()
	d := p.rng.IntN(2*int(p.rssiJitter)+1) - int(p.rssiJitter)
	p.rngMu.Unlock()
	return int8(max(-127, min(20, int(p.rssiBase)+d)))
}

// Connect opens a connection from central (Core v5.3 Vol 6 Part B §4.5) and returns the
// central's end of it. It fails with ErrNotConnectable, ErrOutOfRange or ErrRefused (fault).
// The link starts with ATT_MTU 23, no security and every CCCD cleared.
func (p *Peripheral) Connect(central bt.Address, centralType bt.AddressType) (*Link, error) {
	if !p.connectable {
		return nil, fmt.Errorf("connect %v: %w", p.addr, ErrNotConnectable)
	}
	if p.refuse.Load() {
		return nil, fmt.Errorf("connect %v: %w", p.addr, ErrRefused)
	}
	c := newConn(p, central, centralType)
	c.in = make(chan []byte, linkQueue)
	c.out = make(chan []byte, linkQueue)
	if err := p.register(c); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go c.serveLink()
	return &Link{c: c}, nil
}

// linkQueue is how many PDUs may wait in each direction of an in-memory link before senders
// block.
const linkQueue = 128

// Serve runs the peripheral's ATT server over b, one PDU per message, until b.ReadPDU fails
// (the bearer closed: Serve returns nil for io.EOF and net.ErrClosed) or the link ends (out of
// range, DisconnectAll: Serve closes b and returns ErrLinkLost or ErrDisconnected). If b
// implements interface{ Security() SecurityLevel } the server asks it for the link's security
// on every request; otherwise the link is unencrypted. If b implements
// interface{ Central() bt.Address } that is the central's address (used for bonds, authorization
// and Request.Central); otherwise it is the zero address.
func (p *Peripheral) Serve(b Bearer) error {
	if !p.connectable {
		b.Close()
		return ErrNotConnectable
	}
	var central bt.Address
	if cb, ok := b.(interface{ Central() bt.Address }); ok {
		central = cb.Central()
	}
	c := newConn(p, central, bt.AddressPublic)
	c.bearer = b
	if s, ok := b.(interface{ Security() SecurityLevel }); ok {
		c.secFn = s.Security
	}
	if err := p.register(c); err != nil {
		b.Close()
		return err
	}
	c.in = make(chan []byte, linkQueue)
	c.wg.Add(1)
	go c.serveLink()
	var err error
	for {
		var pdu []byte
		pdu, err = b.ReadPDU()
		if err != nil {
			break
		}
		if isConfirmation(pdu) {
			c.confirm()
			continue
		}
		select {
		case c.in <- append([]byte(nil), pdu...):
		case <-c.done:
		}
	}
	select {
	case <-c.done:
		err = c.err
	default:
		c.end(err)
	}
	c.wg.Wait()
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (p *Peripheral) register(c *conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.inRange {
		return fmt.Errorf("connect %v: %w", p.addr, ErrOutOfRange)
	}
	p.conns[c] = struct{}{}
	p.publishConns()
	return nil
}

func (p *Peripheral) unregister(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	p.publishConns()
}

// publishConns refreshes connList; p.mu is held.
func (p *Peripheral) publishConns() {
	l := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		l = append(l, c)
	}
	p.connList.Store(&l)
}

func (p *Peripheral) links() []*conn {
	if l := p.connList.Load(); l != nil {
		return *l
	}
	return nil
}

// ConnectionCount returns the number of open links.
func (p *Peripheral) ConnectionCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Subscribers returns how many links have enabled notifications or indications on the
// characteristic whose value handle is valueHandle.
func (p *Peripheral) Subscribers(valueHandle uint16) int {
	ch := p.db().byValue[valueHandle]
	if ch == nil || ch.cccd == 0 {
		return 0
	}
	n := 0
	for _, c := range p.links() {
		if c.cccdValue(ch.cccd) != 0 {
			n++
		}
	}
	return n
}

// Notify sends value to every link that enabled notifications or indications on the
// characteristic whose value handle is valueHandle (Core v5.3 Vol 3 Part G §4.10, §4.11):
// a Handle Value Notification if the notification bit is set, else a Handle Value Indication,
// which waits until the link's previous indication is confirmed (Vol 3 Part F §3.4.7.2). The
// value is truncated to ATT_MTU−3. Notify blocks while a link's queue is full; it never drops.
// Unknown handles and characteristics without a CCCD are ignored. The stored value is not
// changed (see Update).
func (p *Peripheral) Notify(valueHandle uint16, value []byte) {
	ch := p.db().byValue[valueHandle]
	if ch == nil || ch.cccd == 0 {
		return
	}
	for _, c := range p.links() {
		_ = c.notifyChar(ch, value, nil)
	}
}

// Update stores value as the attribute's value and notifies the subscribed links.
func (p *Peripheral) Update(valueHandle uint16, value []byte) error {
	if err := p.SetValue(valueHandle, value); err != nil {
		return err
	}
	p.Notify(valueHandle, value)
	return nil
}

// Value returns a copy of the stored value of attribute handle h (nil for an unknown handle;
// CCCDs are per link and read as nil here).
func (p *Peripheral) Value(h uint16) []byte {
	a := p.db().find(h)
	if a == nil {
		return nil
	}
	return append([]byte(nil), p.stored(a)...)
}

// stored returns a's stored value. Stored values are replaced (store), never changed in place,
// so the slice stays valid after the lock is released.
func (p *Peripheral) stored(a *attr) []byte {
	p.valMu.RLock()
	v := a.value
	p.valMu.RUnlock()
	return v
}

// store makes v, which nobody changes afterwards, a's stored value.
func (p *Peripheral) store(a *attr, v []byte) {
	p.valMu.Lock()
	a.value = v
	p.valMu.Unlock()
}

// SetValue replaces the stored value of attribute handle h (a characteristic value or a
// descriptor other than a CCCD).
func (p *Peripheral) SetValue(h uint16, value []byte) error {
	a := p.db().find(h)
	if a == nil || a.kind == kindService || a.kind == kindCharDecl || a.kind == kindCCCD {
		return fmt.Errorf("sim: handle 0x%04X is not a value or descriptor", h)
	}
	if len(value) > 512 {
		return fmt.Errorf("sim: value of %d octets exceeds 512", len(value))
	}
	p.store(a, append([]byte(nil), value...))
	return nil
}

// StartGenerator sends n values (n ≤ 0: until stopped) to the links subscribed to
// valueHandle, at rate values per second (rate ≤ 0: as fast as the links take them). Each value
// is a 4-octet little-endian sequence number (0, 1, …) followed by the characteristic's stored
// value beyond its first 4 octets, so receivers can count loss and check order. Values pass
// through Notify's rules (indications wait for confirmations; backpressure, never drops);
// links that are not subscribed when a value is sent miss it. stop ends the generator early and
// waits for its goroutine; it may be called more than once.
//
// Value i is due at start + (i+1)/rate against the wall clock; whenever the generator wakes
// (late, as operating-system timers do at high rates, or after backpressure) it sends every
// value that is due before it waits again, so the asked rate holds on average.
func (p *Peripheral) StartGenerator(valueHandle uint16, n int, rate float64) (stop func()) {
	stopCh, done := make(chan struct{}), make(chan struct{})
	wait := p.genWait
	if wait == nil {
		wait = waitUntil
	}
	go func() {
		defer close(done)
		ch := p.db().byValue[valueHandle]
		if ch == nil || ch.cccd == 0 {
			return
		}
		start := time.Now()
		base := p.Value(valueHandle)
		v := make([]byte, 4, max(4, len(base)))
		if len(base) > 4 {
			v = append(v, base[4:]...)
		}
		for seq := 0; n <= 0 || seq < n; seq++ {
			if rate > 0 {
				due := start.Add(time.Duration(float64(seq+1) * float64(time.Second) / rate))
				if time.Now().Before(due) && !wait(due, stopCh) {
					return
				}
			}
			select {
			case <-stopCh:
				return
			default:
			}
			binary.LittleEndian.PutUint32(v, uint32(seq))
			for _, c := range p.links() {
				if c.notifyChar(ch, v, stopCh) == ErrStopped {
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(stopCh) })
		<-done
	}
}

// SetNotifyRate changes the rate (values per second, > 0) of a characteristic's AutoNotify
// source, for running and future subscriptions.
func (p *Peripheral) SetNotifyRate(valueHandle uint16, rate float64) error {
	ch := p.db().byValue[valueHandle]
	if ch == nil || ch.autoGen == nil {
		return fmt.Errorf("sim: handle 0x%04X has no automatic notification source", valueHandle)
	}
	if !(rate > 0) {
		return fmt.Errorf("sim: notify rate %v must be positive", rate)
	}
	ch.autoRate.Store(rateBits(rate))
	for _, c := range p.links() {
		c.kickAuto(valueHandle)
	}
	return nil
}

// NotifyRate returns the current rate of a characteristic's AutoNotify source (0 if none).
func (p *Peripheral) NotifyRate(valueHandle uint16) float64 {
	ch := p.db().byValue[valueHandle]
	if ch == nil || ch.autoGen == nil {
		return 0
	}
	return rateFrom(ch.autoRate.Load())
}

// ---- faults ----

// SetInRange moves the peripheral out of range (false) or back (true). Out of range, nothing
// passes on its links; each link is lost (ErrLinkLost) once its supervision timeout
// (Link.SetSupervisionTimeout, default 0 = at once) expires without the peripheral coming back,
// and Connect fails with ErrOutOfRange.
func (p *Peripheral) SetInRange(in bool) {
	p.mu.Lock()
	p.inRange = in
	p.mu.Unlock()
	for _, c := range p.links() {
		c.setInRange(in)
	}
}

// SetRefuseConnections makes Connect fail with ErrRefused while on.
func (p *Peripheral) SetRefuseConnections(refuse bool) { p.refuse.Store(refuse) }

// SetResponseDelay delays every ATT response by d (0 = none); timers honour testing/synctest.
func (p *Peripheral) SetResponseDelay(d time.Duration) { p.delay.Store(int64(d)) }

// SetUnresponsive makes the server silently ignore every request while on, so a client's
// 30-second ATT transaction timeout (Core v5.3 Vol 3 Part F §3.3.3) expires. Commands and
// confirmations are still processed.
func (p *Peripheral) SetUnresponsive(u bool) { p.unresponsive.Store(u) }

// SetCorruptResponses corrupts every ATT response while on: bit 7 of its opcode is set, which
// yields an opcode no client expects (for example 0x8B instead of the Read Response 0x0B).
func (p *Peripheral) SetCorruptResponses(c bool) { p.corrupt.Store(c) }

// SetRefusePairing makes Link.Pair fail with ErrPairingRefused while on (the peripheral
// answers SMP Pairing Failed, Core v5.3 Vol 3 Part H §3.5.5).
func (p *Peripheral) SetRefusePairing(r bool) { p.refusePairing.Store(r) }

// SetAuthorizer decides which centrals may access attributes that require authorization
// (nil: none may).
func (p *Peripheral) SetAuthorizer(fn func(central bt.Address, handle uint16) bool) {
	p.mu.Lock()
	p.authorizer = fn
	p.mu.Unlock()
}

func (p *Peripheral) authorized(central bt.Address, h uint16) bool {
	p.mu.Lock()
	fn := p.authorizer
	p.mu.Unlock()
	return fn != nil && fn(central, h)
}

// DisconnectAll ends every link from the peripheral's side (ErrDisconnected).
func (p *Peripheral) DisconnectAll() {
	for _, c := range p.links() {
		c.end(ErrDisconnected)
	}
}

// Bonded reports whether the peripheral holds a bond with central, and its level.
func (p *Peripheral) Bonded(central bt.Address) (SecurityLevel, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.bonds[central]
	return l, ok
}

// ClearBonds forgets every bond.
func (p *Peripheral) ClearBonds() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.bonds)
}

// ---- database views ----

// Services returns the GATT database as discovery would find it.
func (p *Peripheral) Services() []ServiceInfo {
	var out []ServiceInfo
	db := p.db()
	for _, s := range db.services {
		si := ServiceInfo{UUID: s.uuid, Primary: !s.secondary, Handle: s.handle, EndHandle: s.end}
		for _, ch := range s.chars {
			si.Characteristics = append(si.Characteristics, db.info(ch))
		}
		out = append(out, si)
	}
	return out
}

// Characteristic returns the first characteristic with this UUID (in handle order).
func (p *Peripheral) Characteristic(uuid bt.UUID) (CharacteristicInfo, bool) {
	db := p.db()
	for _, ch := range db.chars {
		if ch.uuid == uuid {
			return db.info(ch), true
		}
	}
	return CharacteristicInfo{}, false
}

// CharacteristicIn returns the first characteristic with this UUID inside the first service
// with UUID svc.
func (p *Peripheral) CharacteristicIn(svc, uuid bt.UUID) (CharacteristicInfo, bool) {
	db := p.db()
	for _, s := range db.services {
		if s.uuid != svc {
			continue
		}
		for _, ch := range s.chars {
			if ch.uuid == uuid {
				return db.info(ch), true
			}
		}
		break
	}
	return CharacteristicInfo{}, false
}

// ValueHandle returns the value handle of the first characteristic with this UUID, or 0.
func (p *Peripheral) ValueHandle(uuid bt.UUID) uint16 {
	c, _ := p.Characteristic(uuid)
	return c.ValueHandle
}

// HandleCount returns the highest handle in use.
func (p *Peripheral) HandleCount() uint16 {
	attrs := p.db().attrs
	if len(attrs) == 0 {
		return 0
	}
	return attrs[len(attrs)-1].handle
}
