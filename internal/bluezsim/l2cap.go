package bluezsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// BlueZ socket security levels (BT_SECURITY_*, set by gatttool's sec-level and by the ATT
// layer's automatic retries, change_security in src/shared/att.c of BlueZ 5.66).
const (
	btSecurityLow    = 1
	btSecurityMedium = 2
	btSecurityHigh   = 3
	btSecurityFIPS   = 4
)

// simLevel maps a BT_SECURITY level to the security a sim link needs to satisfy it:
// medium = encrypted (unauthenticated pairing), high/FIPS = authenticated (MITM) pairing.
func simLevel(btLevel uint8) sim.SecurityLevel {
	switch {
	case btLevel >= btSecurityHigh:
		return sim.SecurityAuthenticated
	case btLevel == btSecurityMedium:
		return sim.SecurityEncrypted
	}
	return sim.SecurityNone
}

// l2capSocketPath is where the shim connects gatttool's L2CAP socket for addr.
func l2capSocketPath(dir string, addr bt.Address) string {
	return filepath.Join(dir, "le-"+addr.String())
}

// peer is one simulated peripheral reachable through the shim.
type peer struct {
	p  *sim.Peripheral
	ln *net.UnixListener
}

// hello is the shim's first control message on a new L2CAP connection.
type hello struct {
	src, dst         bt.Address
	srcType, dstType uint8 // BDADDR_LE_PUBLIC = 1, BDADDR_LE_RANDOM = 2
	secLevel         uint8
}

func parseHello(m []byte) (hello, error) {
	var h hello
	if len(m) < len(ctlMagic)+1+15 || string(m[:len(ctlMagic)]) != ctlMagic || m[len(ctlMagic)] != ctlHello {
		return h, fmt.Errorf("bluezsim: expected the shim's hello, got % x", m)
	}
	b := m[len(ctlMagic)+1:]
	h.src = bt.AddressFromLE([6]byte(b[0:6]))
	h.srcType = b[6]
	h.dst = bt.AddressFromLE([6]byte(b[7:13]))
	h.dstType = b[13]
	h.secLevel = b[14]
	return h, nil
}

func connectReply(errno syscall.Errno, mtu uint16) []byte {
	m := make([]byte, 0, len(ctlMagic)+7)
	m = append(m, ctlMagic...)
	m = append(m, ctlConnect)
	m = binary.LittleEndian.AppendUint32(m, uint32(errno))
	return binary.LittleEndian.AppendUint16(m, mtu)
}

// connectErrno is what the kernel would report to gatttool for a failed LE connection.
func connectErrno(err error) syscall.Errno {
	switch {
	case errors.Is(err, sim.ErrOutOfRange):
		return syscall.EHOSTDOWN // Page Timeout / no answer (bt_to_errno 0x04)
	case errors.Is(err, sim.ErrPairingRefused):
		return syscall.EACCES // authentication failure (bt_to_errno 0x05)
	}
	return syscall.ECONNREFUSED
}

// addPeer starts the unix SOCK_SEQPACKET listener for p. Caller holds e.mu.
func (e *Env) addPeerLocked(p *sim.Peripheral) error {
	addr := p.Address()
	if _, dup := e.peers[addr]; dup {
		return fmt.Errorf("bluezsim: peripheral %s already added", addr)
	}
	path := l2capSocketPath(e.dir, addr)
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return fmt.Errorf("bluezsim: listening for %s: %w", addr, err)
	}
	pp := &peer{p: p, ln: ln}
	e.peers[addr] = pp
	e.wg.Add(1)
	go e.acceptL2CAP(pp)
	return nil
}

func (e *Env) acceptL2CAP(pp *peer) {
	defer e.wg.Done()
	for {
		c, err := pp.ln.AcceptUnix()
		if err != nil {
			return
		}
		if !e.track(c) {
			c.Close()
			return
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer e.untrack(c)
			e.serveL2CAP(pp, c)
		}()
	}
}

