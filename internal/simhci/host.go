package simhci

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// HCI opcodes (Core v5.3 Vol 4 Part E §7).
const (
	opDisconnect       = 0x0406
	opReset            = 0x0c03
	opReadBufferSize   = 0x1005
	opLEReadBufferSize = 0x2002
	opLESetRandomAddr  = 0x2005
	opLESetAdvParams   = 0x2006
	opLESetAdvData     = 0x2008
	opLESetScanRsp     = 0x2009
	opLESetAdvEnable   = 0x200a
	opLELTKNegReply    = 0x201b
	opLESetAdvSetAddr  = 0x2035
	opLESetExtAdvParam = 0x2036
	opLESetExtAdvData  = 0x2037
	opLESetExtScanRsp  = 0x2038
	opLESetExtAdvEn    = 0x2039
)

// statusUnknownCommand is the status of a command the controller does not know (Core v5.3
// Vol 1 Part F §2).
const statusUnknownCommand = 0x01

// HCI events (Core v5.3 Vol 4 Part E §7.7).
const (
	evDisconnComplete = 0x05
	evCmdComplete     = 0x0e
	evCmdStatus       = 0x0f
	evNumCompleted    = 0x13
	evLEMeta          = 0x3e

	leConnComplete    = 0x01
	leLTKRequest      = 0x05
	leEnhConnComplete = 0x0a
)

// L2CAP fixed channels on LE (Core v5.3 Vol 3 Part A §2.1).
const (
	cidATT = 0x0004
	cidSig = 0x0005
	cidSMP = 0x0006
)

// Host serves one sim.Peripheral through one HCI controller. Its methods are safe for
// concurrent use.
type Host struct {
	p   *sim.Peripheral
	rw  io.ReadWriteCloser
	log *slog.Logger

	wmu sync.Mutex // one writer of the stream

	cmdMu sync.Mutex     // one outstanding command
	cmdCh chan []byte    // the reader's answer to it: return parameters, status first
	cmdOp uint16         // guarded by mu
	done  chan struct{}  // closed when the reader ends
	rerr  error          // why the reader ended, set before done closes
	wg    sync.WaitGroup // the reader and the connection goroutines
	once  sync.Once

	aclMTU  int
	ext     bool          // advertising through the extended advertising commands
	credits chan struct{} // one token per free controller ACL buffer

	mu      sync.Mutex
	inRange bool
	closing bool
	conn    *conn                  // the current connection, nil when none
	keys    map[bt.Address]ltkKeys // the keys distributed to each central that bonded
}

// conn is one connection of the host.
type conn struct {
	handle      uint16
	central     bt.Address
	centralType bt.AddressType
	link        *sim.Link
	pair        pairing     // touched by the reader goroutine only
	in          chan []byte // ATT PDUs from the central, to the link
	rx          reassembler
	inflight    int           // ACL packets the controller holds, guarded by Host.mu
	down        chan struct{} // closed on Disconnection Complete
}

