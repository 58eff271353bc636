package gatttool_test

// Tests against the REAL Debian gatttool / hcitool / bluetoothctl, with their Bluetooth sockets
// redirected to sim peripherals by internal/bluezsim's LD_PRELOAD shim.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"go.uber.org/goleak"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/gatttool"
	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) == "1" {
		runFake()
	}
	goleak.VerifyTestMain(m)
}

// Custom test peripheral layout (services after GAP 0x0001–0x0005 and GATT 0x0006–0x0009).
var (
	svcA      = bt.MustParseUUID("a0000000-0000-1000-8000-00805f9b34fb")
	svcB      = bt.MustParseUUID("b0000000-0000-1000-8000-00805f9b34fb")
	uRW       = bt.MustParseUUID("a0000001-0000-1000-8000-00805f9b34fb") // read/write/write-cmd
	uLong     = bt.MustParseUUID("a0000002-0000-1000-8000-00805f9b34fb") // 300-byte value
	uNotify   = bt.MustParseUUID("a0000003-0000-1000-8000-00805f9b34fb") // notify; CCCD after a user description
	uWriteOnl = bt.MustParseUUID("a0000004-0000-1000-8000-00805f9b34fb") // write only
	uReadOnly = bt.MustParseUUID("a0000005-0000-1000-8000-00805f9b34fb") // read only
	uEnc      = bt.MustParseUUID("a0000006-0000-1000-8000-00805f9b34fb") // needs encryption
	uAuthz    = bt.MustParseUUID("a0000007-0000-1000-8000-00805f9b34fb") // needs authorization
	uIndicate = bt.MustParseUUID("a0000008-0000-1000-8000-00805f9b34fb") // indicate
	uDup      = bt.MustParseUUID("d0000000-0000-1000-8000-00805f9b34fb") // in both services
	uEmpty    = bt.MustParseUUID("a0000009-0000-1000-8000-00805f9b34fb") // empty value
)

var longValue = func() []byte {
	v := make([]byte, 300)
	for i := range v {
		v[i] = byte(i * 7)
	}
	return v
}()

const testAddr = "C0:FF:EE:00:10:01"

func testPeripheral(t testing.TB, addr string) (*sim.Peripheral, *writes) {
	w := &writes{}
	b := sim.NewBuilder(bt.MustParseAddress(addr)).Name("gogatt-test").Seed(7)
	s := b.Service(svcA)
	s.Characteristic(uRW, gatt.PropRead|gatt.PropWrite|gatt.PropWriteWithoutResponse).Value([]byte{1, 2, 3}).MaxLength(512).
		OnWrite(func(r sim.Request, v []byte) att.ErrorCode { w.add(v); return 0 })
	s.Characteristic(uLong, gatt.PropRead|gatt.PropWrite).Value(longValue).MaxLength(512)
	s.Characteristic(uNotify, gatt.PropRead|gatt.PropNotify).Value(make([]byte, 8)).UserDescription("counter").CCCD()
	s.Characteristic(uWriteOnl, gatt.PropWrite).Value([]byte{0})
	s.Characteristic(uReadOnly, gatt.PropRead).Value([]byte("ro"))
	s.Characteristic(uEnc, gatt.PropRead).Value([]byte("secret")).RequireEncryption()
	s.Characteristic(uAuthz, gatt.PropRead).Value([]byte("authz")).RequireAuthorization()
	s.Characteristic(uIndicate, gatt.PropRead|gatt.PropIndicate).Value(make([]byte, 4))
	s.Characteristic(uDup, gatt.PropRead).Value([]byte("A"))
	s.Characteristic(uEmpty, gatt.PropRead).Value(nil)
	b.Service(svcB).Characteristic(uDup, gatt.PropRead).Value([]byte("B"))
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return p, w
}

type writes struct {
	mu sync.Mutex
	v  [][]byte
}

func (w *writes) add(v []byte) {
	w.mu.Lock()
	w.v = append(w.v, bytes.Clone(v))
	w.mu.Unlock()
}

func (w *writes) last() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.v) == 0 {
		return nil
	}
	return w.v[len(w.v)-1]
}

type rig struct {
	env *bluezsim.Env
	b   *gatttool.Backend
}

