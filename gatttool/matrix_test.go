//go:build linux

package gatttool_test

// Fault matrix, gatttool column: what only a tool process can do — be killed from outside — and
// a Scan without OnAdvertisement cancelled once hcitool has reported a device, against the real
// BlueZ tools (internal/bluezsim). The rows every backend shares (Stop and cancellation during
// a Scan, a Connect or a notification stream) are tests of the contract suite (gogatttest, run
// by TestContract), with nothingLeft as the environment's check.

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/gatttool"
	"github.com/gogatt/gogatt/gogatttest"
	"github.com/gogatt/gogatt/sim"
)

// hangDeadline only catches hangs: Stop and Disconnect return after the backend's own clean-up
// (ending a gatttool process), far below it even on a loaded machine.
const hangDeadline = 10 * time.Second

// childGatttools returns the pids of this process's children whose command is gatttool
// (zombies included: a child not yet reaped is still left).
func childGatttools(t *testing.T) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		rest := strings.Fields(s[end+1:])
		if len(rest) < 2 || s[open+1:end] != "gatttool" {
			continue
		}
		if ppid, _ := strconv.Atoi(rest[1]); ppid == os.Getpid() {
			pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
			pids = append(pids, pid)
		}
	}
	return pids
}

// killGatttool sends SIGKILL to the only gatttool child of this process.
func killGatttool(t *testing.T) {
	t.Helper()
	pids := childGatttools(t)
	if len(pids) != 1 {
		t.Fatalf("gatttool children %v, want one", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// noChildLeft fails t if a gatttool child of this process is left; call it once the library's
// clean-up is over (its children must have been reaped by then).
func noChildLeft(t *testing.T) {
	t.Helper()
	if pids := childGatttools(t); len(pids) != 0 {
		t.Fatalf("gatttool children left: %v", pids)
	}
}

// libGoroutine reports whether a goroutine runs code of the library (package gatttool,
// internal/gattkit) and not of the tests, given its stack.
func libGoroutine(g string) bool {
	return !strings.Contains(g, "gogatt/gatttool_test.") &&
		(strings.Contains(g, "gogatt/gogatt/gatttool.") || strings.Contains(g, "gogatt/gogatt/internal/gattkit."))
}

// noLibGoroutines polls until no goroutine of the library is left (hang-only deadline).
func noLibGoroutines(t *testing.T) {
	t.Helper()
	gogatttest.NoGoroutines(t, "goroutines of the library", libGoroutine)
}

// await waits for ch (hang-only deadline).
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hangDeadline):
		t.Fatalf("%s: not within %v", what, hangDeadline)
	}
}

var uGate = bt.MustParseUUID("a000000a-0000-1000-8000-00805f9b34fb") // read held until released

// gatedPeripheral is a peripheral whose uGate read reaches its server (entered receives) and is
// answered only once release is called; uRW reads {1, 2, 3}.
func gatedPeripheral(t *testing.T) (p *sim.Peripheral, entered <-chan struct{}, release func()) {
	in := make(chan struct{}, 8)
	rel := make(chan struct{})
	b := sim.NewBuilder(bt.MustParseAddress(testAddr)).Name("gogatt-gate")
	s := b.Service(svcA)
	s.Characteristic(uRW, gatt.PropRead).Value([]byte{1, 2, 3})
	s.Characteristic(uGate, gatt.PropRead).OnRead(func(sim.Request) ([]byte, att.ErrorCode) {
		in <- struct{}{}
		<-rel
		return []byte("late"), 0
	})
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return p, in, sync.OnceFunc(func() { close(rel) })
}

