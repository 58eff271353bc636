package bluez

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
)

// A passive scan over D-Bus: BlueZ's discovery (Adapter1.StartDiscovery) always scans actively,
// and the one passive scan bluetoothd offers is the advertisement monitor
// (doc/advertisement-monitor-api.txt, BlueZ 5.66). The application exports an ObjectManager
// root with AdvertisementMonitor1 objects, each of Type "or_patterns" with at least one pattern
// (start position, AD type, content) that the advertising data must contain, and registers the
// root with AdvertisementMonitorManager1.RegisterMonitor; bluetoothd then scans passively while
// a monitor is registered, creates a Device1 for each advertiser that matches, and calls the
// monitor's DeviceFound. In 5.66 the manager is experimental: bluetoothd exports it only when it
// runs with --experimental (-E), or Experimental = true in main.conf.
//
// A monitor cannot match every advertisement: a pattern needs content. This backend's monitor
// matches the Flags AD structure (type 0x01, Core Specification Supplement Part A §1.3) with
// the usual values of a discoverable device (flagsPatterns) — which every connectable,
// discoverable LE peripheral sends. An advertiser without Flags (some non-connectable beacons),
// or in no discoverable mode, or with other flag bits, is not reported by a passive scan.

const (
	ifaceMonitorMgr = "org.bluez.AdvertisementMonitorManager1"
	ifaceMonitor    = "org.bluez.AdvertisementMonitor1"

	// Pseudo signals the monitor queues for the scan.
	monitorFound    = ifaceMonitor + ".DeviceFound"
	monitorReleased = ifaceMonitor + ".Release"
)

// adPattern is one entry of AdvertisementMonitor1.Patterns, a(yyay).
type adPattern struct {
	Start  byte
	ADType byte
	Value  []byte
}

// flagsPatterns match the Flags AD structure (type 0x01) with the values of the discoverable
// modes (Core v5.3 Vol 3 Part C §9.2.3, §9.2.4; Supplement Part A §1.3): general discoverable
// on an LE-only device (0x06) and on a device that may also do BR/EDR (0x02), the same with both
// "simultaneous LE and BR/EDR" bits as phones send it (0x1A), and limited discoverable on an
// LE-only device (0x05). Only four: bluetoothd 5.66 crashed (heap corruption) when a monitor
// with 8 or 16 patterns was registered, and accepted 1, 2 and 4 (docs/bluez-dbus.md).
func flagsPatterns() []adPattern {
	var ps []adPattern
	for _, v := range []byte{0x06, 0x02, 0x1a, 0x05} {
		ps = append(ps, adPattern{Start: 0, ADType: 0x01, Value: []byte{v}})
	}
	return ps
}

// advMonitor is the exported AdvertisementMonitor1: its calls, which bluetoothd sends without
// waiting for a reply, go to the scan's queue. Calls from other bus names than bluetoothd's
// are rejected, as the agent's are: another client must not end or feed the scan.
type advMonitor struct {
	q          *sigQueue
	bluetoothd *bluetoothdName
}

func (m advMonitor) Release(sender dbus.Sender) *dbus.Error {
	if !m.bluetoothd.is(sender) {
		return agentErr(errRejected, "gogatt: monitor calls are accepted from bluetoothd only")
	}
	m.q.push(&dbus.Signal{Name: monitorReleased})
	return nil
}
func (m advMonitor) Activate() *dbus.Error { return nil }
func (m advMonitor) DeviceFound(sender dbus.Sender, device dbus.ObjectPath) *dbus.Error {
	if !m.bluetoothd.is(sender) {
		return agentErr(errRejected, "gogatt: monitor calls are accepted from bluetoothd only")
	}
	m.q.push(&dbus.Signal{Name: monitorFound, Path: device})
	return nil
}
func (m advMonitor) DeviceLost(dbus.ObjectPath) *dbus.Error { return nil }

type monitorObjects map[dbus.ObjectPath]map[string]map[string]dbus.Variant

// monitorRoot is the exported ObjectManager of the monitor's root, and the monitor's
// org.freedesktop.DBus.Properties.
type monitorRoot struct {
	objs monitorObjects
	path dbus.ObjectPath // the monitor
}

func (r monitorRoot) GetManagedObjects() (monitorObjects, *dbus.Error) { return r.objs, nil }

func (r monitorRoot) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	v, ok := r.objs[r.path][iface][name]
	if !ok {
		return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{"No such property " + name})
	}
	return v, nil
}

