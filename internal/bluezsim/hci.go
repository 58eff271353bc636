package bluezsim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// HCI packet types and codes (Core v5.3 Vol 4 Part E §5.4, Vol 4 Part A §2).
const (
	hciCommandPkt = 0x01
	hciEventPkt   = 0x04

	evtCommandComplete = 0x0e
	evtCommandStatus   = 0x0f
	evtLEMeta          = 0x3e
	subevtAdvReport    = 0x02

	opReset             = 0x0c03 // Vol 4 Part E §7.3.2
	opLESetScanParams   = 0x200b // Vol 4 Part E §7.8.10
	opLESetScanEnable   = 0x200c // Vol 4 Part E §7.8.11
	statusOK            = 0x00
	statusUnknownCmd    = 0x01
	statusDisallowed    = 0x0c
	statusInvalidParams = 0x12

	// Advertising report event types (Vol 4 Part E §7.7.65.2).
	advInd        = 0x00
	advScanInd    = 0x02
	advNonconnInd = 0x03
	scanRsp       = 0x04
)

// hciDevFlags are the kernel's HCI_UP|HCI_RUNNING flags as returned by HCIGETDEVINFO.
const hciDevFlagsUp = 0x5

// hciFilter is the kernel's per-socket raw HCI filter (struct hci_filter): packet types,
// event codes and, optionally, the one opcode whose Command Complete/Status may pass.
type hciFilter struct {
	typeMask  uint32
	eventMask [2]uint32
	opcode    uint16
}

func parseFilter(b []byte) hciFilter {
	var f hciFilter
	if len(b) < 14 {
		return f
	}
	f.typeMask = binary.LittleEndian.Uint32(b[0:])
	f.eventMask[0] = binary.LittleEndian.Uint32(b[4:])
	f.eventMask[1] = binary.LittleEndian.Uint32(b[8:])
	f.opcode = binary.LittleEndian.Uint16(b[12:])
	return f
}

// passes applies the filter as the kernel does for raw sockets (net/bluetooth/hci_sock.c
// semantics): a packet (type byte first) passes if its type, event code and, for Command
// Complete/Status with a filter opcode, its opcode are selected. A zero filter passes nothing.
func (f hciFilter) passes(pkt []byte) bool {
	if len(pkt) < 2 || f.typeMask&(1<<(pkt[0]&31)) == 0 {
		return false
	}
	if pkt[0] != hciEventPkt {
		return true
	}
	evt := pkt[1] & 63
	if f.eventMask[evt>>5]&(1<<(evt&31)) == 0 {
		return false
	}
	if f.opcode == 0 {
		return true
	}
	switch {
	case evt == evtCommandComplete && len(pkt) >= 6:
		return binary.LittleEndian.Uint16(pkt[4:]) == f.opcode
	case evt == evtCommandStatus && len(pkt) >= 7:
		return binary.LittleEndian.Uint16(pkt[5:]) == f.opcode
	}
	return true
}

// hciSock is one raw HCI socket of a tool, bound to the simulated controller.
type hciSock struct {
	c      *net.UnixConn
	mu     sync.Mutex
	filter hciFilter
	out    chan []byte // events to the tool; full = dropped, like a full socket buffer
	done   chan struct{}
}

// controller simulates an LE controller behind hciN for hcitool: scan parameters and enable,
// advertising reports for every in-range peripheral at its advertising interval, duplicate
// filtering in the controller.
type controller struct {
	e  *Env
	ln *net.UnixListener
	wg sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	socks      map[*hciSock]struct{}
	scanType   uint8 // 0 passive, 1 active
	policy     uint8 // 0 all, 1 accept list only
	scanStop   chan struct{}
	filterDups bool
}

func startController(e *Env) (*controller, error) {
	if err := writeDevices(e, true); err != nil {
		return nil, err
	}
	path := filepath.Join(e.dir, "hci"+strconv.Itoa(e.hciIndex))
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("bluezsim: HCI controller: %w", err)
	}
	c := &controller{e: e, ln: ln, socks: make(map[*hciSock]struct{}), scanType: 1}
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

