package profile

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFloat decodes and encodes IEEE 11073-20601 FLOATs (GSS medfloat32): numbers, whose
// exponent keeps the precision, and the five special values, which are exact bit patterns.
func TestFloat(t *testing.T) {
	for _, tc := range []struct {
		raw  uint32
		f    Float
		text string
		v    float64 // NaN for NaN, NRes, reserved
	}{
		{0x00000002, Float{Mantissa: 2}, "2", 2},
		{0xFF000014, Float{Mantissa: 20, Exponent: -1}, "2.0", 2},
		{0xFE0000C8, Float{Mantissa: 200, Exponent: -2}, "2.00", 2},
		{0x01000002, Float{Mantissa: 2, Exponent: 1}, "20", 20},
		{0x02000002, Float{Mantissa: 2, Exponent: 2}, "200", 200},
		{0x000004D2, Float{Mantissa: 1234}, "1234", 1234},
		{0x00FFFB2E, Float{Mantissa: -1234}, "-1234", -1234},
		{0xFE000E42, Float{Mantissa: 3650, Exponent: -2}, "36.50", 36.5},
		{0xFF00016D, Float{Mantissa: 365, Exponent: -1}, "36.5", 36.5},
		{0xFFFFFFFF, Float{Mantissa: -1, Exponent: -1}, "-0.1", -0.1},
		{0xFDFFFFFB, Float{Mantissa: -5, Exponent: -3}, "-0.005", -0.005},
		{0xFE000000, Float{Exponent: -2}, "0.00", 0},
		{0x7F000001, Float{Mantissa: 1, Exponent: 127}, "1" + strings.Repeat("0", 127), 1e127},
		{0x007FFFFD, Float{Mantissa: 0x7FFFFD}, "8388605", 8388605},    // largest number
		{0x00800003, Float{Mantissa: -0x7FFFFD}, "-8388605", -8388605}, // smallest
		{0x017FFFFF, Float{Mantissa: 0x7FFFFF, Exponent: 1}, "83886070", 83886070},
		{0x007FFFFF, Float{Special: SpecialNaN}, "NaN", math.NaN()},
		{0x00800000, Float{Special: SpecialNRes}, "NRes", math.NaN()},
		{0x007FFFFE, Float{Special: SpecialPosInf}, "+INF", math.Inf(1)},
		{0x00800002, Float{Special: SpecialNegInf}, "-INF", math.Inf(-1)},
		{0x00800001, Float{Special: SpecialReserved}, "reserved", math.NaN()},
	} {
		f := FloatFromBits(tc.raw)
		if f != tc.f {
			t.Errorf("FloatFromBits(%08x) = %+v, want %+v", tc.raw, f, tc.f)
			continue
		}
		if f.String() != tc.text {
			t.Errorf("FloatFromBits(%08x).String() = %q, want %q", tc.raw, f.String(), tc.text)
		}
		if v := f.Float64(); v != tc.v && !(math.IsNaN(v) && math.IsNaN(tc.v)) {
			t.Errorf("FloatFromBits(%08x).Float64() = %v, want %v", tc.raw, v, tc.v)
		}
		if raw, err := tc.f.Bits(); err != nil || raw != tc.raw {
			t.Errorf("%+v.Bits() = %08x, %v; want %08x", tc.f, raw, err, tc.raw)
		}
	}
}

// TestSFloat does the same for SFLOATs (GSS medfloat16).
func TestSFloat(t *testing.T) {
	for _, tc := range []struct {
		raw  uint16
		f    Float
		text string
	}{
		{0x0002, Float{Mantissa: 2}, "2"},
		{0xF014, Float{Mantissa: 20, Exponent: -1}, "2.0"},
		{0xE0C8, Float{Mantissa: 200, Exponent: -2}, "2.00"},
		{0x1002, Float{Mantissa: 2, Exponent: 1}, "20"},
		{0x2002, Float{Mantissa: 2, Exponent: 2}, "200"},
		{0x00C8, Float{Mantissa: 200}, "200"},
		{0x04D2, Float{Mantissa: 1234}, "1234"},
		{0x0B2E, Float{Mantissa: -1234}, "-1234"},
		{0xF16D, Float{Mantissa: 365, Exponent: -1}, "36.5"},
		{0x87FD, Float{Mantissa: 2045, Exponent: -8}, "0.00002045"},
		{0x07FF, Float{Special: SpecialNaN}, "NaN"},
		{0x0800, Float{Special: SpecialNRes}, "NRes"},
		{0x07FE, Float{Special: SpecialPosInf}, "+INF"},
		{0x0802, Float{Special: SpecialNegInf}, "-INF"},
		{0x0801, Float{Special: SpecialReserved}, "reserved"},
		{0x17FF, Float{Mantissa: 2047, Exponent: 1}, "20470"},
	} {
		f := SFloatFromBits(tc.raw)
		if f != tc.f || f.String() != tc.text {
			t.Errorf("SFloatFromBits(%04x) = %+v %q, want %+v %q", tc.raw, f, f.String(), tc.f, tc.text)
			continue
		}
		if raw, err := tc.f.SFloatBits(); err != nil || raw != tc.raw {
			t.Errorf("%+v.SFloatBits() = %04x, %v; want %04x", tc.f, raw, err, tc.raw)
		}
	}
}