func (r monitorRoot) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	if p, ok := r.objs[r.path][iface]; ok {
		return p, nil
	}
	return map[string]dbus.Variant{}, nil
}

func (r monitorRoot) Set(string, string, dbus.Variant) *dbus.Error {
	return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{"read-only"})
}

// monitor registers an advertisement monitor whose reports go to q (passive scan); release
// unregisters it and withdraws its objects from the bus. Without AdvertisementMonitorManager1 it
// fails with an error matching gogatt.ErrUnsupported.
func (b *Backend) monitor(ctx context.Context, conn *dbus.Conn, adapter dbus.ObjectPath, q *sigQueue) (release func(), err error) {
	ad := conn.Object(bluezService, adapter)
	var types []string
	if err := ad.CallWithContext(ctx, ifaceProps+".Get", 0, ifaceMonitorMgr, "SupportedMonitorTypes").Store(&types); err != nil {
		var de dbus.Error
		if errors.As(err, &de) && ctx.Err() == nil && de.Name != "org.freedesktop.DBus.Error.AccessDenied" {
			return nil, fmt.Errorf("passive scan: bluetoothd has no AdvertisementMonitorManager1 on %s: run bluetoothd with --experimental (BlueZ 5.66): %w (%w)",
				b.cfg.Adapter, gogatt.ErrUnsupported, err)
		}
		return nil, mapError("passive scan", 0, err)
	}
	if !slices.Contains(types, "or_patterns") {
		return nil, fmt.Errorf("passive scan: bluetoothd's AdvertisementMonitorManager1 offers no or_patterns monitor (types %q): %w", types, gogatt.ErrUnsupported)
	}
	b.mu.Lock()
	id := b.nextID
	b.nextID++
	name := b.bluetoothd
	b.mu.Unlock()
	if name == nil {
		return nil, gogatt.ErrNotStarted
	}
	root := dbus.ObjectPath(fmt.Sprintf("/org/gogatt/bluez/scan%d", id))
	mon := root + "/monitor0"
	r := monitorRoot{path: mon, objs: monitorObjects{mon: {ifaceMonitor: {
		"Type":     dbus.MakeVariant("or_patterns"),
		"Patterns": dbus.MakeVariant(flagsPatterns()),
	}}}}
	// The root goes first: godbus (v5.2.4, LookupObject) looks a call to a path it does not
	// export up in the objects above it without their lock, which races with their unexport —
	// and bluetoothd calls Release on the monitor as it unregisters it.
	unexport := func() {
		conn.Export(nil, root, ifaceObjManager)
		conn.Export(nil, mon, ifaceMonitor)
		conn.Export(nil, mon, ifaceProps)
	}
	if err := errors.Join(conn.Export(advMonitor{q, name}, mon, ifaceMonitor), conn.Export(r, mon, ifaceProps),
		conn.Export(r, root, ifaceObjManager)); err != nil {
		unexport()
		return nil, fmt.Errorf("passive scan: exporting the advertisement monitor: %w", err)
	}
	b.log.Debug("AdvertisementMonitorManager1.RegisterMonitor", "root", root)
	mgr := ad
	unregister := func() {
		sctx, cancel := context.WithTimeout(context.Background(), b.cfg.CallTimeout)
		defer cancel()
		if err := mgr.CallWithContext(sctx, ifaceMonitorMgr+".UnregisterMonitor", 0, root).Err; err != nil {
			b.log.Debug("UnregisterMonitor", "root", root, "err", err)
		}
		unexport()
	}
	if err := mgr.CallWithContext(ctx, ifaceMonitorMgr+".RegisterMonitor", 0, root).Err; err != nil {
		if ctx.Err() != nil {
			// The call was abandoned, not the registration: bluetoothd handles the calls of a
			// connection in order, so the UnregisterMonitor after it finds it.
			unregister()
		} else {
			unexport()
		}
		return nil, mapError("passive scan: register monitor", 0, err)
	}
	return unregister, nil
}

// deviceProps reads a device's properties (Device1.GetAll); empty when that fails.
func (b *Backend) deviceProps(ctx context.Context, conn *dbus.Conn, path dbus.ObjectPath) map[string]dbus.Variant {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	props := map[string]dbus.Variant{}
	if err := conn.Object(bluezService, path).CallWithContext(ctx, ifaceProps+".GetAll", 0, ifaceDevice).Store(&props); err != nil {
		b.log.Debug("Device1 properties", "device", path, "err", err)
	}
	return props
}
