package bgapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// conn is the client's state of one connection handle. Fields after the first group are
// guarded by client.mu.
type conn struct {
	c      *client
	handle uint8
	addr   bt.Address
	sem    chan struct{} // one GATT procedure at a time (Core v5.3 Vol 3 Part F §3.3.2)
	sink   gattkit.Sink  // the Device's registry: notification and indication values
	done   chan struct{} // closed when the link is gone

	proc *proc
	// ended is closed, and replaced, by the reader whenever the dongle ends a procedure on this
	// connection (ours or an abandoned one): a procedure refused with wrong_state waits for it.
	ended chan struct{}
	// prepared: prepare_write requests of a long write that did not finish may sit in the peer's
	// prepare queue, to be cancelled before any other procedure runs (see cancelPrepared).
	prepared   bool
	bond       *bondWait
	err        error // a *gogatt.DisconnectError once done is closed
	localClose bool

	// bondHandle and encrypted are what the latest connection_status said: the dongle's bond
	// with the peer (wire.NoBond if none) and whether the link is encrypted.
	bondHandle uint8
	encrypted  bool
}

func newConn(c *client, h uint8, addr bt.Address, sink gattkit.Sink) *conn {
	return &conn{
		c:      c,
		handle: h,
		addr:   addr,
		sem:    make(chan struct{}, 1),
		sink:   sink,
		done:   make(chan struct{}),
		ended:  make(chan struct{}),

		bondHandle: wire.NoBond,
	}
}

// endLocked ends the connection with err (under c.mu): the procedure and bonding in progress
// fail at once.
func (cn *conn) endLocked(err error) {
	if cn.err != nil {
		return
	}
	cn.err = err
	if p := cn.proc; p != nil {
		cn.proc = nil
		p.finish(err)
	}
	if b := cn.bond; b != nil {
		cn.bond = nil
		b.finish(err)
	}
	close(cn.done)
}

// linkErr returns the connection's error, or nil while it is up.
func (cn *conn) linkErr() error {
	cn.c.mu.Lock()
	defer cn.c.mu.Unlock()
	return cn.err
}

// attributeValue handles attclient_attribute_value (reader goroutine, c.mu held).
func (cn *conn) attributeValue(e wire.EvtAttclientAttributeValue) {
	switch e.Type {
	case wire.AttValueNotify, wire.AttValueIndicate, wire.AttValueIndicateRspReq:
		// Notifications and indications never complete a procedure, even on the handle being
		// read (docs/bgapi-protocol.md §Attribute values; pygatt mixed them up:
		// docs/bgapi-protocol.md#pygatt-value-routing, #pygatt-read).
		if !cn.sink(e.AttHandle, e.Value) {
			cn.c.log.Debug("bgapi: value without subscriber", "connection", cn.handle, "handle", e.AttHandle)
		}
		if e.Type == wire.AttValueIndicateRspReq {
			// The peer waits for our confirmation (BLE SDK 1.x API reference,
			// attclient_indicate_confirm; docs/bgapi-protocol.md#pygatt-indicate-confirm). Sent
			// from a background goroutine: the reader must never wait for a response.
			c, h := cn.c, cn.handle
			c.goLocked(func() {
				ctx, cancel := context.WithTimeout(c.stopCtx, c.cmdTimeout)
				defer cancel()
				m := &wire.CmdAttclientIndicateConfirm{Connection: h}
				var r wire.RspAttclientIndicateConfirm
				err := c.call(ctx, m, &r)
				if err == nil {
					err = check(m, r.Result)
				}
				if err != nil {
					c.log.Warn("bgapi: indicate_confirm failed", "connection", h, "err", err)
				}
			})
		}
		return
	}
	if e.Type == wire.AttValueRead {
		// A successful read_by_handle has no procedure_completed (docs/bgapi-protocol.md
		// §Procedures). (A read_long may report its first chunk so too: a needless wake-up only
		// costs a retry.)
		cn.procEndedLocked()
	}
	if p := cn.startedLocked(); p != nil && p.valueLocked(e.AttHandle, e.Type, e.Value) {
		cn.proc = nil
	}
}

