package bluezsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt/bt"
)

// D-Bus names of the simulated bluetoothd (BlueZ doc/adapter-api.txt, device-api.txt,
// agent-api.txt).
const (
	bluezName        = "org.bluez"
	ifaceAdapter     = "org.bluez.Adapter1"
	ifaceDevice      = "org.bluez.Device1"
	ifaceAgentMgr    = "org.bluez.AgentManager1"
	ifaceObjManager  = "org.freedesktop.DBus.ObjectManager"
	ifaceProperties  = "org.freedesktop.DBus.Properties"
	ifaceIntrospect  = "org.freedesktop.DBus.Introspectable"
	errDoesNotExist  = "org.bluez.Error.DoesNotExist"
	errInvalidArgs   = "org.bluez.Error.InvalidArguments"
	errNotSupported  = "org.bluez.Error.NotSupported"
	errAlreadyExists = "org.bluez.Error.AlreadyExists"
	errNotReady      = "org.bluez.Error.NotReady"
)

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow send_type="signal"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>%s
  </policy>
</busconfig>
`

// denyBluez is the rule of Options.DenyCalls: a later rule overrides an earlier one of the same
// policy context (dbus-daemon(1), CONFIGURATION FILE).
const denyBluez = `
    <deny send_destination="org.bluez"/>`

// bluezBus is a private dbus-daemon plus a simulated org.bluez service with one adapter and
// the bonded devices.
type bluezBus struct {
	address string
	cmd     *exec.Cmd
	conn    *dbus.Conn
	cork    *corkConn
	waited  <-chan error  // the daemon's exit status, once
	drained chan struct{} // closed when its stdout has been read to the end
	adapter dbus.ObjectPath
	e       *Env

	mu          sync.Mutex
	powered     bool
	blocked     bool // rfkill (Env.SetRFKill)
	devices     map[bt.Address]*simDevice
	agents      map[string]simAgent       // by owner (unique bus name), as src/agent.c keys them
	defAgent    string                    // the owner of the default agent, "" for none
	pairing     map[bt.Address]simPairing // Device1.Pair in progress (pair.go)
	peerIO      map[bt.Address]PeerIO
	pairCancels int       // Device1.CancelPairing calls
	gatt        gattState // discovery and D-Bus GATT connections (gattdbus.go)

	// onRegisterMonitor runs once an application is registered, before RegisterMonitor
	// replies (Env.OnRegisterMonitor); guarded by mu.
	onRegisterMonitor func()
	// onAcquireNotify runs in AcquireNotify before it replies with the socket
	// (Env.OnAcquireNotify); guarded by mu.
	onAcquireNotify func()
}

type simDevice struct {
	addr      bt.Address
	random    bool
	name      string
	paired    bool
	connected bool
	adv       *advInfo // what discovery learnt, nil for a device known only by its bond
}

func devicePath(adapter dbus.ObjectPath, a bt.Address) dbus.ObjectPath {
	return adapter + "/dev_" + dbus.ObjectPath(strings.ReplaceAll(a.String(), ":", "_"))
}

func startBus(ctx context.Context, e *Env) (*bluezBus, error) {
	sock := filepath.Join(e.dir, "system_bus_socket")
	cfg := filepath.Join(e.dir, "bus.conf")
	deny := ""
	if e.denyCalls {
		deny = denyBluez
	}
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(busConfig, sock, deny)), 0o644); err != nil {
		return nil, fmt.Errorf("bluezsim: %w", err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+cfg, "--nofork", "--nopidfile", "--nosyslog", "--print-address=1")
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("bluezsim: %w", err)
	}
	cmd.Stdout = pw
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = daemonProcAttr()
	b := &bluezBus{cmd: cmd, e: e, adapter: dbus.ObjectPath("/org/bluez/" + e.HCIDevice()),
		devices: make(map[bt.Address]*simDevice), agents: make(map[string]simAgent),
		pairing: make(map[bt.Address]simPairing), peerIO: make(map[bt.Address]PeerIO),
		drained: make(chan struct{}), powered: true}
	b.waited, err = startLocked(cmd)
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("bluezsim: starting dbus-daemon: %w", err)
	}
	line := make(chan string, 1)
	go func() {
		defer close(b.drained)
		defer pr.Close()
		r := bufio.NewReader(pr)
		s, _ := r.ReadString('\n')
		line <- s
		// Drain until the daemon exits so that it never blocks on a full pipe.
		io.Copy(io.Discard, r)
	}()
	var addr string
	select {
	case addr = <-line:
	case <-ctx.Done():
	}
	addr = strings.TrimSpace(addr)
	if addr == "" {
		b.kill()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bluezsim: dbus-daemon did not start: %w", err)
		}
		return nil, fmt.Errorf("bluezsim: dbus-daemon did not start: %s", strings.TrimSpace(stderr.String()))
	}
	b.address = addr
	if err := b.connect(ctx, sock); err != nil {
		b.kill()
		return nil, fmt.Errorf("bluezsim: connecting to the private bus: %w", err)
	}
	reply, err := b.conn.RequestName(bluezName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		b.close()
		return nil, fmt.Errorf("bluezsim: owning %s: %v (reply %v)", bluezName, err, reply)
	}
	return b, nil
}

// connect opens the service's bus connection over a corkable socket (see corkConn). A
// D-Bus-only environment, which no BlueZ tool reads, needs no cork but file-descriptor passing
// (AcquireNotify): it uses godbus's own unix transport.
func (b *bluezBus) connect(ctx context.Context, sock string) error {
	if b.e.dbusOnly {
		conn, err := dbus.Connect(b.address, dbus.WithHandler(b)) // no WithContext: it would close the connection when ctx ends
		if err != nil {
			return err
		}
		b.conn = conn
		return nil
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return err
	}
	b.cork = &corkConn{Conn: nc}
	conn, err := dbus.NewConn(b.cork, dbus.WithHandler(b))
	if err != nil {
		nc.Close()
		return err
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return err
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return err
	}
	b.conn = conn
	return nil
}

// corkConn lets a method send its reply and a signal in one write. bluetoothctl in
// non-interactive mode quits after the reply to RemoveDevice but still dispatches every
// message that arrived with it; bluetoothd's reply and InterfacesRemoved travel together, so
// `bluetoothctl remove` prints both "Device has been removed" and the [DEL] line
// (docs/bluez-tools.md §bluetoothctl remove).
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) setCorked(on bool) {
	if c == nil { // an environment without the cork (Options.DBusOnly)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = on
	if !on && len(c.buf) > 0 {
		c.Conn.Write(c.buf)
		c.buf = nil
	}
}

// startLocked starts cmd from a goroutine locked to its OS thread that then waits for it: the
// daemon's parent-death signal (Linux) is tied to the thread that forked it, which therefore
// lives exactly as long as the daemon, so a test binary that dies without Close takes its
// dbus-daemon with it.
func startLocked(cmd *exec.Cmd) (<-chan error, error) {
	started := make(chan error, 1)
	waited := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waited <- cmd.Wait()
	}()
	return waited, <-started
}

// kill ends the daemon (SIGTERM, SIGKILL after 5 s) and waits for it and its output drain.
func (b *bluezBus) kill() error {
	if b.waited == nil {
		return nil
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.waited:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.waited
	}
	b.waited = nil
	<-b.drained
	return nil
}

func (b *bluezBus) close() error {
	if b.conn != nil {
		b.conn.Close()
	}
	return b.kill()
}

// bonds returns the paired devices, sorted by address.
func (b *bluezBus) bonds() []bt.Address {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []bt.Address
	for a, d := range b.devices {
		if d.paired {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y bt.Address) int { return strings.Compare(x.String(), y.String()) })
	return out
}

func (b *bluezBus) addBond(a bt.Address, name string, random bool) {
	b.mu.Lock()
	d := b.devices[a]
	if d != nil {
		was := d.paired
		d.paired = true
		b.mu.Unlock()
		if !was {
			b.conn.Emit(devicePath(b.adapter, a), ifaceProperties+".PropertiesChanged", ifaceDevice,
				map[string]dbus.Variant{"Paired": dbus.MakeVariant(true), "Bonded": dbus.MakeVariant(true)}, []string{})
		}
		return
	}
	d = &simDevice{addr: a, name: name, random: random, paired: true, connected: b.e.connected(a)}
	b.devices[a] = d
	props := b.deviceProps(d)
	b.mu.Unlock()
	b.conn.Emit("/", ifaceObjManager+".InterfacesAdded", devicePath(b.adapter, a),
		map[string]map[string]dbus.Variant{ifaceDevice: props})
}

// setOwned makes the service own the org.bluez name or release it (bluetoothd stopped).
func (b *bluezBus) setOwned(on bool) error {
	if !on {
		b.mu.Lock()
		clear(b.agents) // a restarted bluetoothd knows no agents
		b.defAgent = ""
		b.mu.Unlock()
		if _, err := b.conn.ReleaseName(bluezName); err != nil {
			return fmt.Errorf("bluezsim: releasing %s: %w", bluezName, err)
		}
		return nil
	}
	reply, err := b.conn.RequestName(bluezName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return fmt.Errorf("bluezsim: owning %s: %w", bluezName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner && reply != dbus.RequestNameReplyAlreadyOwner {
		return fmt.Errorf("bluezsim: owning %s: reply %v", bluezName, reply)
	}
	return nil
}

// setPowered changes the adapter's Powered property.
func (b *bluezBus) setPowered(on bool) {
	b.mu.Lock()
	changed := b.powered != on
	b.powered = on
	b.mu.Unlock()
	if changed {
		b.conn.Emit(b.adapter, ifaceProperties+".PropertiesChanged", ifaceAdapter,
			map[string]dbus.Variant{"Powered": dbus.MakeVariant(on)}, []string{})
	}
}

// setConnected updates a known device's Connected property.
func (b *bluezBus) setConnected(a bt.Address, on bool) {
	b.mu.Lock()
	d := b.devices[a]
	changed := d != nil && d.connected != on
	if changed {
		d.connected = on
	}
	b.mu.Unlock()
	if changed {
		b.conn.Emit(devicePath(b.adapter, a), ifaceProperties+".PropertiesChanged", ifaceDevice,
			map[string]dbus.Variant{"Connected": dbus.MakeVariant(on)}, []string{})
	}
}

// removeAll forgets every device (tests).
func (b *bluezBus) removeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.devices)
}

func (b *bluezBus) adapterProps() map[string]dbus.Variant {
	a := b.e.ctrlAddr.String()
	return map[string]dbus.Variant{
		"Address":             dbus.MakeVariant(a),
		"AddressType":         dbus.MakeVariant("public"),
		"Name":                dbus.MakeVariant("gogatt-sim"),
		"Alias":               dbus.MakeVariant("gogatt-sim"),
		"Class":               dbus.MakeVariant(uint32(0)),
		"Powered":             dbus.MakeVariant(b.powered),
		"Discoverable":        dbus.MakeVariant(false),
		"DiscoverableTimeout": dbus.MakeVariant(uint32(180)),
		"Pairable":            dbus.MakeVariant(true),
		"PairableTimeout":     dbus.MakeVariant(uint32(0)),
		"Discovering":         dbus.MakeVariant(false),
		"UUIDs":               dbus.MakeVariant([]string{}),
		"Modalias":            dbus.MakeVariant("usb:v1D6Bp0246d0542"),
		"Roles":               dbus.MakeVariant([]string{"central", "peripheral"}),
	}
}

// deviceProps are a bonded LE device's properties; caller holds b.mu.
func (b *bluezBus) deviceProps(d *simDevice) map[string]dbus.Variant {
	typ := "public"
	if d.random {
		typ = "random"
	}
	alias := strings.ReplaceAll(d.addr.String(), ":", "-") // bluetoothd's alias without a name
	props := map[string]dbus.Variant{
		"Address":          dbus.MakeVariant(d.addr.String()),
		"AddressType":      dbus.MakeVariant(typ),
		"Alias":            dbus.MakeVariant(alias),
		"Paired":           dbus.MakeVariant(d.paired),
		"Bonded":           dbus.MakeVariant(d.paired),
		"Trusted":          dbus.MakeVariant(false),
		"Blocked":          dbus.MakeVariant(false),
		"LegacyPairing":    dbus.MakeVariant(false),
		"Connected":        dbus.MakeVariant(d.connected),
		"UUIDs":            dbus.MakeVariant([]string{}),
		"Adapter":          dbus.MakeVariant(b.adapter),
		"ServicesResolved": dbus.MakeVariant(false),
	}
	if d.name != "" {
		props["Name"] = dbus.MakeVariant(d.name)
		props["Alias"] = dbus.MakeVariant(d.name)
	}
	b.advProps(d, props)
	return props
}

// managedObjects is ObjectManager.GetManagedObjects on "/".
func (b *bluezBus) managedObjects() map[dbus.ObjectPath]map[string]map[string]dbus.Variant {
	b.mu.Lock()
	defer b.mu.Unlock()
	objs := map[dbus.ObjectPath]map[string]map[string]dbus.Variant{
		"/org/bluez": {ifaceAgentMgr: {}},
		b.adapter:    {ifaceAdapter: b.adapterProps()},
	}
	if b.e.advMonitor {
		objs[b.adapter][ifaceAdvMonitorMgr] = monitorProps()
	}
	for _, d := range b.devices {
		objs[devicePath(b.adapter, d.addr)] = map[string]map[string]dbus.Variant{ifaceDevice: b.deviceProps(d)}
	}
	b.gattObjects(objs)
	return objs
}

// objectEntry has the wire layout of one a{oa{sa{sv}}} dict entry.
type objectEntry struct {
	Path   dbus.ObjectPath
	Ifaces map[string]map[string]dbus.Variant
}

// orderedObjects is GetManagedObjects' dictionary in bluetoothd's registration order: the
// agent manager, the adapter, then its devices. bluetoothctl attaches a device to its
// controller only if it saw the adapter first, and godbus would encode a Go map in random
// order, so the dictionary is sent as an ordered array of entries (same bytes on the wire).
func (b *bluezBus) orderedObjects() []objectEntry {
	objs := b.managedObjects()
	paths := make([]dbus.ObjectPath, 0, len(objs))
	for p := range objs {
		paths = append(paths, p)
	}
	// "/org/bluez" < "/org/bluez/hciN" < "/org/bluez/hciN/dev_…" sorts into that order.
	slices.Sort(paths)
	out := make([]objectEntry, 0, len(paths))
	for _, p := range paths {
		out = append(out, objectEntry{p, objs[p]})
	}
	return out
}

// props returns the properties of one interface of one object (nil if there is none).
func (b *bluezBus) props(path dbus.ObjectPath, iface string) map[string]dbus.Variant {
	return b.managedObjects()[path][iface]
}

// LookupObject implements dbus.Handler: every object of the service is resolved from the
// current state, so that added and removed devices need no export bookkeeping.
func (b *bluezBus) LookupObject(path dbus.ObjectPath) (dbus.ServerObject, bool) {
	switch {
	case path == "/":
		return object{ifaceObjManager: {"GetManagedObjects": func(c *call) ([]any, error) {
			c.reply("a{oa{sa{sv}}}", b.orderedObjects())
			return nil, nil
		}}, ifaceIntrospect: introspectable("/")}, true
	case path == "/org/bluez":
		return object{ifaceAgentMgr: {
			"RegisterAgent":       b.registerAgent,
			"UnregisterAgent":     b.unregisterAgent,
			"RequestDefaultAgent": b.requestDefaultAgent,
		}, ifaceIntrospect: introspectable(path)}, true
	case path == b.adapter:
		o := object{ifaceAdapter: {
			"RemoveDevice":        b.removeDevice,
			"StartDiscovery":      b.startDiscovery,
			"StopDiscovery":       b.stopDiscovery,
			"SetDiscoveryFilter":  func(*call) ([]any, error) { return nil, nil },
			"GetDiscoveryFilters": func(*call) ([]any, error) { return []any{[]string{"UUIDs", "RSSI", "Transport"}}, nil },
		}, ifaceProperties: b.adapterProperties(path), ifaceIntrospect: introspectable(path)}
		if b.e.advMonitor {
			o[ifaceAdvMonitorMgr] = iface{"RegisterMonitor": b.registerMonitor, "UnregisterMonitor": b.unregisterMonitor}
		}
		return o, true
	}
	if b.props(path, ifaceDevice) != nil {
		var addr bt.Address
		b.mu.Lock()
		for a := range b.devices {
			if devicePath(b.adapter, a) == path {
				addr = a
			}
		}
		b.mu.Unlock()
		return object{ifaceDevice: {"Connect": b.deviceConnect(addr), "Disconnect": b.deviceDisconnect(addr),
			"Pair": b.devicePair(addr), "CancelPairing": b.cancelPairing(addr),
		}, ifaceProperties: b.properties(path), ifaceIntrospect: introspectable(path)}, true
	}
	if o, ok := b.gattObject(path); ok {
		return o, true
	}
	return unknownObject(path), true
}

// unknownObject answers every call as libdbus answers one to a path nobody registered
// (UnknownObject, "No such object path"), where godbus would say NoSuchObject.
type unknownObject dbus.ObjectPath

func (u unknownObject) LookupInterface(string) (dbus.Interface, bool) { return u, true }

func (u unknownObject) LookupMethod(string) (dbus.Method, bool) {
	return method{func(*call) ([]any, error) {
		return nil, dbus.NewError("org.freedesktop.DBus.Error.UnknownObject", []any{"No such object path '" + string(u) + "'"})
	}}, true
}

func (b *bluezBus) registerAgent(c *call) ([]any, error) {
	var path dbus.ObjectPath
	var capability string
	if err := dbus.Store(c.msg.Body, &path, &capability); err != nil {
		return nil, dbus.NewError(errInvalidArgs, []any{"Invalid arguments in method call"})
	}
	if capability == "" {
		capability = capKeyboardDisp // src/agent.c parse_io_capability
	}
	if !slices.Contains([]string{capDisplayOnly, capDisplayYesNo, capKeyboardOnly, noInputNoOutput, capKeyboardDisp}, capability) {
		return nil, dbus.NewError(errInvalidArgs, []any{"Invalid arguments in method call"})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	owner := sender(c)
	if _, dup := b.agents[owner]; dup {
		return nil, dbus.NewError(errAlreadyExists, []any{"Already Exists"})
	}
	b.agents[owner] = simAgent{owner: owner, path: path, capability: capability}
	return nil, nil
}

func (b *bluezBus) unregisterAgent(c *call) ([]any, error) {
	return b.ownAgent(c, func(owner string) {
		delete(b.agents, owner)
		if b.defAgent == owner {
			b.defAgent = ""
		}
	})
}

func (b *bluezBus) requestDefaultAgent(c *call) ([]any, error) {
	return b.ownAgent(c, func(owner string) { b.defAgent = owner })
}

// ownAgent runs fn, under b.mu, for the caller's agent at the path the call names, as
// AgentManager1 calls on an agent need (src/agent.c: DoesNotExist for another path or caller).
func (b *bluezBus) ownAgent(c *call, fn func(owner string)) ([]any, error) {
	var path dbus.ObjectPath
	if err := dbus.Store(c.msg.Body, &path); err != nil {
		return nil, dbus.NewError(errInvalidArgs, []any{"Invalid arguments in method call"})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	owner := sender(c)
	if a, ok := b.agents[owner]; !ok || a.path != path {
		return nil, dbus.NewError(errDoesNotExist, []any{"Does Not Exist"})
	}
	fn(owner)
	return nil, nil
}

// removeDevice is Adapter1.RemoveDevice. Like bluetoothd, it sends the method reply first and
// then InterfacesRemoved (remove_device in src/adapter.c; gdbus/object.c emits the signal from an
// idle callback, BlueZ 5.66), so the reply is sent here.
func (b *bluezBus) removeDevice(c *call) ([]any, error) {
	var path dbus.ObjectPath
	if err := dbus.Store(c.msg.Body, &path); err != nil {
		return nil, dbus.NewError(errInvalidArgs, []any{"Invalid arguments in method call"})
	}
	b.mu.Lock()
	if !b.powered {
		b.mu.Unlock()
		return nil, dbus.NewError(errNotReady, []any{"Resource Not Ready"})
	}
	var found *simDevice
	for a, d := range b.devices {
		if devicePath(b.adapter, a) == path {
			found = d
			break
		}
	}
	b.mu.Unlock()
	if found == nil {
		return nil, dbus.NewError(errDoesNotExist, []any{"Does Not Exist"})
	}
	// Like bluetoothd: a connected device is disconnected first, the reply follows.
	b.e.disconnect(found.addr)
	b.mu.Lock()
	gc := b.gatt.conns[found.addr]
	b.mu.Unlock()
	if gc != nil {
		gc.link.Close()
		<-gc.done
	}
	b.mu.Lock()
	delete(b.devices, found.addr)
	b.mu.Unlock()
	b.cork.setCorked(true)
	c.reply("")
	b.conn.Emit("/", ifaceObjManager+".InterfacesRemoved", path, []string{ifaceDevice})
	b.cork.setCorked(false)
	return nil, nil
}

func (b *bluezBus) properties(path dbus.ObjectPath) iface {
	return iface{
		"Get": func(c *call) ([]any, error) {
			var in, name string
			if err := dbus.Store(c.msg.Body, &in, &name); err != nil {
				return nil, dbus.NewError(errInvalidArgs, []any{"Invalid arguments in method call"})
			}
			v, ok := b.props(path, in)[name]
			if !ok {
				return nil, dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{"No such property '" + name + "'"})
			}
			return []any{v}, nil
		},
		"GetAll": func(c *call) ([]any, error) {
			var in string
			if err := dbus.Store(c.msg.Body, &in); err != nil {
				return nil, dbus.NewError(errInvalidArgs, []any{"Invalid arguments in method call"})
			}
			p := b.props(path, in)
			if p == nil {
				p = map[string]dbus.Variant{}
			}
			return []any{p}, nil
		},
		"Set": func(*call) ([]any, error) {
			return nil, dbus.NewError(errNotSupported, []any{"Operation is not supported"})
		},
	}
}

// adapterProperties is properties with Set of Adapter1.Powered: refused with
// org.bluez.Error.Blocked "Blocked through rfkill" while rfkill blocks the adapter, as
// bluetoothd does (set_mode_complete in src/adapter.c, BlueZ 5.66).
func (b *bluezBus) adapterProperties(path dbus.ObjectPath) iface {
	p := b.properties(path)
	p["Set"] = func(c *call) ([]any, error) {
		var in, name string
		var v dbus.Variant
		if err := dbus.Store(c.msg.Body, &in, &name, &v); err != nil {
			return nil, dbus.NewError(errInvalidArgs, []any{"Invalid arguments in method call"})
		}
		on, ok := v.Value().(bool)
		if in != ifaceAdapter || name != "Powered" || !ok {
			return nil, dbus.NewError(errNotSupported, []any{"Operation is not supported"})
		}
		b.mu.Lock()
		blocked := b.blocked
		b.mu.Unlock()
		if blocked && on {
			return nil, dbus.NewError("org.bluez.Error.Blocked", []any{"Blocked through rfkill"})
		}
		if err := b.e.SetPowered(on); err != nil {
			return nil, dbus.NewError("org.bluez.Error.Failed", []any{err.Error()})
		}
		return nil, nil
	}
	return p
}

func introspectable(path dbus.ObjectPath) iface {
	return iface{"Introspect": func(*call) ([]any, error) {
		return []any{`<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd"><node name="` + string(path) + `"></node>`}, nil
	}}
}

