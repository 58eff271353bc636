package bgapi

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openTTY opens the serial port at path as a non-blocking *os.File registered with the Go
// runtime's poller, in the mode go.bug.st/serial sets (raw, 8N1, 115200 baud — irrelevant for a
// USB CDC-ACM port —, no flow control, reads return as soon as one byte is there) and exclusive
// (TIOCEXCL).
//
// go.bug.st/serial v1.8 reads with a blocking select(2) before every read(2), on a thread the
// runtime gives up for it: two system calls and a thread hand-off per wake-up, which dominate
// the CPU cost of a notification at realistic rates (docs/benchmarks.md). The poller waits for
// every pollable file of the process in one epoll_wait and reads without blocking a thread;
// Close wakes a pending Read, and SetReadDeadline bounds one (the client's inter-byte timeout).
func openTTY(path string) (serialPort, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			err = fmt.Errorf("%w: %w", errTTYBusy, err)
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := setRawMode(fd); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "configure", Path: path, Err: err}
	}
	return &ttyFile{os.NewFile(uintptr(fd), path)}, nil
}

// setRawMode applies go.bug.st/serial's raw mode, 8N1 at 115200 baud without RTS/CTS, VMIN 1,
// VTIME 0 (termios(3)), and takes the port exclusively.
func setRawMode(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("%w: %w", errNotTTY, err)
	}
	t.Cflag |= unix.CREAD | unix.CLOCAL
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.B115200
	t.Ispeed, t.Ospeed = unix.B115200, unix.B115200
	t.Lflag &^= unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHONL | unix.ECHOCTL |
		unix.ECHOPRT | unix.ECHOKE | unix.ISIG | unix.IEXTEN
	t.Iflag &^= unix.IXON | unix.IXOFF | unix.IXANY | unix.INPCK | unix.IGNPAR | unix.PARMRK |
		unix.ISTRIP | unix.IGNBRK | unix.BRKINT | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IUCLC
	t.Oflag &^= unix.OPOST
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return err
	}
	return unix.IoctlSetInt(fd, unix.TIOCEXCL, 0)
}

// ttyFile is a serial port opened by openTTY.
type ttyFile struct{ *os.File }

// ResetInputBuffer discards what the port has received and nobody has read (TCIFLUSH).
func (f *ttyFile) ResetInputBuffer() error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = unix.IoctlSetInt(int(fd), unix.TCFLSH, unix.TCIFLUSH) }); err != nil {
		return err
	}
	return ferr
}
