package bgapi

import (
	"bytes"
	"context"
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
	sem    chan struct{} // one GATT procedure at a time (bgapi-facts.md §5.1; Core v5.3 Vol 3 Part F §3.3.2)
	reg    *gattkit.Registry
	done   chan struct{} // closed when the link is gone

	proc       *proc
	bond       *bondWait
	err        error // a *gogatt.DisconnectError once done is closed
	localClose bool
}

func newConn(c *client, h uint8, addr bt.Address) *conn {
	return &conn{
		c:      c,
		handle: h,
		addr:   addr,
		sem:    make(chan struct{}, 1),
		reg:    gattkit.NewRegistry(),
		done:   make(chan struct{}),
	}
}

// endLocked ends the connection with err (under c.mu): the procedure and bonding in progress
// fail at once, the registry stops (in the background: handlers finish their queues).
func (cn *conn) endLocked(err error) {
	if cn.err != nil {
		return
	}
	cn.err = err
	close(cn.done)
	if p := cn.proc; p != nil {
		cn.proc = nil
		p.finish(err)
	}
	if b := cn.bond; b != nil {
		cn.bond = nil
		b.finish(err)
	}
	cn.reg.CloseAsync()
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
		// read (bgapi-facts.md §5.6; pygatt weaknesses §6.14, §6.20).
		if !cn.reg.Dispatch(e.AttHandle, e.Value) {
			cn.c.log.Debug("bgapi: value without subscriber", "connection", cn.handle, "handle", e.AttHandle)
		}
		if e.Type == wire.AttValueIndicateRspReq {
			// The peer waits for our confirmation (bgapi-facts.md §5.6, pygatt §6.15). Sent
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
	if p := cn.proc; p != nil && p.valueLocked(e.AttHandle, e.Type, e.Value) {
		cn.proc = nil // a successful read_by_handle has no procedure_completed (§5.4)
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

// proc is one attclient procedure in progress (bgapi-facts.md §5.4).
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
		// The first chunk may be reported as type 0 or 4 (bgapi-facts.md §5.4).
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

// hold is a taken GATT-procedure slot of a connection. If a procedure is abandoned (the
// caller's context ended while the dongle still runs it), the slot passes to a background
// goroutine that frees it when the dongle reports the end, so the next procedure never gets
// wrong_state.
type hold struct {
	cn     *conn
	handed bool
}

// acquire takes the connection's procedure slot.
func (cn *conn) acquire(ctx context.Context, op string) (*hold, error) {
	select {
	case cn.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, gogatt.CtxErr(ctx, op)
	case <-cn.done:
		return nil, fmt.Errorf("%s: %w", op, cn.linkErr())
	}
	if err := cn.linkErr(); err != nil {
		<-cn.sem
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &hold{cn: cn}, nil
}

func (h *hold) release() {
	if !h.handed {
		h.handed = true
		<-h.cn.sem
	}
}

// exec runs one procedure: registers p, sends the command, waits for p's end. The slot must be
// held. A non-zero result in the response means the procedure did not start (§2.5).
func (cn *conn) exec(ctx context.Context, h *hold, p *proc, m wire.Message) error {
	c := cn.c
	p.cmd = m.Name()
	c.mu.Lock()
	if cn.err != nil {
		err := cn.err
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", p.op, err)
	}
	cn.proc = p
	c.mu.Unlock()
	onResp := func(resp []byte) { // reader, under c.mu
		res := procResult(m, resp)
		p.started = res == wire.ResultSuccess
		if res != wire.ResultSuccess {
			if cn.proc == p {
				cn.proc = nil
			}
			p.result = res
			p.errAt = p.handle
			p.finish(resultError(m.Name(), p.op, int(cn.handle), p.handle, res))
		}
	}
	_, sent, err := c.command(ctx, m, onResp)
	if err != nil && !sent {
		cn.detach(p)
		return cn.linkOr(p.op, err)
	}
	if err == nil {
		select {
		case <-p.done:
			cn.detach(p)
			return p.outcome(cn)
		case <-ctx.Done():
			err = gogatt.CtxErr(ctx, p.op)
		}
	}
	// Abandoned while the dongle may still run it: free the slot when it ends. If the
	// dongle never confirmed the start (its response was lost, e.g. to garbage on the line),
	// wait only a command timeout; a started procedure gets the ATT transaction timeout.
	h.handed = true
	wait := func() {
		start := time.Now()
		t := time.NewTimer(2 * c.cmdTimeout)
		defer t.Stop()
		for {
			select {
			case <-p.done:
			case <-c.closed:
			case <-t.C:
				c.mu.Lock()
				started := p.started
				c.mu.Unlock()
				if rest := attTimeout - time.Since(start); started && rest > 0 {
					t.Reset(rest)
					continue
				}
			}
			break
		}
		cn.detach(p)
		<-cn.sem
	}
	if !c.goBackground(wait) { // the client has stopped: nothing is running any more
		cn.detach(p)
		<-cn.sem
	}
	return cn.linkOr(p.op, err)
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
	h, err := cn.acquire(ctx, p.op)
	if err != nil {
		return err
	}
	defer h.release()
	return cn.exec(ctx, h, p, m)
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
