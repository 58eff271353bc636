//go:build unix

package bled112

import (
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the master non-blocking (see pollable), the slave in raw
// mode.
func openPTY() (master, slave *os.File, err error) {
	m0, s, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("bled112: open pty: %w", err)
	}
	m, err := pollable(m0)
	if err != nil {
		s.Close()
		return nil, nil, fmt.Errorf("bled112: pty master: %w", err)
	}
	if err := makeRaw(s); err != nil {
		m.Close()
		s.Close()
		return nil, nil, fmt.Errorf("bled112: raw mode: %w", err)
	}
	return m, s, nil
}

// pollable returns a non-blocking duplicate of f registered with the runtime poller (so that
// Close interrupts a pending Read or Write) and closes f. creack/pty hands out a master that
// is in blocking mode.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var dupErr error
	if err := rc.Control(func(fd uintptr) { nfd, dupErr = unix.Dup(int(fd)) }); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	unix.CloseOnExec(nfd)
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return nil, err
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

// makeRaw applies cfmakeraw-like settings to the tty without switching it to blocking mode.
func makeRaw(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), ioctlGetTermios)
		if err != nil {
			ioErr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
		t.Cc[unix.VMIN] = 1
		t.Cc[unix.VTIME] = 0
		ioErr = unix.IoctlSetTermios(int(fd), ioctlSetTermios, t)
	})
	if err != nil {
		return err
	}
	return ioErr
}