// Serve resets the controller behind rw, starts advertising p and serves the connections
// centrals make until Close. The stream carries H:4 packets. A host cannot change its
// controller's public address, so p's address must have the form of a static random address
// (two most significant bits set, Core v5.3 Vol 6 Part B §1.3.2.1), as those of
// sim.DemoPeripherals have: it is advertised as a random address whatever p.AddressType says.
func Serve(ctx context.Context, rw io.ReadWriteCloser, p *sim.Peripheral, logger *slog.Logger) (*Host, error) {
	if p.Address()[0]&0xc0 != 0xc0 {
		rw.Close()
		return nil, fmt.Errorf("simhci: serve %v: not a static random address: %w", p.Address(), gogatt.ErrUnsupported)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Host{p: p, rw: rw, log: logger.With("peripheral", p.Address().String()),
		cmdCh: make(chan []byte, 1), done: make(chan struct{}), inRange: true,
		keys: map[bt.Address]ltkKeys{}}
	h.wg.Add(1)
	go h.read()
	if err := h.setup(ctx); err != nil {
		h.Close()
		return nil, fmt.Errorf("simhci: serve %v: %w", p.Address(), err)
	}
	return h, nil
}

// setup resets the controller, learns its LE buffers and starts advertising.
func (h *Host) setup(ctx context.Context) error {
	if _, err := h.cmd(ctx, opReset); err != nil {
		return err
	}
	r, err := h.cmd(ctx, opLEReadBufferSize)
	if err != nil {
		return err
	}
	if len(r) < 4 {
		return fmt.Errorf("LE Read Buffer Size: %w", errMalformed)
	}
	mtu, n := int(binary.LittleEndian.Uint16(r[1:])), int(r[3])
	if mtu == 0 || n == 0 { // shared with BR/EDR (Core v5.3 Vol 4 Part E §7.8.2)
		r, err := h.cmd(ctx, opReadBufferSize)
		if err != nil {
			return err
		}
		if len(r) < 8 {
			return fmt.Errorf("simhci: read buffer size: %w", errMalformed)
		}
		mtu, n = int(binary.LittleEndian.Uint16(r[1:])), int(binary.LittleEndian.Uint16(r[4:]))
	}
	if mtu < 27 || n == 0 {
		return fmt.Errorf("controller ACL buffers %d × %d bytes: %w", n, mtu, errMalformed)
	}
	h.aclMTU = mtu
	h.credits = make(chan struct{}, n)
	for range n {
		h.credits <- struct{}{}
	}
	a := h.p.Address().LE()
	if _, err := h.cmd(ctx, opLESetRandomAddr, a[:]...); err != nil {
		return err
	}
	ivl := uint16(min(max(h.p.AdvertisingInterval()*8/5/time.Millisecond, 0x20), 0x4000))
	// Extended advertising with legacy PDUs first: a controller that scans with the extended
	// commands (as the kernel does on a 5.x controller) may report only extended advertisers;
	// BlueZ 5.66's emulated controllers do (emulator/btdev.c). Legacy advertising otherwise.
	props := uint16(0x0013) // legacy, connectable, scannable: ADV_IND
	if !h.p.Connectable() {
		props = 0x0012 // ADV_SCAN_IND
	}
	ep := []byte{0} // advertising handle 0
	ep = binary.LittleEndian.AppendUint16(ep, props)
	ep = append(ep, byte(ivl), byte(ivl>>8), 0, byte(ivl), byte(ivl>>8), 0)
	ep = append(ep, 0x07, 0x01 /* own address random */, 0, 0, 0, 0, 0, 0, 0, 0 /* filter */, 0x7f, 0x01, 0, 0x01, 0, 0)
	r, err = h.cmd(ctx, opLESetExtAdvParam, ep...)
	switch {
	case err == nil:
		h.ext = true
		h.log.Debug("simhci: extended advertising")
		if _, err := h.cmd(ctx, opLESetAdvSetAddr, append([]byte{0}, a[:]...)...); err != nil {
			return err
		}
		if _, err := h.cmd(ctx, opLESetExtAdvData, extData(h.p.AdvertisingData())...); err != nil {
			return err
		}
		if _, err := h.cmd(ctx, opLESetExtScanRsp, extData(h.p.ScanResponseData())...); err != nil {
			return err
		}
		return h.advertise(ctx, true)
	case len(r) == 0 || r[0] != statusUnknownCommand:
		return err
	}
	h.log.Debug("simhci: legacy advertising")
	typ := byte(0x00) // ADV_IND
	if !h.p.Connectable() {
		typ = 0x02 // ADV_SCAN_IND
	}
	params := binary.LittleEndian.AppendUint16(nil, ivl)
	params = binary.LittleEndian.AppendUint16(params, ivl)
	params = append(params, typ, 0x01 /* own address random */, 0, 0, 0, 0, 0, 0, 0, 0x07, 0)
	if _, err := h.cmd(ctx, opLESetAdvParams, params...); err != nil {
		return err
	}
	if _, err := h.cmd(ctx, opLESetAdvData, data31(h.p.AdvertisingData())...); err != nil {
		return err
	}
	if _, err := h.cmd(ctx, opLESetScanRsp, data31(h.p.ScanResponseData())...); err != nil {
		return err
	}
	return h.advertise(ctx, true)
}

// data31 is the parameter of LE Set Advertising Data and LE Set Scan Response Data.
func data31(d []byte) []byte {
	b := make([]byte, 32)
	b[0] = byte(copy(b[1:], d))
	return b
}

// extData is the parameter of LE Set Extended Advertising Data and LE Set Extended Scan
// Response Data for set 0: the complete data, no fragmentation by the controller.
func extData(d []byte) []byte {
	d = d[:min(len(d), 31)]
	return append([]byte{0, 0x03, 0x01, byte(len(d))}, d...)
}

func (h *Host) advertise(ctx context.Context, on bool) error {
	v := byte(0)
	if on {
		v = 1
	}
	var r []byte
	var err error
	if h.ext {
		r, err = h.cmd(ctx, opLESetExtAdvEn, v, 1, 0, 0, 0, 0)
	} else {
		r, err = h.cmd(ctx, opLESetAdvEnable, v)
	}
	if len(r) > 0 && r[0] == 0x0c { // Command Disallowed: already in that state (Core v4.2)
		return nil
	}
	return err
}

// cmd sends one command and waits for its Command Complete (return parameters, status first)
// or Command Status; a non-zero status fails.
func (h *Host) cmd(ctx context.Context, op uint16, params ...byte) ([]byte, error) {
	h.cmdMu.Lock()
	defer h.cmdMu.Unlock()
	select {
	case <-h.cmdCh: // the late answer of a command whose caller gave up
	default:
	}
	h.mu.Lock()
	h.cmdOp = op
	h.mu.Unlock()
	if err := h.write(command(op, params...)); err != nil {
		return nil, fmt.Errorf("command 0x%04x: %w", op, err)
	}
	select {
	case r := <-h.cmdCh:
		if len(r) == 0 {
			return nil, fmt.Errorf("command 0x%04x: no status: %w", op, errMalformed)
		}
		if r[0] != 0 {
			return r, fmt.Errorf("command 0x%04x: status 0x%02x", op, r[0])
		}
		return r, nil
	case <-h.done:
		return nil, fmt.Errorf("command 0x%04x: %w", op, h.rerr)
	case <-ctx.Done():
		return nil, fmt.Errorf("command 0x%04x: %w", op, ctx.Err())
	}
}

func (h *Host) write(b []byte) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	_, err := h.rw.Write(b)
	return err
}

