package bled112

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
)

// The heart-rate sensor's database (sim.NewHeartRateSensor): GAP 0x0001–0x0005, GATT
// 0x0006–0x0009, Heart Rate 0x000A–0x0011 (0x000C measurement, 0x000D CCCD, 0x000F body
// sensor location, 0x0011 control point), Battery 0x0012–0x0016 (0x0014 level, 0x0015 CCCD),
// Device Information 0x0017–0x0023.

func procDone(r wire.Result, h uint16) *wire.EvtAttclientProcedureCompleted {
	return &wire.EvtAttclientProcedureCompleted{Connection: 0, Result: r, ChrHandle: h}
}

func TestDiscoveryProcedures(t *testing.T) {
	_, h, _ := setup(t, Config{})
	h.connect(hrmAddr, 0)

	// docs/bgapi-protocol.md §Worked frames: read_by_group_type primary services.
	h.sendRaw([]byte{0x00, 0x08, 0x04, 0x01, 0x00, 0x01, 0x00, 0xFF, 0xFF, 0x02, 0x00, 0x28})
	h.expect(&wire.RspAttclientReadByGroupType{},
		&wire.EvtAttclientGroupFound{Start: 0x01, End: 0x05, UUID: []byte{0x00, 0x18}},
		&wire.EvtAttclientGroupFound{Start: 0x06, End: 0x09, UUID: []byte{0x01, 0x18}},
		&wire.EvtAttclientGroupFound{Start: 0x0A, End: 0x11, UUID: []byte{0x0D, 0x18}},
		&wire.EvtAttclientGroupFound{Start: 0x12, End: 0x16, UUID: []byte{0x0F, 0x18}},
		&wire.EvtAttclientGroupFound{Start: 0x17, End: 0x23, UUID: []byte{0x0A, 0x18}},
		procDone(0, 0xFFFF))

	h.send(&wire.CmdAttclientReadByType{Start: 0x0A, End: 0x11, UUID: []byte{0x03, 0x28}})
	h.expect(&wire.RspAttclientReadByType{},
		&wire.EvtAttclientAttributeValue{AttHandle: 0x0B, Type: wire.AttValueReadByType, Value: []byte{0x10, 0x0C, 0x00, 0x37, 0x2A}},
		&wire.EvtAttclientAttributeValue{AttHandle: 0x0E, Type: wire.AttValueReadByType, Value: []byte{0x02, 0x0F, 0x00, 0x38, 0x2A}},
		&wire.EvtAttclientAttributeValue{AttHandle: 0x10, Type: wire.AttValueReadByType, Value: []byte{0x08, 0x11, 0x00, 0x39, 0x2A}},
		procDone(0, 0x11))

	h.send(&wire.CmdAttclientFindInformation{Start: 0x0B, End: 0x0D})
	h.expect(&wire.RspAttclientFindInformation{},
		&wire.EvtAttclientFindInformationFound{ChrHandle: 0x0B, UUID: []byte{0x03, 0x28}},
		&wire.EvtAttclientFindInformationFound{ChrHandle: 0x0C, UUID: []byte{0x37, 0x2A}},
		&wire.EvtAttclientFindInformationFound{ChrHandle: 0x0D, UUID: []byte{0x02, 0x29}},
		procDone(0, 0x0D))

	h.send(&wire.CmdAttclientFindByTypeValue{Start: 1, End: 0xFFFF, UUID: 0x2800, Value: []byte{0x0D, 0x18}})
	h.expect(&wire.RspAttclientFindByTypeValue{},
		&wire.EvtAttclientGroupFound{Start: 0x0A, End: 0x11, UUID: []byte{0x0D, 0x18}},
		procDone(0, 0xFFFF))

	// Empty range: the server says Attribute Not Found at once → completed with 0.
	h.send(&wire.CmdAttclientFindInformation{Start: 0x30, End: 0x40})
	h.expect(&wire.RspAttclientFindInformation{}, procDone(0, 0x40))

	// Invalid parameters are refused in the response; no events.
	h.send(&wire.CmdAttclientReadByType{Start: 1, End: 0xFFFF, UUID: []byte{0x03}})
	h.expect(&wire.RspAttclientReadByType{Result: wire.ResultInvalidParam})
	h.send(&wire.CmdAttclientFindInformation{Start: 5, End: 1})
	h.expect(&wire.RspAttclientFindInformation{Result: wire.ResultInvalidParam})
	h.send(&wire.CmdAttclientFindInformation{Connection: 1, Start: 1, End: 2})
	h.expect(&wire.RspAttclientFindInformation{Connection: 1, Result: wire.ResultNotConnected})
	h.quiet()
}

