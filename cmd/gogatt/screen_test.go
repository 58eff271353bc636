package main

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// screen is a minimal terminal: enough of ANSI/VT100 to replay what gogatt writes (text, CR,
// LF, cursor up, erase line, erase below, cursor show/hide) and show what a person sees.
type screen struct {
	width         int
	lines         [][]rune
	row, col      int
	cursorHidden  bool
	unknownEscape []string
	wrapped       bool // a line was longer than the width
}

func newScreen(width int) *screen { return &screen{width: width, lines: [][]rune{nil}} }

func (s *screen) ensureRow() {
	for len(s.lines) <= s.row {
		s.lines = append(s.lines, nil)
	}
}

func (s *screen) put(r rune) {
	s.ensureRow()
	if s.col >= s.width {
		s.wrapped = true
		s.row++
		s.col = 0
		s.ensureRow()
	}
	l := s.lines[s.row]
	for len(l) <= s.col {
		l = append(l, ' ')
	}
	l[s.col] = r
	s.lines[s.row] = l
	s.col++
}

// write interprets b.
func (s *screen) write(b string) {
	for len(b) > 0 {
		switch {
		case b[0] == '\r':
			s.col, b = 0, b[1:]
		case b[0] == '\n':
			s.row, s.col, b = s.row+1, 0, b[1:] // the pty's ONLCR turns \n into \r\n anyway
			s.ensureRow()
		case strings.HasPrefix(b, "\x1b["):
			i := 2
			for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == '?' || b[i] == ';') {
				i++
			}
			if i == len(b) {
				return
			}
			param, cmd := b[2:i], b[i]
			b = b[i+1:]
			n, _ := strconv.Atoi(strings.TrimPrefix(param, "?"))
			switch {
			case cmd == 'A':
				s.row = max(0, s.row-max(n, 1))
			case cmd == 'K':
				s.ensureRow()
				if s.col < len(s.lines[s.row]) {
					s.lines[s.row] = s.lines[s.row][:s.col]
				}
			case cmd == 'J':
				s.ensureRow()
				if s.col < len(s.lines[s.row]) {
					s.lines[s.row] = s.lines[s.row][:s.col]
				}
				s.lines = s.lines[:s.row+1]
			case param == "?25" && cmd == 'l':
				s.cursorHidden = true
			case param == "?25" && cmd == 'h':
				s.cursorHidden = false
			default:
				s.unknownEscape = append(s.unknownEscape, param+string(cmd))
			}
		default:
			r, size := utf8.DecodeRuneInString(b)
			s.put(r)
			b = b[size:]
		}
	}
}

// text returns the visible lines, trailing spaces and empty trailing lines removed.
func (s *screen) text() []string {
	var out []string
	for _, l := range s.lines {
		out = append(out, strings.TrimRight(string(l), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func TestScreen(t *testing.T) {
	s := newScreen(10)
	s.write("\x1b[?25lab\x1b[K\ncd\x1b[K\n\x1b[J")
	s.write("\r\x1b[2Axy\x1b[K\n\x1b[J\x1b[?25h")
	if got := strings.Join(s.text(), "|"); got != "xy" || s.cursorHidden || len(s.unknownEscape) > 0 {
		t.Errorf("screen = %q hidden %v unknown %v", got, s.cursorHidden, s.unknownEscape)
	}
	s.write("0123456789A")
	if !s.wrapped {
		t.Error("no wrap detected")
	}
}
