package bled112

import (
	"crypto/aes"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
)

// ErrReenumerated is returned by ServeConn when system_reset closed the port because
// Config.ReenumerateOnReset is set (the BLED112 drops off USB, docs/bgapi-protocol.md §Reset
// and re-enumeration).
var ErrReenumerated = errors.New("bled112: port re-enumerated after system_reset")

// maxReadMemory caps system_read_memory's data so its response payload stays below 256 bytes.
const maxReadMemory = 255 - 4 - 1

func (e *Emulator) connLocked(h uint8) *conn {
	if int(h) >= len(e.conns) {
		return nil
	}
	return e.conns[h]
}

// BGAPI 1.x command classes (BLE SDK 1.x API reference §5, one section a class).
const (
	classSystem     = 0
	classFlash      = 1
	classAttributes = 2
	classConnection = 3
	classAttclient  = 4
	classSM         = 5
	classGAP        = 6
	classDFU        = 9
)

// handleLocked executes one decoded command (BLE SDK 1.x API reference §5) by handing it to
// the method of its class. It returns ErrReenumerated when the port must vanish. e.mu is held.
func (e *Emulator) handleLocked(cmd wire.Command) error {
	switch cmd.Class() {
	case classSystem:
		return e.handleSystemLocked(cmd)
	case classFlash:
		e.handleFlashLocked(cmd)
	case classAttributes:
		e.handleAttributesLocked(cmd)
	case classConnection:
		e.handleConnectionLocked(cmd)
	case classAttclient:
		e.handleAttclientLocked(cmd)
	case classSM:
		e.handleSMLocked(cmd)
	case classGAP:
		e.handleGAPLocked(cmd)
	case classDFU:
		if _, ok := cmd.(*wire.CmdDfuReset); ok {
			return e.resetLocked()
		}
		e.zeroResponseLocked(cmd)
	default:
		// hardware and test: every command is answered with its zero response.
		e.zeroResponseLocked(cmd)
	}
	return nil
}

// handleSystemLocked executes a command of class 0, system (API reference §5.8).
func (e *Emulator) handleSystemLocked(cmd wire.Command) error {
	switch c := cmd.(type) {
	case *wire.CmdSystemReset:
		return e.resetLocked()
	case *wire.CmdSystemHello:
		e.emitLocked(&wire.RspSystemHello{})
	case *wire.CmdSystemAddressGet:
		e.emitLocked(&wire.RspSystemAddressGet{Address: e.cfg.Address})
	case *wire.CmdSystemGetInfo:
		info := e.cfg.Info
		e.emitLocked(&info)
	case *wire.CmdSystemGetCounters:
		e.emitLocked(&wire.RspSystemGetCounters{
			TxOK: uint8(min(e.txOK.Swap(0), 255)), TxRetry: 0,
			RxOK: uint8(min(e.rxOK.Swap(0), 255)), RxFail: 0, Mbuf: 24,
		})
	case *wire.CmdSystemGetConnections:
		// maxconn, then one connection_status per slot (flags 0 when free, as iotile's emulator
		// does; docs/bgapi-protocol.md §Connections).
		e.emitLocked(&wire.RspSystemGetConnections{MaxConn: uint8(len(e.conns))})
		for h, cn := range e.conns {
			if cn != nil {
				e.emitLocked(cn.status(0))
			} else {
				e.emitLocked(&wire.EvtConnectionStatus{Connection: uint8(h), Bonding: wire.NoBond})
			}
		}
	case *wire.CmdSystemWhitelistAppend:
		r := wire.ResultSuccess
		switch {
		case e.scan != nil || e.connecting != nil:
			r = wire.ResultWrongState
		case c.AddressType > 1:
			r = wire.ResultInvalidParam
		default:
			e.whitelist[c.Address] = c.AddressType
		}
		e.emitLocked(&wire.RspSystemWhitelistAppend{Result: r})
	case *wire.CmdSystemWhitelistRemove:
		r := wire.ResultSuccess
		if e.scan != nil || e.connecting != nil {
			r = wire.ResultWrongState
		} else {
			delete(e.whitelist, c.Address)
		}
		e.emitLocked(&wire.RspSystemWhitelistRemove{Result: r})
	case *wire.CmdSystemWhitelistClear:
		clear(e.whitelist)
		e.emitLocked(&wire.RspSystemWhitelistClear{})
	case *wire.CmdSystemAesSetkey:
		if len(c.Key) == 16 {
			e.aesKey = append([]byte(nil), c.Key...)
		} else {
			e.aesKey = nil
		}
		e.emitLocked(&wire.RspSystemAesSetkey{})
	case *wire.CmdSystemAesEncrypt:
		e.emitLocked(&wire.RspSystemAesEncrypt{Data: e.aesLocked(c.Data, true)})
	case *wire.CmdSystemAesDecrypt:
		e.emitLocked(&wire.RspSystemAesDecrypt{Data: e.aesLocked(c.Data, false)})
	case *wire.CmdSystemReadMemory:
		// A BLED112 never sends a payload of 256 bytes or more (hosts resynchronise on start
		// bytes 0x00/0x80 only, docs/bgapi-protocol.md §Resynchronisation). The firmware's own
		// cap on read_memory is undocumented; the emulator returns at most 250 bytes so that
		// the response (address u32, u8 array) stays within 255.
		e.emitLocked(&wire.RspSystemReadMemory{Address: c.Address, Data: make([]byte, min(int(c.Length), maxReadMemory))})
	case *wire.CmdSystemRegRead:
		e.emitLocked(&wire.RspSystemRegRead{Address: c.Address})
	case *wire.CmdSystemEndpointRx:
		e.emitLocked(&wire.RspSystemEndpointRx{Data: nil})
	default:
		e.zeroResponseLocked(cmd)
	}
	return nil
}