func TestReadWriteProcedures(t *testing.T) {
	_, h, _ := setup(t, Config{})
	h.connect(hrmAddr, 0)

	// read_by_handle: one attribute_value type 0, no procedure_completed.
	h.send(&wire.CmdAttclientReadByHandle{Handle: 0x0F})
	h.expect(&wire.RspAttclientReadByHandle{},
		&wire.EvtAttclientAttributeValue{AttHandle: 0x0F, Type: wire.AttValueRead, Value: []byte{0x01}})
	h.send(&wire.CmdAttclientReadByHandle{Handle: 0x0003})
	h.expect(&wire.RspAttclientReadByHandle{},
		&wire.EvtAttclientAttributeValue{AttHandle: 0x03, Type: wire.AttValueRead, Value: []byte("gogatt HRM")})
	// failures: procedure_completed with the ATT error (worked frame for 0x0401)
	h.send(&wire.CmdAttclientReadByHandle{Handle: 0x0024})
	h.expect(&wire.RspAttclientReadByHandle{}, procDone(wire.ResultATTInvalidHandle, 0x24))
	h.send(&wire.CmdAttclientReadByHandle{Handle: 0x0011})
	h.expect(&wire.RspAttclientReadByHandle{}, procDone(wire.ResultATTReadNotPermitted, 0x11))

	// read_long: chunks of type 4, then completed.
	h.send(&wire.CmdAttclientReadLong{Handle: 0x23})
	h.expect(&wire.RspAttclientReadLong{},
		&wire.EvtAttclientAttributeValue{AttHandle: 0x23, Type: wire.AttValueReadBlob, Value: []byte("gogatt sim")},
		procDone(0, 0x23))

	// read_multiple → read_multiple_response.
	h.send(&wire.CmdAttclientReadMultiple{Handles: []byte{0x0F, 0x00, 0x1B, 0x00}})
	h.expect(&wire.RspAttclientReadMultiple{},
		&wire.EvtAttclientReadMultipleResponse{Handles: append([]byte{0x01}, "HRM-1"...)})
	h.send(&wire.CmdAttclientReadMultiple{Handles: []byte{0x0F, 0x00, 0x1B}})
	h.expect(&wire.RspAttclientReadMultiple{Result: wire.ResultInvalidParam})

	// attribute_write: completed 0, or the peer's application error 0x80 → 0x0480.
	h.send(&wire.CmdAttclientAttributeWrite{Handle: 0x11, Data: []byte{0x01}})
	h.expect(&wire.RspAttclientAttributeWrite{}, procDone(0, 0x11))
	h.send(&wire.CmdAttclientAttributeWrite{Handle: 0x11, Data: []byte{0x02}})
	h.expect(&wire.RspAttclientAttributeWrite{}, procDone(wire.ResultATTApplicationError, 0x11))
	h.send(&wire.CmdAttclientAttributeWrite{Handle: 0x0F, Data: []byte{0x02}})
	h.expect(&wire.RspAttclientAttributeWrite{}, procDone(wire.ResultATTWriteNotPermitted, 0x0F))
	h.send(&wire.CmdAttclientAttributeWrite{Handle: 0x11, Data: make([]byte, 21)})
	h.expect(&wire.RspAttclientAttributeWrite{Result: wire.ResultInvalidParam})

	// write_command: response only.
	h.send(&wire.CmdAttclientWriteCommand{Handle: 0x11, Data: []byte{0x01}})
	h.expect(&wire.RspAttclientWriteCommand{})

	// prepare_write + execute_write.
	h.send(&wire.CmdAttclientPrepareWrite{Handle: 0x11, Offset: 0, Data: []byte{0x01}})
	h.expect(&wire.RspAttclientPrepareWrite{}, procDone(0, 0x11))
	h.send(&wire.CmdAttclientExecuteWrite{Commit: 1})
	h.expect(&wire.RspAttclientExecuteWrite{}, procDone(0, 0))
	h.send(&wire.CmdAttclientExecuteWrite{Commit: 2})
	h.expect(&wire.RspAttclientExecuteWrite{Result: wire.ResultInvalidParam})

	// indicate_confirm without a pending indication.
	h.send(&wire.CmdAttclientIndicateConfirm{Connection: 0})
	h.expect(&wire.RspAttclientIndicateConfirm{Result: wire.ResultWrongState})
	h.send(&wire.CmdAttclientIndicateConfirm{Connection: 2})
	h.expect(&wire.RspAttclientIndicateConfirm{Result: wire.ResultNotConnected})
	h.quiet()
}

