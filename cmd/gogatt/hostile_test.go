package main

// Terminal injection: a device chooses the bytes of its name and of its values, and gogatt
// prints them. These tests run the binary with --port on an emulated BLED112 (started here, on
// a real pseudo-terminal) whose only peripheral is hostile, and check that no control
// character it sent reaches stdout in any output mode.

import (
	"encoding/json"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

const (
	hostile = "C0:FF:EE:00:00:66"
	// hostileName is advertised (and is the GAP Device Name): OSC 0 (set the window title)
	// ended by BEL, ED 2 (erase the screen), then a C1 CSI (U+009B) starting SGR 31 (red).
	// Advertising data must be valid UTF-8 in the sim, so the name is.
	hostileName = "evil\x1b]0;pwned\x07\x1b[2J\u009b31m"
	// hostileNameShown is how gogatt shows it.
	hostileNameShown = `evil\x1b]0;pwned\x07\x1b[2J\u009b31m`
	// hostileText is the value of hostileChar (read, notify) and its user description: the
	// same, with a byte that is not UTF-8.
	hostileText      = "\x1b]0;pwned\x07\x1b[2J\u009b31m\xff"
	hostileTextShown = `\x1b]0;pwned\x07\x1b[2J\u009b31m\xff`
	hostileChar      = "7e57e71c-0000-4000-8000-746f72747572"
)

// startHostile serves an emulated BLED112 with one peripheral, hostile: its name and
// hostileChar's value are escape sequences; it also has the Heart Rate and Battery services
// the demo uses. It returns the port to pass to --port.
func startHostile(t *testing.T) string {
	t.Helper()
	b := sim.NewBuilder(bt.MustParseAddress(hostile)).Name(hostileName)
	b.Service(bt.UUID16(0x180d)).
		Characteristic(bt.UUID16(0x2a37), gatt.PropNotify).Value([]byte{0x06, 72}).
		AutoNotify(20, func(uint32) []byte { return []byte{0x06, 72} })
	b.Service(bt.UUID16(0x180f)).Characteristic(bt.UUID16(0x2a19), gatt.PropRead).Value([]byte{87})
	b.Service(bt.MustParseUUID("7e57e700-0000-4000-8000-746f72747572")).
		Characteristic(bt.MustParseUUID(hostileChar), gatt.PropRead|gatt.PropNotify).
		Value([]byte(hostileText)).UserDescription(hostileText).
		AutoNotify(20, func(uint32) []byte { return []byte(hostileText) })
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	emu, err := bled112.New(bled112.Config{Peripherals: []*sim.Peripheral{p}})
	if err != nil {
		t.Fatal(err)
	}
	port, err := emu.ListenPTY("")
	if err != nil {
		emu.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := port.Close(); err != nil {
			t.Error(err)
		}
		if err := emu.Close(); err != nil {
			t.Error(err)
		}
	})
	return port.Path()
}

// ownEscapes are the sequences gogatt itself writes to draw the live table (view.Live,
// view.HideCursor/ShowCursor); the pty adds CR to each LF.
var ownEscapes = regexp.MustCompile(`\x1b\[(\d+A|K|J|\?25[lh])|\r`)

// assertClean fails unless out is valid UTF-8 without control characters (C0 but LF, DEL, C1):
// nothing a terminal would act on instead of showing. own removes gogatt's own sequences first.
func assertClean(t *testing.T, what, out string, own bool) {
	t.Helper()
	if own {
		out = ownEscapes.ReplaceAllString(out, "")
	}
	for i, r := range out {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(out[i:], "\uFFFD"):
			t.Errorf("%s: byte %#02x at %d is not UTF-8 (an 8-bit terminal takes 0x80–0x9f as C1 controls):\n%q", what, out[i], i, out)
			return
		case r == '\n':
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			t.Errorf("%s: control character %U at %d reached stdout:\n%q", what, r, i, out)
			return
		}
	}
}

