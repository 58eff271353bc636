package gattkit

import (
	"context"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
)

// Link is one connection of a backend to a peripheral, at the level of attribute handles: all a
// backend implements per connection. Everything above it — UUID resolution and the discovery
// cache, subscriptions and their re-application, statistics, reconnection, the checks of the
// arguments — is the one gogatt.Device of this package (Connect), written once for every backend.
//
// A Link serialises its own procedures as ATT requires (Core v5.3 Vol 3 Part F §3.3.2). Its
// methods fail with an error matching gogatt.ErrNotConnected once the link is gone, and with one
// matching ctx's when ctx ends first (see CtxErr). A peer's ATT error is a *gogatt.ATTError.
type Link interface {
	// Discover walks the whole attribute tree: primary services, their characteristics and
	// each characteristic's descriptors (Core v5.3 Vol 3 Part G §4.4–§4.7).
	Discover(ctx context.Context) ([]gogatt.Service, error)
	// Read reads the attribute at handle: one ATT Read (at most ATT_MTU−1 bytes), or, with
	// long, the whole value (Read then Read Blob, Core v5.3 Vol 3 Part G §4.8.3).
	Read(ctx context.Context, handle uint16, long bool) ([]byte, error)
	// Write writes value to handle as mode says.
	Write(ctx context.Context, handle uint16, value []byte, mode WriteMode) error
	// Configure enables notifications or indications of ch, or neither (Core v5.3 Vol 3 Part G
	// §4.10, §4.11). ch comes from Discover; BGAPI and gatttool write its CCCD, a stack with its
	// own GATT client asks that client. Values then reach the Sink the link was dialled with.
	Configure(ctx context.Context, ch gogatt.Characteristic, n Notify) error
	// Bond pairs and, when permanent, stores the keys.
	Bond(ctx context.Context, permanent bool) error
	// RSSI returns the received signal strength of the link in dBm.
	RSSI(ctx context.Context) (int, error)
	// ExchangeMTU asks for an ATT_MTU of mtu (already checked to be 23…517) and returns the one
	// in force; gogatt.ErrUnsupported when the backend cannot.
	ExchangeMTU(ctx context.Context, mtu int) (int, error)
	// Close ends the link from this side and returns once it is gone (bounded by the backend's
	// own clean-up). It is idempotent and also frees a link that was lost.
	Close() error
	// Done is closed when the link is gone, for whatever reason.
	Done() <-chan struct{}
	// Err is nil while the link is up, then why it went (ideally a *gogatt.DisconnectError).
	Err() error
}

// WriteMode is how Link.Write writes.
type WriteMode int

// Write modes.
const (
	// WriteRequest is a Write Request: one PDU, acknowledged (Core v5.3 Vol 3 Part G §4.9.3).
	WriteRequest WriteMode = iota
	// WriteCommand is a Write Command, not acknowledged (Core v5.3 Vol 3 Part G §4.9.1).
	WriteCommand
	// WriteLong is Prepare Write requests then an Execute Write (Core v5.3 Vol 3 Part G §4.9.4).
	WriteLong
)

func (m WriteMode) op() string {
	switch m {
	case WriteCommand:
		return "write command"
	case WriteLong:
		return "write long"
	}
	return "write"
}

// Notify is what Link.Configure enables on a characteristic.
type Notify int

// Notify values; as Client Characteristic Configuration values (Core v5.3 Vol 3 Part G
// §3.3.3.3, Table 3.11) they are 0x0000, 0x0001 and 0x0002.
const (
	NotifyOff Notify = iota
	NotifyOn
	IndicateOn
)

// CCCDValue is n as the two little-endian bytes of a Client Characteristic Configuration
// descriptor.
func (n Notify) CCCDValue() []byte { return []byte{byte(n), 0} }

// Op names the operation that configures n, for error messages.
func (n Notify) Op() string {
	if n == NotifyOff {
		return "unsubscribe"
	}
	return "subscribe"
}

// Sink receives the notification and indication values of a link, in arrival order, on the
// link's reader. It copies value (the caller may reuse its buffer at once) and never blocks. It
// reports whether the value was wanted (routed to a subscription, or used by the library).
type Sink func(valueHandle uint16, value []byte) bool

// Dialer opens one link to addr; values arriving on it go to sink from the start, so that none
// sent right after a subscription is re-applied is lost. ctx bounds the attempt (it already
// carries ConnectOptions.ConnectTimeout); opts have been checked.
type Dialer func(ctx context.Context, addr bt.Address, opts gogatt.ConnectOptions, sink Sink) (Link, error)

// TypeReader is implemented by links that can read a characteristic value by its UUID alone,
// with Read By Type Requests over the whole database ("Read Using Characteristic UUID", Core
// v5.3 Vol 3 Part G §4.8.2): one request instead of a discovery of the whole tree. The Device
// uses it for a read by UUID while the tree is not yet known.
type TypeReader interface {
	// ReadByType returns every handle–value pair of the attributes of type uuid in
	// 0x0001–0xFFFF, in handle order; none (and no error) when there is none.
	ReadByType(ctx context.Context, uuid gogatt.UUID) ([]HandleValue, error)
}

// HandleValue is one attribute of a Read By Type Response.
type HandleValue struct {
	Handle uint16
	Value  []byte
	// Partial says that Value filled the response (ATT_MTU−4 or 253 bytes, Core v5.3 Vol 3
	// Part F §3.4.4.2), so the attribute may be longer.
	Partial bool
}

// Stepwise is implemented by links whose discovery is made of the GATT discovery procedures
// themselves, so that an operation discovers only what it needs: a subscription by UUID on a
// fresh link learns the services and the characteristic declarations, then the descriptors of
// that one characteristic, not those of every characteristic. What is learnt is kept until a
// Service Changed indication (see ServiceCache) and reused by a later full discovery.
type Stepwise interface {
	// PrimaryServices discovers every primary service (Core v5.3 Vol 3 Part G §4.4.1), without
	// characteristics.
	PrimaryServices(ctx context.Context) ([]gogatt.Service, error)
	// Declarations discovers the characteristic declarations in start–end (Core v5.3 Vol 3
	// Part G §4.6.1), without descriptors and without EndHandle, in handle order.
	Declarations(ctx context.Context, start, end uint16) ([]gogatt.Characteristic, error)
	// Descriptors discovers the descriptors in start–end (Core v5.3 Vol 3 Part G §4.7.1).
	Descriptors(ctx context.Context, start, end uint16) ([]gogatt.Descriptor, error)
}
