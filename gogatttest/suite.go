package gogatttest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/sim"
)

// hang bounds every wait of the suite: it only catches a hang, never measures speed.
const hang = 30 * time.Second

// Run runs the contract suite; newEnv builds a fresh environment for each test (its clean-up
// registered on the t it is given).
func Run(t *testing.T, newEnv func(t *testing.T) Env) {
	tests := []suiteTest{
		{"Lifecycle", testLifecycle},
		{"Scan", testScan},
		{"ScanEnds", testScanEnds},
		{"ConnectInvalid", testConnectInvalid},
		{"Discovery", testDiscovery},
		{"ReadWrite", testReadWrite},
		{"Errors", testErrors},
		{"MTUAndRSSI", testMTUAndRSSI},
		{"Subscribe", testSubscribe},
		{"UnsubscribeNotSubscribed", testUnsubscribeNotSubscribed},
		{"ResubscribeFailure", testResubscribeFailure},
		{"HandlerReentrancy", testHandlerReentrancy},
		{"Disconnect", testDisconnect},
		{"StopDiscards", testStopDiscards},
		{"StopFromHandler", testStopFromHandler},
		{"AutoReconnect", testAutoReconnect},
		{"LinkLoss", testLinkLoss},
		{"SeveralDevices", testSeveralDevices},
		{"Bond", testBond},
	}
	tests = append(tests, stopTests()...)
	tests = append(tests, matrixTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newEnv(t)) })
	}
}

// suiteTest is one test of the suite, given a fresh environment.
type suiteTest struct {
	name string
	fn   func(*testing.T, Env)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	t.Cleanup(cancel)
	return ctx
}

func start(t *testing.T, e Env) {
	t.Helper()
	if err := e.Backend.Start(ctxT(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { e.Backend.Stop() })
}

// connectOptions are opts with Env.ConnectTimeout when they set no timeout: the options of a
// connection that is expected to succeed.
func (e Env) connectOptions(opts gogatt.ConnectOptions) gogatt.ConnectOptions {
	if opts.Timeout == 0 {
		opts.Timeout = e.ConnectTimeout
	}
	return opts
}

func connect(t *testing.T, e Env, addr string, opts gogatt.ConnectOptions) gogatt.Device {
	t.Helper()
	d, err := e.Backend.Connect(ctxT(t), addr, e.connectOptions(opts))
	if err != nil {
		t.Fatalf("Connect %s: %v", addr, err)
	}
	t.Cleanup(func() { d.Disconnect() })
	return d
}

func stats(t *testing.T, d gogatt.Device, vh uint16) gogatt.SubscriptionStats {
	t.Helper()
	r, ok := d.(gogatt.SubscriptionStatsReporter)
	if !ok {
		t.Fatalf("%T does not implement gogatt.SubscriptionStatsReporter", d)
	}
	st, ok := r.SubscriptionStats(vh)
	if !ok {
		t.Fatalf("no SubscriptionStats for 0x%04x", vh)
	}
	return st
}

// waitFor waits until cond, a condition on state the suite does not control (the library's
// counters, the peripheral's links), holds; only a hang fails it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// poll reports whether cond holds now or at a tick of a ticker before the hang deadline.
func poll(cond func() bool) bool {
	if cond() {
		return true
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(hang)
	defer deadline.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return true
			}
		case <-deadline.C:
			return cond()
		}
	}
}

// waitStats waits until ok accepts the counters of d's subscription to vh and returns them.
func waitStats(t *testing.T, d gogatt.Device, vh uint16, what string, ok func(gogatt.SubscriptionStats) bool) gogatt.SubscriptionStats {
	t.Helper()
	var st gogatt.SubscriptionStats
	waitFor(t, what, func() bool { st = stats(t, d, vh); return ok(st) })
	return st
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hang):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func pattern(n int, mul byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) * mul
	}
	return b
}

func seq(i int) []byte { return binary.LittleEndian.AppendUint32(make([]byte, 0, 4), uint32(i)) }

