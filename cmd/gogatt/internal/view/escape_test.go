package view

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"gogatt HRM", "gogatt HRM"},
		{"Héllo wörld", "Héllo wörld"},
		{"café ☕ 😀 日本語", "café ☕ 😀 日本語"},
		{"\uFFFD is U+FFFD", "\uFFFD is U+FFFD"}, // valid UTF-8: kept
		{`back\slash "quotes"`, `back\slash "quotes"`},
		{"\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},                                         // OSC 0: window title
		{"\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},                                               // erase screen, home
		{"a\x00b\tc\nd\re", `a\x00b\x09c\x0ad\x0de`},                                     // C0
		{"del\x7f", `del\x7f`},                                                           // DEL
		{"\u0080\u0085\u009b31m\u009d0;t\u009c", `\u0080\u0085\u009b31m\u009d0;t\u009c`}, // C1: PAD, NEL, CSI, OSC, ST
		{"\u00a0\u00ff", "\u00a0\u00ff"},                                                 // Latin-1 above C1: printable
		{"\xff\xfe", `\xff\xfe`},                                                         // not UTF-8
		{"\x9b31m", `\x9b31m`},                                                           // a lone C1 byte (8-bit CSI)
		{"\xc2\x9b", `\u009b`},                                                           // the same, UTF-8 encoded
		{"\xc2", `\xc2`},                                                                 // truncated sequence
		{"\xe2\x82", `\xe2\x82`},                                                         // truncated sequence
		{"\xed\xa0\x80", `\xed\xa0\x80`},                                                 // surrogate: not UTF-8
		{"ok\xc3\xa9\xc3", `oké\xc3`},
		{"HRM\u202egnp.exe", `HRM\u202egnp.exe`},                               // RIGHT-TO-LEFT OVERRIDE: would show "HRMexe.png"
		{"\u2066a\u2069\u200e\u200f\u061c", `\u2066a\u2069\u200e\u200f\u061c`}, // isolates, marks
		{"\u05e9\u05dc\u05d5\u05dd", "\u05e9\u05dc\u05d5\u05dd"},               // right-to-left text itself: kept
	} {
		got := Escape(tc.in)
		if got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !utf8.ValidString(got) || strings.ContainsFunc(got, func(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }) {
			t.Errorf("Escape(%q) = %q: not clean", tc.in, got)
		}
	}
}

func TestJSONEscapes(t *testing.T) {
	for _, in := range []string{
		"plain", "Héllo 😀", "\x1b]0;pwned\x07\x1b[2J", "del\x7f", "\u0085\u009b31m", "\u2028\u2029", "<&>",
	} {
		b, err := JSON(map[string]string{"name": in})
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(b) || strings.ContainsFunc(string(b), func(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f || r == '\u2028' || r == '\u2029' }) {
			t.Errorf("JSON(%q) = %q: holds a control or line separator", in, b)
		}
		var v struct{ Name string }
		if err := json.Unmarshal(b, &v); err != nil || v.Name != in {
			t.Errorf("JSON(%q) = %s decodes to %q, %v", in, b, v.Name, err)
		}
	}
	// Bytes that are not UTF-8 become U+FFFD (the value's hex carries the bytes).
	b, err := JSON([]string{"a\xffb\xc2"})
	if err != nil || string(b) != `["a\ufffdb\ufffd"]` {
		t.Errorf("JSON of invalid UTF-8 = %s, %v", b, err)
	}
}

// A hostile name is escaped in the table and the plain line, and the NAME column is as wide as
// its escaped form (cut to 24 columns), so every row stays aligned.
func TestHostileDeviceName(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	rows := []Device{
		{Address: "C0:FF:EE:00:00:01", Name: "\x1b[2J", RSSI: -52, LastSeen: now},
		{Address: "C0:FF:EE:00:00:02", Name: "Héllo 😀", RSSI: -60, LastSeen: now},
	}
	got := strings.Join(ScanTable(rows, now, 0), "\n")
	want := strings.Join([]string{
		"ADDRESS            NAME     RSSI  LAST SEEN  MANUFACTURER",
		`C0:FF:EE:00:00:01  \x1b[2J   -52        now  `,
		"C0:FF:EE:00:00:02  Héllo 😀   -60        now  ",
	}, "\n")
	if got != want {
		t.Errorf("ScanTable:\n%s\nwant\n%s", got, want)
	}
	long := Device{Address: "C0:FF:EE:00:00:03", Name: "evil\x1b]0;pwned\x07\x1b[2J\u009b31m", RSSI: -70, LastSeen: now, Manufacturer: "x\x1b[1m"}
	got = ScanTable([]Device{long}, now, 0)[1]
	if want := `C0:FF:EE:00:00:03  evil\x1b]0;pwned\x07\x1…   -70        now  x\x1b[1m`; got != want {
		t.Errorf("ScanTable row:\n%q\nwant\n%q", got, want)
	}
	if got, want := PlainScanLine(long), `C0:FF:EE:00:00:03   -70 dBm  evil\x1b]0;pwned\x07\x1b[2J\u009b31m  [x\x1b[1m]`; got != want {
		t.Errorf("PlainScanLine:\n%q\nwant\n%q", got, want)
	}
}
