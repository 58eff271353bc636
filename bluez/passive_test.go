package bluez_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

// monitorEnv is a simulated bluetoothd with (monitor true: as with --experimental) or without
// AdvertisementMonitorManager1, the demo peripherals, and a started backend logging into rec.
func monitorEnv(t *testing.T, monitor bool) (*bluezsim.Env, *bluez.Backend, []*sim.Peripheral, *records) {
	t.Helper()
	bluezsim.RequireDBus(t)
	ps := sim.DemoPeripherals(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := bluezsim.Start(ctx, bluezsim.Options{Peripherals: ps, DBusOnly: true, AdvertisementMonitor: monitor})
	if err != nil {
		t.Fatalf("bluezsim: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	rec := &records{level: slog.LevelDebug}
	b := bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress(), Logger: slog.New(rec)})
	t.Cleanup(func() { b.Stop() })
	if err := b.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return env, b, ps, rec
}

// discovering reads Adapter1.Discovering.
func discovering(t *testing.T, env *bluezsim.Env) bool {
	t.Helper()
	v, err := busProp(t, env.BusAddress(), dbus.ObjectPath("/org/bluez/"+env.HCIDevice()), "org.bluez.Adapter1.Discovering")
	if err != nil {
		t.Fatal(err)
	}
	on, _ := v.Value().(bool)
	return on
}

// served reports whether app still answers GetManagedObjects at its root.
func served(t *testing.T, env *bluezsim.Env, app bluezsim.MonitorApp) bool {
	t.Helper()
	conn, err := dbus.Connect(env.BusAddress())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.Object(app.Owner, app.Root).Call("org.freedesktop.DBus.ObjectManager.GetManagedObjects", 0).Err == nil
}

// TestPassiveScan: a passive scan is an advertisement monitor (no discovery session): it finds
// every demo peripheral, with what its advertising data says and nothing of its scan response
// (the thermometer's name, the HRM's and the torture device's scan-response data); the monitor
// is unregistered and its objects withdrawn from the bus when the scan ends.
func TestPassiveScan(t *testing.T) {
	env, b, ps, _ := monitorEnv(t, true)
	seen := map[string]bool{}
	var apps []bluezsim.MonitorApp
	var disc bool
	res, err := b.Scan(ctxT(t), gogatt.ScanOptions{Passive: true, Timeout: hang, OnAdvertisement: func(r gogatt.ScanResult) bool {
		if len(seen) == 0 {
			apps = env.MonitorApps()
			disc = discovering(t, env)
		}
		seen[r.Address] = true
		return len(seen) < len(ps)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || disc {
		t.Errorf("during the scan: monitor applications %v, Discovering %v; want one, false", apps, disc)
	}
	byAddr := map[string]gogatt.ScanResult{}
	for _, r := range res {
		byAddr[r.Address] = r
	}
	for _, p := range ps {
		r, ok := byAddr[p.Address().String()]
		if !ok {
			t.Fatalf("%s not found (results %+v)", p.Address(), res)
		}
		if r.RSSI == 0 {
			t.Errorf("%s: no RSSI", r.Address)
		}
	}
	if r := byAddr[sim.ThermometerAddress]; r.Name != "" {
		t.Errorf("thermometer: name %q, which only its scan response carries", r.Name)
	}
	if r := byAddr[sim.HeartRateAddress]; r.Name != sim.HeartRateName || r.Data.ManufacturerData[0xFFFF] != nil {
		t.Errorf("HRM: name %q (in its advertising data), manufacturer data %x (only in its scan response)", r.Name, r.Data.ManufacturerData)
	}
	if r := byAddr[sim.TortureAddress]; string(r.Data.ManufacturerData[0xFFFF]) != "\x7e\x57" || len(r.Data.ServiceData) != 0 || r.Name != "" {
		t.Errorf("torture device: manufacturer data %x (advertising data), service data %x and name %q (scan response only)",
			r.Data.ManufacturerData, r.Data.ServiceData, r.Name)
	}
	if left := env.MonitorApps(); len(left) != 0 {
		t.Errorf("monitor applications after the scan: %v", left)
	}
	for _, app := range apps {
		if served(t, env, app) {
			t.Errorf("the monitor's root %s is still exported after the scan", app.Root)
		}
	}
}

// TestPassiveScanUnsupported: without AdvertisementMonitorManager1 (bluetoothd 5.66 without
// --experimental) a passive scan fails with ErrUnsupported saying what to do, and starts no
// discovery.
func TestPassiveScanUnsupported(t *testing.T) {
	env, b, _, _ := monitorEnv(t, false)
	_, err := b.Scan(ctxT(t), gogatt.ScanOptions{Passive: true, Timeout: hang})
	if !errors.Is(err, gogatt.ErrUnsupported) || !strings.Contains(err.Error(), "bluetoothd has no AdvertisementMonitorManager1 on "+env.HCIDevice()+": run bluetoothd with --experimental") {
		t.Fatalf("passive Scan = %v, want ErrUnsupported naming --experimental", err)
	}
	var de dbus.Error
	if !errors.As(err, &de) {
		t.Errorf("passive Scan = %v: bluetoothd's D-Bus error is not reachable with errors.As", err)
	}
	if discovering(t, env) {
		t.Error("Discovering after a refused passive scan")
	}
}

// TestPassiveScanStop: Stop during a passive scan ends it with ErrNotStarted after it has
// unregistered its monitor; nothing of the backend is left (goroutines, discovery).
func TestPassiveScanStop(t *testing.T) {
	env, b, ps, _ := monitorEnv(t, true)
	first := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := b.Scan(context.Background(), gogatt.ScanOptions{Passive: true, Timeout: hang, OnAdvertisement: func(gogatt.ScanResult) bool {
			once.Do(func() { close(first) })
			return true
		}})
		done <- err
	}()
	select {
	case <-first:
	case <-time.After(hang):
		t.Fatal("no advertisement")
	}
	apps := env.MonitorApps()
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, gogatt.ErrNotStarted) {
		t.Errorf("Scan ended by Stop = %v, want ErrNotStarted", err)
	}
	if len(apps) != 1 {
		t.Errorf("monitor applications during the scan: %v", apps)
	}
	if left := env.MonitorApps(); len(left) != 0 {
		t.Errorf("monitor applications after Stop: %v", left)
	}
	nothingLeft(t, env, ps)
}

// TestScanIntervalWindowIgnored: ScanOptions.Interval and Window, which D-Bus cannot pass on,
// are checked, then ignored with a warning — active and passive alike.
func TestScanIntervalWindowIgnored(t *testing.T) {
	_, b, _, rec := monitorEnv(t, true)
	for _, passive := range []bool{false, true} {
		opts := gogatt.ScanOptions{Passive: passive, Interval: 100 * time.Millisecond, Window: 50 * time.Millisecond, Timeout: hang,
			OnAdvertisement: func(gogatt.ScanResult) bool { return false }}
		if _, err := b.Scan(ctxT(t), opts); err != nil {
			t.Fatalf("passive %v: %v", passive, err)
		}
	}
	if n := rec.count("scan interval and window ignored"); n != 2 {
		t.Errorf("%d warnings about the scan interval and window, want 2 (log %q)", n, rec.msgs)
	}
	if _, err := b.Scan(ctxT(t), gogatt.ScanOptions{Interval: time.Millisecond}); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Errorf("Scan with Interval 1 ms = %v, want ErrInvalidParameter", err)
	}
}

// TestPassiveScanForeignCaller: the monitor answers bluetoothd only: another client of the bus
// calling its Release does not end the passive scan.
func TestPassiveScanForeignCaller(t *testing.T) {
	env, b, ps, _ := monitorEnv(t, true)
	other, err := dbus.Connect(env.BusAddress())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	seen := map[string]bool{}
	calls := 0
	var callErr error
	_, err = b.Scan(ctxT(t), gogatt.ScanOptions{Passive: true, Timeout: hang, OnAdvertisement: func(r gogatt.ScanResult) bool {
		if len(seen) == 0 {
			apps := env.MonitorApps()
			if len(apps) != 1 {
				callErr = errors.New("no monitor application")
				return false
			}
			// Answered before the call returns: the scan's next round sees it.
			callErr = other.Object(apps[0].Owner, apps[0].Root+"/monitor0").Call("org.bluez.AdvertisementMonitor1.Release", 0).Err
		}
		seen[r.Address] = true
		calls++
		// Past the round of the Release: later advertisements (RSSI) of the found devices.
		return len(seen) < len(ps) || calls < 4*len(ps)
	}})
	if err != nil {
		t.Fatalf("passive Scan after another client's Release: %v (its call: %v)", err, callErr)
	}
	t.Logf("the other client's Release: %v", callErr)
	if len(seen) != len(ps) {
		t.Errorf("found %d of %d peripherals", len(seen), len(ps))
	}
}

// TestPassiveScanContextEndsInRegister: a passive scan whose context ends while
// RegisterMonitor is in progress leaves no monitor registered with bluetoothd (which would
// keep scanning for an application that has withdrawn its objects).
func TestPassiveScanContextEndsInRegister(t *testing.T) {
	env, b, _, _ := monitorEnv(t, true)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	returned := make(chan struct{})
	env.OnRegisterMonitor(func() {
		cancel()
		select {
		case <-returned: // the scan has given up its call
		case <-ctxT(t).Done():
		}
	})
	_, err := b.Scan(ctx, gogatt.ScanOptions{Passive: true, Timeout: hang})
	close(returned)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("passive Scan whose context ended in RegisterMonitor = %v, want context.Canceled", err)
	}
	env.OnRegisterMonitor(nil)
	// A call after RegisterMonitor's reply: bluetoothd has finished with the registration.
	if _, err := b.Scan(ctxT(t), gogatt.ScanOptions{Passive: true, Timeout: hang, OnAdvertisement: func(gogatt.ScanResult) bool { return false }}); err != nil {
		t.Fatal(err)
	}
	if left := env.MonitorApps(); len(left) != 0 {
		t.Errorf("monitor applications after the scans: %v", left)
	}
}