// writeDevices (re)writes the controller list the shim answers HCIGETDEVLIST/HCIGETDEVINFO
// from, atomically: "<index> <address> <flags>".
func writeDevices(e *Env, up bool) error {
	flags := 0
	if up {
		flags = hciDevFlagsUp
	}
	devs := fmt.Sprintf("%d %s %x\n", e.hciIndex, e.ctrlAddr, flags)
	tmp := filepath.Join(e.dir, "hci-devices.tmp")
	if err := os.WriteFile(tmp, []byte(devs), 0o644); err != nil {
		return fmt.Errorf("bluezsim: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(e.dir, "hci-devices")); err != nil {
		return fmt.Errorf("bluezsim: %w", err)
	}
	return nil
}

// powerOff stops scanning and drops every bound socket, as the kernel does when a controller
// goes down.
func (c *controller) powerOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopScanLocked()
	for s := range c.socks {
		s.c.Close()
	}
}

func (c *controller) accept() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.AcceptUnix()
		if err != nil {
			return
		}
		s := &hciSock{c: conn, out: make(chan []byte, 256), done: make(chan struct{})}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			conn.Close()
			return
		}
		c.socks[s] = struct{}{}
		c.mu.Unlock()
		c.wg.Add(2)
		go c.writer(s)
		go c.reader(s)
	}
}

func (c *controller) writer(s *hciSock) {
	defer c.wg.Done()
	for {
		select {
		case pkt := <-s.out:
			if _, err := s.c.Write(pkt); err != nil {
				return
			}
		case <-s.done:
			return
		}
	}
}

func (c *controller) reader(s *hciSock) {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		delete(c.socks, s)
		c.mu.Unlock()
		close(s.done)
		s.c.Close()
	}()
	buf := make([]byte, 1024)
	for {
		n, err := s.c.Read(buf)
		if err != nil || n == 0 {
			return
		}
		m := buf[:n]
		if n > len(ctlMagic) && string(m[:len(ctlMagic)]) == ctlMagic {
			if m[len(ctlMagic)] == ctlFilter {
				s.mu.Lock()
				s.filter = parseFilter(m[len(ctlMagic)+1:])
				s.mu.Unlock()
			}
			continue
		}
		if m[0] != hciCommandPkt || n < 4 {
			continue
		}
		op := binary.LittleEndian.Uint16(m[1:])
		plen := int(m[3])
		params := m[4:]
		if len(params) > plen {
			params = params[:plen]
		}
		c.command(op, params)
	}
}

// broadcast delivers an event to every bound socket whose filter selects it and reports
// whether any did.
func (c *controller) broadcast(pkt []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	delivered := false
	for s := range c.socks {
		s.mu.Lock()
		ok := s.filter.passes(pkt)
		s.mu.Unlock()
		if !ok {
			continue
		}
		select {
		case s.out <- pkt:
			delivered = true
		default: // socket buffer full: the kernel drops too
		}
	}
	return delivered
}

func (c *controller) commandComplete(op uint16, status byte) {
	c.broadcast([]byte{hciEventPkt, evtCommandComplete, 4, 1, byte(op), byte(op >> 8), status})
}

func (c *controller) command(op uint16, p []byte) {
	switch op {
	case opReset:
		c.mu.Lock()
		c.stopScanLocked()
		c.mu.Unlock()
		c.commandComplete(op, statusOK)
	case opLESetScanParams:
		if len(p) < 7 {
			c.commandComplete(op, statusInvalidParams)
			return
		}
		c.mu.Lock()
		status := byte(statusOK)
		if c.scanStop != nil {
			// Parameters cannot change while scanning (Core v5.3 Vol 4 Part E §7.8.10).
			status = statusDisallowed
		} else {
			c.scanType, c.policy = p[0], p[6]
		}
		c.mu.Unlock()
		c.commandComplete(op, status)
	case opLESetScanEnable:
		if len(p) < 2 {
			c.commandComplete(op, statusInvalidParams)
			return
		}
		c.mu.Lock()
		if p[0] == 1 {
			c.filterDups = p[1] == 1
			if c.scanStop == nil && !c.closed {
				c.scanStop = make(chan struct{})
				c.wg.Add(1)
				go c.scan(c.scanStop, c.scanType == 1, c.filterDups, c.policy)
			}
		} else {
			c.stopScanLocked()
		}
		c.mu.Unlock()
		c.commandComplete(op, statusOK)
	default:
		c.commandComplete(op, statusUnknownCmd)
	}
}

