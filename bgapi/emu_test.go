package bgapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// emuEnv is a BLED112 emulator on a real pseudo-terminal and a backend that opens the pty's
// path through the same serial-port code that opens a dongle.
type emuEnv struct {
	emu     *bled112.Emulator
	pty     *bled112.PTY
	b       *Backend
	periphs map[string]*sim.Peripheral
}

const (
	hrmAddr     = sim.HeartRateAddress
	thermoAddr  = sim.ThermometerAddress
	tortureAddr = sim.TortureAddress
)

func noPorts() ([]*portDetails, error) { return nil, nil }

func testLogger() *slog.Logger {
	if os.Getenv("GOGATT_BGAPI_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// startEmu starts an emulator with the demo peripherals (plus extra), serves it on a pty and
// starts a backend on it (with the default reset on start).
func startEmu(t testing.TB, ecfg bled112.Config, bcfg Config, extra ...*sim.Peripheral) *emuEnv {
	t.Helper()
	env := newEmuEnv(t, ecfg, extra...)
	env.listenPTY(t)
	env.start(t, bcfg)
	return env
}

// newEmuEnv creates an emulator with the demo peripherals plus extra (no port served yet, no
// backend); Close is a cleanup of t.
func newEmuEnv(t testing.TB, ecfg bled112.Config, extra ...*sim.Peripheral) *emuEnv {
	t.Helper()
	ps := append(sim.DemoPeripherals(1), extra...)
	ecfg.Peripherals = ps
	emu, err := bled112.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	env := &emuEnv{emu: emu, periphs: map[string]*sim.Peripheral{}}
	for _, per := range ps {
		env.periphs[per.Address().String()] = per
	}
	return env
}

// listenPTY serves the emulator on a pseudo-terminal, closed as a cleanup of t.
func (env *emuEnv) listenPTY(t testing.TB) {
	t.Helper()
	p, err := env.emu.ListenPTY(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	env.pty = p
}

// start creates the backend (on the pty's path unless bcfg has its own opener) and starts it;
// Stop is a cleanup of t (before the port and the emulator close).
func (env *emuEnv) start(t testing.TB, bcfg Config) {
	t.Helper()
	if env.pty != nil {
		bcfg.Port = env.pty.Path()
	}
	bcfg.ports = noPorts
	if bcfg.Logger == nil {
		bcfg.Logger = testLogger()
	}
	env.b = New(bcfg)
	t.Cleanup(func() { env.b.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.b.Start(ctx); err != nil {
		t.Fatalf("Start on %s: %v", bcfg.Port, err)
	}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func (env *emuEnv) connect(t testing.TB, addr string, opts gogatt.ConnectOptions) gogatt.Device {
	t.Helper()
	d, err := env.b.Connect(ctxT(t, 10*time.Second), addr, opts)
	if err != nil {
		t.Fatalf("Connect %s: %v", addr, err)
	}
	t.Cleanup(func() { d.Disconnect() })
	return d
}

// connectDiscovered connects to addr and discovers its services, so later reads by UUID put
// exactly one procedure on the wire.
func (env *emuEnv) connectDiscovered(t testing.TB, ctx context.Context, addr string) (gogatt.Device, *sim.Peripheral) {
	t.Helper()
	d := env.connect(t, addr, gogatt.ConnectOptions{})
	if _, err := d.Services(ctx); err != nil {
		t.Fatal(err)
	}
	return d, env.periphs[addr]
}

// recv returns the next value from ch; t fails with what if ctx ends first.
func recv(t testing.TB, ctx context.Context, ch <-chan []byte, what string) []byte {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatal(what)
		return nil
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func TestEmuStartResetReenumerates(t *testing.T) {
	env := newEmuEnv(t, bled112.Config{ReenumerateOnReset: true})
	env.listenPTY(t)
	back := env.pty.Back()
	env.start(t, Config{PollInterval: 5 * time.Millisecond})
	select {
	case <-back: // system_reset made the port vanish and come back; Start reopened it
	default:
		t.Fatal("Start did not reset the dongle (the port never re-enumerated)")
	}
	d := env.connect(t, hrmAddr, gogatt.ConnectOptions{})
	v, err := d.CharRead(ctxT(t, 5*time.Second), gogatt.UUID16(0x2A38))
	if err != nil || !bytes.Equal(v, []byte{0x01}) {
		t.Fatalf("read = %x, %v", v, err)
	}
	// Stop disconnects every device; Start again after Stop, on the same path.
	env.b.Stop()
	if n := env.emu.Connections(); n != 0 {
		t.Fatalf("%d connections left after Stop", n)
	}
	select {
	case <-d.Disconnected():
	default:
		t.Fatal("device not disconnected by Stop")
	}
	if err := env.b.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := env.b.Start(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if _, err := env.connect(t, hrmAddr, gogatt.ConnectOptions{}).RSSI(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("RSSI after the second Start: %v", err)
	}
	// Stop released the port: another backend opens it (no reset).
	env.b.Stop()
	b2 := New(Config{Port: env.pty.Path(), NoReset: true, ports: noPorts, Logger: testLogger()})
	if err := b2.Start(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Start of a second backend: %v", err)
	}
	b2.Stop()
}

func TestEmuScan(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	want := []string{sim.HeartRateName, sim.ThermometerName, sim.TortureName}
	var calls int
	res, err := env.b.Scan(ctxT(t, 10*time.Second), gogatt.ScanOptions{
		Timeout: 8 * time.Second,
		OnAdvertisement: func(r gogatt.ScanResult) bool {
			calls++
			return !(r.Name == sim.TortureName) // stop once the last-named device is named
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("OnAdvertisement never called")
	}
	names := map[string]gogatt.ScanResult{}
	for _, r := range res {
		names[r.Name] = r
	}
	if r, ok := names[sim.TortureName]; !ok || r.Address != tortureAddr || r.RSSI == 0 || r.RSSI > 0 ||
		!r.Data.HasService(sim.TortureService) || !r.Data.HasTxPower || r.Data.TxPower != -4 {
		t.Fatalf("torture scan result %+v", r)
	}
	// Active until every device was named (the thermometer's name is only in its scan response).
	named := map[string]bool{}
	res, err = env.b.Scan(ctxT(t, 10*time.Second), gogatt.ScanOptions{Timeout: 8 * time.Second, Interval: 10 * time.Millisecond, Window: 10 * time.Millisecond,
		OnAdvertisement: func(r gogatt.ScanResult) bool {
			if r.Name != "" {
				named[r.Name] = true
			}
			return len(named) < len(want)
		}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range res {
		got[r.Name] = true
	}
	for _, n := range want {
		if !got[n] {
			t.Errorf("active scan did not name %q: %v", n, got)
		}
	}
	// Passive: no scan responses, so no thermometer name.
	res, err = env.b.Scan(ctxT(t, 10*time.Second), gogatt.ScanOptions{Timeout: 300 * time.Millisecond, Passive: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Name == sim.ThermometerName {
			t.Errorf("passive scan named the thermometer from a scan response")
		}
	}
	// Filtered.
	res, err = env.b.FilteredScan(ctxT(t, 10*time.Second), "HRM", gogatt.ScanOptions{Timeout: 300 * time.Millisecond})
	if err != nil || len(res) != 1 || res[0].Address != hrmAddr {
		t.Fatalf("filtered scan = %+v, %v", res, err)
	}
	// Discover modes: the demo devices are general-discoverable, so a limited scan sees none
	// and an observation scan sees them all.
	res, err = env.b.Scan(ctxT(t, 10*time.Second), gogatt.ScanOptions{Timeout: 300 * time.Millisecond, Mode: gogatt.DiscoverLimited})
	if err != nil || len(res) != 0 {
		t.Fatalf("limited scan = %+v, %v", res, err)
	}
	res, err = env.b.Scan(ctxT(t, 10*time.Second), gogatt.ScanOptions{Timeout: 300 * time.Millisecond, Mode: gogatt.DiscoverObservation})
	if err != nil || len(res) != 3 {
		t.Fatalf("observation scan = %+v, %v", res, err)
	}
	// Invalid parameters never reach the wire.
	if _, err := env.b.Scan(t.Context(), gogatt.ScanOptions{Interval: time.Millisecond}); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("bad interval: %v", err)
	}
	// Cancelling the context stops the scan with the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { cancel() }()
	if _, err := env.b.Scan(ctx, gogatt.ScanOptions{Timeout: 5 * time.Second}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scan: %v", err)
	}
}

func TestEmuHeartRate(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	d := env.connect(t, hrmAddr, gogatt.ConnectOptions{IntervalMin: 7500 * time.Microsecond, IntervalMax: 10 * time.Millisecond})
	ctx := ctxT(t, 20*time.Second)
	if d.Address() != hrmAddr {
		t.Fatal(d.Address())
	}
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var uuids []gogatt.UUID
	for _, s := range svcs {
		uuids = append(uuids, s.UUID)
	}
	for _, u := range []uint16{0x180D, 0x180F, 0x180A} {
		if !slices.Contains(uuids, gogatt.UUID16(u)) {
			t.Errorf("service %04x missing: %v", u, uuids)
		}
	}
	chars, err := d.DiscoverCharacteristics(ctx)
	if err != nil || len(chars[gogatt.UUID16(0x2A37)]) != 1 {
		t.Fatalf("characteristics: %v %v", chars, err)
	}
	if h, err := d.GetHandle(ctx, gogatt.UUID16(0x2A37)); err != nil || h != chars[gogatt.UUID16(0x2A37)][0].ValueHandle {
		t.Fatalf("GetHandle = %d, %v", h, err)
	}
	if err := d.CharWrite(ctx, gogatt.UUID16(0x2A39), []byte{1}, true); err != nil {
		t.Fatalf("control point write: %v", err)
	}
	err = d.CharWrite(ctx, gogatt.UUID16(0x2A39), []byte{2}, true)
	var ae *gogatt.ATTError
	if !errors.As(err, &ae) || ae.Code != 0x80 || !errors.Is(err, &gogatt.ATTError{Code: 0x80}) {
		t.Fatalf("control point 0x02: %v", err)
	}
	if _, err := d.CharRead(ctx, gogatt.UUID16(0x9999)); !errors.Is(err, gogatt.ErrNotFound) {
		t.Fatalf("unknown uuid: %v", err)
	}
	// Notifications at 200 Hz.
	got := make(chan []byte, 1000)
	if err := d.Subscribe(ctx, gogatt.UUID16(0x2A37), func(h uint16, v []byte) { got <- v }, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	env.periphs[hrmAddr].SetNotifyRate(chars[gogatt.UUID16(0x2A37)][0].ValueHandle, 200)
	for range 5 {
		if v := recv(t, ctx, got, "no notifications"); len(v) != 2 || v[0] != 0x06 || v[1] < 60 || v[1] > 100 {
			t.Fatalf("measurement %x", v)
		}
	}
	if err := d.Subscribe(ctx, gogatt.UUID16(0x2A37), func(uint16, []byte) {}, gogatt.SubscribeOptions{Indication: true}); !errors.Is(err, gogatt.ErrUnsupported) {
		t.Fatalf("indicate on a notify-only characteristic: %v", err)
	}
	if err := d.Unsubscribe(ctx, gogatt.UUID16(0x2A37)); err != nil {
		t.Fatal(err)
	}
	rssi, err := d.RSSI(ctx)
	if err != nil || rssi >= 0 || rssi < -127 {
		t.Fatalf("rssi %d %v", rssi, err)
	}
	if _, err := d.ExchangeMTU(ctx, 185); !errors.Is(err, gogatt.ErrUnsupported) {
		t.Fatal(err)
	}
	if err := d.Disconnect(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Disconnected():
	case <-ctx.Done():
		t.Fatal("Disconnected not closed")
	}
	if err := d.Disconnect(); err != nil {
		t.Fatalf("second Disconnect: %v", err)
	}
	if _, err := d.CharRead(ctx, gogatt.UUID16(0x2A38)); !errors.Is(err, gogatt.ErrNotConnected) {
		t.Fatalf("read after disconnect: %v", err)
	}
}

func TestEmuThermometerIndications(t *testing.T) {
	for _, manual := range []bool{false, true} {
		t.Run(map[bool]string{false: "auto-confirm", true: "manual-confirm"}[manual], func(t *testing.T) {
			env := startEmu(t, bled112.Config{ManualIndicationConfirm: manual}, Config{NoReset: true})
			d := env.connect(t, thermoAddr, gogatt.ConnectOptions{})
			ctx := ctxT(t, 20*time.Second)
			got := make(chan []byte, 100)
			if err := d.Subscribe(ctx, gogatt.UUID16(0x2A1C), func(h uint16, v []byte) { got <- v }, gogatt.SubscribeOptions{Indication: true}); err != nil {
				t.Fatal(err)
			}
			vh, _ := d.GetHandle(ctx, gogatt.UUID16(0x2A1C))
			env.periphs[thermoAddr].SetNotifyRate(vh, 100)
			for range 3 { // the second and third need the first confirmed
				if v := recv(t, ctx, got, "no indications"); len(v) != 5 {
					t.Fatalf("temperature %x", v)
				}
			}
		})
	}
}

func TestEmuTorture(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
	p := env.periphs[tortureAddr]
	ctx := ctxT(t, 30*time.Second)
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range svcs {
		n += len(s.Characteristics)
	}
	if n < 50 {
		t.Fatalf("%d characteristics, want ≥ 50", n)
	}
	// The tree matches the simulator's own.
	for _, s := range p.Services() {
		if !s.Primary {
			continue // discovery covers primary services (read_by_group_type 0x2800)
		}
		for _, c := range s.Characteristics {
			got, err := gogatt.LookupCharacteristicIn(svcs, s.UUID, c.UUID)
			if err != nil {
				if errors.As(err, new(*gogatt.AmbiguousUUIDError)) {
					continue
				}
				t.Fatalf("%s/%s: %v", s.UUID, c.UUID, err)
			}
			if got.ValueHandle != c.ValueHandle {
				t.Errorf("%s: value handle %#x, sim says %#x", c.UUID, got.ValueHandle, c.ValueHandle)
			}
		}
	}
	// Duplicate UUID: ambiguous by UUID, fine by handle or service.
	_, err = d.CharRead(ctx, sim.TortureDuplicate)
	var amb *gogatt.AmbiguousUUIDError
	if !errors.As(err, &amb) || len(amb.Candidates) != 2 {
		t.Fatalf("duplicate: %v", err)
	}
	c2, err := gogatt.LookupCharacteristicIn(svcs, sim.TortureService2, sim.TortureDuplicate)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := d.CharReadHandle(ctx, c2.ValueHandle); err != nil || string(v) != "service 2" {
		t.Fatalf("duplicate in service 2: %q %v", v, err)
	}
	// CCCD not at value handle + 1.
	df, err := gogatt.LookupCharacteristic(svcs, sim.TortureDescFirst)
	if err != nil {
		t.Fatal(err)
	}
	cccd, ok := df.CCCD()
	if !ok || cccd == df.ValueHandle+1 {
		t.Fatalf("DescFirst CCCD %#x (value %#x) %v", cccd, df.ValueHandle, ok)
	}
	got := make(chan []byte, 10)
	if err := d.SubscribeHandle(ctx, df.ValueHandle, func(h uint16, v []byte) { got <- v }, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	if p.Subscribers(df.ValueHandle) != 1 {
		t.Fatalf("sim sees %d subscribers after SubscribeHandle", p.Subscribers(df.ValueHandle))
	}
	p.Notify(df.ValueHandle, []byte("ping"))
	if v := recv(t, ctx, got, "no notification through the CCCD that is not at +1"); string(v) != "ping" {
		t.Fatalf("got %q", v)
	}
	if err := d.UnsubscribeHandle(ctx, df.ValueHandle); err != nil || p.Subscribers(df.ValueHandle) != 0 {
		t.Fatalf("unsubscribe: %v, %d subscribers", err, p.Subscribers(df.ValueHandle))
	}
	// 300-byte value: one read gives 22 bytes, a long read all of it.
	v, err := d.CharRead(ctx, sim.TortureLong)
	if err != nil || !bytes.Equal(v, pattern(22)) {
		t.Fatalf("short read of long value: %d bytes %v", len(v), err)
	}
	v, err = d.CharReadLong(ctx, sim.TortureLong)
	if err != nil || !bytes.Equal(v, pattern(300)) {
		t.Fatalf("long read: %d bytes %v", len(v), err)
	}
	// Long write of 512 then read back.
	val := bytes.Repeat([]byte("gogatt-"), 74)[:512]
	if err := d.CharWriteLong(ctx, sim.TortureMax, val); err != nil {
		t.Fatal(err)
	}
	if v, err := d.CharReadLong(ctx, sim.TortureMax); err != nil || !bytes.Equal(v, val) {
		t.Fatalf("read back %d bytes %v", len(v), err)
	}
	if err := d.CharWriteLong(ctx, sim.TortureMax, make([]byte, 513)); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("513 bytes: %v", err)
	}
	// Long write refused by the server: the queue is cancelled, the error is the ATT one.
	err = d.CharWriteLong(ctx, sim.TortureMaxLen, make([]byte, 40))
	if !errors.As(err, new(*gogatt.ATTError)) {
		t.Fatalf("long write to a 20-byte characteristic: %v", err)
	}
	if v, err := d.CharRead(ctx, sim.TortureMaxLen); err != nil || string(v) != "short" {
		t.Fatalf("after a refused long write: %q %v", v, err)
	}
	// Write-only, no-access, application error, write without response.
	if _, err := d.CharRead(ctx, sim.TortureWriteOnly); !errors.Is(err, &gogatt.ATTError{Code: att.ErrReadNotPermitted}) {
		t.Fatalf("read write-only: %v", err)
	}
	if err := d.CharWrite(ctx, sim.TortureWriteOnly, []byte("x"), false); err != nil {
		t.Fatalf("write command: %v", err)
	}
	if err := d.CharWrite(ctx, sim.TortureAppError, []byte("x"), true); !errors.Is(err, &gogatt.ATTError{Code: 0x80}) {
		t.Fatalf("app error: %v", err)
	}
	if v, err := d.CharRead(ctx, sim.TortureEmpty); err != nil || len(v) != 0 {
		t.Fatalf("empty: %x %v", v, err)
	}
	// Encrypted characteristic: refused until bonded.
	_, err = d.CharRead(ctx, sim.TortureEncrypted)
	var ae0 *gogatt.ATTError
	if !errors.As(err, &ae0) || (ae0.Code != att.ErrInsufficientEncryption && ae0.Code != att.ErrInsufficientAuthentication) {
		t.Fatalf("encrypted before bond: %v", err)
	}
	if err := d.Bond(ctx, false); err != nil {
		t.Fatalf("bond: %v", err)
	}
	if v, err := d.CharRead(ctx, sim.TortureEncrypted); err != nil || string(v) != "secret" {
		t.Fatalf("encrypted after bond: %q %v", v, err)
	}
	// Indications through the real CCCD.
	ind := make(chan []byte, 10)
	if err := d.Subscribe(ctx, sim.TortureIndicate, func(h uint16, v []byte) { ind <- v }, gogatt.SubscribeOptions{Indication: true}); err != nil {
		t.Fatal(err)
	}
	ih, _ := d.GetHandle(ctx, sim.TortureIndicate)
	p.Notify(ih, []byte("i1"))
	p.Notify(ih, []byte("i2"))
	for _, w := range []string{"i1", "i2"} {
		select {
		case v := <-ind:
			if string(v) != w {
				t.Fatalf("indication %q, want %q", v, w)
			}
		case <-ctx.Done():
			t.Fatal("no indication")
		}
	}
	// ResubscribeAll writes the real CCCDs again, e.g. after the peer forgot them.
	ich, _ := gogatt.LookupCharacteristic(svcs, sim.TortureIndicate)
	icccd, _ := ich.CCCD()
	if err := d.CharWriteHandle(ctx, icccd, []byte{0, 0}, true); err != nil || p.Subscribers(ih) != 0 {
		t.Fatalf("clear CCCD: %v, %d subscribers", err, p.Subscribers(ih))
	}
	if err := d.ResubscribeAll(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Subscribers(ih) != 1 {
		t.Fatalf("after ResubscribeAll: %d subscribers", p.Subscribers(ih))
	}
	// By handle: long read/write, write without response.
	lh, _ := d.GetHandle(ctx, sim.TortureLong)
	if v, err := d.CharReadLongHandle(ctx, lh); err != nil || !bytes.Equal(v, pattern(300)) {
		t.Fatalf("long read by handle: %d bytes %v", len(v), err)
	}
	if err := d.CharWriteLongHandle(ctx, lh, pattern(100)); err != nil {
		t.Fatal(err)
	}
	if v, err := d.CharReadLongHandle(ctx, lh); err != nil || !bytes.Equal(v, pattern(100)) {
		t.Fatalf("long read after long write: %d bytes %v", len(v), err)
	}
	wh, _ := d.GetHandle(ctx, sim.TortureWriteCmdOnly)
	if err := d.CharWriteHandle(ctx, wh, []byte("no response"), false); err != nil {
		t.Fatal(err)
	}
	if err := d.Err(); err != nil {
		t.Fatalf("Err while connected: %v", err)
	}
}

func TestEmuBondAndClearBond(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 20*time.Second)
	if err := d.Bond(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(env.emu.Bonds(), bt.MustParseAddress(tortureAddr)) {
		t.Fatalf("bonds %v", env.emu.Bonds())
	}
	if v, err := d.CharRead(ctx, sim.TortureEncrypted); err != nil || string(v) != "secret" {
		t.Fatalf("encrypted after bond: %q %v", v, err)
	}
	if err := env.b.ClearBond(ctx, tortureAddr); err != nil {
		t.Fatalf("ClearBond one: %v", err)
	}
	if len(env.emu.Bonds()) != 0 {
		t.Fatalf("bonds after clear %v", env.emu.Bonds())
	}
	if err := env.b.ClearBond(ctx, hrmAddr); !errors.Is(err, gogatt.ErrNotFound) {
		t.Fatalf("ClearBond unknown: %v", err)
	}
	if err := env.b.ClearBond(ctx, "nonsense"); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("ClearBond bad address: %v", err)
	}
	if err := d.Bond(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := env.b.ClearBond(ctx, ""); err != nil || len(env.emu.Bonds()) != 0 {
		t.Fatalf("ClearBond all: %v %v", err, env.emu.Bonds())
	}
}

func TestEmuBondingRefused(t *testing.T) {
	env := startEmu(t, bled112.Config{}, Config{NoReset: true})
	d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
	env.periphs[tortureAddr].SetRefusePairing(true)
	ctx := ctxT(t, 10*time.Second)
	err := d.Bond(ctx, true)
	var be *Error
	if !errors.As(err, &be) || be.Result.Space() != wire.ResultSpace(3) {
		t.Fatalf("refused bond: %v", err)
	}
	// Still usable.
	env.periphs[tortureAddr].SetRefusePairing(false)
	if _, err := d.CharRead(ctx, sim.TortureCounter); err != nil {
		t.Fatal(err)
	}
	if err := d.Bond(ctx, false); err != nil {
		t.Fatal(err)
	}
}

func TestEmuPasskey(t *testing.T) {
	for _, mode := range []string{"keyboard", "display"} {
		t.Run(mode, func(t *testing.T) {
			got := make(chan uint32, 1)
			cfg := Config{NoReset: true}
			if mode == "keyboard" {
				cfg.Passkey = func(ctx context.Context, addr string) (uint32, error) {
					got <- passkeyOf(addr)
					return passkeyOf(addr), nil
				}
			} else {
				cfg.PasskeyDisplay = func(_ context.Context, addr string, pk uint32) { got <- pk }
			}
			env := startEmu(t, bled112.Config{}, cfg)
			d := env.connect(t, tortureAddr, gogatt.ConnectOptions{})
			ctx := ctxT(t, 10*time.Second)
			if err := d.Bond(ctx, true); err != nil {
				t.Fatalf("bond with passkey: %v", err)
			}
			select {
			case pk := <-got:
				if pk > 999999 {
					t.Fatalf("passkey %d", pk)
				}
			case <-ctx.Done():
				t.Fatal("passkey callback not called")
			}
			// MITM pairing gives an authenticated link.
			if v, err := d.CharRead(ctx, sim.TortureAuthenticated); err != nil || string(v) != "top secret" {
				t.Fatalf("authenticated read: %q %v", v, err)
			}
		})
	}
}

// passkeyOf is what the user would read off the peer; the emulator accepts any 6-digit key.
func passkeyOf(string) uint32 { return 123456 }

// Auto-detection: with no Port, Start finds the port whose USB ID is 2458:0001 (here the
// emulator's pty, as the enumerator would list a dongle) and resets it.
func TestEmuAutoDetect(t *testing.T) {
	emu, err := bled112.New(bled112.Config{Peripherals: sim.DemoPeripherals(1), ReenumerateOnReset: true})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	p, err := emu.ListenPTY(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	list := func() ([]*portDetails, error) {
		return []*portDetails{
			{Name: "/dev/ttyUSB7", IsUSB: true, VID: "0403", PID: "6001"},
			{Name: p.Path(), IsUSB: true, VID: "2458", PID: "0001", SerialNumber: "1"},
		}, nil
	}
	b := New(Config{ports: list, PollInterval: 5 * time.Millisecond, Logger: testLogger()})
	if err := b.Start(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	d, err := b.Connect(ctxT(t, 10*time.Second), hrmAddr, gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.RSSI(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}