// Lifecycle: every call before Start and after Stop fails with ErrNotStarted; Start is
// idempotent; Stop is idempotent; Start after Stop starts the backend again.
func testLifecycle(t *testing.T, e Env) {
	ctx := ctxT(t)
	b := e.Backend
	t.Cleanup(func() { b.Stop() })
	notStarted := func(when string) {
		t.Helper()
		if _, err := b.Connect(ctx, sim.HeartRateAddress, gogatt.ConnectOptions{}); !errors.Is(err, gogatt.ErrNotStarted) {
			t.Errorf("%s: Connect = %v, want ErrNotStarted", when, err)
		}
		if _, err := b.Scan(ctx, gogatt.ScanOptions{Timeout: time.Second}); !errors.Is(err, gogatt.ErrNotStarted) {
			t.Errorf("%s: Scan = %v, want ErrNotStarted", when, err)
		}
	}
	notStarted("before Start")
	if err := b.Stop(); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
	for i := range 2 {
		if err := b.Start(ctx); err != nil {
			t.Fatalf("Start #%d: %v", i+1, err)
		}
	}
	d, err := b.Connect(ctx, sim.HeartRateAddress, gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	<-d.Disconnected()
	if _, err := d.CharRead(ctx, gatt.UUIDBodySensorLocation); !errors.Is(err, gogatt.ErrNotConnected) {
		t.Errorf("CharRead after Stop = %v, want ErrNotConnected", err)
	}
	if err := b.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	notStarted("after Stop")
	// Start after Stop is allowed (pygatt's reset() maps to Stop then Start).
	if err := b.Start(ctx); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	d = connect(t, e, sim.HeartRateAddress, gogatt.ConnectOptions{})
	if v, err := d.CharRead(ctx, gatt.UUIDBodySensorLocation); err != nil || !bytes.Equal(v, []byte{1}) {
		t.Fatalf("CharRead after restart = %x, %v", v, err)
	}
}

func demoAddrs() map[string]string {
	return map[string]string{sim.HeartRateAddress: sim.HeartRateName, sim.ThermometerAddress: sim.ThermometerName, sim.TortureAddress: sim.TortureName}
}

// Scan and FilteredScan: every demo peripheral is found with its name (also one named only in
// its scan response); a scan that OnAdvertisement ends returns nil; FilteredScan keeps only
// matching names; invalid scan parameters are refused.
func testScan(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	want := demoAddrs()
	named := map[string]bool{}
	res, err := e.Backend.Scan(ctx, gogatt.ScanOptions{Timeout: hang, OnAdvertisement: func(r gogatt.ScanResult) bool {
		if want[r.Address] != "" && r.Name == want[r.Address] {
			named[r.Address] = true
		}
		return len(named) < len(want)
	}})
	if err != nil {
		t.Fatalf("Scan ended by OnAdvertisement = %v, want nil", err)
	}
	got := map[string]string{}
	for _, r := range res {
		got[r.Address] = r.Name
	}
	for a, n := range want {
		if got[a] != n {
			t.Errorf("Scan: %s named %q, want %q (results %+v)", a, got[a], n, res)
		}
	}

	res, err = e.Backend.FilteredScan(ctx, "Torture", gogatt.ScanOptions{Timeout: hang, OnAdvertisement: func(r gogatt.ScanResult) bool {
		if r.Name != sim.TortureName {
			t.Errorf("FilteredScan: OnAdvertisement saw %q", r.Name)
		}
		return false
	}})
	if err != nil || len(res) != 1 || res[0].Address != sim.TortureAddress {
		t.Fatalf("FilteredScan = %+v, %v", res, err)
	}

	_, err = e.Backend.Scan(ctx, gogatt.ScanOptions{Interval: 10 * time.Millisecond, Window: 20 * time.Millisecond})
	if !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Fatalf("Scan with Window > Interval = %v, want ErrInvalidParameter", err)
	}
}

// How a scan ends: opts.Timeout → nil; ctx deadline → the results so far and an error
// matching ErrTimeout and context.DeadlineExceeded; ctx cancelled → context.Canceled; Stop →
// the results so far and an error matching ErrNotStarted.
func testScanEnds(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	if _, err := e.Backend.Scan(ctx, gogatt.ScanOptions{Timeout: 200 * time.Millisecond}); err != nil {
		t.Errorf("Scan ended by opts.Timeout = %v, want nil", err)
	}

	// Deadline: the context's deadline is set short; the scan must end with ErrTimeout.
	tctx, tcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer tcancel()
	_, err := e.Backend.Scan(tctx, gogatt.ScanOptions{Timeout: 2 * hang})
	if !errors.Is(err, gogatt.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Scan ended by ctx deadline = %v, want ErrTimeout and DeadlineExceeded", err)
	}

	// Cancellation after the first advertisement: partial results and context.Canceled.
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	res, err := e.Backend.Scan(cctx, gogatt.ScanOptions{Timeout: 2 * hang, OnAdvertisement: func(gogatt.ScanResult) bool {
		ccancel()
		return true
	}})
	if !errors.Is(err, context.Canceled) || len(res) == 0 {
		t.Errorf("Scan ended by cancel = %d results, %v; want some and context.Canceled", len(res), err)
	}

	// Stop after the first advertisement: partial results and ErrNotStarted.
	stopped := make(chan error, 1)
	var stopOnce sync.Once
	res, err = e.Backend.Scan(ctx, gogatt.ScanOptions{Timeout: 2 * hang, OnAdvertisement: func(gogatt.ScanResult) bool {
		stopOnce.Do(func() { go func() { stopped <- e.Backend.Stop() }() })
		return true
	}})
	if !errors.Is(err, gogatt.ErrNotStarted) || len(res) == 0 {
		t.Errorf("Scan ended by Stop = %d results, %v; want some and ErrNotStarted", len(res), err)
	}
	if err := recv(t, stopped, "Stop"); err != nil {
		t.Fatal(err)
	}
}

