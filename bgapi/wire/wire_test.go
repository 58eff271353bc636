package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/gogatt/gogatt/att"
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

// decodeAs decodes f with the public decoder of kind k.
func decodeAs(k Kind, f Frame) (Message, error) {
	switch k {
	case KindCommand:
		return DecodeCommand(f)
	case KindResponse:
		return DecodeResponse(f)
	}
	return DecodeEvent(f)
}

var addrAA = bt.MustParseAddress("AA:BB:CC:DD:EE:FF")

// workedFrames are the frames of docs/bgapi-protocol.md §Worked frames, and a few more.
var workedFrames = []struct {
	name string
	hex  string
	msg  Message
}{
	{"connect_direct", "00 0F 06 03 FF EE DD CC BB AA 00 3C 00 4C 00 64 00 00 00",
		&CmdGapConnectDirect{Address: addrAA, AddressType: bt.AddressPublic, ConnIntervalMin: 60, ConnIntervalMax: 76, Timeout: 100, Latency: 0}},
	{"connection_status", "80 10 03 00 00 05 FF EE DD CC BB AA 00 3C 00 64 00 00 00 FF",
		&EvtConnectionStatus{Connection: 0, Flags: FlagConnected | FlagCompleted, Address: addrAA, ConnInterval: 60, Timeout: 100, Latency: 0, Bonding: NoBond}},
	{"read_by_group_type", "00 08 04 01 00 01 00 FF FF 02 00 28",
		&CmdAttclientReadByGroupType{Connection: 0, Start: 1, End: 0xFFFF, UUID: []byte{0x00, 0x28}}},
	{"attribute_write", "00 06 04 05 00 13 00 02 02 00",
		&CmdAttclientAttributeWrite{Connection: 0, Handle: 0x13, Data: []byte{2, 0}}},
	{"notification", "80 07 04 05 00 12 00 01 02 01 02",
		&EvtAttclientAttributeValue{Connection: 0, AttHandle: 0x12, Type: AttValueNotify, Value: []byte{1, 2}}},
	{"procedure_completed", "80 05 04 01 00 01 04 12 00",
		&EvtAttclientProcedureCompleted{Connection: 0, Result: ResultATTInvalidHandle, ChrHandle: 0x12}},
	{"disconnected", "80 03 03 04 00 13 02",
		&EvtConnectionDisconnected{Connection: 0, Reason: ResultRemoteUserTerminated}},
	{"scan_response", "80 0E 06 00 C4 00 FF EE DD CC BB AA 00 FF 03 02 01 06",
		&EvtGapScanResponse{RSSI: -60, PacketType: PacketAdvInd, Sender: addrAA, AddressType: bt.AddressPublic, Bond: NoBond, Data: []byte{2, 1, 6}}},
	{"reset", "00 01 00 00 00", &CmdSystemReset{}},
	{"hello", "00 00 00 01", &CmdSystemHello{}},
	{"find_information", "00 05 04 03 00 01 00 FF FF", &CmdAttclientFindInformation{Start: 1, End: 0xFFFF}},
	{"read_by_handle", "00 03 04 04 01 03 00", &CmdAttclientReadByHandle{Connection: 1, Handle: 3}},
	{"indicate_confirm rsp", "00 02 04 07 00 00", &RspAttclientIndicateConfirm{}},
	{"execute_write", "00 02 04 0A 02 01", &CmdAttclientExecuteWrite{Connection: 2, Commit: 1}},
}

