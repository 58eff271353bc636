//go:build darwin && !cgo

package bgapi

import (
	"path/filepath"
	"slices"
)

// portDetails describes a serial port as listPorts lists it: the fields of
// go.bug.st/serial/enumerator's PortDetails, whose package needs cgo (IOKit) on macOS.
type portDetails struct {
	Name          string // the path, e.g. /dev/cu.usbmodem1
	IsUSB         bool
	VID, PID      string // USB vendor and product ID in hex, when known
	SerialNumber  string
	Configuration string
	Manufacturer  string
	Product       string
}

// usbIDsUnknown is true where listPorts cannot read a port's USB VID:PID: auto-detection
// then takes any USB modem port whose identity is unknown.
const usbIDsUnknown = true

// listPorts lists /dev/cu.usbmodem*, the call-out devices macOS gives USB CDC-ACM modems such
// as the BLED112. Without cgo there is no IOKit, so their USB VID:PID cannot be read: they are
// listed as USB ports with VID and PID unknown ("").
func listPorts() ([]*portDetails, error) {
	names, err := filepath.Glob("/dev/cu.usbmodem*")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	ports := make([]*portDetails, len(names))
	for i, n := range names {
		ports[i] = &portDetails{Name: n, IsUSB: true}
	}
	return ports, nil
}
