package sim

import (
	"fmt"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/bt"
)

// Flags AD bits (Core Specification Supplement Part A §1.3), the same values as adv.Flag*.
const (
	FlagLELimitedDiscoverable = adv.FlagLimitedDiscoverable
	FlagLEGeneralDiscoverable = adv.FlagGeneralDiscoverable
	FlagBREDRNotSupported     = adv.FlagBREDRNotSupported
	// FlagsGeneralDiscoverable is the usual value for a connectable LE-only peripheral.
	FlagsGeneralDiscoverable = FlagLEGeneralDiscoverable | FlagBREDRNotSupported
)

// MaxADLen is the capacity of a legacy advertising or scan-response payload (Core v5.3 Vol 3
// Part C §11).
const MaxADLen = adv.MaxLegacyPayload

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

// Encode returns the AD structures, built with adv.Builder, or an error if they exceed 31
// octets.
func (f AdvFields) Encode() ([]byte, error) {
	b := adv.NewBuilder()
	if f.Flags != 0 {
		b.Flags(f.Flags)
	}
	if len(f.ServiceUUIDs) > 0 {
		b.ServiceUUIDs(!f.IncompleteUUIDs, f.ServiceUUIDs...)
	}
	if f.LocalName != "" {
		if f.ShortName {
			b.ShortName(f.LocalName)
		} else {
			b.CompleteName(f.LocalName)
		}
	}
	if f.HasTxPower {
		b.TxPower(f.TxPower)
	}
	if f.HasAppearance {
		b.Appearance(f.Appearance)
	}
	for _, sd := range f.ServiceData {
		b.ServiceData(sd.UUID, sd.Data)
	}
	for _, md := range f.ManufacturerData {
		b.ManufacturerData(md.CompanyID, md.Data)
	}
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("sim: advertising data: %w", err)
	}
	return out, nil
}
