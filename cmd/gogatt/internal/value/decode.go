package value

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gogatt/gogatt/bt"
)

// Decoded is a standard characteristic value decoded to its fields. String gives the one-line
// human form; the concrete types marshal to JSON with named fields.
type Decoded interface {
	String() string
	Kind() string // "heart_rate", "battery_level", "temperature"
}

// Standard characteristics Decode knows (Assigned Numbers §3.8).
var (
	UUIDHeartRateMeasurement   = bt.UUID16(0x2a37)
	UUIDBatteryLevel           = bt.UUID16(0x2a19)
	UUIDTemperatureMeasurement = bt.UUID16(0x2a1c)
)

// Decode decodes the value of a standard characteristic. ok is false when uuid is not one Decode
// knows; err is set when it is but the bytes are malformed.
func Decode(uuid bt.UUID, b []byte) (d Decoded, ok bool, err error) {
	switch uuid {
	case UUIDHeartRateMeasurement:
		d, err = DecodeHeartRate(b)
	case UUIDBatteryLevel:
		d, err = DecodeBatteryLevel(b)
	case UUIDTemperatureMeasurement:
		d, err = DecodeTemperature(b)
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	return d, true, nil
}

// HeartRate is a Heart Rate Measurement (0x2A37), Heart Rate Service v1.0 §3.1.1 / GATT
// Specification Supplement §3.113.
type HeartRate struct {
	BPM           int       `json:"bpm"`
	SensorContact *bool     `json:"sensorContact,omitempty"` // nil when the sensor does not report contact
	EnergyKJ      *int      `json:"energyExpendedKJ,omitempty"`
	RRIntervals   []float64 `json:"rrIntervalsSeconds,omitempty"` // seconds (wire unit 1/1024 s)
}

// Kind implements Decoded.
func (HeartRate) Kind() string { return "heart_rate" }

// String renders the measurement, e.g. "72 bpm, contact, RR 0.833 s".
func (h HeartRate) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bpm", h.BPM)
	if h.SensorContact != nil {
		if *h.SensorContact {
			b.WriteString(", contact")
		} else {
			b.WriteString(", no contact")
		}
	}
	if h.EnergyKJ != nil {
		fmt.Fprintf(&b, ", %d kJ", *h.EnergyKJ)
	}
	if len(h.RRIntervals) > 0 {
		b.WriteString(", RR")
		for _, r := range h.RRIntervals {
			fmt.Fprintf(&b, " %.3f", r)
		}
		b.WriteString(" s")
	}
	return b.String()
}

// DecodeHeartRate decodes a Heart Rate Measurement: a flags octet (bit 0: value is uint16;
// bits 1–2: sensor contact detected/supported; bit 3: energy expended present; bit 4: RR
// intervals present), the heart rate, then the optional fields.
func DecodeHeartRate(b []byte) (HeartRate, error) {
	var h HeartRate
	if len(b) < 2 {
		return h, fmt.Errorf("%w: heart rate measurement of %d byte(s), want at least 2", ErrSyntax, len(b))
	}
	flags, p := b[0], b[1:]
	if flags&0x01 != 0 {
		if len(p) < 2 {
			return h, fmt.Errorf("%w: heart rate measurement: 16-bit value truncated", ErrSyntax)
		}
		h.BPM, p = int(binary.LittleEndian.Uint16(p)), p[2:]
	} else {
		h.BPM, p = int(p[0]), p[1:]
	}
	if flags&0x04 != 0 {
		c := flags&0x02 != 0
		h.SensorContact = &c
	}
	if flags&0x08 != 0 {
		if len(p) < 2 {
			return h, fmt.Errorf("%w: heart rate measurement: energy expended truncated", ErrSyntax)
		}
		e := int(binary.LittleEndian.Uint16(p))
		h.EnergyKJ, p = &e, p[2:]
	}
	if flags&0x10 != 0 {
		if len(p)%2 != 0 {
			return h, fmt.Errorf("%w: heart rate measurement: RR intervals truncated", ErrSyntax)
		}
		for ; len(p) >= 2; p = p[2:] {
			h.RRIntervals = append(h.RRIntervals, float64(binary.LittleEndian.Uint16(p))/1024)
		}
	}
	return h, nil
}

// BatteryLevel is a Battery Level (0x2A19): one octet, 0–100 % (Battery Service v1.0 §3.1).
type BatteryLevel struct {
	Percent int `json:"percent"`
}

// Kind implements Decoded.
func (BatteryLevel) Kind() string { return "battery_level" }

// String renders the level, e.g. "87 %".
func (l BatteryLevel) String() string { return fmt.Sprintf("%d %%", l.Percent) }