// TestSFloatEveryPattern decodes all 65536 SFLOATs and encodes them back.
func TestSFloatEveryPattern(t *testing.T) {
	for raw := range 1 << 16 {
		f := SFloatFromBits(uint16(raw))
		back, err := f.SFloatBits()
		if err != nil || back != uint16(raw) {
			t.Fatalf("SFLOAT %04x → %+v → %04x, %v", raw, f, back, err)
		}
	}
}

func TestFloatEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		f     Float
		float bool // FLOAT fails (else only SFLOAT)
	}{
		{Float{Mantissa: 1 << 23}, true},
		{Float{Mantissa: -1<<23 - 1}, true},
		{Float{Mantissa: 0x7FFFFF}, true},  // NaN's pattern
		{Float{Mantissa: -0x800000}, true}, // NRes's pattern
		{Float{Mantissa: 0x7FFFFE}, true},
		{Float{Mantissa: -0x7FFFFE}, true},
		{Float{Mantissa: -0x7FFFFF}, true},
		{Float{Special: SpecialNaN, Mantissa: 1}, true},
		{Float{Special: 9}, true},
		{Float{Mantissa: 2048}, false},
		{Float{Mantissa: 2047}, false}, // SFLOAT NaN's pattern
		{Float{Mantissa: 1, Exponent: 8}, false},
		{Float{Mantissa: 1, Exponent: -9}, false},
	} {
		_, ferr := tc.f.Bits()
		if (ferr != nil) != tc.float {
			t.Errorf("%+v.Bits() error %v, want error %v", tc.f, ferr, tc.float)
		}
		if ferr != nil && !errors.Is(ferr, ErrInvalid) {
			t.Errorf("%+v.Bits() error %v does not wrap ErrInvalid", tc.f, ferr)
		}
		if _, err := tc.f.SFloatBits(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v.SFloatBits() error %v, want ErrInvalid", tc.f, err)
		}
	}
}

func TestNewFloat(t *testing.T) {
	for _, tc := range []struct {
		v        float64
		decimals int8
		want     Float
	}{
		{36.5, 1, Float{Mantissa: 365, Exponent: -1}},
		{36.5, 2, Float{Mantissa: 3650, Exponent: -2}},
		{-0.05, 2, Float{Mantissa: -5, Exponent: -2}},
		{36.46, 1, Float{Mantissa: 365, Exponent: -1}},
		{1234, -2, Float{Mantissa: 12, Exponent: 2}},
		{0.125, 2, Float{Mantissa: 12, Exponent: -2}}, // half to even
		{math.NaN(), 1, Float{Special: SpecialNaN}},
		{math.Inf(1), 1, Float{Special: SpecialPosInf}},
		{math.Inf(-1), 1, Float{Special: SpecialNegInf}},
		{1e300, 0, Float{Mantissa: math.MaxInt32}},
		{-1e300, 0, Float{Mantissa: math.MinInt32}},
		{5, -128, Float{Exponent: 127}},
	} {
		if got := NewFloat(tc.v, tc.decimals); got != tc.want {
			t.Errorf("NewFloat(%v, %d) = %+v, want %+v", tc.v, tc.decimals, got, tc.want)
		}
	}
}

