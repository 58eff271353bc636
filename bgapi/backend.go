package bgapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Config configures a BGAPI backend. The zero value auto-detects a BLED112, resets it on Start
// (as pygatt does) and logs nothing.
type Config struct {
	// Port is the serial port path, e.g. "/dev/ttyACM0" or the path printed by the emulator
	// (sim/bled112). "" auto-detects the first port with USB ID 2458:0001.
	Port string
	// NoReset skips the system_reset on Start. By default Start resets the dongle, waits for it
	// to re-enumerate and reopens it, as pygatt's reset_on_start=True.
	NoReset bool
	// Logger receives diagnostics; nil is silent.
	Logger *slog.Logger
	// Passkey answers a peer's passkey request during Bond (sm_passkey_request, BLE SDK 1.x API
	// reference): return 0–999999. It runs on a goroutine of its own; ctx ends when
	// the pairing does (bond completed or failed, link lost, Bond's context ended, Stop). Stop
	// does not wait for it: a callback that ignores ctx only delays its own return. When nil,
	// bonding with a peer that asks for a passkey fails.
	Passkey func(ctx context.Context, address string) (uint32, error)
	// PasskeyDisplay, when set, is told the passkey the user must type on the peer
	// (sm_passkey_display). It runs on a goroutine of its own and may keep showing the passkey
	// until ctx ends, which happens when the pairing does (as for Passkey); Stop does not wait
	// for it. With Passkey and/or PasskeyDisplay set the dongle pairs with MITM protection
	// (authenticated); with neither, Just Works.
	PasskeyDisplay func(ctx context.Context, address string, passkey uint32)
	// Slots is the number of connection slots; 0 asks the dongle (system_get_connections;
	// 3 on stock BLED112 firmware, docs/bgapi-protocol.md §Connections).
	Slots int
	// ResetTimeout bounds the wait for the dongle to come back after system_reset (default 10 s).
	ResetTimeout time.Duration
	// PollInterval is how often Start polls for the re-enumerated port after a reset
	// (default 50 ms).
	PollInterval time.Duration
	// CommandTimeout bounds the wait for a command's response (default 3 s). Responses come at
	// once from a working dongle; this only catches a dead one.
	CommandTimeout time.Duration
	// Dial, when set, replaces the serial port: Start (and every reopen after a reset) calls it
	// for a new byte stream to a BGAPI device, e.g. an in-process emulator
	// (sim/bled112's Emulator.Pipe). Port then only names the stream in messages ("dial" when
	// empty), nothing is auto-detected and nothing is flushed on open.
	Dial func() (io.ReadWriteCloser, error)

	// open replaces the serial port (in-package tests over an in-process pipe).
	open func(path string) (serialPort, error)
	// ports replaces the listing of serial ports (listPorts) in in-package tests.
	ports func() ([]*portDetails, error)
}

// Backend is the BGAPI backend: a BLED112 (or BLE112/BLE121LR in USB-CDC mode) driven over its
// serial port. It implements gogatt.Backend; all methods are safe for concurrent use.
type Backend struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // guards the fields below and serialises Start/Stop
	c       *client
	slots   int
	devices map[*link]struct{}
	// handed are the Devices handed to the application; Stop disconnects them and waits until
	// each has announced it. They outlive an adapter loss and a restart (Start after it).
	handed gattkit.Devices
	ctx    context.Context // backend lifetime: reconnect loops end with it
	cancel context.CancelFunc

	connSem chan struct{} // one gap_connect_direct at a time
	scanSem chan struct{} // one scan at a time
}

var _ gogatt.Backend = (*Backend)(nil)

