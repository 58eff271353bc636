package bluez_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

const hang = 30 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	t.Cleanup(cancel)
	return ctx
}

// started is newEnv with the demo peripherals and the backend started.
func started(t *testing.T) ([]*sim.Peripheral, *bluez.Backend, func(string) *sim.Peripheral) {
	t.Helper()
	ps := sim.DemoPeripherals(1)
	_, b := newEnv(t, ps)
	if err := b.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return ps, b, func(a string) *sim.Peripheral {
		for _, p := range ps {
			if p.Address().String() == a {
				return p
			}
		}
		return nil
	}
}

func connect(t *testing.T, b *bluez.Backend, addr string, opts gogatt.ConnectOptions) gogatt.Device {
	t.Helper()
	d, err := b.Connect(ctxT(t), addr, opts)
	if err != nil {
		t.Fatalf("Connect %s: %v", addr, err)
	}
	t.Cleanup(func() { d.Disconnect() })
	return d
}

// TestErrorsEndToEnd: ATT errors of the sim peripheral's GATT server reach the caller through
// bluetoothd's D-Bus errors as *gogatt.ATTError, with the code where bluetoothd keeps it.
func TestErrorsEndToEnd(t *testing.T) {
	_, b, _ := started(t)
	ctx := ctxT(t)
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	_, err := d.CharRead(ctx, sim.TortureEncrypted)
	var be *bluez.Error
	if !errors.Is(err, &gogatt.ATTError{Code: att.ErrInsufficientAuthentication}) || !errors.As(err, &be) || be.Text != "Not paired" {
		t.Errorf("CharRead(encrypted) = %v, want NotPermitted \"Not paired\" as ATT 0x05", err)
	}
	if err := d.CharWrite(ctx, sim.TortureAppError, []byte{1}, true); !errors.Is(err, &gogatt.ATTError{Code: 0x80}) {
		t.Errorf("CharWrite(app error) = %v, want ATT 0x80", err)
	}
	if _, err := d.CharRead(ctx, sim.TortureNoAccess); !errors.Is(err, &gogatt.ATTError{Code: att.ErrReadNotPermitted}) {
		t.Errorf("CharRead(no access) = %v, want ATT 0x02", err)
	}
	// bluetoothd owns the CCCDs.
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := gogatt.LookupCharacteristic(svcs, sim.TortureDescFirst)
	if err != nil {
		t.Fatal(err)
	}
	cccd, _ := c.CCCD()
	if err := d.CharWriteHandle(ctx, cccd, []byte{1, 0}, true); !errors.Is(err, &gogatt.ATTError{Code: att.ErrWriteNotPermitted}) {
		t.Errorf("CCCD write = %v, want ATT 0x03 (Write not permitted)", err)
	}
	// A declaration is not exported by bluetoothd.
	if _, err := d.CharReadHandle(ctx, c.Handle); !errors.Is(err, gogatt.ErrNotFound) {
		t.Errorf("read of a declaration = %v, want ErrNotFound", err)
	}
}

// TestNotificationOrder: a burst of notifications arrives in the order the peripheral sent it
// (one dispatcher over godbus's sequential signal handler).
func TestNotificationOrder(t *testing.T) {
	_, b, per := started(t)
	ctx := ctxT(t)
	p := per(sim.TortureAddress)
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	const n = 2000
	var mu sync.Mutex
	var got []uint32
	all := make(chan struct{})
	if err := d.Subscribe(ctx, sim.TortureStream, func(_ uint16, v []byte) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, binary.LittleEndian.Uint32(v))
		if len(got) == n {
			close(all)
		}
	}, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	vh := p.ValueHandle(sim.TortureStream)
	for i := range n {
		p.Notify(vh, binary.LittleEndian.AppendUint32(nil, uint32(i)))
	}
	select {
	case <-all:
	case <-time.After(hang):
		mu.Lock()
		t.Fatalf("%d of %d values", len(got), n)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		if v != uint32(i) {
			t.Fatalf("value %d is %d: out of order", i, v)
		}
	}
}

// TestMTUAndRSSI: ExchangeMTU returns what bluetoothd exchanged when it is not above the MTU asked
// for, ErrUnsupported otherwise; RSSI is unsupported while connected.
func TestMTUAndRSSI(t *testing.T) {
	_, b, _ := started(t)
	ctx := ctxT(t)
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	if m, err := d.ExchangeMTU(ctx, 517); err != nil || m != 517 {
		t.Errorf("ExchangeMTU(517) = %d, %v; want 517", m, err)
	}
	if _, err := d.ExchangeMTU(ctx, 100); !errors.Is(err, gogatt.ErrUnsupported) {
		t.Errorf("ExchangeMTU(100) = %v, want ErrUnsupported", err)
	}
	if _, err := d.RSSI(ctx); !errors.Is(err, gogatt.ErrUnsupported) {
		t.Errorf("RSSI = %v, want ErrUnsupported", err)
	}
	// A 300-octet value comes back whole from one ReadValue.
	if v, err := d.CharRead(ctx, sim.TortureLong); err != nil || len(v) != 300 {
		t.Errorf("CharRead(TortureLong) = %d octets, %v; want 300", len(v), err)
	}
}

