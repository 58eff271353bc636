// Package value converts characteristic values between bytes and the text people type and read
// on a command line: hexadecimal, UTF-8 and integers of a chosen size, signedness and byte
// order. Standard characteristics are decoded by package profile. It is pure: no I/O.
package value

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrSyntax is wrapped by every parsing error of this package.
var ErrSyntax = errors.New("invalid value")

// Format says how a value is written or shown.
type Format int

// Formats. FormatAuto shows a decoded form for known characteristics and hexadecimal otherwise;
// for input it is the same as FormatHex.
const (
	FormatAuto Format = iota
	FormatHex
	FormatUTF8
	FormatInt
)

var formatNames = [...]string{"auto", "hex", "utf8", "int"}

// String returns the flag spelling of f.
func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat accepts auto, hex, utf8 (or text, string) and int.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return FormatAuto, nil
	case "hex":
		return FormatHex, nil
	case "utf8", "utf-8", "text", "string":
		return FormatUTF8, nil
	case "int":
		return FormatInt, nil
	}
	return 0, fmt.Errorf("%w: format %q: want auto, hex, utf8 or int", ErrSyntax, s)
}

// IntSpec describes the integers of FormatInt.
type IntSpec struct {
	Size      int  // bytes per integer: 1, 2, 4 or 8
	Signed    bool // two's complement
	BigEndian bool // most significant byte first; Bluetooth values are little-endian
}

// Validate checks the size.
func (s IntSpec) Validate() error {
	switch s.Size {
	case 1, 2, 4, 8:
		return nil
	}
	return fmt.Errorf("%w: integer size %d: want 1, 2, 4 or 8 bytes", ErrSyntax, s.Size)
}

// ParseEndian accepts little/le and big/be.
func ParseEndian(s string) (bigEndian bool, err error) {
	switch strings.ToLower(s) {
	case "little", "le", "":
		return false, nil
	case "big", "be":
		return true, nil
	}
	return false, fmt.Errorf("%w: endianness %q: want little or big", ErrSyntax, s)
}

// Codec parses and formats values in one format.
type Codec struct {
	Format Format
	Int    IntSpec // for FormatInt
}

// Parse converts command-line text to the bytes to write.
//   - hex (and auto): "01ff", "0x01ff", "01 ff", "01:ff", "01-ff" — pairs of hex digits;
//   - utf8: the text's bytes as they are;
//   - int: one or more integers separated by spaces or commas, each in decimal, 0x hex, 0o octal
//     or 0b binary, each checked against the range of Int.Size/Int.Signed.
func (c Codec) Parse(s string) ([]byte, error) {
	switch c.Format {
	case FormatAuto, FormatHex:
		return ParseHex(s)
	case FormatUTF8:
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%w: not valid UTF-8", ErrSyntax)
		}
		return []byte(s), nil
	case FormatInt:
		return ParseInts(s, c.Int)
	}
	return nil, fmt.Errorf("%w: unknown format %v", ErrSyntax, c.Format)
}

// FormatValue renders b. FormatAuto is hex here; callers wanting decoded standard values use Decode
// first. FormatUTF8 gives the bytes as they are, control characters and all: whoever shows the
// text on a terminal escapes it (the CLI's view.Escape).
func (c Codec) FormatValue(b []byte) (string, error) {
	switch c.Format {
	case FormatAuto, FormatHex:
		return Hex(b), nil
	case FormatUTF8:
		return string(b), nil
	case FormatInt:
		return FormatInts(b, c.Int)
	}
	return "", fmt.Errorf("%w: unknown format %v", ErrSyntax, c.Format)
}

// Hex returns b as lowercase hex digits without separators ("" for an empty value).
func Hex(b []byte) string { return hex.EncodeToString(b) }

// ParseHex accepts pairs of hex digits, optionally prefixed by 0x and separated by spaces,
// colons or dashes between bytes. The empty string is an empty value.
func ParseHex(s string) ([]byte, error) {
	t := strings.TrimSpace(s)
	if len(t) >= 2 && (t[:2] == "0x" || t[:2] == "0X") {
		t = t[2:]
	}
	out := make([]byte, 0, len(t)/2)
	for i := 0; i < len(t); {
		c := t[i]
		if c == ' ' || c == ':' || c == '-' || c == '\t' {
			if i == 0 || i == len(t)-1 {
				return nil, fmt.Errorf("%w: hex %q: separator at the start or end", ErrSyntax, s)
			}
			i++
			continue
		}
		if i+1 >= len(t) {
			return nil, fmt.Errorf("%w: hex %q: odd number of digits (write each byte as two digits)", ErrSyntax, s)
		}
		var err error
		if out, err = hex.AppendDecode(out, []byte(t[i:i+2])); err != nil {
			bad, _ := err.(hex.InvalidByteError) // two digits: the only error
			return nil, fmt.Errorf("%w: hex %q: %q is not a hex digit", ErrSyntax, s, byte(bad))
		}
		i += 2
	}
	return out, nil
}