func logger(t testing.TB) *slog.Logger {
	if os.Getenv("GOGATT_GATTTOOL_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func setup(t testing.TB, cfg gatttool.Config, ps ...*sim.Peripheral) *rig {
	t.Helper()
	bluezsim.RequireTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	env, err := bluezsim.Start(ctx, bluezsim.Options{Peripherals: ps})
	if err != nil {
		t.Fatalf("bluezsim: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	cfg.Env = append(cfg.Env, env.Environ()...)
	if cfg.Logger == nil {
		cfg.Logger = logger(t)
	}
	b := gatttool.New(cfg)
	if err := b.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { b.Stop() })
	return &rig{env: env, b: b}
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func connect(t testing.TB, r *rig, addr string, opts gogatt.ConnectOptions) gogatt.Device {
	t.Helper()
	d, err := r.b.Connect(ctxT(t, 20*time.Second), addr, opts)
	if err != nil {
		t.Fatalf("Connect %s: %v", addr, err)
	}
	t.Cleanup(func() { d.Disconnect() })
	return d
}

func TestServicesRealCCCD(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 20*time.Second)
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	compareTree(t, svcs, p)
	n, _ := p.Characteristic(uNotify)
	if n.CCCDHandle == n.ValueHandle+1 {
		t.Fatal("test peripheral should place the CCCD away from value+1")
	}
	// Cached: a second call is free and equal.
	again, err := d.Services(ctx)
	if err != nil || len(again) != len(svcs) {
		t.Fatal("second Services differs", err)
	}
	m, err := d.DiscoverCharacteristics(ctx)
	if err != nil || len(m[uDup]) != 2 {
		t.Fatalf("DiscoverCharacteristics: %v %v", m[uDup], err)
	}
	if h, err := d.GetHandle(ctx, uRW); err != nil || h != p.ValueHandle(uRW) {
		t.Fatalf("GetHandle = %#x, %v", h, err)
	}
	_, err = d.GetHandle(ctx, uDup)
	var amb *gogatt.AmbiguousUUIDError
	if !errors.As(err, &amb) || len(amb.Candidates) != 2 {
		t.Fatalf("GetHandle(dup) = %v, want AmbiguousUUIDError", err)
	}
	if _, err := d.CharRead(ctx, uDup); !errors.As(err, &amb) {
		t.Fatalf("CharRead(dup) = %v", err)
	}
	if _, err := d.CharRead(ctx, bt.UUID16(0x1234)); !errors.Is(err, gogatt.ErrNotFound) {
		t.Fatalf("CharRead(missing) = %v", err)
	}
}

// compareTree checks a discovered tree against the simulator's own view, including every
// descriptor and the real CCCD handle.
func compareTree(t *testing.T, svcs []gogatt.Service, p *sim.Peripheral) {
	t.Helper()
	var want []sim.ServiceInfo
	for _, ws := range p.Services() {
		if ws.Primary {
			want = append(want, ws)
		}
	}
	if len(svcs) != len(want) {
		t.Fatalf("%d services, want %d", len(svcs), len(want))
	}
	for i, s := range svcs {
		ws := want[i]
		if s.UUID != ws.UUID || s.Handle != ws.Handle || s.EndHandle != ws.EndHandle || len(s.Characteristics) != len(ws.Characteristics) {
			t.Fatalf("service %d: got %+v want %+v", i, s, ws)
		}
		for j, c := range s.Characteristics {
			wc := ws.Characteristics[j]
			if c.UUID != wc.UUID || c.Handle != wc.Handle || c.ValueHandle != wc.ValueHandle || uint8(c.Properties) != uint8(wc.Properties) {
				t.Fatalf("char %v: got %+v want %+v", wc.UUID, c, wc)
			}
			cccd, ok := c.CCCD()
			if ok != (wc.CCCDHandle != 0) || cccd != wc.CCCDHandle {
				t.Fatalf("char %v: CCCD %#x,%v want %#x", wc.UUID, cccd, ok, wc.CCCDHandle)
			}
			if len(c.Descriptors) != len(wc.Descriptors) {
				t.Fatalf("char %v: descriptors %+v want %+v", wc.UUID, c.Descriptors, wc.Descriptors)
			}
			for k, d := range c.Descriptors {
				if d.UUID != wc.Descriptors[k].UUID || d.Handle != wc.Descriptors[k].Handle {
					t.Fatalf("char %v: descriptor %d %+v want %+v", wc.UUID, k, d, wc.Descriptors[k])
				}
			}
		}
	}
}

// The demo peripherals, including the torture device (≥ 50 characteristics, duplicate UUIDs,
// CCCDs away from value+1): the discovered tree equals the simulator's.
func TestDemoPeripheralsTree(t *testing.T) {
	ps := sim.DemoPeripherals(3)
	r := setup(t, gatttool.Config{}, ps...)
	ctx := ctxT(t, 60*time.Second)
	for _, p := range ps {
		d := connect(t, r, p.Address().String(), gogatt.ConnectOptions{AddressType: p.AddressType()})
		svcs, err := d.Services(ctx)
		if err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		compareTree(t, svcs, p)
		n := 0
		for _, s := range svcs {
			n += len(s.Characteristics)
		}
		t.Logf("%s: %d services, %d characteristics", p.Name(), len(svcs), n)
		d.Disconnect()
	}
	// Heart rate: notifications from the demo's own measurement characteristic.
	hr := ps[0]
	d := connect(t, r, hr.Address().String(), gogatt.ConnectOptions{AddressType: hr.AddressType()})
	got := make(chan []byte, 1)
	if err := d.Subscribe(ctx, bt.UUID16(0x2a37), func(_ uint16, v []byte) {
		select {
		case got <- v:
		default:
		}
	}, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	hr.Notify(hr.ValueHandle(bt.UUID16(0x2a37)), []byte{0, 72})
	select {
	case v := <-got:
		if len(v) == 0 {
			t.Fatal("empty heart-rate value")
		}
	case <-ctx.Done():
		t.Fatal("no heart-rate notification")
	}
}

func TestReadWrite(t *testing.T) {
	p, w := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 30*time.Second)

	if v, err := d.CharRead(ctx, bt.UUID16(0x2a00)); err != nil || string(v) != "gogatt-test" {
		t.Fatalf("read name = %q, %v", v, err)
	}
	if v, err := d.CharRead(ctx, uRW); err != nil || !bytes.Equal(v, []byte{1, 2, 3}) {
		t.Fatalf("read = % x, %v", v, err)
	}
	if v, err := d.CharRead(ctx, uEmpty); err != nil || len(v) != 0 || v == nil {
		t.Fatalf("read empty = %v, %v", v, err)
	}
	h := p.ValueHandle(uRW)
	if err := d.CharWriteHandle(ctx, h, []byte{9, 8, 7}, true); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.last(), []byte{9, 8, 7}) {
		t.Fatalf("peer saw % x", w.last())
	}
	if err := d.CharWrite(ctx, uRW, []byte{0xaa}, false); err != nil {
		t.Fatal(err)
	}
	// The write command is queued in gatttool; a read after it is answered after it.
	if v, err := d.CharReadHandle(ctx, h); err != nil || !bytes.Equal(v, []byte{0xaa}) {
		t.Fatalf("after write cmd: % x, %v", v, err)
	}
	if err := d.CharWrite(ctx, uRW, make([]byte, 21), false); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("write cmd > MTU-3: %v", err)
	}
	// One ATT Read returns at most ATT_MTU-1 bytes; a long read all of them (gatttool's Read
	// Blob) and a long write uses Prepare/Execute.
	if v, err := d.CharRead(ctx, uLong); err != nil || !bytes.Equal(v, longValue[:22]) {
		t.Fatalf("read of a long value: %d bytes, %v", len(v), err)
	}
	if v, err := d.CharReadLong(ctx, uLong); err != nil || !bytes.Equal(v, longValue) {
		t.Fatalf("long read: %d bytes, %v", len(v), err)
	}
	nv := slices.Clone(longValue)
	slices.Reverse(nv)
	if err := d.CharWriteLong(ctx, uLong, nv); err != nil {
		t.Fatal(err)
	}
	if v, err := d.CharReadLongHandle(ctx, p.ValueHandle(uLong)); err != nil || !bytes.Equal(v, nv) {
		t.Fatalf("long read after long write: %d bytes, %v", len(v), err)
	}
	// The longest value ATT allows: a 1050-character command line, never wrapped by readline.
	max := bytes.Repeat([]byte{0x5a, 0xa5}, 256)
	if err := d.CharWriteLong(ctx, uLong, max); err != nil {
		t.Fatal(err)
	}
	if v, err := d.CharReadLong(ctx, uLong); err != nil || !bytes.Equal(v, max) {
		t.Fatalf("512-byte round trip: %d bytes, %v", len(v), err)
	}
	if err := d.CharWriteLongHandle(ctx, h, make([]byte, 513)); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("513 bytes: %v", err)
	}
	if err := d.CharWriteHandle(ctx, h, nil, true); err == nil {
		t.Fatal("empty write accepted")
	}
	if _, err := d.CharReadHandle(ctx, 0); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("handle 0: %v", err)
	}
	if _, err := d.RSSI(ctx); !errors.Is(err, gogatt.ErrUnsupported) {
		t.Fatalf("RSSI: %v", err)
	}
	if got := d.Address(); got != testAddr {
		t.Fatalf("Address = %q", got)
	}
}