func testConnectInvalid(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	for _, tc := range []struct {
		addr string
		opts gogatt.ConnectOptions
	}{
		{"not an address", gogatt.ConnectOptions{}},
		{sim.HeartRateAddress, gogatt.ConnectOptions{Latency: 1000}},
		{sim.HeartRateAddress, gogatt.ConnectOptions{IntervalMin: time.Millisecond}},
	} {
		if d, err := e.Backend.Connect(ctx, tc.addr, tc.opts); !errors.Is(err, gogatt.ErrInvalidParameter) {
			if d != nil {
				d.Disconnect()
			}
			t.Errorf("Connect(%q, %+v) = %v, want ErrInvalidParameter", tc.addr, tc.opts, err)
		}
	}
}

// Discovery: the tree, handles by UUID, the real CCCD, duplicates.
func testDiscovery(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []gogatt.UUID
	for _, s := range p.Services() {
		if s.Primary && !slices.Contains(e.HiddenServices, s.UUID) {
			want = append(want, s.UUID)
		}
	}
	for _, s := range svcs {
		got = append(got, s.UUID)
	}
	if len(got) != len(want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	for _, u := range []gogatt.UUID{sim.TortureLong, sim.TortureDescFirst, sim.TortureMax} {
		h, err := d.GetHandle(ctx, u)
		if err != nil || h != p.ValueHandle(u) {
			t.Errorf("GetHandle(%v) = %#x, %v; want %#x", u, h, err, p.ValueHandle(u))
		}
	}
	c, err := gogatt.LookupCharacteristic(svcs, sim.TortureDescFirst)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := p.Characteristic(sim.TortureDescFirst)
	if h, ok := c.CCCD(); !ok || h != info.CCCDHandle || h == c.ValueHandle+1 {
		t.Errorf("CCCD of TortureDescFirst = %#x,%v; want %#x (not value+1)", h, ok, info.CCCDHandle)
	}
	m, err := d.DiscoverCharacteristics(ctx)
	if err != nil || len(m[sim.TortureDuplicate]) != 2 {
		t.Errorf("DiscoverCharacteristics: %d TortureDuplicate, %v", len(m[sim.TortureDuplicate]), err)
	}
}

// Reads and writes by UUID and by handle, long reads and writes, write commands.
func testReadWrite(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	long := pattern(300, 1)
	if v, err := d.CharRead(ctx, sim.TortureLong); err != nil || len(v) == 0 || !bytes.Equal(v, long[:len(v)]) {
		t.Errorf("CharRead(TortureLong) = %x, %v", v, err)
	}
	if v, err := d.CharReadHandle(ctx, p.ValueHandle(sim.TortureLong)); err != nil || len(v) == 0 || !bytes.Equal(v, long[:len(v)]) {
		t.Errorf("CharReadHandle(TortureLong) = %x, %v", v, err)
	}
	if v, err := d.CharReadLong(ctx, sim.TortureLong); err != nil || !bytes.Equal(v, long) {
		t.Errorf("CharReadLong(TortureLong) = %d bytes, %v", len(v), err)
	}
	if v, err := d.CharReadLongHandle(ctx, p.ValueHandle(sim.TortureMax)); err != nil || !bytes.Equal(v, pattern(512, 1)) {
		t.Errorf("CharReadLongHandle(TortureMax) = %d bytes, %v", len(v), err)
	}
	if err := d.CharWrite(ctx, sim.TortureMaxLen, []byte("hello"), true); err != nil {
		t.Fatal(err)
	}
	if v, err := d.CharRead(ctx, sim.TortureMaxLen); err != nil || string(v) != "hello" {
		t.Errorf("read back = %q, %v", v, err)
	}
	if err := d.CharWriteHandle(ctx, p.ValueHandle(sim.TortureMaxLen), []byte("by handle"), true); err != nil {
		t.Fatal(err)
	}
	if v, err := d.CharReadHandle(ctx, p.ValueHandle(sim.TortureMaxLen)); err != nil || string(v) != "by handle" {
		t.Errorf("read back = %q, %v", v, err)
	}
	// A write command: the read after it on the same link is answered after it is applied.
	if err := d.CharWrite(ctx, sim.TortureWriteCmdOnly, []byte("cmd"), false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CharRead(ctx, sim.TortureMaxLen); err != nil {
		t.Fatal(err)
	}
	if v := p.Value(p.ValueHandle(sim.TortureWriteCmdOnly)); string(v) != "cmd" {
		t.Errorf("after write command the peripheral holds %q", v)
	}
	for _, tc := range []struct {
		name  string
		value []byte
		write func([]byte) error
	}{
		{"CharWriteLong", pattern(512, 3), func(v []byte) error { return d.CharWriteLong(ctx, sim.TortureMax, v) }},
		{"CharWriteLongHandle", pattern(400, 5), func(v []byte) error { return d.CharWriteLongHandle(ctx, p.ValueHandle(sim.TortureMax), v) }},
	} {
		if err := tc.write(tc.value); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if v, err := d.CharReadLong(ctx, sim.TortureMax); err != nil || !bytes.Equal(v, tc.value) {
			t.Errorf("%s: read back %d bytes, %v", tc.name, len(v), err)
		}
	}
}

// Every error kind of a connected Device.
func testErrors(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	var amb *gogatt.AmbiguousUUIDError
	if _, err := d.CharRead(ctx, sim.TortureDuplicate); !errors.As(err, &amb) || len(amb.Candidates) != 2 {
		t.Errorf("CharRead(duplicate) = %v, want *AmbiguousUUIDError with 2 candidates", err)
	}
	if _, err := d.GetHandle(ctx, sim.TortureDuplicate); !errors.As(err, &amb) {
		t.Errorf("GetHandle(duplicate) = %v", err)
	}
	if _, err := d.CharRead(ctx, gogatt.UUID16(0x1234)); !errors.Is(err, gogatt.ErrNotFound) {
		t.Errorf("CharRead(unknown) = %v, want ErrNotFound", err)
	}
	if err := d.Subscribe(ctx, gogatt.UUID16(0x1234), func(uint16, []byte) {}, gogatt.SubscribeOptions{}); !errors.Is(err, gogatt.ErrNotFound) {
		t.Errorf("Subscribe(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := d.CharRead(ctx, sim.TortureNoAccess); !errors.Is(err, &gogatt.ATTError{Code: att.ErrReadNotPermitted}) {
		t.Errorf("CharRead(no access) = %v, want ATT Read Not Permitted", err)
	}
	if err := d.CharWrite(ctx, sim.TortureAppError, []byte{1}, true); !errors.Is(err, &gogatt.ATTError{Code: 0x80}) {
		t.Errorf("CharWrite(app error) = %v, want ATT error 0x80", err)
	}
	if _, err := d.CharReadHandle(ctx, 0); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Errorf("CharReadHandle(0) = %v, want ErrInvalidParameter", err)
	}
	if err := d.CharWriteLong(ctx, sim.TortureMax, make([]byte, 513)); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Errorf("CharWriteLong(513 bytes) = %v, want ErrInvalidParameter", err)
	}
	if err := d.Subscribe(ctx, sim.TortureDescFirst, nil, gogatt.SubscribeOptions{}); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Errorf("Subscribe(nil handler) = %v, want ErrInvalidParameter", err)
	}
	if err := d.Subscribe(ctx, sim.TortureLong, func(uint16, []byte) {}, gogatt.SubscribeOptions{}); !errors.Is(err, gogatt.ErrUnsupported) {
		t.Errorf("Subscribe(no notify property) = %v, want ErrUnsupported", err)
	}
	if err := d.Subscribe(ctx, sim.TortureDescFirst, func(uint16, []byte) {}, gogatt.SubscribeOptions{Indication: true}); !errors.Is(err, gogatt.ErrUnsupported) {
		t.Errorf("Subscribe(indication of a notify-only characteristic) = %v, want ErrUnsupported", err)
	}
	if _, err := d.ExchangeMTU(ctx, 22); !errors.Is(err, gogatt.ErrInvalidParameter) {
		t.Errorf("ExchangeMTU(22) = %v, want ErrInvalidParameter", err)
	}
}