func TestWorkedFrames(t *testing.T) {
	for _, tc := range workedFrames {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got := tc.msg.AppendFrame(nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got % X\nwant % X", got, want)
			}
			cfg := DecoderConfig{}
			if tc.msg.Kind() == KindCommand {
				cfg.Direction = FromHost
			}
			d := NewDecoderConfig(bytes.NewReader(want), cfg)
			f, err := d.Next()
			if err != nil {
				t.Fatal(err)
			}
			m, err := decodeAs(tc.msg.Kind(), f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, tc.msg) {
				t.Fatalf("decode:\n got %#v\nwant %#v", m, tc.msg)
			}
			if _, err := d.Next(); err != io.EOF {
				t.Fatalf("after frame: %v, want EOF", err)
			}
			// UnmarshalBinary on the whole frame.
			m2 := New(tc.msg.Kind(), tc.msg.Class(), tc.msg.ID())
			if err := m2.(interface{ UnmarshalBinary([]byte) error }).UnmarshalBinary(want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m2, tc.msg) {
				t.Fatalf("UnmarshalBinary: got %#v", m2)
			}
		})
	}
}

// TestAllMessagesRoundTrip encodes every message of the tables with a non-empty array and
// decodes it back.
func TestAllMessagesRoundTrip(t *testing.T) {
	n := 0
	for _, k := range []Kind{KindCommand, KindResponse, KindEvent} {
		for c := range uint8(NumClasses) {
			for id := range uint8(32) {
				info, ok := Lookup(k, c, id)
				if !ok {
					continue
				}
				n++
				m := New(k, c, id)
				// A payload of the fixed size filled with a pattern, plus a 3-byte array.
				p := make([]byte, info.FixedLen)
				for i := range p {
					p[i] = byte(i*7 + 1)
				}
				if info.HasArray {
					p = append(p, 3, 0xAA, 0x00, 0xFF)
				}
				if err := m.(interface{ UnmarshalPayload([]byte) error }).UnmarshalPayload(p); err != nil {
					t.Fatalf("%s %s: %v", info.Name, k, err)
				}
				if got := m.AppendPayload(nil); !bytes.Equal(got, p) {
					t.Fatalf("%s %s: re-encode % X, want % X", info.Name, k, got, p)
				}
				if m.Name() != info.Name || m.Class() != c || m.ID() != id || m.Kind() != k || m.PayloadLen() != len(p) {
					t.Fatalf("%s: identity mismatch", info.Name)
				}
				frame, err := m.(interface{ MarshalBinary() ([]byte, error) }).MarshalBinary()
				if err != nil || !bytes.Equal(frame, m.AppendFrame(nil)) {
					t.Fatalf("%s: MarshalBinary % X, %v", info.Name, frame, err)
				}
				m2 := New(k, c, id)
				if err := m2.(interface{ UnmarshalBinary([]byte) error }).UnmarshalBinary(frame); err != nil || !reflect.DeepEqual(m, m2) {
					t.Fatalf("%s: UnmarshalBinary %v", info.Name, err)
				}
				f := Frame{Event: k == KindEvent, Class: c, ID: id, Payload: frame[HeaderLen:]}
				m3, err := decodeAs(k, f)
				if err != nil || !reflect.DeepEqual(m, m3) {
					t.Fatalf("%s: Decode %v", info.Name, err)
				}
				if k == KindEvent {
					var evs Events
					m4, err := evs.Decode(f)
					if err != nil || !reflect.DeepEqual(m, m4) {
						t.Fatalf("%s: Events.Decode %v, %v", info.Name, m4, err)
					}
				}
				// wrong lengths are rejected
				bad := append(append([]byte(nil), p...), 0)
				if err := m.(interface{ UnmarshalPayload([]byte) error }).UnmarshalPayload(bad); !errors.Is(err, ErrLength) {
					t.Fatalf("%s %s: long payload err %v", info.Name, k, err)
				}
				if len(p) > 0 {
					if err := m.(interface{ UnmarshalPayload([]byte) error }).UnmarshalPayload(p[:len(p)-1]); !errors.Is(err, ErrLength) {
						t.Fatalf("%s %s: short payload err %v", info.Name, k, err)
					}
				}
			}
		}
	}
	if n < 200 {
		t.Fatalf("only %d messages in the tables", n)
	}
}