func TestOneProcedureAtATime(t *testing.T) {
	_, h, ps := setup(t, Config{ATTTimeout: 50 * time.Millisecond})
	h.connect(hrmAddr, 0)
	ps[0].SetUnresponsive(true)
	h.send(&wire.CmdAttclientReadByHandle{Handle: 0x0F})
	h.expect(&wire.RspAttclientReadByHandle{})
	h.send(&wire.CmdAttclientReadByHandle{Handle: 0x0F})
	h.expect(&wire.RspAttclientReadByHandle{Result: wire.ResultWrongState})
	h.send(&wire.CmdAttclientWriteCommand{Handle: 0x11, Data: []byte{1}}) // not a procedure
	h.expect(&wire.RspAttclientWriteCommand{})
	// the ATT transaction times out
	h.expect(procDone(wire.ResultTimeout, 0x0F))
	ps[0].SetUnresponsive(false)
	h.send(&wire.CmdAttclientReadByHandle{Handle: 0x0F})
	h.expect(&wire.RspAttclientReadByHandle{},
		&wire.EvtAttclientAttributeValue{AttHandle: 0x0F, Type: wire.AttValueRead, Value: []byte{0x01}})
}

func TestCorruptResponse(t *testing.T) {
	_, h, ps := setup(t, Config{})
	h.connect(hrmAddr, 0)
	ps[0].SetCorruptResponses(true)
	h.send(&wire.CmdAttclientReadByHandle{Handle: 0x0F})
	h.expect(&wire.RspAttclientReadByHandle{}, procDone(wire.ResultATTInvalidPDU, 0x0F))
}

func TestOutOfRangeMidProcedure(t *testing.T) {
	_, h, ps := setup(t, Config{})
	h.connectT(hrmAddr, 0, 10) // 100 ms supervision timeout
	ps[0].SetUnresponsive(true)
	h.send(&wire.CmdAttclientReadLong{Handle: 0x23})
	h.expect(&wire.RspAttclientReadLong{})
	ps[0].SetInRange(false)
	// link loss: connection_disconnected 0x0208 and never a procedure_completed
	h.expect(&wire.EvtConnectionDisconnected{Connection: 0, Reason: wire.ResultConnectionTimeout})
	h.quiet()
	// absent peripheral: connect_direct stays silent until end_procedure
	h.send(&wire.CmdGapConnectDirect{Address: hrmAddr, ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 10})
	h.expect(&wire.RspGapConnectDirect{})
	h.quiet()
	ps[0].SetUnresponsive(false)
	ps[0].SetInRange(true)
	// it comes back: the pending connect completes
	m := h.nextMsg()
	if st, ok := m.(*wire.EvtConnectionStatus); !ok || st.Flags != 0x05 {
		t.Fatalf("%#v", m)
	}
}

