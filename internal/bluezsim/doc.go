// Package bluezsim lets the real Debian BlueZ 5.66 tools (gatttool, hcitool, bluetoothctl) run
// against simulated peripherals from package sim, on a machine without Bluetooth.
package bluezsim
