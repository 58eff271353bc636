package adv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/gogatt/gogatt/bt"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	u180d = bt.UUID16(0x180d)
	u180f = bt.UUID16(0x180f)
	u128  = bt.MustParseUUID("6e400001-b5a3-f393-e0a9-e50e24dcca9e")
	addr1 = bt.MustParseAddress("C0:FF:EE:00:00:01")
)

func TestParseTypes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		check func(t *testing.T, d *Data)
	}{
		{"flags", "020106", func(t *testing.T, d *Data) {
			if !d.HasFlags || d.Flags != FlagGeneralDiscoverable|FlagBREDRNotSupported {
				t.Errorf("flags %v %#x", d.HasFlags, d.Flags)
			}
		}},
		{"16-bit complete", "05 03 0d18 0f18", func(t *testing.T, d *Data) {
			if !reflect.DeepEqual(d.ServiceUUIDs, []bt.UUID{u180d, u180f}) || d.ServiceUUIDsIncomplete {
				t.Errorf("%v %v", d.ServiceUUIDs, d.ServiceUUIDsIncomplete)
			}
		}},
		{"16-bit incomplete", "03 02 0d18", func(t *testing.T, d *Data) {
			if !reflect.DeepEqual(d.ServiceUUIDs, []bt.UUID{u180d}) || !d.ServiceUUIDsIncomplete {
				t.Errorf("%v %v", d.ServiceUUIDs, d.ServiceUUIDsIncomplete)
			}
		}},
		{"32-bit", "05 05 0d180000 05 04 78563412", func(t *testing.T, d *Data) {
			if !reflect.DeepEqual(d.ServiceUUIDs, []bt.UUID{u180d, bt.UUID32(0x12345678)}) {
				t.Errorf("%v", d.ServiceUUIDs)
			}
		}},
		{"128-bit", "11 07 9ecadc240ee5a9e093f3a3b50100406e", func(t *testing.T, d *Data) {
			if !reflect.DeepEqual(d.ServiceUUIDs, []bt.UUID{u128}) {
				t.Errorf("%v", d.ServiceUUIDs)
			}
		}},
		{"128-bit incomplete", "11 06 9ecadc240ee5a9e093f3a3b50100406e", func(t *testing.T, d *Data) {
			if !reflect.DeepEqual(d.ServiceUUIDs, []bt.UUID{u128}) || !d.ServiceUUIDsIncomplete {
				t.Errorf("%v", d.ServiceUUIDs)
			}
		}},
		{"short name", "04 08 4852 53", func(t *testing.T, d *Data) {
			if d.LocalName != "HRS" || d.NameComplete {
				t.Errorf("%q %v", d.LocalName, d.NameComplete)
			}
		}},
		{"complete name", "0a 09 4852 2053656e736f72", func(t *testing.T, d *Data) {
			if d.LocalName != "HR Sensor" || !d.NameComplete {
				t.Errorf("%q %v", d.LocalName, d.NameComplete)
			}
		}},
		{"tx power", "02 0a f4", func(t *testing.T, d *Data) {
			if !d.HasTxPower || d.TxPower != -12 {
				t.Errorf("%v %d", d.HasTxPower, d.TxPower)
			}
		}},
		{"class of device", "04 0d 0c0240", func(t *testing.T, d *Data) {
			if !d.HasClassOfDevice || d.ClassOfDevice != 0x40020c {
				t.Errorf("%#x", d.ClassOfDevice)
			}
		}},
		{"conn interval range", "05 12 0600 ffff", func(t *testing.T, d *Data) {
			if !d.HasConnInterval || d.ConnIntervalMin != 6 || d.ConnIntervalMax != ConnIntervalUnspecified {
				t.Errorf("%d %d", d.ConnIntervalMin, d.ConnIntervalMax)
			}
		}},
		{"solicitation 16/32/128", "03 14 0f18 05 1f 78563412 11 15 9ecadc240ee5a9e093f3a3b50100406e", func(t *testing.T, d *Data) {
			if !reflect.DeepEqual(d.SolicitedUUIDs, []bt.UUID{u180f, bt.UUID32(0x12345678), u128}) {
				t.Errorf("%v", d.SolicitedUUIDs)
			}
		}},
		{"service data 16", "05 16 0f18 64 01", func(t *testing.T, d *Data) {
			if !bytes.Equal(d.ServiceData[u180f], []byte{0x64, 1}) {
				t.Errorf("%v", d.ServiceData)
			}
		}},
		{"service data 32", "06 20 78563412 07", func(t *testing.T, d *Data) {
			if !bytes.Equal(d.ServiceData[bt.UUID32(0x12345678)], []byte{7}) {
				t.Errorf("%v", d.ServiceData)
			}
		}},
		{"service data 128, empty", "11 21 9ecadc240ee5a9e093f3a3b50100406e", func(t *testing.T, d *Data) {
			if v, ok := d.ServiceData[u128]; !ok || len(v) != 0 {
				t.Errorf("%v", d.ServiceData)
			}
		}},
		{"appearance", "03 19 4103", func(t *testing.T, d *Data) {
			if !d.HasAppearance || d.Appearance != 0x0341 {
				t.Errorf("%#x", d.Appearance)
			}
		}},
		{"targets", "07 17 010000eeffc0 0d 18 010000eeffc0 020000eeffc0", func(t *testing.T, d *Data) {
			if !reflect.DeepEqual(d.PublicTargets, []bt.Address{addr1}) || len(d.RandomTargets) != 2 ||
				d.RandomTargets[1] != bt.MustParseAddress("C0:FF:EE:00:00:02") {
				t.Errorf("%v %v", d.PublicTargets, d.RandomTargets)
			}
		}},
		{"adv interval", "03 1a 2000", func(t *testing.T, d *Data) {
			if !d.HasAdvInterval || d.AdvInterval != 32 {
				t.Errorf("%d", d.AdvInterval)
			}
		}},
		{"uri https", "0c 24 17 2f2f676f2e6465762f78", func(t *testing.T, d *Data) {
			if d.URI != "https://go.dev/x" {
				t.Errorf("%q", d.URI)
			}
		}},
		{"uri no scheme", "05 24 01 613a62", func(t *testing.T, d *Data) {
			if d.URI != "a:b" {
				t.Errorf("%q", d.URI)
			}
		}},
		{"manufacturer", "06 ff 4c00 0215 aa", func(t *testing.T, d *Data) {
			if !bytes.Equal(d.ManufacturerData[0x004c], []byte{2, 0x15, 0xaa}) {
				t.Errorf("%v", d.ManufacturerData)
			}
		}},
		{"unknown types kept", "02 30 01 01 0b 03 13 aabb", func(t *testing.T, d *Data) {
			want := map[uint8][]byte{0x30: {1}, 0x0b: {}, 0x13: {0xaa, 0xbb}}
			if !reflect.DeepEqual(d.Other, want) {
				t.Errorf("%v", d.Other)
			}
		}},
		{"zero length ends data", "020106 00 ffffff", func(t *testing.T, d *Data) {
			if !d.HasFlags || d.Other != nil || d.ManufacturerData != nil {
				t.Errorf("%+v", d)
			}
		}},
		{"empty", "", func(t *testing.T, d *Data) {
			if raw, ok := d.Raw[ConnectableUndirected]; !ok || raw == nil || len(raw) != 0 {
				t.Errorf("raw %v %v", raw, ok)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.in)
			var d Data
			if err := Parse(ConnectableUndirected, in, &d); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !bytes.Equal(d.Raw[ConnectableUndirected], in) {
				t.Errorf("raw = %x", d.Raw[ConnectableUndirected])
			}
			tc.check(t, &d)
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		errHas   string
		check    func(d *Data) bool // what must have been kept
	}{
		{"truncated structure", "020106 05ff4c00", "length 5 but only 3", func(d *Data) bool { return d.HasFlags }},
		{"length past end", "ff", "length 255", func(d *Data) bool { return true }},
		{"odd 16-bit list", "04 03 0d180f", "not a multiple of 2", func(d *Data) bool { return len(d.ServiceUUIDs) == 1 }},
		{"bad 128-bit list", "05 07 01020304", "not a multiple of 16", func(d *Data) bool { return len(d.ServiceUUIDs) == 0 }},
		{"empty flags then name", "01 01 02 09 41", "flags (0x01): no data", func(d *Data) bool { return d.LocalName == "A" && !d.HasFlags }},
		{"tx power too long", "03 0a 0102", "want 1", func(d *Data) bool { return !d.HasTxPower }},
		{"manufacturer without company", "02 ff 4c", "company identifier", func(d *Data) bool { return d.ManufacturerData == nil }},
		{"service data short uuid", "02 16 0f", "for the UUID", func(d *Data) bool { return d.ServiceData == nil }},
		{"appearance short", "02 19 41", "want 2", func(d *Data) bool { return !d.HasAppearance }},
		{"class of device short", "02 0d 41", "want 3", func(d *Data) bool { return !d.HasClassOfDevice }},
		{"interval range short", "03 12 0600", "want 4", func(d *Data) bool { return !d.HasConnInterval }},
		{"adv interval short", "02 1a 20", "want 2", func(d *Data) bool { return !d.HasAdvInterval }},
		{"target short", "08 17 010000eeffc0 aa", "multiple of 6", func(d *Data) bool { return len(d.PublicTargets) == 1 }},
		{"empty uri", "01 24", "scheme", func(d *Data) bool { return true }},
		{"invalid utf-8 name", "03 09 ff fe", "UTF-8", func(d *Data) bool { return d.LocalName == "\xff\xfe" }},
		{"first error reported, later fields kept", "01 0a 02 0a 05 03 19 4103", "want 1", func(d *Data) bool {
			return d.HasTxPower && d.TxPower == 5 && d.Appearance == 0x0341
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Data
			err := Parse(ScanResponse, unhex(t, tc.in), &d)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want ErrMalformed containing %q", err, tc.errHas)
			}
			if !tc.check(&d) {
				t.Errorf("lost data: %+v", d)
			}
		})
	}
}

