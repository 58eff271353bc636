// Package bluez is gogatt's BlueZ backend over D-Bus: it talks to bluetoothd's org.bluez
// service (BlueZ 5.66 doc/adapter-api.txt, doc/device-api.txt, doc/gatt-api.txt) with
// github.com/godbus/dbus/v5, and needs neither the deprecated BlueZ tools nor root.
//
//   - One bus connection per started Backend. Signals are received with godbus's sequential
//     signal handler and dispatched by one goroutine, so notifications (PropertiesChanged of a
//     characteristic's Value) keep the order in which bluetoothd sent them.
//   - Scan is Adapter1.SetDiscoveryFilter{Transport: "le"} and StartDiscovery; devices come as
//     InterfacesAdded and PropertiesChanged of Device1. Discovery is always active: a passive
//     scan (ScanOptions.Passive) registers an advertisement monitor with
//     AdvertisementMonitorManager1 instead (doc/advertisement-monitor-api.txt), which
//     bluetoothd 5.66 exports only when it runs with --experimental; without it a passive scan
//     fails with gogatt.ErrUnsupported. The monitor matches every advertiser that sends the
//     Flags AD structure.
//   - Notifications: Subscribe uses AcquireNotify (values on a socket), or StartNotify (values
//     as PropertiesChanged signals) where bluetoothd refuses that; Config.Notify can force
//     either.
//   - Connect is Device1.Connect, then a wait for ServicesResolved (racing Connected=false and the
//     device's removal). A device bluetoothd does not know yet is discovered first.
//   - A connection is a gattkit.Link: gattkit.Connect provides the one gogatt.Device above it
//     (UUID resolution, subscriptions, reconnection).
//
// # What D-Bus cannot do
//
//   - Connection parameters: there is no D-Bus call for them (bluetoothd applies the [LE]
//     section of its main.conf). ConnectOptions' IntervalMin, IntervalMax, Latency and
//     SupervisionTimeout are checked like every backend's, then ignored, with a warning on
//     Config.Logger — as the gatttool backend does, so that code written for several backends
//     keeps working.
//   - Scan interval and window: likewise, ScanOptions.Interval and Window are checked, then
//     ignored with a warning.
//   - RSSI of a connected device: Device1.RSSI is an advertising value only; Device.RSSI fails
//     with gogatt.ErrUnsupported.
//   - ExchangeMTU: bluetoothd exchanges the MTU itself at connection time. ExchangeMTU returns the
//     MTU property of the characteristics (BlueZ ≥ 5.62) when it is at most the MTU asked for,
//     and gogatt.ErrUnsupported otherwise (an ATT client may exchange the MTU only once).
//   - A single ATT Read: ReadValue always reads the whole value (Read then Read Blob), so
//     CharRead returns the whole value too.
//   - CCCDs: bluetoothd owns them. Subscribe is AcquireNotify, or StartNotify where bluetoothd
//     refuses that (Config.Notify, NotifyMode), Unsubscribe closes the socket or calls
//     StopNotify; writing a CCCD with CharWriteHandle fails with ATT Write Not Permitted, and
//     Unsubscribe of a characteristic this client did not subscribe to writes nothing.
//     SubscribeOptions.Indication is not honoured when a characteristic supports notifications
//     as well: bluetoothd then always enables notifications.
//   - ATT error codes: see Error; several codes arrive as one D-Bus error.
//
// # Pairing
//
// Start exports an org.bluez.Agent1 object on the backend's bus connection and registers it
// (AgentManager1.RegisterAgent, doc/agent-api.txt) with the IO capability that Config's
// callbacks give (see Config.Confirm); Stop unregisters it. bluetoothd asks this agent about
// the pairings the backend's own Device1.Pair calls start — the agent of the caller comes first
// (agent_get in src/agent.c, BlueZ 5.66) — so the desktop's default agent is neither needed nor
// replaced, unless Config.DefaultAgent asks for it. The agent answers bluetoothd's unique bus
// name only, for devices of the backend's adapter only, and runs the callbacks outside every
// lock of the library.
//
// Device.Bond(ctx, true) is Device1.Pair; on a device bluetoothd holds keys for (AlreadyExists)
// it succeeds without pairing again. When ctx ends first, Bond calls Device1.CancelPairing and
// fails with ctx's error; the peer may then end the link, at once or at its SMP timeout
// (measured in docs/bluez-dbus.md), so reconnect before pairing again. A failed pairing is an
// *Error with bluetoothd's D-Bus name: AuthenticationFailed (also for a wrong passkey or a
// rejection by a callback, whose error Bond's error then wraps too), AuthenticationRejected,
// AuthenticationCanceled, AuthenticationTimeout (matching gogatt.ErrTimeout) or
// ConnectionAttemptFailed (matching gogatt.ErrNotConnected), all org.bluez.Error.*.
// Bond(ctx, false) fails with gogatt.ErrUnsupported: bluetoothd stores the keys of every
// pairing while the adapter is Pairable, and D-Bus has no pairing without bonding. ClearBond
// is Adapter1.RemoveDevice, which forgets this side's keys only.
package bluez

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// D-Bus names (BlueZ 5.66 doc/*.txt).
const (
	bluezService    = "org.bluez"
	ifaceAdapter    = "org.bluez.Adapter1"
	ifaceDevice     = "org.bluez.Device1"
	ifaceService    = "org.bluez.GattService1"
	ifaceChar       = "org.bluez.GattCharacteristic1"
	ifaceDesc       = "org.bluez.GattDescriptor1"
	ifaceProps      = "org.freedesktop.DBus.Properties"
	ifaceObjManager = "org.freedesktop.DBus.ObjectManager"
)