// TestHeartRate follows the fields of GSS "Heart Rate Measurement": flags bit 0 value format
// (uint8/uint16), bits 1–2 sensor contact status, bit 3 Energy Expended, bit 4 RR-Intervals in
// 1/1024 s, bits 5–7 reserved.
func TestHeartRate(t *testing.T) {
	for _, tc := range []struct {
		in    string
		want  HeartRate
		text  string
		canon string // the encoding of want, when it differs from in
	}{
		{"00 48", HeartRate{BPM: 72}, "72 bpm", ""},
		{"02 48", HeartRate{BPM: 72}, "72 bpm", "00 48"}, // 0b01: not supported either
		{"04 48", HeartRate{BPM: 72, Contact: ContactNotDetected}, "72 bpm, no contact", ""},
		{"06 48", HeartRate{BPM: 72, Contact: ContactDetected}, "72 bpm, contact", ""},
		{"01 2c 01", HeartRate{BPM: 300}, "300 bpm", ""},
		{"01 48 00", HeartRate{BPM: 72}, "72 bpm", "00 48"}, // uint16 format for a small value
		{"08 3c 10 00", HeartRate{BPM: 60, EnergyExpended: 16, HasEnergyExpended: true}, "60 bpm, 16 kJ", ""},
		{"16 4b 00 04 00 02", HeartRate{BPM: 75, Contact: ContactDetected, RRIntervals: []float64{1, 0.5}}, "75 bpm, contact, RR 1.000 0.500 s", ""},
		{"1e 50 05 00 00 04", HeartRate{BPM: 80, Contact: ContactDetected, EnergyExpended: 5, HasEnergyExpended: true, RRIntervals: []float64{1}}, "80 bpm, contact, 5 kJ, RR 1.000 s", ""},
		{"19 ff ff ff ff 01 00 ff ff", HeartRate{BPM: 65535, EnergyExpended: 65535, HasEnergyExpended: true, RRIntervals: []float64{1.0 / 1024, 65535.0 / 1024}}, "65535 bpm, 65535 kJ, RR 0.001 63.999 s", ""},
		{"10 48", HeartRate{BPM: 72}, "72 bpm", "00 48"}, // RR bit with no interval
		{"e0 48", HeartRate{BPM: 72}, "72 bpm", "00 48"}, // reserved bits
		{"00 48 99", HeartRate{BPM: 72}, "72 bpm", "00 48"},
	} {
		in := hx(t, tc.in)
		h, err := DecodeHeartRate(in)
		if err != nil || !reflect.DeepEqual(h, tc.want) || h.String() != tc.text {
			t.Errorf("DecodeHeartRate(%s) = %+v %q, %v; want %+v %q", tc.in, h, h.String(), err, tc.want, tc.text)
			continue
		}
		canon := in
		if tc.canon != "" {
			canon = hx(t, tc.canon)
		}
		if out, err := tc.want.MarshalBinary(); err != nil || !bytes.Equal(out, canon) {
			t.Errorf("%+v.MarshalBinary() = % x, %v; want % x", tc.want, out, err, canon)
		}
	}
	for _, bad := range []string{"", "00", "01 01", "08 3c 01", "10 3c 01", "18 3c 01 00 02"} {
		if _, err := DecodeHeartRate(hx(t, bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeHeartRate(%s) error %v, want ErrInvalid", bad, err)
		}
	}
	for _, bad := range []HeartRate{{Contact: 1}, {Contact: 4}, {RRIntervals: []float64{-1}}, {RRIntervals: []float64{64.1}}, {RRIntervals: []float64{math.NaN()}}} {
		if out, err := bad.AppendBinary([]byte{0xAA}); !errors.Is(err, ErrInvalid) || !bytes.Equal(out, []byte{0xAA}) {
			t.Errorf("%+v.AppendBinary() = % x, %v; want the input back and ErrInvalid", bad, out, err)
		}
	}
}

func TestBatteryLevel(t *testing.T) {
	for _, p := range []uint8{0, 87, 100} {
		l, err := DecodeBatteryLevel([]byte{p})
		if err != nil || l.Percent != p {
			t.Errorf("DecodeBatteryLevel(%d) = %v, %v", p, l, err)
		}
		if out, err := l.MarshalBinary(); err != nil || !bytes.Equal(out, []byte{p}) {
			t.Errorf("%v.MarshalBinary() = % x, %v", l, out, err)
		}
	}
	if s := (BatteryLevel{87}).String(); s != "87 %" {
		t.Errorf("String = %q", s)
	}
	for _, bad := range [][]byte{nil, {1, 2}, {101}, {0xFF}} {
		if _, err := DecodeBatteryLevel(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeBatteryLevel(% x) error %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := (BatteryLevel{101}).MarshalBinary(); !errors.Is(err, ErrInvalid) {
		t.Errorf("101 %% encoded: %v", err)
	}
}

// TestTemperature follows the fields of GSS "Temperature Measurement": flags bit 0 unit
// (Celsius/Fahrenheit), bit 1 Time Stamp (Date Time), bit 2 Temperature Type; the value is a
// FLOAT.
func TestTemperature(t *testing.T) {
	ts := DateTime{Year: 2026, Month: 11, Day: 24, Hours: 9, Minutes: 30, Seconds: 5}
	for _, tc := range []struct {
		in   string
		want Temperature
		text string
	}{
		{"00 42 0e 00 fe", Temperature{Value: Float{Mantissa: 3650, Exponent: -2}}, "36.50 °C"},
		{"00 72 01 00 ff", Temperature{Value: Float{Mantissa: 370, Exponent: -1}}, "37.0 °C"},
		{"00 25 00 00 00", Temperature{Value: Float{Mantissa: 37}}, "37 °C"},
		{"01 9c 03 00 ff", Temperature{Value: Float{Mantissa: 924, Exponent: -1}, Fahrenheit: true}, "92.4 °F"},
		{"04 42 0e 00 fe 06", Temperature{Value: Float{Mantissa: 3650, Exponent: -2}, Type: TypeMouth, HasType: true}, "36.50 °C (mouth)"},
		{"06 42 0e 00 fe ea 07 0b 18 09 1e 05 02", Temperature{Value: Float{Mantissa: 3650, Exponent: -2}, Timestamp: ts, HasTimestamp: true, Type: TypeBody, HasType: true}, "36.50 °C (body) at 2026-11-24 09:30:05"},
		{"02 6c 01 00 ff 00 00 00 00 00 00 00", Temperature{Value: Float{Mantissa: 364, Exponent: -1}, HasTimestamp: true}, "36.4 °C at 0000-00-00 00:00:00"},
		{"00 ff ff 7f 00", Temperature{Value: Float{Special: SpecialNaN}}, "NaN °C"},
		{"00 fe ff 7f 00", Temperature{Value: Float{Special: SpecialPosInf}}, "+INF °C"},
		{"04 42 0e 00 fe 2a", Temperature{Value: Float{Mantissa: 3650, Exponent: -2}, Type: 42, HasType: true}, "36.50 °C (type 42)"},
	} {
		in := hx(t, tc.in)
		d, err := DecodeTemperature(in)
		if err != nil || d != tc.want || d.String() != tc.text {
			t.Errorf("DecodeTemperature(%s) = %+v %q, %v; want %+v %q", tc.in, d, d.String(), err, tc.want, tc.text)
			continue
		}
		if out, err := d.MarshalBinary(); err != nil || !bytes.Equal(out, in) {
			t.Errorf("%+v.MarshalBinary() = % x, %v; want %s", d, out, err, tc.in)
		}
	}
	for _, bad := range []string{"", "00 01 02", "02 42 0e 00 fe 01", "04 42 0e 00 fe"} {
		if _, err := DecodeTemperature(hx(t, bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodeTemperature(%s) error %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := (Temperature{Value: Float{Mantissa: 1 << 24}}).MarshalBinary(); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized mantissa encoded: %v", err)
	}
	if tm, ok := ts.Time(time.UTC); !ok || !tm.Equal(time.Date(2026, 11, 24, 9, 30, 5, 0, time.UTC)) {
		t.Errorf("Time() = %v, %v", tm, ok)
	}
	for _, bad := range []DateTime{{}, {Year: 2026, Month: 4, Day: 31}, {Year: 2026, Month: 13, Day: 1}, {Year: 2026, Month: 1, Day: 1, Hours: 24}} {
		if _, ok := bad.Time(time.UTC); ok {
			t.Errorf("%v.Time() succeeded", bad)
		}
	}
}

func TestJSON(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{HeartRate{BPM: 87, Contact: ContactDetected}, `{"bpm":87,"sensorContact":true}`},
		{HeartRate{BPM: 87, Contact: ContactNotDetected, HasEnergyExpended: true, RRIntervals: []float64{0.5}}, `{"bpm":87,"sensorContact":false,"energyExpendedKJ":0,"rrIntervalsSeconds":[0.5]}`},
		{HeartRate{BPM: 60}, `{"bpm":60}`},
		{BatteryLevel{56}, `{"percent":56}`},
		{Temperature{Value: Float{Mantissa: 3650, Exponent: -2}}, `{"value":36.50,"unit":"°C"}`},
		{Temperature{Value: Float{Special: SpecialNaN}, Fahrenheit: true, Type: TypeMouth, HasType: true,
			Timestamp: DateTime{2026, 11, 24, 9, 30, 5}, HasTimestamp: true},
			`{"special":"NaN","unit":"°F","timestamp":"2026-11-24T09:30:05","type":"mouth"}`},
		{Float{Special: SpecialNRes}, `"NRes"`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("json.Marshal(%+v) = %s, %v; want %s", tc.v, b, err, tc.want)
		}
	}
}

func TestDecodeDispatch(t *testing.T) {
	for _, tc := range []struct {
		uuid bt.UUID
		in   []byte
		want Value
	}{
		{gatt.UUIDHeartRateMeasurement, []byte{0x06, 72}, HeartRate{BPM: 72, Contact: ContactDetected}},
		{gatt.UUIDBatteryLevel, []byte{50}, BatteryLevel{50}},
		{gatt.UUIDTemperatureMeasurement, []byte{0, 0x6d, 1, 0, 0xff}, Temperature{Value: Float{Mantissa: 365, Exponent: -1}}},
		{gatt.UUIDIntermediateTemperature, []byte{0, 0x6d, 1, 0, 0xff}, Temperature{Value: Float{Mantissa: 365, Exponent: -1}}},
	} {
		v, ok, err := Decode(tc.uuid, tc.in)
		if !ok || err != nil || !reflect.DeepEqual(v, tc.want) {
			t.Errorf("Decode(%s) = %v, %v, %v; want %v", tc.uuid.Short(), v, ok, err, tc.want)
		}
	}
	if _, ok, _ := Decode(gatt.UUIDDeviceName, []byte("x")); ok {
		t.Error("Decode(2a00) claims to know it")
	}
	if _, ok, err := Decode(gatt.UUIDHeartRateMeasurement, nil); !ok || !errors.Is(err, ErrInvalid) {
		t.Errorf("Decode(hr, nil) = %v, %v", ok, err)
	}
}

// FuzzFloat checks that every FLOAT decodes and encodes back to itself, and that String and
// Float64 agree.
func FuzzFloat(f *testing.F) {
	for _, raw := range []uint32{0, 0xFE000E42, 0x007FFFFF, 0x00800000, 0x007FFFFE, 0x00800002, 0x00800001, 0x017FFFFF, 0x80FFFFFF, 0x7F800000} {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw uint32) {
		v := FloatFromBits(raw)
		back, err := v.Bits()
		if err != nil || back != raw {
			t.Fatalf("%08x → %+v → %08x, %v", raw, v, back, err)
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("%+v: json: %v", v, err)
		}
		if v.Special == SpecialNone && v.Exponent >= -20 && v.Exponent <= 20 {
			got, want := v.Float64(), float64(v.Mantissa)*math.Pow10(int(v.Exponent))
			if math.Abs(got-want) > 1e-15*math.Abs(want) {
				t.Fatalf("%+v (%s): Float64 %v, want about %v", v, v, got, want)
			}
		}
	})
}

// FuzzDecodeHeartRate checks that decoding never panics and that a decoded measurement encodes
// to a canonical form that decodes back to it.
func FuzzDecodeHeartRate(f *testing.F) {
	for _, s := range []string{"0048", "0648", "012c01", "083c1000", "164b00040002", "1eff05000004", "19ffffffff0100ffff", "10", "1048"} {
		f.Add(hx(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeartRate(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		_ = h.String()
		if _, err := json.Marshal(h); err != nil {
			t.Fatal(err)
		}
		out, err := h.MarshalBinary()
		if err != nil {
			t.Fatalf("%+v: %v", h, err)
		}
		h2, err := DecodeHeartRate(out)
		if err != nil || !reflect.DeepEqual(h, h2) {
			t.Fatalf("% x → %+v → % x → %+v, %v", b, h, out, h2, err)
		}
	})
}

// FuzzDecodeTemperature checks that decoding never panics and that a decoded measurement
// encodes back to the octets it came from (less reserved flag bits and trailing octets).
func FuzzDecodeTemperature(f *testing.F) {
	for _, s := range []string{"00420e00fe", "019c0300ff", "06420e00feea070b18091e0502", "00ffff7f00", "0400000080ff", "ff0000000000000000000000000000"} {
		f.Add(hx(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeTemperature(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		_ = d.String()
		if _, err := json.Marshal(d); err != nil {
			t.Fatal(err)
		}
		out, err := d.MarshalBinary()
		if err != nil {
			t.Fatalf("%+v: %v", d, err)
		}
		if out[0] != b[0]&0x07 || !bytes.Equal(out[1:], b[1:len(out)]) {
			t.Fatalf("% x → %+v → % x", b, d, out)
		}
	})
}

// FuzzDecodeBatteryLevel checks decoding and the round trip of Battery Level.
func FuzzDecodeBatteryLevel(f *testing.F) {
	for _, s := range []string{"00", "57", "64", "65", "", "0102"} {
		f.Add(hx(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeBatteryLevel(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if out, err := l.MarshalBinary(); err != nil || !bytes.Equal(out, b) {
			t.Fatalf("% x → %v → % x, %v", b, l, out, err)
		}
	})
}
