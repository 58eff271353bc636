// Package term answers the two questions the CLI asks about its output: is it a terminal, and
// how wide is it. It uses the TCGETS and TIOCGWINSZ ioctls from golang.org/x/sys/unix (already
// a dependency of the module) rather than adding golang.org/x/term.
package term

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal (a tty or pty).
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Width returns the number of columns of the terminal f, or def when it is not a terminal or
// does not say.
func Width(f *os.File, def int) int {
	if f == nil {
		return def
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return def
	}
	return int(ws.Col)
}