func TestATTErrors(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 30*time.Second)
	check := func(err error, op string, h uint16, code att.ErrorCode) {
		t.Helper()
		var ae *gogatt.ATTError
		if !errors.As(err, &ae) || ae.Code != code || ae.Handle != h || ae.Op != op {
			t.Fatalf("got %v, want ATT error %v on %#x (%s)", err, code, h, op)
		}
	}
	start := time.Now()
	_, err := d.CharRead(ctx, uWriteOnl)
	check(err, "read", p.ValueHandle(uWriteOnl), att.ErrReadNotPermitted)
	err = d.CharWrite(ctx, uReadOnly, []byte{1}, true)
	check(err, "write", p.ValueHandle(uReadOnly), att.ErrWriteNotPermitted)
	_, err = d.CharReadHandle(ctx, 0xfff0)
	check(err, "read", 0xfff0, att.ErrInvalidHandle)
	_, err = d.CharRead(ctx, uAuthz)
	check(err, "read", p.ValueHandle(uAuthz), att.ErrInsufficientAuthorization)
	err = d.CharWriteLong(ctx, uRW, make([]byte, 600)) // > MaxLength after our own limit: refused early
	if !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("600 bytes: %v", err)
	}
	// An error printed by gatttool is reported at once, never as a timeout.
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("errors took %v", el)
	}
	// Subscribing to a characteristic without notify is refused before any write.
	if err := d.Subscribe(ctx, uReadOnly, func(uint16, []byte) {}, gogatt.SubscribeOptions{}); !errors.Is(err, gogatt.ErrUnsupported) {
		t.Fatalf("subscribe read-only: %v", err)
	}
	// The connection still works after errors.
	if _, err := d.CharRead(ctx, uRW); err != nil {
		t.Fatal(err)
	}
}

func TestBondAndEncryption(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 30*time.Second)
	if err := d.Bond(ctx, true); err != nil {
		t.Fatalf("Bond: %v", err)
	}
	if v, err := d.CharRead(ctx, uEnc); err != nil || string(v) != "secret" {
		t.Fatalf("encrypted read after Bond: %q, %v", v, err)
	}
}

// Pairing refused by the peer: gatttool raises the security level by itself and retries
// (docs/bluez-tools.md §Security level), then prints the ATT error, which arrives typed.
func TestSecurityErrors(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	p.SetRefusePairing(true)
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 30*time.Second)
	_, err := d.CharRead(ctx, uEnc)
	var ae *gogatt.ATTError
	if !errors.As(err, &ae) || (ae.Code != att.ErrInsufficientEncryption && ae.Code != att.ErrInsufficientAuthentication) {
		t.Fatalf("encrypted read with pairing refused: %v", err)
	}
	t.Logf("refused pairing: %v", err)
}

