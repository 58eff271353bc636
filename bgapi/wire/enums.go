package wire

// Enumerations and flag fields of the BLE SDK 1.x API reference (§5.x.2 of each class).

// ConnectionFlags is the flags field of connection_status (BLE SDK 1.x API reference §5.3.2,
// Connection Status Flags).
type ConnectionFlags uint8

// connection_status flag bits.
const (
	FlagConnected        ConnectionFlags = 0x01
	FlagEncrypted        ConnectionFlags = 0x02
	FlagCompleted        ConnectionFlags = 0x04 // the connection has just been created
	FlagParametersChange ConnectionFlags = 0x08
)

// Connected reports bit 0.
func (f ConnectionFlags) Connected() bool { return f&FlagConnected != 0 }

// Encrypted reports bit 1.
func (f ConnectionFlags) Encrypted() bool { return f&FlagEncrypted != 0 }

// AttValueType is the type field of attclient_attribute_value (BLE SDK 1.x API reference
// §5.1.2, Attribute Value Types; docs/bgapi-protocol.md §Attribute values).
type AttValueType uint8

// attclient_attribute_value types.
const (
	AttValueRead           AttValueType = 0 // result of read_by_handle
	AttValueNotify         AttValueType = 1 // notification
	AttValueIndicate       AttValueType = 2 // indication, already confirmed by the stack
	AttValueReadByType     AttValueType = 3 // one result of read_by_type
	AttValueReadBlob       AttValueType = 4 // a chunk of read_long
	AttValueIndicateRspReq AttValueType = 5 // indication waiting for attclient_indicate_confirm
)

// String names the type as the BGAPI enum does.
func (t AttValueType) String() string {
	switch t {
	case AttValueRead:
		return "read"
	case AttValueNotify:
		return "notify"
	case AttValueIndicate:
		return "indicate"
	case AttValueReadByType:
		return "read_by_type"
	case AttValueReadBlob:
		return "read_blob"
	case AttValueIndicateRspReq:
		return "indicate_rsp_req"
	}
	return "unknown"
}

// ScanPacketType is the packet_type of gap_scan_response (BLE SDK 1.x API reference §5.4.2,
// Scan header flags).
type ScanPacketType uint8

// gap_scan_response packet types.
const (
	PacketAdvInd        ScanPacketType = 0 // connectable undirected
	PacketAdvDirectInd  ScanPacketType = 1
	PacketAdvNonconnInd ScanPacketType = 2
	PacketScanReq       ScanPacketType = 3
	PacketScanRsp       ScanPacketType = 4
	PacketConnectReq    ScanPacketType = 5
	PacketAdvScanInd    ScanPacketType = 6 // scannable, not connectable
)

// DiscoverMode is gap_discover's mode (BLE SDK 1.x API reference §5.4.2, GAP Discover Mode).
const (
	DiscoverLimited     uint8 = 0
	DiscoverGeneric     uint8 = 1
	DiscoverObservation uint8 = 2
)

// gap_set_mode discoverable modes (BLE SDK 1.x API reference §5.4.2, GAP Discoverable Mode).
const (
	GapNonDiscoverable      uint8 = 0
	GapLimitedDiscoverable  uint8 = 1
	GapGeneralDiscoverable  uint8 = 2
	GapBroadcast            uint8 = 3
	GapUserData             uint8 = 4
	GapEnhancedBroadcasting uint8 = 0x80
)

// gap_set_mode connectable modes (BLE SDK 1.x API reference §5.4.2, GAP Connectable Mode; on
// the name of mode 3 see docs/bgapi-protocol.md §Message set).
const (
	GapNonConnectable          uint8 = 0
	GapDirectedConnectable     uint8 = 1
	GapUndirectedConnectable   uint8 = 2
	GapScannableNonConnectable uint8 = 3
)

// Advertising and scan policies (BLE SDK 1.x API reference §5.4.2).
const (
	AdvPolicyAll              uint8 = 0
	AdvPolicyWhitelistScan    uint8 = 1
	AdvPolicyWhitelistConnect uint8 = 2
	AdvPolicyWhitelistAll     uint8 = 3
	ScanPolicyAll             uint8 = 0
	ScanPolicyWhitelist       uint8 = 1
)

// Security manager IO capabilities (BLE SDK 1.x API reference §5.7.2; Core v5.3 Vol 3 Part H
// §2.3.2).
const (
	IODisplayOnly     uint8 = 0
	IODisplayYesNo    uint8 = 1
	IOKeyboardOnly    uint8 = 2
	IONoInputNoOutput uint8 = 3 // default
	IOKeyboardDisplay uint8 = 4
)

// Bond key bitmask of sm_bond_status.keys (BLE SDK 1.x API reference §5.7.2, Bonding Keys).
const (
	BondKeyLTK        uint8 = 0x01
	BondKeyAddrPublic uint8 = 0x02
	BondKeyAddrStatic uint8 = 0x04
	BondKeyIRK        uint8 = 0x08
	BondKeyEdivRand   uint8 = 0x10
	BondKeyCSRK       uint8 = 0x20
	BondKeyMasterID   uint8 = 0x40
)

// NoBond is the bonding / bond handle value meaning "no bond" (connection_status.bonding,
// gap_scan_response.bond) and, in sm_delete_bonding, "all bonds".
const NoBond uint8 = 0xFF

// Endpoints of system_endpoint_tx/rx (BLE SDK 1.x API reference §5.8.2).
const (
	EndpointAPI    uint8 = 0
	EndpointTest   uint8 = 1
	EndpointScript uint8 = 2
	EndpointUSB    uint8 = 3
	EndpointUART0  uint8 = 4
	EndpointUART1  uint8 = 5
)
