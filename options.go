package gogatt

import (
	"fmt"
	"time"
)

// Defaults for zero-valued options.
const (
	DefaultConnectTimeout = 5 * time.Second  // as pygatt
	DefaultScanTimeout    = 10 * time.Second // as pygatt
)

// ConnectOptions tune Connect. The zero value gives the documented defaults.
type ConnectOptions struct {
	// AddressType of the peer: public (zero value) or random.
	AddressType AddressType
	// Timeout bounds the connection attempt; zero means DefaultConnectTimeout. The context's
	// deadline, if earlier, wins.
	Timeout time.Duration
	// IntervalMin and IntervalMax bound the connection interval: 7.5 ms to 4 s in steps of
	// 1.25 ms (Core v5.3 Vol 4 Part E §7.8.12). Zero means the backend's default (BGAPI: 75 ms and
	// 95 ms, as pygatt). Only BGAPI applies them; gatttool ignores them.
	IntervalMin, IntervalMax time.Duration
	// Latency is the peripheral latency in connection events, 0 to 499.
	Latency int
	// SupervisionTimeout is 100 ms to 32 s in steps of 10 ms, and must exceed
	// (1+Latency)·IntervalMax·2. Zero means 1 s (as pygatt), or, when that is too short for the
	// interval and latency, the smallest valid value above (1+Latency)·IntervalMax·2.
	SupervisionTimeout time.Duration
	// AutoReconnect makes the Device repair a lost link. After EventDisconnected it dials again
	// — at once, then after the delays of ReconnectBackoff (by default: from ReconnectMinDelay,
	// doubling up to ReconnectMaxDelay, with jitter), at most ReconnectAttempts times —
	// announcing each attempt with EventReconnecting and bounding it by Timeout. Once connected it re-applies every subscription made through the Device (by UUID
	// or by handle, as made) and the last MTU asked for with ExchangeMTU, then emits
	// EventReconnected, whose Err lists the subscriptions it could not restore (they stay
	// registered and are tried again after the next reconnection). When the attempts run out it
	// emits EventGaveUp and the Device is dead. The reconnection belongs to the backend: the
	// context given to Connect bounds only the first connection (cancelling it later does not
	// end AutoReconnect); Disconnect and Backend.Stop end it.
	//
	// While it reconnects, calls do not wait for the link. Every GATT call (CharRead*,
	// CharWrite*, Subscribe*, ResubscribeAll, ExchangeMTU, Services, DiscoverCharacteristics,
	// GetHandle, RSSI, Bond) fails at once with an error that matches ErrNotConnected and wraps
	// the loss, a *DisconnectError; Unsubscribe and UnsubscribeHandle succeed and forget the
	// subscription, which is then not restored; Err returns the loss, and nil again once the link
	// is back; Disconnected stays open; Disconnect stops the reconnection and ends the Device.
	// Values that arrived before the loss are still delivered, and each handler keeps its order
	// and is never called concurrently, across the reconnection too. Disconnected is closed only
	// after Disconnect or EventGaveUp.
	//
	// Without AutoReconnect a loss is final: EventDisconnected, then Disconnected is closed and
	// every call fails with an error matching ErrNotConnected.
	AutoReconnect bool
	// ReconnectBackoff is the policy that spaces the reconnection attempts (see Backoff,
	// ExponentialBackoff, ConstantBackoff). When nil, the default policy applies:
	// ExponentialBackoff(ReconnectMinDelay, ReconnectMaxDelay, DefaultReconnectJitter) — at once,
	// then after d(n) = min(ReconnectMinDelay·2ⁿ⁻¹, ReconnectMaxDelay) for the n-th failure, each
	// delay drawn uniformly from [0.8·d(n), d(n)], so never above ReconnectMaxDelay and never
	// below 0.8·ReconnectMinDelay. The jitter keeps Devices that lost their links together (an
	// adapter reset) from dialling in lockstep. ReconnectMinDelay and ReconnectMaxDelay default
	// to 100 ms and 5 s; a policy given here replaces them (setting both is an error).
	// ReconnectAttempts limits the attempts per loss (0 = unlimited). Connect rejects negative
	// values and a ReconnectMaxDelay below ReconnectMinDelay with ErrInvalidParameter.
	ReconnectBackoff                     Backoff
	ReconnectMinDelay, ReconnectMaxDelay time.Duration
	ReconnectAttempts                    int
	// OnConnectionEvent, when set, learns of disconnects and reconnects. It runs on a goroutine
	// of the library's, never under a library lock, one event at a time in order.
	OnConnectionEvent func(ConnectionEvent)
}

// ConnectionEventKind says what happened to a link.
type ConnectionEventKind int

