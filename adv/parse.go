package adv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/gogatt/gogatt/bt"
)

// ErrMalformed is wrapped by every error Parse and Walk return.
var ErrMalformed = errors.New("malformed advertising data")

// Walk calls fn for each AD structure of payload, in order, until fn returns false. Field data
// aliases payload. A length octet of 0 ends the walk without error (the rest is padding). A
// structure whose length runs past the end of payload stops the walk with an error wrapping
// ErrMalformed; every structure before it has been passed to fn.
func Walk(payload []byte, fn func(Field) bool) error {
	for i := 0; i < len(payload); {
		n := int(payload[i])
		if n == 0 {
			return nil
		}
		if i+1+n > len(payload) {
			return fmt.Errorf("%w: AD structure at offset %d has length %d but only %d octets remain", ErrMalformed, i, n, len(payload)-i-1)
		}
		if !fn(Field{Type: Type(payload[i+1]), Data: payload[i+2 : i+1+n]}) {
			return nil
		}
		i += 1 + n
	}
	return nil
}

// Parse decodes payload, an advertising or scan-response payload of packet type pt, into d,
// merging it with what d already holds: lists gain the new entries (without duplicates), maps and
// single values are overwritten by the newer ones, a complete local name is not replaced by a
// shortened one, and d.Raw[pt] becomes a copy of payload. A scanner calls Parse with every packet
// of one device, advertising and scan response alike, on the same Data.
//
// Parse never panics. Malformed input (a structure running past the end, or a known type whose
// data has the wrong length) gives an error wrapping ErrMalformed, naming the first problem;
// everything that could be decoded — including well-formed structures after a malformed one —
// is kept. Unknown types are kept in d.Other.
//
// Slices stored in d share one copy of payload (d.Raw[pt]); payload itself is not retained.
func Parse(pt PacketType, payload []byte, d *Data) error { return d.Parse(pt, payload) }

// Parse is the function Parse as a method.
func (d *Data) Parse(pt PacketType, payload []byte) error {
	raw := slices.Clone(payload)
	if raw == nil {
		raw = []byte{}
	}
	if d.Raw == nil {
		d.Raw = make(map[PacketType][]byte, 2)
	}
	d.Raw[pt] = raw
	var first error
	note := func(f Field, format string, args ...any) {
		if first == nil {
			first = fmt.Errorf("%w: %s (0x%02x): %s", ErrMalformed, f.Type, uint8(f.Type), fmt.Sprintf(format, args...))
		}
	}
	err := Walk(raw, func(f Field) bool {
		d.field(f, note)
		return true
	})
	if first != nil {
		return first
	}
	return err
}