// TestHostileScan: the hostile name, in the streamed lines, in --json and in the live table on
// a terminal.
func TestHostileScan(t *testing.T) {
	port := startHostile(t)
	for _, tc := range []struct {
		args []string
		line string // the line that shows the name
		want string // what it contains
	}{
		{nil, `^` + hostile + ` .* evil`, "  " + hostileNameShown},
		{[]string{"--json"}, `"address":"` + hostile + `".*"name"`, ""},
	} {
		args := append([]string{"scan", "--port", port, "--duration", "1h"}, tc.args...)
		s := start(t, args...)
		line := s.waitLine(t, tc.line)
		code, rest := s.interrupt(t)
		if code != 0 {
			t.Errorf("%q: exit %d; stderr %s", args, code, s.stderr)
		}
		assertClean(t, strings.Join(args, " "), line+"\n"+rest, false)
		if tc.want != "" && !strings.Contains(line, tc.want) {
			t.Errorf("%q: line %q lacks %q", args, line, tc.want)
		}
		if tc.args != nil {
			var v struct{ Name string }
			if err := json.Unmarshal([]byte(line), &v); err != nil || v.Name != hostileName {
				t.Errorf("%q: %q decodes to name %q (%v), want %q", args, line, v.Name, err, hostileName)
			}
		}
	}

	const width = 100
	p := startPTY(t, width, "scan", "--port", port, "--duration", "1h")
	p.waitFor(t, width, `(?m)^`+hostile+`  evil`)
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 0 {
		t.Fatalf("live scan: exit %d:\n%q", code, p.output())
	}
	assertClean(t, "live scan", p.output(), true)
	s := newScreen(width)
	s.write(p.output())
	lines := s.text()
	if s.wrapped || len(s.unknownEscape) > 0 {
		t.Errorf("live scan: wrapped %v, unknown escapes %q:\n%s", s.wrapped, s.unknownEscape, strings.Join(lines, "\n"))
	}
	// The NAME column is 24 wide: the escaped name is cut to it.
	if len(lines) < 2 || !strings.HasPrefix(lines[1], hostile+"  "+hostileNameShown[:23]+"…") {
		t.Errorf("live scan: the device's row is not the escaped name cut to its column:\n%s", strings.Join(lines, "\n"))
	}
}

// TestHostileValues: values and names read over GATT, in every command that prints them.
func TestHostileValues(t *testing.T) {
	port := startHostile(t)
	for _, tc := range []struct {
		args []string
		want string // stdout contains
	}{
		{[]string{"read", hostile, hostileChar, "--format", "utf8"}, hostileTextShown + "\n"},
		{[]string{"read", hostile, "2a00", "--format", "utf8", "--long"}, hostileNameShown + "\n"},
		{[]string{"read", hostile, hostileChar}, "1b5d303b70776e6564071b5b324ac29b33316dff\n"},
		{[]string{"read", "--json", hostile, hostileChar, "--format", "utf8"}, `"hex":"1b5d303b70776e6564071b5b324ac29b33316dff"`},
		{[]string{"services", hostile}, "7e57e71c"},
		{[]string{"services", "--json", hostile}, "7e57e71c"},
		{[]string{"subscribe", hostile, hostileChar, "--format", "utf8", "--count", "2"}, "  " + hostileTextShown + "\n"},
		{[]string{"subscribe", "--json", hostile, hostileChar, "--format", "utf8", "--count", "2"}, `"summary"`},
	} {
		args := append([]string{tc.args[0], "--port", port}, tc.args[1:]...)
		r := run(t, 0, args...)
		assertClean(t, strings.Join(args, " "), r.stdout, false)
		if !strings.Contains(r.stdout, tc.want) {
			t.Errorf("%q: stdout lacks %q:\n%s", args, tc.want, r.stdout)
		}
	}
	// --json carries the value itself: decoded, the text is the value (its byte that is not
	// UTF-8 replaced by U+FFFD).
	r := run(t, 0, "read", "--port", port, "--json", hostile, hostileChar, "--format", "utf8")
	var v struct{ Text string }
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Text != strings.ToValidUTF8(hostileText, "\uFFFD") {
		t.Errorf("read --json: text %q (%v), want %q", v.Text, err, strings.ToValidUTF8(hostileText, "\uFFFD"))
	}
}

// TestHostileDemo: the demo prints the scanned names and the name of the device it connects to.
func TestHostileDemo(t *testing.T) {
	port := startHostile(t)
	for _, jsonOut := range []bool{false, true} {
		args := []string{"demo", "--port", port, "--address", hostile, "--scan", "1s", "--duration", "300ms"}
		if jsonOut {
			args = append(args, "--json")
		}
		r := run(t, 0, args...)
		assertClean(t, strings.Join(args, " "), r.stdout, false)
		// The scan lasts 1 s: a loaded machine may not see the device in time (the demo then
		// says so); when it did, its name is shown escaped.
		if !jsonOut && !strings.Contains(r.stdout, "(not seen in the scan)") && !strings.Contains(r.stdout, "== Connecting to "+hostile+" ("+hostileNameShown+")") {
			t.Errorf("%q: no escaped name in the connect step:\n%s", args, r.stdout)
		}
	}
}