func testMTUAndRSSI(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	if m, err := d.ExchangeMTU(ctx, 100); err != nil && !errors.Is(err, gogatt.ErrUnsupported) || err == nil && (m < 23 || m > 100) {
		t.Errorf("ExchangeMTU(100) = %d, %v", m, err)
	}
	if r, err := d.RSSI(ctx); err != nil && !errors.Is(err, gogatt.ErrUnsupported) || err == nil && (r < -127 || r > 20) {
		t.Errorf("RSSI = %d, %v", r, err)
	}
}

// collector records values in order; wait blocks until it holds a number of them.
type collector struct {
	mu   sync.Mutex
	vals [][]byte
	grew chan struct{} // closed (and cleared) by the next value; made by a waiter
}

func (c *collector) handle(_ uint16, v []byte) {
	c.mu.Lock()
	c.vals = append(c.vals, v)
	if c.grew != nil {
		close(c.grew)
		c.grew = nil
	}
	c.mu.Unlock()
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.vals)
}

// values returns the values received so far.
func (c *collector) values() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.vals)
}

// wait returns once c has received n values; only a hang fails it.
func (c *collector) wait(t *testing.T, n int, what string) {
	t.Helper()
	deadline := time.NewTimer(hang)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if len(c.vals) >= n {
			c.mu.Unlock()
			return
		}
		if c.grew == nil {
			c.grew = make(chan struct{})
		}
		grew := c.grew
		c.mu.Unlock()
		select {
		case <-grew:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s: %d of %d values", what, c.len(), n)
		}
	}
}

