package bgapi

import (
	"encoding/binary"
	"errors"
)

// msgID names one BGAPI 1.x message by class and id (bgapi-facts.md §2, §3).
type msgID struct {
	class, id uint8
	name      string
}

// Commands the client sends (bgapi-facts.md §2).
var (
	cmdSystemReset         = msgID{0, 0, "system_reset"}
	cmdSystemHello         = msgID{0, 1, "system_hello"}
	cmdSystemAddressGet    = msgID{0, 2, "system_address_get"}
	cmdSystemGetConnection = msgID{0, 6, "system_get_connections"}
	cmdConnDisconnect      = msgID{3, 0, "connection_disconnect"}
	cmdConnGetRSSI         = msgID{3, 1, "connection_get_rssi"}
	cmdReadByGroupType     = msgID{4, 1, "attclient_read_by_group_type"}
	cmdReadByType          = msgID{4, 2, "attclient_read_by_type"}
	cmdFindInformation     = msgID{4, 3, "attclient_find_information"}
	cmdReadByHandle        = msgID{4, 4, "attclient_read_by_handle"}
	cmdAttributeWrite      = msgID{4, 5, "attclient_attribute_write"}
	cmdWriteCommand        = msgID{4, 6, "attclient_write_command"}
	cmdIndicateConfirm     = msgID{4, 7, "attclient_indicate_confirm"}
	cmdReadLong            = msgID{4, 8, "attclient_read_long"}
	cmdPrepareWrite        = msgID{4, 9, "attclient_prepare_write"}
	cmdExecuteWrite        = msgID{4, 10, "attclient_execute_write"}
	cmdEncryptStart        = msgID{5, 0, "sm_encrypt_start"}
	cmdSetBondableMode     = msgID{5, 1, "sm_set_bondable_mode"}
	cmdDeleteBonding       = msgID{5, 2, "sm_delete_bonding"}
	cmdSMSetParameters     = msgID{5, 3, "sm_set_parameters"}
	cmdPasskeyEntry        = msgID{5, 4, "sm_passkey_entry"}
	cmdGAPSetMode          = msgID{6, 1, "gap_set_mode"}
	cmdGAPDiscover         = msgID{6, 2, "gap_discover"}
	cmdGAPConnectDirect    = msgID{6, 3, "gap_connect_direct"}
	cmdGAPEndProcedure     = msgID{6, 4, "gap_end_procedure"}
	cmdGAPSetFiltering     = msgID{6, 6, "gap_set_filtering"}
	cmdGAPSetScanParams    = msgID{6, 7, "gap_set_scan_parameters"}
)

// Event identities (bgapi-facts.md §3).
const (
	evSystem             = 0x00_00 // class 0, any id
	evConnectionStatus   = 0x03_00
	evDisconnected       = 0x03_04
	evProcedureCompleted = 0x04_01
	evGroupFound         = 0x04_02
	evFindInfoFound      = 0x04_04
	evAttributeValue     = 0x04_05
	evReadMultiple       = 0x04_06
	evBondingFail        = 0x05_01
	evPasskeyDisplay     = 0x05_02
	evPasskeyRequest     = 0x05_03
	evBondStatus         = 0x05_04
	evScanResponse       = 0x06_00
)

// attribute_value types (bgapi-facts.md §3, §5.6).
const (
	avRead           = 0
	avNotify         = 1
	avIndicate       = 2 // already confirmed by the stack
	avReadByType     = 3
	avReadBlob       = 4
	avIndicateRspReq = 5 // host must send attclient_indicate_confirm
)

// connection_status flags (bgapi-facts.md §3).
const (
	flagConnected  = 0x01
	flagEncrypted  = 0x02
	flagCompleted  = 0x04
	flagParameters = 0x08
)

var errShort = errors.New("bgapi: payload too short")

// rd is a bounds-checked little-endian payload reader: reading past the end sets err and
// yields zeros, so a short or corrupt payload never panics (pygatt weakness §6.5).
type rd struct {
	b   []byte
	err error
}

func (r *rd) need(n int) bool {
	if r.err != nil || len(r.b) < n {
		r.err = errShort
		return false
	}
	return true
}

func (r *rd) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *rd) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.LittleEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *rd) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *rd) addr() (a [6]byte) {
	if !r.need(6) {
		return a
	}
	copy(a[:], r.b)
	r.b = r.b[6:]
	return a
}

// array reads a uint8array: one length byte then exactly that many bytes, and it must be the
// last field (bgapi-facts.md §1.2; pygatt weakness §6.6 never checked the prefix).
func (r *rd) array() []byte {
	n := int(r.u8())
	if !r.need(n) {
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// wr builds command payloads.
type wr []byte

func (w wr) u8(v uint8) wr   { return append(w, v) }
func (w wr) u16(v uint16) wr { return binary.LittleEndian.AppendUint16(w, v) }
func (w wr) u32(v uint32) wr { return binary.LittleEndian.AppendUint32(w, v) }
func (w wr) array(v []byte) wr {
	w = append(w, uint8(len(v)))
	return append(w, v...)
}
