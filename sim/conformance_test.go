package sim

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gogatt/gogatt/bt"
)

// step is one PDU sent by the client and the PDU expected back ("-": none).
type step struct{ req, rsp string }

// TestATTConformance drives the torture device (handle table in docs/sim.md) with request
// bytes and compares the response bytes. Each row cites Core v5.3 Vol 3 Part F. After every
// row a Read of the Device Name checks that nothing unexpected was sent.
func TestATTConformance(t *testing.T) {
	var (
		name     = hexStr(TortureName)
		svc1     = uuidLE(TortureService)
		dup      = uuidLE(TortureDuplicate)
		sig      = "000102030405060708090a0b"
		big21    = strings.Repeat("aa", 21)
		encr     = uuidLE(TortureEncrypted)
		mtu517   = step{"02 0502", "03 0502"}
		encPair  = func(p *Peripheral, l *Link) { l.Pair(SecurityEncrypted, false) }
		authPair = func(p *Peripheral, l *Link) { l.Pair(SecurityAuthenticated, false) }
	)
	rows := []struct {
		name  string
		setup func(p *Peripheral, l *Link)
		steps []step
	}{
		// §3.4.2 Exchange MTU
		{"§3.4.2.1-2 exchange MTU", nil, []step{mtu517}},
		{"§3.4.2.2 client MTU below 23", nil, []step{{"02 1000", "03 0502"}}},
		{"§3.4.2.1 malformed → Invalid PDU", nil, []step{{"02 05", "01 02 0000 04"}}},
		// §3.4.3.1-2 Find Information
		{"§3.4.3.2 16-bit format", nil, []step{{"04 0100 0500", "05 01 0100 0028 0200 0328 0300 002a 0400 0328 0500 012a"}}},
		{"§3.4.3.2 MTU limits the pairs", nil, []step{{"04 0100 ffff", "05 01 0100 0028 0200 0328 0300 002a 0400 0328 0500 012a"}}},
		{"§3.4.3.2 128-bit format", nil, []step{{"04 0c00 0c00", "05 02 0c00" + uuidLE(TortureLong)}}},
		{"§3.4.3.2 format change ends the list (128)", nil, []step{{"04 2c00 2f00", "05 02 2c00" + uuidLE(TortureMixedDescs)}}},
		{"§3.4.3.2 format change ends the list (16)", nil, []step{{"04 2d00 2f00", "05 01 2d00 0129"}}},
		{"§3.4.3.2 handle gap", nil, []step{{"04 9e00 ffff", "05 01 0002 0028 0102 0328 0202 f1ff 0302 0229"}}},
		{"§3.4.3.1 start 0 → Invalid Handle", nil, []step{{"04 0000 0500", "01 04 0000 01"}}},
		{"§3.4.3.1 start > end → Invalid Handle", nil, []step{{"04 0500 0100", "01 04 0500 01"}}},
		{"§3.4.3.1 none → Attribute Not Found", nil, []step{{"04 0402 ffff", "01 04 0402 0a"}}},
		{"§3.4.3.1 malformed", nil, []step{{"04 0100 ff", "01 04 0000 04"}}},
		// §3.4.3.3-4 Find By Type Value
		{"§3.4.3.4 128-bit service", nil, []step{{"06 0100 ffff 0028" + svc1, "07 0a00 3900"}}},
		{"§3.4.3.4 16-bit service after gap", nil, []step{{"06 0100 ffff 0028 f0ff", "07 0002 0302"}}},
		{"§3.4.3.4 non-grouping type: end = found", nil, []step{{"06 0100 ffff 0129" + hexStr("CCCD third"), "07 3f00 3f00"}}},
		{"§3.4.3.3 none → Attribute Not Found", nil, []step{{"06 0100 ffff 0028 0d18", "01 06 0100 0a"}}},
		{"§3.4.3.3 start 0 → Invalid Handle", nil, []step{{"06 0000 ffff 0028 0d18", "01 06 0000 01"}}},
		{"§3.4.3.3 malformed", nil, []step{{"06 0100 ffff 00", "01 06 0000 04"}}},
		// §3.4.4.1-2 Read By Type
		{"§3.4.4.2 characteristic declarations", nil, []step{{"08 0100 0500 0328", "09 07 0200 02 0300 002a 0400 02 0500 012a"}}},
		{"§3.4.4.2 value length change ends the list", nil, []step{mtu517, {"08 0100 ffff 0328", "09 07 0200 02 0300 002a 0400 02 0500 012a 0700 20 0800 052a"}}},
		{"§3.4.4.2 128-bit type, MTU 23 fits one", nil, []step{{"08 0100 ffff" + dup, "09 0b 1e00" + hexStr("service 1")}}},
		{"§3.4.4.2 128-bit type, MTU 517 fits both", nil, []step{mtu517, {"08 0100 ffff" + dup, "09 0b 1e00" + hexStr("service 1") + "3c00" + hexStr("service 2")}}},
		{"§3.4.4.2 value truncated to MTU-4", nil, []step{{"08 0100 ffff" + uuidLE(TortureLong), "09 15 0c00" + patternHex(0, 19)}}},
		{"§3.4.4.2 CCCDs per link", nil, []step{{"08 0100 ffff 0229", "09 04 0900 0000 1800 0000 1c00 0000 2a00 0000 4100 0000"}}},
		{"§3.4.4.2 CCCD after enabling", nil, []step{{"12 1800 0100", "13"}, {"08 1500 1900 0229", "09 04 1800 0100"}}},
		{"§3.4.4.1 encryption required", nil, []step{{"08 0100 ffff" + encr, "01 08 1000 0f"}}},
		{"§3.4.4.1 encrypted link", encPair, []step{{"08 0100 ffff" + encr, "09 08 1000" + hexStr("secret")}}},
		{"§3.4.4.1 read not permitted", nil, []step{{"08 0100 ffff" + uuidLE(TortureNoAccess), "01 08 2700 02"}}},
		{"§3.4.4.1 none → Attribute Not Found", nil, []step{{"08 0100 ffff 0d2a", "01 08 0100 0a"}}},
		{"§3.4.4.1 start > end → Invalid Handle", nil, []step{{"08 0200 0100 0328", "01 08 0200 01"}}},
		{"§3.4.4.1 start 0 → Invalid Handle", nil, []step{{"08 0000 ffff 0328", "01 08 0000 01"}}},
		{"§3.4.4.1 32-bit UUID → Invalid PDU", nil, []step{{"08 0100 ffff 0d180000", "01 08 0000 04"}}},
		// §3.4.4.3-4 Read
		{"§3.4.4.4 read", nil, []step{{"0a 0300", "0b" + name}}},
		{"§3.4.4.4 truncated to MTU-1", nil, []step{{"0a 0c00", "0b" + patternHex(0, 22)}}},
		{"§3.4.4.4 full value after MTU 517", nil, []step{mtu517, {"0a 0c00", "0b" + patternHex(0, 300)}}},
		{"§3.4.4.4 empty value", nil, []step{{"0a 3700", "0b"}}},
		{"§3.4.4.4 computed value", nil, []step{{"0a 2500", "0b 01000000"}, {"0a 2500", "0b 02000000"}}},
		{"§3.4.4.4 service declaration", nil, []step{{"0a 0a00", "0b" + svc1}}},
		{"§3.4.4.4 characteristic declaration", nil, []step{{"0a 0b00", "0b 0a 0c00" + uuidLE(TortureLong)}}},
		{"§3.4.4.4 extended properties", nil, []step{{"0a 2300", "0b 0100"}}},
		{"§3.4.4.4 CCCD", nil, []step{{"0a 1800", "0b 0000"}}},
		{"§3.4.4.3 handle 0 → Invalid Handle", nil, []step{{"0a 0000", "01 0a 0000 01"}}},
		{"§3.4.4.3 handle in gap → Invalid Handle", nil, []step{{"0a 0001", "01 0a 0001 01"}}},
		{"§3.4.4.3 write-only → Read Not Permitted", nil, []step{{"0a 0e00", "01 0a 0e00 02"}}},
		{"§3.4.4.3 Insufficient Encryption", nil, []step{{"0a 1000", "01 0a 1000 0f"}}},
		{"§3.4.4.3 Insufficient Authentication", nil, []step{{"0a 1200", "01 0a 1200 05"}}},
		{"§3.4.4.3 encrypted is not authenticated", encPair, []step{{"0a 1000", "0b" + hexStr("secret")}, {"0a 1200", "01 0a 1200 05"}}},
		{"§3.4.4.3 authenticated link", authPair, []step{{"0a 1200", "0b" + hexStr("top secret")}}},
		{"§3.4.4.3 Insufficient Authorization", nil, []step{{"0a 1400", "01 0a 1400 08"}}},
		{"§3.4.4.3 authorized", func(p *Peripheral, l *Link) {
			p.SetAuthorizer(func(c bt.Address, h uint16) bool { return c == testCentral && h == 0x14 })
		}, []step{{"0a 1400", "0b" + hexStr("authorized")}}},
		{"§3.4.4.3 malformed", nil, []step{{"0a 03", "01 0a 0000 04"}}},
		// §3.4.4.5-6 Read Blob
		{"§3.4.4.6 second part", nil, []step{{"0c 0c00 1600", "0d" + patternHex(22, 22)}}},
		{"§3.4.4.6 offset = length → empty", nil, []step{{"0c 0c00 2c01", "0d"}}},
		{"§3.4.4.5 offset > length → Invalid Offset", nil, []step{{"0c 0c00 2d01", "01 0c 0c00 07"}}},
		{"§3.4.4.5 Invalid Handle", nil, []step{{"0c 0001 0000", "01 0c 0001 01"}}},
		{"§3.4.4.5 declaration → Attribute Not Long", nil, []step{{"0c 0b00 0100", "01 0c 0b00 0b"}}},
		{"§3.4.4.5 CCCD → Attribute Not Long", nil, []step{{"0c 1800 0100", "01 0c 1800 0b"}}},
		{"§3.4.4.5 Read Not Permitted", nil, []step{{"0c 0e00 0000", "01 0c 0e00 02"}}},
		{"§3.4.4.5 Insufficient Encryption", nil, []step{{"0c 1000 0000", "01 0c 1000 0f"}}},
		{"§3.4.4.5 malformed", nil, []step{{"0c 0c00", "01 0c 0000 04"}}},
		// §3.4.4.7-8 Read Multiple
		{"§3.4.4.8 concatenated", nil, []step{{"0e 1e00 3c00", "0f" + hexStr("service 1service 2")}}},
		{"§3.4.4.8 truncated to MTU-1", nil, []step{{"0e 0c00 1e00", "0f" + patternHex(0, 22)}}},
		{"§3.4.4.7 Invalid Handle names the handle", nil, []step{{"0e 1e00 0001", "01 0e 0001 01"}}},
		{"§3.4.4.7 Insufficient Encryption", nil, []step{{"0e 1e00 1000", "01 0e 1000 0f"}}},
		{"§3.4.4.7 Read Not Permitted", nil, []step{{"0e 0e00 1e00", "01 0e 0e00 02"}}},
		{"§3.4.4.7 one handle → Invalid PDU", nil, []step{{"0e 1e00", "01 0e 0000 04"}}},
		// §3.4.4.11-12 Read Multiple Variable Length
		{"§3.4.4.12 length-value tuples", nil, []step{{"20 1e00 3700", "21 0900" + hexStr("service 1") + "0000"}}},
		{"§3.4.4.11 Invalid Handle", nil, []step{{"20 1e00 0001", "01 20 0001 01"}}},
		// §3.4.4.9-10 Read By Group Type
		{"§3.4.4.10 16-bit services", nil, []step{{"10 0100 ffff 0028", "11 06 0100 0500 0018 0600 0900 0118"}}},
		{"§3.4.4.10 128-bit service", nil, []step{{"10 0a00 ffff 0028", "11 14 0a00 3900" + svc1}}},
		{"§3.4.4.10 after the gap", nil, []step{{"10 9e00 ffff 0028", "11 06 0002 0302 f0ff"}}},
		{"§3.4.4.10 secondary service", nil, []step{{"10 0100 ffff 0128", "11 14 9b00 9d00" + uuidLE(TortureSecondary)}}},
		{"§3.4.4.9 Unsupported Group Type", nil, []step{{"10 0100 ffff 0328", "01 10 0100 10"}}},
		{"§3.4.4.9 Invalid Handle", nil, []step{{"10 0000 ffff 0028", "01 10 0000 01"}}},
		{"§3.4.4.9 Attribute Not Found", nil, []step{{"10 0402 ffff 0028", "01 10 0402 0a"}}},
		// §3.4.5.1-2 Write Request
		{"§3.4.5.2 write then read", nil, []step{{"12 2000 6869", "13"}, {"0a 2000", "0b 6869"}}},
		{"§3.4.5.2 empty value", nil, []step{{"12 2000", "13"}, {"0a 2000", "0b"}}},
		{"§3.4.5.2 writable descriptor", nil, []step{{"12 2e00 787978", "13"}, {"0a 2e00", "0b 787978"}}},
		{"§3.4.5.1 Invalid Handle", nil, []step{{"12 0001 00", "01 12 0001 01"}}},
		{"§3.4.5.1 handle 0", nil, []step{{"12 0000 00", "01 12 0000 01"}}},
		{"§3.4.5.1 Write Not Permitted", nil, []step{{"12 1e00 00", "01 12 1e00 03"}}},
		{"§3.4.5.1 read-only descriptor", nil, []step{{"12 2d00 00", "01 12 2d00 03"}}},
		{"§3.4.5.1 declaration", nil, []step{{"12 0b00 00", "01 12 0b00 03"}}},
		{"§3.4.5.1 Insufficient Encryption", nil, []step{{"12 1000 00", "01 12 1000 0f"}}},
		{"§3.4.5.1 encrypted write", encPair, []step{{"12 1000 00", "13"}}},
		{"§3.4.5.1 application error", nil, []step{{"12 3500 00", "01 12 3500 80"}}},
		{"§3.4.5.1 Invalid Attribute Value Length", nil, []step{mtu517, {"12 2000" + big21, "01 12 2000 0d"}}},
		{"§3.4.5.1 PDU longer than ATT_MTU", nil, []step{{"12 2000" + big21, "01 12 0000 04"}}},
		{"§3.4.5.1 malformed", nil, []step{{"12 20", "01 12 0000 04"}}},
		{"Vol 3 Part G §3.3.3.3 CCCD notify", nil, []step{{"12 2a00 0100", "13"}, {"0a 2a00", "0b 0100"}}},
		{"Vol 3 Part G §3.3.3.3 CCCD both", nil, []step{{"12 2a00 0300", "13"}}},
		{"Vol 3 Part G §3.3.3.3 CCCD length", nil, []step{{"12 2a00 01", "01 12 2a00 0d"}}},
		{"Supplement Part B §1.2 CCCD unsupported bit", nil, []step{{"12 1c00 0100", "01 12 1c00 fd"}}},
		{"Supplement Part B §1.2 CCCD reserved bit", nil, []step{{"12 2a00 0400", "01 12 2a00 fd"}}},
		// §3.4.5.3 Write Command
		{"§3.4.5.3 write command", nil, []step{{"52 2000 4142", "-"}, {"0a 2000", "0b 4142"}}},
		{"§3.4.5.3 not permitted: ignored", nil, []step{{"52 1e00 41", "-"}, {"0a 1e00", "0b" + hexStr("service 1")}}},
		{"§3.4.5.3 malformed: ignored", nil, []step{{"52 31", "-"}}},
		// §3.4.5.4 Signed Write Command
		{"§3.4.5.4 signed write", nil, []step{{"d2 3300 41" + sig, "-"}, {"0a 3300", "0b 41"}}},
		{"§3.4.5.4 without the property: ignored", nil, []step{{"d2 2000 41" + sig, "-"}, {"0a 2000", "0b" + hexStr("short")}}},
		// §3.4.6 Queued writes
		{"§3.4.6 long write", nil, []step{{"16 0c00 0000 4142", "17 0c00 0000 4142"}, {"16 0c00 0200 4344", "17 0c00 0200 4344"}, {"18 01", "19"}, {"0a 0c00", "0b 41424344"}}},
		{"§3.4.6.3 Invalid Offset at execution", nil, []step{{"16 2000 0a00 41", "17 2000 0a00 41"}, {"18 01", "01 18 2000 07"}, {"0a 2000", "0b" + hexStr("short")}, {"18 01", "19"}}},
		{"§3.4.6.3 too long at execution", nil, []step{{"16 2000 0000" + strings.Repeat("bb", 18), "17 2000 0000" + strings.Repeat("bb", 18)}, {"16 2000 1200 cccccc", "17 2000 1200 cccccc"}, {"18 01", "01 18 2000 0d"}}},
		{"§3.4.6.3 application error at execution", nil, []step{{"16 3500 0000 41", "17 3500 0000 41"}, {"18 01", "01 18 3500 80"}}},
		{"§3.4.6.3 cancel", nil, []step{{"16 2000 0000 41", "17 2000 0000 41"}, {"18 00", "19"}, {"0a 2000", "0b" + hexStr("short")}}},
		{"§3.4.6.3 empty queue", nil, []step{{"18 01", "19"}}},
		{"§3.4.6.3 reserved flags → Invalid PDU", nil, []step{{"18 02", "01 18 0000 04"}}},
		{"§3.4.6.1 Invalid Handle", nil, []step{{"16 0001 0000 41", "01 16 0001 01"}}},
		{"§3.4.6.1 Write Not Permitted", nil, []step{{"16 1e00 0000 41", "01 16 1e00 03"}}},
		{"§3.4.6.1 Insufficient Encryption", nil, []step{{"16 1000 0000 41", "01 16 1000 0f"}}},
		{"§3.4.6.1 malformed", nil, []step{{"16 0c", "01 16 0000 04"}}},
		// §3.3, §3.4.1.1 other opcodes
		{"§3.4.1.1 unknown request → Request Not Supported", nil, []step{{"3f 00", "01 3f 0000 06"}}},
		{"§3.4.1.1 reserved opcode 0x14", nil, []step{{"14", "01 14 0000 06"}}},
		{"§3.3.1 unknown command ignored", nil, []step{{"7f 00", "-"}}},
		{"§3.4.7.3 stray confirmation ignored", nil, []step{{"1e", "-"}}},
		{"§3.3 response from the client ignored", nil, []step{{"0b 00", "-"}, {"1b 0300 00", "-"}}},
	}
	// §3.4.6.1 Prepare Queue Full: the torture device queues 32 writes.
	var full []step
	for i := range 32 {
		off := fmt.Sprintf("%02x00", i)
		full = append(full, step{"16 2000" + off + "41", "17 2000" + off + "41"})
	}
	full = append(full, step{"16 2000 2000 41", "01 16 2000 09"}, step{"18 00", "19"})
	rows = append(rows, struct {
		name  string
		setup func(p *Peripheral, l *Link)
		steps []step
	}{"§3.4.6.1 Prepare Queue Full", nil, full})

	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			p := torture(t)
			l := connect(t, p)
			if row.setup != nil {
				row.setup(p, l)
			}
			for _, s := range append(row.steps, step{"0a 0300", "0b" + name}) {
				if s.rsp == "-" {
					if err := l.WritePDU(hx(s.req)); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if got := roundTrip(t, l, hx(s.req)); !bytes.Equal(got, hx(s.rsp)) {
					t.Fatalf("request % x:\n got  % x\n want % x", hx(s.req), got, hx(s.rsp))
				}
			}
		})
	}
}