// read decodes the controller's packets until the stream fails.
func (h *Host) read() {
	defer h.wg.Done()
	r := bufio.NewReader(h.rw)
	var err error
	for {
		var pk packet
		if pk, err = readPacket(r); err != nil {
			break
		}
		switch pk.kind {
		case pktEvent:
			err = h.event(pk.data[0], pk.data[2:])
		case pktACL:
			err = h.aclIn(pk.data)
		}
		if err != nil {
			h.log.Warn("simhci: controller packet", "err", err)
			err = nil
		}
	}
	h.rerr = fmt.Errorf("simhci: controller stream: %w", err)
	close(h.done)
	h.mu.Lock()
	c := h.conn
	h.conn = nil
	h.mu.Unlock()
	if c != nil {
		h.linkDown(c)
	}
}

// event handles one HCI event on the reader goroutine.
func (h *Host) event(code byte, p []byte) error {
	switch code {
	case evCmdComplete:
		if len(p) < 3 {
			return fmt.Errorf("%w: Command Complete", errMalformed)
		}
		h.answer(binary.LittleEndian.Uint16(p[1:]), p[3:])
	case evCmdStatus:
		if len(p) < 4 {
			return fmt.Errorf("%w: Command Status", errMalformed)
		}
		h.answer(binary.LittleEndian.Uint16(p[2:]), p[:1])
	case evNumCompleted:
		if len(p) < 1 || len(p) < 1+4*int(p[0]) {
			return fmt.Errorf("%w: Number Of Completed Packets", errMalformed)
		}
		for i := range int(p[0]) {
			handle := binary.LittleEndian.Uint16(p[1+4*i:]) & 0x0fff
			n := int(binary.LittleEndian.Uint16(p[3+4*i:]))
			h.mu.Lock()
			if c := h.conn; c != nil && c.is(handle) {
				n = min(n, c.inflight)
				c.inflight -= n
			} else {
				n = 0
			}
			h.mu.Unlock()
			h.giveCredits(n)
		}
	case evDisconnComplete:
		if len(p) < 4 || p[0] != 0 {
			return nil
		}
		handle := binary.LittleEndian.Uint16(p[1:]) & 0x0fff
		h.mu.Lock()
		c := h.conn
		if c == nil || !c.is(handle) {
			h.mu.Unlock()
			return nil
		}
		h.conn = nil
		n := c.inflight // the controller flushed them (Core v5.3 Vol 4 Part E §4.3)
		c.inflight = 0
		again := h.inRange && !h.closing
		h.mu.Unlock()
		h.giveCredits(n)
		h.log.Debug("simhci: disconnected", "handle", handle, "reason", p[3])
		h.linkDown(c)
		if again {
			h.later(func() { h.logErr("advertise", h.advertise(context.Background(), true)) })
		}
	case evLEMeta:
		if len(p) < 1 {
			return fmt.Errorf("%w: LE Meta", errMalformed)
		}
		h.log.Debug("simhci: LE event", "subevent", p[0])
		switch p[0] {
		case leConnComplete, leEnhConnComplete:
			if len(p) < 11 {
				return fmt.Errorf("%w: LE Connection Complete", errMalformed)
			}
			if p[1] != 0 {
				return nil
			}
			handle := binary.LittleEndian.Uint16(p[2:]) & 0x0fff
			var a [6]byte
			copy(a[:], p[6:12])
			h.connected(handle, bt.AddressType(p[5]&1), bt.AddressFromLE(a))
		case leLTKRequest:
			if len(p) < 13 {
				return fmt.Errorf("%w: LE Long Term Key Request", errMalformed)
			}
			var rnd [8]byte
			copy(rnd[:], p[3:11])
			h.ltkRequest(binary.LittleEndian.Uint16(p[1:])&0x0fff, rnd, binary.LittleEndian.Uint16(p[11:]))
		}
	case evEncChange:
		if len(p) < 4 {
			return fmt.Errorf("%w: Encryption Change", errMalformed)
		}
		h.log.Debug("simhci: encryption change", "status", p[0], "enabled", p[3])
		if p[0] == 0 && p[3] != 0 {
			h.encrypted(binary.LittleEndian.Uint16(p[1:]) & 0x0fff)
		}
	case evEncKeyRefreshed:
		if len(p) < 3 {
			return fmt.Errorf("%w: Encryption Key Refresh Complete", errMalformed)
		}
		if p[0] == 0 {
			h.encrypted(binary.LittleEndian.Uint16(p[1:]) & 0x0fff)
		}
	}
	return nil
}

