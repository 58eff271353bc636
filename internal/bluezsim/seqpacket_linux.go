//go:build linux

package bluezsim

import (
	"os"
	"syscall"
)

// seqpacketPair returns a SOCK_SEQPACKET socket pair, both ends non-blocking as bluetoothd makes
// them: the service's end as a file, the client's as a descriptor to pass and then close.
func seqpacketPair() (mine *os.File, theirs int, closeTheirs func(), err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "acquire-notify"), fds[1], func() { syscall.Close(fds[1]) }, nil
}
