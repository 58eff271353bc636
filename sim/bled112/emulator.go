package bled112

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// Defaults of a stock BLED112 (docs/bgapi-protocol.md §Connections, §Bonding,
// §Resynchronisation, §Procedures).
const (
	DefaultSlots                 = 3
	MaxSlots                     = 8
	MaxBonds                     = 8
	DefaultPartialCommandTimeout = time.Second
	DefaultATTTimeout            = 30 * time.Second
)

// DefaultAddress is the emulated dongle's public address when Config.Address is zero
// (00:07:80 is Bluegiga's OUI).
var defaultAddress = bt.Address{0x00, 0x07, 0x80, 0xB1, 0xED, 0x12}

// DefaultInfo is what system_get_info reports when Config.Info is zero: SDK 1.3.2 build 122,
// LL version 6 (Bluetooth 4.0), protocol version 1, hardware 1.
var defaultInfo = wire.RspSystemGetInfo{Major: 1, Minor: 3, Patch: 2, Build: 122, LLVersion: 6, ProtocolVersion: 1, HW: 1}

// ErrBusy is returned by ServeConn when another port is being served.
var ErrBusy = errors.New("bled112: a port is already being served")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("bled112: emulator closed")

// LinkModel paces ATT traffic like a real connection: at most PacketsPerEvent PDUs (in either
// direction) per ConnInterval on each connection.
//
// On a BLE link, central and peripheral exchange packets only in connection events, one every
// connection interval (7.5 ms to 4 s, Core v5.3 Vol 6 Part B §4.5.1), and a controller fits a
// few packets in each event. ATT allows one request outstanding per link (Vol 3 Part F §3.3.2),
// so a procedure of n requests needs at least ceil(2n / PacketsPerEvent) events: request
// counts, not host CPU, decide how long discovery or a long read takes. The model takes slots
// in order from the current event and waits for the next event when the current one is full;
// a link idle for a whole interval starts a new event at once (the model does not align events
// to a grid, so it is the floor of what a radio achieves). Notifications and write commands
// take slots like requests, which bounds their rate at PacketsPerEvent / ConnInterval.
// `gogatt sim --interval 7.5ms --per-event 4` serves the emulator with this model.
type LinkModel struct {
	// ConnInterval is the time between connection events (the connection's own interval, as
	// the host asked in connect_direct, is reported but does not pace the link).
	ConnInterval time.Duration
	// PacketsPerEvent is how many ATT PDUs (requests, responses, notifications, … in either
	// direction) fit in one connection event; at least 1.
	PacketsPerEvent int
}

// Config configures an Emulator. The zero value is a stock BLED112 with no peripherals.
type Config struct {
	// Peripherals are the sim peripherals "on the air".
	Peripherals []*sim.Peripheral
	// Slots is the number of connection slots: 0 means 3 (stock firmware), at most 8.
	Slots int
	// Address is the dongle's public address (system_address_get); zero means
	// 00:07:80:B1:ED:12.
	Address bt.Address
	// Info is the system_get_info response; zero means 1.3.2 build 122.
	Info wire.RspSystemGetInfo
	// ReenumerateOnReset makes system_reset close the port, as a BLED112 drops off USB; a PTY
	// then comes back at the same path (docs/bgapi-protocol.md §Reset and re-enumeration).
	ReenumerateOnReset bool
	// SendBootEvent emits system_boot after every reset, as a BLE112/BLE121LR module does over
	// UART; a BLED112 never sends it over USB (BLE SDK 1.x API reference, system_boot), hence
	// off by default. With ReenumerateOnReset the event is the first frame on the port that
	// comes back.
	SendBootEvent bool
	// ManualIndicationConfirm reports indications as attribute_value type 5 and waits for
	// attclient_indicate_confirm (docs/bgapi-protocol.md §Attribute values); default: confirmed
	// automatically (type 2).
	ManualIndicationConfirm bool
	// PartialCommandTimeout discards a partial command after this much silence (default 1 s;
	// negative disables).
	PartialCommandTimeout time.Duration
	// ATTTimeout ends a procedure whose server does not answer (default 30 s) with
	// procedure_completed 0x0185.
	ATTTimeout time.Duration
	// DisconnectReason is the reason of connection_disconnected after connection_disconnect;
	// zero means 0x0216 connection_terminated_by_local_host. Real firmware sends 0x0216 or 0
	// (which one is unverified, docs/bgapi-protocol.md §Connections); set ZeroDisconnectReason
	// for 0, as pygatt's mock does.
	DisconnectReason     wire.Result
	ZeroDisconnectReason bool
	// Logf, if set, receives diagnostic messages (never called under the emulator's lock).
	// ReenumerateDelay is how long the PTY stays absent after a re-enumerating reset
	// (default: it comes back at once).
	ReenumerateDelay time.Duration
	// Link, if set, paces ATT traffic; nil means as fast as possible.
	Link *LinkModel
	Logf func(format string, args ...any)
}