// Advertising and scan response merge into one Data; repeated packets add no duplicates.
func TestParseMerge(t *testing.T) {
	var d Data
	advPkt := unhex(t, "020106 0303 0d18 0408 485253")
	rsp := unhex(t, "0a09 485220 53656e736f72 0303 0f18 0416 0f18 64")
	for range 3 {
		if err := Parse(ConnectableUndirected, advPkt, &d); err != nil {
			t.Fatal(err)
		}
		if err := Parse(ScanResponse, rsp, &d); err != nil {
			t.Fatal(err)
		}
	}
	if d.LocalName != "HR Sensor" || !d.NameComplete {
		t.Errorf("name %q (complete %v): a shortened name must not replace the complete one", d.LocalName, d.NameComplete)
	}
	if !reflect.DeepEqual(d.ServiceUUIDs, []bt.UUID{u180d, u180f}) {
		t.Errorf("uuids %v", d.ServiceUUIDs)
	}
	if !bytes.Equal(d.Raw[ConnectableUndirected], advPkt) || !bytes.Equal(d.Raw[ScanResponse], rsp) {
		t.Errorf("raw %x", d.Raw)
	}
	if !d.HasService(u180f) || !d.HasService(u180d) || d.HasService(u128) {
		t.Error("HasService")
	}
	// Parse copies: changing the input afterwards changes nothing.
	rsp[len(rsp)-1] = 0
	if d.ServiceData[u180f][0] != 0x64 {
		t.Error("service data aliases the input")
	}
	c := d.Clone()
	c.ServiceData[u180f][0] = 1
	c.Raw[ScanResponse][0] = 0
	if d.ServiceData[u180f][0] != 0x64 || d.Raw[ScanResponse][0] != 0x0a {
		t.Error("Clone shares storage")
	}
}

