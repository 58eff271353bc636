package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s as it may be written to a terminal: every control character — C0 (U+0000–
// U+001F) and DEL as \xNN, C1 (U+0080–U+009F) as \u00NN — and every byte that is not part of
// valid UTF-8, as \xNN, are replaced by their escaped spelling; printable text, Unicode
// included ("Héllo", "😀"), is kept as it is. Everything that came from a device (names,
// values) is printed through it: a terminal acts on control characters instead of showing
// them, so a name holding ESC ] 0 ; … BEL (OSC; 0 sets the window title in xterm) would retitle
// the window, ESC [ 2 J (ED) erase the screen, and U+009B (CSI, the C1 form of ESC [) start a
// sequence of its own (ECMA-48 §5.3, §8.3). The bidirectional formatting characters (Unicode
// property Bidi_Control: U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069; UAX #9) are
// escaped as \uNNNN too: they control nothing but can reorder what the line around them shows,
// so a name could make the address or value next to it read as something else.
func Escape(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r)
	})
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1: // not UTF-8 (a U+FFFD in the text is 3 bytes)
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) && r < 0x80: // C0, DEL
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r): // C1, bidi controls
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// JSON marshals v for --json output. encoding/json escapes C0 controls, U+2028, U+2029 and
// replaces bytes that are not UTF-8 by U+FFFD, but writes DEL and the C1 controls as they are;
// JSON also allows them escaped (RFC 8259 §7), and here they are, so that no control character
// reaches a terminal showing the JSON either. Decoded, the strings are unchanged.
func JSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	del := func(r rune) bool { return unicode.IsControl(r) && r >= 0x7f } // DEL, C1
	if !bytes.ContainsFunc(b, del) {
		return b, nil
	}
	// Outside strings JSON is ASCII without DEL, so every such rune is inside a string.
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if del(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out, nil
}