// handleFlashLocked executes a command of class 1, flash (API reference §5.6): an in-memory
// persistent store.
func (e *Emulator) handleFlashLocked(cmd wire.Command) {
	switch c := cmd.(type) {
	case *wire.CmdFlashPsSave:
		r := wire.ResultSuccess
		if len(c.Value) > 32 {
			r = wire.ResultInvalidParam
		} else {
			e.ps[c.Key] = append([]byte(nil), c.Value...)
		}
		e.emitLocked(&wire.RspFlashPsSave{Result: r})
	case *wire.CmdFlashPsLoad:
		v, ok := e.ps[c.Key]
		r := wire.ResultSuccess
		if !ok {
			r = wire.ResultInvalidParam
		}
		e.emitLocked(&wire.RspFlashPsLoad{Result: r, Value: v})
	case *wire.CmdFlashPsErase:
		delete(e.ps, c.Key)
		e.emitLocked(&wire.RspFlashPsErase{})
	case *wire.CmdFlashPsEraseAll:
		clear(e.ps)
		e.emitLocked(&wire.RspFlashPsEraseAll{})
	case *wire.CmdFlashPsDump:
		e.emitLocked(&wire.RspFlashPsDump{})
		for _, k := range slices.Sorted(maps.Keys(e.ps)) {
			e.emitLocked(&wire.EvtFlashPsKey{Key: k, Value: e.ps[k]})
		}
	default:
		e.zeroResponseLocked(cmd)
	}
}

// handleAttributesLocked executes a command of class 2, attributes: the dongle's own GATT
// database is empty.
func (e *Emulator) handleAttributesLocked(cmd wire.Command) {
	switch c := cmd.(type) {
	case *wire.CmdAttributesWrite:
		e.emitLocked(&wire.RspAttributesWrite{Result: wire.ResultATTInvalidHandle})
	case *wire.CmdAttributesRead:
		e.emitLocked(&wire.RspAttributesRead{Handle: c.Handle, Offset: c.Offset, Result: wire.ResultATTInvalidHandle})
	case *wire.CmdAttributesReadType:
		e.emitLocked(&wire.RspAttributesReadType{Handle: c.Handle, Result: wire.ResultATTInvalidHandle})
	case *wire.CmdAttributesSend:
		e.emitLocked(&wire.RspAttributesSend{Result: wire.ResultATTInvalidHandle})
	default:
		e.zeroResponseLocked(cmd)
	}
}

