//go:build vmtest

package vmtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/gatttool"
)

// The guest's controllers (btvirt -l2): the tests run on hci0, vmperiph on hci1.
const (
	peer    = "00:AA:01:01:00:01"
	central = "hci0"
	name    = "gogatt VM"
)

var (
	uRW        = gogatt.MustParseUUID("a0000001-0000-1000-8000-00805f9b34fb")
	uLong      = gogatt.MustParseUUID("a0000002-0000-1000-8000-00805f9b34fb")
	uNotify    = gogatt.MustParseUUID("a0000003-0000-1000-8000-00805f9b34fb")
	uWriteOnly = gogatt.MustParseUUID("a0000004-0000-1000-8000-00805f9b34fb")
	uReadOnly  = gogatt.MustParseUUID("a0000005-0000-1000-8000-00805f9b34fb")
	uEnc       = gogatt.MustParseUUID("a0000006-0000-1000-8000-00805f9b34fb")
	uIndicate  = gogatt.MustParseUUID("a0000008-0000-1000-8000-00805f9b34fb")
	uCtl       = gogatt.MustParseUUID("a00000ff-0000-1000-8000-00805f9b34fb")
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.list"); f == nil || f.Value.String() == "" {
		if _, err := os.Stat("/sys/class/bluetooth/hci1"); err != nil {
			fmt.Fprintln(os.Stderr, "vmtest: no hci1; these tests run inside the guest that .ci/vm/run boots")
			os.Exit(1)
		}
		// Both halves of any bond are gone before the tests start.
		clearPeerBond()
	}
	os.Exit(m.Run())
}

// logBuffer keeps the backend's debug log of one test; it is printed when the test fails.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is what was logged so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// devicePath is bluetoothd's object path of the device at address on the central
// (doc/device-api.txt, BlueZ 5.66: dev_ and the address with underscores).
func devicePath(address string) dbus.ObjectPath {
	return dbus.ObjectPath("/org/bluez/" + central + "/dev_" + strings.ReplaceAll(address, ":", "_"))
}

func backend(t *testing.T) *gatttool.Backend {
	t.Helper()
	lb := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(lb.String(), "\n")
			if len(lines) > 150 {
				lines = lines[len(lines)-150:]
			}
			t.Logf("backend log (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
		}
	})
	lg := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := gatttool.New(gatttool.Config{HCIDevice: central, Logger: lg})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return b
}

func connect(t *testing.T, b *gatttool.Backend, opts gogatt.ConnectOptions) gogatt.Device {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := b.Connect(ctx, peer, opts)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() {
		d.Disconnect()
		linkDown(t)
	})
	bluetoothdSettled(t)
	return d
}

// bluetoothdSettled waits until bluetoothd's own GATT client on hci0 has finished with the new
// link (Device1.ServicesResolved): bluetoothd attaches a client to every LE link, also one that
// gatttool made, and until it is done it sends requests on the same fixed ATT channel as
// gatttool. Two clients on one bearer break ATT's one-request-at-a-time rule: the peer ignores a
// request while another is outstanding, and gatttool takes bluetoothd's response for its own (a
// Write Request reported written that never reached the peer, measured here once:
// docs/real-kernel-tier.md). It gives up after 10 s with a log line.
func bluetoothdSettled(t *testing.T) {
	t.Helper()
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		t.Logf("system bus: %v (not waiting for bluetoothd's GATT client)", err)
		return
	}
	defer conn.Close()
	path := devicePath(peer)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		v, err := conn.Object("org.bluez", path).GetProperty("org.bluez.Device1.ServicesResolved")
		if on, _ := v.Value().(bool); err == nil && on {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("bluetoothd's GATT client on %s did not resolve %s's services within 10 s", central, peer)
}

