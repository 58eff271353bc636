package bluez

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// sigQueue is an unbounded queue of signals from the dispatcher (which must not block) to a
// consumer goroutine.
type sigQueue struct {
	mu    sync.Mutex
	items []*dbus.Signal
	ready chan struct{} // one token while items is not empty
}

func newSigQueue() *sigQueue { return &sigQueue{ready: make(chan struct{}, 1)} }

func (q *sigQueue) push(s *dbus.Signal) {
	q.mu.Lock()
	q.items = append(q.items, s)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *sigQueue) take() []*dbus.Signal {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.items
	q.items = nil
	return s
}

// Scan runs a discovery session (Adapter1.SetDiscoveryFilter{Transport: "le"}, StartDiscovery)
// until opts.Timeout, ctx, Stop or opts.OnAdvertisement ends it, and merges what bluetoothd
// reports per device (Device1's Name, RSSI, UUIDs, ManufacturerData, ServiceData). Each
// InterfacesAdded of a device, and each PropertiesChanged carrying its RSSI (a new
// advertisement), is one call of OnAdvertisement. Devices bluetoothd already knew are reported
// only when they advertise again. Scans and connections to devices bluetoothd does not know yet
// share the backend's one discovery session.
//
// Interval and Window are checked, then ignored with a warning on Config.Logger: D-Bus has no
// call for them (bluetoothd chooses its own), as for connection parameters.
//
// With opts.Passive the scan registers an advertisement monitor instead
// (AdvertisementMonitorManager1, doc/advertisement-monitor-api.txt): discovery over D-Bus is
// always active, and the monitor is the only passive scan bluetoothd offers. It needs
// bluetoothd 5.66 with --experimental, and fails with an error matching gogatt.ErrUnsupported
// without it; it finds every advertiser that sends the Flags AD structure. Each DeviceFound,
// and each later RSSI change of a found device, is one call of OnAdvertisement; the results
// hold what the advertising data says (no scan response is asked for). The monitor is
// unregistered when the scan ends (docs/bluez-dbus.md, "Passive scan").
func (b *Backend) Scan(ctx context.Context, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	conn, adapter, stopCtx, err := b.begin()
	if err != nil {
		return nil, err
	}
	if _, err := opts.Resolve(); err != nil {
		return nil, fmt.Errorf("bluez: scan: %w", err)
	}
	if opts.Interval != 0 || opts.Window != 0 {
		b.log.Warn("scan interval and window ignored: D-Bus has no call for them (bluetoothd chooses its own)",
			"interval", opts.Interval, "window", opts.Window)
	}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return nil, gogatt.ErrNotStarted
	}
	b.scans.Add(1)
	b.mu.Unlock()
	defer b.scans.Done()

	q := newSigQueue()
	prefix := string(adapter) + "/dev_"
	unlisten := b.listen(func(s *dbus.Signal) {
		if strings.HasPrefix(string(s.Path), prefix) || s.Name == ifaceObjManager+".InterfacesAdded" {
			q.push(s)
		}
	})
	defer unlisten()

	known := map[dbus.ObjectPath]map[string]dbus.Variant{}
	callCtx, cancel := b.callCtx(ctx)
	defer cancel()
	defer context.AfterFunc(stopCtx, cancel)() // Stop ends the setup's calls too
	if objs, err := managedObjects(callCtx, conn); err == nil {
		for p, ifs := range objs {
			if d, ok := ifs[ifaceDevice]; ok && strings.HasPrefix(string(p), prefix) {
				known[p] = d
			}
		}
	}
	var release func()
	if opts.Passive {
		release, err = b.monitor(callCtx, conn, adapter, q)
	} else {
		release, err = b.discover(callCtx, conn, adapter)
	}
	if err != nil {
		return nil, b.scanErr(ctx, stopCtx, fmt.Errorf("bluez: scan: %w", err))
	}
	defer release()

	results := map[dbus.ObjectPath]*gogatt.ScanResult{}
	var order []dbus.ObjectPath
	timer := time.NewTimer(opts.ScanTimeout())
	defer timer.Stop()
	out := func() []gogatt.ScanResult {
		r := make([]gogatt.ScanResult, 0, len(order))
		for _, p := range order {
			r = append(r, *results[p])
		}
		return r
	}
	for {
		select {
		case <-timer.C:
			return out(), nil
		case <-ctx.Done():
			return out(), gattkit.CtxErr(ctx, "bluez: scan")
		case <-stopCtx.Done():
			return out(), fmt.Errorf("bluez: scan: backend stopped: %w", gogatt.ErrNotStarted)
		case <-q.ready:
		}
		for _, s := range q.take() {
			var path dbus.ObjectPath
			var seen bool
			switch {
			case s.Name == monitorReleased:
				return out(), fmt.Errorf("bluez: passive scan: bluetoothd released the advertisement monitor: %w", gogatt.ErrUnsupported)
			case s.Name == monitorFound:
				// A passive scan's report: the device's properties are what bluetoothd made of
				// its advertising data.
				// bluetoothd updates the device before it calls DeviceFound, and the signals of
				// that update may still be on their way: read the properties now.
				path = s.Path
				_, seen = deviceAddress(adapter, path)
				if seen {
					if d := b.deviceProps(ctx, conn, path); len(d) > 0 || known[path] == nil {
						known[path] = d
					}
				}
			default:
				path, seen = advertisement(s, prefix, known)
				if opts.Passive {
					// Only devices a monitor found, and their new advertisements (RSSI).
					_, found := results[path]
					seen = seen && found && s.Name == ifaceProps+".PropertiesChanged"
				}
			}
			if !seen {
				continue
			}
			r := scanResult(known[path])
			if r == nil {
				continue
			}
			if _, dup := results[path]; !dup {
				order = append(order, path)
			}
			results[path] = r
			if opts.OnAdvertisement != nil && !opts.OnAdvertisement(*r) {
				return out(), nil
			}
		}
	}
}