// handleConnectionLocked executes a command of class 3, connection (API reference §5.3).
func (e *Emulator) handleConnectionLocked(cmd wire.Command) {
	switch c := cmd.(type) {
	case *wire.CmdConnectionDisconnect:
		cn := e.connLocked(c.Connection)
		if cn == nil {
			e.emitLocked(&wire.RspConnectionDisconnect{Connection: c.Connection, Result: wire.ResultNotConnected})
			break
		}
		e.emitLocked(&wire.RspConnectionDisconnect{Connection: c.Connection})
		e.dropConnLocked(cn, e.cfg.DisconnectReason)
	case *wire.CmdConnectionGetRssi:
		var rssi int8
		if cn := e.connLocked(c.Connection); cn != nil {
			rssi = cn.link.RSSI()
		}
		e.emitLocked(&wire.RspConnectionGetRssi{Connection: c.Connection, RSSI: rssi})
	case *wire.CmdConnectionGetStatus:
		e.emitLocked(&wire.RspConnectionGetStatus{Connection: c.Connection})
		if cn := e.connLocked(c.Connection); cn != nil {
			e.emitLocked(cn.status(0))
		}
	case *wire.CmdConnectionUpdate:
		cn := e.connLocked(c.Connection)
		r := wire.ResultSuccess
		switch {
		case cn == nil:
			r = wire.ResultNotConnected
		case !validConnParams(c.IntervalMin, c.IntervalMax, c.Timeout, c.Latency):
			r = wire.ResultInvalidParam
		}
		e.emitLocked(&wire.RspConnectionUpdate{Connection: c.Connection, Result: r})
		if r == wire.ResultSuccess {
			cn.interval = e.pickInterval(c.IntervalMin, c.IntervalMax)
			cn.timeout, cn.latency = c.Timeout, c.Latency
			cn.link.SetSupervisionTimeout(time.Duration(c.Timeout) * 10 * time.Millisecond)
			e.emitLocked(cn.status(wire.FlagParametersChange))
		}
	case *wire.CmdConnectionVersionUpdate:
		cn := e.connLocked(c.Connection)
		if cn == nil {
			e.emitLocked(&wire.RspConnectionVersionUpdate{Connection: c.Connection, Result: wire.ResultNotConnected})
			break
		}
		e.emitLocked(&wire.RspConnectionVersionUpdate{Connection: c.Connection})
		e.emitLocked(&wire.EvtConnectionVersionInd{Connection: c.Connection, VersNr: 6, CompID: 0x000F, SubVersNr: 0x0001})
	case *wire.CmdConnectionFeaturesGet:
		cn := e.connLocked(c.Connection)
		if cn == nil {
			e.emitLocked(&wire.RspConnectionFeaturesGet{Connection: c.Connection, Result: wire.ResultNotConnected})
			break
		}
		e.emitLocked(&wire.RspConnectionFeaturesGet{Connection: c.Connection})
		e.emitLocked(&wire.EvtConnectionFeatureInd{Connection: c.Connection, Features: []byte{0x01, 0, 0, 0, 0, 0, 0, 0}})
	case *wire.CmdConnectionChannelMapGet:
		var m []byte
		if e.connLocked(c.Connection) != nil {
			m = []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x1F}
		}
		e.emitLocked(&wire.RspConnectionChannelMapGet{Connection: c.Connection, Map: m})
	case *wire.CmdConnectionChannelMapSet:
		r := wire.ResultSuccess
		if e.connLocked(c.Connection) == nil {
			r = wire.ResultNotConnected
		} else if len(c.Map) != 5 {
			r = wire.ResultInvalidParam
		}
		e.emitLocked(&wire.RspConnectionChannelMapSet{Connection: c.Connection, Result: r})
	case *wire.CmdConnectionRawTx:
		e.emitLocked(&wire.RspConnectionRawTx{Connection: c.Connection})
	default:
		e.zeroResponseLocked(cmd)
	}
}