// New returns a BGAPI backend; call Start before use.
func New(cfg Config) *Backend {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ResetTimeout <= 0 {
		cfg.ResetTimeout = 10 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	useDial(&cfg)
	if cfg.ports == nil {
		cfg.ports = listPorts
	}
	if cfg.open == nil {
		cfg.open = openSerial
	}
	return &Backend{cfg: cfg, log: log, connSem: make(chan struct{}, 1), scanSem: make(chan struct{}, 1)}
}

// SupportsUnbonded is true: a BLED112 reads and writes without bonding.
func (b *Backend) SupportsUnbonded() bool { return true }

// Start opens the dongle: optional system_reset, then polling until the port is back (no blind
// sleep, docs/bgapi-protocol.md#pygatt-reset), reopening it, flushing stale input and
// confirming with system_hello (docs/bgapi-protocol.md §Reset and re-enumeration). Then it sets
// the state pygatt sets: every connection slot disconnected, not advertising (gap_set_mode
// 0,0), no procedure running (gap_end_procedure), not bondable. Starting a started backend does
// nothing. Starting one whose adapter was lost (unplugged, or reset by another program) closes
// the lost port and opens the port again, keeping the Devices handed out: those with
// AutoReconnect, still reconnecting, dial through the new port.
func (b *Backend) Start(ctx context.Context) error {
	b.mu.Lock()
	dead := b.c
	b.mu.Unlock()
	if dead != nil {
		if dead.stopped() == nil {
			return nil
		}
		// Closed before b.mu is taken again: the client's goroutines may need it to end.
		dead.close(gogatt.ErrNotStarted)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil && b.c != dead {
		return nil // started meanwhile
	}
	b.c = nil
	path, id := b.cfg.Port, (*portDetails)(nil)
	if path == "" {
		d, err := detectPort(b.cfg.ports)
		if err != nil {
			return err
		}
		path, id = d.Name, d
		b.log.Info("bgapi: BLED112 found", "port", path, "serial", d.SerialNumber, "usb_id_checked", !usbIDsUnknown)
	} else {
		id = portIdentity(b.cfg.ports, path)
	}
	port, err := b.cfg.open(path)
	if err != nil {
		return err
	}
	// A dongle left scanning is already streaming events (docs/bgapi-protocol.md
	// §Resynchronisation, step 5); the parser would resynchronise anyway, but stale responses
	// are better gone.
	_ = port.ResetInputBuffer()
	if !b.cfg.NoReset {
		old, oldOK := nodeIdentity(path) // to tell the re-enumerated node from this one
		// system_reset(0) has no response (BLE SDK 1.x API reference, system_reset); the
		// dongle re-enumerates, so close and poll for it (docs/bgapi-protocol.md §Reset and
		// re-enumeration).
		c := newClient(port, b.clientConfig())
		if err := c.call(ctx, &wire.CmdSystemReset{BootInDFU: 0}, nil); err != nil {
			c.close(gogatt.ErrNotStarted)
			return fmt.Errorf("bgapi: start: system_reset: %w", err)
		}
		// A BLED112 now drops off USB and the port fails; a module that does not
		// re-enumerate (UART, or an emulator told not to) answers system_hello on the same
		// port once it has restarted.
		c = b.awaitRestart(ctx, c)
		if c == nil {
			var err error
			if c, err = b.reopen(ctx, path, id, old, oldOK); err != nil {
				return err
			}
		}
		b.c = c
	} else {
		c := newClient(port, b.clientConfig())
		if err := c.call(ctx, &wire.CmdSystemHello{}, nil); err != nil {
			c.close(gogatt.ErrNotStarted)
			return fmt.Errorf("bgapi: start: %s does not answer system_hello: %w", path, err)
		}
		b.c = c
	}
	if err := b.initDongle(ctx); err != nil {
		b.c.close(gogatt.ErrNotStarted)
		b.c = nil
		return fmt.Errorf("bgapi: start: %w", err)
	}
	b.c.setLive()
	if b.ctx == nil { // else a restart after an adapter loss: the Devices stay
		b.devices = make(map[*link]struct{})
		b.ctx, b.cancel = context.WithCancel(context.Background())
	}
	b.log.Info("bgapi: started", "port", path, "slots", b.slots)
	return nil
}

func (b *Backend) clientConfig() clientConfig {
	return clientConfig{log: b.log, cmdTimeout: b.cfg.CommandTimeout, passkey: b.cfg.Passkey, display: b.cfg.PasskeyDisplay}
}

// awaitRestart polls system_hello on the port the reset was sent on, for the re-enumeration
// window. It returns the client if the dongle answered there, or nil (client closed) when the
// port failed — the dongle is re-enumerating — or never answered.
func (b *Backend) awaitRestart(ctx context.Context, c *client) *client {
	window := time.NewTimer(vanishWindow(b.cfg.PollInterval))
	defer window.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, max(2*b.cfg.PollInterval, 100*time.Millisecond))
		err := c.call(hctx, &wire.CmdSystemHello{}, nil)
		cancel()
		if err == nil {
			return c
		}
		if c.stopped() != nil || ctx.Err() != nil {
			break
		}
		select {
		case <-window.C:
		default:
			continue
		}
		break
	}
	c.close(gogatt.ErrNotStarted)
	return nil
}

