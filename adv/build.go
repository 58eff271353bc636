package adv

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gogatt/gogatt/bt"
)

// MaxLegacyPayload is the most AD octets a legacy advertising or scan-response PDU carries
// (Core v5.3 Vol 6 Part B §2.3.1).
const MaxLegacyPayload = 31

// ErrTooLong is wrapped by the error of a payload that does not fit.
var ErrTooLong = errors.New("advertising data too long")

// Builder assembles an advertising payload from AD structures, in the order its methods are
// called. Methods chain; the first error (a structure too long, an invalid value) is kept and
// returned by Bytes, which also checks the total against the limit (MaxLegacyPayload unless
// changed with Limit).
//
//	payload, err := adv.NewBuilder().
//		Flags(adv.FlagGeneralDiscoverable | adv.FlagBREDRNotSupported).
//		ServiceUUIDs(true, bt.UUID16(0x180d)).
//		CompleteName("HR Sensor").
//		Bytes()
type Builder struct {
	buf   []byte
	limit int
	err   error
}

// NewBuilder returns an empty Builder limited to MaxLegacyPayload octets.
func NewBuilder() *Builder { return &Builder{limit: MaxLegacyPayload} }

// Limit sets the maximum payload length (e.g. 254 for extended advertising); n ≤ 0 means
// MaxLegacyPayload.
func (b *Builder) Limit(n int) *Builder {
	if n <= 0 {
		n = MaxLegacyPayload
	}
	b.limit = n
	return b
}

// Field appends an AD structure of any type. data may be up to 254 octets.
func (b *Builder) Field(t Type, data ...byte) *Builder {
	if len(data) > 254 {
		b.fail(fmt.Errorf("%w: %s has %d octets, at most 254 fit one AD structure", ErrTooLong, t, len(data)))
		return b
	}
	b.buf = append(b.buf, byte(len(data)+1), byte(t))
	b.buf = append(b.buf, data...)
	return b
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Flags appends the Flags structure (CSS Part A §1.3).
func (b *Builder) Flags(f uint8) *Builder { return b.Field(TypeFlags, f) }

// CompleteName appends the complete local name.
func (b *Builder) CompleteName(name string) *Builder {
	return b.name(TypeCompleteName, name)
}

// ShortName appends a shortened local name.
func (b *Builder) ShortName(name string) *Builder { return b.name(TypeShortName, name) }

func (b *Builder) name(t Type, name string) *Builder {
	if !utf8.ValidString(name) {
		b.fail(fmt.Errorf("adv: %s %q is not valid UTF-8", t, name))
		return b
	}
	return b.Field(t, []byte(name)...)
}

// ServiceUUIDs appends the list(s) of service UUIDs, one structure per size (16, 32, 128 bits),
// marked complete or incomplete (CSS Part A §1.1).
func (b *Builder) ServiceUUIDs(complete bool, uuids ...bt.UUID) *Builder {
	if complete {
		return b.uuidLists([3]Type{TypeComplete16, TypeComplete32, TypeComplete128}, uuids)
	}
	return b.uuidLists([3]Type{TypeIncomplete16, TypeIncomplete32, TypeIncomplete128}, uuids)
}

// SolicitedUUIDs appends service solicitation UUIDs, one structure per size (CSS Part A §1.10).
func (b *Builder) SolicitedUUIDs(uuids ...bt.UUID) *Builder {
	return b.uuidLists([3]Type{TypeSolicit16, TypeSolicit32, TypeSolicit128}, uuids)
}

func (b *Builder) uuidLists(types [3]Type, uuids []bt.UUID) *Builder {
	var l16, l32, l128 []byte
	for _, u := range uuids {
		if v, ok := u.Is16(); ok {
			l16 = binary.LittleEndian.AppendUint16(l16, v)
		} else if v, ok := u.Is32(); ok {
			l32 = binary.LittleEndian.AppendUint32(l32, v)
		} else {
			l128 = u.AppendLE(l128)
		}
	}
	for i, l := range [3][]byte{l16, l32, l128} {
		if len(l) > 0 {
			b.Field(types[i], l...)
		}
	}
	return b
}

// TxPower appends the TX power level in dBm.
func (b *Builder) TxPower(dBm int8) *Builder { return b.Field(TypeTxPower, byte(dBm)) }

// ClassOfDevice appends a 24-bit Class of Device.
func (b *Builder) ClassOfDevice(cod uint32) *Builder {
	if cod > 0xFFFFFF {
		b.fail(fmt.Errorf("adv: class of device 0x%x exceeds 24 bits", cod))
		return b
	}
	return b.Field(TypeClassOfDevice, byte(cod), byte(cod>>8), byte(cod>>16))
}

// ConnIntervalRange appends the preferred connection interval range, in units of 1.25 ms
// (ConnIntervalUnspecified for no preference).
func (b *Builder) ConnIntervalRange(minUnits, maxUnits uint16) *Builder {
	return b.Field(TypeConnIntervalRange, byte(minUnits), byte(minUnits>>8), byte(maxUnits), byte(maxUnits>>8))
}

// ServiceData appends data for service u, with the shortest UUID form (CSS Part A §1.11).
func (b *Builder) ServiceData(u bt.UUID, data []byte) *Builder {
	var p []byte
	t := TypeServiceData128
	if v, ok := u.Is16(); ok {
		p, t = binary.LittleEndian.AppendUint16(nil, v), TypeServiceData16
	} else if v, ok := u.Is32(); ok {
		p, t = binary.LittleEndian.AppendUint32(nil, v), TypeServiceData32
	} else {
		p = u.AppendLE(nil)
	}
	return b.Field(t, append(p, data...)...)
}

// Appearance appends the appearance value (Assigned Numbers §2.6).
func (b *Builder) Appearance(v uint16) *Builder {
	return b.Field(TypeAppearance, byte(v), byte(v>>8))
}

// PublicTargets appends public target addresses.
func (b *Builder) PublicTargets(addrs ...bt.Address) *Builder {
	return b.targets(TypePublicTarget, addrs)
}

// RandomTargets appends random target addresses.
func (b *Builder) RandomTargets(addrs ...bt.Address) *Builder {
	return b.targets(TypeRandomTarget, addrs)
}

func (b *Builder) targets(t Type, addrs []bt.Address) *Builder {
	var p []byte
	for _, a := range addrs {
		le := a.LE()
		p = append(p, le[:]...)
	}
	if len(p) > 0 {
		b.Field(t, p...)
	}
	return b
}

// AdvInterval appends the advertising interval in units of 0.625 ms.
func (b *Builder) AdvInterval(units uint16) *Builder {
	return b.Field(TypeAdvInterval, byte(units), byte(units>>8))
}

// URI appends a URI; an "http:" or "https:" scheme is compressed to its code point, any other is
// sent in full after the "no scheme" code point 0x01 (CSS Part A §1.18).
func (b *Builder) URI(uri string) *Builder {
	for _, cp := range []rune{0x17, 0x16} {
		if s := uriSchemes[cp]; strings.HasPrefix(uri, s) {
			return b.Field(TypeURI, append(utf8.AppendRune(nil, cp), uri[len(s):]...)...)
		}
	}
	return b.Field(TypeURI, append([]byte{0x01}, uri...)...)
}

// ManufacturerData appends manufacturer-specific data for company (CSS Part A §1.4).
func (b *Builder) ManufacturerData(company uint16, data []byte) *Builder {
	return b.Field(TypeManufacturerData, append([]byte{byte(company), byte(company >> 8)}, data...)...)
}

// Len returns the payload length so far.
func (b *Builder) Len() int { return len(b.buf) }

// Bytes returns the payload, or the first error: an invalid value, or ErrTooLong when it exceeds
// the limit.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.buf) > b.limit {
		return nil, fmt.Errorf("%w: %d octets, at most %d fit", ErrTooLong, len(b.buf), b.limit)
	}
	return slices.Clone(b.buf), nil
}