// Config configures the backend. The zero value uses hci0 on the system bus.
type Config struct {
	// Adapter is the adapter's name, "hci0" by default.
	Adapter string
	// BusAddress is the D-Bus address of the bus bluetoothd is on; empty means the system bus
	// (DBUS_SYSTEM_BUS_ADDRESS, or the default system bus socket).
	BusAddress string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Notify selects how Subscribe asks bluetoothd for values; the zero value, NotifyAuto, uses
	// AcquireNotify and falls back to StartNotify where bluetoothd refuses it.
	Notify NotifyMode
	// PowerOn makes Start power the adapter on (Adapter1.Powered, doc/adapter-api.txt) when it
	// is off, and wait, bounded by Start's context, until bluetoothd reports it on. Without it,
	// Start fails on a powered-off adapter with ErrPoweredOff.
	PowerOn bool
	// CallTimeout bounds housekeeping calls whose context has no deadline (StopDiscovery,
	// Disconnect when a link is closed). Zero means 10 s.
	CallTimeout time.Duration

	// Passkey answers bluetoothd's Agent1.RequestPasskey during Bond (the peer displays a
	// passkey the user must enter here, doc/agent-api.txt, BlueZ 5.66): return 0–999999; an
	// error rejects the pairing (Bond then fails with an error wrapping it). Same signature and
	// contract as bgapi.Config.Passkey: it runs on a goroutine of its own; ctx ends when the
	// pairing does (Bond returned, Bond's context ended, bluetoothd's Agent1.Cancel, Stop), and
	// Stop does not wait for it. When nil, a passkey request is rejected.
	Passkey func(ctx context.Context, address string) (uint32, error)
	// PasskeyDisplay is told the passkey the user must type on the peer (Agent1.DisplayPasskey,
	// or DisplayPinCode with a PIN of up to 6 digits), once per pairing, as
	// bgapi.Config.PasskeyDisplay. It runs on a goroutine of its own and may keep showing the
	// passkey until ctx ends (as for Passkey); Stop does not wait for it.
	PasskeyDisplay func(ctx context.Context, address string, passkey uint32)
	// Confirm answers a numeric comparison (Agent1.RequestConfirmation; LE Secure Connections,
	// Core v5.3 Vol 3 Part H §2.3.5.6.1): return nil when the user confirms that the peer shows
	// passkey, an error to reject. It runs like Passkey. When nil, a comparison is rejected.
	//
	// The three callbacks choose the IO capability the backend's agent registers with, from
	// which the kernel's SMP chooses the pairing method (Core v5.3 Vol 3 Part H Table 2.8):
	// none is NoInputNoOutput (Just Works only); PasskeyDisplay alone DisplayOnly; Confirm
	// without Passkey DisplayYesNo; Passkey alone KeyboardOnly; Passkey with either other
	// KeyboardDisplay. Agent1.RequestAuthorization (Just Works bluetoothd asks about) is
	// accepted during a Bond of this backend and rejected otherwise; AuthorizeService and
	// RequestPinCode are always rejected.
	Confirm func(ctx context.Context, address string, passkey uint32) error
	// DefaultAgent also makes the backend's agent bluetoothd's default agent
	// (AgentManager1.RequestDefaultAgent), which answers pairings that others start: the peer's,
	// or another program's Device1.Pair without an agent of its own — and whose IO capability
	// bluetoothd gives the adapters for pairings the peer starts. Off by default, so that the
	// desktop's agent keeps that role: bluetoothd asks the agent of the program that calls
	// Device1.Pair first (agent_get in src/agent.c, BlueZ 5.66), so Bond needs no default agent.
	DefaultAgent bool
}