// vanishWindow is how long a reset dongle may take to drop off USB.
func vanishWindow(poll time.Duration) time.Duration {
	return min(max(20*poll, 100*time.Millisecond), time.Second)
}

// reopen polls until the dongle answers system_hello on its (possibly renamed) port. Until the
// old device node has been seen to go (or a short window has passed, for modules that do not
// re-enumerate), a node with the old identity is not reopened: it could be the dongle just
// before it drops off USB.
func (b *Backend) reopen(ctx context.Context, path string, id *portDetails, old nodeID, oldOK bool) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ResetTimeout)
	defer cancel()
	tick := time.NewTicker(b.cfg.PollInterval)
	defer tick.Stop()
	vanishBy := time.Now().Add(vanishWindow(b.cfg.PollInterval))
	var last error
	for {
		p := path
		if b.cfg.Port == "" {
			if d, err := detectPort(b.cfg.ports); err == nil {
				p = d.Name
			}
		} else {
			p = relocate(b.cfg.ports, path, id)
		}
		cur, curOK := nodeIdentity(p)
		if oldOK && curOK && cur == old && time.Now().Before(vanishBy) {
			last = fmt.Errorf("%s has not re-enumerated yet", p)
		} else {
			if oldOK && !curOK {
				oldOK = false // the old node is gone: whatever appears next is the new one
			}
			port, err := b.cfg.open(p)
			if err == nil {
				_ = port.ResetInputBuffer()
				c := newClient(port, b.clientConfig())
				hctx, hcancel := context.WithTimeout(ctx, max(4*b.cfg.PollInterval, 200*time.Millisecond))
				err = c.call(hctx, &wire.CmdSystemHello{}, nil)
				hcancel()
				if err == nil {
					return c, nil
				}
				c.close(gogatt.ErrNotStarted)
			}
			last = err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			if errors.Is(last, gogatt.ErrNoAdapter) || errors.Is(last, ErrPermissionDenied) || errors.Is(last, ErrPortBusy) {
				return nil, fmt.Errorf("bgapi: start: dongle did not come back after system_reset within %v: %w", b.cfg.ResetTimeout, last)
			}
			return nil, fmt.Errorf("bgapi: start: dongle did not come back after system_reset within %v: %w (last error: %v)", b.cfg.ResetTimeout, gogatt.ErrNoAdapter, last)
		}
	}
}

// initDongle puts the dongle in the state pygatt leaves it in (docs/bgapi-protocol.md
// §Start-up).
func (b *Backend) initDongle(ctx context.Context) error {
	c := b.c
	var gc wire.RspSystemGetConnections
	if err := c.call(ctx, &wire.CmdSystemGetConnections{}, &gc); err != nil {
		return err
	}
	maxconn := int(gc.MaxConn)
	if maxconn == 0 {
		maxconn = 3
	}
	b.slots = maxconn
	if b.cfg.Slots > 0 {
		b.slots = b.cfg.Slots
	}
	for h := range maxconn {
		// not_connected (0x0186) is the normal answer for a free slot.
		if err := c.call(ctx, &wire.CmdConnectionDisconnect{Connection: uint8(h)}, nil); err != nil {
			return err
		}
	}
	sm := &wire.CmdGapSetMode{Discover: wire.GapNonDiscoverable, Connect: wire.GapNonConnectable}
	var smr wire.RspGapSetMode
	if err := c.call(ctx, sm, &smr); err != nil {
		return err
	}
	if err := check(sm, smr.Result); err != nil {
		return err
	}
	if err := c.endProcedure(ctx); err != nil {
		return err
	}
	if err := c.call(ctx, &wire.CmdSmSetBondableMode{Bondable: 0}, nil); err != nil {
		return err
	}
	// sm_set_parameters (BLE SDK 1.x API reference §5.7.1, §5.7.2): minimum key size 7; the IO
	// capabilities the callbacks provide — Passkey: KeyboardOnly (2), PasskeyDisplay:
	// DisplayOnly (0), both: KeyboardDisplay (4), neither: NoInputNoOutput (3, Just Works) —
	// and MITM protection whenever a passkey can be exchanged.
	p := &wire.CmdSmSetParameters{MITM: 1, MinKeySize: 7}
	switch {
	case b.cfg.Passkey != nil && b.cfg.PasskeyDisplay != nil:
		p.IOCapabilities = wire.IOKeyboardDisplay
	case b.cfg.Passkey != nil:
		p.IOCapabilities = wire.IOKeyboardOnly
	case b.cfg.PasskeyDisplay != nil:
		p.IOCapabilities = wire.IODisplayOnly
	default:
		p.MITM, p.IOCapabilities = 0, wire.IONoInputNoOutput
	}
	return c.call(ctx, p, nil)
}