// A gatttool process killed from outside (SIGKILL) while a read is pending or while idle: the
// pending read fails at once with an error matching gogatt.ErrNotConnected (a
// *gogatt.DisconnectError, not a timeout), Disconnected closes, Err is a remote
// *gogatt.DisconnectError, the dead process is reaped and a new Connect works. With
// AutoReconnect the same Device reconnects by itself.
func TestMatrixGatttoolKilled(t *testing.T) {
	for _, tc := range []struct {
		name          string
		pending, auto bool
	}{
		{"read pending", true, false},
		{"idle", false, false},
		{"AutoReconnect/read pending", true, true},
		{"AutoReconnect/idle", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, entered, release := gatedPeripheral(t)
			// The hang detector must not be what ends the read.
			r := setup(t, gatttool.Config{RequestTimeout: 5 * time.Minute}, p)
			t.Cleanup(release) // before the environment closes (cleanups run last-in first-out)
			evs := make(chan gogatt.ConnectionEvent, 16)
			d := connect(t, r, testAddr, gogatt.ConnectOptions{AutoReconnect: tc.auto, ReconnectMinDelay: 50 * time.Millisecond,
				ReconnectMaxDelay: 200 * time.Millisecond, OnConnectionEvent: func(e gogatt.ConnectionEvent) { evs <- e }})
			ctx := ctxT(t, 60*time.Second)
			if _, err := d.Services(ctx); err != nil {
				t.Fatal(err)
			}
			var readErr chan error
			if tc.pending {
				readErr = make(chan error, 1)
				go func() { _, err := d.CharRead(ctx, uGate); readErr <- err }()
				await(t, entered, "the read did not reach the peripheral")
			}
			killGatttool(t)
			if tc.pending {
				var err error
				select {
				case err = <-readErr:
				case <-time.After(hangDeadline):
					t.Fatalf("the pending read did not fail within %v of the kill", hangDeadline)
				}
				var de *gogatt.DisconnectError
				if !errors.Is(err, gogatt.ErrNotConnected) || !errors.As(err, &de) || errors.Is(err, gogatt.ErrTimeout) {
					t.Fatalf("pending read after the kill: %v", err)
				}
				t.Logf("pending read after the kill: %v", err)
				release()
			}
			if tc.auto {
				waitEvent(t, ctx, evs, gogatt.EventDisconnected)
				waitEvent(t, ctx, evs, gogatt.EventReconnected)
				if v, err := d.CharRead(ctx, uRW); err != nil || string(v) != "\x01\x02\x03" {
					t.Fatalf("read after the reconnection: %x, %v", v, err)
				}
				return
			}
			await(t, d.Disconnected(), "Disconnected not closed after the kill")
			var de *gogatt.DisconnectError
			if err := d.Err(); !errors.As(err, &de) || de.Local || !errors.Is(err, gogatt.ErrNotConnected) {
				t.Fatalf("Err after the kill = %v, want a remote *gogatt.DisconnectError", err)
			}
			if _, err := d.CharRead(ctx, uRW); !errors.Is(err, gogatt.ErrNotConnected) {
				t.Fatalf("read after the kill: %v", err)
			}
			d2 := connect(t, r, testAddr, gogatt.ConnectOptions{})
			if v, err := d2.CharRead(ctx, uRW); err != nil || string(v) != "\x01\x02\x03" {
				t.Fatalf("read on a new connection: %x, %v", v, err)
			}
			d2.Disconnect()
			noChildLeft(t) // the killed process was reaped too
		})
	}
}

// Cancelling the context of a Scan without OnAdvertisement (the suite cancels one with it, at
// its first call) once hcitool has printed a report: Scan returns the devices seen so far and an
// error matching context.Canceled (not a timeout); hcitool was stopped with SIGINT (the
// controller stopped scanning), so the next Scan works.
func TestMatrixGatttoolCancelDuringScanNoCallback(t *testing.T) {
	ps := sim.DemoPeripherals(1)
	a := ps[0].Address().String()
	w := gogatttest.NewLogSignal("text", a, nil) // hcitool printed a report of ps[0]
	reported := w.Next()
	r := setup(t, gatttool.Config{Logger: slog.New(w)}, ps...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan scanOutcome, 1)
	go func() {
		res, err := r.b.Scan(ctx, gogatt.ScanOptions{Timeout: time.Minute})
		out <- scanOutcome{res, err}
	}()
	await(t, reported, "hcitool reported no advertisement")
	cancel()
	var o scanOutcome
	select {
	case o = <-out:
	case <-time.After(hangDeadline):
		t.Fatalf("Scan did not return within %v of the cancellation", hangDeadline)
	}
	if !errors.Is(o.err, context.Canceled) || errors.Is(o.err, gogatt.ErrTimeout) {
		t.Fatalf("cancelled Scan: %+v, %v", o.res, o.err)
	}
	seen := false
	for _, x := range o.res {
		seen = seen || x.Address == a
	}
	if !seen {
		t.Fatalf("cancelled Scan returned %+v, without %s seen before", o.res, a)
	}
	res, err := r.b.Scan(ctxT(t, 20*time.Second), gogatt.ScanOptions{Timeout: time.Second})
	if err != nil || len(res) == 0 {
		t.Fatalf("Scan after a cancelled one: %+v, %v", res, err)
	}
}

type scanOutcome struct {
	res []gogatt.ScanResult
	err error
}
