package bluezsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// Environment variables understood by the shim.
const (
	// EnvDir names the directory holding the simulated peers' unix sockets.
	EnvDir = "GOGATT_BLUEZSIM_DIR"
	// EnvLog, when set, names a file the shim appends a trace of the intercepted calls to.
	EnvLog = "GOGATT_BLUEZSIM_LOG"
	// EnvRequire set to "1" turns RequireTools' skip into a failure (CI).
	EnvRequire = "GOGATT_REQUIRE_BLUEZ"
)

// DefaultLEConnectTimeout is the default of Options.LEConnectTimeout.
const DefaultLEConnectTimeout = 20 * time.Second

// DefaultControllerAddress is the simulated adapter's address when Options leaves it zero.
const DefaultControllerAddress = "C0:FF:EE:00:00:00"

// Options configures a simulated BlueZ environment.
type Options struct {
	// HCIDevice is the simulated controller's name, "hciN"; default "hci0".
	HCIDevice string
	// Peripherals are reachable by gatttool (L2CAP ATT) and seen by hcitool lescan.
	Peripherals []*sim.Peripheral
	// ControllerAddress is the simulated adapter's own address; default
	// DefaultControllerAddress.
	ControllerAddress bt.Address
	// LEConnectTimeout is how long a connection attempt to a peripheral that is out of range
	// (or not connectable) pends before it fails with ENOTCONN, "Transport endpoint is not
	// connected (107)"; default DefaultLEConnectTimeout, the kernel's HCI_LE_CONN_TIMEOUT.
	LEConnectTimeout time.Duration
	// Logf, if set, receives diagnostics (refused connections, pairing failures, D-Bus errors).
	Logf func(format string, args ...any)
	// DBusOnly starts only what a D-Bus client of org.bluez needs: the private bus and the
	// simulated service, without building the shim for the BlueZ tools (only dbus-daemon must be
	// in PATH; see AvailableDBus).
	DBusOnly bool
	// DenyCalls makes the private bus's policy refuse method calls to org.bluez
	// (org.freedesktop.DBus.Error.AccessDenied), as a system bus does for a user that BlueZ's
	// policy file (dbus-1/system.d/bluetooth.conf) does not admit.
	DenyCalls bool
	// AdvertisementMonitor exports org.bluez.AdvertisementMonitorManager1 on the adapter, as
	// bluetoothd 5.66 does only when it runs with --experimental (advmon.go).
	AdvertisementMonitor bool
}

// Env is one running simulated BlueZ environment. Its methods are safe for concurrent use.
type Env struct {
	dir           string
	shimPath      string
	logPath       string
	hciIndex      int
	ctrlAddr      bt.Address
	leConnTimeout time.Duration
	logf          func(format string, args ...any)
	dbusOnly      bool
	denyCalls     bool
	advMonitor    bool

	ctrl *controller
	bus  *bluezBus

	mu     sync.Mutex
	closed bool
	peers  map[bt.Address]*peer
	conns  map[*net.UnixConn]struct{}
	links  map[bt.Address]map[*sim.Link]activeLink
	wg     sync.WaitGroup
}

// Available reports why the real tools cannot run here (nil when gatttool, hcitool,
// bluetoothctl, dbus-daemon and gcc are present in PATH).
func Available() error {
	var missing []string
	for _, t := range []string{"gatttool", "hcitool", "bluetoothctl", "dbus-daemon", "gcc"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("bluezsim: not in PATH: %s (apt-get install bluez dbus gcc)", strings.Join(missing, ", "))
	}
	return nil
}

// RequireTools skips t with a one-line reason when Available fails, or fails t when the
// environment variable GOGATT_REQUIRE_BLUEZ is "1" (CI sets it, so that a skipped suite cannot
// pass there).
func RequireTools(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%v (%s=1)", err, EnvRequire)
		}
		t.Skip(err.Error())
	}
}

// AvailableDBus reports why a D-Bus-only environment (Options.DBusOnly) cannot run here: nil
// when dbus-daemon is in PATH.
func AvailableDBus() error {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		return fmt.Errorf("bluezsim: not in PATH: dbus-daemon (apt-get install dbus)")
	}
	return nil
}

