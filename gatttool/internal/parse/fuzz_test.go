package parse

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes through the splitter (in two chunks, at a fuzzed boundary)
// and every classifier. Invariants: no panic; chunking does not change the tokens; every line
// that classifies as a result re-parses identically.
func FuzzParse(f *testing.F) {
	for _, c := range captures {
		f.Add([]byte(c.raw), uint16(3))
	}
	for _, l := range []string{
		"Notification handle = 0x000c value: 48 65 6c 6c 6f \r\n",
		"Indication   handle = 0x0025 value: 01 \r\n",
		"handle: 0x0003 \t value: 01 02 \r\n",
		"handle: 0x0002, char properties: 0x0a, char value handle: 0x0003, uuid: 00002a00-0000-1000-8000-00805f9b34fb\r\n",
		"Characteristic value/descriptor: 00 \r\n",
		"MTU was exchanged successfully: 100\r\n",
		"LE Scan ...\nAA:BB:CC:DD:EE:01 Thermo01\n",
		"[\x01\x1b[0;91m\x02DEL\x01\x1b[0m\x02] Device AA:BB:CC:DD:EE:01 Thermo01\n",
		"\x1b[0;94m[bluetooth]\x1b[0m# ",
	} {
		f.Add([]byte(l), uint16(1))
	}
	f.Fuzz(func(t *testing.T, raw []byte, cut uint16) {
		for _, mode := range []Mode{ModeGatttool, ModeBluetoothctl, ModePlain} {
			whole := collect(mode, raw, len(raw))
			split := collect(mode, raw, int(cut)%(len(raw)+1))
			if strings.Join(whole, "\x00") != strings.Join(split, "\x00") {
				t.Fatalf("mode %d: chunking changed tokens:\n%q\n%q", mode, whole, split)
			}
			for _, tk := range whole {
				if !strings.HasPrefix(tk, "L:") {
					continue
				}
				line := tk[2:]
				l := ParseGatttool(line)
				_ = l.Err("op", 1)
				_ = l.String()
				if l.Kind == Notification || l.Kind == Value {
					l2 := ParseGatttool(line)
					if !bytes.Equal(l.Value, l2.Value) {
						t.Fatal("unstable parse")
					}
				}
				_ = ParseLescan(line)
				_ = ParseBluetoothctl(line).Err("remove")
			}
		}
	})
}

func collect(mode Mode, raw []byte, cut int) []string {
	s := Splitter{Mode: mode}
	var out []string
	fn := func(t Token) { out = append(out, tokString(t)) }
	s.Feed(raw[:cut], fn)
	s.Feed(raw[cut:], fn)
	s.Flush(fn)
	return out
}

// BenchmarkSplitAndParseNotification measures the per-notification cost of the reader path:
// split one redraw-wrapped notification line and classify it.
func BenchmarkSplitAndParseNotification(b *testing.B) {
	raw := []byte("\r                                    \rNotification handle = 0x000c value: 01 00 00 00 48 65 6c 6c 6f 20 77 6f 72 6c 64 \r\n\x1b[0;94m[11:22:33:44:55:66]\x1b[0m[LE]> ")
	var s Splitter
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	n := 0
	for b.Loop() {
		s.Feed(raw, func(t Token) {
			if !t.IsPrompt {
				if ParseGatttool(t.Line).Kind == Notification {
					n++
				}
			}
		})
	}
	if n == 0 {
		b.Fatal("no notification parsed")
	}
}

// BenchmarkParseCharacteristic measures classification of a discovery line.
func BenchmarkParseCharacteristic(b *testing.B) {
	line := "handle: 0x0002, char properties: 0x0a, char value handle: 0x0003, uuid: 00002a00-0000-1000-8000-00805f9b34fb"
	b.ReportAllocs()
	for b.Loop() {
		if ParseGatttool(line).Kind != Characteristic {
			b.Fatal("bad parse")
		}
	}
}
