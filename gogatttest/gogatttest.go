// Package gogatttest is the contract suite of gogatt.Backend and gogatt.Device, in the style of
// golang.org/x/net/nettest: a backend's tests call Run with a function that builds an
// environment — the backend (not started) and the simulated peripherals it reaches — and the
// suite checks every documented behaviour against it. Both backends of this module run it
// (package bgapi against the BLED112 emulator, package gatttool against the BlueZ tools); a
// third-party backend able to reach the simulator of package sim can run it too.
//
// The environment serves the demo peripherals of sim.DemoPeripherals (heart-rate sensor,
// thermometer and torture device at their standard addresses). The suite asserts no real-time
// bound: its only deadlines catch hangs, and notifications are counted, not timed.
package gogatttest

import (
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim"
)

// Env is what a backend under test gives the suite.
type Env struct {
	// Backend is the backend under test, not started. The suite starts and stops it.
	Backend gogatt.Backend
	// Peripherals are the simulated peripherals the backend reaches: at least those of
	// sim.DemoPeripherals, at their standard addresses.
	Peripherals []*sim.Peripheral
	// SetInRange, when set, moves the peripheral at address out of (false) or back into (true)
	// radio range, so that an established link is lost after its supervision timeout. Tests
	// of link loss and AutoReconnect are skipped without it.
	SetInRange func(address string, in bool)
	// CanBond says that Device.Bond works in this environment.
	CanBond bool
	// Connecting, when set, returns a channel that is closed once the backend begins a
	// connection attempt (sends the adapter its connect command, starts the tool) after the
	// call. The suite uses it to interrupt a Connect that waits, not one that has not reached
	// the backend yet; without it, it interrupts at whatever point the Connect has reached,
	// which the contract covers as well.
	Connecting func() <-chan struct{}
	// CheckStopped, when set, is called once Stop has returned after a Scan, a Connect or a
	// notification stream was interrupted: it fails t if the backend left anything behind (a
	// goroutine, a child process, a connection on the adapter), waiting only to catch a hang.
	CheckStopped func(t *testing.T)
	// NoCCCDWrites, when not empty, says why the backend cannot write a Client Characteristic
	// Configuration descriptor itself (a stack whose GATT client owns the CCCDs, such as
	// bluetoothd over D-Bus, refuses such writes): the rows that write a CCCD directly are
	// skipped with this reason, and indications of a characteristic that also notifies must
	// fail with gogatt.ErrUnsupported (such a stack enables notifications there).
	NoCCCDWrites string
	// HiddenServices are primary services of the peripherals that the stack keeps to itself
	// (bluetoothd does not export a service one of its plugins has claimed, such as GAP 0x1800:
	// src/gatt-client.c and profiles/gap/gas.c, BlueZ 5.66). Discovery expects every other
	// primary service.
	HiddenServices []gogatt.UUID
	// ConnectTimeout, when not zero, is the ConnectOptions.Timeout of the suite's connections
	// that are expected to succeed, in place of gogatt.DefaultConnectTimeout: a stack that
	// resolves every service before Connect returns may need longer under emulation, when
	// several links resolve at once.
	ConnectTimeout time.Duration
	// NoConcurrentLinks, when not empty, says why the environment cannot carry links to
	// several peripherals at once: SeveralDevices is skipped with this reason.
	NoConcurrentLinks string
	// LateUnsubscribe, when not empty, says why Unsubscribe may return before the peripheral
	// has seen the CCCD write (bluetoothd answers StopNotify first and writes the CCCD
	// afterwards: src/gatt-client.c, src/shared/gatt-client.c, BlueZ 5.66): the suite then
	// waits for the peripheral's subscription to end instead of checking it when Unsubscribe
	// returns.
	LateUnsubscribe string
}

// Peripheral returns the peripheral of e at address, or nil.
func (e Env) Peripheral(address string) *sim.Peripheral {
	for _, p := range e.Peripherals {
		if p.Address().String() == address {
			return p
		}
	}
	return nil
}