func (c *controller) stopScanLocked() {
	if c.scanStop != nil {
		close(c.scanStop)
		c.scanStop = nil
	}
}

// scanning reports whether the controller is scanning (left on by a killed hcitool).
func (c *controller) scanning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scanStop != nil
}

// scan emits advertising reports until stop is closed. Each in-range peripheral advertises
// every AdvertisingInterval plus advDelay (0–10 ms, Core v5.3 Vol 6 Part B §4.4.2.2); with
// duplicate filtering each (address, event type) is reported once per scan.
func (c *controller) scan(stop chan struct{}, active, filterDups bool, policy uint8) {
	defer c.wg.Done()
	type key struct {
		a bt.Address
		t byte
	}
	seen := make(map[key]bool)
	next := make(map[bt.Address]time.Time)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		wake := now.Add(200 * time.Millisecond) // picks up peripherals added meanwhile
		for _, p := range c.e.peripherals() {
			a := p.Address()
			t, ok := next[a]
			if !ok {
				// The scanner first hears a peripheral at its next advertising event, somewhere
				// in its interval after the scan starts (or after it comes into the list).
				t = now.Add(firstAdvDelay + time.Duration(rand.Int64N(int64(advInterval(p)))))
				next[a] = t
			}
			if !t.After(now) {
				if policy == 0 && p.InRange() { // the accept list is empty
					for _, r := range advReports(p, active) {
						k := key{a, r[5]}
						if filterDups && seen[k] {
							continue
						}
						// A filter change travels to the controller in-band, so its view lags
						// the kernel's; a report nobody took is not counted as reported, or
						// a scan would lose it for good under duplicate filtering.
						if c.broadcast(r) {
							seen[k] = true
						}
					}
				}
				t = now.Add(advInterval(p) + time.Duration(rand.Int64N(int64(10*time.Millisecond))))
				next[a] = t
			}
			if t.Before(wake) {
				wake = t
			}
		}
		timer.Reset(wake.Sub(now))
	}
}

// firstAdvDelay is the least time between enabling a scan and the first report (hcitool only
// selects LE Meta events after the enable's Command Complete).
const firstAdvDelay = 5 * time.Millisecond

// advInterval is p's advertising interval, at least the 20 ms minimum of Core v5.3 Vol 6
// Part B §4.4.2.2.
func advInterval(p *sim.Peripheral) time.Duration {
	return max(p.AdvertisingInterval(), 20*time.Millisecond)
}

// advReports returns the LE Advertising Report events (one report each) a scanner receives for
// one advertising event of p: the advertisement, plus the scan response when scanning actively.
func advReports(p *sim.Peripheral, active bool) [][]byte {
	addrType := byte(0)
	if p.AddressType() == bt.AddressRandom {
		addrType = 1
	}
	evType := byte(advNonconnInd)
	scanRspData := p.ScanResponseData()
	switch {
	case p.Connectable():
		evType = advInd
	case scanRspData != nil:
		evType = advScanInd
	}
	rssi := p.SampleRSSI()
	reports := [][]byte{advReport(evType, addrType, p.Address(), p.AdvertisingData(), rssi)}
	if active && evType != advNonconnInd {
		reports = append(reports, advReport(scanRsp, addrType, p.Address(), scanRspData, rssi))
	}
	return reports
}

func advReport(evType, addrType byte, a bt.Address, data []byte, rssi int8) []byte {
	if len(data) > 31 {
		data = data[:31]
	}
	le := a.LE()
	pkt := []byte{hciEventPkt, evtLEMeta, 0, subevtAdvReport, 1, evType, addrType}
	pkt = append(pkt, le[:]...)
	pkt = append(pkt, byte(len(data)))
	pkt = append(pkt, data...)
	pkt = append(pkt, byte(rssi))
	pkt[2] = byte(len(pkt) - 3)
	return pkt
}

func (c *controller) close() {
	c.mu.Lock()
	c.closed = true
	c.stopScanLocked()
	for s := range c.socks {
		s.c.Close()
	}
	c.mu.Unlock()
	c.ln.Close()
	c.wg.Wait()
}
