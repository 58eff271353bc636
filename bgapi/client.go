package bgapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// ErrAdapterLost: the serial port failed (dongle unplugged, port closed under us), or the
// dongle restarted under us (a system_boot outside Start, or neither a command nor the
// system_hello sent after it answered: another program on the same port reset it, or it
// hangs). Every pending and later operation of the backend fails with an error matching it
// (connection operations with a *gogatt.DisconnectError wrapping it) until Start opens the
// port again.
var ErrAdapterLost = errors.New("bgapi: adapter lost")

// attTimeout is the ATT transaction timeout (Core v5.3 Vol 3 Part F §3.3.3): a procedure
// without a caller deadline is abandoned after it.
const attTimeout = 30 * time.Second

// client is the BGAPI protocol client over one byte stream (docs/architecture.md, "Goroutine
// ownership").
//
// One reader goroutine owns the read side: it decodes frames and routes them. Responses go to
// the single outstanding command (one command in flight, matched by class and id,
// docs/bgapi-protocol.md §Command discipline; cmdSem serialises writers). Events go by
// connection handle to that connection's procedure in progress, its subscription registry or
// its link state; scan responses to the active scan; sm events to the bonding in progress.
// Nothing user-supplied runs on the reader.
type client struct {
	rw         io.ReadWriteCloser
	log        *slog.Logger
	trace      bool // log every frame (the logger has Debug enabled)
	cmdTimeout time.Duration
	passkey    func(ctx context.Context, address string) (uint32, error)
	display    func(ctx context.Context, address string, passkey uint32)

	cmdSem chan struct{} // one command in flight
	wbuf   []byte        // frame buffer, used under cmdSem
	evs    wire.Events   // the events handleEvent decodes into, used by the reader only

	mu         sync.Mutex
	pending    *pendingCmd
	conns      map[uint8]*conn
	connecting *connectWait
	scan       *scanSink
	bonds      map[bt.Address]uint8 // bond handle per peer, learnt from connection_status
	err        error                // why the client stopped
	closed     chan struct{}        // closed when the client stops
	// live: Start has put the dongle in its initial state. From then on a connection nobody
	// waits for is an orphan to close, and a system_boot means the dongle restarted.
	live bool

	stopCtx context.Context // cancelled when the client stops; for background work
	cancel  context.CancelFunc
	wg      sync.WaitGroup // reader and background goroutines

	// deliveries holds every connection's registry and every AutoReconnect Device's queues;
	// Backend.Stop ends them all at once.
	deliveries gattkit.Group
}

type pendingCmd struct {
	class, id uint8
	name      string
	ch        chan []byte          // the response payload (a copy), buffered 1
	conn      int                  // the connection the response must echo, -1 if none
	onResp    func(payload []byte) // run by the reader under c.mu before ch is filled
}

type clientConfig struct {
	log        *slog.Logger
	cmdTimeout time.Duration
	passkey    func(ctx context.Context, address string) (uint32, error)
	display    func(ctx context.Context, address string, passkey uint32)
}

// newClient starts a client over rw; rw is closed by close.
func newClient(rw io.ReadWriteCloser, cfg clientConfig) *client {
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	if cfg.cmdTimeout <= 0 {
		cfg.cmdTimeout = 3 * time.Second
	}
	c := &client{
		rw:         rw,
		log:        cfg.log,
		trace:      cfg.log.Enabled(context.Background(), slog.LevelDebug),
		cmdTimeout: cfg.cmdTimeout,
		passkey:    cfg.passkey,
		display:    cfg.display,
		cmdSem:     make(chan struct{}, 1),
		conns:      make(map[uint8]*conn),
		bonds:      make(map[bt.Address]uint8),
		closed:     make(chan struct{}),
	}
	c.stopCtx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.readLoop()
	return c
}

// close stops the client with err (what later operations report), closes the transport and
// waits for every goroutine of the client.
func (c *client) close(err error) {
	c.fail(err)
	c.rw.Close()
	c.wg.Wait()
}