func TestExchangeMTU(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 30*time.Second)
	if _, err := d.ExchangeMTU(ctx, 10); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("mtu 10: %v", err)
	}
	m, err := d.ExchangeMTU(ctx, 100)
	if err != nil || m != 100 {
		t.Fatalf("ExchangeMTU = %d, %v", m, err)
	}
	if m2, err := d.ExchangeMTU(ctx, 200); err != nil || m2 != 100 {
		t.Fatalf("second ExchangeMTU = %d, %v", m2, err)
	}
	// Write commands may now carry MTU-3 bytes.
	if err := d.CharWrite(ctx, uRW, make([]byte, 97), false); err != nil {
		t.Fatal(err)
	}
	if v, err := d.CharRead(ctx, uLong); err != nil || !bytes.Equal(v, longValue[:99]) {
		t.Fatalf("read at MTU 100: %d bytes, %v", len(v), err)
	}
	if v, err := d.CharReadLong(ctx, uLong); err != nil || !bytes.Equal(v, longValue) {
		t.Fatalf("long read at MTU 100: %d, %v", len(v), err)
	}
}

// seqCounter checks order and loss of generator values (4-byte LE sequence numbers).
type seqCounter struct {
	mu       sync.Mutex
	n        int
	next     uint32
	outOfOrd int
	done     chan struct{}
	want     int
}

func newSeqCounter(want int) *seqCounter { return &seqCounter{want: want, done: make(chan struct{})} }

func (s *seqCounter) handle(_ uint16, v []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(v) < 4 {
		s.outOfOrd++
		return
	}
	seq := binary.LittleEndian.Uint32(v)
	if seq != s.next {
		s.outOfOrd++
	}
	s.next = seq + 1
	s.n++
	if s.n == s.want {
		close(s.done)
	}
}

func (s *seqCounter) counts() (n, bad int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, s.outOfOrd
}