func TestEncodeTooLong(t *testing.T) {
	m := CmdAttclientAttributeWrite{Data: make([]byte, 256)}
	if _, err := Encode(nil, m); !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v", err)
	}
	if _, err := m.MarshalBinary(); !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v", err)
	}
	b, err := Encode(nil, CmdAttclientAttributeWrite{Data: make([]byte, 255)})
	if err != nil || len(b) != 4+3+1+255 {
		t.Fatalf("255-byte array: %d, %v", len(b), err)
	}
}

func TestHeader(t *testing.T) {
	h := Header{Type: MsgEvent, Length: 0x123, Class: 4, ID: 5}
	b := h.Append(nil)
	if !bytes.Equal(b, []byte{0x81, 0x23, 4, 5}) {
		t.Fatalf("% X", b)
	}
	h2, err := ParseHeader(b)
	if err != nil || h2 != h {
		t.Fatalf("%+v %v", h2, err)
	}
	if _, err := ParseHeader(b[:3]); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
	wifi, _ := ParseHeader([]byte{0x08, 0, 0, 0})
	if wifi.Tech != TechWiFi {
		t.Fatalf("tech %d", wifi.Tech)
	}
}

func TestDecoderResync(t *testing.T) {
	notif := unhex(t, "80 07 04 05 00 12 00 01 02 01 02")
	proc := unhex(t, "80 05 04 01 00 01 04 12 00")
	hello := unhex(t, "00 00 00 01")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name    string
		in      []byte
		want    [][]byte
		skipped uint64
	}{
		{"clean", cat(notif, proc, hello), [][]byte{notif, proc, hello}, 0},
		{"leading garbage", cat([]byte{0xFF, 0x13, 0x42}, notif), [][]byte{notif}, 3},
		{"garbage between", cat(notif, []byte{0x55, 0xAA}, proc), [][]byte{notif, proc}, 2},
		// 0x80 followed by an unknown class: dropped one byte at a time.
		{"bogus event class", cat([]byte{0x80, 0x01, 0x0C, 0x00}, proc), [][]byte{proc}, 4},
		// A plausible header with a wrong array prefix: rescanned from the next byte.
		{"bad array prefix", cat(unhex(t, "80 07 04 05 00 12 00 01 05 01 02"), proc), [][]byte{proc}, 11},
		// Truncated frame followed by a good one: the bogus length swallows nothing because
		// the fixed size of procedure_completed does not match.
		{"wrong fixed length", cat(unhex(t, "80 04 04 01 00 01 04 12"), proc), [][]byte{proc}, 8},
		{"wifi start byte", cat([]byte{0x08, 0x01, 0x00, 0x01}, hello), [][]byte{hello}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(bytes.NewReader(tc.in))
			var got [][]byte
			for {
				f, err := d.Next()
				if err != nil {
					if err != io.EOF {
						t.Fatalf("err %v", err)
					}
					break
				}
				got = append(got, AppendFrame(nil, f))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("frames:\n got % X\nwant % X", got, tc.want)
			}
			if d.Skipped() != tc.skipped {
				t.Fatalf("skipped %d, want %d", d.Skipped(), tc.skipped)
			}
		})
	}
}

// oneByteReader delivers one byte per Read to exercise partial frames.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestDecoderByteByByteAndUnexpectedEOF(t *testing.T) {
	notif := unhex(t, "80 07 04 05 00 12 00 01 02 01 02")
	d := NewDecoder(&oneByteReader{append(append([]byte(nil), notif...), notif[:5]...)})
	f, err := d.Next()
	if err != nil || !bytes.Equal(AppendFrame(nil, f), notif) {
		t.Fatalf("% X %v", f.Payload, err)
	}
	if _, err := d.Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("err %v", err)
	}
}