// Stop disconnects every device, discards the values still queued for notification handlers
// (also those of devices lost earlier) and closes the port. It does not wait for a handler call
// in progress, so it may be called from a handler (gogatt.Backend.Stop). When it returns, every
// Device it handed out has closed Disconnected and delivered its last ConnectionEvent, so it
// must not be called from an OnConnectionEvent callback. It is idempotent and safe after a
// failed Start.
func (b *Backend) Stop() error {
	b.mu.Lock()
	c := b.c
	b.c = nil
	devs := b.devices
	b.devices = nil
	if b.cancel != nil {
		b.cancel()
	}
	b.ctx, b.cancel = nil, nil
	b.mu.Unlock()
	// The application's Devices first, so that each stops reconnecting and reports a local
	// disconnect (they outlive a lost adapter: c may be nil); then whatever raw device is left
	// (a reconnection in flight).
	b.handed.DisconnectAll()
	var wg sync.WaitGroup
	for d := range devs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = d.disconnect(ctx)
		})
	}
	wg.Wait()
	if c != nil {
		c.close(fmt.Errorf("bgapi: backend stopped: %w", gogatt.ErrNotStarted))
		// What is left to deliver (queues still draining after a loss) is discarded.
		c.deliveries.Stop()
	}
	b.handed.Wait() // every Device has delivered its last ConnectionEvent and closed Disconnected
	return nil
}

func (b *Backend) client() (*client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == nil {
		return nil, gogatt.ErrNotStarted
	}
	if err := b.c.stopped(); err != nil {
		return nil, err
	}
	return b.c, nil
}

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
	w, err := gattkit.Connect(ctx, address, opts, gattkit.Config{Dial: b.dial, Group: &c.deliveries, Log: b.log, Values: bctx})
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.ctx != bctx { // stopped (or restarted) meanwhile
		b.mu.Unlock()
		_ = w.Disconnect()
		return nil, gogatt.ErrNotStarted
	}
	b.handed.Add(w)
	b.mu.Unlock()
	return w, nil
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

// Scan sets the scan parameters (gap_set_scan_parameters, 625 µs units from
// ScanOptions.Resolve), starts gap_discover and merges every gap_scan_response per device:
// advertising and scan-response data parsed by package adv, the name from either, the latest
// RSSI. It stops at opts.Timeout or when OnAdvertisement returns false (returning what it has
// and nil), when ctx ends (what it has and an error matching ctx's, gogatt.ErrTimeout for a
// deadline) or when Stop ends it (what it has and an error matching gogatt.ErrNotStarted), and
// always ends with gap_end_procedure.
func (b *Backend) Scan(ctx context.Context, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	return b.scan(ctx, "", opts)
}

// FilteredScan is Scan keeping devices whose name contains nameFilter.
func (b *Backend) FilteredScan(ctx context.Context, nameFilter string, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	return b.scan(ctx, nameFilter, opts)
}