// goBackground runs f on a goroutine the client waits for in close, and reports whether it
// did: once the client has stopped nothing new starts (so close's Wait is never raced).
func (c *client) goBackground(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.goLocked(f)
}

// goLocked is goBackground with c.mu held.
func (c *client) goLocked(f func()) bool {
	if c.err != nil {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// setLive marks the end of Start's initialisation of the dongle (see client.live).
func (c *client) setLive() {
	c.mu.Lock()
	c.live = true
	c.mu.Unlock()
}

// stopped returns the error the client stopped with, or nil.
func (c *client) stopped() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// interByteTimeout abandons a partial frame when the stream goes quiet, as the firmware drops a
// partial command after 1 s (BLE SDK 1.x API reference, system_protocol_error;
// docs/bgapi-protocol.md §Resynchronisation): the parser then drops one byte and rescans, so
// garbage that looks like the start of a frame cannot hold back the frames behind it. A real
// frame never pauses that long inside.
const interByteTimeout = time.Second

// readLoop owns the read side: it feeds what the transport delivers to the resynchronising
// wire.Parser and routes each frame. A port with a read deadline (the poller's file on Linux,
// the emulator's pipe) is read on this goroutine, the deadline ending a read that waits past
// the inter-byte timeout; any other port is read by a pump goroutine (readPumped).
func (c *client) readLoop() {
	defer c.wg.Done()
	p := wire.NewParser(wire.DecoderConfig{})
	d, ok := c.rw.(readDeadliner)
	if !ok || d.SetReadDeadline(time.Time{}) != nil {
		c.readPumped(p)
		return
	}
	buf := make([]byte, 4096)
	armed := false // a read deadline is set
	empty := 0
	for {
		c.route(p)
		if b := p.Buffered() > 0; b != armed {
			var t time.Time
			if b {
				t = time.Now().Add(interByteTimeout)
			}
			if err := d.SetReadDeadline(t); err != nil {
				c.readFailed(err)
				return
			}
			armed = b
		}
		n, err := c.rw.Read(buf)
		if n > 0 {
			empty = 0
			p.Feed(buf[:n])
		} else if empty++; err == nil && empty >= 100 {
			err = io.ErrNoProgress // a broken reader returning (0, nil) forever
		}
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			p.Abandon()
		default:
			c.route(p)
			c.readFailed(err)
			return
		}
	}
}

// readPumped is readLoop for a port without a read deadline: a pump goroutine reads the
// transport into buffers, this loop feeds them to p and routes each frame, or abandons a
// partial frame after interByteTimeout of silence.
func (c *client) readPumped(p *wire.Parser) {
	const nbuf = 4
	full := make(chan []byte, nbuf)
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, 4096)
	}
	var readErr error
	c.wg.Add(1)
	go func() { // pump
		defer c.wg.Done()
		defer close(full)
		empty := 0
		for buf := range free {
			n, err := c.rw.Read(buf[:cap(buf)])
			if n > 0 {
				empty = 0
				full <- buf[:n]
			} else {
				free <- buf
				if empty++; err == nil && empty >= 100 {
					err = io.ErrNoProgress // a broken reader returning (0, nil) forever
				}
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		c.route(p)
		var quiet <-chan time.Time
		if p.Buffered() > 0 {
			timer.Reset(interByteTimeout)
			quiet = timer.C
		}
		select {
		case buf, ok := <-full:
			timer.Stop()
			if !ok {
				if readErr == nil {
					readErr = io.EOF
				}
				c.readFailed(readErr)
				return
			}
			p.Feed(buf)
			free <- buf
		case <-quiet:
			p.Abandon()
		}
	}
}

// route handles every complete frame p holds.
func (c *client) route(p *wire.Parser) {
	for {
		f, ok := p.Next()
		if !ok {
			return
		}
		if c.trace {
			c.log.Debug("bgapi: ←", "event", f.Event, "class", f.Class, "id", f.ID, "payload", fmt.Sprintf("% x", f.Payload))
		}
		if f.Event {
			c.handleEvent(f)
		} else {
			c.handleResponse(f)
		}
	}
}

// readFailed stops the client after the port failed with err.
func (c *client) readFailed(err error) {
	if c.stopped() == nil {
		c.log.Warn("bgapi: port read failed", "err", err)
	}
	c.fail(fmt.Errorf("%w: %w", ErrAdapterLost, err))
}

// fail stops the client once: every waiter learns err, every connection ends.
func (c *client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failLocked(err)
}

// failLocked is fail with c.mu held.
func (c *client) failLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	c.cancel()
	for h, cn := range c.conns {
		delete(c.conns, h)
		cn.endLocked(&gogatt.DisconnectError{Address: cn.addr.String(), Reason: "adapter stopped", Err: err})
	}
	close(c.closed)
}

