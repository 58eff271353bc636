package gogatttest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim"
)

// The fault matrix rows every backend shares (docs/reliability.md): Stop and context
// cancellation while a Scan, a Connect or a notification stream is in progress.

// connectWait is why a Connect waits: fault sets it up in e and returns what undoes it.
type connectWait struct {
	name  string
	addr  string
	fault func(e Env) (undo func())
}

// connectWaits are the reasons a Connect waits in every environment. An address nobody has is
// not one: the BlueZ shim refuses that connection ("Connection refused (111)") while the
// emulated dongle waits for it.
var connectWaits = []connectWait{
	{"peripheral out of range", sim.TortureAddress, func(e Env) func() {
		e.SetInRange(sim.TortureAddress, false)
		return func() { e.SetInRange(sim.TortureAddress, true) }
	}},
}

// notificationSource is a stream of values: the torture device's generator as fast as the link
// takes it, or the heart-rate sensor at 200 Hz.
type notificationSource struct {
	name  string
	addr  string
	uuid  gogatt.UUID
	start func(p *sim.Peripheral, vh uint16) (stop func(), err error)
}

var notificationSources = []notificationSource{
	{"torture generator", sim.TortureAddress, sim.TortureStream, func(p *sim.Peripheral, vh uint16) (func(), error) {
		return p.StartGenerator(vh, 0, 0), nil
	}},
	{"heart rate 200 Hz", sim.HeartRateAddress, gogatt.UUID16(0x2A37), func(p *sim.Peripheral, vh uint16) (func(), error) {
		return func() {}, p.SetNotifyRate(vh, 200) // the peripheral is the environment's own
	}},
}

func matrixTests() []suiteTest {
	tests := []suiteTest{
		{"StopDuringScan", testStopDuringScan},
		{"CancelDuringScan", testCancelDuringScan},
	}
	for _, w := range connectWaits {
		for _, auto := range []bool{false, true} {
			tests = append(tests, suiteTest{"StopDuringConnect/" + w.name + autoSuffix(auto), func(t *testing.T, e Env) {
				testStopDuringConnect(t, e, w, auto)
			}})
		}
		tests = append(tests, suiteTest{"CancelDuringConnect/" + w.name, func(t *testing.T, e Env) {
			testCancelDuringConnect(t, e, w)
		}})
	}
	for _, src := range notificationSources {
		for _, auto := range []bool{false, true} {
			tests = append(tests, suiteTest{"StopDuringNotifications/" + src.name + autoSuffix(auto), func(t *testing.T, e Env) {
				testStopDuringNotifications(t, e, src, auto)
			}})
		}
	}
	return tests
}

func autoSuffix(auto bool) string {
	if auto {
		return "/AutoReconnect"
	}
	return ""
}

// checkStopped runs the environment's check that Stop left nothing behind.
func checkStopped(t *testing.T, e Env) {
	t.Helper()
	if e.CheckStopped != nil {
		e.CheckStopped(t)
	}
}

type scanOutcome struct {
	res []gogatt.ScanResult
	err error
}

// goScan starts a Scan that only its context or Stop ends; it returns the Scan's outcome and
// the address of the first device seen, once one is.
func goScan(t *testing.T, ctx context.Context, e Env) (<-chan scanOutcome, string) {
	t.Helper()
	first := make(chan string, 1)
	out := make(chan scanOutcome, 1)
	go func() {
		res, err := e.Backend.Scan(ctx, gogatt.ScanOptions{Timeout: time.Hour, OnAdvertisement: func(r gogatt.ScanResult) bool {
			select {
			case first <- r.Address:
			default:
			}
			return true
		}})
		out <- scanOutcome{res, err}
	}()
	select {
	case a := <-first:
		return out, a
	case o := <-out:
		t.Fatalf("Scan ended before any advertisement: %+v, %v", o.res, o.err)
	case <-time.After(hang):
		t.Fatal("timed out waiting for an advertisement")
	}
	panic("unreachable")
}

func hasAddress(res []gogatt.ScanResult, a string) bool {
	for _, r := range res {
		if r.Address == a {
			return true
		}
	}
	return false
}

// goConnect starts a Connect to w's address that waits (w's fault is in force) and returns its
// outcome once the backend has begun the attempt (Env.Connecting, when set).
func goConnect(t *testing.T, ctx context.Context, e Env, w connectWait, auto bool) <-chan error {
	t.Helper()
	var attempt <-chan struct{}
	if e.Connecting != nil {
		attempt = e.Connecting()
	}
	res := make(chan error, 1)
	go func() {
		d, err := e.Backend.Connect(ctx, w.addr, gogatt.ConnectOptions{Timeout: time.Hour, AutoReconnect: auto})
		if d != nil {
			d.Disconnect()
			err = errors.New("connect returned a Device")
		}
		res <- err
	}()
	if attempt != nil {
		select {
		case <-attempt:
		case err := <-res:
			t.Fatalf("Connect returned %v before the backend began the attempt", err)
		case <-time.After(hang):
			t.Fatal("timed out waiting for the backend to begin the connection attempt")
		}
	}
	return res
}

