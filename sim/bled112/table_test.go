package bled112

import (
	"testing"

	"github.com/gogatt/gogatt/bgapi/wire"
)

// TestCommandTable: the response (and event) sequence of commands that need no peer, for
// success and failure, byte for byte.
func TestCommandTable(t *testing.T) {
	tests := []struct {
		name string
		cmd  wire.Message
		want []wire.Message
	}{
		{"set_mode ok", &wire.CmdGapSetMode{Discover: 2, Connect: 2}, []wire.Message{&wire.RspGapSetMode{}}},
		{"set_mode enhanced", &wire.CmdGapSetMode{Discover: 0x82, Connect: 3}, []wire.Message{&wire.RspGapSetMode{}}},
		{"set_mode bad", &wire.CmdGapSetMode{Discover: 5, Connect: 0}, []wire.Message{&wire.RspGapSetMode{Result: wire.ResultInvalidParam}}},
		{"set_mode bad connect", &wire.CmdGapSetMode{Discover: 0, Connect: 4}, []wire.Message{&wire.RspGapSetMode{Result: wire.ResultInvalidParam}}},
		{"set_filtering bad", &wire.CmdGapSetFiltering{ScanPolicy: 2}, []wire.Message{&wire.RspGapSetFiltering{Result: wire.ResultInvalidParam}}},
		{"set_scan_parameters window>interval", &wire.CmdGapSetScanParameters{ScanInterval: 0x20, ScanWindow: 0x21}, []wire.Message{&wire.RspGapSetScanParameters{Result: wire.ResultInvalidParam}}},
		{"set_adv_parameters ok", &wire.CmdGapSetAdvParameters{AdvIntervalMin: 0x200, AdvIntervalMax: 0x200, AdvChannels: 7}, []wire.Message{&wire.RspGapSetAdvParameters{}}},
		{"set_adv_parameters bad", &wire.CmdGapSetAdvParameters{AdvIntervalMin: 0x10, AdvIntervalMax: 0x200, AdvChannels: 7}, []wire.Message{&wire.RspGapSetAdvParameters{Result: wire.ResultInvalidParam}}},
		{"set_adv_data ok", &wire.CmdGapSetAdvData{AdvData: []byte{2, 1, 6}}, []wire.Message{&wire.RspGapSetAdvData{}}},
		{"set_adv_data too long", &wire.CmdGapSetAdvData{AdvData: make([]byte, 32)}, []wire.Message{&wire.RspGapSetAdvData{Result: wire.ResultInvalidParam}}},
		{"set_privacy_flags", &wire.CmdGapSetPrivacyFlags{}, []wire.Message{&wire.RspGapSetPrivacyFlags{}}},
		{"connect_selective empty whitelist", &wire.CmdGapConnectSelective{ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 100}, []wire.Message{&wire.RspGapConnectSelective{Result: wire.ResultWrongState}}},
		{"end_procedure idle", &wire.CmdGapEndProcedure{}, []wire.Message{&wire.RspGapEndProcedure{Result: wire.ResultWrongState}}},
		{"disconnect unused", &wire.CmdConnectionDisconnect{Connection: 2}, []wire.Message{&wire.RspConnectionDisconnect{Connection: 2, Result: wire.ResultNotConnected}}},
		{"get_rssi unused", &wire.CmdConnectionGetRssi{Connection: 1}, []wire.Message{&wire.RspConnectionGetRssi{Connection: 1}}},
		{"update unused", &wire.CmdConnectionUpdate{Connection: 1, IntervalMin: 6, IntervalMax: 6, Timeout: 100}, []wire.Message{&wire.RspConnectionUpdate{Connection: 1, Result: wire.ResultNotConnected}}},
		{"features_get unused", &wire.CmdConnectionFeaturesGet{Connection: 0}, []wire.Message{&wire.RspConnectionFeaturesGet{Result: wire.ResultNotConnected}}},
		{"version_update unused", &wire.CmdConnectionVersionUpdate{Connection: 0}, []wire.Message{&wire.RspConnectionVersionUpdate{Result: wire.ResultNotConnected}}},
		{"channel_map_get unused", &wire.CmdConnectionChannelMapGet{Connection: 0}, []wire.Message{&wire.RspConnectionChannelMapGet{}}},
		{"read_by_group_type unused", &wire.CmdAttclientReadByGroupType{Connection: 0, Start: 1, End: 0xFFFF, UUID: []byte{0, 0x28}}, []wire.Message{&wire.RspAttclientReadByGroupType{Result: wire.ResultNotConnected}}},
		{"read_by_type unused", &wire.CmdAttclientReadByType{Connection: 0, Start: 1, End: 0xFFFF, UUID: []byte{3, 0x28}}, []wire.Message{&wire.RspAttclientReadByType{Result: wire.ResultNotConnected}}},
		{"find_by_type_value unused", &wire.CmdAttclientFindByTypeValue{Start: 1, End: 2, UUID: 0x2800, Value: []byte{0x0D, 0x18}}, []wire.Message{&wire.RspAttclientFindByTypeValue{Result: wire.ResultNotConnected}}},
		{"read_long unused", &wire.CmdAttclientReadLong{Handle: 3}, []wire.Message{&wire.RspAttclientReadLong{Result: wire.ResultNotConnected}}},
		{"read_multiple unused", &wire.CmdAttclientReadMultiple{Handles: []byte{3, 0, 5, 0}}, []wire.Message{&wire.RspAttclientReadMultiple{Result: wire.ResultNotConnected}}},
		{"attribute_write unused", &wire.CmdAttclientAttributeWrite{Handle: 3, Data: []byte{1}}, []wire.Message{&wire.RspAttclientAttributeWrite{Result: wire.ResultNotConnected}}},
		{"write_command unused", &wire.CmdAttclientWriteCommand{Handle: 3, Data: []byte{1}}, []wire.Message{&wire.RspAttclientWriteCommand{Result: wire.ResultNotConnected}}},
		{"prepare_write unused", &wire.CmdAttclientPrepareWrite{Handle: 3, Data: []byte{1}}, []wire.Message{&wire.RspAttclientPrepareWrite{Result: wire.ResultNotConnected}}},
		{"execute_write unused", &wire.CmdAttclientExecuteWrite{Commit: 1}, []wire.Message{&wire.RspAttclientExecuteWrite{Result: wire.ResultNotConnected}}},
		{"passkey_entry unused", &wire.CmdSmPasskeyEntry{Handle: 0, Passkey: 1}, []wire.Message{&wire.RspSmPasskeyEntry{Result: wire.ResultNotConnected}}},
		{"set_oob_data", &wire.CmdSmSetOobData{OOB: make([]byte, 16)}, []wire.Message{&wire.RspSmSetOobData{}}},
		{"whitelist_bonds none", &wire.CmdSmWhitelistBonds{}, []wire.Message{&wire.RspSmWhitelistBonds{}}},
		{"get_bonds none", &wire.CmdSmGetBonds{}, []wire.Message{&wire.RspSmGetBonds{}}},
		{"delete_bonding all", &wire.CmdSmDeleteBonding{Handle: 0xFF}, []wire.Message{&wire.RspSmDeleteBonding{}}},
		{"delete_bonding absent", &wire.CmdSmDeleteBonding{Handle: 0}, []wire.Message{&wire.RspSmDeleteBonding{Result: wire.ResultInvalidParam}}},
		{"read_memory", &wire.CmdSystemReadMemory{Address: 0x8000, Length: 3}, []wire.Message{&wire.RspSystemReadMemory{Address: 0x8000, Data: []byte{0, 0, 0}}}},
		{"reg_read", &wire.CmdSystemRegRead{Address: 0x70}, []wire.Message{&wire.RspSystemRegRead{Address: 0x70}}},
		{"endpoint_tx", &wire.CmdSystemEndpointTx{Endpoint: 4, Data: []byte("x")}, []wire.Message{&wire.RspSystemEndpointTx{}}},
		{"dfu flash_set_address", &wire.CmdDfuFlashSetAddress{Address: 0x1000}, []wire.Message{&wire.RspDfuFlashSetAddress{}}},
		{"test phy_end", &wire.CmdTestPhyEnd{}, []wire.Message{&wire.RspTestPhyEnd{}}},
		{"attributes_write", &wire.CmdAttributesWrite{Handle: 3, Value: []byte{1}}, []wire.Message{&wire.RspAttributesWrite{Result: wire.ResultATTInvalidHandle}}},
	}
	_, h, _ := setup(t, Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			h.send(tc.cmd)
			h.expect(tc.want...)
		})
	}
	h.t = t
	h.quiet()
}