// handleAttclientLocked executes a command of class 4, attclient (API reference §5.1;
// docs/bgapi-protocol.md §Procedures).
func (e *Emulator) handleAttclientLocked(cmd wire.Command) {
	switch c := cmd.(type) {
	case *wire.CmdAttclientFindByTypeValue:
		cn, r := e.beginLocked(c.Connection, c.Start <= c.End && c.Start != 0 && len(c.Value) <= 18)
		e.emitLocked(&wire.RspAttclientFindByTypeValue{Connection: c.Connection, Result: r})
		if r == 0 {
			start, end, typ, val := c.Start, c.End, c.UUID, c.Value
			cn.startProc(func() { cn.procFindByTypeValue(start, end, typ, val) })
		}
	case *wire.CmdAttclientReadByGroupType:
		u, ok := uuidFromWire(c.UUID)
		cn, r := e.beginLocked(c.Connection, ok && c.Start <= c.End && c.Start != 0)
		e.emitLocked(&wire.RspAttclientReadByGroupType{Connection: c.Connection, Result: r})
		if r == 0 {
			start, end := c.Start, c.End
			cn.startProc(func() { cn.procReadByGroupType(start, end, u) })
		}
	case *wire.CmdAttclientReadByType:
		u, ok := uuidFromWire(c.UUID)
		cn, r := e.beginLocked(c.Connection, ok && c.Start <= c.End && c.Start != 0)
		e.emitLocked(&wire.RspAttclientReadByType{Connection: c.Connection, Result: r})
		if r == 0 {
			start, end := c.Start, c.End
			cn.startProc(func() { cn.procReadByType(start, end, u) })
		}
	case *wire.CmdAttclientFindInformation:
		cn, r := e.beginLocked(c.Connection, c.Start <= c.End && c.Start != 0)
		e.emitLocked(&wire.RspAttclientFindInformation{Connection: c.Connection, Result: r})
		if r == 0 {
			start, end := c.Start, c.End
			cn.startProc(func() { cn.procFindInformation(start, end) })
		}
	case *wire.CmdAttclientReadByHandle:
		cn, r := e.beginLocked(c.Connection, true)
		e.emitLocked(&wire.RspAttclientReadByHandle{Connection: c.Connection, Result: r})
		if r == 0 {
			h := c.Handle
			cn.startProc(func() { cn.procRead(h) })
		}
	case *wire.CmdAttclientReadLong:
		cn, r := e.beginLocked(c.Connection, true)
		e.emitLocked(&wire.RspAttclientReadLong{Connection: c.Connection, Result: r})
		if r == 0 {
			h := c.Handle
			cn.startProc(func() { cn.procReadLong(h) })
		}
	case *wire.CmdAttclientReadMultiple:
		n := len(c.Handles)
		cn, r := e.beginLocked(c.Connection, n >= 4 && n%2 == 0 && n <= 22)
		e.emitLocked(&wire.RspAttclientReadMultiple{Connection: c.Connection, Result: r})
		if r == 0 {
			hs := make([]uint16, 0, n/2)
			for i := 0; i < n; i += 2 {
				hs = append(hs, uint16(c.Handles[i])|uint16(c.Handles[i+1])<<8)
			}
			cn.startProc(func() { cn.procReadMultiple(hs) })
		}
	case *wire.CmdAttclientAttributeWrite:
		cn, r := e.beginLocked(c.Connection, len(c.Data) <= 20)
		e.emitLocked(&wire.RspAttclientAttributeWrite{Connection: c.Connection, Result: r})
		if r == 0 {
			h, v := c.Handle, c.Data
			cn.startProc(func() { cn.procWrite(h, v) })
		}
	case *wire.CmdAttclientPrepareWrite:
		cn, r := e.beginLocked(c.Connection, len(c.Data) <= 18)
		e.emitLocked(&wire.RspAttclientPrepareWrite{Connection: c.Connection, Result: r})
		if r == 0 {
			h, off, v := c.Handle, c.Offset, c.Data
			cn.startProc(func() { cn.procPrepareWrite(h, off, v) })
		}
	case *wire.CmdAttclientExecuteWrite:
		cn, r := e.beginLocked(c.Connection, c.Commit <= 1)
		e.emitLocked(&wire.RspAttclientExecuteWrite{Connection: c.Connection, Result: r})
		if r == 0 {
			commit := c.Commit
			cn.startProc(func() { cn.procExecuteWrite(commit) })
		}
	case *wire.CmdAttclientWriteCommand:
		// Not a procedure: queued for the air; 0x0182 when the TX queue is full.
		cn := e.connLocked(c.Connection)
		r := wire.ResultSuccess
		switch {
		case cn == nil:
			r = wire.ResultNotConnected
		case len(c.Data) > 20:
			r = wire.ResultInvalidParam
		case !cn.trySend(att.WriteCmd{Handle: c.Handle, Value: c.Data}.Append(nil)):
			r = wire.ResultOutOfMemory
		}
		e.emitLocked(&wire.RspAttclientWriteCommand{Connection: c.Connection, Result: r})
	case *wire.CmdAttclientIndicateConfirm:
		cn := e.connLocked(c.Connection)
		r := wire.ResultSuccess
		switch {
		case cn == nil:
			r = wire.ResultNotConnected
		case !cn.indPending:
			r = wire.ResultWrongState
		case !cn.trySend(att.HandleValueCfm{}.Append(nil)):
			r = wire.ResultOutOfMemory
		default:
			cn.indPending = false
		}
		e.emitLocked(&wire.RspAttclientIndicateConfirm{Result: r})
	default:
		e.zeroResponseLocked(cmd)
	}
}