// DecodeBatteryLevel decodes a Battery Level.
func DecodeBatteryLevel(b []byte) (BatteryLevel, error) {
	if len(b) != 1 {
		return BatteryLevel{}, fmt.Errorf("%w: battery level of %d byte(s), want 1", ErrSyntax, len(b))
	}
	if b[0] > 100 {
		return BatteryLevel{}, fmt.Errorf("%w: battery level %d %% is above 100", ErrSyntax, b[0])
	}
	return BatteryLevel{Percent: int(b[0])}, nil
}

// Temperature is a Temperature Measurement (0x2A1C), Health Thermometer Service v1.0 §3.1.1.
type Temperature struct {
	Value     float64    `json:"value"`             // NaN/±Inf are reported in Special instead
	Special   string     `json:"special,omitempty"` // "NaN", "NRes", "+INF", "-INF", "reserved"
	Unit      string     `json:"unit"`              // "°C" or "°F"
	Timestamp *time.Time `json:"timestamp,omitempty"`
	Type      string     `json:"type,omitempty"` // body location, e.g. "mouth"
	Decimals  int        `json:"-"`              // digits after the point the exponent gives
}

// Kind implements Decoded.
func (Temperature) Kind() string { return "temperature" }

// String renders the temperature at its precision, e.g. "36.5 °C (body)".
func (t Temperature) String() string {
	var b strings.Builder
	if t.Special != "" {
		fmt.Fprintf(&b, "%s %s", t.Special, t.Unit)
	} else {
		fmt.Fprintf(&b, "%s %s", strconv.FormatFloat(t.Value, 'f', t.Decimals, 64), t.Unit)
	}
	if t.Type != "" {
		fmt.Fprintf(&b, " (%s)", t.Type)
	}
	if t.Timestamp != nil {
		fmt.Fprintf(&b, " at %s", t.Timestamp.Format("2006-01-02 15:04:05"))
	}
	return b.String()
}

var temperatureTypes = [...]string{1: "armpit", 2: "body", 3: "ear", 4: "finger", 5: "gastro-intestinal tract", 6: "mouth", 7: "rectum", 8: "toe", 9: "tympanum"}

// DecodeTemperature decodes a Temperature Measurement: flags (bit 0 Fahrenheit, bit 1 time stamp
// present, bit 2 temperature type present), an IEEE-11073 32-bit FLOAT, then the optional fields.
func DecodeTemperature(b []byte) (Temperature, error) {
	var t Temperature
	if len(b) < 5 {
		return t, fmt.Errorf("%w: temperature measurement of %d byte(s), want at least 5", ErrSyntax, len(b))
	}
	flags := b[0]
	t.Unit = "°C"
	if flags&0x01 != 0 {
		t.Unit = "°F"
	}
	raw := binary.LittleEndian.Uint32(b[1:5])
	v, special := Float11073(raw)
	t.Value, t.Special, t.Decimals = v, special, max(0, -int(int8(raw>>24)))
	p := b[5:]
	if flags&0x02 != 0 {
		if len(p) < 7 {
			return t, fmt.Errorf("%w: temperature measurement: time stamp truncated", ErrSyntax)
		}
		ts := time.Date(int(binary.LittleEndian.Uint16(p)), time.Month(p[2]), int(p[3]), int(p[4]), int(p[5]), int(p[6]), 0, time.UTC)
		t.Timestamp, p = &ts, p[7:]
	}
	if flags&0x04 != 0 {
		if len(p) < 1 {
			return t, fmt.Errorf("%w: temperature measurement: type truncated", ErrSyntax)
		}
		if int(p[0]) < len(temperatureTypes) && temperatureTypes[p[0]] != "" {
			t.Type = temperatureTypes[p[0]]
		} else {
			t.Type = fmt.Sprintf("type %d", p[0])
		}
	}
	return t, nil
}

// Float11073 decodes an IEEE-11073-20601 32-bit FLOAT: a 24-bit two's-complement mantissa in the
// low bits and an 8-bit two's-complement base-10 exponent in the high byte. The reserved special
// values (NaN 0x007FFFFF, NRes 0x00800000, +INF 0x007FFFFE, -INF 0x00800002, reserved
// 0x00800001) come back as NaN with their name.
func Float11073(raw uint32) (float64, string) {
	switch raw & 0x00ffffff {
	case 0x7fffff:
		return math.NaN(), "NaN"
	case 0x800000:
		return math.NaN(), "NRes"
	case 0x7ffffe:
		return math.NaN(), "+INF"
	case 0x800002:
		return math.NaN(), "-INF"
	case 0x800001:
		return math.NaN(), "reserved"
	}
	mant := int32(raw<<8) >> 8
	exp := int(int8(raw >> 24))
	// Round to the precision the exponent implies, so 3650e-2 prints as 36.5, not 36.500000001.
	v := float64(mant) * math.Pow10(exp)
	if exp < 0 {
		s := strconv.FormatFloat(v, 'f', -exp, 64)
		v, _ = strconv.ParseFloat(s, 64)
	}
	return v, ""
}
