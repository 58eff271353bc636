// Package sim simulates Bluetooth Low Energy peripherals at the protocol level, so that gogatt
// and applications built on it can be tested without a radio: identity and advertising data
// encoded as real AD structures, a GATT database assembled with a small builder, an ATT server
// implementing every request of Core v5.3 Vol 3 Part F §3.4, notification sources, pairing and
// security requirements, and scripted faults.
//
// A Peripheral is built with NewBuilder (or taken from the demos: NewHeartRateSensor,
// NewThermometer, NewTortureDevice). A central connects with Peripheral.Connect and talks ATT
// over the returned *Link, one PDU per ReadPDU/WritePDU, exactly as over an L2CAP ATT channel;
// Peripheral.Serve runs the same server over any other Bearer (for example a socket).
//
// Notifications are never dropped or reordered: a link has a bounded queue towards the central,
// and a sender (Notify, a generator, the server's responses) blocks while it is full
// (backpressure). A link ends when the central closes it, when the peripheral goes out of range
// (after the link's supervision timeout) or when the peripheral disconnects it.
//
// Everything random (RSSI samples, demo values) derives from the builder's seed. Timing uses
// the time package only through timers, so faults such as SetResponseDelay and
// SetUnresponsive can be tested in virtual time with testing/synctest (create the Link inside
// the bubble).
//
// The handle tables of the demo peripherals are in docs/sim.md, generated from the databases
// by HandleTable (a test keeps the file up to date).
package sim

import (
	"errors"

	"github.com/gogatt/gogatt/bt"
)

// Errors of connections and pairing. Link errors wrap them; errors.Is works.
var (
	ErrRefused        = errors.New("sim: connection refused by the peripheral")
	ErrOutOfRange     = errors.New("sim: peripheral out of range")
	ErrNotConnectable = errors.New("sim: peripheral is not connectable")
	ErrLinkLost       = errors.New("sim: link lost (supervision timeout)")
	ErrDisconnected   = errors.New("sim: disconnected by the peripheral")
	ErrPairingRefused = errors.New("sim: pairing refused by the peripheral")
	ErrNotBonded      = errors.New("sim: no bond with this central")
	ErrStopped        = errors.New("sim: stopped")
)

// SecurityLevel is the security of a link (LE security mode 1, Core v5.3 Vol 3 Part C §10.2.1).
type SecurityLevel int

// Security levels.
const (
	SecurityNone          SecurityLevel = iota // level 1: no encryption
	SecurityEncrypted                          // level 2: encrypted, unauthenticated pairing (Just Works)
	SecurityAuthenticated                      // level 3: encrypted with an authenticated (MITM-protected) key
)

// String returns "none", "encrypted" or "authenticated".
func (l SecurityLevel) String() string {
	switch l {
	case SecurityNone:
		return "none"
	case SecurityEncrypted:
		return "encrypted"
	case SecurityAuthenticated:
		return "authenticated"
	}
	return "SecurityLevel(?)"
}

// Bearer is one ATT bearer: each message is exactly one ATT PDU (Core v5.3 Vol 3 Part F §3.2.11
// over an L2CAP fixed channel). WritePDU must not retain pdu after it returns. A Bearer given
// to Peripheral.Serve may also implement interface{ Security() SecurityLevel }.
type Bearer interface {
	ReadPDU() ([]byte, error)
	WritePDU(pdu []byte) error
	Close() error
}

// Demo peripheral addresses, shared by tests and the CLI.
const (
	HeartRateAddress   = "C0:FF:EE:00:00:01"
	ThermometerAddress = "C0:FF:EE:00:00:02"
	TortureAddress     = "C0:FF:EE:00:00:03"
)

// Demo peripheral names as advertised.
const (
	HeartRateName   = "gogatt HRM"
	ThermometerName = "gogatt Thermo"
	TortureName     = "gogatt Torture"
)

// DemoPeripherals returns the heart-rate sensor, the thermometer and the torture device at
// their standard addresses.
func DemoPeripherals(seed int64) []*Peripheral {
	return []*Peripheral{
		NewHeartRateSensor(bt.MustParseAddress(HeartRateAddress), seed),
		NewThermometer(bt.MustParseAddress(ThermometerAddress), seed),
		NewTortureDevice(bt.MustParseAddress(TortureAddress), seed),
	}
}