func (c *client) handleResponse(f wire.Frame) {
	c.mu.Lock()
	p := c.pending
	if p == nil || p.class != f.Class || p.id != f.ID {
		c.mu.Unlock()
		c.log.Debug("bgapi: unexpected response dropped", "class", f.Class, "id", f.ID)
		return
	}
	if p.conn >= 0 && (len(f.Payload) == 0 || int(f.Payload[0]) != p.conn) {
		// Garbage that happened to frame as this response (docs/bgapi-protocol.md §Connection
		// echo): keep waiting.
		c.mu.Unlock()
		c.log.Debug("bgapi: response for another connection dropped", "command", p.name, "payload", f.Payload)
		return
	}
	c.pending = nil
	payload := bytes.Clone(f.Payload)
	if p.onResp != nil {
		p.onResp(payload)
	}
	c.mu.Unlock()
	p.ch <- payload
}

// command sends one command and waits for its response (docs/bgapi-protocol.md §Command
// discipline). sent reports whether the command reached the port (so a procedure may be running
// even if err != nil). If ctx ends while the response is awaited, the command slot stays taken
// in the background until the response arrives, so a late response is never mistaken for the
// next command's.
func (c *client) command(ctx context.Context, m wire.Message, onResp func([]byte)) (resp []byte, sent bool, err error) {
	name := m.Name()
	if ctx.Err() != nil { // ended: send nothing, even if the slot is free (select picks at random)
		return nil, false, gattkit.CtxErr(ctx, name)
	}
	select {
	case c.cmdSem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, gattkit.CtxErr(ctx, name)
	case <-c.closed:
		return nil, false, c.closedErr(name)
	}
	p := &pendingCmd{class: m.Class(), id: m.ID(), name: name, ch: make(chan []byte, 1), onResp: onResp, conn: -1}
	c.wbuf = m.AppendFrame(c.wbuf[:0])
	// system_reset and dfu_reset are the only commands without a response (BLE SDK 1.x API
	// reference §5.8.1, §5.10.1); the codec's message table knows them, and which responses echo
	// the command's connection handle (docs/bgapi-protocol.md §Connection echo).
	info, _ := wire.Lookup(wire.KindCommand, p.class, p.id)
	if info.EchoesConnection && len(c.wbuf) > wire.HeaderLen {
		p.conn = int(c.wbuf[wire.HeaderLen])
	}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		<-c.cmdSem
		return nil, false, c.closedErr(name)
	}
	noResponse := info.NoResponse
	if !noResponse {
		c.pending = p
	}
	c.mu.Unlock()
	if c.trace {
		c.log.Debug("bgapi: →", "command", name, "frame", fmt.Sprintf("% x", c.wbuf))
	}
	if _, werr := c.rw.Write(c.wbuf); werr != nil {
		c.clearPending(p)
		<-c.cmdSem
		select {
		case <-c.closed:
			// The client was closed (Stop) and the port with it under the write: that, not
			// the adapter, ended the command.
			return nil, false, c.closedErr(name)
		default:
		}
		err := fmt.Errorf("%w: write: %w", ErrAdapterLost, werr)
		c.fail(err)
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	if noResponse {
		<-c.cmdSem
		return nil, true, nil
	}
	timer := time.NewTimer(c.cmdTimeout)
	select {
	case resp := <-p.ch:
		timer.Stop()
		<-c.cmdSem
		return resp, true, nil
	case <-c.closed:
		timer.Stop()
		<-c.cmdSem
		return nil, true, c.closedErr(name)
	case <-timer.C:
		c.clearPending(p)
		<-c.cmdSem
		c.log.Warn("bgapi: no response", "command", name)
		err := fmt.Errorf("%s: no response from the adapter within %v: %w", name, c.cmdTimeout, gogatt.ErrTimeout)
		if _, hello := m.(*wire.CmdSystemHello); !hello {
			err = c.probe(name, err)
		}
		return nil, true, err
	case <-ctx.Done():
		wait := func() {
			defer timer.Stop()
			select {
			case <-p.ch:
			case <-c.closed:
			case <-timer.C:
				c.clearPending(p)
			}
			<-c.cmdSem
		}
		if !c.goBackground(wait) {
			timer.Stop()
			<-c.cmdSem
		}
		return nil, true, gattkit.CtxErr(ctx, name)
	}
}