func TestNotificationsInOrder(t *testing.T) {
	_, h, ps := setup(t, Config{})
	h.connect(hrmAddr, 0)
	// worked-frame style: enable notifications on the battery level CCCD.
	h.send(&wire.CmdAttclientAttributeWrite{Handle: 0x15, Data: []byte{0x01, 0x00}})
	h.expect(&wire.RspAttclientAttributeWrite{}, procDone(0, 0x15))
	ps[0].Notify(0x14, []byte{0x01, 0x02})
	h.expectHex("80 07 04 05 00 14 00 01 02 01 02")

	const n = 3000
	stop := ps[0].StartGenerator(0x14, n, 0)
	defer stop()
	for i := range n {
		m := h.nextMsg()
		av, ok := m.(*wire.EvtAttclientAttributeValue)
		if !ok || av.Type != wire.AttValueNotify || av.AttHandle != 0x14 || len(av.Value) < 4 {
			t.Fatalf("event %d: %#v", i, m)
		}
		if seq := binary.LittleEndian.Uint32(av.Value); seq != uint32(i) {
			t.Fatalf("event %d has sequence %d", i, seq)
		}
	}
}

func TestIndications(t *testing.T) {
	for _, manual := range []bool{false, true} {
		t.Run(map[bool]string{false: "auto", true: "manual"}[manual], func(t *testing.T) {
			_, h, ps := setup(t, Config{ManualIndicationConfirm: manual})
			th := ps[1]
			ch, ok := th.Characteristic(bt.UUID16(0x2A1C))
			if !ok || ch.CCCDHandle == 0 {
				t.Fatal("no temperature measurement")
			}
			h.connect(thermoAddr, 0)
			h.send(&wire.CmdAttclientAttributeWrite{Handle: ch.CCCDHandle, Data: []byte{0x02, 0x00}})
			h.expect(&wire.RspAttclientAttributeWrite{}, procDone(0, ch.CCCDHandle))
			want := wire.AttValueIndicate
			if manual {
				want = wire.AttValueIndicateRspReq
			}
			var wg sync.WaitGroup
			defer wg.Wait()
			for i := range 2 {
				wg.Add(1)
				go func() { defer wg.Done(); th.Notify(ch.ValueHandle, []byte{0xAA, byte(i)}) }()
				m := h.nextMsg()
				av, ok := m.(*wire.EvtAttclientAttributeValue)
				if !ok || av.Type != want || av.AttHandle != ch.ValueHandle {
					t.Fatalf("%#v", m)
				}
				if manual {
					h.send(&wire.CmdAttclientIndicateConfirm{})
					// an indication may race the response; skip value events
					for {
						m := h.nextMsg()
						if r, ok := m.(*wire.RspAttclientIndicateConfirm); ok {
							if r.Result != 0 {
								t.Fatalf("confirm: %v", r.Result)
							}
							break
						}
					}
				}
			}
		})
	}
}

