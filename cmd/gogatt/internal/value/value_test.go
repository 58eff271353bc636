package value

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseHex(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []byte
		err  bool
	}{
		{"", []byte{}, false},
		{"01ff", []byte{0x01, 0xff}, false},
		{"0x01FF", []byte{0x01, 0xff}, false},
		{"01 ff", []byte{0x01, 0xff}, false},
		{"01:ff:7e", []byte{0x01, 0xff, 0x7e}, false},
		{"01-ff", []byte{0x01, 0xff}, false},
		{"  0a  ", []byte{0x0a}, false},
		{"1", nil, true},
		{"0x", []byte{}, false},
		{"zz", nil, true},
		{"0g", nil, true},
		{"01 f", nil, true},
		{":01", nil, true},
		{"01:", nil, true},
		{"0 1", nil, true},
	} {
		got, err := ParseHex(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseHex(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("ParseHex(%q) error %v does not wrap ErrSyntax", tc.in, err)
			}
			continue
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("ParseHex(%q) = %x, want %x", tc.in, got, tc.want)
		}
	}
}

func TestParseInts(t *testing.T) {
	u16 := IntSpec{Size: 2}
	for _, tc := range []struct {
		in   string
		spec IntSpec
		want []byte
		err  string
	}{
		{"1", IntSpec{Size: 1}, []byte{1}, ""},
		{"255", IntSpec{Size: 1}, []byte{0xff}, ""},
		{"256", IntSpec{Size: 1}, nil, "256 does not fit in 1 byte(s) (0 to 255)"},
		{"-1", IntSpec{Size: 1}, nil, "unsigned"},
		{"-1", IntSpec{Size: 1, Signed: true}, []byte{0xff}, ""},
		{"-129", IntSpec{Size: 1, Signed: true}, nil, "(-128 to 127)"},
		{"0x1234", u16, []byte{0x34, 0x12}, ""},
		{"0x1234", IntSpec{Size: 2, BigEndian: true}, []byte{0x12, 0x34}, ""},
		{"1, 2 3", u16, []byte{1, 0, 2, 0, 3, 0}, ""},
		{"0b101", IntSpec{Size: 1}, []byte{5}, ""},
		{"-2", IntSpec{Size: 4, Signed: true}, []byte{0xfe, 0xff, 0xff, 0xff}, ""},
		{"18446744073709551615", IntSpec{Size: 8}, bytes.Repeat([]byte{0xff}, 8), ""},
		{"18446744073709551616", IntSpec{Size: 8}, nil, "does not fit"},
		{"abc", u16, nil, "not an integer"},
		{"", u16, nil, "no integer"},
		{"1", IntSpec{Size: 3}, nil, "integer size 3"},
	} {
		got, err := ParseInts(tc.in, tc.spec)
		if tc.err != "" {
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.err)) {
				t.Errorf("ParseInts(%q, %+v) error = %v, want containing %q", tc.in, tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("ParseInts(%q, %+v) = %x, %v; want %x", tc.in, tc.spec, got, err, tc.want)
		}
	}
}

func TestFormatInts(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		spec IntSpec
		want string
		err  bool
	}{
		{[]byte{0xff}, IntSpec{Size: 1}, "255", false},
		{[]byte{0xff}, IntSpec{Size: 1, Signed: true}, "-1", false},
		{[]byte{0x34, 0x12, 0x01, 0x00}, IntSpec{Size: 2}, "4660 1", false},
		{[]byte{0x12, 0x34}, IntSpec{Size: 2, BigEndian: true}, "4660", false},
		{[]byte{0xfe, 0xff, 0xff, 0xff}, IntSpec{Size: 4, Signed: true}, "-2", false},
		{[]byte{0, 0, 0, 0, 0, 0, 0, 0x80}, IntSpec{Size: 8, Signed: true}, "-9223372036854775808", false},
		{[]byte{1, 2, 3}, IntSpec{Size: 2}, "", true},
		{nil, IntSpec{Size: 1}, "", true},
	} {
		got, err := FormatInts(tc.in, tc.spec)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("FormatInts(%x, %+v) = %q, %v; want %q, error %v", tc.in, tc.spec, got, err, tc.want, tc.err)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		c    Codec
		text string
	}{
		{Codec{Format: FormatHex}, "0102ff"},
		{Codec{Format: FormatUTF8}, "héllo"},
		{Codec{Format: FormatInt, Int: IntSpec{Size: 2, Signed: true}}, "-300 7"},
		{Codec{Format: FormatInt, Int: IntSpec{Size: 4, BigEndian: true}}, "4000000000"},
	} {
		b, err := tc.c.Parse(tc.text)
		if err != nil {
			t.Fatalf("%+v Parse(%q): %v", tc.c, tc.text, err)
		}
		got, err := tc.c.FormatValue(b)
		if err != nil || got != tc.text {
			t.Errorf("%+v round trip of %q = %q, %v", tc.c, tc.text, got, err)
		}
	}
}