func TestConnectSelectiveAndChannelMap(t *testing.T) {
	_, h, _ := setup(t, Config{})
	h.send(&wire.CmdSystemWhitelistAppend{Address: thermoAddr})
	h.expect(&wire.RspSystemWhitelistAppend{})
	h.send(&wire.CmdGapConnectSelective{ConnIntervalMin: 60, ConnIntervalMax: 76, Timeout: 100})
	h.expect(&wire.RspGapConnectSelective{ConnectionHandle: 0},
		&wire.EvtConnectionStatus{Connection: 0, Flags: 0x05, Address: thermoAddr, ConnInterval: 60, Timeout: 100, Bonding: 0xFF})
	h.send(&wire.CmdConnectionChannelMapGet{Connection: 0})
	h.expect(&wire.RspConnectionChannelMapGet{Map: []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x1F}})
	h.send(&wire.CmdConnectionChannelMapSet{Connection: 0, Map: []byte{0xFF}})
	h.expect(&wire.RspConnectionChannelMapSet{Result: wire.ResultInvalidParam})
	h.send(&wire.CmdConnectionFeaturesGet{Connection: 0})
	h.expect(&wire.RspConnectionFeaturesGet{}, &wire.EvtConnectionFeatureInd{Features: []byte{1, 0, 0, 0, 0, 0, 0, 0}})
	h.send(&wire.CmdSystemGetConnections{})
	h.expect(&wire.RspSystemGetConnections{MaxConn: 3},
		&wire.EvtConnectionStatus{Connection: 0, Flags: 0x01, Address: thermoAddr, ConnInterval: 60, Timeout: 100, Bonding: 0xFF},
		&wire.EvtConnectionStatus{Connection: 1, Bonding: 0xFF},
		&wire.EvtConnectionStatus{Connection: 2, Bonding: 0xFF})
	// whitelist changes are refused while scanning
	h.send(&wire.CmdGapDiscover{Mode: 2})
	h.expect(&wire.RspGapDiscover{})
	h.send(&wire.CmdSystemWhitelistRemove{Address: thermoAddr})
	if b := h.skipScan(); describe(b) != "response system_whitelist_remove" || b[4] != 0x81 || b[5] != 0x01 {
		t.Fatalf("% X", b)
	}
	h.send(&wire.CmdGapEndProcedure{})
	h.skipScan()
	h.quiet()
	h.send(&wire.CmdAttclientReadByHandle{Handle: 0x03})
	h.expect(&wire.RspAttclientReadByHandle{},
		&wire.EvtAttclientAttributeValue{AttHandle: 3, Value: []byte("gogatt Thermo")})
	h.send(&wire.CmdSystemGetCounters{})
	if c := h.nextMsg().(*wire.RspSystemGetCounters); c.TxOK == 0 && c.RxOK == 0 {
		t.Fatalf("counters %+v", c)
	}
}
