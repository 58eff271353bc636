package bluezsim

import (
	"bytes"
	"context"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// The advertisement monitor of the simulated bluetoothd: org.bluez.AdvertisementMonitorManager1
// on the adapter (BlueZ 5.66 doc/advertisement-monitor-api.txt), which bluetoothd exports only
// when it runs with --experimental (Options.AdvertisementMonitor). An application registers the
// root of an ObjectManager tree of AdvertisementMonitor1 objects; bluetoothd reads them, calls
// Release on those it cannot use (a Type other than "or_patterns", no pattern, a pattern out of
// the advertising payload's 31 octets or of an AD type it does not know) and Activate on the
// others, then scans passively while any is registered: each peripheral in range whose
// advertising data (never the scan response: nothing asks for one) holds an AD structure
// matching a pattern — AD type equal, content at the pattern's offset equal — becomes a
// Device1 with what that data says, and DeviceFound is called once per device and monitor (as
// the kernel reports a monitored device once); later advertisements change its RSSI.
// UnregisterMonitor calls Release on the application's monitors.

const (
	ifaceAdvMonitorMgr = "org.bluez.AdvertisementMonitorManager1"
	ifaceAdvMonitor    = "org.bluez.AdvertisementMonitor1"
)

// adPattern is one (start position, AD type, content) of a monitor's Patterns.
type adPattern struct {
	Start  byte
	ADType byte
	Value  []byte
}

// monitor is one activated AdvertisementMonitor1 of an application.
type monitor struct {
	owner    string
	path     dbus.ObjectPath
	patterns []adPattern
	found    map[bt.Address]bool
}

// monitorApp is one registered application (owner, root).
type monitorApp struct {
	owner    string
	root     dbus.ObjectPath
	monitors []*monitor
}

// MonitorApp is an application registered with the simulated AdvertisementMonitorManager1.
type MonitorApp struct {
	Owner string          // its unique bus name
	Root  dbus.ObjectPath // the root of its monitors
}

// validPattern applies the checks of bt_ad_pattern_new (src/shared/ad.c, BlueZ 5.66): content
// of 1–31 octets within the 31 octets of legacy advertising data, and a known AD type.
func validPattern(p adPattern) bool {
	const maxData = 31
	if len(p.Value) == 0 || len(p.Value) > maxData || int(p.Start)+len(p.Value) > maxData {
		return false
	}
	return p.ADType >= 0x01 && p.ADType <= 0x3d || p.ADType == 0xff
}

// matches reports whether one AD structure of data (length, type, content; CSS Part A §1)
// matches p.
func (p adPattern) matches(data []byte) bool {
	for len(data) >= 2 {
		n := int(data[0])
		if n == 0 || n+1 > len(data) {
			return false
		}
		typ, content := data[1], data[2:n+1]
		if typ == p.ADType && len(p.Value) > 0 && int(p.Start)+len(p.Value) <= len(content) &&
			bytes.Equal(content[p.Start:int(p.Start)+len(p.Value)], p.Value) {
			return true
		}
		data = data[n+1:]
	}
	return false
}

// registerMonitor is AdvertisementMonitorManager1.RegisterMonitor: it reads the application's
// monitors before it replies, as bluetoothd does.
func (b *bluezBus) registerMonitor(c *call) ([]any, error) {
	var root dbus.ObjectPath
	if err := dbus.Store(c.msg.Body, &root); err != nil || !root.IsValid() {
		return nil, bluezErr(errInvalidArgs, "Invalid arguments in method call")
	}
	owner := sender(c)
	b.mu.Lock()
	for _, a := range b.gatt.monitorApps {
		if a.owner == owner && a.root == root {
			b.mu.Unlock()
			return nil, bluezErr(errAlreadyExists, "Already Exists")
		}
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var objs map[dbus.ObjectPath]map[string]map[string]dbus.Variant
	if err := b.conn.Object(owner, root).CallWithContext(ctx, ifaceObjManager+".GetManagedObjects", 0).Store(&objs); err != nil {
		return nil, bluezErr(errFailed, "Failed to create Adv Monitor app")
	}
	app := &monitorApp{owner: owner, root: root}
	for path, ifs := range objs {
		props, ok := ifs[ifaceAdvMonitor]
		if !ok {
			continue
		}
		m := &monitor{owner: owner, path: path, found: map[bt.Address]bool{}}
		typ, _ := props["Type"].Value().(string)
		valid := typ == "or_patterns" && dbus.Store([]any{props["Patterns"].Value()}, &m.patterns) == nil && len(m.patterns) > 0
		for _, p := range m.patterns {
			valid = valid && validPattern(p)
		}
		obj := b.conn.Object(owner, path)
		if !valid {
			obj.Go(ifaceAdvMonitor+".Release", dbus.FlagNoReplyExpected, nil)
			continue
		}
		app.monitors = append(app.monitors, m)
		obj.Go(ifaceAdvMonitor+".Activate", dbus.FlagNoReplyExpected, nil)
	}
	b.mu.Lock()
	b.gatt.init()
	b.gatt.monitorApps = append(b.gatt.monitorApps, app)
	b.startLoopLocked()
	hook := b.onRegisterMonitor
	b.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil, nil
}

// OnRegisterMonitor makes fn run in each RegisterMonitor once the application is registered,
// before the call replies (nil: none), so that a test can end the caller's context while the
// call is in progress.
func (e *Env) OnRegisterMonitor(fn func()) {
	if e.bus == nil {
		return
	}
	e.bus.mu.Lock()
	e.bus.onRegisterMonitor = fn
	e.bus.mu.Unlock()
}

// unregisterMonitor is AdvertisementMonitorManager1.UnregisterMonitor.
func (b *bluezBus) unregisterMonitor(c *call) ([]any, error) {
	var root dbus.ObjectPath
	if err := dbus.Store(c.msg.Body, &root); err != nil {
		return nil, bluezErr(errInvalidArgs, "Invalid arguments in method call")
	}
	owner := sender(c)
	b.mu.Lock()
	for i, a := range b.gatt.monitorApps {
		if a.owner == owner && a.root == root {
			b.gatt.monitorApps = append(b.gatt.monitorApps[:i], b.gatt.monitorApps[i+1:]...)
			done := b.stopLoopLocked()
			b.mu.Unlock()
			if done != nil {
				<-done
			}
			// bluetoothd releases the application's monitors as it destroys it (app_destroy,
			// src/adv_monitor.c; seen in the tier's bluetoothd log).
			for _, m := range a.monitors {
				b.conn.Object(m.owner, m.path).Go(ifaceAdvMonitor+".Release", dbus.FlagNoReplyExpected, nil)
			}
			return nil, nil
		}
	}
	b.mu.Unlock()
	return nil, bluezErr(errDoesNotExist, "Does Not Exist")
}

// monitored reports p's advertising data to the monitors it matches: the device is created or
// updated from that data alone (when no discovery runs, which would have done it with the scan
// response), then DeviceFound is called on each monitor that has not found it yet.
func (b *bluezBus) monitored(p *sim.Peripheral, discovering bool) {
	data := p.AdvertisingData()
	b.mu.Lock()
	var calls []*monitor
	for _, a := range b.gatt.monitorApps {
		for _, m := range a.monitors {
			for _, pat := range m.patterns {
				if pat.matches(data) {
					calls = append(calls, m)
					break
				}
			}
		}
	}
	b.mu.Unlock()
	if len(calls) == 0 {
		return
	}
	if !discovering {
		b.advertised(p, false)
	}
	a := p.Address()
	path := devicePath(b.adapter, a)
	b.mu.Lock()
	if b.devices[a] == nil || b.gatt.conns[a] != nil {
		b.mu.Unlock()
		return
	}
	var found []*monitor
	for _, m := range calls {
		if !m.found[a] {
			m.found[a] = true
			found = append(found, m)
		}
	}
	b.mu.Unlock()
	for _, m := range found {
		b.conn.Object(m.owner, m.path).Go(ifaceAdvMonitor+".DeviceFound", dbus.FlagNoReplyExpected, nil, path)
	}
}

// monitorProps are AdvertisementMonitorManager1's properties.
func monitorProps() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"SupportedMonitorTypes": dbus.MakeVariant([]string{"or_patterns"}),
		"SupportedFeatures":     dbus.MakeVariant([]string{}),
	}
}

// MonitorApps returns the applications registered with AdvertisementMonitorManager1.
func (e *Env) MonitorApps() []MonitorApp {
	if e.bus == nil {
		return nil
	}
	e.bus.mu.Lock()
	defer e.bus.mu.Unlock()
	var out []MonitorApp
	for _, a := range e.bus.gatt.monitorApps {
		out = append(out, MonitorApp{Owner: a.owner, Root: a.root})
	}
	return out
}
