package profile

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Special is one of the special values of an IEEE 11073-20601 FLOAT or SFLOAT (GSS data types
// medfloat32 and medfloat16), or SpecialNone for a number.
type Special uint8

// Special values. Each is one exact bit pattern, with exponent 0:
//
//	           FLOAT       SFLOAT
//	NaN        0x007FFFFF  0x07FF   not a number
//	NRes       0x00800000  0x0800   not at this resolution
//	+INF       0x007FFFFE  0x07FE
//	-INF       0x00800002  0x0802
//	reserved   0x00800001  0x0801   reserved for future use
const (
	SpecialNone Special = iota
	SpecialNaN
	SpecialNRes
	SpecialPosInf
	SpecialNegInf
	SpecialReserved
)

var specialNames = [...]string{"", "NaN", "NRes", "+INF", "-INF", "reserved"}

// String returns "NaN", "NRes", "+INF", "-INF", "reserved", or "" for SpecialNone.
func (s Special) String() string {
	if int(s) < len(specialNames) {
		return specialNames[s]
	}
	return "Special(" + strconv.Itoa(int(s)) + ")"
}

// specials are the special values' bit patterns: FLOAT, then SFLOAT, indexed by Special.
var specials = [...][2]uint32{
	SpecialNaN:      {0x007FFFFF, 0x07FF},
	SpecialNRes:     {0x00800000, 0x0800},
	SpecialPosInf:   {0x007FFFFE, 0x07FE},
	SpecialNegInf:   {0x00800002, 0x0802},
	SpecialReserved: {0x00800001, 0x0801},
}

// specialOf returns the special value whose bit pattern (FLOAT if w is 0, SFLOAT if 1) is raw,
// or SpecialNone.
func specialOf(raw uint32, w int) Special {
	for s := SpecialNaN; s <= SpecialReserved; s++ {
		if specials[s][w] == raw {
			return s
		}
	}
	return SpecialNone
}

// Float is an IEEE 11073-20601 FLOAT (32 bits: an 8-bit exponent above a 24-bit mantissa) or
// SFLOAT (16 bits: a 4-bit exponent above a 12-bit mantissa), both two's complement, worth
// Mantissa × 10^Exponent — or, when Special is set, a special value (Mantissa and Exponent are
// then 0). The exponent carries the precision: 365e-1 and 3650e-2 are both 36.5, written
// "36.5" and "36.50".
type Float struct {
	Mantissa int32
	Exponent int8
	Special  Special
}

// FloatFromBits decodes a FLOAT.
func FloatFromBits(raw uint32) Float {
	if s := specialOf(raw, 0); s != SpecialNone {
		return Float{Special: s}
	}
	return Float{Mantissa: int32(raw<<8) >> 8, Exponent: int8(raw >> 24)}
}

// SFloatFromBits decodes an SFLOAT.
func SFloatFromBits(raw uint16) Float {
	if s := specialOf(uint32(raw), 1); s != SpecialNone {
		return Float{Special: s}
	}
	return Float{Mantissa: int32(int16(raw<<4) >> 4), Exponent: int8(int16(raw) >> 12)}
}

// Bits encodes f as a FLOAT. It fails (wrapping ErrInvalid) when the mantissa does not fit 24
// bits, when a number would take a special value's bit pattern, or when Special is unknown or
// set together with a mantissa or exponent.
func (f Float) Bits() (uint32, error) {
	raw, err := f.bits(24, -128, 127)
	return raw, err
}

// SFloatBits encodes f as an SFLOAT: a 12-bit mantissa and an exponent from -8 to 7.
func (f Float) SFloatBits() (uint16, error) {
	raw, err := f.bits(12, -8, 7)
	return uint16(raw), err
}

func (f Float) bits(mbits uint, emin, emax int8) (uint32, error) {
	w, name, ebits := 0, "FLOAT", uint(8)
	if mbits == 12 {
		w, name, ebits = 1, "SFLOAT", 4
	}
	if f.Special != SpecialNone {
		if int(f.Special) >= len(specials) || f.Mantissa != 0 || f.Exponent != 0 {
			return 0, invalid("%s: special value %v with mantissa %d and exponent %d", name, f.Special, f.Mantissa, f.Exponent)
		}
		return specials[f.Special][w], nil
	}
	lim := int32(1) << (mbits - 1)
	if f.Mantissa < -lim || f.Mantissa >= lim {
		return 0, invalid("%s: mantissa %d does not fit %d bits", name, f.Mantissa, mbits)
	}
	if f.Exponent < emin || f.Exponent > emax {
		return 0, invalid("%s: exponent %d outside %d…%d", name, f.Exponent, emin, emax)
	}
	raw := (uint32(uint8(f.Exponent))&(1<<ebits-1))<<mbits | uint32(f.Mantissa)&(1<<mbits-1)
	if specialOf(raw, w) != SpecialNone {
		return 0, invalid("%s: mantissa %d with exponent 0 is a special value's bit pattern", name, f.Mantissa)
	}
	return raw, nil
}

// NewFloat returns v rounded to decimals digits after the point: Mantissa is v × 10^decimals
// rounded to the nearest integer (halves to even), Exponent is -decimals; decimals may be
// negative (down to -127). NaN and ±Inf give SpecialNaN, SpecialPosInf and SpecialNegInf. A mantissa beyond
// the int32 range saturates (Bits and SFloatBits then report it too big).
func NewFloat(v float64, decimals int8) Float {
	switch {
	case math.IsNaN(v):
		return Float{Special: SpecialNaN}
	case math.IsInf(v, 1):
		return Float{Special: SpecialPosInf}
	case math.IsInf(v, -1):
		return Float{Special: SpecialNegInf}
	}
	decimals = max(decimals, -127)
	var s string
	if decimals >= 0 {
		s = strings.Replace(strconv.FormatFloat(v, 'f', int(decimals), 64), ".", "", 1)
	} else {
		s = strconv.FormatFloat(v/math.Pow10(-int(decimals)), 'f', 0, 64)
	}
	m, err := strconv.ParseInt(s, 10, 32)
	if err != nil { // out of range: ParseInt returned the nearest bound
		m = max(math.MinInt32, min(math.MaxInt32, m))
	}
	return Float{Mantissa: int32(m), Exponent: -decimals}
}

// Decimals returns the number of digits after the point the exponent gives (0 when the
// exponent is not negative).
func (f Float) Decimals() int { return max(0, -int(f.Exponent)) }

// String writes the number exactly, with as many decimals as the exponent says ("36.50" for
// 3650e-2, "400" for 4e2), or the special value's name.
func (f Float) String() string {
	if f.Special != SpecialNone {
		return f.Special.String()
	}
	digits := strconv.FormatInt(int64(f.Mantissa), 10)
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	if f.Exponent >= 0 {
		if f.Mantissa != 0 {
			digits += strings.Repeat("0", int(f.Exponent))
		}
	} else {
		d := f.Decimals()
		if len(digits) <= d {
			digits = strings.Repeat("0", d-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-d] + "." + digits[len(digits)-d:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// Float64 returns the value nearest f: NaN for SpecialNaN, SpecialNRes and SpecialReserved,
// ±Inf for the infinities.
func (f Float) Float64() float64 {
	switch f.Special {
	case SpecialNone:
	case SpecialPosInf:
		return math.Inf(1)
	case SpecialNegInf:
		return math.Inf(-1)
	default:
		return math.NaN()
	}
	v, _ := strconv.ParseFloat(f.String(), 64) // exact decimal in, correctly rounded out
	return v
}

// MarshalJSON writes a number as a JSON number with the exponent's decimals (36.50), and a
// special value as its name in a string ("NaN").
func (f Float) MarshalJSON() ([]byte, error) {
	if f.Special != SpecialNone {
		return json.Marshal(f.Special.String())
	}
	return []byte(f.String()), nil
}