func TestSecurityManager(t *testing.T) {
	e, h, ps := setup(t, Config{})
	h.connect(hrmAddr, 0)
	h.send(&wire.CmdSmSetBondableMode{Bondable: 1})
	h.expect(&wire.RspSmSetBondableMode{})
	h.send(&wire.CmdSmEncryptStart{Handle: 0, Bonding: 1})
	h.expect(&wire.RspSmEncryptStart{Handle: 0},
		&wire.EvtSmBondStatus{Bond: 0, KeySize: 16, MITM: 0, Keys: 0x13},
		&wire.EvtConnectionStatus{Connection: 0, Flags: 0x03, Address: hrmAddr, ConnInterval: 6, Timeout: 100, Bonding: 0})
	h.send(&wire.CmdSmGetBonds{})
	h.expect(&wire.RspSmGetBonds{Bonds: 1}, &wire.EvtSmBondStatus{Bond: 0, KeySize: 16, Keys: 0x13})
	if b := e.Bonds(); len(b) != 1 || b[0] != hrmAddr {
		t.Fatalf("bonds %v", b)
	}
	h.send(&wire.CmdSmEncryptStart{Handle: 2, Bonding: 1})
	h.expect(&wire.RspSmEncryptStart{Handle: 2, Result: wire.ResultNotConnected})
	h.send(&wire.CmdSmDeleteBonding{Handle: 5})
	h.expect(&wire.RspSmDeleteBonding{Result: wire.ResultInvalidParam})
	h.send(&wire.CmdSmDeleteBonding{Handle: 0})
	h.expect(&wire.RspSmDeleteBonding{})
	h.send(&wire.CmdSmDeleteBonding{Handle: 0xFF})
	h.expect(&wire.RspSmDeleteBonding{})
	h.send(&wire.CmdSmGetBonds{})
	h.expect(&wire.RspSmGetBonds{Bonds: 0})

	// the peripheral refuses: sm_bonding_fail 0x0305
	h.connect(thermoAddr, 1)
	ps[1].SetRefusePairing(true)
	h.send(&wire.CmdSmEncryptStart{Handle: 1, Bonding: 1})
	h.expect(&wire.RspSmEncryptStart{Handle: 1}, &wire.EvtSmBondingFail{Handle: 1, Result: wire.ResultPairingNotSupported})
	ps[1].SetRefusePairing(false)

	// passkey entry: MITM with a keyboard
	h.send(&wire.CmdSmSetParameters{MITM: 1, MinKeySize: 16, IOCapabilities: wire.IOKeyboardOnly})
	h.expect(&wire.RspSmSetParameters{})
	h.send(&wire.CmdSmPasskeyEntry{Handle: 1, Passkey: 123456})
	h.expect(&wire.RspSmPasskeyEntry{Result: wire.ResultWrongState})
	h.send(&wire.CmdSmEncryptStart{Handle: 1, Bonding: 0})
	h.expect(&wire.RspSmEncryptStart{Handle: 1}, &wire.EvtSmPasskeyRequest{Handle: 1})
	h.send(&wire.CmdSmPasskeyEntry{Handle: 1, Passkey: 1000000})
	h.expect(&wire.RspSmPasskeyEntry{Result: wire.ResultInvalidParam})
	h.send(&wire.CmdSmPasskeyEntry{Handle: 1, Passkey: 123456})
	h.expect(&wire.RspSmPasskeyEntry{},
		&wire.EvtConnectionStatus{Connection: 1, Flags: 0x03, Address: thermoAddr, ConnInterval: 6, Timeout: 100, Bonding: 0xFF})

	// passkey display
	h.send(&wire.CmdSmSetParameters{MITM: 1, MinKeySize: 7, IOCapabilities: wire.IODisplayOnly})
	h.expect(&wire.RspSmSetParameters{})
	h.send(&wire.CmdSmEncryptStart{Handle: 0, Bonding: 1})
	h.expect(&wire.RspSmEncryptStart{Handle: 0}, &wire.EvtSmPasskeyDisplay{Handle: 0, Passkey: passkeyFor(hrmAddr)},
		&wire.EvtSmBondStatus{Bond: 0, KeySize: 16, MITM: 1, Keys: 0x13},
		&wire.EvtConnectionStatus{Connection: 0, Flags: 0x03, Address: hrmAddr, ConnInterval: 6, Timeout: 100, Bonding: 0})
	// bonds survive reset; a reconnect reports the bond handle
	h.send(&wire.CmdSystemReset{})
	h.quiet()
	h.send(&wire.CmdGapConnectDirect{Address: hrmAddr, ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 100})
	h.expect(&wire.RspGapConnectDirect{},
		&wire.EvtConnectionStatus{Connection: 0, Flags: 0x05, Address: hrmAddr, ConnInterval: 6, Timeout: 100, Bonding: 0})
}
