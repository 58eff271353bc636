package sim

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gogatt/gogatt/bt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testCentral = bt.MustParseAddress("AA:BB:CC:DD:EE:01")

func hx(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func torture(t testing.TB) *Peripheral {
	t.Helper()
	return NewTortureDevice(bt.MustParseAddress(TortureAddress), 1)
}

func connect(t testing.TB, p *Peripheral) *Link {
	t.Helper()
	l, err := p.Connect(testCentral, bt.AddressPublic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// roundTrip sends req and returns the next PDU from the server.
func roundTrip(t testing.TB, l *Link, req []byte) []byte {
	t.Helper()
	if err := l.WritePDU(req); err != nil {
		t.Fatalf("WritePDU(% x): %v", req, err)
	}
	rsp, err := l.ReadPDU()
	if err != nil {
		t.Fatalf("ReadPDU after % x: %v", req, err)
	}
	return rsp
}

// uuidLE is the 16-octet little-endian wire form of u, in hex.
func uuidLE(u bt.UUID) string {
	var b []byte
	for i := 15; i >= 0; i-- {
		b = append(b, u[i])
	}
	return hex.EncodeToString(b)
}

func hexStr(s string) string { return hex.EncodeToString([]byte(s)) }

func patternHex(from, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(from + i)
	}
	return hex.EncodeToString(b)
}