// handleSMLocked executes a command of class 5, sm (API reference §5.7).
func (e *Emulator) handleSMLocked(cmd wire.Command) {
	switch c := cmd.(type) {
	case *wire.CmdSmSetBondableMode:
		e.bondable = c.Bondable != 0
		e.emitLocked(&wire.RspSmSetBondableMode{})
	case *wire.CmdSmSetParameters:
		e.mitm = c.MITM != 0
		if c.MinKeySize >= 7 && c.MinKeySize <= 16 {
			e.minKeySize = c.MinKeySize
		}
		if c.IOCapabilities <= wire.IOKeyboardDisplay {
			e.ioCaps = c.IOCapabilities
		}
		e.emitLocked(&wire.RspSmSetParameters{})
	case *wire.CmdSmEncryptStart:
		cn := e.connLocked(c.Handle)
		r := wire.ResultSuccess
		switch {
		case cn == nil:
			r = wire.ResultNotConnected
		case cn.pairing:
			r = wire.ResultWrongState
		}
		e.emitLocked(&wire.RspSmEncryptStart{Handle: c.Handle, Result: r})
		if r == 0 {
			cn.pairing = true
			bonding := c.Bonding != 0
			e.wg.Add(1)
			go func() { defer e.wg.Done(); cn.pair(bonding) }()
		}
	case *wire.CmdSmPasskeyEntry:
		cn := e.connLocked(c.Handle)
		r := wire.ResultSuccess
		switch {
		case cn == nil:
			r = wire.ResultNotConnected
		case c.Passkey > 999999:
			r = wire.ResultInvalidParam
		case !cn.awaitPasskey:
			r = wire.ResultWrongState
		default:
			cn.awaitPasskey = false
			cn.passkey <- c.Passkey
		}
		e.emitLocked(&wire.RspSmPasskeyEntry{Result: r})
	case *wire.CmdSmGetBonds:
		n := 0
		for _, b := range e.bonds {
			if b != nil {
				n++
			}
		}
		e.emitLocked(&wire.RspSmGetBonds{Bonds: uint8(n)})
		for i, b := range e.bonds {
			if b != nil {
				e.emitLocked(bondStatus(uint8(i), b))
			}
		}
	case *wire.CmdSmDeleteBonding:
		r := wire.ResultSuccess
		switch {
		case c.Handle == wire.NoBond:
			e.bonds = [MaxBonds]*bond{}
		case int(c.Handle) < MaxBonds && e.bonds[c.Handle] != nil:
			e.bonds[c.Handle] = nil
		default:
			r = wire.ResultInvalidParam
		}
		if r == 0 {
			for _, cn := range e.conns {
				if cn != nil && cn.bond != wire.NoBond && (c.Handle == wire.NoBond || c.Handle == cn.bond) {
					cn.bond = wire.NoBond
				}
			}
		}
		e.emitLocked(&wire.RspSmDeleteBonding{Result: r})
	case *wire.CmdSmSetOobData:
		e.emitLocked(&wire.RspSmSetOobData{})
	case *wire.CmdSmWhitelistBonds:
		n := 0
		for _, b := range e.bonds {
			if b != nil {
				e.whitelist[b.addr] = b.atype
				n++
			}
		}
		e.emitLocked(&wire.RspSmWhitelistBonds{Count: uint8(n)})
	default:
		e.zeroResponseLocked(cmd)
	}
}