// probe follows a command that got no response (err) with system_hello. A dongle that does
// not answer that either is gone — reset or taken over by another program on the same port,
// or hung — and the client fails with ErrAdapterLost, which probe returns; otherwise err (one
// lost response).
func (c *client) probe(name string, err error) error {
	ctx, cancel := context.WithTimeout(c.stopCtx, 2*c.cmdTimeout) // the command slot, then the response
	defer cancel()
	herr := c.call(ctx, &wire.CmdSystemHello{}, nil)
	if herr == nil || !errors.Is(herr, gogatt.ErrTimeout) {
		return err // answered, or the client stopped meanwhile
	}
	lost := fmt.Errorf("%w: neither %s nor system_hello got a response (the dongle was reset or taken over by another program on its port, or hangs)", ErrAdapterLost, name)
	c.log.Warn("bgapi: adapter lost", "err", lost)
	c.fail(lost)
	return fmt.Errorf("%s: %w", name, lost)
}

func (c *client) clearPending(p *pendingCmd) {
	c.mu.Lock()
	if c.pending == p {
		c.pending = nil
	}
	c.mu.Unlock()
}

func (c *client) closedErr(op string) error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err == nil {
		err = gogatt.ErrNotStarted
	}
	return fmt.Errorf("%s: %w", op, err)
}

// call sends m and decodes its response into rsp (nil: an empty response).
func (c *client) call(ctx context.Context, m wire.Message, rsp unmarshaler) error {
	resp, _, err := c.command(ctx, m, nil)
	if err != nil {
		return err
	}
	if rsp == nil {
		return nil
	}
	return decode(m.Name(), resp, rsp)
}

// check turns a command's non-zero result into an *Error.
func check(m wire.Message, r wire.Result) error {
	return resultError(m.Name(), m.Name(), -1, 0, r)
}

// endProcedure sends gap_end_procedure; wrong_state (nothing running, docs/bgapi-protocol.md
// §Start-up) is not an error.
func (c *client) endProcedure(ctx context.Context) error {
	m := &wire.CmdGapEndProcedure{}
	var r wire.RspGapEndProcedure
	if err := c.call(ctx, m, &r); err != nil {
		return err
	}
	if r.Result == wire.ResultWrongState {
		return nil
	}
	return check(m, r.Result)
}