// warnings records the messages of Warn records.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	w.msgs = append(w.msgs, r.Message)
	w.mu.Unlock()
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// TestConnParamsIgnored: valid connection parameters are accepted and ignored with a warning;
// invalid ones are still refused.
func TestConnParamsIgnored(t *testing.T) {
	ps := sim.DemoPeripherals(1)
	env, _ := newEnv(t, nil)
	for _, p := range ps {
		if err := env.AddPeripheral(p); err != nil {
			t.Fatal(err)
		}
	}
	var w warnings
	b := bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress(), Logger: slog.New(&w)})
	t.Cleanup(func() { b.Stop() })
	ctx := ctxT(t)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d := connect(t, b, sim.HeartRateAddress, gogatt.ConnectOptions{IntervalMin: 30 * time.Millisecond, IntervalMax: 50 * time.Millisecond, SupervisionTimeout: 2 * time.Second})
	if _, err := d.CharRead(ctx, gogatt.UUID16(0x2A38)); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	warned := len(w.msgs) == 1 && strings.Contains(w.msgs[0], "connection parameters ignored")
	w.mu.Unlock()
	if !warned {
		t.Errorf("warnings = %q, want one about the ignored connection parameters", w.msgs)
	}
	if _, err := b.Connect(ctx, sim.HeartRateAddress, gogatt.ConnectOptions{Latency: 1000}); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Errorf("Connect with Latency 1000 = %v, want ErrInvalidParameter", err)
	}
}

// busProp reads a property of an org.bluez object through a connection of the test's own.
func busProp(t *testing.T, addr string, path dbus.ObjectPath, name string) (dbus.Variant, error) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.Object("org.bluez", path).GetProperty(name)
}

func devPath(hci string, a string) dbus.ObjectPath {
	return dbus.ObjectPath("/org/bluez/" + hci + "/dev_" + strings.ReplaceAll(a, ":", "_"))
}

// TestDisconnectAndStop: Disconnect drops bluetoothd's connection (Device1.Connected false, the
// GATT objects gone); Stop during a scan ends the discovery session; Start again works.
func TestDisconnectAndStop(t *testing.T) {
	ps := sim.DemoPeripherals(1)
	env, b := newEnv(t, ps)
	ctx := ctxT(t)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := b.Connect(ctx, sim.ThermometerAddress, gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !env.GATTConnected(bt.MustParseAddress(sim.ThermometerAddress)) {
		t.Fatal("bluetoothd holds no connection after Connect")
	}
	if err := d.Disconnect(); err != nil {
		t.Fatal(err)
	}
	<-d.Disconnected()
	if env.GATTConnected(bt.MustParseAddress(sim.ThermometerAddress)) {
		t.Error("bluetoothd still holds the connection after Disconnect returned")
	}
	v, err := busProp(t, env.BusAddress(), devPath(env.HCIDevice(), sim.ThermometerAddress), "org.bluez.Device1.Connected")
	if err != nil || v.Value() != false {
		t.Errorf("Connected after Disconnect = %v, %v", v, err)
	}
	var de *gogatt.DisconnectError
	if !errors.As(d.Err(), &de) || !de.Local {
		t.Errorf("Err after Disconnect = %v, want a local *DisconnectError", d.Err())
	}

	// Stop during a scan: the scan ends with ErrNotStarted and bluetoothd stops discovering.
	scanned := make(chan error, 1)
	first := make(chan struct{})
	var once sync.Once
	go func() {
		_, err := b.Scan(ctx, gogatt.ScanOptions{Timeout: hang, OnAdvertisement: func(gogatt.ScanResult) bool {
			once.Do(func() { close(first) })
			return true
		}})
		scanned <- err
	}()
	<-first
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := <-scanned; !errors.Is(err, gogatt.ErrNotStarted) {
		t.Errorf("Scan ended by Stop = %v, want ErrNotStarted", err)
	}
	v, err = busProp(t, env.BusAddress(), dbus.ObjectPath("/org/bluez/"+env.HCIDevice()), "org.bluez.Adapter1.Discovering")
	if err != nil || v.Value() != false {
		t.Errorf("Discovering after Stop = %v, %v; want false", v, err)
	}
	// Start again: a read works.
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	d = connect(t, b, sim.ThermometerAddress, gogatt.ConnectOptions{})
	if v, err := d.CharRead(ctx, gogatt.UUID16(0x2A1D)); err != nil || !bytes.Equal(v, []byte{2}) && len(v) == 0 {
		t.Errorf("CharRead after restart = %x, %v", v, err)
	}
}

// TestNoAdapter: Start fails with ErrNoAdapter for an adapter bluetoothd does not have.
func TestNoAdapter(t *testing.T) {
	env, _ := newEnv(t, nil)
	b := bluez.New(bluez.Config{Adapter: "hci7", BusAddress: env.BusAddress()})
	defer b.Stop()
	if err := b.Start(ctxT(t)); !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Errorf("Start on hci7 = %v, want ErrNoAdapter", err)
	}
	if err := env.SetPowered(false); err != nil {
		t.Fatal(err)
	}
	b = bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress()})
	defer b.Stop()
	if err := b.Start(ctxT(t)); !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Errorf("Start on a powered-off adapter = %v, want ErrNoAdapter", err)
	}
}