func TestWalk(t *testing.T) {
	in := unhex(t, "020106 03ff4c00 00 0000")
	var got []string
	if err := Walk(in, func(f Field) bool { got = append(got, fmt.Sprintf("%s:%x", f.Type, f.Data)); return true }); err != nil {
		t.Fatal(err)
	}
	if want := "[flags:06 manufacturer specific data:4c00]"; fmt.Sprint(got) != want {
		t.Errorf("%v", got)
	}
	n := 0
	_ = Walk(in, func(Field) bool { n++; return false })
	if n != 1 {
		t.Errorf("Walk did not stop: %d", n)
	}
	if Type(0x30).String() != "AD type 0x30" || PacketType(9).String() != "PacketType(9)" || ScanResponse.String() != "SCAN_RSP" {
		t.Error("String")
	}
}

func TestBuilder(t *testing.T) {
	p, err := NewBuilder().
		Flags(FlagGeneralDiscoverable|FlagBREDRNotSupported).
		ServiceUUIDs(true, u180d, bt.UUID32(0x12345678)).
		CompleteName("HR").
		TxPower(-4).
		Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "020106 03030d18 050578563412 03094852 020afc"); !bytes.Equal(p, want) {
		t.Errorf("payload %x, want %x", p, want)
	}
	_, err = NewBuilder().CompleteName(strings.Repeat("x", 30)).Bytes()
	if !errors.Is(err, ErrTooLong) {
		t.Errorf("32 octets: %v", err)
	}
	if p, err := NewBuilder().Limit(254).CompleteName(strings.Repeat("x", 30)).Bytes(); err != nil || len(p) != 32 {
		t.Errorf("Limit: %d %v", len(p), err)
	}
	if _, err := NewBuilder().Limit(1000).Field(0x30, make([]byte, 255)...).Bytes(); !errors.Is(err, ErrTooLong) {
		t.Errorf("255-octet field: %v", err)
	}
	if _, err := NewBuilder().CompleteName("\xff").Bytes(); err == nil {
		t.Error("invalid UTF-8 name accepted")
	}
	if _, err := NewBuilder().ClassOfDevice(1 << 24).Bytes(); err == nil {
		t.Error("25-bit class of device accepted")
	}
}