func TestNotificationsAndIndications(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 60*time.Second)

	const n = 200
	sc := newSeqCounter(n)
	if err := d.Subscribe(ctx, uNotify, sc.handle, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	nh := p.ValueHandle(uNotify)
	if p.Subscribers(nh) != 1 {
		t.Fatalf("peer sees %d subscribers (CCCD not written?)", p.Subscribers(nh))
	}
	stop := p.StartGenerator(nh, n, 0)
	select {
	case <-sc.done:
	case <-ctx.Done():
		got, _ := sc.counts()
		t.Fatalf("only %d of %d notifications", got, n)
	}
	stop()
	if got, bad := sc.counts(); got != n || bad != 0 {
		t.Fatalf("received %d (out of order %d)", got, bad)
	}
	if r, ok := d.(gogatt.SubscriptionStatsReporter); !ok {
		t.Fatal("no SubscriptionStatsReporter")
	} else if st, ok := r.SubscriptionStats(nh); !ok || st.Received != n || st.Dropped != 0 {
		t.Fatalf("stats %+v, %v", st, ok)
	}
	// A handler may call the device (no deadlock: handlers never run under our locks).
	reentered := make(chan error, 1)
	if err := d.Subscribe(ctx, uNotify, func(uint16, []byte) {
		_, err := d.CharRead(ctx, uRW)
		select {
		case reentered <- err:
		default:
		}
	}, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Notify(nh, []byte{1, 2, 3, 4})
	if err := <-reentered; err != nil {
		t.Fatalf("read from handler: %v", err)
	}
	if err := d.Unsubscribe(ctx, uNotify); err != nil {
		t.Fatal(err)
	}
	if p.Subscribers(nh) != 0 {
		t.Fatal("CCCD not cleared")
	}

	// Indications (gatttool confirms them itself).
	ic := newSeqCounter(20)
	ih := p.ValueHandle(uIndicate)
	if err := d.SubscribeHandle(ctx, ih, ic.handle, gogatt.SubscribeOptions{Indication: true}); err != nil {
		t.Fatal(err)
	}
	stop = p.StartGenerator(ih, 20, 0)
	select {
	case <-ic.done:
	case <-ctx.Done():
		got, _ := ic.counts()
		t.Fatalf("only %d of 20 indications", got)
	}
	stop()
	if got, bad := ic.counts(); got != 20 || bad != 0 {
		t.Fatalf("indications %d, out of order %d", got, bad)
	}
	if err := d.ResubscribeAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.UnsubscribeHandle(ctx, ih); err != nil {
		t.Fatal(err)
	}
}

func TestConnectErrorsAndValidation(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	ctx := ctxT(t, 30*time.Second)
	for _, bad := range []string{"C0:FF:EE:00:10:01\nprimary", "C0:FF:EE:00:10:01 random", "zz", "C0-FF-EE-00-10-01", ""} {
		if _, err := r.b.Connect(ctx, bad, gogatt.ConnectOptions{}); !errors.Is(err, gogatt.ErrInvalidParameter) {
			t.Fatalf("Connect(%q) = %v", bad, err)
		}
	}
	if err := r.b.ClearBond(ctx, "AA:BB\nremove *"); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("ClearBond injection: %v", err)
	}
	// No peer at this address: the error gatttool prints comes back at once.
	start := time.Now()
	_, err := r.b.Connect(ctx, "C0:FF:EE:0F:0F:0F", gogatt.ConnectOptions{Timeout: 10 * time.Second})
	if !errors.Is(err, gogatt.ErrNotConnected) || errors.Is(err, gogatt.ErrTimeout) {
		t.Fatalf("connect to nobody: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("connect error took %v", time.Since(start))
	}
	// Out of range: the connection attempt pends until ConnectOptions.Timeout.
	p.SetInRange(false)
	start = time.Now()
	_, err = r.b.Connect(ctx, testAddr, gogatt.ConnectOptions{Timeout: 700 * time.Millisecond})
	if !errors.Is(err, gogatt.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("connect out of range: %v after %v", err, time.Since(start))
	}
	p.SetInRange(true)
	p.SetRefuseConnections(true)
	_, err = r.b.Connect(ctx, testAddr, gogatt.ConnectOptions{})
	if !errors.Is(err, gogatt.ErrNotConnected) {
		t.Fatalf("refused connect: %v", err)
	}
	t.Logf("refused: %v", err)
	p.SetRefuseConnections(false)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	if err := d.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := d.Disconnect(); err != nil { // idempotent
		t.Fatal(err)
	}
	<-d.Disconnected()
	if _, err := d.CharRead(ctx, uRW); !errors.Is(err, gogatt.ErrNotConnected) {
		t.Fatalf("read after Disconnect: %v", err)
	}
	var de *gogatt.DisconnectError
	if !errors.As(d.Err(), &de) {
		t.Fatalf("Err = %v", d.Err())
	}
}

func TestLinkLoss(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	var mu sync.Mutex
	var events []gogatt.ConnectionEventKind
	d := connect(t, r, testAddr, gogatt.ConnectOptions{OnConnectionEvent: func(e gogatt.ConnectionEvent) {
		mu.Lock()
		events = append(events, e.Kind)
		mu.Unlock()
	}})
	ctx := ctxT(t, 30*time.Second)
	if _, err := d.CharRead(ctx, uRW); err != nil {
		t.Fatal(err)
	}
	p.SetInRange(false)
	select {
	case <-d.Disconnected():
	case <-ctx.Done():
		t.Fatal("link loss not noticed")
	}
	var de *gogatt.DisconnectError
	if !errors.As(d.Err(), &de) || !errors.Is(d.Err(), gogatt.ErrNotConnected) {
		t.Fatalf("Err = %v", d.Err())
	}
	if _, err := d.CharRead(ctx, uRW); !errors.Is(err, gogatt.ErrNotConnected) {
		t.Fatalf("read after loss: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) == 0 || events[0] != gogatt.EventDisconnected {
		t.Fatalf("events %v", events)
	}
}

func TestAutoReconnectResubscribes(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	evs := make(chan gogatt.ConnectionEvent, 16)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{AutoReconnect: true, ReconnectMinDelay: 50 * time.Millisecond,
		ReconnectMaxDelay: 200 * time.Millisecond, OnConnectionEvent: func(e gogatt.ConnectionEvent) { evs <- e }})
	ctx := ctxT(t, 60*time.Second)
	got := make(chan []byte, 16)
	if err := d.Subscribe(ctx, uNotify, func(_ uint16, v []byte) { got <- v }, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	nh := p.ValueHandle(uNotify)
	p.SetInRange(false)
	waitEvent(t, ctx, evs, gogatt.EventDisconnected)
	p.SetInRange(true)
	waitEvent(t, ctx, evs, gogatt.EventReconnected)
	if p.Subscribers(nh) != 1 {
		t.Fatalf("not resubscribed: %d", p.Subscribers(nh))
	}
	p.Notify(nh, []byte("after"))
	select {
	case v := <-got:
		if string(v) != "after" {
			t.Fatalf("got %q", v)
		}
	case <-ctx.Done():
		t.Fatal("no notification after reconnection")
	}
	if _, err := d.CharRead(ctx, uRW); err != nil {
		t.Fatal(err)
	}
}

func waitEvent(t *testing.T, ctx context.Context, evs chan gogatt.ConnectionEvent, k gogatt.ConnectionEventKind) {
	t.Helper()
	for {
		select {
		case e := <-evs:
			if e.Kind == k {
				return
			}
			if e.Kind == gogatt.EventGaveUp {
				t.Fatalf("gave up: %v", e.Err)
			}
		case <-ctx.Done():
			t.Fatalf("no %v event", k)
		}
	}
}

// The peripheral stops answering: gatttool would wait 30 s and then hang for ever
// (docs/bluez-tools.md §ATT timeout hang).
// The hang detector (RequestTimeout) kills it and reports a timeout; the device is lost.
func TestUnresponsivePeripheralHang(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{RequestTimeout: 2500 * time.Millisecond}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 30*time.Second)
	if _, err := d.CharRead(ctx, uRW); err != nil {
		t.Fatal(err)
	}
	p.SetUnresponsive(true)
	_, err := d.CharRead(ctx, uRW)
	if !errors.Is(err, gogatt.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read from unresponsive peer: %v", err)
	}
	select {
	case <-d.Disconnected():
	case <-ctx.Done():
		t.Fatal("hung connection not dropped")
	}
	if !errors.Is(d.Err(), gogatt.ErrTimeout) {
		t.Fatalf("Err = %v", d.Err())
	}
	// A new connection works once the peer answers again.
	p.SetUnresponsive(false)
	d2 := connect(t, r, testAddr, gogatt.ConnectOptions{})
	if _, err := d2.CharRead(ctx, uRW); err != nil {
		t.Fatal(err)
	}
}

// A caller's deadline shorter than the peer's response time: the call returns at its deadline,
// and the late answer is not taken for the next command's.
func TestContextDeadlineMidOperation(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 30*time.Second)
	if _, err := d.Services(ctx); err != nil {
		t.Fatal(err)
	}
	p.SetResponseDelay(400 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := d.CharRead(short, uReadOnly)
	cancel()
	if !errors.Is(err, gogatt.ErrTimeout) {
		t.Fatalf("short deadline: %v", err)
	}
	p.SetResponseDelay(0)
	if v, err := d.CharRead(ctx, uRW); err != nil || !bytes.Equal(v, []byte{1, 2, 3}) {
		t.Fatalf("next read got % x, %v (stale answer?)", v, err)
	}
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	if _, err := d.CharRead(cctx, uRW); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}

func TestThreeDevicesAtOnce(t *testing.T) {
	addrs := []string{"C0:FF:EE:00:20:01", "C0:FF:EE:00:20:02", "C0:FF:EE:00:20:03"}
	var ps []*sim.Peripheral
	for _, a := range addrs {
		p, _ := testPeripheral(t, a)
		ps = append(ps, p)
	}
	r := setup(t, gatttool.Config{}, ps...)
	ctx := ctxT(t, 60*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, len(addrs))
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := r.b.Connect(ctx, a, gogatt.ConnectOptions{})
			if err != nil {
				errs <- err
				return
			}
			defer d.Disconnect()
			sc := newSeqCounter(50)
			if err := d.Subscribe(ctx, uNotify, sc.handle, gogatt.SubscribeOptions{}); err != nil {
				errs <- err
				return
			}
			stop := ps[i].StartGenerator(ps[i].ValueHandle(uNotify), 50, 0)
			defer stop()
			for range 20 {
				if err := d.CharWrite(ctx, uRW, []byte{byte(i)}, true); err != nil {
					errs <- err
					return
				}
				v, err := d.CharRead(ctx, uRW)
				if err != nil || !bytes.Equal(v, []byte{byte(i)}) {
					errs <- errors.Join(err, errors.New("wrong value from "+a))
					return
				}
			}
			select {
			case <-sc.done:
			case <-ctx.Done():
				errs <- errors.New("notifications missing on " + a)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestScan(t *testing.T) {
	ps := sim.DemoPeripherals(1)
	r := setup(t, gatttool.Config{}, ps...)
	ctx := ctxT(t, 30*time.Second)
	res, err := r.b.Scan(ctx, gogatt.ScanOptions{Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, x := range res {
		seen[x.Address] = x.Name
	}
	for _, p := range ps {
		name, ok := seen[p.Address().String()]
		if !ok {
			t.Fatalf("%s not seen: %+v", p.Address(), res)
		}
		if p.Name() != "" && name != p.Name() {
			t.Errorf("%s: name %q, want %q", p.Address(), name, p.Name())
		}
	}
	// The callback stops the scan at once.
	calls := 0
	start := time.Now()
	_, err = r.b.Scan(ctx, gogatt.ScanOptions{Timeout: 20 * time.Second, Passive: true, OnAdvertisement: func(gogatt.ScanResult) bool {
		calls++
		return false
	}})
	if err != nil || calls != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("stopped scan: %v, %d calls, %v", err, calls, time.Since(start))
	}
	f, err := r.b.FilteredScan(ctx, "Torture", gogatt.ScanOptions{Timeout: time.Second})
	if err != nil || len(f) != 1 {
		t.Fatalf("FilteredScan = %+v, %v", f, err)
	}
	// A scan runs only once at a time and ends with ctx.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := r.b.Scan(cctx, gogatt.ScanOptions{Timeout: time.Minute}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ctx-ended scan: %v", err)
	}
}

// A scan left enabled by an hcitool killed without SIGINT (docs/bluez-tools.md §Stopping lescan):
// the next lescan gets "Set scan parameters failed: Input/output error", reported as ErrBusy; after
// a controller reset scanning works again.
func TestScanLeftEnabledIsBusy(t *testing.T) {
	r := setup(t, gatttool.Config{}, sim.DemoPeripherals(1)...)
	ctx := ctxT(t, 30*time.Second)
	path, err := exec.LookPath("hcitool")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "-i", "hci0", "lescan")
	cmd.Env = append(os.Environ(), r.env.Environ()...)
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "LE Scan") {
		t.Fatalf("hcitool: %q, %v", line, err)
	}
	cmd.Process.Kill() // SIGKILL: the controller keeps scanning
	cmd.Wait()
	f.Close()
	_, err = r.b.Scan(ctx, gogatt.ScanOptions{Timeout: time.Second})
	if !errors.Is(err, gogatt.ErrBusy) || !strings.Contains(err.Error(), "Set scan parameters failed: Input/output error") {
		t.Fatalf("scan after a killed hcitool: %v", err)
	}
	r.env.ResetController()
	if res, err := r.b.Scan(ctx, gogatt.ScanOptions{Timeout: time.Second}); err != nil || len(res) == 0 {
		t.Fatalf("scan after reset: %v, %v", res, err)
	}
}

// Adapter powered off: hcitool says "Invalid device: Network is down", `hcitool dev` no longer
// lists it, bluetoothd answers RemoveDevice with org.bluez.Error.NotReady (docs/bluez-tools.md
// §lescan errors, §bluetoothctl remove).
func TestAdapterDown(t *testing.T) {
	ps := sim.DemoPeripherals(1)
	r := setup(t, gatttool.Config{}, ps...)
	ctx := ctxT(t, 30*time.Second)
	r.env.AddBond(ps[0].Address())
	if err := r.env.SetPowered(false); err != nil {
		t.Fatal(err)
	}
	_, err := r.b.Scan(ctx, gogatt.ScanOptions{Timeout: time.Second})
	if !errors.Is(err, gogatt.ErrNoAdapter) || !strings.Contains(err.Error(), "Network is down") {
		t.Fatalf("scan with adapter down: %v", err)
	}
	err = r.b.ClearBond(ctx, ps[0].Address().String())
	if !errors.Is(err, gogatt.ErrNoAdapter) || !strings.Contains(err.Error(), "NotReady") {
		t.Fatalf("ClearBond with adapter down: %v", err)
	}
	b2 := gatttool.New(gatttool.Config{Env: r.env.Environ()})
	if err := b2.Start(ctx); !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("Start with adapter down: %v", err)
	}
	b2.Stop()
	if err := r.env.SetPowered(true); err != nil {
		t.Fatal(err)
	}
	if err := r.b.ClearBond(ctx, ps[0].Address().String()); err != nil {
		t.Fatalf("ClearBond after power on: %v", err)
	}
	if res, err := r.b.Scan(ctx, gogatt.ScanOptions{Timeout: time.Second}); err != nil || len(res) == 0 {
		t.Fatalf("scan after power on: %v, %v", res, err)
	}
}

