// Package bt holds the small value types every layer of gogatt shares: Bluetooth UUIDs and
// device addresses. It is pure (no I/O, no state) so that codecs and the public API can both
// depend on it. The root package gogatt re-exports these types under the same names.
package bt

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// UUID is a Bluetooth UUID held in its full 128-bit form, big-endian (the order in which it is
// written, e.g. 0000180d-0000-1000-8000-00805f9b34fb). It is comparable with ==, so it can be a
// map key. 16- and 32-bit UUIDs are aliases inside the Bluetooth Base UUID
// (Core v5.3 Vol 3 Part B §2.5.1).
type UUID [16]byte

// baseUUID is the Bluetooth Base UUID 00000000-0000-1000-8000-00805F9B34FB.
var baseUUID = UUID{0, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0x80, 0x5f, 0x9b, 0x34, 0xfb}

// UUID16 returns the 128-bit form of a 16-bit SIG-assigned UUID such as 0x2a37.
func UUID16(v uint16) UUID { return UUID32(uint32(v)) }

// UUID32 returns the 128-bit form of a 32-bit UUID.
func UUID32(v uint32) UUID {
	u := baseUUID
	binary.BigEndian.PutUint32(u[:4], v)
	return u
}

// ErrInvalidUUID is wrapped by every UUID parsing error.
var ErrInvalidUUID = errors.New("invalid UUID")

// ParseUUID accepts the forms people write: 16-bit ("2a37", "0x2A37"), 32-bit ("0000180d",
// "0x0000180D") and canonical 128-bit with or without dashes
// ("0000180d-0000-1000-8000-00805f9b34fb"). Case is ignored.
func ParseUUID(s string) (UUID, error) {
	t := strings.TrimSpace(s)
	if len(t) > 2 && (t[:2] == "0x" || t[:2] == "0X") {
		t = t[2:]
	}
	switch len(t) {
	case 4, 8:
		var buf [4]byte
		b := buf[:len(t)/2]
		if _, err := hex.Decode(b, []byte(t)); err != nil {
			return UUID{}, fmt.Errorf("%w %q: not hexadecimal", ErrInvalidUUID, s)
		}
		var v uint32
		for _, c := range b {
			v = v<<8 | uint32(c)
		}
		return UUID32(v), nil
	case 36:
		if t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
			return UUID{}, fmt.Errorf("%w %q: dashes must be at 8-4-4-4-12", ErrInvalidUUID, s)
		}
		t = t[:8] + t[9:13] + t[14:18] + t[19:23] + t[24:]
		fallthrough
	case 32:
		var u UUID
		if _, err := hex.Decode(u[:], []byte(t)); err != nil {
			return UUID{}, fmt.Errorf("%w %q: not hexadecimal", ErrInvalidUUID, s)
		}
		return u, nil
	}
	return UUID{}, fmt.Errorf("%w %q: want 4, 8 or 32 hex digits (dashes allowed in the 128-bit form)", ErrInvalidUUID, s)
}

// MustParseUUID is ParseUUID for constants known to be valid; it panics otherwise.
func MustParseUUID(s string) UUID {
	u, err := ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

// UUIDFromLE builds a UUID from its little-endian wire form of 2, 4 or 16 bytes, as carried in
// ATT PDUs and advertising data (Core v5.3 Vol 3 Part F §3.2.1).
func UUIDFromLE(b []byte) (UUID, error) {
	switch len(b) {
	case 2:
		return UUID16(binary.LittleEndian.Uint16(b)), nil
	case 4:
		return UUID32(binary.LittleEndian.Uint32(b)), nil
	case 16:
		var u UUID
		for i := range 16 {
			u[i] = b[15-i]
		}
		return u, nil
	}
	return UUID{}, fmt.Errorf("%w: %d bytes, want 2, 4 or 16", ErrInvalidUUID, len(b))
}

// Is16 reports whether u is a 16-bit UUID inside the Base UUID, and returns it.
func (u UUID) Is16() (uint16, bool) {
	if u[0] != 0 || u[1] != 0 || [12]byte(u[4:]) != [12]byte(baseUUID[4:]) {
		return 0, false
	}
	return binary.BigEndian.Uint16(u[2:4]), true
}

// Is32 reports whether u is a 32-bit (or 16-bit) UUID inside the Base UUID, and returns it.
func (u UUID) Is32() (uint32, bool) {
	if [12]byte(u[4:]) != [12]byte(baseUUID[4:]) {
		return 0, false
	}
	return binary.BigEndian.Uint32(u[:4]), true
}

// AppendLE appends the shortest little-endian wire form of u: 2 bytes for a 16-bit UUID, else
// all 16 bytes (ATT carries only 16- or 128-bit UUIDs: Core v5.3 Vol 3 Part F §3.2.1).
func (u UUID) AppendLE(dst []byte) []byte {
	if v, ok := u.Is16(); ok {
		return binary.LittleEndian.AppendUint16(dst, v)
	}
	for i := 15; i >= 0; i-- {
		dst = append(dst, u[i])
	}
	return dst
}

// String returns the canonical lowercase 128-bit form, e.g. 00002a37-0000-1000-8000-00805f9b34fb.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// Short returns "2a37" for a 16-bit UUID, "0000180d"-style for a 32-bit one, else String().
func (u UUID) Short() string {
	if v, ok := u.Is16(); ok {
		return fmt.Sprintf("%04x", v)
	}
	if v, ok := u.Is32(); ok {
		return fmt.Sprintf("%08x", v)
	}
	return u.String()
}

// MarshalText implements encoding.TextMarshaler (canonical form).
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (any form ParseUUID accepts).
func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}
