// Package adv parses and builds advertising data: the AD structures of Core Specification
// Supplement Part A, as carried in advertising and scan-response packets
// (Core v5.3 Vol 3 Part C §11). It is pure: no I/O, no state.
package adv

import "github.com/gogatt/gogatt/bt"

// PacketType says which advertising PDU a payload came from.
type PacketType uint8

// Advertising packet types (as BGAPI's gap_scan_response reports them; Core v5.3 Vol 6 Part B
// §2.3).
const (
	ConnectableUndirected PacketType = 0 // ADV_IND
	ConnectableDirected   PacketType = 1 // ADV_DIRECT_IND
	ScannableUndirected   PacketType = 2 // ADV_SCAN_IND
	NonConnectable        PacketType = 3 // ADV_NONCONN_IND
	ScanResponse          PacketType = 4 // SCAN_RSP
)

// Data is what a scanner learned from a device's advertising and scan-response packets,
// decoded from their AD structures and merged.
type Data struct {
	Flags            uint8                 `json:"flags,omitempty"`
	HasFlags         bool                  `json:"-"`
	LocalName        string                `json:"localName,omitempty"`
	NameComplete     bool                  `json:"nameComplete,omitempty"`
	ManufacturerData map[uint16][]byte     `json:"manufacturerData,omitempty"` // by company identifier
	ServiceData      map[bt.UUID][]byte    `json:"serviceData,omitempty"`
	ServiceUUIDs     []bt.UUID             `json:"serviceUUIDs,omitempty"` // 16-, 32- and 128-bit, complete or not
	SolicitedUUIDs   []bt.UUID             `json:"solicitedUUIDs,omitempty"`
	TxPower          int8                  `json:"txPower,omitempty"`
	HasTxPower       bool                  `json:"-"`
	Appearance       uint16                `json:"appearance,omitempty"`
	HasAppearance    bool                  `json:"-"`
	Raw              map[PacketType][]byte `json:"raw,omitempty"` // the AD bytes, per packet type, latest
}
