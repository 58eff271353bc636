package bled112

import (
	"testing"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

func TestSystemCommands(t *testing.T) {
	_, h, _ := setup(t, Config{})
	h.send(&wire.CmdSystemHello{})
	h.expectHex("00 00 00 01")
	h.send(&wire.CmdSystemAddressGet{})
	h.expectHex("00 06 00 02 12 ED B1 80 07 00")
	h.send(&wire.CmdSystemGetInfo{})
	h.expect(&wire.RspSystemGetInfo{Major: 1, Minor: 3, Patch: 2, Build: 122, LLVersion: 6, ProtocolVersion: 1, HW: 1})
	h.send(&wire.CmdSystemGetConnections{})
	h.expect(&wire.RspSystemGetConnections{MaxConn: 3},
		&wire.EvtConnectionStatus{Connection: 0, Bonding: 0xFF},
		&wire.EvtConnectionStatus{Connection: 1, Bonding: 0xFF},
		&wire.EvtConnectionStatus{Connection: 2, Bonding: 0xFF})
	h.send(&wire.CmdSystemGetCounters{})
	h.expect(&wire.RspSystemGetCounters{Mbuf: 24})
	// Start-up sequence of docs/bgapi-protocol.md §Start-up.
	h.send(&wire.CmdConnectionDisconnect{Connection: 0})
	h.expect(&wire.RspConnectionDisconnect{Connection: 0, Result: wire.ResultNotConnected})
	h.send(&wire.CmdGapSetMode{Discover: 0, Connect: 0})
	h.expect(&wire.RspGapSetMode{})
	h.send(&wire.CmdGapEndProcedure{})
	h.expect(&wire.RspGapEndProcedure{Result: wire.ResultWrongState})
	h.send(&wire.CmdSmSetBondableMode{Bondable: 0})
	h.expect(&wire.RspSmSetBondableMode{})
	// whitelist
	h.send(&wire.CmdSystemWhitelistAppend{Address: hrmAddr})
	h.expect(&wire.RspSystemWhitelistAppend{})
	h.send(&wire.CmdSystemWhitelistAppend{Address: hrmAddr, AddressType: 7})
	h.expect(&wire.RspSystemWhitelistAppend{Result: wire.ResultInvalidParam})
	h.send(&wire.CmdSystemWhitelistClear{})
	h.expect(&wire.RspSystemWhitelistClear{})
	// AES-128 (FIPS-197 appendix C.1 vector)
	key := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	pt := []byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	ct := []byte{0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a}
	h.send(&wire.CmdSystemAesSetkey{Key: key})
	h.expect(&wire.RspSystemAesSetkey{})
	h.send(&wire.CmdSystemAesEncrypt{Data: pt})
	h.expect(&wire.RspSystemAesEncrypt{Data: ct})
	h.send(&wire.CmdSystemAesDecrypt{Data: ct})
	h.expect(&wire.RspSystemAesDecrypt{Data: pt})
	// flash store
	h.send(&wire.CmdFlashPsSave{Key: 0x8000, Value: []byte{1, 2}})
	h.expect(&wire.RspFlashPsSave{})
	h.send(&wire.CmdFlashPsLoad{Key: 0x8000})
	h.expect(&wire.RspFlashPsLoad{Value: []byte{1, 2}})
	h.send(&wire.CmdFlashPsDump{})
	h.expect(&wire.RspFlashPsDump{}, &wire.EvtFlashPsKey{Key: 0x8000, Value: []byte{1, 2}})
	h.send(&wire.CmdFlashPsErase{Key: 0x8000})
	h.expect(&wire.RspFlashPsErase{})
	h.send(&wire.CmdFlashPsLoad{Key: 0x8000})
	h.expect(&wire.RspFlashPsLoad{Result: wire.ResultInvalidParam})
	// hardware: zero response
	h.send(&wire.CmdHardwareIoPortRead{Port: 0, Mask: 0xFF})
	h.expect(&wire.RspHardwareIoPortRead{})
	h.send(&wire.CmdHardwareSetTxpower{Power: 15})
	h.expect(&wire.RspHardwareSetTxpower{})
	h.send(&wire.CmdAttributesRead{Handle: 3})
	h.expect(&wire.RspAttributesRead{Handle: 3, Result: wire.ResultATTInvalidHandle})
}

func TestMalformedAndUnknownCommands(t *testing.T) {
	_, h, _ := setup(t, Config{})
	// Unknown (class, ID): no response, protocol error 0x0184.
	h.sendRaw([]byte{0x00, 0x01, 0x04, 0x30, 0x07})
	h.expect(&wire.EvtSystemProtocolError{Reason: wire.ResultInvalidCommand})
	// Known command with a wrong payload length: protocol error 0x0180.
	h.sendRaw([]byte{0x00, 0x02, 0x04, 0x04, 0x00, 0x01})
	h.expect(&wire.EvtSystemProtocolError{Reason: wire.ResultInvalidParam})
	// Event-type bytes and garbage from the host are skipped; the next command works.
	h.sendRaw([]byte{0x80, 0xFF, 0x13, 0x0A})
	h.quiet()
	// A uint8array whose prefix disagrees with the length: malformed.
	h.sendRaw([]byte{0x00, 0x06, 0x04, 0x05, 0x00, 0x13, 0x00, 0x05, 0x02, 0x00})
	h.expect(&wire.EvtSystemProtocolError{Reason: wire.ResultInvalidParam})
	h.quiet()
}

func TestPartialCommandTimeout(t *testing.T) {
	_, h, _ := setup(t, Config{PartialCommandTimeout: 20e6})
	h.sendRaw([]byte{0x00, 0x05, 0x04})
	h.expect(&wire.EvtSystemProtocolError{Reason: wire.ResultTimeout})
	h.quiet()
}

func TestResetDropsEverything(t *testing.T) {
	e, h, _ := setup(t, Config{})
	h.connect(hrmAddr, 0)
	h.send(&wire.CmdSystemReset{})
	// no response, no boot event: the next frame is hello's response
	h.quiet()
	if n := e.Connections(); n != 0 {
		t.Fatalf("%d connections after reset", n)
	}
	h.send(&wire.CmdGapEndProcedure{})
	h.expect(&wire.RspGapEndProcedure{Result: wire.ResultWrongState})
}

func TestDiscover(t *testing.T) {
	_, h, ps := setup(t, Config{})
	// passive: only advertising packets, one per peripheral first
	h.send(&wire.CmdGapSetFiltering{ScanDuplicateFiltering: 1})
	h.expect(&wire.RspGapSetFiltering{})
	h.send(&wire.CmdGapDiscover{Mode: wire.DiscoverObservation})
	h.expect(&wire.RspGapDiscover{})
	seen := map[bt.Address]bool{}
	for range ps {
		m := h.nextMsg()
		sr, ok := m.(*wire.EvtGapScanResponse)
		if !ok || sr.PacketType == wire.PacketScanRsp {
			t.Fatalf("got %#v", m)
		}
		seen[sr.Sender] = true
		if sr.Bond != wire.NoBond {
			t.Fatalf("bond %d", sr.Bond)
		}
	}
	if len(seen) != len(ps) {
		t.Fatalf("seen %v", seen)
	}
	h.send(&wire.CmdGapDiscover{Mode: 1})
	h.expect(&wire.RspGapDiscover{Result: wire.ResultWrongState})
	h.send(&wire.CmdGapEndProcedure{})
	h.expect(&wire.RspGapEndProcedure{})
	h.quiet()

	// active: scan responses (type 4) follow the advertisements of scannable peripherals.
	h.send(&wire.CmdGapSetScanParameters{ScanInterval: 0x4B, ScanWindow: 0x32, Active: 1})
	h.expect(&wire.RspGapSetScanParameters{})
	h.send(&wire.CmdGapDiscover{Mode: wire.DiscoverGeneric})
	h.expect(&wire.RspGapDiscover{})
	var rsp int
	for range 2 * len(ps) {
		if m := h.nextMsg().(*wire.EvtGapScanResponse); m.PacketType == wire.PacketScanRsp {
			rsp++
		}
	}
	if rsp == 0 {
		t.Fatal("no scan responses while scanning actively")
	}
	h.send(&wire.CmdGapEndProcedure{})
	if b := h.skipScan(); describe(b) != "response gap_end_procedure" || b[4] != 0 {
		t.Fatalf("% X", b)
	}
	h.quiet()
	h.send(&wire.CmdGapSetScanParameters{ScanInterval: 0x10, ScanWindow: 0x20})
	h.expect(&wire.RspGapSetScanParameters{Result: wire.ResultInvalidParam})
	h.send(&wire.CmdGapDiscover{Mode: 3})
	h.expect(&wire.RspGapDiscover{Result: wire.ResultInvalidParam})
}

func TestConnectDirect(t *testing.T) {
	_, h, _ := setup(t, Config{})
	// docs/bgapi-protocol.md §Worked frames: connect_direct and its connection_status for
	// handle 0.
	h.send(&wire.CmdGapConnectDirect{Address: hrmAddr, ConnIntervalMin: 60, ConnIntervalMax: 76, Timeout: 100})
	h.expect(&wire.RspGapConnectDirect{ConnectionHandle: 0},
		&wire.EvtConnectionStatus{Connection: 0, Flags: 0x05, Address: hrmAddr, ConnInterval: 60, Timeout: 100, Bonding: 0xFF})
	// connect while connecting is impossible to observe here (it completed); absent peer: silence.
	h.send(&wire.CmdGapConnectDirect{Address: absentAddr, ConnIntervalMin: 60, ConnIntervalMax: 76, Timeout: 100})
	h.expect(&wire.RspGapConnectDirect{ConnectionHandle: 1})
	h.send(&wire.CmdGapConnectDirect{Address: thermoAddr, ConnIntervalMin: 60, ConnIntervalMax: 76, Timeout: 100})
	h.expect(&wire.RspGapConnectDirect{Result: wire.ResultWrongState})
	h.quiet()
	h.send(&wire.CmdGapEndProcedure{})
	h.expect(&wire.RspGapEndProcedure{})
	h.send(&wire.CmdGapConnectDirect{Address: hrmAddr, ConnIntervalMin: 5, ConnIntervalMax: 76, Timeout: 100})
	h.expect(&wire.RspGapConnectDirect{Result: wire.ResultInvalidParam})
	// status, rssi, update
	h.send(&wire.CmdConnectionGetStatus{Connection: 0})
	h.expect(&wire.RspConnectionGetStatus{Connection: 0},
		&wire.EvtConnectionStatus{Connection: 0, Flags: 0x01, Address: hrmAddr, ConnInterval: 60, Timeout: 100, Bonding: 0xFF})
	h.send(&wire.CmdConnectionGetRssi{Connection: 0})
	if m := h.nextMsg().(*wire.RspConnectionGetRssi); m.RSSI >= 0 || m.RSSI < -110 {
		t.Fatalf("rssi %d", m.RSSI)
	}
	h.send(&wire.CmdConnectionUpdate{Connection: 0, IntervalMin: 6, IntervalMax: 12, Latency: 0, Timeout: 200})
	h.expect(&wire.RspConnectionUpdate{Connection: 0},
		&wire.EvtConnectionStatus{Connection: 0, Flags: 0x09, Address: hrmAddr, ConnInterval: 6, Timeout: 200, Bonding: 0xFF})
	h.send(&wire.CmdConnectionVersionUpdate{Connection: 0})
	h.expect(&wire.RspConnectionVersionUpdate{Connection: 0}, &wire.EvtConnectionVersionInd{Connection: 0, VersNr: 6, CompID: 0x000F, SubVersNr: 1})
	// disconnect → response, then connection_disconnected 0x0216
	h.send(&wire.CmdConnectionDisconnect{Connection: 0})
	h.expect(&wire.RspConnectionDisconnect{Connection: 0},
		&wire.EvtConnectionDisconnected{Connection: 0, Reason: wire.ResultConnectionTerminatedByLocalHost})
	h.send(&wire.CmdConnectionGetStatus{Connection: 0})
	h.expect(&wire.RspConnectionGetStatus{Connection: 0})
	h.quiet()
}

func TestConnectionSlots(t *testing.T) {
	hrm := sim.NewHeartRateSensor(hrmAddr, 1)
	a2 := bt.MustParseAddress("C0:FF:EE:00:01:02")
	ps := []*sim.Peripheral{hrm, sim.NewHeartRateSensor(a2, 2)}
	_, h, _ := setup(t, Config{Peripherals: ps, Slots: 1})
	h.connect(hrmAddr, 0)
	h.send(&wire.CmdGapConnectDirect{Address: a2, ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 100})
	h.expect(&wire.RspGapConnectDirect{Result: wire.ResultConnectionLimitExceeded})
	if _, err := New(Config{Slots: 9}); err == nil {
		t.Fatal("9 slots accepted")
	}
}

func TestConnectRefused(t *testing.T) {
	_, h, ps := setup(t, Config{})
	ps[0].SetRefuseConnections(true)
	h.send(&wire.CmdGapConnectDirect{Address: hrmAddr, ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 100})
	h.expect(&wire.RspGapConnectDirect{},
		&wire.EvtConnectionDisconnected{Connection: 0, Reason: wire.ResultConnectionFailedToBeEstablished})
	h.quiet()
}

func TestPeripheralDisconnects(t *testing.T) {
	e, h, _ := setup(t, Config{})
	h.connect(hrmAddr, 0)
	p, ok := e.Peripheral(hrmAddr)
	if !ok || len(e.Peripherals()) != 3 {
		t.Fatal("peripheral lookup")
	}
	if _, ok := e.Peripheral(absentAddr); ok {
		t.Fatal("absent peripheral found")
	}
	p.DisconnectAll()
	h.expect(&wire.EvtConnectionDisconnected{Connection: 0, Reason: wire.ResultRemoteUserTerminated})
}

// TestWorkedFramesThroughEmulator reproduces the remaining frames of docs/bgapi-protocol.md
// §Worked frames with a peripheral at AA:BB:CC:DD:EE:FF advertising only flags 0x06 at −60 dBm.
func TestWorkedFramesThroughEmulator(t *testing.T) {
	aa := bt.MustParseAddress("AA:BB:CC:DD:EE:FF")
	p := sim.NewBuilder(aa).RSSI(-60, 0).Advertise(adv.Data{HasFlags: true, Flags: 0x06}).MustBuild()
	_, h, _ := setup(t, Config{Peripherals: []*sim.Peripheral{p}})
	h.send(&wire.CmdGapDiscover{Mode: wire.DiscoverObservation})
	h.expect(&wire.RspGapDiscover{})
	h.expectHex("80 0E 06 00 C4 00 FF EE DD CC BB AA 00 FF 03 02 01 06")
	h.send(&wire.CmdGapEndProcedure{})
	if b := h.skipScan(); describe(b) != "response gap_end_procedure" {
		t.Fatalf("% X", b)
	}
	h.sendRaw([]byte{0x00, 0x0F, 0x06, 0x03, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x00, 0x3C, 0x00, 0x4C, 0x00, 0x64, 0x00, 0x00, 0x00})
	h.expectHex("00 03 06 03 00 00 00")
	h.expectHex("80 10 03 00 00 05 FF EE DD CC BB AA 00 3C 00 64 00 00 00 FF")
	h.sendRaw([]byte{0x00, 0x08, 0x04, 0x01, 0x00, 0x01, 0x00, 0xFF, 0xFF, 0x02, 0x00, 0x28})
	h.expectHex("00 03 04 01 00 00 00")
	evs, pc := h.collect()
	if pc.Result != 0 || len(evs) != 2 { // GAP and GATT services of a bare peripheral
		t.Fatalf("%d services, %v", len(evs), pc.Result)
	}
	// attribute_write to 0x0013 (no such handle here): procedure_completed 0x0401.
	h.sendRaw([]byte{0x00, 0x06, 0x04, 0x05, 0x00, 0x13, 0x00, 0x02, 0x02, 0x00})
	h.expectHex("00 03 04 05 00 00 00")
	h.expectHex("80 05 04 01 00 01 04 13 00")
	p.DisconnectAll()
	h.expectHex("80 03 03 04 00 13 02")
}

func TestBootEvent(t *testing.T) {
	_, h, _ := setup(t, Config{SendBootEvent: true})
	h.send(&wire.CmdSystemReset{})
	h.expect(&wire.EvtSystemBoot{Major: 1, Minor: 3, Patch: 2, Build: 122, LLVersion: 6, ProtocolVersion: 1, HW: 1})
	h.quiet()
}