type bond struct {
	addr  bt.Address
	atype bt.AddressType
	mitm  bool
}

// Emulator is an emulated BLED112. It is safe for concurrent use. Create it with New and
// release it with Close.
type Emulator struct {
	cfg Config

	mu          sync.Mutex
	closed      bool
	periphs     []*sim.Peripheral
	conns       []*conn // index = connection handle; nil = free
	scan        *scanState
	connecting  *connectAttempt
	whitelist   map[bt.Address]bt.AddressType
	bondable    bool
	mitm        bool
	minKeySize  uint8
	ioCaps      uint8
	bonds       [MaxBonds]*bond
	ps          map[uint16][]byte
	aesKey      []byte
	scanActive  bool
	scanDup     bool
	scanPolicy  uint8
	sess        *session
	respDelay   time.Duration
	bootPending bool

	cur       atomic.Pointer[session] // the served port, readable without e.mu
	closeOnce sync.Once
	dropOut   atomic.Int64
	txOK      atomic.Uint32
	rxOK      atomic.Uint32
	requests  [256]atomic.Uint64 // ATT requests sent on the air, by opcode
	quit      chan struct{}
	wg        sync.WaitGroup
}

// New returns an emulator configured by c. It starts no goroutines until a port is served.
func New(c Config) (*Emulator, error) {
	if c.Slots == 0 {
		c.Slots = DefaultSlots
	}
	if c.Slots < 1 || c.Slots > MaxSlots {
		return nil, fmt.Errorf("bled112: %d connection slots, want 1..%d", c.Slots, MaxSlots)
	}
	if c.Address == (bt.Address{}) {
		c.Address = defaultAddress
	}
	if c.Info == (wire.RspSystemGetInfo{}) {
		c.Info = defaultInfo
	}
	if c.PartialCommandTimeout == 0 {
		c.PartialCommandTimeout = DefaultPartialCommandTimeout
	}
	if c.ATTTimeout <= 0 {
		c.ATTTimeout = DefaultATTTimeout
	}
	switch {
	case c.ZeroDisconnectReason:
		c.DisconnectReason = 0
	case c.DisconnectReason == 0:
		c.DisconnectReason = wire.ResultConnectionTerminatedByLocalHost
	}
	if c.Link != nil && (c.Link.ConnInterval <= 0 || c.Link.PacketsPerEvent <= 0) {
		return nil, fmt.Errorf("bled112: link model needs a positive interval and packet count")
	}
	for i, p := range c.Peripherals {
		if p == nil {
			return nil, fmt.Errorf("bled112: peripheral %d is nil", i)
		}
	}
	e := &Emulator{
		cfg:     c,
		periphs: append([]*sim.Peripheral(nil), c.Peripherals...),
		conns:   make([]*conn, c.Slots),
		quit:    make(chan struct{}),
	}
	e.resetStateLocked()
	e.ps = map[uint16][]byte{}
	return e, nil
}

