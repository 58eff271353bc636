//go:build aix || linux || solaris || zos

package bled112

import "golang.org/x/sys/unix"

// The termios ioctls of Linux and System V (tcgetattr/tcsetattr(TCSANOW), termios(3)).
const (
	ioctlGetTermios = unix.TCGETS
	ioctlSetTermios = unix.TCSETS
)
