// Package adv parses and builds advertising data: the AD structures of Core Specification
// Supplement (CSS) Part A, as carried in advertising and scan-response packets
// (Core v5.3 Vol 3 Part C §11). It is pure: no I/O, no state.
//
// A payload is a sequence of AD structures, each a length octet (counting the type octet and the
// data), a type octet and length-1 octets of data; a length of 0 ends the significant part, and
// what follows is padding (Core v5.3 Vol 3 Part C §11). Legacy advertising
// and scan-response payloads are at most 31 octets each.
package adv

import (
	"maps"
	"slices"
	"strconv"

	"github.com/gogatt/gogatt/bt"
)

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

// String returns the PDU name, e.g. "ADV_IND".
func (t PacketType) String() string {
	switch t {
	case ConnectableUndirected:
		return "ADV_IND"
	case ConnectableDirected:
		return "ADV_DIRECT_IND"
	case ScannableUndirected:
		return "ADV_SCAN_IND"
	case NonConnectable:
		return "ADV_NONCONN_IND"
	case ScanResponse:
		return "SCAN_RSP"
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// Connectable reports whether a device advertising with t accepts connections.
func (t PacketType) Connectable() bool {
	return t == ConnectableUndirected || t == ConnectableDirected
}

// Flags bits (CSS Part A §1.3).
const (
	FlagLimitedDiscoverable  uint8 = 0x01 // LE Limited Discoverable Mode
	FlagGeneralDiscoverable  uint8 = 0x02 // LE General Discoverable Mode
	FlagBREDRNotSupported    uint8 = 0x04 // BR/EDR Not Supported
	FlagSimultaneousLEBREDRC uint8 = 0x08 // simultaneous LE and BR/EDR, controller
	FlagSimultaneousLEBREDRH uint8 = 0x10 // simultaneous LE and BR/EDR, host
)

// ConnIntervalUnspecified in Data.ConnIntervalMin or ConnIntervalMax means "no specific
// minimum/maximum" (CSS Part A §1.9).
const ConnIntervalUnspecified uint16 = 0xFFFF

// Data is what a scanner learned from a device's advertising and scan-response packets,
// decoded from their AD structures and merged (see Parse).
//
// Byte slices in ManufacturerData, ServiceData and Other share storage with Raw; treat them as
// read-only, or Clone the Data first.
type Data struct {
	Flags            uint8                 `json:"flags,omitempty"` // CSS Part A §1.3
	HasFlags         bool                  `json:"-"`
	LocalName        string                `json:"localName,omitempty"` // CSS Part A §1.2
	NameComplete     bool                  `json:"nameComplete,omitempty"`
	ManufacturerData map[uint16][]byte     `json:"manufacturerData,omitempty"` // by company identifier (CSS Part A §1.4)
	ServiceData      map[bt.UUID][]byte    `json:"serviceData,omitempty"`      // CSS Part A §1.11
	ServiceUUIDs     []bt.UUID             `json:"serviceUUIDs,omitempty"`     // 16-, 32- and 128-bit, complete or not (CSS Part A §1.1)
	SolicitedUUIDs   []bt.UUID             `json:"solicitedUUIDs,omitempty"`   // CSS Part A §1.10
	TxPower          int8                  `json:"txPower,omitempty"`          // dBm (CSS Part A §1.5)
	HasTxPower       bool                  `json:"-"`
	Appearance       uint16                `json:"appearance,omitempty"` // CSS Part A §1.12
	HasAppearance    bool                  `json:"-"`
	Raw              map[PacketType][]byte `json:"raw,omitempty"` // the AD bytes, per packet type, latest

	// ServiceUUIDsIncomplete is true when a device sent an incomplete list of service UUIDs
	// (types 0x02, 0x04, 0x06): it offers more services than ServiceUUIDs lists.
	ServiceUUIDsIncomplete bool `json:"serviceUUIDsIncomplete,omitempty"`
	// ClassOfDevice is the 24-bit Class of Device (CSS Part A §1.6), if HasClassOfDevice.
	ClassOfDevice    uint32 `json:"classOfDevice,omitempty"`
	HasClassOfDevice bool   `json:"-"`
	// ConnIntervalMin and ConnIntervalMax are the peripheral's preferred connection interval
	// range in units of 1.25 ms (CSS Part A §1.9), if HasConnInterval;
	// ConnIntervalUnspecified means no preference for that bound.
	ConnIntervalMin uint16 `json:"connIntervalMin,omitempty"`
	ConnIntervalMax uint16 `json:"connIntervalMax,omitempty"`
	HasConnInterval bool   `json:"-"`
	// PublicTargets and RandomTargets are the addresses the advertiser wants to reach
	// (CSS Part A §1.13, §1.14).
	PublicTargets []bt.Address `json:"publicTargets,omitempty"`
	RandomTargets []bt.Address `json:"randomTargets,omitempty"`
	// AdvInterval is the advertising interval in units of 0.625 ms (CSS Part A §1.15), if
	// HasAdvInterval.
	AdvInterval    uint16 `json:"advInterval,omitempty"`
	HasAdvInterval bool   `json:"-"`
	// URI is the advertised URI with its scheme expanded (CSS Part A §1.18).
	URI string `json:"uri,omitempty"`
	// Other holds AD structures of types this package does not decode, by type, latest.
	Other map[uint8][]byte `json:"other,omitempty"`
}

// Clone returns a deep copy of d, sharing no storage with it.
func (d *Data) Clone() Data {
	c := *d
	c.ManufacturerData = cloneMap(d.ManufacturerData)
	c.ServiceData = cloneMap(d.ServiceData)
	c.Raw = cloneMap(d.Raw)
	c.Other = cloneMap(d.Other)
	c.ServiceUUIDs = slices.Clone(d.ServiceUUIDs)
	c.SolicitedUUIDs = slices.Clone(d.SolicitedUUIDs)
	c.PublicTargets = slices.Clone(d.PublicTargets)
	c.RandomTargets = slices.Clone(d.RandomTargets)
	return c
}

func cloneMap[K comparable](m map[K][]byte) map[K][]byte {
	if m == nil {
		return nil
	}
	c := maps.Clone(m)
	for k, v := range c {
		c[k] = slices.Clone(v)
	}
	return c
}

// HasService reports whether u is among the advertised service UUIDs or service data.
func (d *Data) HasService(u bt.UUID) bool {
	if slices.Contains(d.ServiceUUIDs, u) {
		return true
	}
	_, ok := d.ServiceData[u]
	return ok
}