func (d *Data) field(f Field, note func(Field, string, ...any)) {
	b := f.Data
	switch f.Type {
	case TypeFlags:
		if len(b) < 1 {
			note(f, "no data")
			return
		}
		d.Flags, d.HasFlags = b[0], true
	case TypeIncomplete16, TypeComplete16:
		d.ServiceUUIDs = appendUUIDs(d.ServiceUUIDs, f, 2, note)
		d.ServiceUUIDsIncomplete = d.ServiceUUIDsIncomplete || f.Type == TypeIncomplete16
	case TypeIncomplete32, TypeComplete32:
		d.ServiceUUIDs = appendUUIDs(d.ServiceUUIDs, f, 4, note)
		d.ServiceUUIDsIncomplete = d.ServiceUUIDsIncomplete || f.Type == TypeIncomplete32
	case TypeIncomplete128, TypeComplete128:
		d.ServiceUUIDs = appendUUIDs(d.ServiceUUIDs, f, 16, note)
		d.ServiceUUIDsIncomplete = d.ServiceUUIDsIncomplete || f.Type == TypeIncomplete128
	case TypeSolicit16:
		d.SolicitedUUIDs = appendUUIDs(d.SolicitedUUIDs, f, 2, note)
	case TypeSolicit32:
		d.SolicitedUUIDs = appendUUIDs(d.SolicitedUUIDs, f, 4, note)
	case TypeSolicit128:
		d.SolicitedUUIDs = appendUUIDs(d.SolicitedUUIDs, f, 16, note)
	case TypeShortName, TypeCompleteName:
		complete := f.Type == TypeCompleteName
		if !complete && d.NameComplete && d.LocalName != "" {
			return // keep the complete name
		}
		if string(b) != d.LocalName { // the comparison does not allocate
			d.LocalName = string(b)
		}
		d.NameComplete = complete
		if !utf8.Valid(b) {
			note(f, "name is not valid UTF-8")
		}
	case TypeTxPower:
		if len(b) != 1 {
			note(f, "%d octets, want 1", len(b))
			return
		}
		d.TxPower, d.HasTxPower = int8(b[0]), true
	case TypeClassOfDevice:
		if len(b) != 3 {
			note(f, "%d octets, want 3", len(b))
			return
		}
		d.ClassOfDevice, d.HasClassOfDevice = uint32(b[0])|uint32(b[1])<<8|uint32(b[2])<<16, true
	case TypeConnIntervalRange:
		if len(b) != 4 {
			note(f, "%d octets, want 4", len(b))
			return
		}
		d.ConnIntervalMin = binary.LittleEndian.Uint16(b)
		d.ConnIntervalMax = binary.LittleEndian.Uint16(b[2:])
		d.HasConnInterval = true
	case TypeServiceData16, TypeServiceData32, TypeServiceData128:
		n := 2
		switch f.Type {
		case TypeServiceData32:
			n = 4
		case TypeServiceData128:
			n = 16
		}
		if len(b) < n {
			note(f, "%d octets, want at least %d for the UUID", len(b), n)
			return
		}
		u, _ := bt.UUIDFromLE(b[:n])
		if d.ServiceData == nil {
			d.ServiceData = make(map[bt.UUID][]byte, 1)
		}
		d.ServiceData[u] = b[n:len(b):len(b)]
	case TypePublicTarget, TypeRandomTarget:
		if len(b) == 0 || len(b)%6 != 0 {
			note(f, "%d octets, want a multiple of 6", len(b))
		}
		dst := &d.PublicTargets
		if f.Type == TypeRandomTarget {
			dst = &d.RandomTargets
		}
		for ; len(b) >= 6; b = b[6:] {
			a := bt.AddressFromLE([6]byte(b[:6]))
			if !slices.Contains(*dst, a) {
				*dst = append(*dst, a)
			}
		}
	case TypeAppearance:
		if len(b) != 2 {
			note(f, "%d octets, want 2", len(b))
			return
		}
		d.Appearance, d.HasAppearance = binary.LittleEndian.Uint16(b), true
	case TypeAdvInterval:
		if len(b) != 2 {
			note(f, "%d octets, want 2", len(b))
			return
		}
		d.AdvInterval, d.HasAdvInterval = binary.LittleEndian.Uint16(b), true
	case TypeURI:
		r, size := utf8.DecodeRune(b)
		if len(b) == 0 || r == utf8.RuneError {
			note(f, "no valid scheme code point")
			d.URI = string(b)
			return
		}
		if scheme, ok := uriSchemes[r]; ok {
			d.URI = scheme + string(b[size:])
		} else {
			d.URI = string(b)
		}
	case TypeManufacturerData:
		if len(b) < 2 {
			note(f, "%d octets, want at least 2 for the company identifier", len(b))
			return
		}
		if d.ManufacturerData == nil {
			d.ManufacturerData = make(map[uint16][]byte, 1)
		}
		d.ManufacturerData[binary.LittleEndian.Uint16(b)] = b[2:len(b):len(b)]
	default:
		if d.Other == nil {
			d.Other = make(map[uint8][]byte, 1)
		}
		d.Other[uint8(f.Type)] = b[:len(b):len(b)]
	}
}

// appendUUIDs appends the UUIDs of size octets each in f's data to list, skipping duplicates.
func appendUUIDs(list []bt.UUID, f Field, size int, note func(Field, string, ...any)) []bt.UUID {
	b := f.Data
	if len(b)%size != 0 {
		note(f, "%d octets is not a multiple of %d", len(b), size)
	}
	for ; len(b) >= size; b = b[size:] {
		u, _ := bt.UUIDFromLE(b[:size])
		if !slices.Contains(list, u) {
			list = append(list, u)
		}
	}
	return list
}