// TestScanDuringConnect: a Connect that discovers an unknown device and a Scan share the
// backend's discovery session: the Scan neither fails nor ends the Connect's discovery.
func TestScanDuringConnect(t *testing.T) {
	_, b, per := started(t)
	ctx := ctxT(t)
	p := per(sim.TortureAddress)
	p.SetInRange(false)
	connected := make(chan error, 1)
	go func() {
		d, err := b.Connect(ctx, sim.TortureAddress, gogatt.ConnectOptions{})
		if err == nil {
			d.Disconnect()
		}
		connected <- err
	}()
	res, err := b.Scan(ctx, gogatt.ScanOptions{Timeout: hang, OnAdvertisement: func(r gogatt.ScanResult) bool {
		return r.Address != sim.HeartRateAddress
	}})
	if err != nil || len(res) == 0 {
		t.Fatalf("Scan during a Connect's discovery = %d results, %v", len(res), err)
	}
	p.SetInRange(true)
	select {
	case err := <-connected:
		if err != nil {
			t.Fatalf("Connect after the Scan ended = %v", err)
		}
	case <-time.After(hang):
		t.Fatal("Connect did not find the device after the Scan ended")
	}
}

// TestConnectPendsWhileOutOfRange: like bluetoothd, a Device1.Connect to a known device out of
// range waits for it (until the LE connection timeout) instead of failing at once; a Connect
// whose context ends cancels the attempt (Device1.Disconnect), so the next one can start.
func TestConnectPendsWhileOutOfRange(t *testing.T) {
	ps := sim.DemoPeripherals(1)
	env, b := newEnv(t, ps)
	ctx := ctxT(t)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Make the device known to bluetoothd, then take it out of range.
	if _, err := b.Scan(ctx, gogatt.ScanOptions{Timeout: hang, OnAdvertisement: func(r gogatt.ScanResult) bool {
		return r.Address != sim.ThermometerAddress
	}}); err != nil {
		t.Fatal(err)
	}
	var p *sim.Peripheral
	for _, x := range ps {
		if x.Address().String() == sim.ThermometerAddress {
			p = x
		}
	}
	a := p.Address()
	p.SetInRange(false)
	pending := func(want bool) {
		t.Helper()
		if !waitUntil(func() bool { return env.ConnectPending(a) == want }) {
			t.Fatalf("bluetoothd's connection attempt pending = %v, want %v", !want, want)
		}
	}

	// Cancelled while pending: the attempt is withdrawn.
	cctx, cancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	goConnect := func(ctx context.Context) {
		go func() {
			d, err := b.Connect(ctx, sim.ThermometerAddress, gogatt.ConnectOptions{})
			if err == nil {
				d.Disconnect()
			}
			res <- err
		}()
	}
	goConnect(cctx)
	pending(true)
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect with a cancelled context = %v, want context.Canceled", err)
	}
	pending(false)

	goConnect(ctx)
	pending(true)
	p.SetInRange(true)
	if err := <-res; err != nil {
		t.Fatalf("Connect to a device that comes back into range = %v", err)
	}
}

// waitUntil polls cond, state of the simulation the test does not control, until it holds;
// false only after a hang.
func waitUntil(cond func() bool) bool {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(hang)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
	return true
}

// TestStartContextEnds: the context of Start bounds Start only; the backend keeps working after
// it ends.
func TestStartContextEnds(t *testing.T) {
	_, b := newEnv(t, sim.DemoPeripherals(1))
	sctx, cancel := context.WithCancel(context.Background())
	if err := b.Start(sctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	ctx := ctxT(t)
	d := connect(t, b, sim.HeartRateAddress, gogatt.ConnectOptions{})
	if _, err := d.CharRead(ctx, gogatt.UUID16(0x2A38)); err != nil {
		t.Fatalf("CharRead after Start's context ended = %v", err)
	}
}

// serviceOf returns the handle of the service holding handle h.
func serviceOf(p *sim.Peripheral, h uint16) uint16 {
	for _, s := range p.Services() {
		if s.Handle <= h && h <= s.EndHandle {
			return s.Handle
		}
	}
	return 0
}
