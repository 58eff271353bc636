// Package parse is the pure line grammar of BlueZ 5.66's text tools as the gatttool backend
// sees them: gatttool's interactive mode, hcitool lescan and bluetoothctl. It performs no I/O
// and keeps no global state.
//
// Two layers:
//
//   - Splitter turns the raw byte stream of a pseudo-terminal into tokens: complete lines
//     (escape sequences stripped, carriage-return redraws resolved) and prompts (with the
//     connected colour of gatttool's prompt recorded). See docs/bluez-tools.md §Prompt and
//     §Terminal output.
//   - ParseGatttool, ParseLescan and ParseBluetoothctl classify one cleaned line each
//     (docs/bluez-tools.md, the sections on gatttool -I, hcitool lescan and bluetoothctl).
package parse

import (
	"bytes"
	"strings"
)

// Mode selects which tool's prompts a Splitter recognises.
type Mode int

// Splitter modes.
const (
	// ModeGatttool recognises "[ADDRESS][LE]> " and "[ADDRESS][BR]> " (docs/bluez-tools.md
	// §Prompt), coloured or not.
	ModeGatttool Mode = iota
	// ModeBluetoothctl recognises "[bluetooth]# " style prompts and the
	// "Waiting to connect to bluetoothd..." pseudo-prompt (docs/bluez-tools.md §bluetoothctl
	// output).
	ModeBluetoothctl
	// ModePlain recognises no prompt (hcitool).
	ModePlain
)

// Prompt is one prompt printed by a tool.
type Prompt struct {
	// Address is the text between the first brackets, spaces trimmed: "" before any address is
	// known, otherwise the address exactly as typed (docs/bluez-tools.md §Prompt). For
	// bluetoothctl, the name in brackets ("bluetooth"), or "" for the waiting prompt.
	Address string
	// Transport is "LE" or "BR" for gatttool, "" otherwise.
	Transport string
	// Connected is true when gatttool coloured the address (only in the connected state,
	// docs/bluez-tools.md §Prompt), or for bluetoothctl when the daemon is reached (the
	// "[bluetooth]# " prompt).
	Connected bool
}

// Token is either a prompt or a complete line.
type Token struct {
	IsPrompt bool
	Prompt   Prompt
	// Line is the cleaned text of a line: escape sequences, \x01/\x02 and carriage-return
	// redraws removed, no line terminator. Empty lines are delivered too.
	Line string
}

// Splitter splits a tool's pty output into tokens. Feed it chunks in order; it keeps the
// unfinished tail between calls. The zero value is a ModeGatttool splitter.
type Splitter struct {
	Mode Mode
	buf  []byte
}

// maxPending bounds the unfinished line kept between Feed calls; a longer run without a newline
// or prompt is delivered as a line (no tool line is that long: values are at most 512 bytes,
// printed as 1536 characters).
const maxPending = 64 << 10

// Feed appends p and calls fn for each complete token, in stream order.
func (s *Splitter) Feed(p []byte, fn func(Token)) {
	s.buf = append(s.buf, p...)
	// b is the unconsumed part; tokens are copied out (strings), so the tail can be moved back
	// to the front of s.buf afterwards and its capacity reused by the next Feed.
	b := s.buf
	for {
		nl := bytes.IndexByte(b, '\n')
		limit := len(b)
		if nl >= 0 {
			limit = nl
		}
		if start, end, pr, ok := s.findPrompt(b[:limit]); ok {
			if pre := clean(b[:start]); strings.TrimSpace(pre) != "" {
				fn(Token{Line: pre})
			}
			fn(Token{IsPrompt: true, Prompt: pr})
			b = b[end:]
			continue
		}
		if nl < 0 {
			if len(b) > maxPending {
				fn(Token{Line: clean(b)})
				b = b[len(b):]
			}
			break
		}
		fn(Token{Line: clean(b[:nl])})
		b = b[nl+1:]
	}
	s.buf = s.buf[:copy(s.buf, b)]
	if len(s.buf) == 0 && cap(s.buf) > 4096 {
		s.buf = nil
	}
}

// Flush delivers a trailing unfinished line, if any (at end of stream).
func (s *Splitter) Flush(fn func(Token)) {
	if len(s.buf) > 0 {
		if l := clean(s.buf); l != "" {
			fn(Token{Line: l})
		}
	}
	s.buf = nil
}

// Pending returns the cleaned unfinished tail (for diagnostics).
func (s *Splitter) Pending() string { return clean(s.buf) }

var (
	colorOn   = []byte("\x1b[0;94m")
	colorOff  = []byte("\x1b[0m")
	ctlSuffix = []byte("# ")
	waiting   = []byte("Waiting to connect to bluetoothd...")
)