// Every field Encode writes, Parse reads back.
func TestEncodeRoundTrip(t *testing.T) {
	for _, d := range []Data{
		{
			Flags: 0x06, HasFlags: true,
			ServiceUUIDs: []bt.UUID{u180d, u180f},
			LocalName:    "HR Sensor", NameComplete: true,
			TxPower: -8, HasTxPower: true,
			Appearance: 0x0341, HasAppearance: true,
		},
		{
			ServiceUUIDs:           []bt.UUID{u128},
			ServiceUUIDsIncomplete: true,
			ManufacturerData:       map[uint16][]byte{0x004c: {1, 2, 3}},
		},
		{
			SolicitedUUIDs:   []bt.UUID{u180f, bt.UUID32(0x12345678)},
			ClassOfDevice:    0x40020c,
			HasClassOfDevice: true,
			ConnIntervalMin:  6, ConnIntervalMax: ConnIntervalUnspecified, HasConnInterval: true,
			AdvInterval: 160, HasAdvInterval: true,
		},
		{URI: "https://x.io"},
		{URI: "coap://y"},
		{
			PublicTargets: []bt.Address{addr1},
			RandomTargets: []bt.Address{addr1},
		},
		{
			ServiceData: map[bt.UUID][]byte{u180f: {100}, bt.UUID32(0x12345678): {}},
			Other:       map[uint8][]byte{0x30: {9}},
			LocalName:   "HR",
		},
	} {
		p, err := d.Encode()
		if err != nil {
			t.Fatalf("Encode %+v: %v", d, err)
		}
		var got Data
		if err := Parse(NonConnectable, p, &got); err != nil {
			t.Fatalf("Parse(%x): %v", p, err)
		}
		got.Raw = nil
		if !reflect.DeepEqual(normalize(got), normalize(d)) {
			t.Errorf("round trip of %x:\n got %+v\nwant %+v", p, got, d)
		}
	}
	big := Data{LocalName: strings.Repeat("n", 20), ManufacturerData: map[uint16][]byte{1: make([]byte, 10)}}
	if _, err := big.Encode(); !errors.Is(err, ErrTooLong) {
		t.Errorf("too long: %v", err)
	}
}