func (b *Backend) scanErr(ctx, stopCtx context.Context, err error) error {
	if stopCtx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("bluez: scan: backend stopped: %w", gogatt.ErrNotStarted)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", gattkit.CtxErr(ctx, "bluez: scan"), err)
	}
	return err
}

// advertisement merges s into known and reports whether it is a device's advertisement.
func advertisement(s *dbus.Signal, prefix string, known map[dbus.ObjectPath]map[string]dbus.Variant) (dbus.ObjectPath, bool) {
	switch s.Name {
	case ifaceObjManager + ".InterfacesAdded":
		var path dbus.ObjectPath
		var ifs map[string]map[string]dbus.Variant
		if dbus.Store(s.Body, &path, &ifs) != nil || !strings.HasPrefix(string(path), prefix) {
			return "", false
		}
		d, ok := ifs[ifaceDevice]
		if !ok || strings.Contains(string(path)[len(prefix):], "/") {
			return "", false
		}
		known[path] = d
		return path, true
	case ifaceProps + ".PropertiesChanged":
		var iface string
		var changed map[string]dbus.Variant
		var invalidated []string
		if dbus.Store(s.Body, &iface, &changed, &invalidated) != nil || iface != ifaceDevice {
			return "", false
		}
		d := known[s.Path]
		if d == nil {
			d = map[string]dbus.Variant{}
			known[s.Path] = d
		}
		for k, v := range changed {
			d[k] = v
		}
		_, rssi := changed["RSSI"]
		return s.Path, rssi
	}
	return "", false
}

// scanResult builds a result from a device's properties; nil without an address.
func scanResult(d map[string]dbus.Variant) *gogatt.ScanResult {
	as, _ := d["Address"].Value().(string)
	a, err := bt.ParseAddress(as)
	if err != nil {
		return nil
	}
	r := &gogatt.ScanResult{Address: a.String(), AddressType: gogatt.AddressPublic}
	if t, _ := d["AddressType"].Value().(string); t == "random" {
		r.AddressType = gogatt.AddressRandom
	}
	if n, ok := d["Name"].Value().(string); ok {
		r.Name, r.Data.LocalName = n, n
	}
	if v, ok := d["RSSI"].Value().(int16); ok {
		r.RSSI = int(v)
	}
	if us, ok := d["UUIDs"].Value().([]string); ok {
		for _, s := range us {
			if u, err := bt.ParseUUID(s); err == nil {
				r.Data.ServiceUUIDs = append(r.Data.ServiceUUIDs, u)
			}
		}
	}
	if m, ok := d["ManufacturerData"].Value().(map[uint16]dbus.Variant); ok {
		r.Data.ManufacturerData = map[uint16][]byte{}
		for k, v := range m {
			if b, ok := v.Value().([]byte); ok {
				r.Data.ManufacturerData[k] = b
			}
		}
	}
	if m, ok := d["ServiceData"].Value().(map[string]dbus.Variant); ok {
		r.Data.ServiceData = map[bt.UUID][]byte{}
		for k, v := range m {
			u, err := bt.ParseUUID(k)
			if b, ok := v.Value().([]byte); ok && err == nil {
				r.Data.ServiceData[u] = b
			}
		}
	}
	return r
}

// FilteredScan is Scan keeping only devices whose name contains nameFilter; OnAdvertisement
// sees only those.
func (b *Backend) FilteredScan(ctx context.Context, nameFilter string, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	return gattkit.FilteredScan(ctx, b.Scan, nameFilter, opts)
}