// linkDown waits until hci0 has no LE link left, and ends one that bluetoothd keeps up for its
// own GATT client: that client shares the link's fixed ATT channel with gatttool, and the
// server's state for the channel (its ATT_MTU) would outlive the test (docs/real-kernel-tier.md).
func linkDown(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		out, _ := exec.Command("hcitool", "-i", central, "con").Output()
		var handle string
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) >= 5 && f[1] == "LE" && f[2] == peer {
				handle = f[4]
			}
		}
		if handle == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("link to %s (handle %s) still up after the test; disconnecting it", peer, handle)
			exec.Command("hcitool", "-i", central, "ledc", handle).Run()
			deadline = time.Now().Add(10 * time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestScanName: hcitool lescan prints no name for the guest's advertiser, although the name is
// in its advertising data (bluetoothd's own discovery on hci0 reports it): bluetoothd advertises
// through the extended advertising commands of the 5.0 controllers that btvirt emulates, and
// legacy scanning (hcitool) gets reports without data (docs/real-kernel-tier.md, finding 4). The
// test asserts what the backend reports: the address, with the name empty; it fails when the
// stack starts to deliver the name, so that the docs are updated.
func TestScanName(t *testing.T) {
	b := backend(t)
	linkDown(t) // a link left by an earlier test keeps the peer from advertising
	// Until the peer is seen (a fixed 3 s missed it once on a loaded host, where the guest runs
	// slowly), at most 15 s a scan; a scan of 30 s once got no report at all (hcitool printed
	// only "LE Scan ...", in a CI run under load), so a scan that saw nothing is started again,
	// with what hci0 and hci1 said logged, at most three times.
	var res []gogatt.ScanResult
	for attempt := 1; attempt <= 3; attempt++ {
		var err error
		res, err = b.Scan(ctxT(t, 25*time.Second), gogatt.ScanOptions{Timeout: 15 * time.Second,
			OnAdvertisement: func(r gogatt.ScanResult) bool { return r.Address != peer }})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if slices.ContainsFunc(res, func(r gogatt.ScanResult) bool { return r.Address == peer }) {
			break
		}
		con, _ := exec.Command("hcitool", "-i", central, "con").CombinedOutput()
		info, _ := exec.Command("btmgmt", "--index", "1", "info").CombinedOutput()
		t.Logf("scan %d: %d results, %s not among them; hcitool con: %q; btmgmt --index 1 info: %q", attempt, len(res), peer, con, info)
	}
	var found *gogatt.ScanResult
	for i, r := range res {
		t.Logf("scan result: %s name=%q", r.Address, r.Name)
		if r.Address == peer {
			found = &res[i]
		}
	}
	if found == nil {
		t.Fatalf("scan: %s not found", peer)
	}
	if found.Name != "" {
		if found.Name != name {
			t.Fatalf("scan: name %q, want %q", found.Name, name)
		}
		t.Fatalf("scan: the name arrived (%q): update finding 4 in docs/real-kernel-tier.md and this test", found.Name)
	}
	// The name is on the air: bluetoothd's discovery on hci0 decodes it.
	out, _ := exec.Command("sh", "-c", "(echo 'select 00:AA:01:00:00:00'; echo 'scan le'; sleep 3; echo 'devices'; echo quit) | bluetoothctl").Output()
	if !strings.Contains(string(out), "Device "+peer+" "+name) {
		t.Errorf("bluetoothd's discovery did not report %q either: %q", name, out)
	}
}

// attr is one expected characteristic: its value handle and, if any, its CCCD's handle.
type attr struct {
	uuid        gogatt.UUID
	value, cccd uint16
}

func TestServiceTree(t *testing.T) {
	checkServiceTree(t, connect(t, backend(t), gogatt.ConnectOptions{}))
}

// checkServiceTree discovers d's tree and checks vmperiph's characteristics at their fixed
// handles with their real CCCDs; the D-Bus backend's tree must match it too (its handles come
// from bluetoothd's object names).
func checkServiceTree(t *testing.T, d gogatt.Device) {
	t.Helper()
	svcs, err := d.Services(ctxT(t, 20*time.Second))
	if err != nil {
		t.Fatalf("Services: %v", err)
	}
	got := map[gogatt.UUID]attr{}
	for _, s := range svcs {
		t.Logf("service %s 0x%04x-0x%04x", s.UUID, s.Handle, s.EndHandle)
		for _, c := range s.Characteristics {
			var ds []string
			a := attr{uuid: c.UUID, value: c.ValueHandle}
			for _, dsc := range c.Descriptors {
				ds = append(ds, fmt.Sprintf("%s@0x%04x", dsc.UUID, dsc.Handle))
			}
			if h, ok := c.CCCD(); ok {
				a.cccd = h
			}
			got[c.UUID] = a
			t.Logf("  char %s value 0x%04x props %v descriptors %v", c.UUID, c.ValueHandle, c.Properties, ds)
		}
	}
	// vmperiph places its services at 0x0020 and 0x0040; bluetoothd adds a CCCD right after each
	// notify/indicate value.
	want := []attr{
		{gogatt.UUID16(0x2a37), 0x0022, 0x0023},
		{gogatt.UUID16(0x2a38), 0x0025, 0},
		{uRW, 0x0042, 0},
		{uLong, 0x0044, 0},
		{uNotify, 0x0046, 0x0047},
		{uWriteOnly, 0x004a, 0},
		{uReadOnly, 0x004c, 0},
		{uEnc, 0x004e, 0},
		{uIndicate, 0x0050, 0x0051},
		{uCtl, 0x0053, 0},
	}
	for _, w := range want {
		if g, ok := got[w.uuid]; !ok || g != w {
			t.Errorf("characteristic %s: got value 0x%04x cccd 0x%04x (found %v), want 0x%04x 0x%04x", w.uuid, g.value, g.cccd, ok, w.value, w.cccd)
		}
	}
}

// eventually polls f until it holds or d passes.
func eventually(t *testing.T, d time.Duration, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, msg := f()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReadWrite(t *testing.T) {
	d := connect(t, backend(t), gogatt.ConnectOptions{})
	ctx := ctxT(t, 60*time.Second)
	v, err := d.CharRead(ctx, gogatt.UUID16(0x2a38))
	if err != nil || !bytes.Equal(v, []byte{0x02}) {
		t.Fatalf("read Body Sensor Location: % x, %v", v, err)
	}
	if err := d.CharWrite(ctx, uRW, []byte{9, 8, 7, 6}, true); err != nil {
		t.Fatalf("write request: %v", err)
	}
	if v, err := d.CharRead(ctx, uRW); err != nil || !bytes.Equal(v, []byte{9, 8, 7, 6}) {
		t.Fatalf("read after write request: % x, %v", v, err)
	}
	if err := d.CharWrite(ctx, uRW, []byte{5, 5}, false); err != nil {
		t.Fatalf("write command: %v", err)
	}
	// A Write Command has no response: poll until the peripheral has applied it.
	eventually(t, 5*time.Second, func() (bool, string) {
		v, err := d.CharRead(ctx, uRW)
		return err == nil && bytes.Equal(v, []byte{5, 5}), fmt.Sprintf("read after write command: % x, %v", v, err)
	})
	const reads = 50
	h, err := d.GetHandle(ctx, uRW)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for i := 0; i < reads; i++ {
		if _, err := d.CharReadHandle(ctx, h); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	t.Logf("MEASURE read round trip: %v mean over %d reads", (time.Since(t0) / reads).Round(100*time.Microsecond), reads)
}

func TestLongReadWrite(t *testing.T) {
	d := connect(t, backend(t), gogatt.ConnectOptions{})
	ctx := ctxT(t, 60*time.Second)
	long := make([]byte, 400)
	for i := range long {
		long[i] = byte(i * 3)
	}
	if err := d.CharWriteLong(ctx, uLong, long); err != nil {
		t.Fatalf("long write: %v", err)
	}
	v, err := d.CharReadLong(ctx, uLong)
	if err != nil || !bytes.Equal(v, long) {
		t.Fatalf("long read: %d bytes, %v", len(v), err)
	}
	v, err = d.CharRead(ctx, uLong)
	if err != nil || len(v) != 22 || !bytes.Equal(v, long[:22]) {
		t.Fatalf("short read of a long value: %d bytes (want ATT_MTU-1 = 22), %v", len(v), err)
	}
}

func wantATT(t *testing.T, what string, err error, code att.ErrorCode) {
	t.Helper()
	var ae *gogatt.ATTError
	if !errors.As(err, &ae) || ae.Code != code {
		t.Errorf("%s: got %v, want ATT error 0x%02x", what, err, uint8(code))
	}
}

func TestATTErrors(t *testing.T) {
	d := connect(t, backend(t), gogatt.ConnectOptions{})
	ctx := ctxT(t, 60*time.Second)
	_, err := d.CharRead(ctx, uWriteOnly)
	wantATT(t, "read write-only", err, att.ErrReadNotPermitted)
	wantATT(t, "write read-only", d.CharWrite(ctx, uReadOnly, []byte{1}, true), att.ErrWriteNotPermitted)
	_, err = d.CharReadHandle(ctx, 0x0200)
	wantATT(t, "read beyond the database", err, att.ErrInvalidHandle)
	// The link is still usable after the errors.
	if _, err := d.CharRead(ctx, uReadOnly); err != nil {
		t.Errorf("read after errors: %v", err)
	}
}

func TestMTU(t *testing.T) {
	d := connect(t, backend(t), gogatt.ConnectOptions{})
	ctx := ctxT(t, 30*time.Second)
	m, err := d.ExchangeMTU(ctx, 247)
	if err != nil || m != 247 {
		t.Fatalf("ExchangeMTU(247) = %d, %v", m, err)
	}
	// A read now returns up to ATT_MTU-1 bytes.
	long := bytes.Repeat([]byte{0xa5}, 300)
	if err := d.CharWriteLong(ctx, uLong, long); err != nil {
		t.Fatal(err)
	}
	v, err := d.CharRead(ctx, uLong)
	if err != nil || len(v) != 246 {
		t.Fatalf("read after MTU 247: %d bytes, %v (want 246)", len(v), err)
	}
}

// seqCounter checks the sequence numbers of a burst.
type seqCounter struct {
	mu       sync.Mutex
	n        int
	next     uint32
	gaps     int // values missing before a value (sum of the jumps)
	inverted int // values older than one already seen
	first    time.Time
	last     time.Time
	stats    gogatt.SubscriptionStats // the subscription's counters at the end of the burst
}

func (c *seqCounter) handle(h uint16, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.n == 0 {
		c.first = now
	}
	c.last = now
	c.n++
	if len(v) < 4 {
		return
	}
	s := binary.LittleEndian.Uint32(v)
	switch {
	case s < c.next:
		c.inverted++
	case s > c.next:
		c.gaps += int(s - c.next)
		c.next = s + 1
	default:
		c.next = s + 1
	}
}

func (c *seqCounter) snapshot() (n int, next uint32, gaps, inverted int, rate float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.last.Sub(c.first); c.n > 1 && d > 0 {
		rate = float64(c.n-1) / d.Seconds()
	}
	return c.n, c.next, c.gaps, c.inverted, rate
}

// burst asks vmperiph for count values of size bytes interval apart (target 1: notifications,
// 2: indications).
func burst(ctx context.Context, d gogatt.Device, target byte, count uint32, interval time.Duration, size byte) error {
	b := make([]byte, 10)
	b[0] = target
	binary.LittleEndian.PutUint32(b[1:], count)
	binary.LittleEndian.PutUint32(b[5:], uint32(interval/time.Microsecond))
	b[9] = size
	return d.CharWrite(ctx, uCtl, b, true)
}

// runBurst subscribes, runs one burst and waits until the last sequence number arrived or the
// stream stayed quiet for a second; it returns the counter.
func runBurst(t *testing.T, d gogatt.Device, target byte, count uint32, interval time.Duration, size byte) *seqCounter {
	t.Helper()
	ctx := ctxT(t, 120*time.Second)
	c := &seqCounter{}
	uuid := uNotify
	if target == 2 {
		uuid = uIndicate
	}
	if err := d.Subscribe(ctx, uuid, c.handle, gogatt.SubscribeOptions{Indication: target == 2}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := burst(ctx, d, target, count, interval, size); err != nil {
		t.Fatalf("burst: %v", err)
	}
	lastN, quiet := -1, time.Now()
	for {
		n, next, _, _, _ := c.snapshot()
		if next == count {
			break
		}
		if n != lastN {
			lastN, quiet = n, time.Now()
		}
		if time.Since(quiet) > 3*time.Second && n > 0 || time.Since(quiet) > 20*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stats := "n/a"
	if r, ok := d.(gogatt.SubscriptionStatsReporter); ok {
		h, _ := d.GetHandle(ctx, uuid)
		st, _ := r.SubscriptionStats(h)
		c.stats = st
		stats = fmt.Sprintf("%+v", st)
	}
	if err := d.Unsubscribe(ctx, uuid); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	n, next, gaps, inverted, rate := c.snapshot()
	t.Logf("MEASURE burst target=%d count=%d interval=%v size=%d: received %d (last seq %d), missing %d, out of order %d, %.0f/s; stats %s",
		target, count, interval, size, n, int(next)-1, gaps+int(count-next), inverted, rate, stats)
	return c
}

func TestNotificationsLowRate(t *testing.T) {
	d := connect(t, backend(t), gogatt.ConnectOptions{})
	c := runBurst(t, d, 1, 200, 20*time.Millisecond, 20)
	n, next, gaps, inverted, _ := c.snapshot()
	if n != 200 || next != 200 || gaps != 0 || inverted != 0 {
		t.Fatalf("at 50/s: received %d of 200, %d missing, %d out of order", n, gaps, inverted)
	}
}

// TestNotificationsHighRate: bursts as fast as the peripheral emits. On a loaded machine the
// kernel drops some of them before gatttool reads them (the LE fixed channel has no flow
// control), which no library can see (docs/real-kernel-tier.md, finding 1): the test counts the
// loss from the sequence numbers and reports it in the log. It asserts what gogatt controls:
// every value that reached gatttool is delivered, once, in order, and the subscription's
// counters agree with the handler.
func TestNotificationsHighRate(t *testing.T) {
	d := connect(t, backend(t), gogatt.ConnectOptions{})
	for _, size := range []byte{20, 100} {
		c := runBurst(t, d, 1, 1000, 0, size)
		n, _, _, inverted, _ := c.snapshot()
		if inverted != 0 {
			t.Errorf("%d-byte values: %d out of order or repeated", size, inverted)
		}
		if n == 0 {
			t.Errorf("%d-byte values: none arrived", size)
		}
		if c.stats.Received != uint64(n) || c.stats.Delivered != uint64(n) || c.stats.Dropped != 0 {
			t.Errorf("%d-byte values: handler saw %d, stats %+v", size, n, c.stats)
		}
	}
}

func TestIndications(t *testing.T) {
	d := connect(t, backend(t), gogatt.ConnectOptions{})
	c := runBurst(t, d, 2, 50, 0, 8)
	n, next, gaps, inverted, _ := c.snapshot()
	if n != 50 || next != 50 || gaps != 0 || inverted != 0 {
		t.Fatalf("indications: received %d of 50, %d missing, %d out of order", n, gaps, inverted)
	}
}

func btmgmt(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("btmgmt", append([]string{"--index", "1"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("btmgmt %v: %v: %s", args, err, out)
	}
}

func TestLinkLossReconnect(t *testing.T) {
	events := make(chan gogatt.ConnectionEvent, 32)
	d := connect(t, backend(t), gogatt.ConnectOptions{AutoReconnect: true, ReconnectMaxDelay: time.Second,
		OnConnectionEvent: func(e gogatt.ConnectionEvent) { events <- e }})
	ctx := ctxT(t, 90*time.Second)
	c := &seqCounter{}
	if err := d.Subscribe(ctx, uNotify, c.handle, gogatt.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("btmgmt", "--index", "1", "power", "on").Run() })
	t0 := time.Now()
	btmgmt(t, "power", "off")
	var seen []string
	wait := func(kind gogatt.ConnectionEventKind) {
		t.Helper()
		for {
			select {
			case e := <-events:
				seen = append(seen, fmt.Sprintf("%v@%v", e.Kind, time.Since(t0).Round(time.Millisecond)))
				if e.Kind == gogatt.EventGaveUp {
					t.Fatalf("gave up: %v (events %v)", e.Err, seen)
				}
				if e.Kind == kind {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %v event (events %v)", kind, seen)
			}
		}
	}
	wait(gogatt.EventDisconnected)
	btmgmt(t, "power", "on")
	wait(gogatt.EventReconnected)
	t.Logf("MEASURE link loss: events %v", seen)
	if err := burst(ctx, d, 1, 5, time.Millisecond, 8); err != nil {
		t.Fatalf("burst after reconnection: %v", err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		n, _, _, _, _ := c.snapshot()
		return n >= 5, fmt.Sprintf("after reconnection %d of 5 values arrived", n)
	})
}

// clearPeerBond removes the bond on both halves: the central's through bluetoothctl and the
// peripheral's too (ClearBond removes only the local half, docs/real-kernel-tier.md).
func clearPeerBond() {
	for _, args := range [][]string{{"select", "00:AA:01:01:00:01", "remove", "00:AA:01:00:00:00"}, {"select", "00:AA:01:00:00:00", "remove", peer}} {
		script := fmt.Sprintf("select %s\nremove %s\nquit\n", args[1], args[3])
		cmd := exec.Command("bluetoothctl")
		cmd.Stdin = strings.NewReader(script)
		cmd.Run()
	}
}