// NotifyMode is how a subscription receives values from bluetoothd (doc/gatt-api.txt,
// BlueZ 5.66).
type NotifyMode int

const (
	// NotifyAuto subscribes with GattCharacteristic1.AcquireNotify: values arrive as packets on
	// a socket bluetoothd hands over rather than as D-Bus signals, which spares the bus. Where
	// bluetoothd refuses it — NotSupported for a characteristic without the notify property
	// (indicate-only: BlueZ 5.66 acquires notifications only), NotPermitted or InProgress while
	// another client holds the characteristic's notifications, Failed — the subscription falls
	// back to StartNotify, with a debug log. Unsubscribe closes the socket and returns once
	// bluetoothd reports NotifyAcquired false.
	NotifyAuto NotifyMode = iota
	// NotifyStartNotify always uses StartNotify/StopNotify: values are PropertiesChanged
	// signals of the characteristic's Value, which other clients on the bus see as well.
	NotifyStartNotify
	// NotifyAcquire always uses AcquireNotify; a subscription bluetoothd refuses it to fails
	// (NotSupported matches gogatt.ErrUnsupported).
	NotifyAcquire
)

func (m NotifyMode) String() string {
	switch m {
	case NotifyAuto:
		return "auto"
	case NotifyStartNotify:
		return "StartNotify"
	case NotifyAcquire:
		return "AcquireNotify"
	}
	return fmt.Sprintf("NotifyMode(%d)", int(m))
}

var adapterName = regexp.MustCompile(`^hci[0-9]{1,3}$`)

// Backend is the BlueZ D-Bus backend. Create it with New.
type Backend struct {
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	started    bool
	stopped    bool
	conn       *dbus.Conn
	adapter    dbus.ObjectPath
	listeners  map[int]func(*dbus.Signal)
	nextID     int
	links      map[*link]struct{}
	handed     gattkit.Devices
	deliveries gattkit.Group
	wg         sync.WaitGroup // the dispatcher
	scans      sync.WaitGroup // scans in progress: they stop their discovery before the bus closes
	stopCtx    context.Context
	stopCancel context.CancelFunc

	// discMu serialises the start and stop of the discovery session, which scans and connects
	// to unknown devices share: bluetoothd keeps one session per D-Bus client
	// (doc/adapter-api.txt StartDiscovery, BlueZ 5.66).
	discMu    sync.Mutex
	discUsers map[*dbus.Conn]int

	agent      *agent          // the pairing agent on conn (agent.go); nil when not started
	bluetoothd *bluetoothdName // who may call the objects the backend exports; nil when not started
}

var _ gogatt.Backend = (*Backend)(nil)