// TestPassiveScanStopInRegister: Stop while RegisterMonitor is in progress ends the passive scan
// at once with ErrNotStarted (not at Config.CallTimeout), and no monitor is left registered.
func TestPassiveScanStopInRegister(t *testing.T) {
	bluezsim.RequireDBus(t)
	ps := sim.DemoPeripherals(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := bluezsim.Start(ctx, bluezsim.Options{Peripherals: ps, DBusOnly: true, AdvertisementMonitor: true})
	if err != nil {
		t.Fatalf("bluezsim: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	// A CallTimeout longer than the test's patience: only Stop can end the call in time.
	b := bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress(), CallTimeout: 4 * hang})
	t.Cleanup(func() { b.Stop() })
	if err := b.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{})
	stopped := make(chan struct{})
	env.OnRegisterMonitor(func() {
		go func() { b.Stop(); close(stopped) }()
		select {
		case <-returned:
		case <-time.After(hang):
		}
	})
	done := make(chan error, 1)
	go func() {
		_, err := b.Scan(context.Background(), gogatt.ScanOptions{Passive: true, Timeout: hang})
		done <- err
	}()
	select {
	case err := <-done:
		close(returned)
		if !errors.Is(err, gogatt.ErrNotStarted) {
			t.Errorf("passive Scan stopped in RegisterMonitor = %v, want ErrNotStarted", err)
		}
	case <-time.After(hang):
		close(returned)
		t.Error("Stop did not end a passive scan in RegisterMonitor")
		<-done
	}
	<-stopped
	if left := env.MonitorApps(); len(left) != 0 {
		t.Errorf("monitor applications after Stop: %v", left)
	}
}
