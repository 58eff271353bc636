// Package gogatt talks to Bluetooth Low Energy peripherals over GATT.
//
// A Backend is an adapter: package bgapi drives a Silicon Labs BLED112 USB dongle over its
// binary BGAPI protocol, package gatttool drives BlueZ's gatttool/hcitool/bluetoothctl. Both
// satisfy the same interfaces, so application code is written once against Backend and Device.
//
// Every operation takes a context.Context; cancelling it abandons the operation and returns an
// error that matches both ctx.Err() and, for deadlines, ErrTimeout. Notification handlers run on
// a goroutine of the library's, in order per subscription, never under a library lock.
//
// Porting from pygatt: see docs/porting-from-pygatt.md.
package gogatt

import (
	"context"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/bt"
)

// UUID is a Bluetooth UUID in 128-bit form, comparable with ==. See bt.UUID.
type UUID = bt.UUID

// Address is a 48-bit Bluetooth device address. See bt.Address.
type Address = bt.Address

// AddressType is public or random.
type AddressType = bt.AddressType

// Address types.
const (
	AddressPublic = bt.AddressPublic
	AddressRandom = bt.AddressRandom
)

// AdvertisementData is the decoded content of a device's advertising and scan-response
// packets. See adv.Data.
type AdvertisementData = adv.Data

// ParseUUID accepts "2a37", "0x2A37", 32-bit and canonical 128-bit forms.
func ParseUUID(s string) (UUID, error) { return bt.ParseUUID(s) }

// MustParseUUID is ParseUUID for constants; it panics on error.
func MustParseUUID(s string) UUID { return bt.MustParseUUID(s) }

// UUID16 builds the 128-bit form of a 16-bit SIG UUID, e.g. UUID16(0x2a37).
func UUID16(v uint16) UUID { return bt.UUID16(v) }

// ParseAddress validates "01:23:45:67:89:ab"-style addresses.
func ParseAddress(s string) (Address, error) { return bt.ParseAddress(s) }

// Backend is a BLE adapter able to scan and to connect to peripherals. It corresponds to
// pygatt's BLEBackend. All methods are safe for concurrent use.
type Backend interface {
	// Start opens the adapter. It fails with an error matching ErrNoAdapter when there is none,
	// and with a descriptive error when the adapter cannot be opened (permission, busy).
	// Starting a started backend does nothing; Start after Stop starts it again (pygatt's
	// reset() is Stop then Start).
	Start(ctx context.Context) error
	// Stop disconnects every device and frees every goroutine, file descriptor and child
	// process. It returns promptly — bounded by the backend's own clean-up (closing links,
	// ending child processes), never by a NotificationHandler: values still queued for handlers
	// are discarded and counted (SubscriptionStats.Discarded), also for devices whose link was
	// lost earlier. When it returns, no NotificationHandler of the backend is called again and no
	// goroutine of the library remains, except a handler call still running at that moment: it
	// finishes on its own and its goroutine exits when it returns (a caller that blocks a
	// handler must release it). Stop may be called from a NotificationHandler. It does wait until
	// each Device has delivered its last ConnectionEvent (see Device.Disconnect), so it must not
	// be called from an OnConnectionEvent callback. It is idempotent and safe after a failed
	// Start.
	Stop() error
	// SupportsUnbonded reports whether reads and writes work without bonding first.
	SupportsUnbonded() bool
	// Connect opens a connection to the peripheral at address ("01:23:45:67:89:AB").
	Connect(ctx context.Context, address string, opts ConnectOptions) (Device, error)
	// Scan listens for advertisements until opts.Timeout, ctx, or opts.OnAdvertisement stops it,
	// and returns one merged result per device seen. Ended by opts.Timeout or by
	// OnAdvertisement returning false, it returns no error. Ended by ctx, it returns the results
	// so far and an error matching ctx's (for a deadline: ErrTimeout and
	// context.DeadlineExceeded); ended by Stop, the results so far and an error matching
	// ErrNotStarted.
	Scan(ctx context.Context, opts ScanOptions) ([]ScanResult, error)
	// FilteredScan is Scan keeping only devices whose name contains nameFilter.
	FilteredScan(ctx context.Context, nameFilter string, opts ScanOptions) ([]ScanResult, error)
	// ClearBond removes the bond with address, or every bond when address is "".
	ClearBond(ctx context.Context, address string) error
}

