package att

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gogatt/gogatt/bt"
)

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

var customUUID = bt.MustParseUUID("6e400001-b5a3-f393-e0a9-e50e24dcca9e")

// pduVectors are byte-exact encodings, each cited to its section of Core v5.3 Vol 3 Part F.
var pduVectors = []struct {
	name string
	pdu  PDU
	wire string
}{
	{"§3.4.1.1 error response", ErrorRsp{Request: OpReadReq, Handle: 0x0003, Code: ErrReadNotPermitted}, "01 0a 0300 02"},
	{"§3.4.2.1 exchange MTU req", ExchangeMTUReq{ClientRxMTU: 517}, "02 0502"},
	{"§3.4.2.2 exchange MTU rsp", ExchangeMTURsp{ServerRxMTU: 23}, "03 1700"},
	{"§3.4.3.1 find information req", FindInformationReq{StartHandle: 1, EndHandle: 0xffff}, "04 0100 ffff"},
	{"§3.4.3.2 find information rsp 16-bit", FindInformationRsp{Format: FormatUUID16, Data: hx("0400 0229 0500 0129")}, "05 01 0400 0229 0500 0129"},
	{"§3.4.3.2 find information rsp 128-bit", FindInformationRsp{Format: FormatUUID128, Data: append(hx("1000"), customUUID.AppendLE(nil)...)}, "05 02 1000 9ecadc240ee5a9e093f3a3b50100406e"},
	{"§3.4.3.3 find by type value req", FindByTypeValueReq{StartHandle: 1, EndHandle: 0xffff, Type: 0x2800, Value: hx("0d18")}, "06 0100 ffff 0028 0d18"},
	{"§3.4.3.4 find by type value rsp", FindByTypeValueRsp{Data: hx("0100 0500")}, "07 0100 0500"},
	{"§3.4.4.1 read by type req 16-bit", ReadByTypeReq{StartHandle: 1, EndHandle: 5, Type: bt.UUID16(0x2803)}, "08 0100 0500 0328"},
	{"§3.4.4.1 read by type req 128-bit", ReadByTypeReq{StartHandle: 1, EndHandle: 5, Type: customUUID}, "08 0100 0500 9ecadc240ee5a9e093f3a3b50100406e"},
	{"§3.4.4.2 read by type rsp", ReadByTypeRsp{Length: 7, Data: hx("0200 10 0300 372a")}, "09 07 0200 10 0300 372a"},
	{"§3.4.4.3 read req", ReadReq{Handle: 0x0003}, "0a 0300"},
	{"§3.4.4.4 read rsp", ReadRsp{Value: hx("0048")}, "0b 0048"},
	{"§3.4.4.4 read rsp empty", ReadRsp{}, "0b"},
	{"§3.4.4.5 read blob req", ReadBlobReq{Handle: 0x0010, Offset: 22}, "0c 1000 1600"},
	{"§3.4.4.6 read blob rsp", ReadBlobRsp{Value: hx("aabb")}, "0d aabb"},
	{"§3.4.4.7 read multiple req", ReadMultipleReq{Handles: []uint16{3, 0x10}}, "0e 0300 1000"},
	{"§3.4.4.8 read multiple rsp", ReadMultipleRsp{Values: hx("0102")}, "0f 0102"},
	{"§3.4.4.9 read by group type req", ReadByGroupTypeReq{StartHandle: 1, EndHandle: 0xffff, Type: bt.UUID16(0x2800)}, "10 0100 ffff 0028"},
	{"§3.4.4.10 read by group type rsp", ReadByGroupTypeRsp{Length: 6, Data: hx("0100 0500 0d18")}, "11 06 0100 0500 0d18"},
	{"§3.4.5.1 write req", WriteReq{Handle: 0x0004, Value: hx("0100")}, "12 0400 0100"},
	{"§3.4.5.2 write rsp", WriteRsp{}, "13"},
	{"§3.4.5.3 write cmd", WriteCmd{Handle: 0x0004, Value: hx("ff")}, "52 0400 ff"},
	{"§3.4.5.4 signed write cmd", SignedWriteCmd{Handle: 0x0004, Value: hx("ff"), Signature: [12]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}, "d2 0400 ff 0102030405060708090a0b0c"},
	{"§3.4.6.1 prepare write req", PrepareWriteReq{Handle: 0x0010, Offset: 18, Value: hx("0102")}, "16 1000 1200 0102"},
	{"§3.4.6.2 prepare write rsp", PrepareWriteRsp{Handle: 0x0010, Offset: 18, Value: hx("0102")}, "17 1000 1200 0102"},
	{"§3.4.6.3 execute write req", ExecuteWriteReq{Flags: ExecuteWrite}, "18 01"},
	{"§3.4.6.4 execute write rsp", ExecuteWriteRsp{}, "19"},
	{"§3.4.7.1 notification", HandleValueNtf{Handle: 0x0003, Value: hx("0048")}, "1b 0300 0048"},
	{"§3.4.7.2 indication", HandleValueInd{Handle: 0x0003, Value: hx("0048")}, "1d 0300 0048"},
	{"§3.4.7.3 confirmation", HandleValueCfm{}, "1e"},
	{"§3.4.4.11 read multiple variable req", ReadMultipleVariableReq{Handles: []uint16{3, 4}}, "20 0300 0400"},
	{"§3.4.4.12 read multiple variable rsp", ReadMultipleVariableRsp{Data: hx("0100 aa 0200 bbcc")}, "21 0100 aa 0200 bbcc"},
	{"§3.4.7.4 multiple handle value ntf", MultipleHandleValueNtf{Data: hx("0300 0100 aa")}, "23 0300 0100 aa"},
	{"§3.3.1 unknown opcode", Unknown{Op: 0x3F, Params: hx("0102")}, "3f 0102"},
}