// New returns a backend for cfg. Nothing is started until Start.
func New(cfg Config) *Backend {
	if cfg.Adapter == "" {
		cfg.Adapter = "hci0"
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	stopCtx, stopCancel := context.WithCancel(context.Background())
	return &Backend{cfg: cfg, log: log, links: map[*link]struct{}{}, listeners: map[int]func(*dbus.Signal){},
		stopCtx: stopCtx, stopCancel: stopCancel, discUsers: map[*dbus.Conn]int{}}
}

// Start connects to the bus and checks that the adapter exists and is powered. Its errors say
// what is missing and what to do (each wraps the underlying D-Bus or socket error too):
//
//   - no bus at the address tried: ErrNoBus;
//   - bluetoothd not running (org.bluez has no owner): ErrNoBluetoothd;
//   - no such adapter: *AdapterNotFoundError, which lists the adapters bluetoothd has;
//   - the bus's policy refuses this user the call: fs.ErrPermission, as bgapi for a port it may
//     not open;
//   - the adapter is powered off: ErrPoweredOff, unless Config.PowerOn, which powers it on;
//   - powering on failed because rfkill blocks the adapter: ErrBlocked.
//
// All but the permission error also match gogatt.ErrNoAdapter.
func (b *Backend) Start(ctx context.Context) error {
	if !adapterName.MatchString(b.cfg.Adapter) {
		return fmt.Errorf("bluez: %w: Adapter %q: want hciN", gogatt.ErrInvalidParameter, b.cfg.Adapter)
	}
	if b.cfg.Notify < NotifyAuto || b.cfg.Notify > NotifyAcquire {
		return fmt.Errorf("bluez: %w: Config.Notify %v", gogatt.ErrInvalidParameter, b.cfg.Notify)
	}
	b.mu.Lock()
	if b.started {
		b.mu.Unlock()
		return nil
	}
	if b.stopped { // Start after Stop starts again
		b.stopped = false
		b.stopCtx, b.stopCancel = context.WithCancel(context.Background())
	}
	b.mu.Unlock()
	// Not dbus.WithContext(ctx): godbus would close the connection when Start's ctx ends. Its
	// own context ends with ctx only until the connection is up, so that ctx bounds the
	// authentication too (godbus closes the connection when that context ends).
	addr := busAddressOr(b.cfg.BusAddress)
	connCtx, connCancel := context.WithCancel(context.Background())
	stopConnCancel := context.AfterFunc(ctx, connCancel)
	conn, err := dbus.Connect(addr, dbus.WithContext(connCtx), dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if !stopConnCancel() { // ctx ended during the connection: godbus closes it
		if err == nil {
			conn.Close()
		}
		return fmt.Errorf("bluez: connecting to the bus at %s: %w", addr, gattkit.CtxErr(ctx, "start"))
	}
	if err != nil {
		return busError(addr, err)
	}
	adapter := dbus.ObjectPath("/org/bluez/" + b.cfg.Adapter)
	if err := b.checkAdapter(ctx, conn, addr, adapter); err != nil {
		conn.Close()
		return err
	}
	name := &bluetoothdName{conn: conn, timeout: b.cfg.CallTimeout}
	if err := name.lookup(ctx); err != nil {
		conn.Close()
		return b.adapterError(ctx, conn, addr, err)
	}
	ag, err := b.startAgent(ctx, conn, adapter, name)
	if err != nil {
		conn.Close()
		return err
	}
	ch := make(chan *dbus.Signal, 64)
	conn.Signal(ch)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped || b.started { // a Stop, or another Start, meanwhile
		conn.Close()
		if b.started {
			return nil
		}
		return gogatt.ErrNotStarted
	}
	b.conn, b.adapter, b.started, b.agent, b.bluetoothd = conn, adapter, true, ag, name
	b.wg.Add(1)
	go b.dispatch(ch)
	return nil
}

// checkAdapter asks for the adapter's Powered property, says why it cannot, and powers the
// adapter on when it is off and Config.PowerOn is set. It leaves conn receiving bluetoothd's
// signals.
func (b *Backend) checkAdapter(ctx context.Context, conn *dbus.Conn, addr string, adapter dbus.ObjectPath) error {
	var v dbus.Variant
	err := conn.Object(bluezService, adapter).CallWithContext(ctx, ifaceProps+".Get", 0, ifaceAdapter, "Powered").Store(&v)
	if err != nil {
		return b.adapterError(ctx, conn, addr, err)
	}
	if err := conn.AddMatchSignal(dbus.WithMatchSender(bluezService)); err != nil {
		return fmt.Errorf("bluez: adding a signal match: %w", err)
	}
	if on, _ := v.Value().(bool); on {
		return nil
	}
	if !b.cfg.PowerOn {
		return &startError{msg: fmt.Sprintf("bluez: adapter %s is powered off; power it on (bluetoothctl power on) or set Config.PowerOn", b.cfg.Adapter),
			errs: []error{ErrPoweredOff, gogatt.ErrNoAdapter}}
	}
	return b.powerOn(ctx, conn, adapter)
}

// powerOn sets Adapter1.Powered (doc/adapter-api.txt) and waits, bounded by ctx, until
// bluetoothd reports it true. bluetoothd answers the Set once the kernel has powered the
// controller (property_set_mode and set_mode_complete in src/adapter.c, BlueZ 5.66); the
// PropertiesChanged signal is awaited all the same, in case the reply comes first.
func (b *Backend) powerOn(ctx context.Context, conn *dbus.Conn, adapter dbus.ObjectPath) error {
	pc := make(chan *dbus.Signal, 16)
	conn.Signal(pc)
	defer conn.RemoveSignal(pc)
	b.log.Debug("powering the adapter on", "adapter", b.cfg.Adapter)
	obj := conn.Object(bluezService, adapter)
	if err := obj.CallWithContext(ctx, ifaceProps+".Set", 0, ifaceAdapter, "Powered", dbus.MakeVariant(true)).Err; err != nil {
		return b.powerError(err)
	}
	var v dbus.Variant
	if err := obj.CallWithContext(ctx, ifaceProps+".Get", 0, ifaceAdapter, "Powered").Store(&v); err != nil {
		return fmt.Errorf("bluez: adapter %s: reading Powered after powering on: %w", b.cfg.Adapter, err)
	}
	if on, _ := v.Value().(bool); on {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return &startError{msg: fmt.Sprintf("bluez: adapter %s: powering on: bluetoothd still reports it powered off: %v", b.cfg.Adapter, ctx.Err()),
				errs: []error{ErrPoweredOff, gogatt.ErrNoAdapter, ctx.Err()}}
		case s := <-pc:
			if s.Path != adapter || s.Name != ifaceProps+".PropertiesChanged" || len(s.Body) < 2 {
				continue
			}
			if iface, _ := s.Body[0].(string); iface != ifaceAdapter {
				continue
			}
			changed, _ := s.Body[1].(map[string]dbus.Variant)
			if on, _ := changed["Powered"].Value().(bool); on {
				return nil
			}
		}
	}
}

// powerError is why Set Powered failed: rfkill's block is org.bluez.Error.Blocked "Blocked
// through rfkill" (set_mode_complete in src/adapter.c, BlueZ 5.66, for MGMT_STATUS_RFKILLED);
// older bluetoothd sent it as org.bluez.Error.Failed with the same text.
func (b *Backend) powerError(err error) error {
	var de dbus.Error
	if errors.As(err, &de) {
		text := ""
		if len(de.Body) > 0 {
			text, _ = de.Body[0].(string)
		}
		if de.Name == "org.bluez.Error.Blocked" || strings.Contains(strings.ToLower(text), "rfkill") {
			return &startError{msg: fmt.Sprintf("bluez: adapter %s is blocked by rfkill and cannot be powered on; unblock it (rfkill unblock bluetooth; a hard block is a switch or key on the machine): %s", b.cfg.Adapter, dbusText(err)),
				errs: []error{ErrBlocked, gogatt.ErrNoAdapter, err}}
		}
		if de.Name == "org.freedesktop.DBus.Error.AccessDenied" {
			return permissionError(b.cfg.Adapter, "powering on", err)
		}
	}
	return &startError{msg: fmt.Sprintf("bluez: adapter %s: powering on: %v", b.cfg.Adapter, err), errs: []error{ErrPoweredOff, gogatt.ErrNoAdapter, err}}
}

// dispatch hands every signal, in order, to the listeners (which never block).
func (b *Backend) dispatch(ch <-chan *dbus.Signal) {
	defer b.wg.Done()
	var ls []func(*dbus.Signal)
	for s := range ch {
		b.mu.Lock()
		ls = ls[:0]
		for _, l := range b.listeners {
			ls = append(ls, l)
		}
		b.mu.Unlock()
		for _, l := range ls {
			l(s)
		}
	}
}

// listen adds a signal listener; the returned function removes it.
func (b *Backend) listen(fn func(*dbus.Signal)) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.nextID
	b.nextID++
	b.listeners[id] = fn
	return func() {
		b.mu.Lock()
		delete(b.listeners, id)
		b.mu.Unlock()
	}
}