// RequireDBus is RequireTools for a D-Bus-only environment.
func RequireDBus(t testing.TB) {
	t.Helper()
	if err := AvailableDBus(); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%v (%s=1)", err, EnvRequire)
		}
		t.Skip(err.Error())
	}
}

// parseHCIDevice accepts "hciN".
func parseHCIDevice(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "hci"))
	if !strings.HasPrefix(s, "hci") || err != nil || n < 0 || n > 15 {
		return 0, fmt.Errorf("bluezsim: invalid HCIDevice %q: want hci0 … hci15", s)
	}
	return n, nil
}

// Start builds the LD_PRELOAD shim (gcc, cached by content under the temp directory), creates a
// socket directory, starts one unix-socket peer per peripheral, the simulated HCI controller, a
// private dbus-daemon and the simulated org.bluez service. ctx bounds the start-up only. Close
// tears everything down.
func Start(ctx context.Context, opts Options) (*Env, error) {
	check := Available
	if opts.DBusOnly {
		check = AvailableDBus
	}
	if err := check(); err != nil {
		return nil, err
	}
	idx, err := parseHCIDevice(opts.HCIDevice)
	if err != nil {
		return nil, err
	}
	e := &Env{
		hciIndex:      idx,
		ctrlAddr:      opts.ControllerAddress,
		leConnTimeout: opts.LEConnectTimeout,
		logf:          opts.Logf,
		dbusOnly:      opts.DBusOnly,
		denyCalls:     opts.DenyCalls,
		advMonitor:    opts.AdvertisementMonitor,
		peers:         make(map[bt.Address]*peer),
		conns:         make(map[*net.UnixConn]struct{}),
		links:         make(map[bt.Address]map[*sim.Link]activeLink),
	}
	if e.ctrlAddr == (bt.Address{}) {
		e.ctrlAddr = bt.MustParseAddress(DefaultControllerAddress)
	}
	if e.leConnTimeout <= 0 {
		e.leConnTimeout = DefaultLEConnectTimeout
	}
	if e.logf == nil {
		e.logf = func(string, ...any) {}
	}
	if !opts.DBusOnly {
		if e.shimPath, err = buildShim(ctx); err != nil {
			return nil, err
		}
	}
	// Unix socket paths are limited to 108 bytes: keep the directory short.
	if e.dir, err = os.MkdirTemp("", "bzsim"); err != nil {
		return nil, fmt.Errorf("bluezsim: %w", err)
	}
	e.logPath = e.dir + "/shim.log"
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	if e.ctrl, err = startController(e); err != nil {
		return nil, err
	}
	if e.bus, err = startBus(ctx, e); err != nil {
		return nil, err
	}
	for _, p := range opts.Peripherals {
		if err := e.AddPeripheral(p); err != nil {
			return nil, err
		}
	}
	ok = true
	return e, nil
}

// Dir returns the directory holding the simulation's sockets.
func (e *Env) Dir() string { return e.dir }

// ShimLog returns the path of the shim's trace (every intercepted socket call of every child
// started with Environ, e.g. "setsockopt(5, BT_SECURITY level=2 connected=1)").
func (e *Env) ShimLog() string { return e.logPath }

// HCIDevice returns the simulated controller's name, e.g. "hci0".
func (e *Env) HCIDevice() string { return "hci" + strconv.Itoa(e.hciIndex) }

// ControllerAddress returns the simulated adapter's address.
func (e *Env) ControllerAddress() bt.Address { return e.ctrlAddr }

// Environ returns the variables to add to a child's environment: LD_PRELOAD (the shim),
// GOGATT_BLUEZSIM_DIR, GOGATT_BLUEZSIM_LOG and DBUS_SYSTEM_BUS_ADDRESS.
func (e *Env) Environ() []string {
	env := []string{
		"LD_PRELOAD=" + e.shimPath,
		EnvDir + "=" + e.dir,
		EnvLog + "=" + e.logPath,
	}
	if e.bus != nil {
		env = append(env, "DBUS_SYSTEM_BUS_ADDRESS="+e.bus.address)
	}
	return env
}

// AddPeripheral makes p reachable by gatttool (at its address) and visible to lescan.
func (e *Env) AddPeripheral(p *sim.Peripheral) error {
	if p == nil {
		return errors.New("bluezsim: nil peripheral")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("bluezsim: environment closed")
	}
	return e.addPeerLocked(p)
}