func TestScanNoAdapter(t *testing.T) {
	r := setup(t, gatttool.Config{}, sim.DemoPeripherals(1)...)
	_ = r
	b := gatttool.New(gatttool.Config{HCIDevice: "hci7", Env: r.env.Environ(), SkipAdapterCheck: true})
	ctx := ctxT(t, 20*time.Second)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	_, err := b.Scan(ctx, gogatt.ScanOptions{Timeout: time.Second})
	if !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("scan on hci7: %v", err)
	}
	b2 := gatttool.New(gatttool.Config{HCIDevice: "hci7", Env: r.env.Environ()})
	if err := b2.Start(ctx); !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("Start on hci7: %v", err)
	}
	b2.Stop()
	if err := gatttool.New(gatttool.Config{HCIDevice: "hci0; rm -rf /"}).Start(ctx); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("bad HCIDevice: %v", err)
	}
}

func TestClearBond(t *testing.T) {
	ps := sim.DemoPeripherals(1)
	r := setup(t, gatttool.Config{}, ps...)
	ctx := ctxT(t, 30*time.Second)
	a1, a2 := ps[0].Address(), ps[1].Address()
	r.env.AddBond(a1)
	r.env.AddBond(a2)
	if err := r.b.ClearBond(ctx, a1.String()); err != nil {
		t.Fatal(err)
	}
	if b := r.env.Bonds(); slices.Contains(b, a1) || !slices.Contains(b, a2) {
		t.Fatalf("bonds after ClearBond(a1): %v", b)
	}
	if err := r.b.ClearBond(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if b := r.env.Bonds(); len(b) != 0 {
		t.Fatalf("bonds after ClearBond(all): %v", b)
	}
	// Removing a connected device disconnects it first (bluetoothd, docs/bluez-tools.md
	// §bluetoothctl remove): the Device reports the loss.
	d := connect(t, r, a1.String(), gogatt.ConnectOptions{})
	r.env.AddBond(a1)
	if err := r.b.ClearBond(ctx, a1.String()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Disconnected():
	case <-ctx.Done():
		t.Fatal("connected device not dropped by its removal")
	}
	// Unknown device: nothing to remove.
	if err := r.b.ClearBond(ctx, "11:11:11:11:11:11"); err != nil {
		t.Fatal(err)
	}
}

// Without a system bus bluetoothctl aborts; with a bus but no bluetoothd it waits for ever
// (docs/bluez-tools.md §Without bluetoothd). Both become clear errors within the timeout.
func TestClearBondNoBluetoothd(t *testing.T) {
	bluezsim.RequireTools(t)
	ctx := ctxT(t, 20*time.Second)
	b := gatttool.New(gatttool.Config{SkipAdapterCheck: true, ToolTimeout: 2 * time.Second,
		Env: []string{"DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/gogatt-test-bus"}})
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	start := time.Now()
	err := b.ClearBond(ctx, "")
	if err == nil || time.Since(start) > 8*time.Second {
		t.Fatalf("ClearBond without bus: %v after %v", err, time.Since(start))
	}
	t.Logf("no bus: %v", err)
	if !errors.Is(err, gogatt.ErrNoAdapter) && !errors.Is(err, gogatt.ErrTimeout) {
		t.Fatalf("unexpected error class: %v", err)
	}
}

// A system bus without org.bluez: bluetoothctl waits for ever (docs/bluez-tools.md §Without
// bluetoothd); ClearBond fails with a timeout error naming bluetoothd within ToolTimeout.
func TestClearBondBusWithoutBluetoothd(t *testing.T) {
	bluezsim.RequireTools(t)
	ctx := ctxT(t, 20*time.Second)
	daemon := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address=1")
	out, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { daemon.Process.Kill(); daemon.Wait() }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	b := gatttool.New(gatttool.Config{SkipAdapterCheck: true, ToolTimeout: time.Second,
		Env: []string{"DBUS_SYSTEM_BUS_ADDRESS=" + strings.TrimSpace(addr)}})
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	start := time.Now()
	err = b.ClearBond(context.Background(), "C0:FF:EE:00:00:01")
	if !errors.Is(err, gogatt.ErrTimeout) || !strings.Contains(err.Error(), "bluetoothd") || time.Since(start) > 5*time.Second {
		t.Fatalf("ClearBond without bluetoothd: %v after %v", err, time.Since(start))
	}
	t.Logf("no bluetoothd: %v", err)
}

// A peripheral with a random address: `connect ADDRESS random` (gatttool resets the type to
// public when none is given, docs/bluez-tools.md §Connect).
func TestRandomAddress(t *testing.T) {
	const a = "D0:FF:EE:00:30:01"
	p := sim.NewBuilder(bt.MustParseAddress(a)).AddressType(bt.AddressRandom).Name("random").MustBuild()
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, a, gogatt.ConnectOptions{AddressType: gogatt.AddressRandom})
	if v, err := d.CharRead(ctxT(t, 10*time.Second), bt.UUID16(0x2a00)); err != nil || string(v) != "random" {
		t.Fatalf("read = %q, %v", v, err)
	}
}

