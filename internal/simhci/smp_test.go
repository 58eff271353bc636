package simhci

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// le decodes a hexadecimal number written most significant octet first (as the spec's sample
// data are) into its octets least significant first (as SMP carries them).
func le(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(b)
	return b
}

func le16(t *testing.T, s string) (k [16]byte) {
	t.Helper()
	copy(k[:], le(t, s))
	return k
}

// TestC1S1 checks c1 and s1 against the sample data of Core v5.3 Vol 3 Part H §2.2.3 and
// §2.2.4.
func TestC1S1(t *testing.T) {
	var preq, pres [7]byte
	copy(preq[:], le(t, "07071000000101"))
	copy(pres[:], le(t, "05000800000302"))
	var ia, ra [6]byte
	copy(ia[:], le(t, "A1A2A3A4A5A6"))
	copy(ra[:], le(t, "B1B2B3B4B5B6"))
	for _, tc := range []struct {
		name      string
		got, want [16]byte
	}{
		{"c1", c1([16]byte{}, le16(t, "5783D52156AD6F0E6388274EC6702EE0"), preq, pres, 1, 0, ia, ra),
			le16(t, "1e1e3fef878988ead2a74dc5bef13b86")},
		{"s1", s1([16]byte{}, le16(t, "000F0E0D0C0B0A091122334455667788"), le16(t, "010203040506070899AABBCCDDEEFF00")),
			le16(t, "9a1fe1f0e8b0f49b5b4216ae796da062")},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %x, want %x (least significant octet first)", tc.name, tc.got, tc.want)
		}
	}
}

