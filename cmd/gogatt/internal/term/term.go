// Package term answers the questions the CLI asks about its output: is it a terminal, how
// wide is it, and has the reader of a pipe gone. Terminals are golang.org/x/term's business
// (every platform it supports); the pipe questions are answered with poll(2) on Linux only
// (reader_linux.go) and never detected elsewhere (reader_other.go).
package term

import (
	"os"

	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal (a tty or pty; a console on Windows).
func IsTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

// Width returns the number of columns of the terminal f, or def when it is not a terminal or
// does not say.
func Width(f *os.File, def int) int {
	if f == nil {
		return def
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil || w <= 0 {
		return def
	}
	return w
}
