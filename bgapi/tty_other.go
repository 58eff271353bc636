//go:build !linux

package bgapi

import "go.bug.st/serial"

// openTTY opens the serial port at path with go.bug.st/serial in raw mode (the baud rate is
// irrelevant for the BLED112's USB CDC-ACM port).
func openTTY(path string) (serialPort, error) {
	return serial.Open(path, &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
}
