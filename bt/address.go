package bt

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Address is a 48-bit Bluetooth device address, stored in the order it is written
// (most significant byte first): "01:23:45:67:89:AB" is Address{0x01, …, 0xAB}. On the wire
// (HCI, BGAPI) it travels least significant byte first; see LE and AddressFromLE.
type Address [6]byte

// ErrInvalidAddress is wrapped by every address parsing error.
var ErrInvalidAddress = errors.New("invalid Bluetooth address")

// ParseAddress accepts six colon-separated hex octets ("01:23:45:67:89:ab"), case-insensitive.
// Anything else — other separators, missing octets, extra characters — is rejected, so that an
// address can safely be handed to a child process.
func ParseAddress(s string) (Address, error) {
	var a Address
	if len(s) != 17 {
		return a, fmt.Errorf("%w %q: want six hex octets like 01:23:45:67:89:AB", ErrInvalidAddress, s)
	}
	for i := range 6 {
		if i > 0 && s[3*i-1] != ':' {
			return a, fmt.Errorf("%w %q: octets must be separated by ':'", ErrInvalidAddress, s)
		}
		if _, err := hex.Decode(a[i:i+1], []byte(s[3*i:3*i+2])); err != nil {
			return a, fmt.Errorf("%w %q: octet %d is not hexadecimal", ErrInvalidAddress, s, i+1)
		}
	}
	return a, nil
}

// MustParseAddress is ParseAddress for constants; it panics on error.
func MustParseAddress(s string) Address {
	a, err := ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

// CanonicalAddress validates s and returns it in canonical (uppercase) form.
func CanonicalAddress(s string) (string, error) {
	a, err := ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// String returns the canonical uppercase form "01:23:45:67:89:AB".
func (a Address) String() string {
	const digits = "0123456789ABCDEF"
	var b [17]byte
	for i, v := range a {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i] = digits[v>>4]
		b[3*i+1] = digits[v&0xf]
	}
	return string(b[:])
}

// LE returns the address in wire order (least significant byte first), as HCI and BGAPI carry it.
func (a Address) LE() [6]byte {
	var b [6]byte
	for i := range 6 {
		b[i] = a[5-i]
	}
	return b
}

// AddressFromLE builds an Address from its 6-byte wire (little-endian) form.
func AddressFromLE(b [6]byte) Address {
	var a Address
	for i := range 6 {
		a[i] = b[5-i]
	}
	return a
}

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// AddressType says whether an LE address is public (IEEE-assigned) or random
// (Core v5.3 Vol 6 Part B §1.3).
type AddressType uint8

const (
	// AddressPublic is a public device address. It is the zero value, as in pygatt.
	AddressPublic AddressType = 0
	// AddressRandom is a random (static or private) device address.
	AddressRandom AddressType = 1
)

// String returns "public" or "random".
func (t AddressType) String() string {
	switch t {
	case AddressPublic:
		return "public"
	case AddressRandom:
		return "random"
	}
	return fmt.Sprintf("AddressType(%d)", uint8(t))
}

// MarshalText returns "public" or "random", so that JSON and other text encodings carry the
// name rather than the number; other values are an error.
func (t AddressType) MarshalText() ([]byte, error) {
	if t != AddressPublic && t != AddressRandom {
		return nil, fmt.Errorf("invalid address type %d", uint8(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText accepts what ParseAddressType accepts.
func (t *AddressType) UnmarshalText(b []byte) error {
	v, err := ParseAddressType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// ParseAddressType accepts "public" or "random" (case-insensitive).
func ParseAddressType(s string) (AddressType, error) {
	switch strings.ToLower(s) {
	case "public", "":
		return AddressPublic, nil
	case "random":
		return AddressRandom, nil
	}
	return 0, fmt.Errorf("invalid address type %q: want public or random", s)
}
