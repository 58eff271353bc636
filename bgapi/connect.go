package bgapi

import (
	"context"
	"fmt"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Connect opens a connection with gap_connect_direct and waits for the
// connection_status of that address and handle. On timeout it cancels with gap_end_procedure
// and returns an error matching gogatt.ErrTimeout. When every slot is in use the error
// matches ErrConnectionLimit (result 0x0209). When the dongle holds a bond with the peer, the
// link is encrypted with it before Connect returns (see "Bonds" in the package
// documentation). The Device returned (the module's one Device over this backend's link) reconnects
// by itself when opts.AutoReconnect is set.
func (b *Backend) Connect(ctx context.Context, address string, opts gogatt.ConnectOptions) (gogatt.Device, error) {
	if _, err := gattkit.CheckConnect(address, opts); err != nil {
		return nil, err
	}
	c, err := b.client()
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", address, err)
	}
	b.mu.Lock()
	bctx := b.ctx
	b.mu.Unlock()
	if bctx == nil {
		return nil, gogatt.ErrNotStarted
	}
	return b.handed.Connect(ctx, address, opts, gattkit.Config{Dial: b.dial, Group: &c.deliveries, Log: b.log, Values: bctx},
		&b.mu, func() bool { return b.ctx != bctx }) // stopped (or restarted) meanwhile
}

// dial opens one link (gattkit.Dialer); the arguments have been checked.
func (b *Backend) dial(ctx context.Context, addr bt.Address, opts gogatt.ConnectOptions, sink gattkit.Sink) (gattkit.Link, error) {
	params, err := opts.Resolve()
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	c, err := b.client()
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout())
	defer cancel()
	select {
	case b.connSem <- struct{}{}:
	case <-ctx.Done():
		return nil, gattkit.CtxErr(ctx, "connect "+addr.String())
	}
	defer func() { <-b.connSem }()

	b.mu.Lock()
	slots := b.slots // written by Start under b.mu
	b.mu.Unlock()
	c.mu.Lock()
	n := len(c.conns)
	var dup *conn
	for _, cn := range c.conns {
		if cn.addr == addr {
			dup = cn
		}
	}
	c.mu.Unlock()
	if dup != nil {
		// The peer is no longer advertising connectably to us: a second connect_direct
		// would wait silently until the timeout.
		return nil, fmt.Errorf("connect %s: already connected (connection %d): %w", addr, dup.handle, gogatt.ErrBusy)
	}
	if slots > 0 && n >= slots {
		return nil, fmt.Errorf("connect %s: %d of %d slots in use: %w", addr, n, slots, &Error{Command: "gap_connect_direct", Connection: -1, Result: wire.ResultConnectionLimitExceeded})
	}

	cw := &connectWait{addr: addr, sink: sink, handle: -1, done: make(chan struct{})}
	c.mu.Lock()
	c.connecting = cw
	c.mu.Unlock()
	// gap_connect_direct: address, addr_type, interval_min, interval_max, timeout, latency
	// (timeout before latency here, unlike connection_update; BLE SDK 1.x API reference
	// §5.4.1, §5.3.1).
	m := &wire.CmdGapConnectDirect{Address: addr, AddressType: opts.AddressType,
		ConnIntervalMin: params.IntervalMin, ConnIntervalMax: params.IntervalMax, Timeout: params.Timeout, Latency: params.Latency}
	var res wire.Result
	onResp := func(resp []byte) { // reader, under c.mu
		var r wire.RspGapConnectDirect
		if err := r.UnmarshalPayload(resp); err != nil {
			res = wire.ResultInvalidParam
		} else {
			res = r.Result
		}
		if res == wire.ResultSuccess {
			cw.handle = int(r.ConnectionHandle)
		} else if c.connecting == cw {
			c.connecting = nil
		}
	}
	_, sent, err := c.command(ctx, m, onResp)
	if err != nil {
		c.mu.Lock()
		if c.connecting == cw {
			c.connecting = nil
		}
		c.mu.Unlock()
		if sent {
			b.endProcedure(c)
		}
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	if res != wire.ResultSuccess {
		return nil, fmt.Errorf("connect %s: %w", addr, resultError(m.Name(), "connect", -1, 0, res))
	}
	select {
	case <-cw.done:
	case <-ctx.Done():
		// Cancel the attempt (gap_end_procedure). If the connection completed meanwhile, the
		// reader has already seen its connection_status (events follow responses,
		// docs/bgapi-protocol.md §Command discipline).
		b.endProcedure(c)
		c.mu.Lock()
		if c.connecting == cw {
			c.connecting = nil
		}
		done := cw.conn != nil || cw.err != nil
		c.mu.Unlock()
		if !done {
			return nil, gattkit.CtxErr(ctx, "connect "+addr.String())
		}
	case <-c.closed:
		return nil, fmt.Errorf("connect %s: %w", addr, c.closedErr("connect"))
	}
	if cw.err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, cw.err)
	}
	d := &link{b: b, cn: cw.conn}
	if err := cw.conn.resumeBond(ctx); err != nil { // a bonded peer: encrypt with the bond
		dctx, dcancel := context.WithTimeout(c.stopCtx, 2*c.cmdTimeout)
		_ = d.disconnect(dctx)
		dcancel()
		return nil, fmt.Errorf("connect %s: %w", addr, err)
	}
	b.mu.Lock()
	if b.devices != nil {
		b.devices[d] = struct{}{}
	}
	b.mu.Unlock()
	c.goBackground(func() { // forget the device once its link is gone
		select {
		case <-d.cn.done:
		case <-c.closed:
		}
		b.mu.Lock()
		delete(b.devices, d)
		b.mu.Unlock()
	})
	b.log.Debug("bgapi: connected", "address", addr, "connection", cw.conn.handle)
	return d, nil
}

// endProcedure stops a running gap procedure (scan or connect); wrong_state means nothing ran.
func (b *Backend) endProcedure(c *client) {
	ctx, cancel := context.WithTimeout(c.stopCtx, c.cmdTimeout)
	defer cancel()
	if err := c.endProcedure(ctx); err != nil {
		b.log.Debug("bgapi: gap_end_procedure", "err", err)
	}
}