// Encode builds one payload holding every field of d that is set, in a fixed order (flags,
// service UUIDs, solicited UUIDs, name, TX power, appearance, class of device, connection
// interval range, advertising interval, targets, URI, service data and manufacturer data by
// key, other types by type). Raw is ignored. It fails with ErrTooLong beyond MaxLegacyPayload;
// use a Builder to split fields between advertising and scan response.
func (d *Data) Encode() ([]byte, error) {
	b := NewBuilder()
	if d.HasFlags {
		b.Flags(d.Flags)
	}
	if len(d.ServiceUUIDs) > 0 {
		b.ServiceUUIDs(!d.ServiceUUIDsIncomplete, d.ServiceUUIDs...)
	}
	if len(d.SolicitedUUIDs) > 0 {
		b.SolicitedUUIDs(d.SolicitedUUIDs...)
	}
	if d.LocalName != "" {
		if d.NameComplete {
			b.CompleteName(d.LocalName)
		} else {
			b.ShortName(d.LocalName)
		}
	}
	if d.HasTxPower {
		b.TxPower(d.TxPower)
	}
	if d.HasAppearance {
		b.Appearance(d.Appearance)
	}
	if d.HasClassOfDevice {
		b.ClassOfDevice(d.ClassOfDevice)
	}
	if d.HasConnInterval {
		b.ConnIntervalRange(d.ConnIntervalMin, d.ConnIntervalMax)
	}
	if d.HasAdvInterval {
		b.AdvInterval(d.AdvInterval)
	}
	b.PublicTargets(d.PublicTargets...)
	b.RandomTargets(d.RandomTargets...)
	if d.URI != "" {
		b.URI(d.URI)
	}
	for _, u := range slices.SortedFunc(maps.Keys(d.ServiceData), func(a, b bt.UUID) int { return slices.Compare(a[:], b[:]) }) {
		b.ServiceData(u, d.ServiceData[u])
	}
	for _, c := range slices.Sorted(maps.Keys(d.ManufacturerData)) {
		b.ManufacturerData(c, d.ManufacturerData[c])
	}
	for _, t := range slices.SortedFunc(maps.Keys(d.Other), cmp.Compare[uint8]) {
		b.Field(Type(t), d.Other[t]...)
	}
	return b.Bytes()
}