// startedLocked returns the procedure a procedure event of this connection belongs to (c.mu
// held): the current one once the dongle's response said it started, else nil. The dongle
// answers a command before it sends any event of the procedure the command starts, and it
// accepts a procedure only when the previous one on the connection has ended (command,
// response, then events: the BGAPI protocol of the Bluetooth Smart Software API Reference,
// BLE SDK 1.x). So an event that arrives while the current procedure has not started belongs
// to an earlier one that its caller abandoned, and must not be taken for this one's.
func (cn *conn) startedLocked() *proc {
	if p := cn.proc; p != nil && p.started {
		return p
	}
	return nil
}

// procEndedLocked notes that the dongle ended a procedure on this connection (c.mu held).
func (cn *conn) procEndedLocked() {
	close(cn.ended)
	cn.ended = make(chan struct{})
}

// procedureCompleted handles attclient_procedure_completed (reader goroutine, c.mu held).
func (cn *conn) procedureCompleted(e wire.EvtAttclientProcedureCompleted) {
	cn.procEndedLocked()
	if p := cn.startedLocked(); p != nil {
		cn.proc = nil
		p.completed(e.Result, e.ChrHandle)
	}
}

// pairingCtx returns the context a pairing callback gets (c.mu held): that of the Bond in
// progress, which ends when the bond completes or fails, the link drops, the backend stops or
// Bond's own context ends; for a pairing the peer started, one that ends with the link or the
// backend.
func (cn *conn) pairingCtx() context.Context {
	if b := cn.bond; b != nil {
		return b.ctx
	}
	ctx, cancel := context.WithCancel(cn.c.stopCtx)
	if !cn.c.goLocked(func() {
		defer cancel()
		select {
		case <-cn.done:
		case <-ctx.Done():
		}
	}) {
		cancel()
	}
	return ctx
}

// passkeyRequested answers sm_passkey_request through the user's callback, on a goroutine of
// its own (c.mu held by the caller). Stop does not wait for the callback; what follows it
// checks that the client still runs.
func (cn *conn) passkeyRequested() {
	c := cn.c
	b := cn.bond
	if c.passkey == nil {
		if b != nil {
			cn.bond = nil
			b.finish(fmt.Errorf("bgapi: bond %s: the peer asks for a passkey but Config.Passkey is nil: %w", cn.addr, gogatt.ErrInvalidParameter))
		}
		return
	}
	ctx := cn.pairingCtx()
	addr, h := cn.addr.String(), cn.handle
	go func() { // not counted in c.wg: Stop never waits for user code
		pk, err := c.passkey(ctx, addr)
		if c.stopped() != nil {
			return // the client is closed (or closing): nothing to answer
		}
		if err == nil && pk > 999999 {
			err = fmt.Errorf("%w: passkey %d exceeds 999999", gogatt.ErrInvalidParameter, pk)
		}
		if err == nil {
			m := &wire.CmdSmPasskeyEntry{Handle: h, Passkey: pk}
			var r wire.RspSmPasskeyEntry
			if err = c.call(ctx, m, &r); err == nil {
				err = check(m, r.Result)
			}
		}
		if err != nil {
			c.mu.Lock()
			if cn.bond == b && b != nil {
				cn.bond = nil
				b.finish(fmt.Errorf("bgapi: passkey entry: %w", err))
			}
			c.mu.Unlock()
		}
	}()
}

// procKind says which events a procedure collects.
type procKind int

const (
	pkRead     procKind = iota // read_by_handle: ends with attribute_value type 0
	pkReadLong                 // read_long: attribute_value type 0/4 chunks, then procedure_completed
	pkGroups                   // read_by_group_type: group_found…
	pkTypes                    // read_by_type: attribute_value type 3…
	pkInfo                     // find_information: find_information_found…
	pkWrite                    // attribute_write, prepare_write, execute_write
)

// item is one discovery result.
type item struct {
	start, end uint16
	uuid       []byte
	value      []byte
}

