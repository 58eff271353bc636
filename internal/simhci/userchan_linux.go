package simhci

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// OpenUserChannel opens controller hciN exclusively through an HCI user channel socket
// (AF_BLUETOOTH, BTPROTO_HCI, HCI_CHANNEL_USER; Linux net/bluetooth/hci_sock.c): the kernel
// and bluetoothd stop using the controller until the socket is closed. The controller must be
// down (powered off); otherwise the bind fails with EBUSY (the error matches unix.EBUSY).
// Each read and write of the returned stream carries whole H:4 packets.
func OpenUserChannel(index int) (io.ReadWriteCloser, error) {
	fd, err := unix.Socket(unix.AF_BLUETOOTH, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.BTPROTO_HCI)
	if err != nil {
		return nil, fmt.Errorf("simhci: HCI socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrHCI{Dev: uint16(index), Channel: unix.HCI_CHANNEL_USER}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("simhci: user channel of hci%d: %w", index, err)
	}
	return &packetStream{f: os.NewFile(uintptr(fd), fmt.Sprintf("hci%d", index))}, nil
}

// packetStream turns the socket's packets into a byte stream: a read of the socket returns
// one packet and truncates what does not fit, so each is read whole into a buffer first.
type packetStream struct {
	f    *os.File
	buf  [4096]byte
	rest []byte
}

func (s *packetStream) Read(p []byte) (int, error) {
	for len(s.rest) == 0 {
		n, err := s.f.Read(s.buf[:])
		if err != nil {
			return 0, err
		}
		s.rest = s.buf[:n]
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

func (s *packetStream) Write(p []byte) (int, error) { return s.f.Write(p) }
func (s *packetStream) Close() error                { return s.f.Close() }
