package bt

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseUUID(t *testing.T) {
	hrm := UUID{0, 0, 0x2a, 0x37, 0, 0, 0x10, 0, 0x80, 0, 0, 0x80, 0x5f, 0x9b, 0x34, 0xfb}
	nus := UUID{0x6e, 0x40, 0, 1, 0xb5, 0xa3, 0xf3, 0x93, 0xe0, 0xa9, 0xe5, 0x0e, 0x24, 0xdc, 0xca, 0x9e}
	for _, tc := range []struct {
		in   string
		want UUID
	}{
		{"2a37", hrm},
		{"2A37", hrm},
		{"0x2a37", hrm},
		{"0X2A37", hrm},
		{" 2a37\n", hrm},
		{"00002a37", hrm},
		{"0x00002A37", hrm},
		{"00002a37-0000-1000-8000-00805f9b34fb", hrm},
		{"00002A37-0000-1000-8000-00805F9B34FB", hrm},
		{"00002a3700001000800000805f9b34fb", hrm},
		{"12345678", UUID32(0x12345678)},
		{"6e400001-b5a3-f393-e0a9-e50e24dcca9e", nus},
		{"0x6e400001-b5a3-f393-e0a9-e50e24dcca9e", nus},
	} {
		got, err := ParseUUID(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseUUID(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "0x", "2a3", "2a377", "zzzz", "0x2g37", "-2a37", "+2a3", "2a37 2a37",
		"0000180d-0000-1000-8000-00805f9b34f", "0000180d-0000-1000-8000-00805f9b34fbb",
		"0000180d00000-1000-8000-00805f9b34fb", "0000180d-0000-1000-8000+00805f9b34fb",
		"0000180d-0000-1000-8000-00805f9b34fg", "0000180d-0000-1000-8000-00805f9b-4fb",
		"00002a3700001000800000805f9b34f", "0x0x2a37",
	} {
		if u, err := ParseUUID(in); !errors.Is(err, ErrInvalidUUID) {
			t.Errorf("ParseUUID(%q) = %v, %v; want ErrInvalidUUID", in, u, err)
		}
	}
}

func TestUUIDForms(t *testing.T) {
	u := UUID16(0x2a37)
	if s := u.String(); s != "00002a37-0000-1000-8000-00805f9b34fb" {
		t.Errorf("String = %s", s)
	}
	if s := u.Short(); s != "2a37" {
		t.Errorf("Short = %s", s)
	}
	if v, ok := u.Is16(); !ok || v != 0x2a37 {
		t.Errorf("Is16 = %x %v", v, ok)
	}
	if s := UUID32(0x12345678).Short(); s != "12345678" {
		t.Errorf("Short 32 = %s", s)
	}
	if _, ok := UUID32(0x12345678).Is16(); ok {
		t.Error("32-bit UUID Is16")
	}
	nus := MustParseUUID("6e400001-b5a3-f393-e0a9-e50e24dcca9e")
	if nus.Short() != nus.String() {
		t.Error("Short of 128-bit")
	}
	if _, ok := nus.Is32(); ok {
		t.Error("128-bit UUID Is32")
	}
	for _, tc := range []struct {
		u  UUID
		le string
	}{
		{u, "\x37\x2a"},
		{UUID32(0x12345678), "\xfb\x34\x9b\x5f\x80\x00\x00\x80\x00\x10\x00\x00\x78\x56\x34\x12"},
		{nus, "\x9e\xca\xdc\x24\x0e\xe5\xa9\xe0\x93\xf3\xa3\xb5\x01\x00\x40\x6e"},
	} {
		le := tc.u.AppendLE(nil)
		if string(le) != tc.le {
			t.Errorf("AppendLE(%v) = %x", tc.u, le)
		}
		back, err := UUIDFromLE(le)
		if err != nil || back != tc.u {
			t.Errorf("UUIDFromLE(%x) = %v, %v", le, back, err)
		}
	}
	if v, err := UUIDFromLE([]byte{0x78, 0x56, 0x34, 0x12}); err != nil || v != UUID32(0x12345678) {
		t.Errorf("UUIDFromLE 32 = %v %v", v, err)
	}
	for _, n := range []int{0, 1, 3, 5, 15, 17} {
		if _, err := UUIDFromLE(make([]byte, n)); !errors.Is(err, ErrInvalidUUID) {
			t.Errorf("UUIDFromLE(%d bytes) = %v", n, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParseUUID did not panic")
		}
	}()
	MustParseUUID("nope")
}

func TestUUIDText(t *testing.T) {
	m := map[UUID]int{UUID16(0x180d): 1}
	b, err := json.Marshal(m)
	if err != nil || string(b) != `{"0000180d-0000-1000-8000-00805f9b34fb":1}` {
		t.Fatalf("json %s %v", b, err)
	}
	var back map[UUID]int
	if err := json.Unmarshal([]byte(`{"180d":1}`), &back); err != nil || back[UUID16(0x180d)] != 1 {
		t.Errorf("unmarshal %v %v", back, err)
	}
	var u UUID
	if err := u.UnmarshalText([]byte("xyz")); err == nil {
		t.Error("UnmarshalText accepted garbage")
	}
}

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"01:23:45:67:89:ab", "01:23:45:67:89:AB"},
		{"01:23:45:67:89:AB", "01:23:45:67:89:AB"},
		{"c0:ff:ee:00:00:01", "C0:FF:EE:00:00:01"},
		{"00:00:00:00:00:00", "00:00:00:00:00:00"},
		{"FF:FF:FF:FF:FF:FF", "FF:FF:FF:FF:FF:FF"},
	} {
		a, err := ParseAddress(tc.in)
		if err != nil || a.String() != tc.want {
			t.Errorf("ParseAddress(%q) = %v, %v", tc.in, a, err)
		}
		if c, err := CanonicalAddress(tc.in); err != nil || c != tc.want {
			t.Errorf("CanonicalAddress(%q) = %q, %v", tc.in, c, err)
		}
	}
	for _, in := range []string{
		"", "01:23:45:67:89", "01:23:45:67:89:ab:", "01-23-45-67-89-ab", "0123456789ab",
		"01:23:45:67:89:ag", "01:23:45:67:89:a", "001:23:45:67:89:a", " 01:23:45:67:89:ab",
		"01:23:45:67:89:ab\n", "01:23:45:67:89;ab", "01:23:45:67:89:ab; rm -rf", "0x:23:45:67:89:ab",
	} {
		if a, err := ParseAddress(in); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("ParseAddress(%q) = %v, %v; want ErrInvalidAddress", in, a, err)
		}
		if _, err := CanonicalAddress(in); err == nil {
			t.Errorf("CanonicalAddress(%q) accepted", in)
		}
	}
}

