//go:build !darwin || cgo

package bgapi

import "go.bug.st/serial/enumerator"

// portDetails describes a serial port as listPorts lists it: go.bug.st/serial/enumerator's
// type itself (on macOS without cgo, where that package does not build, a struct with the same
// fields).
type portDetails = enumerator.PortDetails

// usbIDsUnknown is true where listPorts cannot read a port's USB VID:PID.
const usbIDsUnknown = false

// listPorts lists the serial ports with their USB identity (on Linux from sysfs, on Windows
// from SetupAPI, on macOS from IOKit).
func listPorts() ([]*portDetails, error) { return enumerator.GetDetailedPortsList() }