// A small dbus.Handler: objects are maps of interfaces, interfaces maps of methods. Methods
// receive the whole call message (godbus's ArgumentDecoder hook) and may send their reply
// themselves, to order a signal after it.

type call struct {
	conn *dbus.Conn
	msg  *dbus.Message
}

// reply sends the method return now, with the given body and signature ("" for none), and
// stops godbus from sending another.
func (c *call) reply(sig string, body ...any) {
	r := &dbus.Message{Type: dbus.TypeMethodReply, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(c.msg.Serial()),
	}, Body: body}
	if sig != "" {
		r.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.ParseSignatureMust(sig))
	}
	if s, ok := c.msg.Headers[dbus.FieldSender]; ok {
		r.Headers[dbus.FieldDestination] = s
	}
	c.conn.Send(r, nil)
	c.msg.Flags |= dbus.FlagNoReplyExpected
}

type methodFunc func(c *call) ([]any, error)

type iface map[string]methodFunc

type object map[string]iface

func (o object) LookupInterface(name string) (dbus.Interface, bool) {
	i, ok := o[name]
	return i, ok
}

func (i iface) LookupMethod(name string) (dbus.Method, bool) {
	f, ok := i[name]
	if !ok {
		return nil, false
	}
	return method{f}, true
}

type method struct{ f methodFunc }

func (m method) DecodeArguments(conn *dbus.Conn, sender string, msg *dbus.Message, args []any) ([]any, error) {
	return []any{&call{conn: conn, msg: msg}}, nil
}

func (m method) Call(args ...any) ([]any, error) {
	c, ok := args[0].(*call)
	if !ok {
		return nil, errors.New("bluezsim: bad call")
	}
	return m.f(c)
}

func (m method) NumArguments() int            { return 1 }
func (m method) NumReturns() int              { return 0 }
func (m method) ArgumentValue(int) any        { return nil }
func (m method) ReturnValue(position int) any { return nil }
