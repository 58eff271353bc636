package profile

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Heart Rate Measurement flags (GSS, "Heart Rate Measurement"; Heart Rate Service v1.0 §3.1).
const (
	hrValueUint16 = 0x01 // bit 0: the Heart Rate Measurement Value is a uint16
	hrContact     = 0x02 // bit 1: sensor contact detected (meaningful with bit 2)
	hrContactSup  = 0x04 // bit 2: the Sensor Contact feature is supported
	hrEnergy      = 0x08 // bit 3: Energy Expended present
	hrRR          = 0x10 // bit 4: one or more RR-Intervals present
)

// SensorContact is the Sensor Contact Status of a Heart Rate Measurement (flags bits 1–2).
type SensorContact uint8

// Sensor contact states, as flags bits 2 (supported) and 1 (detected).
const (
	ContactUnsupported SensorContact = 0 // 0b00 or 0b01: the feature is not supported
	ContactNotDetected SensorContact = 2 // 0b10: supported, no contact
	ContactDetected    SensorContact = 3 // 0b11: supported, contact
)

// HeartRate is a Heart Rate Measurement (0x2A37, GSS "Heart Rate Measurement"; Heart Rate
// Service v1.0 §3.1): a flags octet, the heart rate as a uint8 or (flags bit 0) a uint16,
// Energy Expended (bit 3, uint16 kJ), then RR-Intervals (bit 4, uint16 each in 1/1024 s,
// oldest first) up to the end of the value.
type HeartRate struct {
	BPM               uint16        // beats per minute
	Contact           SensorContact // sensor contact status
	EnergyExpended    uint16        // kilojoules since the last reset, if HasEnergyExpended
	HasEnergyExpended bool
	RRIntervals       []float64 // seconds between R waves, oldest first (wire unit 1/1024 s)
}

// DecodeHeartRate decodes a Heart Rate Measurement. RR-Intervals come back exactly (k/1024 s).
// Octets after the last field the flags announce are ignored; an odd octet in the RR-Interval
// list is an error.
func DecodeHeartRate(b []byte) (HeartRate, error) {
	var h HeartRate
	if len(b) < 2 {
		return h, invalid("heart rate measurement of %d octet(s), want at least 2", len(b))
	}
	flags, p := b[0], b[1:]
	if flags&hrValueUint16 != 0 {
		if len(p) < 2 {
			return h, invalid("heart rate measurement: 16-bit value truncated")
		}
		h.BPM, p = binary.LittleEndian.Uint16(p), p[2:]
	} else {
		h.BPM, p = uint16(p[0]), p[1:]
	}
	if flags&hrContactSup != 0 {
		h.Contact = ContactNotDetected | SensorContact(flags&hrContact>>1)
	}
	if flags&hrEnergy != 0 {
		if len(p) < 2 {
			return h, invalid("heart rate measurement: energy expended truncated")
		}
		h.EnergyExpended, h.HasEnergyExpended, p = binary.LittleEndian.Uint16(p), true, p[2:]
	}
	if flags&hrRR != 0 {
		if len(p)%2 != 0 {
			return h, invalid("heart rate measurement: RR-interval truncated")
		}
		for ; len(p) >= 2; p = p[2:] {
			h.RRIntervals = append(h.RRIntervals, float64(binary.LittleEndian.Uint16(p))/1024)
		}
	}
	return h, nil
}

// AppendBinary appends the wire form: the heart rate as a uint8 when it fits, else a uint16;
// RR-Intervals rounded to 1/1024 s. It fails (wrapping ErrInvalid) for an unknown Contact or an
// RR-Interval outside 0–65535/1024 s.
func (h HeartRate) AppendBinary(dst []byte) ([]byte, error) {
	var flags byte
	switch h.Contact {
	case ContactUnsupported:
	case ContactNotDetected:
		flags |= hrContactSup
	case ContactDetected:
		flags |= hrContactSup | hrContact
	default:
		return dst, invalid("heart rate measurement: sensor contact status %d", h.Contact)
	}
	if h.BPM > 0xFF {
		flags |= hrValueUint16
	}
	if h.HasEnergyExpended {
		flags |= hrEnergy
	}
	if len(h.RRIntervals) > 0 {
		flags |= hrRR
	}
	out := append(dst, flags)
	if h.BPM > 0xFF {
		out = binary.LittleEndian.AppendUint16(out, h.BPM)
	} else {
		out = append(out, byte(h.BPM))
	}
	if h.HasEnergyExpended {
		out = binary.LittleEndian.AppendUint16(out, h.EnergyExpended)
	}
	for _, s := range h.RRIntervals {
		k := math.Round(s * 1024)
		if !(k >= 0 && k <= 0xFFFF) { // NaN fails too
			return dst, invalid("heart rate measurement: RR-interval %v s outside 0–%v s", s, 65535.0/1024)
		}
		out = binary.LittleEndian.AppendUint16(out, uint16(k))
	}
	return out, nil
}

// MarshalBinary returns the wire form (see AppendBinary).
func (h HeartRate) MarshalBinary() ([]byte, error) { return marshal(h) }

// String renders the measurement, e.g. "72 bpm, contact, 16 kJ, RR 0.833 s".
func (h HeartRate) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bpm", h.BPM)
	switch h.Contact {
	case ContactDetected:
		b.WriteString(", contact")
	case ContactNotDetected:
		b.WriteString(", no contact")
	}
	if h.HasEnergyExpended {
		fmt.Fprintf(&b, ", %d kJ", h.EnergyExpended)
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

// MarshalJSON writes {"bpm":72,"sensorContact":true,"energyExpendedKJ":16,
// "rrIntervalsSeconds":[0.5]}, leaving out what the measurement does not carry (sensorContact
// when the feature is not supported).
func (h HeartRate) MarshalJSON() ([]byte, error) {
	j := struct {
		BPM           uint16    `json:"bpm"`
		SensorContact *bool     `json:"sensorContact,omitempty"`
		Energy        *uint16   `json:"energyExpendedKJ,omitempty"`
		RR            []float64 `json:"rrIntervalsSeconds,omitempty"`
	}{BPM: h.BPM, RR: h.RRIntervals}
	if h.Contact == ContactDetected || h.Contact == ContactNotDetected {
		c := h.Contact == ContactDetected
		j.SensorContact = &c
	}
	if h.HasEnergyExpended {
		j.Energy = &h.EnergyExpended
	}
	return json.Marshal(j)
}