func (h *Host) answer(op uint16, params []byte) {
	if op == 0 { // a controller's "ready" (Command Complete with opcode 0) answers nothing
		return
	}
	h.mu.Lock()
	want := h.cmdOp
	h.mu.Unlock()
	if op != want {
		h.log.Warn("simhci: unexpected command answer", "opcode", op)
		return
	}
	select {
	case h.cmdCh <- append([]byte(nil), params...):
	default:
	}
}

func (h *Host) giveCredits(n int) {
	for range n {
		select {
		case h.credits <- struct{}{}:
		default:
		}
	}
}

func (h *Host) logErr(what string, err error) {
	if err != nil {
		h.log.Warn("simhci: "+what, "err", err)
	}
}

// later runs f on a goroutine of its own: the reader cannot wait for a command's answer.
// Commands stay serialised by cmd; they fail once the stream has ended.
func (h *Host) later(f func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		f()
	}()
}

// connected opens the peripheral's end of a new connection.
func (h *Host) connected(handle uint16, t bt.AddressType, central bt.Address) {
	link, err := h.p.Connect(central, t)
	h.mu.Lock()
	refuse := err != nil || h.closing || h.conn != nil
	if !refuse {
		c := &conn{handle: handle, central: central, centralType: t, link: link, in: make(chan []byte, 1024), down: make(chan struct{})}
		h.conn = c
		h.wg.Add(2)
		go h.toCentral(c)
		go h.toPeripheral(c)
	}
	h.mu.Unlock()
	h.log.Debug("simhci: connected", "handle", handle, "central", central, "err", err)
	if refuse {
		if link != nil {
			link.Close()
		}
		h.later(func() { h.disconnect(context.Background(), handle) })
	}
}

// disconnect asks the controller to end the connection (reason 0x13, remote user terminated:
// Core v5.3 Vol 4 Part E §7.1.6 allows no "connection timeout").
func (h *Host) disconnect(ctx context.Context, handle uint16) {
	_, err := h.cmd(ctx, opDisconnect, byte(handle), byte(handle>>8), 0x13)
	h.logErr("disconnect", err)
}

// linkDown ends the peripheral's end of c.
func (h *Host) linkDown(c *conn) {
	close(c.down)
	c.link.Close()
}

// is reports whether handle names c.
func (c *conn) is(handle uint16) bool { return handle == c.handle }

// toCentral relays the server's PDUs to the central; when the link ends on the peripheral's
// side (out of range, DisconnectAll) it disconnects.
func (h *Host) toCentral(c *conn) {
	defer h.wg.Done()
	for {
		pdu, err := c.link.ReadPDU()
		if err != nil {
			select {
			case <-c.down:
			default:
				h.later(func() { h.disconnect(context.Background(), c.handle) })
			}
			return
		}
		if err := h.sendL2CAP(c, cidATT, pdu); err != nil {
			return
		}
	}
}