// proc is one attclient procedure in progress (docs/bgapi-protocol.md §Procedures).
type proc struct {
	kind   procKind
	op     string
	handle uint16

	// written by the reader under c.mu until done is closed, read by the owner after.
	value   []byte
	items   []item
	cmd     string // the BGAPI command's name
	result  wire.Result
	errAt   uint16
	err     error
	started bool // the response said the procedure started (under c.mu)
	done    chan struct{}
	once    sync.Once
}

func newProc(kind procKind, op string, handle uint16) *proc {
	return &proc{kind: kind, op: op, handle: handle, done: make(chan struct{})}
}

func (p *proc) finish(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.done)
	})
}

// valueLocked takes an attribute_value for the procedure; it reports whether that ended it.
func (p *proc) valueLocked(h uint16, typ wire.AttValueType, val []byte) bool {
	switch p.kind {
	case pkRead:
		if typ == wire.AttValueRead && h == p.handle {
			p.value = bytes.Clone(val)
			p.finish(nil)
			return true
		}
	case pkReadLong:
		// The first chunk may be reported as type 0 or 4 (docs/bgapi-protocol.md §Procedures).
		if (typ == wire.AttValueReadBlob || typ == wire.AttValueRead) && h == p.handle {
			p.value = append(p.value, val...)
		}
	case pkTypes:
		if typ == wire.AttValueReadByType {
			p.items = append(p.items, item{start: h, value: bytes.Clone(val)})
		}
	}
	return false
}

func (p *proc) completed(res wire.Result, h uint16) {
	p.result = res
	p.errAt = h
	p.finish(nil)
}

