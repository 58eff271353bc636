package adv

import "fmt"

// Type is an AD type (Assigned Numbers §2.3, "Common Data Types"). Any value may appear in the
// wild; the parser accepts every one and keeps unknown ones in Data.Other.
type Type uint8

// AD types decoded by this package (Assigned Numbers §2.3; CSS Part A §1).
const (
	TypeFlags             Type = 0x01
	TypeIncomplete16      Type = 0x02 // incomplete list of 16-bit service UUIDs
	TypeComplete16        Type = 0x03 // complete list of 16-bit service UUIDs
	TypeIncomplete32      Type = 0x04
	TypeComplete32        Type = 0x05
	TypeIncomplete128     Type = 0x06
	TypeComplete128       Type = 0x07
	TypeShortName         Type = 0x08 // shortened local name
	TypeCompleteName      Type = 0x09
	TypeTxPower           Type = 0x0A
	TypeClassOfDevice     Type = 0x0D
	TypeConnIntervalRange Type = 0x12 // peripheral (slave) connection interval range
	TypeSolicit16         Type = 0x14
	TypeSolicit128        Type = 0x15
	TypeServiceData16     Type = 0x16
	TypePublicTarget      Type = 0x17
	TypeRandomTarget      Type = 0x18
	TypeAppearance        Type = 0x19
	TypeAdvInterval       Type = 0x1A
	TypeSolicit32         Type = 0x1F
	TypeServiceData32     Type = 0x20
	TypeServiceData128    Type = 0x21
	TypeURI               Type = 0x24
	TypeManufacturerData  Type = 0xFF
)

var typeNames = map[Type]string{
	TypeFlags:             "flags",
	TypeIncomplete16:      "incomplete 16-bit service UUIDs",
	TypeComplete16:        "complete 16-bit service UUIDs",
	TypeIncomplete32:      "incomplete 32-bit service UUIDs",
	TypeComplete32:        "complete 32-bit service UUIDs",
	TypeIncomplete128:     "incomplete 128-bit service UUIDs",
	TypeComplete128:       "complete 128-bit service UUIDs",
	TypeShortName:         "shortened local name",
	TypeCompleteName:      "complete local name",
	TypeTxPower:           "TX power level",
	TypeClassOfDevice:     "class of device",
	TypeConnIntervalRange: "peripheral connection interval range",
	TypeSolicit16:         "16-bit service solicitation UUIDs",
	TypeSolicit128:        "128-bit service solicitation UUIDs",
	TypeServiceData16:     "service data, 16-bit UUID",
	TypePublicTarget:      "public target address",
	TypeRandomTarget:      "random target address",
	TypeAppearance:        "appearance",
	TypeAdvInterval:       "advertising interval",
	TypeSolicit32:         "32-bit service solicitation UUIDs",
	TypeServiceData32:     "service data, 32-bit UUID",
	TypeServiceData128:    "service data, 128-bit UUID",
	TypeURI:               "URI",
	TypeManufacturerData:  "manufacturer specific data",
}

// String names the type, e.g. "complete local name", or "AD type 0x30" for unknown ones.
func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("AD type 0x%02x", uint8(t))
}

// Field is one AD structure. Data aliases the payload it was read from.
type Field struct {
	Type Type
	Data []byte
}

// uriSchemes maps the code points that open a URI AD structure to their scheme names
// (Assigned Numbers, "URI Schemes"); 0x01 means no scheme. Other code points are kept as they
// are in Data.URI.
var uriSchemes = map[rune]string{
	0x01: "",
	0x16: "http:",
	0x17: "https:",
}
