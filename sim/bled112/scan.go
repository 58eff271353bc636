package bled112

import (
	"errors"
	"time"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// ---- gap_discover (docs/bgapi-protocol.md §Scanning) ----

type scanState struct {
	mode   uint8
	active bool
	dup    bool
	policy uint8
	seen   map[scanKey]bool
	stop   chan struct{}
}

type scanKey struct {
	addr bt.Address
	typ  wire.ScanPacketType
}

// startScanLocked starts reporting advertisements: each in-range peripheral at once, then at
// its advertising interval.
func (e *Emulator) startScanLocked(mode uint8) {
	st := &scanState{
		mode: mode, active: e.scanActive, dup: e.scanDup, policy: e.scanPolicy,
		seen: map[scanKey]bool{}, stop: make(chan struct{}),
	}
	e.scan = st
	periphs := append([]*sim.Peripheral(nil), e.periphs...)
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.scanLoop(st, periphs) }()
}

// stopScanLocked ends scanning; no scan response is emitted after it returns, because the
// scanner checks e.scan under e.mu before every event.
func (e *Emulator) stopScanLocked() {
	if e.scan != nil {
		close(e.scan.stop)
		e.scan = nil
	}
}

func (e *Emulator) scanLoop(st *scanState, periphs []*sim.Peripheral) {
	if len(periphs) == 0 {
		<-st.stop
		return
	}
	next := make([]time.Time, len(periphs))
	now := time.Now()
	for i := range next {
		next[i] = now
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-st.stop:
			return
		case <-timer.C:
		}
		now = time.Now()
		soonest := now.Add(time.Hour)
		for i, p := range periphs {
			if !next[i].After(now) {
				if !e.advertise(st, p) {
					return
				}
				iv := p.AdvertisingInterval()
				if iv <= 0 {
					iv = 100 * time.Millisecond
				}
				next[i] = now.Add(iv)
			}
			if next[i].Before(soonest) {
				soonest = next[i]
			}
		}
		timer.Reset(soonest.Sub(now))
	}
}

// adFlags returns the Flags AD structure's value (Core Supplement Part A §1.3), 0 if absent or
// if the payload is malformed before it.
func adFlags(ad []byte) uint8 {
	var flags uint8
	_ = adv.Walk(ad, func(f adv.Field) bool {
		if f.Type == adv.TypeFlags && len(f.Data) > 0 {
			flags = f.Data[0]
			return false
		}
		return true
	})
	return flags
}

// advertise emits the scan responses of one advertising event of p; false if scanning ended.
func (e *Emulator) advertise(st *scanState, p *sim.Peripheral) bool {
	if !p.InRange() {
		return true
	}
	ad := p.AdvertisingData()
	srsp := p.ScanResponseData()
	addr := p.Address()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.scan != st {
		return false
	}
	if st.policy == wire.ScanPolicyWhitelist {
		if _, ok := e.whitelist[addr]; !ok {
			return true
		}
	}
	flags := adFlags(ad)
	switch st.mode {
	case wire.DiscoverLimited:
		if flags&0x01 == 0 {
			return true
		}
	case wire.DiscoverGeneric:
		if flags&0x03 == 0 {
			return true
		}
	}
	pt := wire.PacketAdvNonconnInd
	switch {
	case p.Connectable():
		pt = wire.PacketAdvInd
	case srsp != nil:
		pt = wire.PacketAdvScanInd
	}
	bondH := e.bondOfLocked(addr)
	if !st.dup || !st.seen[scanKey{addr, pt}] {
		st.seen[scanKey{addr, pt}] = true
		e.emitLocked(&wire.EvtGapScanResponse{RSSI: p.SampleRSSI(), PacketType: pt, Sender: addr, AddressType: p.AddressType(), Bond: bondH, Data: ad})
	}
	if st.active && srsp != nil && pt != wire.PacketAdvNonconnInd {
		if !st.dup || !st.seen[scanKey{addr, wire.PacketScanRsp}] {
			st.seen[scanKey{addr, wire.PacketScanRsp}] = true
			e.emitLocked(&wire.EvtGapScanResponse{RSSI: p.SampleRSSI(), PacketType: wire.PacketScanRsp, Sender: addr, AddressType: p.AddressType(), Bond: bondH, Data: srsp})
		}
	}
	return true
}

// ---- gap_connect_direct / connect_selective (docs/bgapi-protocol.md §Connections) ----

type connectAttempt struct {
	handle                       uint8
	addr                         *bt.Address // nil: any whitelisted peripheral
	imin, imax, timeout, latency uint16
	stop                         chan struct{}
}

func (a *connectAttempt) cancel() { close(a.stop) }

func (e *Emulator) startConnectLocked(h uint8, addr *bt.Address, imin, imax, timeout, latency uint16) {
	a := &connectAttempt{handle: h, addr: addr, imin: imin, imax: imax, timeout: timeout, latency: latency, stop: make(chan struct{})}
	e.connecting = a
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.connectLoop(a) }()
}

func (e *Emulator) connectedLocked(a bt.Address) bool {
	for _, c := range e.conns {
		if c != nil && c.addr == a {
			return true
		}
	}
	return false
}

// candidates returns the peripherals the attempt may connect to.
func (e *Emulator) candidates(a *connectAttempt) []*sim.Peripheral {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*sim.Peripheral
	for _, p := range e.periphs {
		if e.connectedLocked(p.Address()) {
			continue // a connected peripheral does not advertise connectably to us
		}
		if a.addr != nil && p.Address() == *a.addr {
			out = append(out, p)
		}
		if a.addr == nil {
			if _, ok := e.whitelist[p.Address()]; ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// connectLoop initiates until a candidate accepts; while none is advertising it stays silent
// (retrying at the advertising interval) until gap_end_procedure cancels it.
func (e *Emulator) connectLoop(a *connectAttempt) {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-retry.C:
		}
		wait := 100 * time.Millisecond
		for _, p := range e.candidates(a) {
			if iv := p.AdvertisingInterval(); iv > 0 && iv < wait {
				wait = iv
			}
			if !p.InRange() || !p.Connectable() {
				continue
			}
			link, err := p.Connect(e.cfg.Address, bt.AddressPublic)
			if err != nil && (errors.Is(err, sim.ErrOutOfRange) || errors.Is(err, sim.ErrNotConnectable)) {
				continue
			}
			e.mu.Lock()
			if e.connecting != a {
				e.mu.Unlock()
				if link != nil {
					link.Close()
				}
				return
			}
			e.connecting = nil
			if err != nil {
				// CONNECT_REQ sent, the peripheral never answered (BLE SDK 1.x API reference
				// §5.11.2, connection_failed_to_be_established).
				e.emitLocked(&wire.EvtConnectionDisconnected{Connection: a.handle, Reason: wire.ResultConnectionFailedToBeEstablished})
				e.mu.Unlock()
				return
			}
			c := e.newConnLocked(a.handle, p, link, a.imin, a.imax, a.timeout, a.latency)
			e.emitLocked(c.status(wire.FlagCompleted))
			e.mu.Unlock()
			return
		}
		retry.Reset(wait)
	}
}