// Stop during a Scan, with a device connected: the Scan returns with the devices seen so far
// and an error matching ErrNotStarted (not a timeout, not context.Canceled: the caller cancelled
// nothing), and the device is disconnected.
func testStopDuringScan(t *testing.T, e Env) {
	start(t, e)
	d := connect(t, e, sim.ThermometerAddress, gogatt.ConnectOptions{})
	out, a := goScan(t, context.Background(), e)
	if err := e.Backend.Stop(); err != nil {
		t.Fatal(err)
	}
	r := recv(t, out, "Scan to return after Stop")
	if !errors.Is(r.err, gogatt.ErrNotStarted) || errors.Is(r.err, gogatt.ErrTimeout) || errors.Is(r.err, context.Canceled) {
		t.Fatalf("Scan ended by Stop: %v, want an error matching ErrNotStarted", r.err)
	}
	if !hasAddress(r.res, a) {
		t.Fatalf("Scan ended by Stop returned %+v, without %s seen before", r.res, a)
	}
	recv(t, d.Disconnected(), "the device to be disconnected by Stop")
	checkStopped(t, e)
}

// Cancelling the context of a Scan: it returns the devices seen so far and an error matching
// context.Canceled (not a timeout); the adapter's scan is ended, so the next Scan works.
func testCancelDuringScan(t *testing.T, e Env) {
	start(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, a := goScan(t, ctx, e)
	cancel()
	r := recv(t, out, "Scan to return after the cancellation")
	if !errors.Is(r.err, context.Canceled) || errors.Is(r.err, gogatt.ErrTimeout) {
		t.Fatalf("cancelled Scan: %v, want an error matching context.Canceled", r.err)
	}
	if !hasAddress(r.res, a) {
		t.Fatalf("cancelled Scan returned %+v, without %s seen before", r.res, a)
	}
	res, err := e.Backend.Scan(ctxT(t), gogatt.ScanOptions{Timeout: hang, OnAdvertisement: func(gogatt.ScanResult) bool { return false }})
	if err != nil || len(res) == 0 {
		t.Fatalf("Scan after a cancelled one: %+v, %v", res, err)
	}
	if err := e.Backend.Stop(); err != nil {
		t.Fatal(err)
	}
	checkStopped(t, e)
}

// Stop during a Connect that waits (the peripheral out of range):
// Connect returns with an error matching ErrNotStarted (not context.Canceled: the caller
// cancelled nothing; not a timeout), nothing is left behind, and after a new Start the
// peripheral connects (even if the adapter, left connecting, reached it meanwhile).
func testStopDuringConnect(t *testing.T, e Env, w connectWait, auto bool) {
	needRange(t, e)
	start(t, e)
	undo := w.fault(e)
	t.Cleanup(undo)
	res := goConnect(t, context.Background(), e, w, auto)
	stopped := make(chan error, 1)
	go func() { stopped <- e.Backend.Stop() }()
	err := recv(t, res, "Connect to return after Stop")
	if !errors.Is(err, gogatt.ErrNotStarted) || errors.Is(err, context.Canceled) || errors.Is(err, gogatt.ErrTimeout) {
		t.Fatalf("Connect ended by Stop: %v, want an error matching ErrNotStarted", err)
	}
	if err := recv(t, stopped, "Stop"); err != nil {
		t.Fatal(err)
	}
	checkStopped(t, e)
	undo()
	if err := e.Backend.Start(ctxT(t)); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	if _, err := d.CharRead(ctxT(t), sim.TortureCounter); err != nil {
		t.Fatalf("read after a new Start: %v", err)
	}
}

// Cancelling the context of a Connect that waits: Connect returns an error matching
// context.Canceled (not a timeout), the next Connect to the peripheral works (a connection the
// adapter made after the host gave up is not left in the way), and Stop leaves nothing behind.
func testCancelDuringConnect(t *testing.T, e Env, w connectWait) {
	needRange(t, e)
	start(t, e)
	undo := w.fault(e)
	t.Cleanup(undo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := goConnect(t, ctx, e, w, false)
	cancel()
	if err := recv(t, res, "Connect to return after the cancellation"); !errors.Is(err, context.Canceled) || errors.Is(err, gogatt.ErrTimeout) {
		t.Fatalf("cancelled Connect: %v, want an error matching context.Canceled", err)
	}
	undo()
	d := connect(t, e, sim.TortureAddress, gogatt.ConnectOptions{})
	if _, err := d.CharRead(ctxT(t), sim.TortureCounter); err != nil {
		t.Fatalf("read after a cancelled Connect: %v", err)
	}
	if err := e.Backend.Stop(); err != nil {
		t.Fatal(err)
	}
	checkStopped(t, e)
}

// Stop during a notification stream, with and without AutoReconnect: Stop returns, and by then
// the Device's Disconnected is closed, Err is a local *DisconnectError, and nothing is left
// behind.
func testStopDuringNotifications(t *testing.T, e Env, src notificationSource, auto bool) {
	start(t, e)
	ctx := ctxT(t)
	p := e.Peripheral(src.addr)
	d := connect(t, e, src.addr, gogatt.ConnectOptions{AutoReconnect: auto, AddressType: p.AddressType()})
	vh := p.ValueHandle(src.uuid)
	var calls atomic.Int64
	if err := d.Subscribe(ctx, src.uuid, func(uint16, []byte) { calls.Add(1) }, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	stop, err := src.start(p, vh)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	waitStats(t, d, vh, "the stream to flow", func(st gogatt.SubscriptionStats) bool { return st.Delivered >= 20 })
	stopped := make(chan error, 1)
	go func() { stopped <- e.Backend.Stop() }()
	if err := recv(t, stopped, "Stop during a notification stream"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Disconnected():
	default:
		t.Fatal("Disconnected not closed when Stop returned")
	}
	var de *gogatt.DisconnectError
	if err := d.Err(); !errors.As(err, &de) || !de.Local || !errors.Is(err, gogatt.ErrNotConnected) {
		t.Fatalf("Err after Stop = %v (%+v), want a local *DisconnectError", err, de)
	}
	checkStopped(t, e)
	t.Logf("%d values delivered before Stop", calls.Load())
}
