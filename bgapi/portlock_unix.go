//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package bgapi

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockPort takes an exclusive advisory lock (flock(2), LOCK_EX|LOCK_NB) on the device node at
// path, so that a second program using this package cannot open the dongle, reset it and steal
// its responses from under the first: TIOCEXCL, which openTTY sets, does not stop root. The
// lock is taken before the port is opened (go.bug.st/serial, used outside Linux, does not
// expose its file descriptor), so the node is opened once more for it: read-only, non-blocking (no wait for a
// carrier) and without becoming a controlling terminal. It returns the function that releases
// the lock; a node that cannot be locked at all (a file system without flock) is used unlocked.
func lockPort(path string) (unlock func(), err error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) { // TIOCEXCL of another opener, for a user other than root
			return nil, &PortError{Port: path, Kind: ErrPortBusy, Err: err, Hint: busyHint}
		}
		return nil, classifyOpenError(path, &os.PathError{Op: "open", Path: path, Err: err})
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return func() { unix.Close(fd) }, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		unix.Close(fd)
		return nil, &PortError{Port: path, Kind: ErrPortBusy, Err: &os.PathError{Op: "flock", Path: path, Err: err}, Hint: busyHint}
	}
	unix.Close(fd)
	return func() {}, nil
}