// begin returns the bus connection of a started backend and the context Stop cancels.
func (b *Backend) begin() (*dbus.Conn, dbus.ObjectPath, context.Context, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started || b.stopped {
		return nil, "", nil, gogatt.ErrNotStarted
	}
	return b.conn, b.adapter, b.stopCtx, nil
}

// Stop disconnects every device, discards the values still queued for notification handlers,
// ends scans and closes the bus connection (gogatt.Backend.Stop). It is idempotent.
func (b *Backend) Stop() error {
	b.mu.Lock()
	b.stopped = true
	b.stopCancel()
	conn, ag := b.conn, b.agent
	b.conn, b.started, b.agent, b.bluetoothd = nil, false, nil, nil
	b.mu.Unlock()
	b.handed.DisconnectAll()
	b.mu.Lock()
	var ls []*link
	for l := range b.links {
		ls = append(ls, l)
	}
	b.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	b.deliveries.Stop()
	b.scans.Wait()
	if ag != nil {
		ag.stop(b.cfg.CallTimeout)
	}
	if conn != nil {
		conn.Close() // ends the dispatcher
	}
	b.wg.Wait()
	b.handed.Wait()
	return nil
}

// SupportsUnbonded is true: bluetoothd reads and writes without pairing.
func (b *Backend) SupportsUnbonded() bool { return true }