// Subscribe to notifications and indications, by UUID and by handle: every value arrives, in
// order, and SubscriptionStats counts them; Unsubscribe writes 0 to the CCCD.
func testSubscribe(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	for _, tc := range []struct {
		name   string
		uuid   gogatt.UUID
		ind    bool
		handle bool
	}{
		{"notify", sim.TortureDescFirst, false, false},
		{"indicate", sim.TortureIndicate, true, false},
		{"notify by handle", sim.TortureStream, false, true},
		{"indicate by handle", sim.TortureStream, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vh := p.ValueHandle(tc.uuid)
			var c collector
			opts := gogatt.SubscribeOptions{Indication: tc.ind}
			var err error
			if tc.handle {
				err = d.SubscribeHandle(ctx, vh, c.handle, opts)
			} else {
				err = d.Subscribe(ctx, tc.uuid, c.handle, opts)
			}
			if tc.ind && tc.uuid == sim.TortureStream && e.NoCCCDWrites != "" {
				// A stack that owns the CCCDs chooses notifications where the characteristic
				// allows both: indications cannot be asked for, and saying so is the contract.
				if !errors.Is(err, gogatt.ErrUnsupported) {
					t.Fatalf("indications of a characteristic that also notifies = %v, want ErrUnsupported (%s)", err, e.NoCCCDWrites)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := p.Subscribers(vh); n != 1 {
				t.Fatalf("after Subscribe the peripheral has %d subscribers", n)
			}
			const n = 50
			for i := range n {
				p.Notify(vh, seq(i))
			}
			c.wait(t, n, "every value")
			vals := c.values()
			if len(vals) != n {
				t.Fatalf("%d values, want %d", len(vals), n)
			}
			for i, v := range vals {
				if !bytes.Equal(v, seq(i)) {
					t.Fatalf("value %d = %x, want %x (order)", i, v, seq(i))
				}
			}
			waitStats(t, d, vh, "stats", func(st gogatt.SubscriptionStats) bool { return st.Delivered == n })
			if st := stats(t, d, vh); st.Received != n || st.Dropped != 0 || st.Discarded != 0 || st.Queued != 0 {
				t.Errorf("stats = %+v", st)
			}
			if tc.handle {
				err = d.UnsubscribeHandle(ctx, vh)
			} else {
				err = d.Unsubscribe(ctx, tc.uuid)
			}
			if err != nil {
				t.Fatal(err)
			}
			unsubscribed(t, e, p, vh)
		})
	}
}

// Unsubscribe of a characteristic not subscribed through this Device still writes 0 to its CCCD
// (the peer may have it enabled from an earlier connection).
func testUnsubscribeNotSubscribed(t *testing.T, e Env) {
	if e.NoCCCDWrites != "" {
		t.Skip(e.NoCCCDWrites)
	}
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	info, _ := p.Characteristic(sim.TortureDescFirst)
	if err := d.CharWriteHandle(ctx, info.CCCDHandle, []byte{1, 0}, true); err != nil {
		t.Fatal(err)
	}
	if n := p.Subscribers(info.ValueHandle); n != 1 {
		t.Fatalf("CCCD written: %d subscribers", n)
	}
	if err := d.Unsubscribe(ctx, sim.TortureDescFirst); err != nil {
		t.Fatal(err)
	}
	if n := p.Subscribers(info.ValueHandle); n != 0 {
		t.Fatalf("Unsubscribe of a characteristic not subscribed left %d subscribers", n)
	}
}

// A re-subscribe whose CCCD write fails keeps the old subscription (and its handler) and
// returns the error; ResubscribeAll tries every subscription and joins the errors.
func testResubscribeFailure(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	var a, b collector
	if err := d.Subscribe(ctx, sim.TortureDescFirst, a.handle, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Subscribe(ctx, sim.TortureIndicate, b.handle, gogatt.SubscribeOptions{Indication: true}); err != nil {
		t.Fatal(err)
	}
	dead, cancel := context.WithCancel(ctx)
	cancel()
	var other collector
	if err := d.Subscribe(dead, sim.TortureDescFirst, other.handle, gogatt.SubscribeOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("re-subscribe with a cancelled context = %v, want context.Canceled", err)
	}
	err := d.ResubscribeAll(dead)
	var joined interface{ Unwrap() []error }
	if !errors.Is(err, context.Canceled) || !errors.As(err, &joined) || len(joined.Unwrap()) != 2 {
		t.Fatalf("ResubscribeAll with two failures = %v, want both errors joined", err)
	}
	// Both subscriptions are still in force, with their first handlers.
	for _, s := range []struct {
		uuid gogatt.UUID
		c    *collector
	}{{sim.TortureDescFirst, &a}, {sim.TortureIndicate, &b}} {
		vh := p.ValueHandle(s.uuid)
		p.Notify(vh, []byte("still"))
		s.c.wait(t, 1, "a value for the old handler")
		stats(t, d, vh)
	}
	if other.len() != 0 {
		t.Fatal("the handler of the failed re-subscribe was called")
	}
	if err := d.ResubscribeAll(ctx); err != nil {
		t.Fatalf("ResubscribeAll = %v", err)
	}
}

// A handler may call Device methods: read, unsubscribe itself, subscribe another.
func testHandlerReentrancy(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	vh := p.ValueHandle(sim.TortureDescFirst)
	done := make(chan error, 1)
	var second collector
	var calls atomic.Int32
	h := func(uint16, []byte) {
		if calls.Add(1) != 1 {
			return
		}
		_, err := d.CharRead(ctx, sim.TortureLong)
		if err == nil {
			err = d.Subscribe(ctx, sim.TortureIndicate, second.handle, gogatt.SubscribeOptions{Indication: true})
		}
		if err == nil {
			err = d.Unsubscribe(ctx, sim.TortureDescFirst)
		}
		done <- err
	}
	if err := d.Subscribe(ctx, sim.TortureDescFirst, h, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Notify(vh, []byte{1})
	if err := recv(t, done, "the handler's calls"); err != nil {
		t.Fatalf("calls from a handler: %v", err)
	}
	unsubscribed(t, e, p, vh)
	if p.Subscribers(p.ValueHandle(sim.TortureIndicate)) != 1 {
		t.Fatal("the handler's Subscribe did not reach the peripheral")
	}
	p.Notify(p.ValueHandle(sim.TortureIndicate), []byte{2})
	second.wait(t, 1, "the second subscription's value")

	// Disconnect from a handler.
	disc := make(chan error, 1)
	if err := d.Subscribe(ctx, sim.TortureDescFirst, func(uint16, []byte) { disc <- d.Disconnect() }, gogatt.SubscribeOptions{QueueLimit: 1}); err != nil {
		t.Fatal(err)
	}
	p.Notify(vh, []byte{3})
	if err := recv(t, disc, "Disconnect from a handler"); err != nil {
		t.Fatal(err)
	}
	recv(t, d.Disconnected(), "Disconnected")
}

// After Disconnect every call fails with ErrNotConnected, Err is a local *DisconnectError,
// Disconnect is idempotent and ends delivery.
func testDisconnect(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	if d.Err() != nil {
		t.Fatalf("Err while connected = %v", d.Err())
	}
	var c collector
	if err := d.Subscribe(ctx, sim.TortureDescFirst, c.handle, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := d.Disconnect(); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, d.Disconnected(), "Disconnected")
	var de *gogatt.DisconnectError
	if err := d.Err(); !errors.As(err, &de) || !de.Local || !errors.Is(err, gogatt.ErrNotConnected) {
		t.Errorf("Err after Disconnect = %v, want a local *DisconnectError", err)
	}
	for name, call := range map[string]func() error{
		"CharRead":  func() error { _, err := d.CharRead(ctx, sim.TortureLong); return err },
		"CharWrite": func() error { return d.CharWrite(ctx, sim.TortureMaxLen, []byte{1}, true) },
		"Subscribe": func() error {
			return d.Subscribe(ctx, sim.TortureIndicate, c.handle, gogatt.SubscribeOptions{Indication: true})
		},
		"ResubscribeAll": func() error { return d.ResubscribeAll(ctx) },
	} {
		if err := call(); !errors.Is(err, gogatt.ErrNotConnected) {
			t.Errorf("%s after Disconnect = %v, want ErrNotConnected", name, err)
		}
	}
	waitFor(t, "the peripheral to see the link end", func() bool { return p.ConnectionCount() == 0 })
}

// Stop returns while a handler blocks; the values still queued are discarded and counted; no
// handler call starts after Stop returns.
func testStopDiscards(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	vh := p.ValueHandle(sim.TortureDescFirst)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var calls, after atomic.Int32
	var stopped atomic.Bool
	h := func(uint16, []byte) {
		if stopped.Load() {
			after.Add(1)
		}
		if calls.Add(1) == 1 {
			entered <- struct{}{}
			<-release
		}
	}
	if err := d.Subscribe(ctx, sim.TortureDescFirst, h, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 10
	for i := range n {
		p.Notify(vh, seq(i))
	}
	recv(t, entered, "the first handler call")
	waitStats(t, d, vh, "every value received", func(st gogatt.SubscriptionStats) bool { return st.Received == n })
	stopDone := make(chan error, 1)
	go func() { stopDone <- e.Backend.Stop() }()
	if err := recv(t, stopDone, "Stop while a handler blocks"); err != nil {
		t.Fatal(err)
	}
	stopped.Store(true)
	st := stats(t, d, vh)
	close(release)
	if st.Discarded != n-1 || st.Delivered != 0 || st.Queued != 0 {
		t.Errorf("stats after Stop = %+v, want %d discarded", st, n-1)
	}
	if a := after.Load(); a != 0 {
		t.Errorf("%d handler calls started after Stop returned", a)
	}
}

// Stop may be called from a handler; it returns, and the device is disconnected.
func testStopFromHandler(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.TortureAddress)
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{AutoReconnect: true})
	done := make(chan error, 1)
	var once sync.Once
	if err := d.Subscribe(ctx, sim.TortureDescFirst, func(uint16, []byte) {
		once.Do(func() { done <- e.Backend.Stop() })
	}, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Notify(p.ValueHandle(sim.TortureDescFirst), []byte{1})
	if err := recv(t, done, "Stop from a handler"); err != nil {
		t.Fatal(err)
	}
	recv(t, d.Disconnected(), "Disconnected after Stop")
	if _, err := d.CharRead(ctx, sim.TortureLong); !errors.Is(err, gogatt.ErrNotConnected) {
		t.Errorf("CharRead after Stop = %v, want ErrNotConnected", err)
	}
}

// AutoReconnect repairs a lost link and restores the subscriptions; the Connect context, already
// cancelled, does not end it (the reconnect layer lives in the backend's context).
func testAutoReconnect(t *testing.T, e Env) {
	if e.SetInRange == nil {
		t.Skip("the environment cannot take a peripheral out of range")
	}
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(sim.HeartRateAddress)
	events := make(chan gogatt.ConnectionEvent, 64)
	cctx, ccancel := context.WithTimeout(ctx, hang)
	d, err := e.Backend.Connect(cctx, sim.HeartRateAddress, e.connectOptions(gogatt.ConnectOptions{AutoReconnect: true,
		ReconnectMinDelay: 50 * time.Millisecond, ReconnectMaxDelay: 200 * time.Millisecond,
		OnConnectionEvent: func(ev gogatt.ConnectionEvent) { events <- ev }}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Disconnect() })
	ccancel()
	vh := p.ValueHandle(gatt.UUIDBatteryLevel)
	var c collector
	if err := d.Subscribe(ctx, gatt.UUIDBatteryLevel, c.handle, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Notify(vh, []byte{1})
	c.wait(t, 1, "the first value")
	e.SetInRange(sim.HeartRateAddress, false)
	waitKind := func(k gogatt.ConnectionEventKind) gogatt.ConnectionEvent {
		for {
			ev := recv(t, events, k.String())
			if ev.Kind == k {
				return ev
			}
			if ev.Kind == gogatt.EventGaveUp {
				t.Fatalf("gave up: %v", ev.Err)
			}
		}
	}
	waitKind(gogatt.EventDisconnected)
	if _, err := d.CharRead(ctx, gatt.UUIDBodySensorLocation); !errors.Is(err, gogatt.ErrNotConnected) {
		t.Errorf("CharRead while reconnecting = %v, want ErrNotConnected", err)
	}
	e.SetInRange(sim.HeartRateAddress, true)
	if ev := waitKind(gogatt.EventReconnected); ev.Err != nil {
		t.Fatalf("reconnected with %v", ev.Err)
	}
	if n := p.Subscribers(vh); n != 1 {
		t.Fatalf("after reconnection %d subscribers", n)
	}
	p.Notify(vh, []byte{2})
	c.wait(t, 2, "a value after reconnection")
	if v, err := d.CharRead(ctx, gatt.UUIDBodySensorLocation); err != nil || !bytes.Equal(v, []byte{1}) {
		t.Fatalf("CharRead after reconnection = %x, %v", v, err)
	}
	if d.Err() != nil {
		t.Fatalf("Err after reconnection = %v", d.Err())
	}
}

// Without AutoReconnect a loss is final: Disconnected is closed, Err is a remote
// *DisconnectError, calls fail with ErrNotConnected.
func testLinkLoss(t *testing.T, e Env) {
	if e.SetInRange == nil {
		t.Skip("the environment cannot take a peripheral out of range")
	}
	start(t, e)
	ctx := ctxT(t)
	d := connect(t, e, sim.ThermometerAddress, gogatt.ConnectOptions{})
	e.SetInRange(sim.ThermometerAddress, false)
	t.Cleanup(func() { e.SetInRange(sim.ThermometerAddress, true) })
	recv(t, d.Disconnected(), "Disconnected after the loss")
	var de *gogatt.DisconnectError
	if err := d.Err(); !errors.As(err, &de) || de.Local {
		t.Errorf("Err after a loss = %v, want a remote *DisconnectError", err)
	}
	if _, err := d.CharRead(ctx, gatt.UUIDTemperatureType); !errors.Is(err, gogatt.ErrNotConnected) {
		t.Errorf("CharRead after a loss = %v, want ErrNotConnected", err)
	}
}

// unsubscribed checks that the peripheral has no subscriber of vh left once Unsubscribe has
// returned, or waits for that with Env.LateUnsubscribe.
func unsubscribed(t *testing.T, e Env, p *sim.Peripheral, vh uint16) {
	t.Helper()
	if e.LateUnsubscribe != "" {
		waitFor(t, "the peripheral's subscription to end ("+e.LateUnsubscribe+")", func() bool { return p.Subscribers(vh) == 0 })
		return
	}
	if n := p.Subscribers(vh); n != 0 {
		t.Fatalf("after Unsubscribe the peripheral has %d subscribers", n)
	}
}

// Several devices at once: concurrent connections, reads and notifications.
func testSeveralDevices(t *testing.T, e Env) {
	if e.NoConcurrentLinks != "" {
		t.Skip(e.NoConcurrentLinks)
	}
	start(t, e)
	ctx := ctxT(t)
	addrs := []string{sim.HeartRateAddress, sim.ThermometerAddress, sim.TortureAddress}
	devs := make([]gogatt.Device, len(addrs))
	var wg sync.WaitGroup
	errs := make([]error, len(addrs))
	for i, a := range addrs {
		wg.Go(func() {
			d, err := e.Backend.Connect(ctx, a, e.connectOptions(gogatt.ConnectOptions{}))
			devs[i], errs[i] = d, err
		})
	}
	wg.Wait()
	for i, d := range devs {
		if errs[i] != nil {
			t.Fatalf("Connect %s: %v", addrs[i], errs[i])
		}
		t.Cleanup(func() { d.Disconnect() })
	}
	cols := make([]collector, len(addrs))
	const n = 20
	for i, d := range devs {
		wg.Go(func() {
			if _, err := d.CharRead(ctx, gatt.UUIDSerialNumber); err != nil {
				errs[i] = err
				return
			}
			errs[i] = d.Subscribe(ctx, gatt.UUIDBatteryLevel, cols[i].handle, gogatt.SubscribeOptions{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && addrs[i] != sim.TortureAddress {
			t.Fatalf("%s: %v", addrs[i], err)
		}
	}
	for i, a := range addrs[:2] {
		p := e.Peripheral(a)
		wg.Go(func() {
			for k := range n {
				p.Notify(p.ValueHandle(gatt.UUIDBatteryLevel), []byte{byte(k + 10*i)})
			}
		})
	}
	wg.Wait()
	for i := range 2 {
		cols[i].wait(t, n, "every value of "+addrs[i])
		for k, v := range cols[i].values() {
			if !bytes.Equal(v, []byte{byte(k + 10*i)}) {
				t.Fatalf("%s value %d = %x (order, or another device's value)", addrs[i], k, v)
			}
		}
	}
}

// Bond where the environment supports it, and ClearBond.
func testBond(t *testing.T, e Env) {
	start(t, e)
	ctx := ctxT(t)
	if e.CanBond {
		d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
		if err := d.Bond(ctx, true); err != nil {
			t.Fatalf("Bond: %v", err)
		}
		if v, err := d.CharRead(ctx, sim.TortureEncrypted); err != nil || string(v) != "secret" {
			t.Fatalf("CharRead(encrypted) after Bond = %q, %v", v, err)
		}
		d.Disconnect()
		if err := e.Backend.ClearBond(ctx, sim.TortureAddress); err != nil {
			t.Fatalf("ClearBond(address): %v", err)
		}
	}
	if err := e.Backend.ClearBond(ctx, ""); err != nil {
		t.Fatalf("ClearBond(all): %v", err)
	}
}