// acquire takes the connection's procedure slot and returns the function that frees it. If a
// long write left prepared chunks in the peer's queue, they are cancelled first, so that no
// later Execute Write commits them (Core v5.3 Vol 3 Part F §3.4.6).
func (cn *conn) acquire(ctx context.Context, op string) (release func(), err error) {
	if ctx.Err() != nil { // a select with a free slot might otherwise run it anyway
		return nil, gattkit.CtxErr(ctx, op)
	}
	select {
	case cn.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, gattkit.CtxErr(ctx, op)
	case <-cn.done:
		return nil, fmt.Errorf("%s: %w", op, cn.linkErr())
	}
	release = func() { <-cn.sem }
	if err := cn.linkErr(); err != nil {
		release()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := cn.cancelPrepared(ctx); err != nil {
		release()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return release, nil
}

// setPrepared sets or clears the mark that the peer's prepare queue may hold our chunks.
func (cn *conn) setPrepared(v bool) {
	cn.c.mu.Lock()
	cn.prepared = v
	cn.c.mu.Unlock()
}

// cancelPrepared sends attclient_execute_write with commit 0 (Execute Write Request, flags
// 0x00: cancel all prepared writes, Core v5.3 Vol 3 Part F §3.4.6.3) if the connection is
// marked, and clears the mark once the peer has answered it. The slot must be held.
func (cn *conn) cancelPrepared(ctx context.Context) error {
	cn.c.mu.Lock()
	marked := cn.prepared
	cn.c.mu.Unlock()
	if !marked {
		return nil
	}
	const op = "cancel the prepared writes of an unfinished long write"
	err := cn.exec(ctx, newProc(pkWrite, op, 0), &wire.CmdAttclientExecuteWrite{Connection: cn.handle, Commit: 0})
	if peerAnswered(err) {
		cn.setPrepared(false)
		return nil
	}
	return err
}

// peerAnswered reports whether a procedure's error (or nil) is the peer's answer: the ATT
// request was received and handled.
func peerAnswered(err error) bool {
	var ae *gogatt.ATTError
	return err == nil || errors.As(err, &ae)
}

// Retry pacing of a procedure the dongle refuses with wrong_state: besides waiting for the end
// of the procedure it still runs, probe again after this backoff (doubling), in case that end
// was lost on the serial line.
const (
	busyBackoffMin = 10 * time.Millisecond
	busyBackoffMax = 200 * time.Millisecond
)

// exec runs one procedure: registers p, sends the command, waits for p's end. The slot must be
// held. A non-zero result in the response means the procedure did not start
// (docs/bgapi-protocol.md §Procedures), except wrong_state: the dongle still runs an earlier
// procedure on this connection, one whose caller gave up; exec then sends the command again
// once that one ends, until ctx ends.
//
// When ctx ends, exec returns at once and the caller frees the slot, even though the dongle may
// still run the procedure: its events are then told apart by p.started (startedLocked), and the
// next procedure meets wrong_state until the dongle is idle. A lost end event so costs nothing
// beyond the operation that waited for it.
func (cn *conn) exec(ctx context.Context, p *proc, m wire.Message) error {
	c := cn.c
	p.cmd = m.Name()
	backoff := busyBackoffMin
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if cn.err != nil {
			err := cn.err
			c.mu.Unlock()
			return fmt.Errorf("%s: %w", p.op, err)
		}
		cn.proc = p
		c.mu.Unlock()
		var busy <-chan struct{}      // the connection's next procedure end, after wrong_state
		onResp := func(resp []byte) { // reader, under c.mu
			res := procResult(m, resp)
			if res == wire.ResultSuccess {
				p.started = true
				return
			}
			if cn.proc == p {
				cn.proc = nil
			}
			if res == wire.ResultWrongState {
				busy = cn.ended
				return
			}
			p.result = res
			p.errAt = p.handle
			p.finish(resultError(m.Name(), p.op, int(cn.handle), p.handle, res))
		}
		if _, _, err := c.command(ctx, m, onResp); err != nil {
			cn.detach(p)
			return cn.linkOr(p.op, err)
		}
		if busy == nil {
			break
		}
		if timer == nil {
			timer = time.NewTimer(backoff)
		} else {
			timer.Reset(backoff)
		}
		select {
		case <-busy:
		case <-timer.C:
			backoff = min(2*backoff, busyBackoffMax)
		case <-ctx.Done():
			return cn.linkOr(p.op, gattkit.CtxErr(ctx, p.op))
		case <-cn.done:
			return fmt.Errorf("%s: %w", p.op, cn.linkErr())
		}
	}
	select {
	case <-p.done:
		cn.detach(p)
		return p.outcome(cn)
	case <-ctx.Done():
		cn.detach(p)
		return cn.linkOr(p.op, gattkit.CtxErr(ctx, p.op))
	}
}

// linkOr returns the link's error (wrapped with op) when the link is gone, else err: after a
// link loss or an adapter loss every operation reports the *gogatt.DisconnectError.
func (cn *conn) linkOr(op string, err error) error {
	if lerr := cn.linkErr(); lerr != nil {
		return fmt.Errorf("%s: %w", op, lerr)
	}
	return err
}

func (cn *conn) detach(p *proc) {
	cn.c.mu.Lock()
	if cn.proc == p {
		cn.proc = nil
	}
	cn.c.mu.Unlock()
}

// outcome converts a finished procedure into an error.
func (p *proc) outcome(cn *conn) error {
	if p.err != nil {
		if _, ok := p.err.(*gogatt.DisconnectError); ok {
			return fmt.Errorf("%s: %w", p.op, p.err)
		}
		return p.err
	}
	if p.result == wire.ResultSuccess {
		return nil
	}
	h := p.errAt
	if h == 0 || h == 0xFFFF {
		h = p.handle
	}
	return resultError(p.cmd, p.op, int(cn.handle), h, p.result)
}

// procedure takes the slot, runs one procedure and frees the slot.
func (cn *conn) procedure(ctx context.Context, p *proc, m wire.Message) error {
	ctx, cancel := withATTTimeout(ctx)
	defer cancel()
	release, err := cn.acquire(ctx, p.op)
	if err != nil {
		return err
	}
	defer release()
	return cn.exec(ctx, p, m)
}

// withATTTimeout bounds ctx by the ATT transaction timeout when it has no deadline.
func withATTTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, attTimeout)
}

// bondWait is a sm_encrypt_start in progress.
type bondWait struct {
	ctx  context.Context
	done chan struct{}
	err  error
	once sync.Once
}

func (b *bondWait) finish(err error) {
	b.once.Do(func() {
		b.err = err
		close(b.done)
	})
}
