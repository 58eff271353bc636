package profile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Temperature Measurement flags (GSS, "Temperature Measurement"; Health Thermometer Service
// v1.0 §3.1).
const (
	tmFahrenheit = 0x01 // bit 0: the value is in degrees Fahrenheit, else Celsius
	tmTimestamp  = 0x02 // bit 1: Time Stamp present
	tmType       = 0x04 // bit 2: Temperature Type present
)

// TemperatureType is a body location (GSS "Temperature Type", 0x2A1D).
type TemperatureType uint8

// Temperature types; 0 and 10–255 are reserved.
const (
	TypeArmpit         TemperatureType = 1
	TypeBody           TemperatureType = 2 // general
	TypeEar            TemperatureType = 3 // usually earlobe
	TypeFinger         TemperatureType = 4
	TypeGastroIntest   TemperatureType = 5 // gastro-intestinal tract
	TypeMouth          TemperatureType = 6
	TypeRectum         TemperatureType = 7
	TypeToe            TemperatureType = 8
	TypeTympanum       TemperatureType = 9 // ear drum
	maxTemperatureType                 = TypeTympanum
)

var temperatureTypes = [...]string{1: "armpit", 2: "body", 3: "ear", 4: "finger", 5: "gastro-intestinal tract", 6: "mouth", 7: "rectum", 8: "toe", 9: "tympanum"}

// String names the location, e.g. "mouth", or "type 42" for a reserved value.
func (t TemperatureType) String() string {
	if t >= 1 && t <= maxTemperatureType {
		return temperatureTypes[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// DateTime is a Date Time field (GSS "Date Time", 0x2A08): year 1582–9999, month 1–12, day
// 1–31, hours 0–23, minutes and seconds 0–59. 0 in Year, Month or Day means "not known". It
// has no time zone.
type DateTime struct {
	Year                                uint16
	Month, Day, Hours, Minutes, Seconds uint8
}

// Time returns d as a time.Time in loc; false when a field is unknown or out of range.
func (d DateTime) Time(loc *time.Location) (time.Time, bool) {
	if d.Year < 1582 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Hours > 23 || d.Minutes > 59 || d.Seconds > 59 {
		return time.Time{}, false
	}
	t := time.Date(int(d.Year), time.Month(d.Month), int(d.Day), int(d.Hours), int(d.Minutes), int(d.Seconds), 0, loc)
	if t.Day() != int(d.Day) { // 31 April
		return time.Time{}, false
	}
	return t, true
}

// String writes "2026-11-24 09:30:05"; unknown fields show as zeros.
func (d DateTime) String() string {
	return fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", d.Year, d.Month, d.Day, d.Hours, d.Minutes, d.Seconds)
}

// MarshalText writes "2026-11-24T09:30:05" (ISO 8601 local time, without a zone).
func (d DateTime) MarshalText() ([]byte, error) {
	return []byte(strings.Replace(d.String(), " ", "T", 1)), nil
}

// Temperature is a Temperature Measurement (0x2A1C, GSS "Temperature Measurement"; Health
// Thermometer Service v1.0 §3.1), the format Intermediate Temperature (0x2A1E) shares: a flags
// octet, the temperature as an IEEE 11073-20601 FLOAT, then a Time Stamp (flags bit 1, a Date
// Time) and a Temperature Type (bit 2).
type Temperature struct {
	Value        Float
	Fahrenheit   bool // the unit: °F, else °C
	Timestamp    DateTime
	HasTimestamp bool
	Type         TemperatureType
	HasType      bool
}

// DecodeTemperature decodes a Temperature Measurement. Octets after the last field the flags
// announce are ignored.
func DecodeTemperature(b []byte) (Temperature, error) {
	var t Temperature
	if len(b) < 5 {
		return t, invalid("temperature measurement of %d octet(s), want at least 5", len(b))
	}
	flags := b[0]
	t.Fahrenheit = flags&tmFahrenheit != 0
	t.Value = FloatFromBits(binary.LittleEndian.Uint32(b[1:5]))
	p := b[5:]
	if flags&tmTimestamp != 0 {
		if len(p) < 7 {
			return t, invalid("temperature measurement: time stamp truncated")
		}
		t.Timestamp = DateTime{Year: binary.LittleEndian.Uint16(p), Month: p[2], Day: p[3], Hours: p[4], Minutes: p[5], Seconds: p[6]}
		t.HasTimestamp, p = true, p[7:]
	}
	if flags&tmType != 0 {
		if len(p) < 1 {
			return t, invalid("temperature measurement: temperature type truncated")
		}
		t.Type, t.HasType = TemperatureType(p[0]), true
	}
	return t, nil
}

// AppendBinary appends the wire form. It fails (wrapping ErrInvalid) when Value has no FLOAT
// encoding (see Float.Bits).
func (t Temperature) AppendBinary(dst []byte) ([]byte, error) {
	raw, err := t.Value.Bits()
	if err != nil {
		return dst, fmt.Errorf("temperature measurement: %w", err)
	}
	var flags byte
	if t.Fahrenheit {
		flags |= tmFahrenheit
	}
	if t.HasTimestamp {
		flags |= tmTimestamp
	}
	if t.HasType {
		flags |= tmType
	}
	out := binary.LittleEndian.AppendUint32(append(dst, flags), raw)
	if t.HasTimestamp {
		d := t.Timestamp
		out = binary.LittleEndian.AppendUint16(out, d.Year)
		out = append(out, d.Month, d.Day, d.Hours, d.Minutes, d.Seconds)
	}
	if t.HasType {
		out = append(out, byte(t.Type))
	}
	return out, nil
}

// MarshalBinary returns the wire form (see AppendBinary).
func (t Temperature) MarshalBinary() ([]byte, error) { return marshal(t) }

// Unit returns "°C" or "°F".
func (t Temperature) Unit() string {
	if t.Fahrenheit {
		return "°F"
	}
	return "°C"
}

// String renders the temperature at its precision, e.g. "36.50 °C (mouth) at 2026-11-24
// 09:30:05", or "NaN °C".
func (t Temperature) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", t.Value, t.Unit())
	if t.HasType {
		fmt.Fprintf(&b, " (%s)", t.Type)
	}
	if t.HasTimestamp {
		fmt.Fprintf(&b, " at %s", t.Timestamp)
	}
	return b.String()
}

// MarshalJSON writes {"value":36.50,"unit":"°C","timestamp":"2026-11-24T09:30:05",
// "type":"mouth"}; a special value is left out of "value" and named in "special" ("NaN", "NRes",
// "+INF", "-INF", "reserved").
func (t Temperature) MarshalJSON() ([]byte, error) {
	j := struct {
		Value     *Float    `json:"value,omitempty"`
		Special   string    `json:"special,omitempty"`
		Unit      string    `json:"unit"`
		Timestamp *DateTime `json:"timestamp,omitempty"`
		Type      string    `json:"type,omitempty"`
	}{Unit: t.Unit(), Special: t.Value.Special.String()}
	if t.Value.Special == SpecialNone {
		j.Value = &t.Value
	}
	if t.HasTimestamp {
		j.Timestamp = &t.Timestamp
	}
	if t.HasType {
		j.Type = t.Type.String()
	}
	return json.Marshal(j)
}
