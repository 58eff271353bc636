// Package sim simulates Bluetooth Low Energy peripherals at the protocol level: identity and
// advertising data, a GATT database built with a small builder, an ATT server implementing every
// request of Core v5.3 Vol 3 Part F §3.4, notification sources and scripted faults.
package sim

import (
	"errors"
	"time"

	"github.com/gogatt/gogatt/bt"
)

// Errors returned by Connect, Link and Pair.
var (
	ErrRefused        = errors.New("sim: connection refused by the peripheral")
	ErrOutOfRange     = errors.New("sim: peripheral out of range")
	ErrNotConnectable = errors.New("sim: peripheral is not connectable")
	ErrLinkLost       = errors.New("sim: link lost (supervision timeout)")
	ErrPairingRefused = errors.New("sim: pairing refused by the peripheral")
)

// SecurityLevel is the security of a link (Core v5.3 Vol 3 Part C §10.2, LE security mode 1).
type SecurityLevel int

// Security levels.
const (
	SecurityNone          SecurityLevel = iota // no encryption
	SecurityEncrypted                          // encrypted, unauthenticated pairing (Just Works)
	SecurityAuthenticated                      // encrypted with an authenticated (MITM-protected) key
)

// Bearer is one ATT bearer: each message is exactly one ATT PDU.
type Bearer interface {
	ReadPDU() ([]byte, error)
	WritePDU(pdu []byte) error
	Close() error
}

// Peripheral is a simulated peripheral. It is safe for concurrent use.
type Peripheral struct {
	addr bt.Address
}

// Address returns the peripheral's device address.
func (p *Peripheral) Address() bt.Address { return p.addr }

// AddressType returns the peripheral's address type.
func (p *Peripheral) AddressType() bt.AddressType { return bt.AddressPublic }

// Name returns the peripheral's local name.
func (p *Peripheral) Name() string { return "" }

// AdvertisingData returns the encoded advertising payload (≤31 bytes).
func (p *Peripheral) AdvertisingData() []byte { return nil }

// ScanResponseData returns the encoded scan-response payload, nil if none.
func (p *Peripheral) ScanResponseData() []byte { return nil }

// AdvertisingInterval returns the advertising interval.
func (p *Peripheral) AdvertisingInterval() time.Duration { return 100 * time.Millisecond }

// Connectable reports whether the peripheral accepts connections.
func (p *Peripheral) Connectable() bool { return true }

// InRange reports whether the peripheral is in range.
func (p *Peripheral) InRange() bool { return true }

// SampleRSSI returns an RSSI as a scanner would see it.
func (p *Peripheral) SampleRSSI() int8 { return -60 }

// Connect opens a connection from central and returns the central's end of it.
func (p *Peripheral) Connect(central bt.Address, centralType bt.AddressType) (*Link, error) {
	return nil, ErrRefused
}

// Serve runs the ATT server over b until it closes or the link is lost.
func (p *Peripheral) Serve(b Bearer) error { return ErrRefused }

// Notify pushes value to every link subscribed to valueHandle.
func (p *Peripheral) Notify(valueHandle uint16, value []byte) {}

// StartGenerator sends n values at rate per second (0 = as fast as the bearer takes them).
func (p *Peripheral) StartGenerator(valueHandle uint16, n int, rate float64) (stop func()) {
	return func() {}
}

// SetInRange moves the peripheral in or out of range.
func (p *Peripheral) SetInRange(in bool) {}

// SetRefuseConnections makes Connect fail with ErrRefused.
func (p *Peripheral) SetRefuseConnections(refuse bool) {}

// SetResponseDelay delays every ATT response by d.
func (p *Peripheral) SetResponseDelay(d time.Duration) {}

// SetUnresponsive makes the server stop answering requests.
func (p *Peripheral) SetUnresponsive(u bool) {}

// SetCorruptResponses corrupts every ATT response while on.
func (p *Peripheral) SetCorruptResponses(c bool) {}

// SetRefusePairing makes Link.Pair fail with ErrPairingRefused.
func (p *Peripheral) SetRefusePairing(r bool) {}

// Link is the central's end of a connection. It implements Bearer.
type Link struct{}

// ReadPDU returns the next PDU from the server.
func (l *Link) ReadPDU() ([]byte, error) { return nil, ErrLinkLost }

// WritePDU sends a PDU to the server.
func (l *Link) WritePDU(pdu []byte) error { return ErrLinkLost }

// Close disconnects.
func (l *Link) Close() error { return nil }

// Done is closed when the link ends.
func (l *Link) Done() <-chan struct{} { return nil }

// Err says why the link ended (nil while up).
func (l *Link) Err() error { return nil }

// Pair raises the link's security.
func (l *Link) Pair(level SecurityLevel, bond bool) error { return nil }

// Security returns the link's security level.
func (l *Link) Security() SecurityLevel { return SecurityNone }

// RSSI returns the link's RSSI.
func (l *Link) RSSI() int8 { return -60 }

// MTU returns the negotiated ATT MTU.
func (l *Link) MTU() int { return 23 }

// Demo peripheral addresses.
const (
	HeartRateAddress   = "C0:FF:EE:00:00:01"
	ThermometerAddress = "C0:FF:EE:00:00:02"
	TortureAddress     = "C0:FF:EE:00:00:03"
)

// NewHeartRateSensor returns the demo heart-rate sensor.
func NewHeartRateSensor(addr bt.Address, seed int64) *Peripheral { return &Peripheral{addr: addr} }

// NewThermometer returns the demo health thermometer.
func NewThermometer(addr bt.Address, seed int64) *Peripheral { return &Peripheral{addr: addr} }

// NewTortureDevice returns the demo torture device.
func NewTortureDevice(addr bt.Address, seed int64) *Peripheral { return &Peripheral{addr: addr} }

// DemoPeripherals returns the three demo peripherals at their standard addresses.
func DemoPeripherals(seed int64) []*Peripheral {
	return []*Peripheral{
		NewHeartRateSensor(bt.MustParseAddress(HeartRateAddress), seed),
		NewThermometer(bt.MustParseAddress(ThermometerAddress), seed),
		NewTortureDevice(bt.MustParseAddress(TortureAddress), seed),
	}
}