// ParseInts parses integers separated by spaces or commas and encodes each with spec.
func ParseInts(s string, spec IntSpec) ([]byte, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: no integer given", ErrSyntax)
	}
	out := make([]byte, 0, len(fields)*spec.Size)
	for _, f := range fields {
		v, err := parseInt(f, spec)
		if err != nil {
			return nil, err
		}
		out = appendUint(out, v, spec)
	}
	return out, nil
}

func parseInt(f string, spec IntSpec) (uint64, error) {
	bits := spec.Size * 8
	if spec.Signed {
		v, err := strconv.ParseInt(f, 0, bits)
		if err != nil {
			return 0, intErr(f, spec, err)
		}
		return uint64(v), nil
	}
	if strings.HasPrefix(f, "-") {
		return 0, fmt.Errorf("%w: %q is negative but the integer is unsigned (add --signed)", ErrSyntax, f)
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(f, "+"), 0, bits)
	if err != nil {
		return 0, intErr(f, spec, err)
	}
	return v, nil
}

func intErr(f string, spec IntSpec, err error) error {
	if errors.Is(err, strconv.ErrRange) {
		lo, hi := intRange(spec)
		return fmt.Errorf("%w: %s does not fit in %d byte(s) (%s to %s)", ErrSyntax, f, spec.Size, lo, hi)
	}
	return fmt.Errorf("%w: %q is not an integer (decimal, 0x…, 0o… or 0b…)", ErrSyntax, f)
}

func intRange(spec IntSpec) (lo, hi string) {
	bits := uint(spec.Size * 8)
	if spec.Signed {
		return strconv.FormatInt(-1<<(bits-1), 10), strconv.FormatInt(1<<(bits-1)-1, 10)
	}
	if bits == 64 {
		return "0", strconv.FormatUint(math.MaxUint64, 10)
	}
	return "0", strconv.FormatUint(1<<bits-1, 10)
}

func appendUint(dst []byte, v uint64, spec IntSpec) []byte {
	var b [8]byte
	if spec.BigEndian {
		binary.BigEndian.PutUint64(b[:], v)
		return append(dst, b[8-spec.Size:]...)
	}
	binary.LittleEndian.PutUint64(b[:], v)
	return append(dst, b[:spec.Size]...)
}

// DecodeInts splits b into integers of spec. The length must be a multiple of spec.Size.
func DecodeInts(b []byte, spec IntSpec) ([]int64, []uint64, error) {
	if err := spec.Validate(); err != nil {
		return nil, nil, err
	}
	if len(b) == 0 || len(b)%spec.Size != 0 {
		return nil, nil, fmt.Errorf("%w: %d byte(s) is not a whole number of %d-byte integers (try --size or --format hex)", ErrSyntax, len(b), spec.Size)
	}
	var signed []int64
	var unsigned []uint64
	for i := 0; i < len(b); i += spec.Size {
		var w [8]byte
		var v uint64
		if spec.BigEndian {
			copy(w[8-spec.Size:], b[i:i+spec.Size])
			v = binary.BigEndian.Uint64(w[:])
		} else {
			copy(w[:], b[i:i+spec.Size])
			v = binary.LittleEndian.Uint64(w[:])
		}
		if spec.Signed {
			shift := uint(64 - spec.Size*8)
			signed = append(signed, int64(v<<shift)>>shift)
		} else {
			unsigned = append(unsigned, v)
		}
	}
	return signed, unsigned, nil
}

// FormatInts renders b as integers separated by spaces.
func FormatInts(b []byte, spec IntSpec) (string, error) {
	s, u, err := DecodeInts(b, spec)
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(s)+len(u))
	for _, v := range s {
		parts = append(parts, strconv.FormatInt(v, 10))
	}
	for _, v := range u {
		parts = append(parts, strconv.FormatUint(v, 10))
	}
	return strings.Join(parts, " "), nil
}