// NotificationHandler receives the value of a notification or indication. value belongs to the
// handler: it may keep it. Handlers of one subscription are called in the order the values
// arrived, one at a time, on a goroutine of the library's; a handler may call any Device
// method (including Subscribe, Unsubscribe, CharRead and Disconnect) and Backend.Stop without
// deadlock.
//
// Values wait in a queue while the handler runs (SubscribeOptions.QueueLimit bounds it). When
// the peer or the adapter loses the link, the values that arrived before the loss are still
// delivered. Device.Disconnect, Unsubscribe and Backend.Stop instead end delivery at once: the
// values still queued are discarded and counted (SubscriptionStats.Discarded), and no handler
// call starts after they return — except that a call already running then finishes.
type NotificationHandler func(handle uint16, value []byte)

// Device is a connection to one peripheral. It corresponds to pygatt's BLEDevice. All methods
// are safe for concurrent use; GATT procedures on one connection are serialised, as ATT requires
// (Core v5.3 Vol 3 Part F §3.3.2), while different connections proceed in parallel.
//
// When the link is lost, a Device without ConnectOptions.AutoReconnect is dead: Disconnected is
// closed, Err says why, and every call fails with an error matching ErrNotConnected. With
// AutoReconnect it reconnects in the background; meanwhile calls fail at once with an error
// matching ErrNotConnected (they do not wait for the link), Unsubscribe only forgets the
// subscription, and Err returns the loss until the link is back (see
// ConnectOptions.AutoReconnect).
type Device interface {
	// Address returns the peer's address in canonical form.
	Address() string
	// Bond pairs with the peer and, when permanent, stores the keys (a bond).
	Bond(ctx context.Context, permanent bool) error
	// RSSI returns the received signal strength of the link in dBm.
	RSSI(ctx context.Context) (int, error)
	// Services discovers (once per connection, then from cache) the whole attribute tree:
	// primary services, their characteristics and each characteristic's descriptors.
	Services(ctx context.Context) ([]Service, error)
	// DiscoverCharacteristics returns every characteristic keyed by UUID. A UUID used in
	// several services maps to several characteristics.
	DiscoverCharacteristics(ctx context.Context) (map[UUID][]Characteristic, error)
	// GetHandle returns the value handle of the characteristic uuid. When uuid occurs in more
	// than one service the error is an *AmbiguousUUIDError naming the candidates.
	GetHandle(ctx context.Context, uuid UUID) (uint16, error)
	// CharRead reads a characteristic value by UUID (one ATT Read: at most ATT_MTU-1 bytes).
	CharRead(ctx context.Context, uuid UUID) ([]byte, error)
	// CharReadHandle reads the attribute at handle.
	CharReadHandle(ctx context.Context, handle uint16) ([]byte, error)
	// CharReadLong reads a value of any length (Read then Read Blob; Core v5.3 Vol 3 Part G §4.8.3).
	CharReadLong(ctx context.Context, uuid UUID) ([]byte, error)
	// CharReadLongHandle is CharReadLong by handle.
	CharReadLongHandle(ctx context.Context, handle uint16) ([]byte, error)
	// CharWrite writes value with a Write Request (withResponse) or a Write Command.
	CharWrite(ctx context.Context, uuid UUID, value []byte, withResponse bool) error
	// CharWriteHandle is CharWrite by handle.
	CharWriteHandle(ctx context.Context, handle uint16, value []byte, withResponse bool) error
	// CharWriteLong writes a value of up to 512 bytes with Prepare Write / Execute Write
	// (Core v5.3 Vol 3 Part G §4.9.4).
	CharWriteLong(ctx context.Context, uuid UUID, value []byte) error
	// CharWriteLongHandle is CharWriteLong by handle.
	CharWriteLongHandle(ctx context.Context, handle uint16, value []byte) error
	// Subscribe enables notifications (or indications, with opts.Indication) by writing the
	// characteristic's real CCCD, found by descriptor discovery, and routes values to fn.
	// Subscribing again replaces the handler and options; when that CCCD write fails, the
	// subscription in force (its handler and options) is kept and the error returned.
	Subscribe(ctx context.Context, uuid UUID, fn NotificationHandler, opts SubscribeOptions) error
	// Unsubscribe stops delivery and writes 0 to the CCCD found by discovery — also when the
	// characteristic was not subscribed through this Device, since the peer may keep it
	// enabled from an earlier connection (Core v5.3 Vol 3 Part G §3.3.3.3: bonded peers keep
	// CCCD values across connections) — and returns that write's error.
	Unsubscribe(ctx context.Context, uuid UUID) error
	// SubscribeHandle is Subscribe by value handle; the CCCD is still found by discovery.
	SubscribeHandle(ctx context.Context, valueHandle uint16, fn NotificationHandler, opts SubscribeOptions) error
	// UnsubscribeHandle is Unsubscribe by value handle.
	UnsubscribeHandle(ctx context.Context, valueHandle uint16) error
	// ResubscribeAll writes every active subscription's CCCD again (after a reconnection, or
	// when the peer forgot them). It tries every subscription and returns their errors joined
	// (errors.Join); a subscription whose write fails stays in force.
	ResubscribeAll(ctx context.Context) error
	// ExchangeMTU asks for an ATT_MTU of mtu and returns the one in force
	// (Core v5.3 Vol 3 Part F §3.4.2). Backends that cannot do it return ErrUnsupported.
	ExchangeMTU(ctx context.Context, mtu int) (int, error)
	// Disconnect closes the link. It returns promptly — bounded by the backend's own clean-up
	// (the link's disconnection, a child process's exit), never by a NotificationHandler: values
	// still queued for the device's handlers are discarded and counted
	// (SubscriptionStats.Discarded). When it returns, no NotificationHandler of the device is
	// called again, except a call still running at that moment, which finishes on its own (its
	// goroutine exits when it returns). It may be called from a NotificationHandler or an
	// OnConnectionEvent callback; the EventDisconnected it causes is delivered to
	// OnConnectionEvent after it returns, and then Disconnected is closed. It is idempotent.
	Disconnect() error
	// Disconnected is closed when the link is gone for good (after Disconnect, or after a loss
	// that automatic reconnection, if enabled, could not repair).
	Disconnected() <-chan struct{}
	// Err says why the link is gone: nil while connected, a *DisconnectError otherwise.
	Err() error
}