// Connection event kinds.
const (
	EventDisconnected ConnectionEventKind = iota + 1 // the link was lost or closed (Err says why)
	EventReconnecting                                // an automatic reconnection attempt starts
	EventReconnected                                 // the link is back and subscriptions are restored
	EventGaveUp                                      // automatic reconnection stopped; the Device is dead
)

// String returns "disconnected", "reconnecting", "reconnected" or "gave up".
func (k ConnectionEventKind) String() string {
	switch k {
	case EventDisconnected:
		return "disconnected"
	case EventReconnecting:
		return "reconnecting"
	case EventReconnected:
		return "reconnected"
	case EventGaveUp:
		return "gave up"
	}
	return fmt.Sprintf("ConnectionEventKind(%d)", int(k))
}

// ConnectionEvent reports a change of a link's state.
type ConnectionEvent struct {
	Kind    ConnectionEventKind
	Address string
	Attempt int   // for EventReconnecting: 1, 2, …
	Err     error // for EventDisconnected and EventGaveUp: why
}

// Spec limits for connection parameters (Core v5.3 Vol 4 Part E §7.8.12).
const (
	connIntervalUnit   = 1250 * time.Microsecond
	supervisionUnit    = 10 * time.Millisecond
	minConnInterval    = 6 * connIntervalUnit    // 7.5 ms
	maxConnInterval    = 3200 * connIntervalUnit // 4 s
	minSupervision     = 10 * supervisionUnit    // 100 ms
	maxSupervision     = 3200 * supervisionUnit  // 32 s
	maxLatency         = 499
	scanUnit           = 625 * time.Microsecond
	minScanInterval    = 4 * scanUnit      // 2.5 ms
	maxScanInterval    = 0x4000 * scanUnit // 10.24 s
	defaultIntervalMin = 60 * connIntervalUnit
	defaultIntervalMax = 76 * connIntervalUnit
	defaultSupervision = 100 * supervisionUnit
)

// ConnParams are validated connection parameters in controller units.
type ConnParams struct {
	IntervalMin, IntervalMax uint16 // units of 1.25 ms
	Latency                  uint16 // connection events
	Timeout                  uint16 // units of 10 ms
}

// Resolve fills defaults into o's connection parameters, checks them against the limits of
// Core v5.3 Vol 4 Part E §7.8.12, and converts them exactly to controller units. A duration
// that is not a whole number of units is rejected rather than rounded. It also checks the
// reconnection options (see ReconnectBackoff).
func (o ConnectOptions) Resolve() (ConnParams, error) {
	if err := o.checkReconnect(); err != nil {
		return ConnParams{}, err
	}
	imin, imax, sup := o.IntervalMin, o.IntervalMax, o.SupervisionTimeout
	if imin == 0 && imax == 0 {
		imin, imax = defaultIntervalMin, defaultIntervalMax
	} else if imin == 0 {
		imin = max(minConnInterval, min(imax, defaultIntervalMin))
	} else if imax == 0 {
		imax = max(imin, defaultIntervalMax)
	}
	if sup == 0 {
		// The default must satisfy the rule checked below even for long intervals: take the
		// smallest whole number of units above (1+Latency)·IntervalMax·2 when 1 s is too short.
		sup = defaultSupervision
		if need := time.Duration(1+max(o.Latency, 0)) * imax * 2; sup <= need && need < maxSupervision {
			sup = (need/supervisionUnit + 1) * supervisionUnit
		}
	}
	var p ConnParams
	for _, c := range []struct {
		name     string
		v        time.Duration
		unit     time.Duration
		lo, hi   time.Duration
		dst      *uint16
		unitName string
	}{
		{"IntervalMin", imin, connIntervalUnit, minConnInterval, maxConnInterval, &p.IntervalMin, "1.25 ms"},
		{"IntervalMax", imax, connIntervalUnit, minConnInterval, maxConnInterval, &p.IntervalMax, "1.25 ms"},
		{"SupervisionTimeout", sup, supervisionUnit, minSupervision, maxSupervision, &p.Timeout, "10 ms"},
	} {
		if c.v < c.lo || c.v > c.hi {
			return p, fmt.Errorf("%w: %s %v out of range %v–%v", ErrInvalidParameter, c.name, c.v, c.lo, c.hi)
		}
		if c.v%c.unit != 0 {
			return p, fmt.Errorf("%w: %s %v is not a multiple of %s", ErrInvalidParameter, c.name, c.v, c.unitName)
		}
		*c.dst = uint16(c.v / c.unit)
	}
	if p.IntervalMin > p.IntervalMax {
		return p, fmt.Errorf("%w: IntervalMin %v exceeds IntervalMax %v", ErrInvalidParameter, imin, imax)
	}
	if o.Latency < 0 || o.Latency > maxLatency {
		return p, fmt.Errorf("%w: Latency %d out of range 0–%d", ErrInvalidParameter, o.Latency, maxLatency)
	}
	p.Latency = uint16(o.Latency)
	// Core v5.3 Vol 4 Part E §7.8.12: Supervision_Timeout > (1 + Max_Latency) * Max_Interval * 2.
	if need := time.Duration(1+o.Latency) * imax * 2; sup <= need {
		return p, fmt.Errorf("%w: SupervisionTimeout %v must exceed (1+Latency)·IntervalMax·2 = %v", ErrInvalidParameter, sup, need)
	}
	return p, nil
}