func TestPDUVectors(t *testing.T) {
	for _, v := range pduVectors {
		t.Run(v.name, func(t *testing.T) {
			want := hx(v.wire)
			if got := v.pdu.Append(nil); !bytes.Equal(got, want) {
				t.Fatalf("Append = % x, want % x", got, want)
			}
			if v.pdu.Opcode() != Opcode(want[0]) {
				t.Fatalf("Opcode = %v, want 0x%02x", v.pdu.Opcode(), want[0])
			}
			got, err := Decode(want)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(normalize(got), normalize(v.pdu)) {
				t.Fatalf("Decode = %#v, want %#v", got, v.pdu)
			}
		})
	}
}

// normalize makes nil and empty byte slices compare equal.
func normalize(p PDU) PDU {
	switch v := p.(type) {
	case ReadRsp:
		if len(v.Value) == 0 {
			v.Value = nil
		}
		return v
	}
	return p
}

func TestDecodeMalformed(t *testing.T) {
	cases := []struct{ name, wire string }{
		{"empty", ""},
		{"§3.4.1.1 error rsp short", "01 0a 0300"},
		{"§3.4.1.1 error rsp long", "01 0a 0300 02 00"},
		{"§3.4.2.1 MTU req short", "02 17"},
		{"§3.4.3.1 find info req long", "04 0100 ffff 00"},
		{"§3.4.3.2 find info rsp bad format", "05 03 0100 0228"},
		{"§3.4.3.2 find info rsp empty", "05 01"},
		{"§3.4.3.2 find info rsp ragged", "05 01 0100 02"},
		{"§3.4.3.2 find info rsp 128 ragged", "05 02 0100 0228"},
		{"§3.4.3.3 find by type value short", "06 0100 ffff 00"},
		{"§3.4.3.4 find by type value rsp ragged", "07 0100 0500 01"},
		{"§3.4.4.1 read by type 32-bit uuid", "08 0100 ffff 0d180000"},
		{"§3.4.4.1 read by type no uuid", "08 0100 ffff"},
		{"§3.4.4.2 read by type rsp length 1", "09 01 0100"},
		{"§3.4.4.2 read by type rsp ragged", "09 04 0100 aa bb 02"},
		{"§3.4.4.3 read req short", "0a 03"},
		{"§3.4.4.5 read blob short", "0c 0300 00"},
		{"§3.4.4.7 read multiple one handle", "0e 0300"},
		{"§3.4.4.7 read multiple odd", "0e 0300 0400 05"},
		{"§3.4.4.9 read by group 5 octet uuid", "10 0100 ffff 0028 00 00 00"},
		{"§3.4.4.10 read by group rsp length 3", "11 03 0100 05"},
		{"§3.4.5.1 write req no handle", "12 04"},
		{"§3.4.5.2 write rsp long", "13 00"},
		{"§3.4.5.4 signed write short", "d2 0400 0102030405060708090a0b"},
		{"§3.4.6.1 prepare write short", "16 1000 12"},
		{"§3.4.6.3 execute write short", "18"},
		{"§3.4.7.1 ntf short", "1b 03"},
		{"§3.4.7.3 cfm long", "1e 00"},
		{"§3.4.7.4 multi ntf truncated", "23 0300 0500 aa"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Decode(hx(c.wire))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(% s) = %#v, %v; want ErrMalformed", c.wire, p, err)
			}
			var de *DecodeError
			if !errors.As(err, &de) || err.Error() == "" {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
		})
	}
}

