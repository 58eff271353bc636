package sim

import (
	"encoding/binary"
	"fmt"

	"github.com/gogatt/gogatt/bt"
)

// Flags AD bits (Core Specification Supplement Part A §1.3).
const (
	FlagLELimitedDiscoverable uint8 = 0x01
	FlagLEGeneralDiscoverable uint8 = 0x02
	FlagBREDRNotSupported     uint8 = 0x04
	// FlagsGeneralDiscoverable is the usual value for a connectable LE-only peripheral.
	FlagsGeneralDiscoverable = FlagLEGeneralDiscoverable | FlagBREDRNotSupported
)

// MaxADLen is the capacity of a legacy advertising or scan-response payload (Core v5.3 Vol 3
// Part C §11).
const MaxADLen = 31

// ServiceData is one Service Data AD structure.
type ServiceData struct {
	UUID bt.UUID
	Data []byte
}

// ManufacturerData is one Manufacturer Specific Data AD structure.
type ManufacturerData struct {
	CompanyID uint16
	Data      []byte
}

// AdvFields are the fields of one advertising or scan-response payload, encoded in this order
// as AD structures (Core Specification Supplement Part A §1): Flags, service UUID lists (16-,
// 32-, 128-bit), local name, TX power level, appearance, service data, manufacturer data.
type AdvFields struct {
	Flags            uint8 // 0 omits the Flags structure
	ServiceUUIDs     []bt.UUID
	IncompleteUUIDs  bool   // mark the UUID lists incomplete (AD types 0x02/0x04/0x06)
	LocalName        string // "" omits it
	ShortName        bool   // Shortened (0x08) rather than Complete (0x09) Local Name
	TxPower          int8
	HasTxPower       bool
	Appearance       uint16
	HasAppearance    bool
	ServiceData      []ServiceData
	ManufacturerData []ManufacturerData
}

// Encode returns the AD structures, or an error if they exceed 31 octets.
func (f AdvFields) Encode() ([]byte, error) {
	var out []byte
	ad := func(typ byte, data []byte) {
		out = append(append(out, byte(len(data)+1), typ), data...)
	}
	if f.Flags != 0 {
		ad(0x01, []byte{f.Flags})
	}
	var u16, u32, u128 []byte
	for _, u := range f.ServiceUUIDs {
		if v, ok := u.Is16(); ok {
			u16 = binary.LittleEndian.AppendUint16(u16, v)
		} else if v, ok := u.Is32(); ok {
			u32 = binary.LittleEndian.AppendUint32(u32, v)
		} else {
			u128 = u.AppendLE(u128)
		}
	}
	inc := byte(1)
	if f.IncompleteUUIDs {
		inc = 0
	}
	if len(u16) > 0 {
		ad(0x02+inc, u16)
	}
	if len(u32) > 0 {
		ad(0x04+inc, u32)
	}
	if len(u128) > 0 {
		ad(0x06+inc, u128)
	}
	if f.LocalName != "" {
		t := byte(0x09)
		if f.ShortName {
			t = 0x08
		}
		ad(t, []byte(f.LocalName))
	}
	if f.HasTxPower {
		ad(0x0A, []byte{byte(f.TxPower)})
	}
	if f.HasAppearance {
		ad(0x19, binary.LittleEndian.AppendUint16(nil, f.Appearance))
	}
	for _, sd := range f.ServiceData {
		if v, ok := sd.UUID.Is16(); ok {
			ad(0x16, append(binary.LittleEndian.AppendUint16(nil, v), sd.Data...))
		} else if v, ok := sd.UUID.Is32(); ok {
			ad(0x20, append(binary.LittleEndian.AppendUint32(nil, v), sd.Data...))
		} else {
			ad(0x21, append(sd.UUID.AppendLE(nil), sd.Data...))
		}
	}
	for _, md := range f.ManufacturerData {
		ad(0xFF, append(binary.LittleEndian.AppendUint16(nil, md.CompanyID), md.Data...))
	}
	if len(out) > MaxADLen {
		return nil, fmt.Errorf("sim: %d octets of AD structures, max %d", len(out), MaxADLen)
	}
	return out, nil
}