// ConnectTimeout returns o.Timeout or the default.
func (o ConnectOptions) ConnectTimeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultConnectTimeout
	}
	return o.Timeout
}

// DiscoverMode selects which advertisers a scan reports (Core v5.3 Vol 3 Part C §9.2).
type DiscoverMode int

// Discover modes. The zero value is DiscoverGeneric. pygatt's BGAPI backend defaults to
// observation: pass DiscoverObservation to see the same devices (docs/porting-from-pygatt.md).
const (
	DiscoverGeneric     DiscoverMode = iota // limited and general discoverable devices
	DiscoverLimited                         // only limited-discoverable devices
	DiscoverObservation                     // every advertiser, discoverable or not
)

// String returns "generic", "limited" or "observation".
func (m DiscoverMode) String() string {
	switch m {
	case DiscoverGeneric:
		return "generic"
	case DiscoverLimited:
		return "limited"
	case DiscoverObservation:
		return "observation"
	}
	return fmt.Sprintf("DiscoverMode(%d)", int(m))
}

// ScanOptions tune Scan. The zero value gives an active, generic scan of DefaultScanTimeout.
type ScanOptions struct {
	// Timeout is how long to scan; zero means DefaultScanTimeout.
	Timeout time.Duration
	// Interval and Window: 2.5 ms to 10.24 s in steps of 0.625 ms, Window ≤ Interval
	// (Core v5.3 Vol 4 Part E §7.8.10). Zero means the backend's default (BGAPI: 200 ms / 50 ms).
	Interval, Window time.Duration
	// Passive disables scan requests (no scan responses); the zero value scans actively.
	Passive bool
	// Mode selects limited, generic or observation discovery.
	Mode DiscoverMode
	// OnAdvertisement, when set, is called for every advertisement as it arrives, with the
	// device's merged result so far (by FilteredScan only for devices whose name matches).
	// Returning false stops the scan. Both backends call it on the goroutine that called Scan,
	// one advertisement at a time, never on the goroutine reading the adapter and never under a
	// library lock, and never after Scan returns: it may share variables with the code around
	// the Scan call without locking. The scan waits while it runs (a Timeout that passes
	// meanwhile ends the scan soon after it returns), so a callback that blocks holds it up.
	OnAdvertisement func(ScanResult) bool
}

// ScanTimeout returns o.Timeout or the default.
func (o ScanOptions) ScanTimeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultScanTimeout
	}
	return o.Timeout
}

// ScanParams are validated scan parameters in controller units of 0.625 ms.
type ScanParams struct {
	Interval, Window uint16
}

// Resolve fills defaults into the scan interval and window, validates them against
// Core v5.3 Vol 4 Part E §7.8.10 and converts them exactly to units of 0.625 ms.
func (o ScanOptions) Resolve() (ScanParams, error) {
	iv, w := o.Interval, o.Window
	if iv == 0 {
		iv = 200 * time.Millisecond
	}
	if w == 0 {
		w = min(50*time.Millisecond, iv)
	}
	var p ScanParams
	for _, c := range []struct {
		name string
		v    time.Duration
		dst  *uint16
	}{{"Interval", iv, &p.Interval}, {"Window", w, &p.Window}} {
		if c.v < minScanInterval || c.v > maxScanInterval {
			return p, fmt.Errorf("%w: scan %s %v out of range %v–%v", ErrInvalidParameter, c.name, c.v, minScanInterval, maxScanInterval)
		}
		if c.v%scanUnit != 0 {
			return p, fmt.Errorf("%w: scan %s %v is not a multiple of 0.625 ms", ErrInvalidParameter, c.name, c.v)
		}
		*c.dst = uint16(c.v / scanUnit)
	}
	if w > iv {
		return p, fmt.Errorf("%w: scan Window %v exceeds Interval %v", ErrInvalidParameter, w, iv)
	}
	if o.Mode < DiscoverGeneric || o.Mode > DiscoverObservation {
		return p, fmt.Errorf("%w: discover mode %d", ErrInvalidParameter, int(o.Mode))
	}
	return p, nil
}

// SubscribeOptions tune Subscribe.
type SubscribeOptions struct {
	// Indication enables indications (acknowledged) instead of notifications.
	Indication bool
	// QueueLimit bounds the values waiting for a slow handler; 0 means unbounded (nothing is
	// ever dropped). When the bound is reached the oldest waiting value is dropped and counted.
	QueueLimit int
}