func TestParserLenientCommands(t *testing.T) {
	p := NewParser(DecoderConfig{Direction: FromHost, Lenient: true})
	// unknown command (class 4 ID 0x30), malformed read_by_handle (2 bytes), an event byte
	// that a host never sends (0x80 dropped), then hello.
	p.Feed(unhex(t, "00 01 04 30 07  00 02 04 04 00 01  80  00 00 00 01"))
	var got []Frame
	for {
		f, ok := p.Next()
		if !ok {
			break
		}
		f.Payload = append([]byte(nil), f.Payload...)
		got = append(got, f)
	}
	want := []Frame{
		{Class: 4, ID: 0x30, Payload: []byte{7}},
		{Class: 4, ID: 4, Payload: []byte{0, 1}},
		{Class: 0, ID: 1, Payload: nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	if p.Skipped() != 1 {
		t.Fatalf("skipped %d", p.Skipped())
	}
	if _, err := DecodeCommand(got[0]); !errors.Is(err, ErrUnknownMessage) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := DecodeCommand(got[1]); !errors.Is(err, ErrLength) {
		t.Fatalf("malformed: %v", err)
	}
	// partial frame, then Reset (firmware's 1 s timeout).
	p.Feed([]byte{0x00, 0x05, 0x04})
	if _, ok := p.Next(); ok || p.Buffered() != 3 {
		t.Fatal("partial frame returned")
	}
	if n := p.Reset(); n != 3 || p.Buffered() != 0 {
		t.Fatalf("reset %d", n)
	}
	// Abandon drops one byte of a bogus partial header so the real frame behind it is found.
	p.Feed(unhex(t, "00 05 00 00 01"))
	if _, ok := p.Next(); ok {
		t.Fatal("partial frame returned")
	}
	p.Abandon()
	p.Abandon()
	p.Feed(unhex(t, "01"))
	// now buffered: 00 00 01 01 → hello? No: "00 00 01 01" is address_get-like (class 1 ID 1).
	f, ok := p.Next()
	if !ok || f.Class != 1 || f.ID != 1 {
		t.Fatalf("after abandon: %+v %v", f, ok)
	}
}

func TestDecodeKindMismatch(t *testing.T) {
	if _, err := DecodeEvent(Frame{Event: false, Class: 0, ID: 1}); !errors.Is(err, ErrHeader) {
		t.Fatal(err)
	}
	var m EvtAttclientAttributeValue
	if err := m.UnmarshalBinary(unhex(t, "00 07 04 05 00 12 00 01 02 01 02")); !errors.Is(err, ErrHeader) {
		t.Fatal(err)
	}
	if err := m.UnmarshalBinary(unhex(t, "80 07 04 05 00 12 00 01 02 01")); !errors.Is(err, ErrLength) {
		t.Fatal(err)
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		r     Result
		name  string
		space ResultSpace
	}{
		{0, "success", SpaceSuccess},
		{0x0180, "invalid_param", SpaceBGAPI},
		{0x0181, "wrong_state", SpaceBGAPI},
		{0x018F, "bgapi_error_0x8F", SpaceBGAPI},
		{0x0209, "connection_limit_exceeded", SpaceHCI},
		{0x0216, "connection_terminated_by_local_host", SpaceHCI},
		{0x023F, "hci_error_0x3F", SpaceHCI},
		{0x0305, "pairing_not_supported", SpaceSMP},
		{0x030E, "smp_error_0x0E", SpaceSMP},
		{0x0401, "invalid_handle", SpaceATT},
		{0x040F, "insufficient_encryption", SpaceATT},
		{0x0485, "att_application_error_0x85", SpaceATT},
		{0x04FD, "att_error_0xFD", SpaceATT},
		{0x0042, "unknown_result_0x0042", SpaceUnknown},
		{0x0701, "unknown_result_0x0701", SpaceUnknown},
	}
	for _, tc := range tests {
		if got := tc.r.String(); got != tc.name {
			t.Errorf("%04X: %q, want %q", uint16(tc.r), got, tc.name)
		}
		if got := tc.r.Space(); got != tc.space {
			t.Errorf("%04X: space %v, want %v", uint16(tc.r), got, tc.space)
		}
	}
	if c, ok := ResultATTInsufficientAuthentication.ATT(); !ok || c != att.ErrInsufficientAuthentication {
		t.Fatal(c, ok)
	}
	if _, ok := ResultWrongState.ATT(); ok {
		t.Fatal("bgapi code as ATT")
	}
	if ResultFromATT(att.ErrAttributeNotFound) != ResultATTAttributeNotFound || ResultFromHCI(0x13) != ResultRemoteUserTerminated || ResultFromSMP(5) != ResultPairingNotSupported {
		t.Fatal("ResultFrom*")
	}
	var err error = ResultWrongState
	if err.Error() != "bgapi result 0x0181 wrong_state" {
		t.Fatal(err.Error())
	}
}

// checkStream decodes in with cfg and verifies every frame re-encodes identically and, in
// strict mode, decodes as a typed message that re-encodes identically.
func checkStream(t testing.TB, in []byte, cfg DecoderConfig) {
	d := NewDecoderConfig(bytes.NewReader(in), cfg)
	consumed := 0
	for {
		f, err := d.Next()
		if err != nil {
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("err %v", err)
			}
			break
		}
		enc := AppendFrame(nil, f)
		if !bytes.Contains(in, enc) {
			t.Fatalf("frame % X not in input", enc)
		}
		consumed += len(enc)
		if cfg.Lenient {
			continue
		}
		var m Message
		switch {
		case cfg.Direction == FromHost:
			m, err = DecodeCommand(f)
		case f.Event:
			m, err = DecodeEvent(f)
		default:
			m, err = DecodeResponse(f)
		}
		if err != nil {
			t.Fatalf("strict frame % X does not decode: %v", enc, err)
		}
		if re := m.AppendFrame(nil); !bytes.Equal(re, enc) {
			t.Fatalf("typed re-encode % X, want % X", re, enc)
		}
	}
	if uint64(consumed)+d.Skipped()+uint64(d.Buffered()) != uint64(len(in)) {
		t.Fatalf("bytes lost: %d frames + %d skipped + %d buffered != %d", consumed, d.Skipped(), d.Buffered(), len(in))
	}
}

func FuzzDecoder(f *testing.F) {
	for _, tc := range workedFrames {
		f.Add(unhex(f, tc.hex))
	}
	f.Add(unhex(f, "FF 80 07 04 05 00 12 00 01 02 01 02 00 80 05 04 01 00 01 04 12 00"))
	f.Add(unhex(f, "80 01 0C 00 00 00 00 01 00 05 04 03 00 01 00 FF FF"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, cfg := range []DecoderConfig{
			{},
			{Direction: FromHost},
			{Lenient: true},
			{Direction: FromHost, Lenient: true, MaxPayload: 64},
		} {
			checkStream(t, in, cfg)
		}
	})
}

// loopReader replays data forever without allocating.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func BenchmarkDecoderNext(b *testing.B) {
	var stream []byte
	for range 64 {
		stream = EvtAttclientAttributeValue{Connection: 0, AttHandle: 0x12, Type: AttValueNotify, Value: make([]byte, 20)}.AppendFrame(stream)
		stream = EvtGapScanResponse{RSSI: -60, Sender: addrAA, Bond: NoBond, Data: make([]byte, 31)}.AppendFrame(stream)
	}
	d := NewDecoder(&loopReader{data: stream})
	var ev EvtAttclientAttributeValue
	b.ReportAllocs()
	b.SetBytes(int64(len(stream) / 128))
	for b.Loop() {
		f, err := d.Next()
		if err != nil {
			b.Fatal(err)
		}
		if f.Event && f.Class == ClassAttclient && f.ID == 5 {
			if err := ev.UnmarshalPayload(f.Payload); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	buf := make([]byte, 0, 64)
	m := EvtAttclientAttributeValue{Connection: 1, AttHandle: 0x12, Type: AttValueNotify, Value: make([]byte, 20)}
	b.ReportAllocs()
	for b.Loop() {
		buf = m.AppendFrame(buf[:0])
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestDecoderNoProgress(t *testing.T) {
	if _, err := NewDecoder(emptyReader{}).Next(); err != io.ErrNoProgress {
		t.Fatalf("err %v", err)
	}
}

// TestEventsDecode: Events decodes in place, into one reused value per event type, without
// allocating, and rejects what is not a well-formed BGAPI 1.x event.
func TestEventsDecode(t *testing.T) {
	var evs Events
	notify := EvtAttclientAttributeValue{Connection: 1, AttHandle: 0x12, Type: AttValueNotify, Value: []byte{1, 2, 3}}
	f := Frame{Event: true, Class: notify.Class(), ID: notify.ID(), Payload: notify.AppendPayload(nil)}
	m1, err := evs.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	e1, ok := m1.(*EvtAttclientAttributeValue)
	if !ok || !reflect.DeepEqual(*e1, notify) {
		t.Fatalf("Decode = %#v, want %#v", m1, notify)
	}
	if &e1.Value[0] != &f.Payload[5] {
		t.Error("array does not alias the payload")
	}
	m2, _ := evs.Decode(f)
	if m2.(*EvtAttclientAttributeValue) != e1 {
		t.Error("second Decode used another value")
	}
	if n := testing.AllocsPerRun(100, func() { evs.Decode(f) }); n != 0 {
		t.Errorf("Decode allocates %v times", n)
	}
	for _, tc := range []struct {
		name string
		f    Frame
		want error
	}{
		{"response", Frame{Class: 4, ID: 5, Payload: f.Payload}, ErrHeader},
		{"unknown", Frame{Event: true, Class: 4, ID: 31}, ErrUnknownMessage},
		{"unknown class", Frame{Event: true, Class: NumClasses}, ErrUnknownMessage},
		{"short", Frame{Event: true, Class: 4, ID: 5, Payload: f.Payload[:4]}, ErrLength},
		{"bad prefix", Frame{Event: true, Class: 4, ID: 5, Payload: append(bytes.Clone(f.Payload), 0)}, ErrLength},
	} {
		if m, err := evs.Decode(tc.f); m != nil || !errors.Is(err, tc.want) {
			t.Errorf("%s: Decode = %v, %v; want %v", tc.name, m, err, tc.want)
		}
	}
}

// TestEchoesConnection: the commands whose response echoes the connection byte are every
// connection and attclient command but connection_slave_latency_disable and
// attclient_indicate_confirm, and sm_encrypt_start (BLE SDK 1.x API reference §5.1, §5.3 and
// §5.7 response tables); the response rows carry the same flag.
func TestEchoesConnection(t *testing.T) {
	var got []string
	for c := range uint8(NumClasses) {
		for id := range uint8(32) {
			cmd, ok := Lookup(KindCommand, c, id)
			if !ok {
				continue
			}
			rsp, _ := Lookup(KindResponse, c, id)
			if rsp.EchoesConnection != cmd.EchoesConnection {
				t.Errorf("%s: command echo %v, response echo %v", cmd.Name, cmd.EchoesConnection, rsp.EchoesConnection)
			}
			if cmd.EchoesConnection {
				got = append(got, cmd.Name)
			}
		}
	}
	want := []string{
		"connection_disconnect", "connection_get_rssi", "connection_update", "connection_version_update",
		"connection_channel_map_get", "connection_channel_map_set", "connection_features_get",
		"connection_get_status", "connection_raw_tx",
		"attclient_find_by_type_value", "attclient_read_by_group_type", "attclient_read_by_type",
		"attclient_find_information", "attclient_read_by_handle", "attclient_attribute_write",
		"attclient_write_command", "attclient_read_long", "attclient_prepare_write",
		"attclient_execute_write", "attclient_read_multiple",
		"sm_encrypt_start",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("echoing commands:\n got %v\nwant %v", got, want)
	}
}