func TestStopIdempotentAndNotStarted(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	ctx := ctxT(t, 20*time.Second)
	d, err := r.b.Connect(ctx, testAddr, gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.b.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := r.b.Stop(); err != nil {
		t.Fatal(err)
	}
	<-d.Disconnected()
	if _, err := r.b.Connect(ctx, testAddr, gogatt.ConnectOptions{}); !errors.Is(err, gogatt.ErrNotStarted) {
		t.Fatalf("Connect after Stop: %v", err)
	}
	fresh := gatttool.New(gatttool.Config{})
	if _, err := fresh.Connect(ctx, testAddr, gogatt.ConnectOptions{}); !errors.Is(err, gogatt.ErrNotStarted) {
		t.Fatalf("Connect before Start: %v", err)
	}
	if _, err := fresh.Scan(ctx, gogatt.ScanOptions{}); !errors.Is(err, gogatt.ErrNotStarted) {
		t.Fatalf("Scan before Start: %v", err)
	}
	if err := fresh.ClearBond(ctx, ""); !errors.Is(err, gogatt.ErrNotStarted) {
		t.Fatalf("ClearBond before Start: %v", err)
	}
	if err := fresh.Stop(); err != nil {
		t.Fatal(err)
	}
	// Start after Stop is allowed (gogatt.Backend.Start); the contract suite checks it
	// (gogatttest, Lifecycle).
	if !r.b.SupportsUnbonded() {
		t.Fatal("SupportsUnbonded")
	}
}

// Without the shim, on a kernel without Bluetooth (as on the build machines), the real tools
// fail at once: gatttool with "socket(SEQPACKET, L2CAP): Address family not supported by
// protocol (97)", hcitool with "Invalid device: Address family not supported by protocol"
// (docs/bluez-tools.md §No kernel Bluetooth). Both are typed as gogatt.ErrNoAdapter.
func TestNoKernelBluetooth(t *testing.T) {
	bluezsim.RequireTools(t)
	fd, err := syscall.Socket(31 /* AF_BLUETOOTH */, syscall.SOCK_SEQPACKET, 0)
	if err == nil {
		syscall.Close(fd)
		t.Skip("this kernel has Bluetooth")
	}
	if !errors.Is(err, syscall.EAFNOSUPPORT) {
		t.Skipf("socket(AF_BLUETOOTH): %v", err)
	}
	ctx := ctxT(t, 20*time.Second)
	b := gatttool.New(gatttool.Config{SkipAdapterCheck: true, Logger: logger(t)})
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	_, err = b.Connect(ctx, testAddr, gogatt.ConnectOptions{})
	if !errors.Is(err, gogatt.ErrNoAdapter) || !errors.Is(err, syscall.EAFNOSUPPORT) || !errors.Is(err, gogatt.ErrNotConnected) {
		t.Fatalf("connect without Bluetooth: %v", err)
	}
	_, err = b.Scan(ctx, gogatt.ScanOptions{Timeout: time.Second})
	if !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("scan without Bluetooth: %v", err)
	}
	b2 := gatttool.New(gatttool.Config{})
	if err := b2.Start(ctx); !errors.Is(err, gogatt.ErrNoAdapter) {
		t.Fatalf("Start without Bluetooth: %v", err)
	}
	b2.Stop()
}

// A handler may disconnect its own device (handlers never run on the reader or under a lock).
func TestDisconnectFromHandler(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	ctx := ctxT(t, 20*time.Second)
	done := make(chan error, 1)
	if err := d.Subscribe(ctx, uNotify, func(uint16, []byte) {
		select {
		case done <- d.Disconnect():
		default:
		}
	}, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Notify(p.ValueHandle(uNotify), []byte{1, 0, 0, 0})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("Disconnect from a handler did not return")
	}
	<-d.Disconnected()
}
