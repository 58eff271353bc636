package bluezsim

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

func filterBytes(typeMask uint32, events []byte, opcode uint16) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b, typeMask)
	for _, ev := range events {
		i := 4 + 4*int(ev>>5)
		binary.LittleEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(b[i:])|1<<(ev&31))
	}
	binary.LittleEndian.PutUint16(b[12:], opcode)
	return b
}

func TestHCIFilter(t *testing.T) {
	cc := func(op uint16) []byte { return []byte{4, evtCommandComplete, 4, 1, byte(op), byte(op >> 8), 0} }
	cs := func(op uint16) []byte { return []byte{4, evtCommandStatus, 4, 0, 1, byte(op), byte(op >> 8)} }
	adv := advReport(advInd, 0, bt.MustParseAddress(sim.HeartRateAddress), nil, -50)
	events := 1 << hciEventPkt
	tests := []struct {
		name   string
		filter []byte
		pkt    []byte
		want   bool
	}{
		{"zero filter passes nothing", make([]byte, 16), cc(opLESetScanParams), false},
		{"event type not selected", filterBytes(1<<hciCommandPkt, []byte{evtCommandComplete}, 0), cc(opLESetScanParams), false},
		{"event code not selected", filterBytes(uint32(events), []byte{evtLEMeta}, 0), cc(opLESetScanParams), false},
		{"command complete, any opcode", filterBytes(uint32(events), []byte{evtCommandComplete}, 0), cc(opReset), true},
		{"command complete, its opcode", filterBytes(uint32(events), []byte{evtCommandComplete}, opLESetScanEnable), cc(opLESetScanEnable), true},
		{"command complete, other opcode", filterBytes(uint32(events), []byte{evtCommandComplete}, opLESetScanEnable), cc(opLESetScanParams), false},
		{"command status, other opcode", filterBytes(uint32(events), []byte{evtCommandStatus}, opLESetScanEnable), cs(opLESetScanParams), false},
		{"command status, its opcode", filterBytes(uint32(events), []byte{evtCommandStatus}, opLESetScanEnable), cs(opLESetScanEnable), true},
		{"LE meta ignores the opcode", filterBytes(uint32(events), []byte{evtLEMeta}, opLESetScanEnable), adv, true},
		{"short packet", filterBytes(uint32(events), []byte{evtLEMeta}, 0), []byte{4}, false},
	}
	for _, tc := range tests {
		if got := parseFilter(tc.filter).passes(tc.pkt); got != tc.want {
			t.Errorf("%s: passes = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAdvReports(t *testing.T) {
	ps := sim.DemoPeripherals(1)
	hr := ps[0]
	le := hr.Address().LE()
	want := append([]byte{hciEventPkt, evtLEMeta, 0, subevtAdvReport, 1, advInd, 0}, le[:]...)
	want = append(want, byte(len(hr.AdvertisingData())))
	want = append(want, hr.AdvertisingData()...)
	want[2] = byte(len(want) + 1 - 3)
	active := advReports(hr, true)
	if len(active) != 2 {
		t.Fatalf("active scan: %d reports, want ADV_IND and SCAN_RSP", len(active))
	}
	if got := active[0][:len(want)]; !bytes.Equal(got, want) {
		t.Errorf("ADV_IND\n got % x\nwant % x", got, want)
	}
	if active[1][5] != scanRsp || !bytes.Contains(active[1], hr.ScanResponseData()) {
		t.Errorf("SCAN_RSP: % x", active[1])
	}
	if n := len(advReports(hr, false)); n != 1 {
		t.Errorf("passive scan: %d reports, want 1", n)
	}
	if got := advReport(advInd, 1, hr.Address(), make([]byte, 40), -1); len(got) != 7+6+1+31+1 || got[2] != byte(len(got)-3) {
		t.Errorf("oversized AD data not cut to 31 octets: % x", got)
	}
}

func TestHello(t *testing.T) {
	src, dst := bt.MustParseAddress("C0:FF:EE:00:00:00"), bt.MustParseAddress(sim.TortureAddress)
	sl, dl := src.LE(), dst.LE()
	m := append([]byte(ctlMagic+"H"), sl[:]...)
	m = append(m, 1)
	m = append(m, dl[:]...)
	m = append(m, 2, btSecurityHigh)
	h, err := parseHello(m)
	if err != nil || h.src != src || h.dst != dst || h.srcType != 1 || h.dstType != 2 || h.secLevel != btSecurityHigh {
		t.Errorf("parseHello = %+v, %v", h, err)
	}
	for _, bad := range [][]byte{nil, m[:len(m)-1], append([]byte{0x0a}, m[1:]...), []byte(ctlMagic + "S\x02")} {
		if _, err := parseHello(bad); err == nil {
			t.Errorf("parseHello(% x) accepted", bad)
		}
	}
	if got := connectReply(111, 23); !bytes.Equal(got, []byte(ctlMagic+"C\x6f\x00\x00\x00\x17\x00")) {
		t.Errorf("connectReply = % x", got)
	}
}

func TestSimLevel(t *testing.T) {
	for lvl, want := range map[uint8]sim.SecurityLevel{0: sim.SecurityNone, btSecurityLow: sim.SecurityNone,
		btSecurityMedium: sim.SecurityEncrypted, btSecurityHigh: sim.SecurityAuthenticated, btSecurityFIPS: sim.SecurityAuthenticated} {
		if got := simLevel(lvl); got != want {
			t.Errorf("simLevel(%d) = %v, want %v", lvl, got, want)
		}
	}
}

func TestParseHCIDevice(t *testing.T) {
	for in, want := range map[string]int{"": 0, "hci0": 0, "hci3": 3} {
		if got, err := parseHCIDevice(in); err != nil || got != want {
			t.Errorf("parseHCIDevice(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"hci", "hci-1", "hci16", "eth0", "hci0; rm"} {
		if _, err := parseHCIDevice(in); err == nil {
			t.Errorf("parseHCIDevice(%q) accepted", in)
		}
	}
}

// FuzzControl feeds arbitrary messages to the parsers of the shim's control messages.
func FuzzControl(f *testing.F) {
	f.Add([]byte(ctlMagic + "H\x00\x00\x00\xee\xff\xc0\x01\x01\x00\x00\xee\xff\xc0\x01\x02"))
	f.Add([]byte(ctlMagic + "F\x10\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte{0x0a, 0x03, 0x00})
	f.Fuzz(func(t *testing.T, m []byte) {
		if h, err := parseHello(m); err == nil && len(m) < len(ctlMagic)+16 {
			t.Fatalf("short hello accepted: %+v", h)
		}
		flt := parseFilter(m)
		flt.passes(m)
	})
}

// TestMethodFor: the pairing method of the central's agent capability and the peer's, as
// Table 2.8 of Core v5.3 Vol 3 Part H gives it with LE Secure Connections (the central
// initiates).
func TestMethodFor(t *testing.T) {
	caps := []string{noInputNoOutput, capDisplayOnly, capDisplayYesNo, capKeyboardOnly, capKeyboardDisp}
	J, E, S, C := justWorks, enterPasskey, showPasskey, comparison
	want := map[PeerIO][]pairMethod{ // by central capability, in the order of caps
		PeerNoIO:         {J, J, J, J, J},
		PeerDisplayOnly:  {J, J, J, E, E},
		PeerKeyboard:     {J, S, S, E, S},
		PeerDisplayYesNo: {J, J, C, E, C},
	}
	for peer, row := range want {
		for i, c := range caps {
			if got := methodFor(c, peer); got != row[i] {
				t.Errorf("methodFor(%s, peer %d) = %d, want %d", c, peer, got, row[i])
			}
		}
	}
}

// TestADPattern: the monitor patterns bluetoothd accepts (bt_ad_pattern_new, src/shared/ad.c,
// BlueZ 5.66) and how one matches an AD structure of the advertising data.
func TestADPattern(t *testing.T) {
	data := []byte{0x02, 0x01, 0x06, 0x05, 0xff, 0x4c, 0x00, 0x7e, 0x57}
	for _, tc := range []struct {
		name         string
		p            adPattern
		valid, match bool
	}{
		{"flags", adPattern{0, 0x01, []byte{0x06}}, true, true},
		{"other flags", adPattern{0, 0x01, []byte{0x02}}, true, false},
		{"manufacturer data at an offset", adPattern{2, 0xff, []byte{0x7e, 0x57}}, true, true},
		{"past the structure", adPattern{3, 0xff, []byte{0x57, 0x00}}, true, false},
		{"type absent", adPattern{0, 0x09, []byte("g")}, true, false},
		{"no content", adPattern{0, 0x01, nil}, false, false},
		{"beyond 31 octets", adPattern{30, 0x01, []byte{1, 2}}, false, false},
		{"unknown AD type", adPattern{0, 0x50, []byte{1}}, false, false},
	} {
		if got := validPattern(tc.p); got != tc.valid {
			t.Errorf("%s: valid %v, want %v", tc.name, got, tc.valid)
		}
		if got := tc.p.matches(data); got != tc.match {
			t.Errorf("%s: matches %v, want %v", tc.name, got, tc.match)
		}
	}
}