// callCtx bounds ctx by Config.CallTimeout when it has no deadline.
func (b *Backend) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.cfg.CallTimeout)
}

func devicePath(adapter dbus.ObjectPath, a bt.Address) dbus.ObjectPath {
	return adapter + "/dev_" + dbus.ObjectPath(strings.ReplaceAll(a.String(), ":", "_"))
}

// deviceAddress is devicePath's inverse: the address of the device object path of adapter, and
// false when path is not one.
func deviceAddress(adapter, path dbus.ObjectPath) (bt.Address, bool) {
	rest, ok := strings.CutPrefix(string(path), string(adapter)+"/dev_")
	if !ok {
		return bt.Address{}, false
	}
	a, err := bt.ParseAddress(strings.ReplaceAll(rest, "_", ":"))
	return a, err == nil
}

// bluetoothdName is bluetoothd's unique bus name: the objects the backend exports (the pairing
// agent, advertisement monitors) answer calls from it only, so that another client on the bus
// can neither answer a pairing nor end or feed a scan.
type bluetoothdName struct {
	conn    *dbus.Conn
	timeout time.Duration

	mu   sync.Mutex
	name string
}

// lookup asks the bus who owns org.bluez.
func (n *bluetoothdName) lookup(ctx context.Context) error {
	var name string
	if err := n.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, bluezService).Store(&name); err != nil {
		return err
	}
	n.mu.Lock()
	n.name = name
	n.mu.Unlock()
	return nil
}