// findPrompt looks for the first complete prompt in b (which holds no newline).
func (s *Splitter) findPrompt(b []byte) (start, end int, p Prompt, ok bool) {
	switch s.Mode {
	case ModeGatttool:
		return findGatttoolPrompt(b)
	case ModeBluetoothctl:
		return findCtlPrompt(b)
	}
	return 0, 0, p, false
}

func findGatttoolPrompt(b []byte) (start, end int, p Prompt, ok bool) {
	off := 0
	for off < len(b) {
		rest := b[off:]
		i := bytes.Index(rest, []byte("[LE]> "))
		j := bytes.Index(rest, []byte("[BR]> "))
		tr := "LE"
		if i < 0 || (j >= 0 && j < i) {
			i, tr = j, "BR"
		}
		if i < 0 {
			return 0, 0, p, false
		}
		i += off
		end = i + 6
		// Walk back over "]" and an optional colour reset.
		k := i
		colored := false
		if k >= len(colorOff) && bytes.Equal(b[k-len(colorOff):k], colorOff) {
			k -= len(colorOff)
			colored = true
		}
		if k == 0 || b[k-1] != ']' {
			off = i + 1
			continue
		}
		closeAt := k - 1
		open := bytes.LastIndexByte(b[:closeAt], '[')
		if open < 0 || bytes.ContainsAny(b[open+1:closeAt], "]\x1b\r") {
			off = i + 1
			continue
		}
		start = open
		if open >= len(colorOn) && bytes.Equal(b[open-len(colorOn):open], colorOn) {
			start = open - len(colorOn)
		} else {
			colored = false
		}
		p = Prompt{Address: string(bytes.TrimSpace(b[open+1 : closeAt])), Transport: tr, Connected: colored}
		return start, end, p, true
	}
	return 0, 0, p, false
}

func findCtlPrompt(b []byte) (start, end int, p Prompt, ok bool) {
	if i := bytes.Index(b, waiting); i >= 0 {
		return i, i + len(waiting), Prompt{}, true
	}
	off := 0
	for off < len(b) {
		i := bytes.Index(b[off:], ctlSuffix)
		if i < 0 {
			return 0, 0, p, false
		}
		i += off
		end = i + len(ctlSuffix)
		// Remove readline markers and colours between '[' and "# ".
		k := i
		for k > 0 && (b[k-1] == 0x01 || b[k-1] == 0x02) {
			k--
		}
		if k >= len(colorOff) && bytes.Equal(b[k-len(colorOff):k], colorOff) {
			k -= len(colorOff)
		}
		for k > 0 && (b[k-1] == 0x01 || b[k-1] == 0x02) {
			k--
		}
		if k == 0 || b[k-1] != ']' {
			off = i + 1
			continue
		}
		open := bytes.LastIndexByte(b[:k-1], '[')
		if open < 0 || bytes.ContainsAny(b[open+1:k-1], "]\x1b\r") {
			off = i + 1
			continue
		}
		start = open
		for start > 0 && (b[start-1] == 0x01 || b[start-1] == 0x02) {
			start--
		}
		if start >= len(colorOn) && bytes.Equal(b[start-len(colorOn):start], colorOn) {
			start -= len(colorOn)
			for start > 0 && (b[start-1] == 0x01 || b[start-1] == 0x02) {
				start--
			}
		}
		return start, end, Prompt{Address: string(b[open+1 : k-1]), Connected: true}, true
	}
	return 0, 0, p, false
}

// clean strips escape sequences (CSI "\x1b[…X", two-byte "\x1bX") and the readline markers
// \x01/\x02, applies backspaces, and resolves carriage returns the way a terminal shows them:
// what follows the last '\r' (ignoring trailing ones) is the visible line, since every redraw
// clears first (docs/bluez-tools.md §Terminal output).
func clean(b []byte) string {
	for len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	if i := bytes.LastIndexByte(b, '\r'); i >= 0 {
		b = b[i+1:]
	}
	// Fast path: nothing to strip.
	if bytes.IndexByte(b, 0x1b) < 0 && bytes.IndexByte(b, 0x01) < 0 && bytes.IndexByte(b, 0x02) < 0 && bytes.IndexByte(b, '\b') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\b':
			// Readline on a dumb terminal blanks stale characters and backs over them
			// ("exit   \b\b\b"): a backspace takes back the previous visible character.
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case c == 0x01 || c == 0x02:
		case c == 0x1b:
			if i+1 < len(b) && b[i+1] == '[' {
				j := i + 2
				for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == ';' || b[j] == '?') {
					j++
				}
				if j < len(b) {
					i = j // skip the final byte too
				} else {
					i = len(b)
				}
			} else if i+1 < len(b) {
				i++
			}
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// Clean is clean exported for callers holding a single raw line (tests, diagnostics).
func Clean(raw string) string { return clean([]byte(raw)) }