// ScanResult is one device seen during a scan, with its advertisements merged.
type ScanResult struct {
	Address     string            `json:"address"`
	AddressType AddressType       `json:"addressType"`
	Name        string            `json:"name,omitempty"`
	RSSI        int               `json:"rssi"` // latest, dBm
	Data        AdvertisementData `json:"data"`
}

// SubscriptionStats counts a subscription's values. Every value that arrived is delivered,
// queued, dropped or discarded — Received = Delivered + Queued + Dropped + Discarded, plus one
// while a handler call is running. The counters stay readable after Disconnect and
// Backend.Stop (until Unsubscribe).
type SubscriptionStats struct {
	Received  uint64 // values that arrived from the peer
	Delivered uint64 // values whose handler has returned
	Queued    int    // values waiting for the handler now
	Dropped   uint64 // values discarded because a bounded queue was full
	Discarded uint64 // values not delivered because of Disconnect or Backend.Stop
}

// SubscriptionStatsReporter is implemented by Devices that expose their subscriptions'
// counters. Test for it with a type assertion:
//
//	if r, ok := dev.(gogatt.SubscriptionStatsReporter); ok {
//		st, _ := r.SubscriptionStats(valueHandle)
//		fmt.Println(st.Delivered, st.Dropped)
//	}
type SubscriptionStatsReporter interface {
	// SubscriptionStats returns the counters of the subscription of valueHandle; false when
	// there is none.
	SubscriptionStats(valueHandle uint16) (SubscriptionStats, bool)
}
