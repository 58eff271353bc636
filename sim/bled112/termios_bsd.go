//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package bled112

import "golang.org/x/sys/unix"

// The termios ioctls of the BSDs and macOS (tcgetattr/tcsetattr(TCSANOW), termios(4)).
const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)