// resetStateLocked puts the volatile state in its power-on values (bonds and the persistent
// store survive, docs/bgapi-protocol.md §Reset and re-enumeration).
func (e *Emulator) resetStateLocked() {
	e.whitelist = map[bt.Address]bt.AddressType{}
	e.bondable = false
	e.mitm = false
	e.minKeySize = 7
	e.ioCaps = wire.IONoInputNoOutput
	e.aesKey = nil
	e.scanActive = false
	e.scanDup = false
	e.scanPolicy = 0
}

// AddPeripheral puts another sim peripheral on the air.
func (e *Emulator) AddPeripheral(p *sim.Peripheral) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.periphs = append(e.periphs, p)
}

// Peripherals returns the sim peripherals on the air.
func (e *Emulator) Peripherals() []*sim.Peripheral {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*sim.Peripheral(nil), e.periphs...)
}

// Peripheral returns the sim peripheral with address a (for its fault hooks).
func (e *Emulator) Peripheral(a bt.Address) (*sim.Peripheral, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.periphs {
		if p.Address() == a {
			return p, true
		}
	}
	return nil, false
}

// Address returns the dongle's public address.
func (e *Emulator) Address() bt.Address { return e.cfg.Address }

// Slots returns the number of connection slots.
func (e *Emulator) Slots() int { return e.cfg.Slots }

// Bonds returns the addresses of the stored bonds, by bond handle (absent handles omitted).
func (e *Emulator) Bonds() []bt.Address {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []bt.Address
	for _, b := range e.bonds {
		if b != nil {
			out = append(out, b.addr)
		}
	}
	return out
}

// Connections returns the number of open connections.
func (e *Emulator) Connections() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.conns {
		if c != nil {
			n++
		}
	}
	return n
}

// SetResponseDelay delays every response (and so the events behind it) by d (fault hook). A
// command whose host closes its end during the delay is executed at once: nobody waits for it.
func (e *Emulator) SetResponseDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.respDelay = d
}

// Reset restarts the dongle as a system_reset sent by another program on the same port does
// (fault hook): connections, scan and settings are dropped without events, then — as
// Config says — the port vanishes and comes back (ReenumerateOnReset), or system_boot is sent
// (SendBootEvent), or nothing at all is said.
func (e *Emulator) Reset() {
	e.mu.Lock()
	err := e.resetLocked()
	s := e.sess
	e.mu.Unlock()
	if errors.Is(err, ErrReenumerated) && s != nil {
		s.end()
	}
}

// InjectGarbage writes b into the output stream between two frames (fault hook). It returns
// false if no port is being served.
func (e *Emulator) InjectGarbage(b []byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sendRawLocked(append([]byte(nil), b...))
}

// ATTRequests returns how many ATT requests (Core v5.3 Vol 3 Part F §3.4: PDUs that expect a
// response) the emulated dongle has sent to its peripherals since New, by opcode, over every
// connection. Commands, confirmations and notifications are not counted. Tests take the
// difference of two snapshots to count the requests of one operation.
func (e *Emulator) ATTRequests() map[att.Opcode]uint64 {
	m := map[att.Opcode]uint64{}
	for op := range e.requests {
		if n := e.requests[op].Load(); n > 0 {
			m[att.Opcode(op)] = n
		}
	}
	return m
}

// DropOutput makes the next n output bytes vanish (fault hook), desynchronising the host's
// decoder.
func (e *Emulator) DropOutput(n int) { e.dropOut.Add(int64(n)) }

// Close disconnects every link, stops every procedure, ends the served port and waits for
// every goroutine the emulator started.
func (e *Emulator) Close() error {
	// Unblock first (without e.mu, which an emitter blocked on a full port may hold).
	e.closeOnce.Do(func() { close(e.quit) })
	if s := e.cur.Load(); s != nil {
		s.end()
	}
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		e.stopAllLocked()
	}
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