// normalize makes empty and nil byte slices in maps compare equal.
func normalize(d Data) Data {
	for _, m := range []map[bt.UUID][]byte{d.ServiceData} {
		for k, v := range m {
			if len(v) == 0 {
				m[k] = []byte{}
			}
		}
	}
	return d
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"020106 0303 0d18 0a09 485220 53656e736f72",
		"0a09 485220 53656e736f72 0303 0f18 0416 0f18 64",
		"11 07 9ecadc240ee5a9e093f3a3b50100406e 06 ff 4c00 0215 aa",
		"05 12 0600 ffff 03 19 4103 03 1a 2000 0c 24 17 2f2f676f2e6465762f78",
		"07 17 010000eeffc0 04 0d 0c0240 02 0a f4 05 1f 78563412",
		"020106 05ff4c00", "ff", "00", "01 01", "02 30 01 00 ffff",
	} {
		f.Add(uint8(0), unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, pt uint8, in []byte) {
		var d Data
		err := Parse(PacketType(pt), in, &d)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
		if !bytes.Equal(d.Raw[PacketType(pt)], in) {
			t.Fatal("raw not kept")
		}
		// Parsing the same payload again merges to the same result (idempotent).
		c := d.Clone()
		_ = Parse(PacketType(pt), in, &d)
		if !reflect.DeepEqual(c, d) {
			t.Fatalf("second parse changed the data:\n%+v\n%+v", c, d)
		}
		// What was decoded can be encoded again (if it fits) and decodes the same way.
		c.Raw = nil
		if p, err := c.Encode(); err == nil && utf8ish(c) {
			var back Data
			if err := Parse(PacketType(pt), p, &back); err != nil {
				t.Fatalf("re-encoded %x does not parse: %v", p, err)
			}
		}
	})
}

// utf8ish reports whether the names and URI are valid UTF-8 (Encode refuses others).
func utf8ish(d Data) bool {
	return !strings.ContainsRune(d.LocalName, 0xFFFD) && d.LocalName == strings.ToValidUTF8(d.LocalName, "")
}

func BenchmarkParse(b *testing.B) {
	adv := unhex(b, "020106 0303 0d18 0a09 485220 53656e736f72 06 ff 4c00 0215 aa")
	rsp := unhex(b, "11 07 9ecadc240ee5a9e093f3a3b50100406e 02 0a f4 04 16 0f18 64")
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d Data
			_ = Parse(ConnectableUndirected, adv, &d)
		}
	})
	b.Run("merge-repeated", func(b *testing.B) {
		var d Data
		b.ReportAllocs()
		for b.Loop() {
			_ = Parse(ConnectableUndirected, adv, &d)
			_ = Parse(ScanResponse, rsp, &d)
		}
	})
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			_ = Walk(adv, func(Field) bool { n++; return true })
		}
	})
}

func BenchmarkBuild(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = NewBuilder().Flags(6).ServiceUUIDs(true, u180d).CompleteName("HR Sensor").Bytes()
	}
}
