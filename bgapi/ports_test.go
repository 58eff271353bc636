package bgapi

import (
	"errors"
	"testing"

	"github.com/gogatt/gogatt"
)

// A USB port whose VID:PID is unknown is taken for a BLED112 only where no USB ID can be read
// (macOS without cgo); elsewhere the ID must match.
func TestDetectPortUnknownIDs(t *testing.T) {
	list := func() ([]*portDetails, error) {
		return []*portDetails{{Name: "/dev/ttyS0"}, {Name: "/dev/cu.usbmodem1", IsUSB: true}}, nil
	}
	d, err := detectPort(list)
	if usbIDsUnknown {
		if err != nil || d.Name != "/dev/cu.usbmodem1" {
			t.Fatalf("detectPort = %v, %v; want /dev/cu.usbmodem1", d, err)
		}
		return
	}
	if !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("detectPort = %v, %v; want ErrNoAdapter", d, err)
	}
}