func TestParseFormatAndEndian(t *testing.T) {
	for in, want := range map[string]Format{"hex": FormatHex, "UTF8": FormatUTF8, "int": FormatInt, "auto": FormatAuto, "text": FormatUTF8} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("base64"); err == nil {
		t.Error("ParseFormat(base64) succeeded")
	}
	if be, err := ParseEndian("big"); err != nil || !be {
		t.Errorf("ParseEndian(big) = %v, %v", be, err)
	}
	if _, err := ParseEndian("middle"); err == nil {
		t.Error("ParseEndian(middle) succeeded")
	}
}

func TestSeqCounter(t *testing.T) {
	seq := func(n uint32) []byte { return []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), 0xaa} }
	for _, tc := range []struct {
		name                   string
		in                     []uint32
		lost, ooo, dups, count uint64
	}{
		{"in order", []uint32{0, 1, 2, 3}, 0, 0, 0, 4},
		{"starts mid-stream", []uint32{100, 101, 102}, 0, 0, 0, 3},
		{"gap", []uint32{0, 1, 4, 5}, 2, 0, 0, 4},
		{"late arrival fills gap", []uint32{0, 2, 1, 3}, 0, 1, 0, 4},
		{"duplicate", []uint32{0, 1, 1, 2}, 0, 1, 1, 4},
		{"wraps", []uint32{0xfffffffe, 0xffffffff, 0, 1}, 0, 0, 0, 4},
		{"huge jump", []uint32{0, 1 << 20}, 1<<20 - 1, 0, 0, 2},
	} {
		var c SeqCounter
		for _, s := range tc.in {
			c.Observe(seq(s))
		}
		if c.Lost() != tc.lost || c.OutOfOrder != tc.ooo || c.Duplicates != tc.dups || c.Count != tc.count {
			t.Errorf("%s: lost %d ooo %d dups %d count %d; want %d %d %d %d", tc.name, c.Lost(), c.OutOfOrder, c.Duplicates, c.Count, tc.lost, tc.ooo, tc.dups, tc.count)
		}
	}
	// Many scattered losses: memory stays bounded, the count stays exact.
	var big SeqCounter
	for i := uint32(0); i < 1_000_000; i += 2 {
		big.Observe(seq(i))
	}
	if big.Lost() != 499_999 || len(big.missing) > 2*maxTrackedGap+1 {
		t.Errorf("scattered losses: lost %d, remembered %d", big.Lost(), len(big.missing))
	}
	var c SeqCounter
	c.Observe([]byte{1})
	if c.Short != 1 {
		t.Errorf("short = %d", c.Short)
	}
}

func TestNames(t *testing.T) {
	if CompanyName(0x004c) != "Apple" || CompanyName(0x1234) != "0x1234" {
		t.Error("CompanyName")
	}
}

// FuzzParse checks the parsers behind `gogatt write`: they never panic, errors wrap ErrSyntax,
// and what they accept formats back to an equivalent value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"01ff", "0x01 02", "01:02:03", "-1", "65535", "0b1010, 0x10", "", "zz", "1 2 3", "9223372036854775808"} {
		f.Add(s, uint8(0), uint8(2), false, false)
		f.Add(s, uint8(3), uint8(1), true, true)
	}
	f.Fuzz(func(t *testing.T, s string, format, size uint8, signed, big bool) {
		sizes := [...]int{1, 2, 4, 8}
		c := Codec{Format: Format(format % 4), Int: IntSpec{Size: sizes[size%4], Signed: signed, BigEndian: big}}
		b, err := c.Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		if c.Format == FormatUTF8 {
			return
		}
		text, err := c.FormatValue(b)
		if err != nil {
			if c.Format == FormatInt {
				t.Fatalf("FormatValue(%x) after Parse(%q): %v", b, s, err)
			}
			return
		}
		if c.Format == FormatAuto {
			c.Format = FormatHex
		}
		b2, err := c.Parse(text)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("round trip %q → %x → %q → %x, %v", s, b, text, b2, err)
		}
	})
}