// toPeripheral hands the central's ATT PDUs to the link apart from the reader, which must
// keep reading while the server is busy.
func (h *Host) toPeripheral(c *conn) {
	defer h.wg.Done()
	for {
		select {
		case pdu := <-c.in:
			if c.link.WritePDU(pdu) != nil {
				return
			}
		case <-c.down:
			return
		}
	}
}

// sendL2CAP sends one L2CAP frame in ACL fragments, each when the controller has a buffer.
func (h *Host) sendL2CAP(c *conn, cid uint16, payload []byte) error {
	for i, f := range fragments(l2capFrame(cid, payload), h.aclMTU) {
		select {
		case <-h.credits:
		case <-c.down:
			return errors.New("simhci: link down")
		}
		h.mu.Lock()
		if h.conn != c {
			h.mu.Unlock()
			h.giveCredits(1)
			return errors.New("simhci: link down")
		}
		c.inflight++
		h.mu.Unlock()
		if err := h.write(acl(c.handle, i == 0, f)); err != nil {
			return err
		}
	}
	return nil
}

// aclIn handles one ACL data packet on the reader goroutine.
func (h *Host) aclIn(b []byte) error {
	handle, start, payload, err := aclHeader(b)
	if err != nil {
		return err
	}
	h.mu.Lock()
	c := h.conn
	ours := c != nil && c.is(handle)
	h.mu.Unlock()
	if !ours {
		return nil
	}
	frames, err := c.rx.add(start, payload)
	for _, f := range frames {
		h.l2cap(c, f)
	}
	return err
}

// l2cap dispatches one frame from the central.
func (h *Host) l2cap(c *conn, f frame) {
	if f.cid != cidATT {
		h.log.Debug("simhci: L2CAP from central", "handle", c.handle, "cid", f.cid, "pdu", f.payload)
	}
	switch f.cid {
	case cidATT:
		if len(f.payload) == 0 {
			return
		}
		select {
		case c.in <- f.payload: // the reassembler's own buffer: the frame is the caller's
		case <-c.down:
		}
	case cidSig:
		if rsp := signalling(f.payload); rsp != nil {
			h.later(func() { h.logErr("L2CAP signalling", h.sendL2CAP(c, cidSig, rsp)) })
		}
	case cidSMP:
		if rsp := h.smp(c, f.payload); rsp != nil {
			h.later(func() { h.logErr("SMP", h.sendL2CAP(c, cidSMP, rsp)) })
		}
	}
}

// signalling answers one LE signalling command (Core v5.3 Vol 3 Part A §4): a Connection
// Parameter Update Request is accepted, responses are consumed, any other request gets a
// Command Reject "command not understood".
func signalling(p []byte) []byte {
	if len(p) < 4 {
		return nil
	}
	code, id := p[0], p[1]
	switch {
	case code == 0x12: // Connection Parameter Update Request
		return []byte{0x13, id, 2, 0, 0, 0}
	case code == 0x01 || code%2 == 1 && code != 0x0b: // reject, responses
		return nil
	default:
		return []byte{0x01, id, 2, 0, 0, 0}
	}
}

// SetInRange starts (true) or stops (false) advertising; out of range, the current connection
// is ended as well, once the peripheral's side of it ends (sim.Peripheral.SetInRange ends it).
func (h *Host) SetInRange(ctx context.Context, in bool) error {
	h.mu.Lock()
	h.inRange = in
	c := h.conn
	h.mu.Unlock()
	if in && c != nil {
		return nil // advertising starts again at the Disconnection Complete
	}
	if err := h.advertise(ctx, in); err != nil {
		return fmt.Errorf("simhci: %v in range %v: %w", h.p.Address(), in, err)
	}
	return nil
}

// Close stops advertising, ends the connection (waiting for the controller's Disconnection
// Complete, at most 10 s) and closes the stream.
func (h *Host) Close() error {
	h.once.Do(func() {
		h.mu.Lock()
		h.closing = true
		c := h.conn
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.logErr("stop advertising", h.advertise(ctx, false))
		if c != nil {
			h.disconnect(ctx, c.handle)
			select {
			case <-c.down:
			case <-ctx.Done():
			case <-h.done:
			}
		}
		h.rw.Close() // the reader ends, and takes the connection down (read)
	})
	h.wg.Wait()
	return nil
}
