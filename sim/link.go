package sim

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
)

// conn is the peripheral's state for one connection: ATT bearer state of Core v5.3 Vol 3
// Part F (MTU, prepare queue, outstanding indication) and GATT per-client state (CCCDs).
type conn struct {
	p           *Peripheral
	central     bt.Address
	centralType bt.AddressType

	in, out chan []byte // in-memory link (nil under Serve)
	bearer  Bearer      // Serve
	secFn   func() SecurityLevel
	sec     atomic.Int32

	sendMu  sync.Mutex
	done    chan struct{}
	endOnce sync.Once
	err     error // set before done is closed
	wg      sync.WaitGroup
	indSem  chan struct{} // holds a token while an indication awaits its confirmation

	rangeMu     sync.Mutex
	gate        chan struct{} // non-nil (open) while out of range
	loss        *time.Timer
	supervision atomic.Int64

	mtu atomic.Int32

	mu     sync.Mutex
	closed bool
	cccd   map[uint16]uint16
	autos  map[uint16]*autoSource
	prep   []prepWrite

	// server goroutine only
	rsp, scratch []byte
}

type prepWrite struct {
	a      *attr
	offset int
	value  []byte
}

type autoSource struct {
	stop, kick chan struct{}
}

func newConn(p *Peripheral, central bt.Address, t bt.AddressType) *conn {
	c := &conn{p: p, central: central, centralType: t, done: make(chan struct{}),
		indSem: make(chan struct{}, 1), cccd: map[uint16]uint16{}, autos: map[uint16]*autoSource{},
		rsp: make([]byte, 0, att.MaxMTU), scratch: make([]byte, 0, att.MaxMTU)}
	c.mtu.Store(att.DefaultMTU)
	return c
}

func (c *conn) security() SecurityLevel {
	if c.secFn != nil {
		return c.secFn()
	}
	return SecurityLevel(c.sec.Load())
}

// end closes the connection once with err as the reason.
func (c *conn) end(err error) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.err = err
		close(c.done)
		c.rangeMu.Lock()
		if c.loss != nil {
			c.loss.Stop()
		}
		c.rangeMu.Unlock()
		c.p.unregister(c)
		if c.bearer != nil {
			c.bearer.Close()
		}
	})
}

func (c *conn) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *conn) setInRange(in bool) {
	c.rangeMu.Lock()
	if in {
		if c.loss != nil {
			c.loss.Stop()
			c.loss = nil
		}
		if c.gate != nil {
			close(c.gate)
			c.gate = nil
		}
		c.rangeMu.Unlock()
		return
	}
	if c.gate == nil {
		c.gate = make(chan struct{})
	}
	d := time.Duration(c.supervision.Load())
	if d > 0 && c.loss == nil {
		c.loss = time.AfterFunc(d, func() { c.end(ErrLinkLost) })
	}
	c.rangeMu.Unlock()
	if d <= 0 {
		c.end(ErrLinkLost)
	}
}

// waitInRange blocks while the peripheral is out of range; false if the link ended or cancel
// fired meanwhile.
func (c *conn) waitInRange(cancel <-chan struct{}) bool {
	c.rangeMu.Lock()
	g := c.gate
	c.rangeMu.Unlock()
	if g == nil {
		return !c.ended()
	}
	select {
	case <-g:
		return !c.ended()
	case <-c.done:
		return false
	case <-cancel:
		return false
	}
}

// send delivers one PDU towards the central, in order, blocking while the link's queue is full.
// owned means pdu may be handed over without copying.
func (c *conn) send(pdu []byte, owned bool, cancel <-chan struct{}) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if !c.waitInRange(cancel) {
		return c.stopErr(cancel)
	}
	if c.bearer != nil {
		return c.bearer.WritePDU(pdu)
	}
	if !owned {
		pdu = append([]byte(nil), pdu...)
	}
	select {
	case c.out <- pdu:
		return nil
	case <-c.done:
		return c.err
	case <-cancel:
		return ErrStopped
	}
}

func (c *conn) stopErr(cancel <-chan struct{}) error {
	select {
	case <-c.done:
		return c.err
	case <-cancel:
		return ErrStopped
	default:
		return ErrStopped
	}
}