func TestAddressWireOrder(t *testing.T) {
	a := MustParseAddress("01:23:45:67:89:AB")
	le := a.LE()
	if le != [6]byte{0xab, 0x89, 0x67, 0x45, 0x23, 0x01} {
		t.Errorf("LE = % x", le)
	}
	if AddressFromLE(le) != a {
		t.Error("AddressFromLE(LE()) != a")
	}
	b, _ := a.MarshalText()
	var back Address
	if err := back.UnmarshalText(b); err != nil || back != a {
		t.Errorf("text round trip %v %v", back, err)
	}
	if err := back.UnmarshalText([]byte("nope")); err == nil {
		t.Error("UnmarshalText accepted garbage")
	}
}

func TestAddressType(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want AddressType
		ok   bool
	}{
		{"public", AddressPublic, true}, {"", AddressPublic, true}, {"RANDOM", AddressRandom, true},
		{"Random", AddressRandom, true}, {"static", 0, false}, {"1", 0, false},
	} {
		got, err := ParseAddressType(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAddressType(%q) = %v, %v", tc.in, got, err)
		}
	}
	if AddressPublic.String() != "public" || AddressRandom.String() != "random" || AddressType(7).String() != "AddressType(7)" {
		t.Error("String")
	}
}

func FuzzParseUUID(f *testing.F) {
	for _, s := range []string{"2a37", "0x2A37", "0000180d", "00002a37-0000-1000-8000-00805f9b34fb",
		"6e400001b5a3f393e0a9e50e24dcca9e", "0x", "zz", "0000180d-0000-1000-8000+00805f9b34fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUUID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidUUID) {
				t.Fatalf("error %v does not wrap ErrInvalidUUID", err)
			}
			return
		}
		for _, form := range []string{u.String(), u.Short(), strings.ToUpper(u.String())} {
			if back, err := ParseUUID(form); err != nil || back != u {
				t.Fatalf("%q → %v → %q → %v, %v", s, u, form, back, err)
			}
		}
		if back, err := UUIDFromLE(u.AppendLE(nil)); err != nil || back != u {
			t.Fatalf("LE round trip of %v: %v %v", u, back, err)
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"01:23:45:67:89:ab", "C0:FF:EE:00:00:01", "01-23-45-67-89-ab", "", "01:23:45:67:89:a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidAddress) {
				t.Fatalf("error %v does not wrap ErrInvalidAddress", err)
			}
			return
		}
		if a.String() != strings.ToUpper(s) {
			t.Fatalf("ParseAddress(%q).String() = %q", s, a.String())
		}
		if back, err := ParseAddress(a.String()); err != nil || back != a {
			t.Fatalf("round trip %v %v", back, err)
		}
		if AddressFromLE(a.LE()) != a {
			t.Fatal("LE round trip")
		}
	})
}

func BenchmarkParseUUID(b *testing.B) {
	for _, s := range []string{"2a37", "6e400001-b5a3-f393-e0a9-e50e24dcca9e"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseUUID(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUUIDString(b *testing.B) {
	u := UUID16(0x2a37)
	b.ReportAllocs()
	for b.Loop() {
		_ = u.String()
	}
}

func BenchmarkParseAddress(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAddress("c0:ff:ee:00:00:01"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddressString(b *testing.B) {
	a := MustParseAddress("c0:ff:ee:00:00:01")
	b.ReportAllocs()
	for b.Loop() {
		_ = a.String()
	}
}

func TestAddressTypeText(t *testing.T) {
	for _, tc := range []struct {
		t    AddressType
		text string
	}{{AddressPublic, "public"}, {AddressRandom, "random"}} {
		b, err := tc.t.MarshalText()
		if err != nil || string(b) != tc.text {
			t.Errorf("MarshalText(%d) = %q, %v", tc.t, b, err)
		}
		var back AddressType = 7
		if err := back.UnmarshalText(b); err != nil || back != tc.t {
			t.Errorf("UnmarshalText(%q) = %d, %v", b, back, err)
		}
	}
	if _, err := AddressType(2).MarshalText(); err == nil {
		t.Error("MarshalText(2) did not fail")
	}
	var v AddressType
	if err := v.UnmarshalText([]byte("static")); err == nil {
		t.Error(`UnmarshalText("static") did not fail`)
	}
}