// handleGAPLocked executes a command of class 6, gap (API reference §5.4).
func (e *Emulator) handleGAPLocked(cmd wire.Command) {
	switch c := cmd.(type) {
	case *wire.CmdGapSetMode:
		r := wire.ResultSuccess
		if c.Discover&^wire.GapEnhancedBroadcasting > wire.GapUserData || c.Connect > wire.GapScannableNonConnectable {
			r = wire.ResultInvalidParam
		}
		e.emitLocked(&wire.RspGapSetMode{Result: r})
	case *wire.CmdGapSetScanParameters:
		r := wire.ResultSuccess
		if c.ScanInterval < 4 || c.ScanInterval > 0x4000 || c.ScanWindow < 4 || c.ScanWindow > c.ScanInterval || c.Active > 1 {
			r = wire.ResultInvalidParam
		} else {
			e.scanActive = c.Active == 1
		}
		e.emitLocked(&wire.RspGapSetScanParameters{Result: r})
	case *wire.CmdGapSetFiltering:
		r := wire.ResultSuccess
		if c.ScanPolicy > 1 || c.AdvPolicy > 3 || c.ScanDuplicateFiltering > 1 {
			r = wire.ResultInvalidParam
		} else {
			e.scanPolicy = c.ScanPolicy
			e.scanDup = c.ScanDuplicateFiltering == 1
		}
		e.emitLocked(&wire.RspGapSetFiltering{Result: r})
	case *wire.CmdGapDiscover:
		r := wire.ResultSuccess
		switch {
		case c.Mode > wire.DiscoverObservation:
			r = wire.ResultInvalidParam
		case e.scan != nil || e.connecting != nil:
			r = wire.ResultWrongState
		}
		e.emitLocked(&wire.RspGapDiscover{Result: r})
		if r == 0 {
			e.startScanLocked(c.Mode)
		}
	case *wire.CmdGapEndProcedure:
		r := wire.ResultSuccess
		switch {
		case e.scan != nil:
			e.stopScanLocked()
		case e.connecting != nil:
			e.connecting.cancel()
			e.connecting = nil
		default:
			r = wire.ResultWrongState
		}
		e.emitLocked(&wire.RspGapEndProcedure{Result: r})
	case *wire.CmdGapConnectDirect:
		h, r := e.reserveLocked(c.ConnIntervalMin, c.ConnIntervalMax, c.Timeout, c.Latency, c.AddressType <= 1)
		e.emitLocked(&wire.RspGapConnectDirect{Result: r, ConnectionHandle: h})
		if r == 0 {
			addr := c.Address
			e.startConnectLocked(h, &addr, c.ConnIntervalMin, c.ConnIntervalMax, c.Timeout, c.Latency)
		}
	case *wire.CmdGapConnectSelective:
		h, r := e.reserveLocked(c.ConnIntervalMin, c.ConnIntervalMax, c.Timeout, c.Latency, true)
		if r == 0 && len(e.whitelist) == 0 {
			r = wire.ResultWrongState
		}
		e.emitLocked(&wire.RspGapConnectSelective{Result: r, ConnectionHandle: h})
		if r == 0 {
			e.startConnectLocked(h, nil, c.ConnIntervalMin, c.ConnIntervalMax, c.Timeout, c.Latency)
		}
	case *wire.CmdGapSetAdvParameters:
		r := wire.ResultSuccess
		if c.AdvIntervalMin < 0x20 || c.AdvIntervalMax > 0x4000 || c.AdvIntervalMin > c.AdvIntervalMax || c.AdvChannels == 0 || c.AdvChannels > 7 {
			r = wire.ResultInvalidParam
		}
		e.emitLocked(&wire.RspGapSetAdvParameters{Result: r})
	case *wire.CmdGapSetAdvData:
		r := wire.ResultSuccess
		if c.SetScanRsp > 1 || len(c.AdvData) > 31 {
			r = wire.ResultInvalidParam
		}
		e.emitLocked(&wire.RspGapSetAdvData{Result: r})
	default:
		e.zeroResponseLocked(cmd)
	}
}