// is reports whether sender is bluetoothd, asking the bus again when it is not the name known
// (bluetoothd restarted).
func (n *bluetoothdName) is(sender dbus.Sender) bool {
	n.mu.Lock()
	known := n.name
	n.mu.Unlock()
	if sender != "" && string(sender) == known {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	if n.lookup(ctx) != nil {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return sender != "" && string(sender) == n.name
}

// Connect connects to address with Device1.Connect and returns the module's one Device over it
// (reconnecting when opts.AutoReconnect is set). Connection parameters cannot be set over
// D-Bus: IntervalMin, IntervalMax, Latency and SupervisionTimeout are checked (invalid ones fail
// with gogatt.ErrInvalidParameter), then ignored with a warning. A Connect that Stop interrupts
// fails with an error matching gogatt.ErrNotStarted.
func (b *Backend) Connect(ctx context.Context, address string, opts gogatt.ConnectOptions) (gogatt.Device, error) {
	if _, _, _, err := b.begin(); err != nil {
		return nil, err
	}
	addr, err := gattkit.CheckConnect(address, opts)
	if err != nil {
		return nil, err
	}
	if opts.IntervalMin != 0 || opts.IntervalMax != 0 || opts.Latency != 0 || opts.SupervisionTimeout != 0 {
		b.log.Warn("connection parameters ignored: D-Bus has no call for them (bluetoothd's main.conf [LE] section sets them)",
			"device", addr.String(), "intervalMin", opts.IntervalMin, "intervalMax", opts.IntervalMax,
			"latency", opts.Latency, "supervisionTimeout", opts.SupervisionTimeout)
	}
	_, _, stopCtx, err := b.begin()
	if err != nil {
		return nil, err
	}
	return b.handed.Connect(ctx, address, opts, gattkit.Config{Dial: b.dial, Group: &b.deliveries, Log: b.log, Values: stopCtx},
		&b.mu, func() bool { return b.stopped })
}

// ClearBond removes the device address from bluetoothd (Adapter1.RemoveDevice), which forgets
// its keys — only this side's half of the bond — and the device itself; with "" it removes
// every paired device.
func (b *Backend) ClearBond(ctx context.Context, address string) error {
	conn, adapter, _, err := b.begin()
	if err != nil {
		return err
	}
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	var paths []dbus.ObjectPath
	if address != "" {
		a, err := bt.ParseAddress(address)
		if err != nil {
			return fmt.Errorf("bluez: clear bond: %w: %w", gogatt.ErrInvalidParameter, err)
		}
		paths = append(paths, devicePath(adapter, a))
	} else {
		objs, err := managedObjects(ctx, conn)
		if err != nil {
			return mapError("clear bond", 0, err)
		}
		for p, ifs := range objs {
			if d, ok := ifs[ifaceDevice]; ok && strings.HasPrefix(string(p), string(adapter)+"/") {
				if paired, _ := d["Paired"].Value().(bool); paired {
					paths = append(paths, p)
				}
			}
		}
	}
	var errs []error
	for _, p := range paths {
		err := conn.Object(bluezService, adapter).CallWithContext(ctx, ifaceAdapter+".RemoveDevice", 0, p).Err
		if err != nil {
			var de dbus.Error
			if errors.As(err, &de) && de.Name == "org.bluez.Error.DoesNotExist" {
				continue // nothing to forget
			}
			errs = append(errs, mapError("clear bond", 0, err))
		}
	}
	return errors.Join(errs...)
}

type objectMap = map[dbus.ObjectPath]map[string]map[string]dbus.Variant

func managedObjects(ctx context.Context, conn *dbus.Conn) (objectMap, error) {
	var objs objectMap
	err := conn.Object(bluezService, "/").CallWithContext(ctx, ifaceObjManager+".GetManagedObjects", 0).Store(&objs)
	return objs, err
}

// discover joins the backend's discovery session on conn, starting it (SetDiscoveryFilter
// {Transport: "le"}, StartDiscovery) for the first user; release leaves it, stopping it for
// the last.
func (b *Backend) discover(ctx context.Context, conn *dbus.Conn, adapter dbus.ObjectPath) (release func(), err error) {
	b.discMu.Lock()
	defer b.discMu.Unlock()
	ad := conn.Object(bluezService, adapter)
	if b.discUsers[conn] == 0 {
		filter := map[string]dbus.Variant{"Transport": dbus.MakeVariant("le")}
		if err := ad.CallWithContext(ctx, ifaceAdapter+".SetDiscoveryFilter", 0, filter).Err; err != nil {
			return nil, mapError("discovery filter", 0, err)
		}
		if err := ad.CallWithContext(ctx, ifaceAdapter+".StartDiscovery", 0).Err; err != nil {
			return nil, mapError("start discovery", 0, err)
		}
	}
	b.discUsers[conn]++
	var once sync.Once
	return func() {
		once.Do(func() {
			b.discMu.Lock()
			defer b.discMu.Unlock()
			if b.discUsers[conn]--; b.discUsers[conn] > 0 {
				return
			}
			delete(b.discUsers, conn)
			sctx, cancel := context.WithTimeout(context.Background(), b.cfg.CallTimeout)
			defer cancel()
			if err := ad.CallWithContext(sctx, ifaceAdapter+".StopDiscovery", 0).Err; err != nil {
				b.log.Debug("StopDiscovery", "err", err)
			}
		})
	}, nil
}

// adapterError is why the adapter could not be asked for its state: a refusal by the bus's
// policy, no bluetoothd, or no such adapter (then the adapters bluetoothd has are listed).
func (b *Backend) adapterError(ctx context.Context, conn *dbus.Conn, addr string, err error) error {
	var de dbus.Error
	if !errors.As(err, &de) {
		return fmt.Errorf("bluez: adapter %s: %w: %w", b.cfg.Adapter, gogatt.ErrNoAdapter, err)
	}
	switch de.Name {
	case "org.freedesktop.DBus.Error.AccessDenied":
		return permissionError(b.cfg.Adapter, "reading its state", err)
	case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner":
		return noBluetoothd(addr, err)
	}
	nf := &AdapterNotFoundError{Adapter: b.cfg.Adapter, Err: err}
	if objs, lerr := managedObjects(ctx, conn); lerr == nil {
		for p, ifs := range objs {
			if _, ok := ifs[ifaceAdapter]; ok {
				nf.Available = append(nf.Available, strings.TrimPrefix(string(p), "/org/bluez/"))
			}
		}
		slices.Sort(nf.Available)
		if slices.Contains(nf.Available, b.cfg.Adapter) { // it exists: the Get failed otherwise
			return fmt.Errorf("bluez: adapter %s: %w: %w", b.cfg.Adapter, gogatt.ErrNoAdapter, err)
		}
	}
	return nf
}

// permissionError is the bus's policy refusing this user a call to bluetoothd.
func permissionError(adapter, op string, err error) error {
	return &startError{msg: fmt.Sprintf("bluez: adapter %s: %s: the bus's policy does not let this user call bluetoothd (org.bluez): "+
		"BlueZ's policy file /etc/dbus-1/system.d/bluetooth.conf allows root and the group \"bluetooth\" "+
		"(Debian's bluez 5.66 also allows every user; a refusal means a stricter policy): run as root or join the group: %s", adapter, op, dbusText(err)),
		errs: []error{fs.ErrPermission, err}}
}

// dbusText is a D-Bus error's name and text (godbus's Error gives the text only).
func dbusText(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name + ": " + de.Error()
	}
	return err.Error()
}

// busError is why the bus at addr could not be reached.
func busError(addr string, err error) error {
	if _, serr := os.Stat(systemBusSocket); addr == "unix:path="+systemBusSocket && serr != nil {
		addr += " (nor is there " + systemBusSocketRun + ")"
	}
	return &startError{msg: fmt.Sprintf("bluez: cannot connect to the D-Bus bus at %s (is dbus running? DBUS_SYSTEM_BUS_ADDRESS names the system bus): %v", addr, err),
		errs: []error{ErrNoBus, gogatt.ErrNoAdapter, err}}
}

// The system bus's socket when DBUS_SYSTEM_BUS_ADDRESS is not set (the D-Bus Specification,
// "Well-known Message Bus Instances"), and where systems without the /var/run link have it;
// godbus tries the same two.
const (
	systemBusSocket    = "/var/run/dbus/system_bus_socket"
	systemBusSocketRun = "/run/dbus/system_bus_socket"
)

// busAddressOr is the address Start connects to: Config.BusAddress, else the system bus
// (DBUS_SYSTEM_BUS_ADDRESS, else the first of the two sockets that exists).
func busAddressOr(cfg string) string {
	if cfg != "" {
		return cfg
	}
	if a := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
		return a
	}
	for _, p := range []string{systemBusSocket, systemBusSocketRun} {
		if _, err := os.Stat(p); err == nil {
			return "unix:path=" + p
		}
	}
	return "unix:path=" + systemBusSocket
}