// peripherals returns a snapshot of the added peripherals.
func (e *Env) peripherals() []*sim.Peripheral {
	e.mu.Lock()
	defer e.mu.Unlock()
	ps := make([]*sim.Peripheral, 0, len(e.peers))
	for _, pp := range e.peers {
		ps = append(ps, pp.p)
	}
	slices.SortFunc(ps, func(a, b *sim.Peripheral) int { return strings.Compare(a.Address().String(), b.Address().String()) })
	return ps
}

func (e *Env) peripheral(a bt.Address) *sim.Peripheral {
	e.mu.Lock()
	defer e.mu.Unlock()
	if pp := e.peers[a]; pp != nil {
		return pp.p
	}
	return nil
}

// Bonds returns the addresses the simulated bluetoothd holds as paired/bonded, sorted.
func (e *Env) Bonds() []bt.Address {
	if e.bus == nil {
		return nil
	}
	return e.bus.bonds()
}

// AddBond records a bond with a, as if pairing had completed: org.bluez then lists a device
// with Paired and Bonded true (InterfacesAdded is emitted when it is new).
func (e *Env) AddBond(a bt.Address) {
	if e.bus == nil {
		return
	}
	name, random := "", false
	if p := e.peripheral(a); p != nil {
		name, random = p.Name(), p.AddressType() == bt.AddressRandom
	}
	e.bus.addBond(a, name, random)
}

// track registers a live connection so that Close can end it; false once closed.
func (e *Env) track(c *net.UnixConn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.conns[c] = struct{}{}
	return true
}

func (e *Env) untrack(c *net.UnixConn) {
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
}

// Close stops every listener and connection, kills and waits for the dbus-daemon, waits for
// every goroutine of the environment and removes the socket directory.
func (e *Env) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	for _, pp := range e.peers {
		pp.ln.Close()
	}
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	var errs []error
	if e.ctrl != nil {
		e.ctrl.close()
	}
	if e.bus != nil {
		e.bus.closeGatt()
		errs = append(errs, e.bus.close())
	}
	e.wg.Wait()
	if e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// ResetController stops a scan left running by an hcitool killed without SIGINT, as
// `hciconfig hci0 reset` would (docs/bluez-tools.md §Stopping lescan).
func (e *Env) ResetController() {
	if e.ctrl == nil {
		return
	}
	e.ctrl.mu.Lock()
	e.ctrl.stopScanLocked()
	e.ctrl.mu.Unlock()
}

// SetPowered powers the simulated adapter on or off. Off: HCIGETDEVINFO reports it down
// (hcitool: "Invalid device: Network is down" with -i, "Could not open device: No such
// device" without), scanning stops and bound HCI sockets are dropped, org.bluez shows
// Powered false and RemoveDevice fails with org.bluez.Error.NotReady. gatttool connections
// are not affected (the L2CAP path does not consult it).
func (e *Env) SetPowered(on bool) error {
	if e.ctrl == nil || e.bus == nil {
		return errors.New("bluezsim: environment not started")
	}
	if err := writeDevices(e, on); err != nil {
		return err
	}
	if !on {
		e.ctrl.powerOff()
	}
	e.bus.setPowered(on)
	return nil
}

// SetRFKill blocks or unblocks the simulated adapter as rfkill does. Blocking powers it off;
// while it is blocked, Adapter1.Powered cannot be set true (org.bluez.Error.Blocked "Blocked
// through rfkill"). Unblocking leaves it powered off.
func (e *Env) SetRFKill(blocked bool) error {
	if e.bus == nil {
		return errors.New("bluezsim: environment not started")
	}
	e.bus.mu.Lock()
	e.bus.blocked = blocked
	e.bus.mu.Unlock()
	if blocked {
		return e.SetPowered(false)
	}
	return nil
}

// SetBluetoothd starts or stops the simulated bluetoothd: stopped, the org.bluez name has no owner
// on the private bus, so bluetoothctl waits for it for ever ("Waiting to connect to bluetoothd..."
// interactively; non-interactive commands print nothing and never exit, docs/bluez-tools.md
// §Without bluetoothd); started again, bluetoothctl reconnects and sees the same adapter and bonds.
func (e *Env) SetBluetoothd(running bool) error {
	if e.bus == nil {
		return errors.New("bluezsim: environment not started")
	}
	return e.bus.setOwned(running)
}
