package bled112

import (
	"errors"
	"sync"
	"time"

	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

var (
	errGone       = errors.New("bled112: connection gone")
	errATTTimeout = errors.New("bled112: ATT transaction timeout")
)

// conn is one open connection: the central's end of a sim link plus its GATT client state.
// Fields below mu-guarded are protected by e.mu.
type conn struct {
	e      *Emulator
	handle uint8
	p      *sim.Peripheral
	link   *sim.Link
	addr   bt.Address
	atype  bt.AddressType

	// e.mu-guarded
	interval, timeout, latency uint16
	bond                       uint8
	encrypted                  bool
	busy                       bool // an attclient procedure runs
	pairing                    bool
	awaitPasskey               bool
	indPending                 bool

	rsp     chan []byte // ATT responses from the reader to the running procedure
	jobs    chan func()
	tx      chan []byte // PDUs to the air, in order
	passkey chan uint32
	done    chan struct{}
	once    sync.Once
	pace    *pacer
}

// newConnLocked installs a connection in slot h and starts its goroutines.
func (e *Emulator) newConnLocked(h uint8, p *sim.Peripheral, link *sim.Link, imin, imax, timeout, latency uint16) *conn {
	c := &conn{
		e: e, handle: h, p: p, link: link, addr: p.Address(), atype: p.AddressType(),
		interval: e.pickInterval(imin, imax), timeout: timeout, latency: latency,
		bond:    e.bondOfLocked(p.Address()),
		rsp:     make(chan []byte, 1),
		jobs:    make(chan func(), 1),
		tx:      make(chan []byte, 16),
		passkey: make(chan uint32, 1),
		done:    make(chan struct{}),
	}
	if lm := e.cfg.Link; lm != nil {
		c.pace = &pacer{interval: lm.ConnInterval, per: lm.PacketsPerEvent}
	}
	link.SetSupervisionTimeout(time.Duration(timeout) * 10 * time.Millisecond)
	e.conns[h] = c
	e.wg.Add(3)
	go func() { defer e.wg.Done(); c.reader() }()
	go func() { defer e.wg.Done(); c.worker() }()
	go func() { defer e.wg.Done(); c.txLoop() }()
	return c
}

// teardown stops the connection's goroutines; the tx goroutine closes the link.
func (c *conn) teardown() { c.once.Do(func() { close(c.done) }) }

// dropConnLocked frees the slot and reports connection_disconnected with reason.
func (e *Emulator) dropConnLocked(c *conn, reason wire.Result) {
	if e.connLocked(c.handle) != c {
		return
	}
	e.conns[c.handle] = nil
	c.teardown()
	e.emitLocked(&wire.EvtConnectionDisconnected{Connection: c.handle, Reason: reason})
}

func (c *conn) current() bool { return c.e.connLocked(c.handle) == c }

// status builds a connection_status event with extra flags.
func (c *conn) status(extra wire.ConnectionFlags) *wire.EvtConnectionStatus {
	f := wire.FlagConnected | extra
	if c.encrypted {
		f |= wire.FlagEncrypted
	}
	return &wire.EvtConnectionStatus{
		Connection: c.handle, Flags: f, Address: c.addr, AddressType: c.atype,
		ConnInterval: c.interval, Timeout: c.timeout, Latency: c.latency, Bonding: c.bond,
	}
}

func (c *conn) txLoop() {
	defer c.link.Close()
	for {
		select {
		case pdu := <-c.tx:
			if c.pace != nil && !c.pace.wait(c.done) {
				return
			}
			if err := c.link.WritePDU(pdu); err != nil {
				c.e.logf("bled112: conn %d: write: %v", c.handle, err)
			} else {
				c.e.txOK.Add(1)
			}
		case <-c.done:
			return
		}
	}
}

// send queues a PDU for the air, waiting for room.
func (c *conn) send(pdu []byte) bool {
	select {
	case c.tx <- pdu:
		return true
	case <-c.done:
		return false
	}
}

// trySend queues a PDU if there is room (write_command: 0x0182 otherwise).
func (c *conn) trySend(pdu []byte) bool {
	select {
	case c.tx <- pdu:
		return true
	default:
		return false
	}
}

// reader forwards notifications and indications as attribute_value events, in order and
// without loss (emitting blocks while the host is slow, which stops reading the link), and
// hands every other PDU to the running procedure.
func (c *conn) reader() {
	e := c.e
	for {
		pdu, err := c.link.ReadPDU()
		if err != nil {
			reason := wire.ResultRemoteUserTerminated
			if errors.Is(err, sim.ErrLinkLost) {
				reason = wire.ResultConnectionTimeout
			}
			e.mu.Lock()
			e.dropConnLocked(c, reason)
			e.mu.Unlock()
			c.teardown()
			return
		}
		if len(pdu) == 0 {
			continue
		}
		e.rxOK.Add(1)
		if c.pace != nil && !c.pace.wait(c.done) {
			return
		}
		switch att.Opcode(pdu[0]) {
		case att.OpHandleValueNtf:
			var n att.HandleValueNtf
			if n.Unmarshal(pdu) != nil {
				continue
			}
			e.mu.Lock()
			if c.current() {
				e.emitLocked(&wire.EvtAttclientAttributeValue{Connection: c.handle, AttHandle: n.Handle, Type: wire.AttValueNotify, Value: n.Value})
			}
			e.mu.Unlock()
		case att.OpMultipleHandleValueNtf:
			var n att.MultipleHandleValueNtf
			if n.Unmarshal(pdu) != nil {
				continue
			}
			e.mu.Lock()
			if c.current() {
				for h, v := range n.All() {
					e.emitLocked(&wire.EvtAttclientAttributeValue{Connection: c.handle, AttHandle: h, Type: wire.AttValueNotify, Value: v})
				}
			}
			e.mu.Unlock()
		case att.OpHandleValueInd:
			var n att.HandleValueInd
			if n.Unmarshal(pdu) != nil {
				continue
			}
			manual := e.cfg.ManualIndicationConfirm
			typ := wire.AttValueIndicate
			if manual {
				typ = wire.AttValueIndicateRspReq
			}
			e.mu.Lock()
			cur := c.current()
			if cur {
				if manual {
					c.indPending = true
				}
				e.emitLocked(&wire.EvtAttclientAttributeValue{Connection: c.handle, AttHandle: n.Handle, Type: typ, Value: n.Value})
			}
			e.mu.Unlock()
			if cur && !manual && !c.send(att.HandleValueCfm{}.Append(nil)) {
				return
			}
		default:
			select {
			case c.rsp <- pdu:
			default:
				e.logf("bled112: conn %d: unexpected PDU % X dropped", c.handle, pdu)
			}
		}
	}
}

func (c *conn) worker() {
	for {
		select {
		case fn := <-c.jobs:
			fn()
		case <-c.done:
			return
		}
	}
}

// startProc marks the connection busy and hands fn to its worker. e.mu is held.
func (c *conn) startProc(fn func()) {
	c.busy = true
	select {
	case c.jobs <- fn:
	default: // cannot happen: busy admits one job at a time
		c.busy = false
	}
}

// request sends one ATT request and waits for its response (or the ATT timeout).
func (c *conn) request(p att.PDU) (att.PDU, error) {
	select {
	case <-c.rsp: // stale response of an abandoned transaction
	default:
	}
	pdu := p.Append(nil)
	c.e.requests[pdu[0]].Add(1)
	if !c.send(pdu) {
		return nil, errGone
	}
	t := time.NewTimer(c.e.cfg.ATTTimeout)
	defer t.Stop()
	select {
	case r := <-c.rsp:
		d, err := att.Decode(r)
		if err != nil {
			return nil, err
		}
		return d, nil
	case <-c.done:
		return nil, errGone
	case <-t.C:
		return nil, errATTTimeout
	}
}

// emit sends events of the running procedure if the connection is still open.
func (c *conn) emit(ms ...wire.Message) bool {
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	if !c.current() {
		return false
	}
	for _, m := range ms {
		c.e.emitLocked(m)
	}
	return true
}

// finish ends the running procedure, emitting m (if any) as its last event.
func (c *conn) finish(m wire.Message) {
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	c.busy = false
	if m != nil && c.current() {
		c.e.emitLocked(m)
	}
}

func (c *conn) completed(r wire.Result, h uint16) {
	c.finish(&wire.EvtAttclientProcedureCompleted{Connection: c.handle, Result: r, ChrHandle: h})
}

// fail ends a procedure after a transport-level error: nothing if the link is gone
// (docs/bgapi-protocol.md §Procedures), procedure_completed 0x0185 on an ATT timeout, 0x0404
// invalid_pdu for a garbled response.
func (c *conn) fail(err error, h uint16) {
	switch {
	case errors.Is(err, errGone):
		c.finish(nil)
	case errors.Is(err, errATTTimeout):
		c.completed(wire.ResultTimeout, h)
	default:
		c.completed(wire.ResultATTInvalidPDU, h)
	}
}

// attError ends a procedure with an ATT Error Response mapped to 0x04xx.
func (c *conn) attError(er att.ErrorRsp) {
	c.completed(wire.ResultFromATT(er.Code), er.Handle)
}

// ---- GATT procedures, docs/bgapi-protocol.md §Procedures ----

// discovery drives one of the three iterated discoveries: each round sends req(start) and
// handles the response with step, which returns the last handle covered.
func (c *conn) discovery(start, end uint16, req func(s uint16) att.PDU, step func(att.PDU) (last uint16, ok bool)) {
	s := start
	for {
		rsp, err := c.request(req(s))
		if err != nil {
			c.fail(err, s)
			return
		}
		if er, ok := rsp.(att.ErrorRsp); ok {
			if er.Code == att.ErrAttributeNotFound {
				c.completed(wire.ResultSuccess, end)
			} else {
				c.attError(er)
			}
			return
		}
		last, ok := step(rsp)
		if !ok {
			c.fail(att.ErrMalformed, s)
			return
		}
		if last >= end || last == 0xFFFF {
			c.completed(wire.ResultSuccess, end)
			return
		}
		if last < s {
			c.fail(att.ErrMalformed, s)
			return
		}
		s = last + 1
	}
}

func (c *conn) procFindInformation(start, end uint16) {
	c.discovery(start, end,
		func(s uint16) att.PDU { return att.FindInformationReq{StartHandle: s, EndHandle: end} },
		func(p att.PDU) (uint16, bool) {
			r, ok := p.(att.FindInformationRsp)
			if !ok || r.Len() == 0 {
				return 0, false
			}
			var evs []wire.Message
			var last uint16
			for h, u := range r.All() {
				evs = append(evs, &wire.EvtAttclientFindInformationFound{Connection: c.handle, ChrHandle: h, UUID: u.AppendLE(nil)})
				last = h
			}
			return last, c.emit(evs...)
		})
}

func (c *conn) procReadByGroupType(start, end uint16, typ bt.UUID) {
	c.discovery(start, end,
		func(s uint16) att.PDU { return att.ReadByGroupTypeReq{StartHandle: s, EndHandle: end, Type: typ} },
		func(p att.PDU) (uint16, bool) {
			r, ok := p.(att.ReadByGroupTypeRsp)
			if !ok {
				return 0, false
			}
			var evs []wire.Message
			var last uint16
			for h, g := range r.All() {
				evs = append(evs, &wire.EvtAttclientGroupFound{Connection: c.handle, Start: h, End: g.EndGroup, UUID: g.Value})
				last = g.EndGroup
			}
			return last, len(evs) > 0 && c.emit(evs...)
		})
}

func (c *conn) procReadByType(start, end uint16, typ bt.UUID) {
	c.discovery(start, end,
		func(s uint16) att.PDU { return att.ReadByTypeReq{StartHandle: s, EndHandle: end, Type: typ} },
		func(p att.PDU) (uint16, bool) {
			r, ok := p.(att.ReadByTypeRsp)
			if !ok {
				return 0, false
			}
			var evs []wire.Message
			var last uint16
			for h, v := range r.All() {
				evs = append(evs, &wire.EvtAttclientAttributeValue{Connection: c.handle, AttHandle: h, Type: wire.AttValueReadByType, Value: v})
				last = h
			}
			return last, len(evs) > 0 && c.emit(evs...)
		})
}

func (c *conn) procFindByTypeValue(start, end, typ uint16, value []byte) {
	c.discovery(start, end,
		func(s uint16) att.PDU {
			return att.FindByTypeValueReq{StartHandle: s, EndHandle: end, Type: typ, Value: value}
		},
		func(p att.PDU) (uint16, bool) {
			r, ok := p.(att.FindByTypeValueRsp)
			if !ok {
				return 0, false
			}
			var evs []wire.Message
			var last uint16
			for found, groupEnd := range r.All() {
				evs = append(evs, &wire.EvtAttclientGroupFound{Connection: c.handle, Start: found, End: groupEnd, UUID: value})
				last = max(found, groupEnd)
			}
			return last, len(evs) > 0 && c.emit(evs...)
		})
}

// procRead: read_by_handle → one attribute_value type 0, no procedure_completed on success.
func (c *conn) procRead(h uint16) {
	rsp, err := c.request(att.ReadReq{Handle: h})
	if err != nil {
		c.fail(err, h)
		return
	}
	switch r := rsp.(type) {
	case att.ReadRsp:
		c.finish(&wire.EvtAttclientAttributeValue{Connection: c.handle, AttHandle: h, Type: wire.AttValueRead, Value: r.Value})
	case att.ErrorRsp:
		c.completed(wire.ResultFromATT(r.Code), h)
	default:
		c.fail(att.ErrMalformed, h)
	}
}

// procReadLong: Read, then Read Blob at 22, 44, … while chunks are full (ATT_MTU 23,
// docs/bgapi-protocol.md §ATT_MTU); every chunk is an attribute_value type 4, then
// procedure_completed.
func (c *conn) procReadLong(h uint16) {
	const chunk = 22
	var off uint16
	for {
		var req att.PDU = att.ReadReq{Handle: h}
		if off > 0 {
			req = att.ReadBlobReq{Handle: h, Offset: off}
		}
		rsp, err := c.request(req)
		if err != nil {
			c.fail(err, h)
			return
		}
		var v []byte
		switch r := rsp.(type) {
		case att.ReadRsp:
			v = r.Value
		case att.ReadBlobRsp:
			v = r.Value
		case att.ErrorRsp:
			if off > 0 && (r.Code == att.ErrInvalidOffset || r.Code == att.ErrAttributeNotLong) {
				c.completed(wire.ResultSuccess, h)
			} else {
				c.completed(wire.ResultFromATT(r.Code), h)
			}
			return
		default:
			c.fail(att.ErrMalformed, h)
			return
		}
		if len(v) > 0 && !c.emit(&wire.EvtAttclientAttributeValue{Connection: c.handle, AttHandle: h, Type: wire.AttValueReadBlob, Value: v}) {
			c.finish(nil)
			return
		}
		if len(v) < chunk || int(off)+len(v) >= 512 {
			c.completed(wire.ResultSuccess, h)
			return
		}
		off += uint16(len(v))
	}
}

func (c *conn) procReadMultiple(hs []uint16) {
	rsp, err := c.request(att.ReadMultipleReq{Handles: hs})
	if err != nil {
		c.fail(err, hs[0])
		return
	}
	switch r := rsp.(type) {
	case att.ReadMultipleRsp:
		c.finish(&wire.EvtAttclientReadMultipleResponse{Connection: c.handle, Handles: r.Values})
	case att.ErrorRsp:
		c.attError(r)
	default:
		c.fail(att.ErrMalformed, hs[0])
	}
}

func (c *conn) procWrite(h uint16, v []byte) {
	rsp, err := c.request(att.WriteReq{Handle: h, Value: v})
	if err != nil {
		c.fail(err, h)
		return
	}
	switch r := rsp.(type) {
	case att.WriteRsp:
		c.completed(wire.ResultSuccess, h)
	case att.ErrorRsp:
		c.completed(wire.ResultFromATT(r.Code), h)
	default:
		c.fail(att.ErrMalformed, h)
	}
}

func (c *conn) procPrepareWrite(h, off uint16, v []byte) {
	rsp, err := c.request(att.PrepareWriteReq{Handle: h, Offset: off, Value: v})
	if err != nil {
		c.fail(err, h)
		return
	}
	switch r := rsp.(type) {
	case att.PrepareWriteRsp:
		c.completed(wire.ResultSuccess, h)
	case att.ErrorRsp:
		c.completed(wire.ResultFromATT(r.Code), h)
	default:
		c.fail(att.ErrMalformed, h)
	}
}

func (c *conn) procExecuteWrite(commit uint8) {
	rsp, err := c.request(att.ExecuteWriteReq{Flags: commit})
	if err != nil {
		c.fail(err, 0)
		return
	}
	switch r := rsp.(type) {
	case att.ExecuteWriteRsp:
		c.completed(wire.ResultSuccess, 0)
	case att.ErrorRsp:
		c.attError(r)
	default:
		c.fail(att.ErrMalformed, 0)
	}
}

// ---- security manager, docs/bgapi-protocol.md §Bonding ----

// pair runs encrypt_start: with a stored bond that the peripheral still holds, encryption with
// its keys (no pairing, no passkey: Core v5.3 Vol 3 Part H §2.4.4.1); otherwise an optional
// passkey exchange and sim pairing, and bond storage. Then sm_bond_status (new bond) and
// connection_status with the encrypted flag, or sm_bonding_fail.
func (c *conn) pair(bonding bool) {
	e := c.e
	e.mu.Lock()
	if !c.current() {
		e.mu.Unlock()
		return
	}
	store := bonding && e.bondable
	hadBond := e.bondOfLocked(c.addr) != wire.NoBond
	e.mu.Unlock()

	var err error
	mitm, reencrypted := false, false
	if hadBond {
		// Re-encrypt with the stored keys; pair afresh if the peripheral lost its bond.
		err = c.link.Encrypt()
		reencrypted = err == nil
		if errors.Is(err, sim.ErrNotBonded) {
			err = nil
		}
	}
	if err == nil && !reencrypted {
		var level sim.SecurityLevel
		var ok bool
		if level, mitm, ok = c.exchangePasskey(); !ok {
			return
		}
		err = c.link.Pair(level, store)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	c.pairing = false
	if !c.current() {
		return
	}
	if err != nil {
		r := wire.ResultUnspecifiedReason
		if errors.Is(err, sim.ErrPairingRefused) {
			r = wire.ResultPairingNotSupported
		}
		e.emitLocked(&wire.EvtSmBondingFail{Handle: c.handle, Result: r})
		return
	}
	c.encrypted = true
	existing := e.bondOfLocked(c.addr) // bonds may have changed while pairing
	switch {
	case existing != wire.NoBond:
		c.bond = existing
		if store {
			e.bonds[existing].mitm = e.bonds[existing].mitm || mitm
			e.emitLocked(bondStatus(existing, e.bonds[existing]))
		}
	case store:
		idx := wire.NoBond
		for i, b := range e.bonds {
			if b == nil {
				idx = uint8(i)
				break
			}
		}
		if idx == wire.NoBond {
			e.emitLocked(&wire.EvtSmBondingFail{Handle: c.handle, Result: wire.ResultOutOfBonds})
			break
		}
		e.bonds[idx] = &bond{addr: c.addr, atype: c.atype, mitm: mitm}
		c.bond = idx
		e.emitLocked(bondStatus(idx, e.bonds[idx]))
	}
	e.emitLocked(c.status(0))
}

// exchangePasskey runs the passkey step of a pairing when MITM protection is asked for and the
// IO capabilities allow it: passkey_display, or passkey_request and the wait for passkey_entry
// (sm_bonding_fail on the SMP timeout, Core v5.3 Vol 3 Part H §3.4). It returns the security
// level the pairing reaches and whether it is MITM-protected; false when the pairing ended.
func (c *conn) exchangePasskey() (level sim.SecurityLevel, mitm, ok bool) {
	e := c.e
	e.mu.Lock()
	if !c.current() {
		e.mu.Unlock()
		return 0, false, false
	}
	level = sim.SecurityEncrypted
	mitm = e.mitm && e.ioCaps != wire.IONoInputNoOutput
	if mitm {
		level = sim.SecurityAuthenticated
		switch e.ioCaps {
		case wire.IODisplayOnly, wire.IODisplayYesNo:
			e.emitLocked(&wire.EvtSmPasskeyDisplay{Handle: c.handle, Passkey: passkeyFor(c.addr)})
		default: // keyboard: the host must enter the passkey
			c.awaitPasskey = true
			e.emitLocked(&wire.EvtSmPasskeyRequest{Handle: c.handle})
		}
	}
	wait := c.awaitPasskey
	e.mu.Unlock()
	if !wait {
		return level, mitm, true
	}
	t := time.NewTimer(30 * time.Second) // SMP timeout, Core v5.3 Vol 3 Part H §3.4
	defer t.Stop()
	select {
	case <-c.passkey:
		return level, mitm, true
	case <-t.C:
		e.mu.Lock()
		c.pairing, c.awaitPasskey = false, false
		if c.current() {
			e.emitLocked(&wire.EvtSmBondingFail{Handle: c.handle, Result: wire.ResultTimeout})
		}
		e.mu.Unlock()
	case <-c.done:
	}
	return 0, false, false
}

// passkeyFor derives a stable 6-digit passkey to display.
func passkeyFor(a bt.Address) uint32 {
	var v uint32
	for _, b := range a {
		v = v*131 + uint32(b)
	}
	return v % 1000000
}

// ---- link model ----

// pacer admits at most per PDUs per interval.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	per      int
	slot     time.Time
	used     int
}

func (p *pacer) wait(done <-chan struct{}) bool {
	p.mu.Lock()
	now := time.Now()
	if p.slot.Add(p.interval).Before(now) {
		p.slot, p.used = now, 0
	}
	if p.used >= p.per {
		p.slot, p.used = p.slot.Add(p.interval), 0
	}
	p.used++
	at := p.slot
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-done:
			return false
		}
	}
	return true
}
