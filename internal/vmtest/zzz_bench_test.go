//go:build vmtest

package vmtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
)

// The benchmarks of the tier: for each backend, on hci0 against vmperiph on hci1, the time a
// scan takes to see the peer, the time to connect, the time of the first service discovery,
// the read round trip, and notifications as fast as vmperiph emits them with lost and
// out-of-order counts. They are tests that log their figures, one line each:
//
//	BENCH backend=<gatttool|bluez> metric=<name> key=value ...
//
// and never assert a time (the guest runs under TCG on a shared host). go test runs the files
// in name order and "zzz_" sorts after "zz_bluez" ('_' before 'z'): these run after the
// gatttool and bluez tests (before the contract suite and the --experimental test), each
// leaving no link and no device object behind.

const (
	benchReads  = 50  // reads of the read round trip
	benchNotify = 300 // notifications of the burst, 20 octets each, as fast as emitted
)

// benchDevice is what the figures need of a backend: scan until the peer is seen (at most
// 10 s; it reports whether it was), connect.
type benchDevice struct {
	name    string
	scan    func(ctx context.Context) (bool, error)
	connect func() gogatt.Device
}

// TestBench measures both backends in turn.
func TestBench(t *testing.T) {
	t.Run("gatttool", func(t *testing.T) {
		b := backend(t)
		runBench(t, benchDevice{name: "gatttool",
			scan: func(ctx context.Context) (bool, error) { return scanFor(ctx, b) },
			connect: func() gogatt.Device {
				d, err := b.Connect(ctxT(t, 20*time.Second), peer, gogatt.ConnectOptions{Timeout: 15 * time.Second})
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				t.Cleanup(func() {
					d.Disconnect()
					linkDown(t)
				})
				return d
			}})
	})
	t.Run("bluez", func(t *testing.T) {
		b := bluezBackend(t, bluez.NotifyAuto)
		runBench(t, benchDevice{name: "bluez",
			scan:    func(ctx context.Context) (bool, error) { return scanFor(ctx, b) },
			connect: func() gogatt.Device { return bluezConnect(t, b, gogatt.ConnectOptions{}) }})
	})
}

// scanFor scans until the peer is seen, at most 10 s.
func scanFor(ctx context.Context, b gogatt.Backend) (bool, error) {
	seen := false
	_, err := b.Scan(ctx, gogatt.ScanOptions{Timeout: 10 * time.Second,
		OnAdvertisement: func(r gogatt.ScanResult) bool {
			seen = seen || r.Address == peer
			return !seen
		}})
	return seen, err
}

func bench(t *testing.T, backend, metric, format string, args ...any) {
	t.Helper()
	t.Logf("BENCH backend=%s metric=%s %s", backend, metric, fmt.Sprintf(format, args...))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func runBench(t *testing.T, bd benchDevice) {
	ctx := ctxT(t, 60*time.Second)

	// Scan: until the first advertisement of the peer.
	t0 := time.Now()
	seen, err := bd.scan(ctx)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	bench(t, bd.name, "scan_ms", "value=%s seen=%v", ms(time.Since(t0)), seen)

	// Connect: gatttool's connect, or (bluez) Device1.Connect until ServicesResolved, the
	// device known from the scan just before.
	t0 = time.Now()
	d := bd.connect()
	bench(t, bd.name, "connect_ms", "value=%s", ms(time.Since(t0)))
	if bd.name == "gatttool" {
		bluetoothdSettled(t) // bluetoothd's own GATT client shares the link: let it finish
	}

	// Discovery: the first Services of the connection (gatttool: ATT discovery of the whole
	// tree; bluez: the objects bluetoothd resolved while connecting).
	t0 = time.Now()
	svcs, err := d.Services(ctx)
	if err != nil {
		t.Fatalf("Services: %v", err)
	}
	nChars := 0
	var uuids []string
	for _, s := range svcs {
		nChars += len(s.Characteristics)
		uuids = append(uuids, s.UUID.String())
	}
	t.Logf("services: %s", strings.Join(uuids, " "))
	bench(t, bd.name, "discovery_ms", "value=%s services=%d characteristics=%d", ms(time.Since(t0)), len(svcs), nChars)

	// Read round trip: one read of a short value at a time (bluez: ReadValue).
	h, err := d.GetHandle(ctx, uReadOnly)
	if err != nil {
		t.Fatalf("GetHandle: %v", err)
	}
	rtts := make([]time.Duration, 0, benchReads)
	for range benchReads {
		t0 := time.Now()
		if _, err := d.CharReadHandle(ctx, h); err != nil {
			t.Fatalf("read: %v", err)
		}
		rtts = append(rtts, time.Since(t0))
	}
	slices.Sort(rtts)
	bench(t, bd.name, "read_rtt_us", "n=%d median=%d min=%d max=%d", len(rtts),
		rtts[len(rtts)/2].Microseconds(), rtts[0].Microseconds(), rtts[len(rtts)-1].Microseconds())

	// Notifications: a burst as fast as vmperiph emits, each value's sequence number checked.
	eatt := "n/a" // gatttool's values come on the fixed channel, whatever bluetoothd's client has
	if bd.name == "bluez" {
		eatt = fmt.Sprint(eattNegotiated(t, d))
	}
	f, rate := benchBurst(t, d, benchNotify)
	bench(t, bd.name, "notify", "n=%d size=20 received=%d lost=%d out_of_order=%d repeated=%d rate_per_s=%.0f eatt=%s eatt_channels=%d",
		benchNotify, f.received, f.missing, f.inverted, f.dup, rate, eatt, len(eattChannels()))
}

// benchBurst subscribes to the notify characteristic, asks vmperiph for count values and waits
// until every one arrived or none came for 3 s.
func benchBurst(t *testing.T, d gogatt.Device, count uint32) (seqFigures, float64) {
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	h := &seqLog{}
	arrived := make(chan struct{}, 1)
	if err := d.Subscribe(ctx, uNotify, func(handle uint16, v []byte) {
		h.handle(handle, v)
		select {
		case arrived <- struct{}{}:
		default:
		}
	}, gogatt.SubscribeOptions{}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := burst(ctx, d, 1, count, 0, 20); err != nil {
		t.Fatalf("burst: %v", err)
	}
	quiet := time.NewTimer(20 * time.Second) // the first value may take a while under TCG
	defer quiet.Stop()
wait:
	for figures(h.get(), count).missing > 0 {
		select {
		case <-arrived:
			quiet.Reset(3 * time.Second)
		case <-quiet.C:
			break wait
		}
	}
	if err := d.Unsubscribe(ctx, uNotify); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	f := figures(h.get(), count)
	if f.received == 0 {
		t.Errorf("no notification arrived: %s", strings.TrimSpace(fmt.Sprint(f)))
	}
	return f, h.rate()
}