// serveL2CAP runs one gatttool connection: handshake, then relay between the socket and a
// sim.Link (one ATT PDU per message in both directions).
func (e *Env) serveL2CAP(pp *peer, c *net.UnixConn) {
	defer c.Close()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Time{})
	h, err := parseHello(buf[:n])
	if err != nil {
		e.logf("%v", err)
		return
	}
	p := pp.p
	wantType := uint8(1) // BDADDR_LE_PUBLIC
	if p.AddressType() == bt.AddressRandom {
		wantType = 2 // BDADDR_LE_RANDOM
	}
	// The controller connects at the peripheral's next connectable advertising event (Core
	// v5.3 Vol 6 Part B §4.5). While it is out of range, not connectable or advertising with
	// another address type, the attempt pends until the kernel's LE connection timeout; then
	// LE Create Connection Cancel completes with status 0x02, which the kernel reports as
	// ENOTCONN. gatttool may abort meanwhile (disconnect, exit): its socket closes.
	deadline := time.Now().Add(e.leConnTimeout)
	for h.dstType != wantType || !p.InRange() || !p.Connectable() {
		wait := time.Until(deadline)
		if wait <= 0 {
			c.Write(connectReply(syscall.ENOTCONN, 0))
			return
		}
		c.SetReadDeadline(time.Now().Add(min(wait, advInterval(p))))
		if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			return // aborted (or a protocol error)
		}
	}
	c.SetReadDeadline(time.Time{})
	link, err := p.Connect(e.ctrlAddr, bt.AddressPublic)
	if err == nil && h.secLevel >= btSecurityMedium {
		if err = e.secure(link, p, h.secLevel); err != nil {
			link.Close()
		}
	}
	if err != nil {
		e.logf("connect %s: %v", p.Address(), err)
		c.Write(connectReply(connectErrno(err), 0))
		return
	}
	if _, err := c.Write(connectReply(0, 23)); err != nil {
		link.Close()
		return
	}
	done := make(chan struct{})
	defer close(done)
	e.linkUp(p.Address(), link, done)
	defer e.linkDown(p.Address(), link)

	// Server → gatttool. On link loss (or any end of the link) close the socket so that
	// gatttool sees the hang-up, as with the kernel's L2CAP channel.
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		defer c.Close()
		for {
			pdu, err := link.ReadPDU()
			if err != nil {
				return
			}
			if _, err := c.Write(pdu); err != nil {
				return
			}
		}
	}()
	// gatttool → server, until gatttool closes its socket (disconnect) or the link ends; then
	// end the link (which ends the relay above) and wait for the relay.
	e.relayToServer(c, link, p, buf)
	link.Close()
	<-relayDone
}

func (e *Env) relayToServer(c *net.UnixConn, link *sim.Link, p *sim.Peripheral, buf []byte) {
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return
		}
		m := buf[:n]
		if len(m) > len(ctlMagic) && string(m[:len(ctlMagic)]) == ctlMagic {
			if m[len(ctlMagic)] == ctlSecurity && len(m) > len(ctlMagic)+1 {
				e.raiseSecurity(link, p, m[len(ctlMagic)+1])
			}
			continue
		}
		if err := link.WritePDU(append([]byte(nil), m...)); err != nil {
			return
		}
	}
}

// raiseSecurity applies a setsockopt(BT_SECURITY) made while connected. A failure leaves the
// link as it was: the ATT request that follows gets its security error again.
func (e *Env) raiseSecurity(link *sim.Link, p *sim.Peripheral, btLevel uint8) {
	if err := e.secure(link, p, btLevel); err != nil {
		e.logf("bluezsim: security level %d with %s: %v", btLevel, p.Address(), err)
	}
}

// secure brings link to the security a BT_SECURITY level asks for, as the kernel's SMP does
// with bluetoothd pairable: if both sides still hold a bond that is good enough the link is
// encrypted with its keys (Core v5.3 Vol 3 Part H §2.4.4.1), otherwise the devices pair and
// bond (Vol 3 Part H §2.3) and the bond is recorded in org.bluez.
func (e *Env) secure(link *sim.Link, p *sim.Peripheral, btLevel uint8) error {
	want := simLevel(btLevel)
	if want <= link.Security() {
		return nil
	}
	if lvl, ok := p.Bonded(e.ctrlAddr); ok && lvl >= want && slices.Contains(e.Bonds(), p.Address()) {
		return link.Encrypt()
	}
	if err := link.Pair(want, true); err != nil {
		return err
	}
	e.AddBond(p.Address())
	return nil
}

// activeLink is one gatttool connection, for Connected and for disconnecting it.
type activeLink struct {
	link *sim.Link
	done <-chan struct{} // closed when its relay has finished
}

func (e *Env) linkUp(a bt.Address, l *sim.Link, done <-chan struct{}) {
	e.mu.Lock()
	if e.links[a] == nil {
		e.links[a] = make(map[*sim.Link]activeLink)
	}
	e.links[a][l] = activeLink{l, done}
	first := len(e.links[a]) == 1
	e.mu.Unlock()
	if first && e.bus != nil {
		e.bus.setConnected(a, true)
	}
}

func (e *Env) linkDown(a bt.Address, l *sim.Link) {
	e.mu.Lock()
	delete(e.links[a], l)
	last := len(e.links[a]) == 0
	if last {
		delete(e.links, a)
	}
	e.mu.Unlock()
	if last && e.bus != nil {
		e.bus.setConnected(a, false)
	}
}

// connected reports whether a gatttool connection to a is up.
func (e *Env) connected(a bt.Address) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.links[a]) > 0
}

// disconnect ends every gatttool connection to a (the central disconnects: gatttool sees the
// link drop) and waits until they are down.
func (e *Env) disconnect(a bt.Address) {
	e.mu.Lock()
	var ls []activeLink
	for _, al := range e.links[a] {
		ls = append(ls, al)
	}
	e.mu.Unlock()
	for _, al := range ls {
		al.link.Close()
	}
	for _, al := range ls {
		<-al.done
	}
}