func TestBuildersAndIterators(t *testing.T) {
	var fi FindInformationRsp
	if !fi.Add(3, bt.UUID16(0x2902)) || !fi.Add(4, bt.UUID16(0x2901)) || fi.Add(5, customUUID) {
		t.Fatal("FindInformationRsp.Add format handling")
	}
	var hs []uint16
	for h, u := range fi.All() {
		hs = append(hs, h)
		if _, ok := u.Is16(); !ok {
			t.Fatal("16-bit uuid expected")
		}
	}
	if !slices.Equal(hs, []uint16{3, 4}) || fi.Len() != 2 {
		t.Fatalf("entries %v", hs)
	}
	var fi2 FindInformationRsp
	fi2.Add(9, customUUID)
	if h, u := fi2.Entry(0); h != 9 || u != customUUID || fi2.Format != FormatUUID128 {
		t.Fatal("128-bit entry")
	}

	var rt ReadByTypeRsp
	if !rt.Add(2, hx("1003002a")) || rt.Add(5, hx("10")) || !rt.Add(6, hx("0a070037")) {
		t.Fatal("ReadByTypeRsp.Add")
	}
	n := 0
	for h, v := range rt.All() {
		n++
		if len(v) != 4 || (h != 2 && h != 6) {
			t.Fatalf("entry %d % x", h, v)
		}
	}
	if n != 2 || rt.Length != 6 {
		t.Fatal("count")
	}
	if rt.Add(7, make([]byte, 254)) {
		t.Fatal("oversized value accepted")
	}

	var rg ReadByGroupTypeRsp
	rg.Add(1, 5, hx("0d18"))
	rg.Add(6, 9, hx("0f18"))
	if rg.Add(10, 12, customUUID.AppendLE(nil)) {
		t.Fatal("mixed length accepted")
	}
	var ends []uint16
	for _, e := range rg.All() {
		ends = append(ends, e.EndGroup)
	}
	if !slices.Equal(ends, []uint16{5, 9}) {
		t.Fatal(ends)
	}

	var fb FindByTypeValueRsp
	fb.Add(1, 5)
	fb.Add(10, 0xffff)
	var got [][2]uint16
	for a, b := range fb.All() {
		got = append(got, [2]uint16{a, b})
	}
	if !slices.Equal(got, [][2]uint16{{1, 5}, {10, 0xffff}}) {
		t.Fatal(got)
	}

	var mv ReadMultipleVariableRsp
	mv.Add(hx("aa"))
	mv.Add(hx("bbcc"))
	var vals []string
	for v := range mv.All() {
		vals = append(vals, hex.EncodeToString(v))
	}
	if !slices.Equal(vals, []string{"aa", "bbcc"}) {
		t.Fatal(vals)
	}
	var mn MultipleHandleValueNtf
	mn.Add(3, hx("01"))
	mn.Add(7, nil)
	var mh []uint16
	for h := range mn.All() {
		mh = append(mh, h)
	}
	if !slices.Equal(mh, []uint16{3, 7}) {
		t.Fatal(mh)
	}
	var check MultipleHandleValueNtf
	if err := check.Unmarshal(mn.Append(nil)); err != nil {
		t.Fatal(err)
	}
}