// TestHostPairsJustWorks runs LE legacy pairing, Just Works, as the central's side of the
// fake controller would: the Pairing Response, the confirm values checked both ways with c1,
// the STK (s1) given at the LTK Request of EDIV 0 and Rand 0, the keys distributed at the
// Encryption Change and the encrypted characteristic readable; on the next connection the
// distributed EDIV and Rand get the LTK and unknown ones a Negative Reply; a wrong confirm
// value fails the pairing.
func TestHostPairsJustWorks(t *testing.T) {
	p := sim.NewTortureDevice(bt.Address{0xC0, 0x00, 0x00, 0x00, 0x00, 0x09}, 1)
	f, nc := newFake(t)
	serve(t, f, nc, p)
	f.waitCmd(opLESetExtAdvEn)
	central := bt.Address{0x00, 0xAA, 0x01, 0x00, 0x00, 0x00}
	vh := p.ValueHandle(sim.TortureEncrypted)
	read := func(handle uint16) []byte {
		t.Helper()
		f.send(handle, cidATT, []byte{0x0a, byte(vh), byte(vh >> 8)})
		fr := f.frame()
		if fr.cid != cidATT {
			t.Fatalf("read answered on channel %d", fr.cid)
		}
		return fr.payload
	}
	smp := func(handle uint16, pdu ...byte) []byte {
		t.Helper()
		f.send(handle, cidSMP, pdu)
		fr := f.frame()
		if fr.cid != cidSMP {
			t.Fatalf("SMP %x answered on channel %d", pdu, fr.cid)
		}
		return fr.payload
	}
	ltkReq := func(handle uint16, ediv uint16, rnd []byte) {
		ev := []byte{leLTKRequest, byte(handle), byte(handle >> 8)}
		ev = append(ev, rnd...)
		f.event(evLEMeta, binary.LittleEndian.AppendUint16(ev, ediv)...)
	}

	f.connect(0x0040, central)
	if r := read(0x0040); r[0] != 0x01 || r[4] != 0x0f { // Insufficient Encryption
		t.Fatalf("read before pairing answered %x", r)
	}
	// A central proposing Secure Connections, MITM and keypress, all keys both ways.
	preq := [7]byte{0x01, 0x04, 0x00, 0x2d, 0x10, 0x0f, 0x0f}
	pres := smp(0x0040, preq[:]...)
	if want := []byte{0x02, 0x03, 0x00, 0x01, 0x10, 0x00, 0x01}; !bytes.Equal(pres, want) {
		t.Fatalf("Pairing Response %x, want %x", pres, want)
	}
	mrand := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	ia, ra := central.LE(), p.Address().LE()
	mconfirm := c1([16]byte{}, mrand, preq, [7]byte(pres), 0, 1, ia, ra)
	sconfirm := smp(0x0040, append([]byte{smpPairingConfirm}, mconfirm[:]...)...)
	srand := smp(0x0040, append([]byte{smpPairingRandom}, mrand[:]...)...)
	if sconfirm[0] != smpPairingConfirm || srand[0] != smpPairingRandom {
		t.Fatalf("confirm %x, random %x", sconfirm, srand)
	}
	if want := c1([16]byte{}, [16]byte(srand[1:]), preq, [7]byte(pres), 0, 1, ia, ra); !bytes.Equal(sconfirm[1:], want[:]) {
		t.Fatalf("Sconfirm %x, c1 of Srand %x", sconfirm[1:], want)
	}
	ltkReq(0x0040, 0, make([]byte, 8))
	stk := s1([16]byte{}, [16]byte(srand[1:]), mrand)
	if got := f.waitCmd(opLELTKReply); !bytes.Equal(got, append([]byte{0x40, 0}, stk[:]...)) {
		t.Fatalf("LTK Request Reply %x, want the STK %x", got, stk)
	}
	f.event(evEncChange, 0, 0x40, 0, 1)
	info, ident := f.frame(), f.frame()
	if info.cid != cidSMP || info.payload[0] != smpEncryptionInfo || len(info.payload) != 17 ||
		ident.cid != cidSMP || ident.payload[0] != smpCentralIdent || len(ident.payload) != 11 {
		t.Fatalf("keys %x, %x", info.payload, ident.payload)
	}
	if lvl, ok := p.Bonded(central); !ok || lvl != sim.SecurityEncrypted {
		t.Fatalf("Bonded = %v, %v", lvl, ok)
	}
	if r := read(0x0040); !bytes.Equal(r, []byte("\x0bsecret")) {
		t.Fatalf("read after pairing answered %x", r)
	}
	f.event(evDisconnComplete, 0, 0x40, 0x00, 0x13)
	f.waitCmd(opLESetExtAdvEn)

	f.connect(0x0041, central)
	ltkReq(0x0041, binary.LittleEndian.Uint16(ident.payload[1:]), ident.payload[3:])
	if got := f.waitCmd(opLELTKReply); !bytes.Equal(got, append([]byte{0x41, 0}, info.payload[1:]...)) {
		t.Fatalf("LTK Request Reply %x, want the LTK %x", got, info.payload[1:])
	}
	f.event(evEncChange, 0, 0x41, 0, 1)
	if r := read(0x0041); !bytes.Equal(r, []byte("\x0bsecret")) {
		t.Fatalf("read after encryption answered %x", r)
	}
	ltkReq(0x0041, binary.LittleEndian.Uint16(ident.payload[1:])+1, ident.payload[3:])
	if got := f.waitCmd(opLELTKNegReply); !bytes.Equal(got, []byte{0x41, 0}) {
		t.Fatalf("LTK Request Negative Reply %x", got)
	}
	ltkReq(0x0041, 0, make([]byte, 8)) // no pairing under way
	f.waitCmd(opLELTKNegReply)

	// A wrong confirm value.
	smp(0x0041, preq[:]...)
	smp(0x0041, append([]byte{smpPairingConfirm}, make([]byte, 16)...)...)
	if r := smp(0x0041, append([]byte{smpPairingRandom}, mrand[:]...)...); !bytes.Equal(r, []byte{smpPairingFailed, smpErrConfirmValue}) {
		t.Fatalf("random after a wrong confirm answered %x", r)
	}
	// The peripheral forgetting the bond: the LTK is no longer given.
	p.ClearBonds()
	ltkReq(0x0041, binary.LittleEndian.Uint16(ident.payload[1:]), ident.payload[3:])
	f.waitCmd(opLELTKNegReply)
}