// zeroResponseLocked answers a command the emulator gives no behaviour (hardware, test, the
// remaining system/gap/dfu ones) with its response with every field zero: result 0 = success.
func (e *Emulator) zeroResponseLocked(cmd wire.Command) {
	if m := wire.New(wire.KindResponse, cmd.Class(), cmd.ID()); m != nil {
		e.emitLocked(m)
	}
}

// resetLocked implements system_reset (docs/bgapi-protocol.md §Reset and re-enumeration): no
// response, no boot event over USB; every connection, procedure, scan, whitelist and the
// bondable mode are dropped, bonds survive.
func (e *Emulator) resetLocked() error {
	e.stopAllLocked()
	e.resetStateLocked()
	if e.cfg.ReenumerateOnReset {
		e.bootPending = e.cfg.SendBootEvent
		return ErrReenumerated
	}
	if e.cfg.SendBootEvent {
		e.emitBootLocked()
	}
	return nil
}

// beginLocked validates an attclient procedure command: 0x0186 if the connection is not
// open, 0x0180 if the parameters are invalid, 0x0181 if a procedure is already running
// (docs/bgapi-protocol.md §Procedures).
func (e *Emulator) beginLocked(h uint8, paramsOK bool) (*conn, wire.Result) {
	cn := e.connLocked(h)
	switch {
	case cn == nil:
		return nil, wire.ResultNotConnected
	case !paramsOK:
		return nil, wire.ResultInvalidParam
	case cn.busy:
		return nil, wire.ResultWrongState
	}
	return cn, wire.ResultSuccess
}

func validConnParams(imin, imax, timeout, latency uint16) bool {
	return imin >= 6 && imax <= 3200 && imin <= imax && timeout >= 10 && timeout <= 3200 && latency <= 500
}

// pickInterval chooses the connection interval like the stack does with several slots: the
// smallest interval in range divisible by maxconn × 2.5 ms (BLE SDK 1.x API reference,
// gap_connect_direct), else min.
func (e *Emulator) pickInterval(imin, imax uint16) uint16 {
	step := uint16(2 * len(e.conns))
	if len(e.conns) <= 1 {
		return imin
	}
	v := (imin + step - 1) / step * step
	if v > imax || v == 0 {
		return imin
	}
	return v
}

// reserveLocked validates a connect request and reserves a connection handle.
func (e *Emulator) reserveLocked(imin, imax, timeout, latency uint16, ok bool) (uint8, wire.Result) {
	if !ok || !validConnParams(imin, imax, timeout, latency) {
		return 0, wire.ResultInvalidParam
	}
	if e.connecting != nil || e.scan != nil {
		return 0, wire.ResultWrongState
	}
	for h, cn := range e.conns {
		if cn == nil {
			return uint8(h), wire.ResultSuccess
		}
	}
	return 0, wire.ResultConnectionLimitExceeded
}

func (e *Emulator) aesLocked(data []byte, encrypt bool) []byte {
	out := append([]byte(nil), data...)
	if e.aesKey == nil || len(data) != 16 {
		return out
	}
	blk, err := aes.NewCipher(e.aesKey)
	if err != nil {
		return out
	}
	if encrypt {
		blk.Encrypt(out, data)
	} else {
		blk.Decrypt(out, data)
	}
	return out
}

func bondStatus(h uint8, b *bond) *wire.EvtSmBondStatus {
	keys := wire.BondKeyLTK | wire.BondKeyEdivRand
	if b.atype == bt.AddressPublic {
		keys |= wire.BondKeyAddrPublic
	} else {
		keys |= wire.BondKeyAddrStatic
	}
	var mitm uint8
	if b.mitm {
		mitm = 1
	}
	return &wire.EvtSmBondStatus{Bond: h, KeySize: 16, MITM: mitm, Keys: keys}
}

func (e *Emulator) bondOfLocked(a bt.Address) uint8 {
	for i, b := range e.bonds {
		if b != nil && b.addr == a {
			return uint8(i)
		}
	}
	return wire.NoBond
}

func uuidFromWire(b []byte) (bt.UUID, bool) {
	if len(b) != 2 && len(b) != 16 {
		return bt.UUID{}, false
	}
	u, err := bt.UUIDFromLE(b)
	return u, err == nil
}