func (c *conn) cccdValue(h uint16) uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cccd[h]
}

// notifyChar sends value as a notification or indication if this link subscribed.
func (c *conn) notifyChar(ch *charDef, value []byte, cancel <-chan struct{}) error {
	cfg := c.cccdValue(ch.cccd)
	if cfg == 0 {
		return nil
	}
	value = value[:min(len(value), int(c.mtu.Load())-3)]
	if cfg&0x0001 != 0 {
		pdu := make([]byte, 0, 3+len(value))
		return c.send(att.HandleValueNtf{Handle: ch.value, Value: value}.Append(pdu), true, cancel)
	}
	select { // one indication outstanding per bearer (Core v5.3 Vol 3 Part F §3.4.7.2)
	case c.indSem <- struct{}{}:
	case <-c.done:
		return c.err
	case <-cancel:
		return ErrStopped
	}
	pdu := make([]byte, 0, 3+len(value))
	err := c.send(att.HandleValueInd{Handle: ch.value, Value: value}.Append(pdu), true, cancel)
	if err != nil {
		c.confirm()
	}
	return err
}

func isConfirmation(pdu []byte) bool {
	return len(pdu) == 1 && att.Opcode(pdu[0]) == att.OpHandleValueCfm
}

// confirm releases the outstanding indication; a stray confirmation is ignored.
func (c *conn) confirm() {
	select {
	case <-c.indSem:
	default:
	}
}

// startAuto / stopAuto run a characteristic's AutoNotify source for this link; c.mu is held.
func (c *conn) startAuto(ch *charDef) {
	if c.closed || c.autos[ch.value] != nil {
		return
	}
	s := &autoSource{stop: make(chan struct{}), kick: make(chan struct{}, 1)}
	c.autos[ch.value] = s
	c.wg.Add(1)
	go c.autoLoop(ch, s)
}

func (c *conn) stopAuto(ch *charDef) {
	if s := c.autos[ch.value]; s != nil {
		close(s.stop)
		delete(c.autos, ch.value)
	}
}