func (b *Backend) scan(ctx context.Context, filter string, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	params, err := opts.Resolve()
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	c, err := b.client()
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	select {
	case b.scanSem <- struct{}{}:
	default:
		return nil, fmt.Errorf("scan: another scan is running: %w", gogatt.ErrBusy)
	}
	defer func() { <-b.scanSem }()
	active := uint8(1)
	if opts.Passive {
		active = 0
	}
	sp := &wire.CmdGapSetScanParameters{ScanInterval: params.Interval, ScanWindow: params.Window, Active: active}
	var spr wire.RspGapSetScanParameters
	if err := c.call(ctx, sp, &spr); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	if err := check(sp, spr.Result); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	mode := map[gogatt.DiscoverMode]uint8{gogatt.DiscoverLimited: wire.DiscoverLimited, gogatt.DiscoverGeneric: wire.DiscoverGeneric, gogatt.DiscoverObservation: wire.DiscoverObservation}[opts.Mode]
	sink := newScanSink()
	c.mu.Lock()
	c.scan = sink
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.scan == sink {
			c.scan = nil
		}
		c.mu.Unlock()
	}()
	dm := &wire.CmdGapDiscover{Mode: mode}
	var dr wire.RspGapDiscover
	if err := c.call(ctx, dm, &dr); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	if err := check(dm, dr.Result); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	defer b.endProcedure(c)

	timer := time.NewTimer(opts.ScanTimeout())
	defer timer.Stop()
	seen := map[bt.Address]*gogatt.ScanResult{}
	var order []bt.Address
	var batch []scanEvent
	var stopErr error
loop:
	for {
		select {
		case <-sink.notify:
		case <-timer.C:
			break loop
		case <-ctx.Done():
			stopErr = gattkit.CtxErr(ctx, "scan")
			break loop
		case <-c.closed:
			stopErr = c.closedErr("scan")
			break loop
		}
		batch = sink.take(batch)
		for _, e := range batch {
			pt, ok := advPacketType(e.ptype)
			if !ok {
				continue
			}
			r := seen[e.addr]
			if r == nil {
				r = &gogatt.ScanResult{Address: e.addr.String()}
				seen[e.addr] = r
				order = append(order, e.addr)
			}
			r.AddressType = e.atype
			r.RSSI = int(e.rssi)
			if err := r.Data.Parse(pt, e.data); err != nil {
				b.log.Debug("bgapi: malformed advertising data", "address", e.addr, "err", err)
			}
			r.Name = r.Data.LocalName
			if opts.OnAdvertisement != nil && matches(*r, filter) {
				if !opts.OnAdvertisement(cloneResult(*r)) {
					break loop
				}
			}
		}
	}
	out := make([]gogatt.ScanResult, 0, len(order))
	for _, a := range order {
		if r := seen[a]; matches(*r, filter) {
			out = append(out, *r)
		}
	}
	return out, stopErr
}

func matches(r gogatt.ScanResult, filter string) bool {
	return filter == "" || strings.Contains(r.Name, filter)
}

func cloneResult(r gogatt.ScanResult) gogatt.ScanResult {
	r.Data = r.Data.Clone()
	return r
}

// advPacketType maps gap_scan_response's packet_type (BLE SDK 1.x API reference §5.4.2) to
// adv's; scan requests and connect requests carry no advertiser data.
func advPacketType(t wire.ScanPacketType) (adv.PacketType, bool) {
	switch t {
	case wire.PacketAdvInd:
		return adv.ConnectableUndirected, true
	case wire.PacketAdvDirectInd:
		return adv.ConnectableDirected, true
	case wire.PacketAdvNonconnInd:
		return adv.NonConnectable, true
	case wire.PacketScanRsp:
		return adv.ScanResponse, true
	case wire.PacketAdvScanInd:
		return adv.ScannableUndirected, true
	}
	return 0, false
}

// ClearBond deletes the bond with address, or every bond when address is "" (sm_delete_bonding
// 0xFF). BGAPI 1.x names bonds by handle (pygatt ignored the address and deleted all,
// docs/bgapi-protocol.md#pygatt-clear-bond): the handle of the peer's bond is the one a
// connection to it named in this program (connection_status), else the one gogatt recorded in
// the dongle's persistent store, so this works from any later program too (see "Bonds" in the
// package documentation); the record goes with the bond. An address with no bond known either
// way gives an error matching gogatt.ErrNotFound.
func (b *Backend) ClearBond(ctx context.Context, address string) error {
	return b.clearBond(ctx, address)
}