func (e *Emulator) emitBootLocked() {
	i := e.cfg.Info
	e.emitLocked(&wire.EvtSystemBoot{Major: i.Major, Minor: i.Minor, Patch: i.Patch, Build: i.Build,
		LLVersion: i.LLVersion, ProtocolVersion: i.ProtocolVersion, HW: i.HW})
}

// powerCycle drops the volatile state as a power loss does (bonds and the persistent store
// survive, docs/bgapi-protocol.md §Reset and re-enumeration).
func (e *Emulator) powerCycle() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopAllLocked()
	e.resetStateLocked()
}

// stopAllLocked ends scanning, connecting and every connection without events (reset/close).
func (e *Emulator) stopAllLocked() {
	e.stopScanLocked()
	if e.connecting != nil {
		e.connecting.cancel()
		e.connecting = nil
	}
	for h, c := range e.conns {
		if c != nil {
			e.conns[h] = nil
			c.teardown()
		}
	}
}

func (e *Emulator) logf(format string, args ...any) {
	if e.cfg.Logf != nil {
		e.cfg.Logf(format, args...)
	}
}

// ---- sessions (one served port) ----

type session struct {
	rwc  io.ReadWriteCloser
	out  chan []byte
	done chan struct{} // closed when the session ends (end)
	gone chan struct{} // closed once ServeConn has finished with it: the port is free again
	eof  chan struct{} // closed by portReader when the port fails or the host closed its end
	once sync.Once
}

func (s *session) end() {
	s.once.Do(func() {
		close(s.done)
		s.rwc.Close()
	})
}

// emitLocked encodes m and queues it for the host. It blocks while the output queue is full
// (backpressure) and drops m if no port is served. e.mu must be held.
func (e *Emulator) emitLocked(m wire.Message) {
	if e.sess == nil {
		return
	}
	e.sendRawLocked(m.AppendFrame(make([]byte, 0, wire.HeaderLen+m.PayloadLen())))
}

func (e *Emulator) sendRawLocked(b []byte) bool {
	s := e.sess
	if s == nil {
		return false
	}
	select {
	case s.out <- b:
		return true
	case <-s.done:
		return false
	case <-e.quit:
		return false
	}
}

// ServeConn serves the BGAPI protocol on rwc until rwc fails or closes, the port is unplugged
// or re-enumerated, or the emulator is closed; it then closes rwc (whose Close must interrupt a
// pending Read, as it does for net.Conn, pipes and pollable files). Only one port is served at
// a time (ErrBusy; a port whose session has ended is waited for, not refused). It returns ErrReenumerated after a re-enumerating system_reset, ErrClosed
// after Close, io.EOF when the host closed its end.
func (e *Emulator) ServeConn(rwc io.ReadWriteCloser) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		rwc.Close()
		return ErrClosed
	}
	for e.sess != nil {
		// A session that has ended (the host closed its end, an unplug) is still being wound
		// down: a host that reopens the port at once waits for that, as it would for a
		// dongle's driver to release the device, instead of being refused.
		old := e.sess
		select {
		case <-old.done:
		default:
			e.mu.Unlock()
			return ErrBusy
		}
		e.mu.Unlock()
		select {
		case <-old.gone:
		case <-e.quit:
			rwc.Close()
			return ErrClosed
		}
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			rwc.Close()
			return ErrClosed
		}
	}
	s := &session{rwc: rwc, out: make(chan []byte, 256), done: make(chan struct{}), gone: make(chan struct{}), eof: make(chan struct{})}
	e.sess = s
	e.cur.Store(s)
	e.wg.Add(1)
	if e.bootPending {
		e.bootPending = false
		e.emitBootLocked()
	}
	e.mu.Unlock()
	defer e.wg.Done()

	chunks := make(chan []byte, 4)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.portReader(s, chunks) }()
	go func() { defer wg.Done(); e.portWriter(s) }()
	err := e.commandLoop(s, chunks)
	s.end()
	wg.Wait()
	e.mu.Lock()
	if e.sess == s {
		e.sess = nil
		e.cur.Store(nil)
	}
	close(s.gone)
	e.mu.Unlock()
	return err
}