// handleEvent routes one event. It runs on the reader goroutine: it never blocks and never
// calls user code. Payloads are decoded in place by package wire into c.evs (arrays alias the
// frame and are copied where kept), then dispatched on their type.
func (c *client) handleEvent(f wire.Frame) {
	m, err := c.evs.Decode(f)
	if err != nil {
		info, _ := wire.Lookup(wire.KindEvent, f.Class, f.ID)
		c.log.Debug("bgapi: malformed event dropped", "event", info.Name, "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch e := m.(type) {
	case *wire.EvtGapScanResponse:
		if s := c.scan; s != nil {
			s.push(scanEvent{rssi: e.RSSI, ptype: e.PacketType, addr: e.Sender, atype: e.AddressType, data: bytes.Clone(e.Data)})
		}
	case *wire.EvtConnectionStatus:
		c.connectionStatus(*e)
	case *wire.EvtConnectionDisconnected:
		c.disconnected(e.Connection, e.Reason)
	case *wire.EvtAttclientAttributeValue:
		if cn := c.connLocked(e.Connection, f); cn != nil {
			cn.attributeValue(*e)
		}
	case *wire.EvtAttclientProcedureCompleted:
		if cn := c.connLocked(e.Connection, f); cn != nil {
			cn.procedureCompleted(*e)
		}
	case *wire.EvtAttclientGroupFound:
		if cn := c.connLocked(e.Connection, f); cn != nil {
			if p := cn.startedLocked(); p != nil && p.kind == pkGroups {
				p.items = append(p.items, item{start: e.Start, end: e.End, uuid: bytes.Clone(e.UUID)})
			}
		}
	case *wire.EvtAttclientFindInformationFound:
		if cn := c.connLocked(e.Connection, f); cn != nil {
			if p := cn.startedLocked(); p != nil && p.kind == pkInfo {
				p.items = append(p.items, item{start: e.ChrHandle, uuid: bytes.Clone(e.UUID)})
			}
		}
	case *wire.EvtSmBondingFail:
		if cn := c.connLocked(e.Handle, f); cn != nil && cn.bond != nil {
			b := cn.bond
			cn.bond = nil
			b.finish(&Error{Command: e.Name(), Connection: int(cn.handle), Result: e.Result})
		}
	case *wire.EvtSmPasskeyRequest:
		if cn := c.connLocked(e.Handle, f); cn != nil {
			cn.passkeyRequested()
		}
	case *wire.EvtSmPasskeyDisplay:
		if cn := c.connLocked(e.Handle, f); cn != nil && c.display != nil {
			d, ctx, addr, pk := c.display, cn.pairingCtx(), cn.addr.String(), e.Passkey
			go d(ctx, addr, pk) // not counted in c.wg: Stop never waits for user code
		}
	case *wire.EvtSystemBoot:
		// The dongle restarted. Start's own reset may announce itself so (a module on a UART
		// sends system_boot; a BLED112 re-enumerates instead, and its port fails); afterwards it
		// means another program on the same port reset it: every connection, procedure and
		// setting of this client is gone.
		if c.live {
			err := fmt.Errorf("%w: the dongle restarted (system_boot): another program on its port may have reset it", ErrAdapterLost)
			c.log.Warn("bgapi: adapter lost", "err", err)
			c.failLocked(err)
		}
	case *wire.EvtSmBondStatus: // bond handle, key size, mitm, keys: nothing to route
	default:
		c.log.Debug("bgapi: event ignored", "event", m.Name(), "payload", f.Payload)
	}
}

// connLocked finds the connection an event is for (c.mu held).
func (c *client) connLocked(h uint8, f wire.Frame) *conn {
	cn := c.conns[h]
	if cn == nil {
		c.log.Debug("bgapi: event for unknown connection dropped", "class", f.Class, "id", f.ID, "connection", h)
	}
	return cn
}

// connectionStatus handles connection_status (docs/bgapi-protocol.md §Connections) under c.mu.
func (c *client) connectionStatus(e wire.EvtConnectionStatus) {
	h, addr, bond := e.Connection, e.Address, e.Bonding
	connected := e.Flags.Connected()
	if bond != wire.NoBond {
		c.bonds[addr] = bond
	} else if connected {
		delete(c.bonds, addr) // no bond (any more: another program may have deleted it)
	}
	if cn := c.conns[h]; cn != nil {
		if !connected {
			return
		}
		cn.bondHandle, cn.encrypted = bond, e.Flags.Encrypted()
		if b := cn.bond; b != nil && e.Flags.Encrypted() {
			cn.bond = nil
			b.finish(nil)
		}
		return
	}
	cw := c.connecting
	if cw == nil || !connected || cw.addr != addr || (cw.handle >= 0 && int(h) != cw.handle) {
		if connected && c.live { // free slots report flags 0 (system_get_connections)
			// A connection nobody waits for: a Connect gave up (its context ended) before the
			// dongle connected. Left alone it would hold a slot and the peer, which stops
			// advertising once connected, until Stop.
			c.log.Debug("bgapi: closing a connection nobody waits for", "connection", h, "address", addr)
			c.goLocked(func() { c.closeOrphan(h) })
		}
		return
	}
	cn := newConn(c, h, addr, cw.sink)
	cn.bondHandle, cn.encrypted = bond, e.Flags.Encrypted()
	c.conns[h] = cn
	cw.conn = cn
	c.connecting = nil
	close(cw.done)
}

// closeOrphan disconnects connection h, which the dongle made for a Connect that had already
// given up; it runs in the background, bounded by the command timeout.
func (c *client) closeOrphan(h uint8) {
	ctx, cancel := context.WithTimeout(c.stopCtx, 2*c.cmdTimeout) // the wait for the command slot, then the response
	defer cancel()
	m := &wire.CmdConnectionDisconnect{Connection: h}
	var r wire.RspConnectionDisconnect
	err := c.call(ctx, m, &r)
	if err == nil && r.Result != wire.ResultNotConnected {
		err = check(m, r.Result)
	}
	if err != nil {
		c.log.Warn("bgapi: closing a connection nobody waits for", "connection", h, "err", err)
	}
}

// disconnected handles connection_disconnected under c.mu: every pending operation of the
// connection fails at once with a *gogatt.DisconnectError.
func (c *client) disconnected(h uint8, reason wire.Result) {
	if cw := c.connecting; cw != nil && cw.handle == int(h) {
		cw.err = &Error{Command: "gap_connect_direct", Connection: int(h), Result: reason}
		c.connecting = nil
		close(cw.done)
	}
	cn := c.conns[h]
	if cn == nil {
		return
	}
	delete(c.conns, h)
	local := cn.localClose || reason == 0 || reason == wire.ResultConnectionTerminatedByLocalHost
	cn.endLocked(&gogatt.DisconnectError{Address: cn.addr.String(), Reason: disconnectReason(reason), Code: int(reason), Local: local})
}

// connectWait is a gap_connect_direct in progress.
type connectWait struct {
	addr   bt.Address
	sink   gattkit.Sink
	handle int // from the response; -1 until then
	done   chan struct{}
	conn   *conn
	err    error
}

// scanEvent is one gap_scan_response, with its data copied.
type scanEvent struct {
	rssi  int8
	ptype wire.ScanPacketType
	addr  bt.Address
	atype bt.AddressType
	data  []byte
}

// scanSink buffers scan responses for the scanning goroutine without ever blocking the reader.
type scanSink struct {
	mu     sync.Mutex
	buf    []scanEvent
	notify chan struct{} // buffered 1
}

func newScanSink() *scanSink { return &scanSink{notify: make(chan struct{}, 1)} }

func (s *scanSink) push(e scanEvent) {
	s.mu.Lock()
	s.buf = append(s.buf, e)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *scanSink) take(dst []scanEvent) []scanEvent {
	s.mu.Lock()
	dst = append(dst[:0], s.buf...)
	clear(s.buf)
	s.buf = s.buf[:0]
	s.mu.Unlock()
	return dst
}