func (c *conn) kickAuto(valueHandle uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.autos[valueHandle]; s != nil {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

func (c *conn) autoLoop(ch *charDef, s *autoSource) {
	defer c.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for seq := uint32(0); ; {
		// Since Go 1.23 Reset discards a pending expiry, so one timer serves every period.
		t.Reset(max(time.Nanosecond, time.Duration(float64(time.Second)/rateFrom(ch.autoRate.Load()))))
		select {
		case <-t.C:
		case <-s.kick:
			continue
		case <-s.stop:
			return
		case <-c.done:
			return
		}
		if err := c.notifyChar(ch, ch.autoGen(seq), s.stop); err != nil {
			return
		}
		seq++
	}
}

// serveLink is the server goroutine of an in-memory link.
func (c *conn) serveLink() {
	defer c.wg.Done()
	for {
		select {
		case pdu := <-c.in:
			c.process(pdu)
		case <-c.done:
			return
		}
	}
}

// process handles one PDU from the central and sends the response, if any.
func (c *conn) process(pdu []byte) {
	if len(pdu) == 0 || !c.waitInRange(nil) {
		return
	}
	op := att.Opcode(pdu[0])
	if op == att.OpHandleValueCfm {
		c.confirm()
		return
	}
	if c.p.unresponsive.Load() && op.IsRequest() {
		return
	}
	rsp := c.handle(pdu)
	if rsp == nil {
		return
	}
	if d := time.Duration(c.p.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return
		}
	}
	if c.p.corrupt.Load() {
		rsp[0] |= 0x80
	}
	_ = c.send(rsp, false, nil)
}

// Link is the central's end of a connection made by Peripheral.Connect. It implements Bearer:
// ReadPDU returns what the server sends (responses, notifications, indications) and WritePDU
// carries requests, commands and confirmations to it. It is safe for concurrent use, though
// ATT allows only one outstanding request at a time (Core v5.3 Vol 3 Part F §3.3.2).
type Link struct {
	c *conn
}

// ReadPDU returns the next PDU from the server; the caller owns it. Once the link has ended it
// returns the reason: an error wrapping ErrLinkLost, ErrDisconnected or net.ErrClosed (after
// Close).
func (l *Link) ReadPDU() ([]byte, error) {
	select {
	case <-l.c.done:
		return nil, l.c.err
	default:
	}
	select {
	case pdu := <-l.c.out:
		return pdu, nil
	case <-l.c.done:
		return nil, l.c.err
	}
}

// WritePDU sends one PDU to the server (copied; the caller keeps pdu). It blocks while the
// server's queue is full.
func (l *Link) WritePDU(pdu []byte) error {
	if len(pdu) == 0 {
		return errors.New("sim: empty ATT PDU")
	}
	select {
	case <-l.c.done:
		return l.c.err
	default:
	}
	if isConfirmation(pdu) {
		l.c.confirm() // apart from requests, so a handler may wait for an indication's confirmation
		return nil
	}
	select {
	case l.c.in <- append([]byte(nil), pdu...):
		return nil
	case <-l.c.done:
		return l.c.err
	}
}

// Close disconnects from the central's side and waits until the link's goroutines have
// finished. It is idempotent.
func (l *Link) Close() error {
	l.c.end(fmt.Errorf("sim: link closed by the central: %w", net.ErrClosed))
	l.c.wg.Wait()
	return nil
}

// Done is closed when the link ends, from either side or by loss.
func (l *Link) Done() <-chan struct{} { return l.c.done }

// Err returns why the link ended, nil while it is up.
func (l *Link) Err() error {
	select {
	case <-l.c.done:
		return l.c.err
	default:
		return nil
	}
}

// Pair runs pairing (SMP, Core v5.3 Vol 3 Part H) to level SecurityEncrypted or
// SecurityAuthenticated; with bond the peripheral keeps the keys (see Encrypt, Bonded). It
// fails with ErrPairingRefused when the peripheral refuses pairing.
func (l *Link) Pair(level SecurityLevel, bond bool) error {
	if level != SecurityEncrypted && level != SecurityAuthenticated {
		return fmt.Errorf("sim: pair: invalid security level %v", level)
	}
	if err := l.Err(); err != nil {
		return err
	}
	if l.c.p.refusePairing.Load() {
		return fmt.Errorf("pair with %v: %w", l.c.p.addr, ErrPairingRefused)
	}
	l.c.sec.Store(int32(level))
	if bond {
		l.c.p.mu.Lock()
		l.c.p.bonds[l.c.central] = level
		l.c.p.mu.Unlock()
	}
	return nil
}

// Encrypt re-encrypts the link with the keys of an earlier bond (Core v5.3 Vol 6 Part B
// §5.1.3), restoring its security level without pairing; ErrNotBonded if there is none.
func (l *Link) Encrypt() error {
	if err := l.Err(); err != nil {
		return err
	}
	lvl, ok := l.c.p.Bonded(l.c.central)
	if !ok {
		return fmt.Errorf("encrypt link to %v: %w", l.c.p.addr, ErrNotBonded)
	}
	l.c.sec.Store(int32(lvl))
	return nil
}

// Security returns the link's current security level.
func (l *Link) Security() SecurityLevel { return l.c.security() }

// RSSI returns the signal strength of the link, sampled like Peripheral.SampleRSSI.
func (l *Link) RSSI() int8 { return l.c.p.SampleRSSI() }

// MTU returns the link's ATT_MTU: 23 until an Exchange MTU, then the smaller of the client's
// and the server's receive MTUs (Core v5.3 Vol 3 Part F §3.4.2).
func (l *Link) MTU() int { return int(l.c.mtu.Load()) }

// SetSupervisionTimeout sets how long the link survives the peripheral being out of range
// before it is lost (Core v5.3 Vol 6 Part B §5.4.2); 0 (the default) loses it at once.
func (l *Link) SetSupervisionTimeout(d time.Duration) { l.c.supervision.Store(int64(d)) }

// Central returns the central's address as given to Connect.
func (l *Link) Central() bt.Address { return l.c.central }

// Peripheral returns the peripheral this link connects to.
func (l *Link) Peripheral() *Peripheral { return l.c.p }