func (e *Emulator) portReader(s *session, chunks chan<- []byte) {
	defer close(chunks)
	defer close(s.eof)
	buf := make([]byte, 4096)
	for {
		n, err := s.rwc.Read(buf)
		if n > 0 {
			select {
			case chunks <- append([]byte(nil), buf[:n]...):
			case <-s.done:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (e *Emulator) portWriter(s *session) {
	buf := make([]byte, 0, 8192)
	for {
		var b []byte
		select {
		case b = <-s.out:
		case <-s.done:
			return
		}
		buf = append(buf[:0], b...)
	coalesce:
		for len(buf) < 4096 {
			select {
			case b = <-s.out:
				buf = append(buf, b...)
			default:
				break coalesce
			}
		}
		w := buf
		if d := e.dropOut.Load(); d > 0 {
			n := min(int64(len(w)), d)
			e.dropOut.Add(-n)
			w = w[n:]
		}
		if len(w) == 0 {
			continue
		}
		if _, err := s.rwc.Write(w); err != nil {
			s.end()
			return
		}
	}
}

// commandLoop frames commands (leniently, as firmware does), applies the partial-command
// timeout and executes them in order.
func (e *Emulator) commandLoop(s *session, chunks <-chan []byte) error {
	p := wire.NewParser(wire.DecoderConfig{Direction: wire.FromHost, Lenient: true})
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var tc <-chan time.Time
		if p.Buffered() > 0 && e.cfg.PartialCommandTimeout > 0 {
			if timer == nil {
				timer = time.NewTimer(e.cfg.PartialCommandTimeout)
			} else {
				timer.Reset(e.cfg.PartialCommandTimeout)
			}
			tc = timer.C
		}
		select {
		case b, ok := <-chunks:
			if !ok {
				return io.EOF
			}
			p.Feed(b)
			for {
				f, ok := p.Next()
				if !ok {
					break
				}
				if err := e.execFrame(s, f); err != nil {
					if err == errSessionEnded {
						return nil
					}
					return err
				}
			}
		case <-tc:
			p.Reset()
			e.mu.Lock()
			e.emitLocked(&wire.EvtSystemProtocolError{Reason: wire.ResultTimeout})
			e.mu.Unlock()
		case <-s.done:
			return nil
		case <-e.quit:
			return ErrClosed
		}
		if timer != nil {
			timer.Stop() // Go ≥1.23 timers: no stale tick after Stop
		}
	}
}

var errSessionEnded = errors.New("bled112: session ended")

// execFrame decodes and executes one command frame; an error ends the session
// (ErrReenumerated after system_reset with re-enumeration).
func (e *Emulator) execFrame(s *session, f wire.Frame) error {
	cmd, err := wire.DecodeCommand(f)
	if err != nil {
		e.logf("bled112: bad command %d/%d (% X): %v", f.Class, f.ID, f.Payload, err)
	}
	e.mu.Lock()
	delay := e.respDelay
	e.mu.Unlock()
	if delay > 0 {
		// The delay is how long the host waits for the answer; once the host has closed its
		// end nobody waits, and the command is executed at once, so that the session ends
		// and the port is free for the next opener as soon as the commands it sent are done.
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.eof:
			t.Stop()
		case <-s.done:
			t.Stop()
			return errSessionEnded
		case <-e.quit:
			t.Stop()
			return ErrClosed
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.sess != s {
		return errSessionEnded
	}
	if err != nil {
		reason := wire.ResultInvalidParam
		if errors.Is(err, wire.ErrUnknownMessage) {
			reason = wire.ResultInvalidCommand
		}
		e.emitLocked(&wire.EvtSystemProtocolError{Reason: reason})
		return nil
	}
	return e.handleLocked(cmd)
}
