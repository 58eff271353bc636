//go:build !darwin || cgo

package bgapi

import "go.bug.st/serial/enumerator"

// PortDetails describes a serial port as Config.ListPorts lists it. Here it is
// go.bug.st/serial/enumerator's type itself, so a ListPorts written against that package
// works unchanged; on macOS without cgo, where that package does not build, it is a struct
// with the same fields.
type PortDetails = enumerator.PortDetails

// usbIDsUnknown is true where listPorts cannot read a port's USB VID:PID.
const usbIDsUnknown = false

// listPorts lists the serial ports with their USB identity (on Linux from sysfs, on Windows
// from SetupAPI, on macOS from IOKit).
func listPorts() ([]*PortDetails, error) { return enumerator.GetDetailedPortsList() }