func TestOpcodeClassification(t *testing.T) {
	cases := []struct {
		op                  Opcode
		req, cmd, sig, know bool
		rsp                 Opcode
	}{
		{OpReadReq, true, false, false, true, OpReadRsp},
		{OpExchangeMTUReq, true, false, false, true, OpExchangeMTURsp},
		{OpExecuteWriteReq, true, false, false, true, OpExecuteWriteRsp},
		{OpWriteCmd, false, true, false, true, 0},
		{OpSignedWriteCmd, false, true, true, true, 0},
		{OpHandleValueInd, false, false, false, true, OpHandleValueCfm},
		{OpHandleValueNtf, false, false, false, true, 0},
		{OpReadRsp, false, false, false, true, 0},
		{0x3F, true, false, false, false, 0},
		{0x7F, false, true, false, false, 0},
	}
	for _, c := range cases {
		rsp, ok := c.op.Response()
		if c.op.IsRequest() != c.req || c.op.IsCommand() != c.cmd || c.op.HasSignature() != c.sig ||
			c.op.Known() != c.know || rsp != c.rsp || ok != (c.rsp != 0) {
			t.Errorf("%v: classification wrong", c.op)
		}
	}
	if OpReadByTypeReq.String() != "Read By Type Request" || Opcode(0x3f).String() != "Opcode(0x3F)" {
		t.Error("String")
	}
	e := ErrorRsp{Request: OpReadReq, Handle: 3, Code: ErrReadNotPermitted}
	if e.Error() != "Read Request on handle 0x0003: Read Not Permitted (0x02)" {
		t.Error(e.Error())
	}
}

func TestErrorCodeString(t *testing.T) {
	for c, want := range map[ErrorCode]string{
		ErrInsufficientEncryption: "Insufficient Encryption",
		0x85:                      "Application Error 0x85",
		0xE1:                      "Common Profile Error 0xE1",
		0x50:                      "Reserved Error 0x50",
	} {
		if c.String() != want {
			t.Errorf("%02x: %q want %q", uint8(c), c.String(), want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range pduVectors {
		f.Add(hx(v.wire))
	}
	f.Add([]byte{})
	f.Add(hx("08 0100 ffff 0d180000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		enc := p.Append(nil)
		p2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-decode of % x (from % x): %v", enc, b, err)
		}
		if enc2 := p2.Append(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable round trip: % x → % x → % x", b, enc, enc2)
		}
		// Only 16-octet forms of 16-bit UUIDs may be shortened on re-encoding.
		if len(enc) != len(b) && len(b)-len(enc) != 14 {
			t.Fatalf("re-encoding changed length: % x → % x", b, enc)
		}
	})
}

func BenchmarkUnmarshalReadRsp(b *testing.B) {
	pdu := ReadRsp{Value: make([]byte, 22)}.Append(nil)
	b.ReportAllocs()
	var r ReadRsp
	for b.Loop() {
		if err := r.Unmarshal(pdu); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalReadByTypeReq(b *testing.B) {
	pdu := ReadByTypeReq{StartHandle: 1, EndHandle: 0xffff, Type: customUUID}.Append(nil)
	b.ReportAllocs()
	var r ReadByTypeReq
	for b.Loop() {
		if err := r.Unmarshal(pdu); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendNotification(b *testing.B) {
	buf := make([]byte, 0, 64)
	v := make([]byte, 20)
	b.ReportAllocs()
	for b.Loop() {
		buf = HandleValueNtf{Handle: 3, Value: v}.Append(buf[:0])
	}
}

func BenchmarkDecode(b *testing.B) {
	pdu := hx("1b 0300 00112233445566778899")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(pdu); err != nil {
			b.Fatal(err)
		}
	}
}
