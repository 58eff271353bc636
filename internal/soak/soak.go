//go:build unix

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
	"go.bug.st/serial"
)

// Tolerances of the cycle phase: what the end sample may exceed the start sample by. A leak of
// one goroutine or file descriptor per cycle, or of 1 MiB / cycles bytes per cycle, exceeds
// them.
const (
	maxGoroutineGrowth = 2
	maxFDGrowth        = 2
	maxHeapGrowth      = 1 << 20
)

// Warm-up cycles before the cycle phase's start sample (pools, caches and goroutines made
// lazily by the first connections are not growth), and how long the end sample may wait for
// goroutines of the last disconnection to finish.
const (
	warmupCycles = 20
	settleTime   = 5 * time.Second
)

// stallTimeout ends a phase that makes no progress at all for that long: a hang, not a slow
// machine (the emulator applies backpressure instead of dropping, so load only slows it).
const stallTimeout = 60 * time.Second

type config struct {
	Links    int
	Rate     float64
	Duration time.Duration
	Cycles   int
	// Before is the length of a second stream phase that opens the pty with go.bug.st/serial
	// through bgapi.Config.Dial, the port the backend used before its Linux poller (a pump
	// goroutine doing a blocking select(2) then read(2)); 0 skips it.
	Before time.Duration
}

func (c config) check() error {
	switch {
	case c.Links < 1 || c.Links > bled112.MaxSlots:
		return fmt.Errorf("-links %d: want 1..%d (the emulator's connection slots)", c.Links, bled112.MaxSlots)
	case !(c.Rate > 0):
		return fmt.Errorf("-rate %v: want > 0", c.Rate)
	case c.Duration < 0 || c.Cycles < 0 || c.Before < 0:
		return errors.New("-duration, -before and -cycles must not be negative")
	case c.Duration > 0 && values(c.Rate, c.Duration) < 1, c.Before > 0 && values(c.Rate, c.Before) < 1:
		return fmt.Errorf("-rate %v × the stream's duration is less than one value", c.Rate)
	}
	return nil
}

// values is the number of values each link's generator sends in a stream of d.
func values(rate float64, d time.Duration) int { return int(rate * d.Seconds()) }

// failure is a failed check (exit status 1), as opposed to a setup error.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

// report holds what the phases measured.
type report struct {
	Config    config
	CPUs      int
	Go        string
	LoadStart string // /proc/loadavg when the run started ("" where there is none)
	LoadEnd   string
	Started   time.Time

	Stream *streamReport // nil: phase skipped or not reached
	Before *streamReport // the stream with go.bug.st/serial (config.Before)
	Cycles *cycleReport
}

type streamReport struct {
	Expected int           // values per link
	Wall     time.Duration // from the generators' start to the last value (or the stall)
	CPU      time.Duration // this process's CPU time over Wall
	EmuCPU   time.Duration // the emulator process's over the same time (0: unknown)
	Switches int64         // this process's voluntary context switches over Wall
	Links    []linkReport
}

// CPUPercent is this process's CPU time over the wall time, in % of one core.
func (s *streamReport) CPUPercent() float64 { return 100 * s.CPU.Seconds() / s.Wall.Seconds() }

// EmuCPUPercent is the emulator process's, likewise.
func (s *streamReport) EmuCPUPercent() float64 { return 100 * s.EmuCPU.Seconds() / s.Wall.Seconds() }

// PerNotification is this process's CPU time per value received, and its voluntary context
// switches per value (below 1 when one wake-up serves several values).
func (s *streamReport) PerNotification() (time.Duration, float64) {
	n := s.Received()
	if n == 0 {
		return 0, 0
	}
	return s.CPU / time.Duration(n), float64(s.Switches) / float64(n)
}

// Received is the values received on every link.
func (s *streamReport) Received() int {
	n := 0
	for _, l := range s.Links {
		n += l.Received
	}
	return n
}

type linkReport struct {
	Address    string
	Received   int     // handler calls
	Lost       int     // sequence numbers 0..Expected-1 never seen
	OutOfOrder int     // values whose number is not above every number seen before
	Unexpected int     // values numbered Expected or more
	Dropped    uint64  // the subscription's counters (must stay 0)
	Discarded  uint64  //
	Rate       float64 // values/s from the first to the last value
}

func (l linkReport) ok() bool {
	return l.Lost == 0 && l.OutOfOrder == 0 && l.Unexpected == 0 && l.Dropped == 0 && l.Discarded == 0
}

type cycleReport struct {
	Cycles     int
	Wall       time.Duration
	Start, End sample
	Settled    time.Duration // how long the end sample waited for goroutines to finish
}

// sample is the process's resources at one moment, after runtime.GC.
type sample struct {
	Goroutines int
	FDs        int
	Heap       uint64 // runtime.MemStats.HeapAlloc right after a GC: the live heap
}

// within reports whether s stays within the tolerances over start.
func (s sample) within(start sample) bool {
	return s.Goroutines <= start.Goroutines+maxGoroutineGrowth && s.FDs <= start.FDs+maxFDGrowth &&
		s.Heap <= start.Heap+maxHeapGrowth
}

// run runs the phases of cfg and returns what they measured; the error is a *failure when a
// check failed. Progress goes to log.
func run(ctx context.Context, cfg config, log io.Writer) (*report, error) {
	rep := &report{Config: cfg, CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadavg(), Started: time.Now()}
	defer func() { rep.LoadEnd = loadavg() }()
	var fails []string
	for _, ph := range []struct {
		name   string
		d      time.Duration
		serial bool
		rep    **streamReport
	}{{"stream", cfg.Duration, false, &rep.Stream}, {"stream with go.bug.st/serial", cfg.Before, true, &rep.Before}} {
		if ph.d == 0 {
			continue
		}
		fmt.Fprintf(log, "soak: %s: %d links × %g/s for %v\n", ph.name, cfg.Links, cfg.Rate, ph.d)
		s, err := stream(ctx, cfg.Links, cfg.Rate, values(cfg.Rate, ph.d), ph.serial)
		*ph.rep = s
		if err != nil {
			return rep, fmt.Errorf("%s: %w", ph.name, err)
		}
		for _, l := range s.Links {
			if !l.ok() {
				fails = append(fails, fmt.Sprintf("%s: link %s: %d of %d received, %d lost, %d out of order, %d unexpected, %d dropped, %d discarded",
					ph.name, l.Address, l.Received, s.Expected, l.Lost, l.OutOfOrder, l.Unexpected, l.Dropped, l.Discarded))
			}
		}
	}
	if cfg.Cycles > 0 {
		fmt.Fprintf(log, "soak: cycles: %d connect/subscribe/disconnect cycles\n", cfg.Cycles)
		c, err := cycles(ctx, cfg)
		rep.Cycles = c
		if err != nil {
			return rep, fmt.Errorf("cycles: %w", err)
		}
		if !c.End.within(c.Start) {
			fails = append(fails, fmt.Sprintf("cycles: growth beyond the tolerance (goroutines +%d, fds +%d, heap +%d bytes): goroutines %d → %d, fds %d → %d, heap %d → %d bytes",
				maxGoroutineGrowth, maxFDGrowth, maxHeapGrowth, c.Start.Goroutines, c.End.Goroutines, c.Start.FDs, c.End.FDs, c.Start.Heap, c.End.Heap))
		}
	}
	if len(fails) > 0 {
		return rep, &failure{strings.Join(fails, "; ")}
	}
	return rep, nil
}

// startBackend starts the BGAPI backend on the emulator process's pty; withSerial opens it
// with go.bug.st/serial (config.Before).
func startBackend(ctx context.Context, emu *emuProcess, withSerial bool) (*bgapi.Backend, error) {
	bc := bgapi.Config{Port: emu.path, NoReset: true}
	if withSerial {
		bc.Dial = func() (io.ReadWriteCloser, error) {
			return serial.Open(emu.path, &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
		}
	}
	be := bgapi.New(bc)
	if err := be.Start(ctx); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	return be, nil
}

// linkCounter checks one link's sequence numbers; its handler runs on the subscription's
// delivery goroutine.
type linkCounter struct {
	expected int
	done     chan struct{} // closed when every number has been seen

	mu                     sync.Mutex
	seen                   []bool
	distinct, received     int
	max                    int // highest number seen; -1 before the first
	outOfOrder, unexpected int
	first, last            time.Time
}

func newLinkCounter(expected int) *linkCounter {
	return &linkCounter{expected: expected, done: make(chan struct{}), seen: make([]bool, expected), max: -1}
}

func (c *linkCounter) handle(_ uint16, v []byte) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.received++
	if c.first.IsZero() {
		c.first = now
	}
	c.last = now
	if len(v) < 4 {
		c.unexpected++
		return
	}
	seq := int(binary.LittleEndian.Uint32(v))
	if seq <= c.max {
		c.outOfOrder++
	} else {
		c.max = seq
	}
	if seq >= c.expected {
		c.unexpected++
		return
	}
	if !c.seen[seq] {
		c.seen[seq] = true
		c.distinct++
		if c.distinct == c.expected {
			close(c.done)
		}
	}
}

// lastValue returns when the last value arrived (zero before the first).
func (c *linkCounter) lastValue() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *linkCounter) report(addr string) linkReport {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := linkReport{Address: addr, Received: c.received, Lost: c.expected - c.distinct, OutOfOrder: c.outOfOrder, Unexpected: c.unexpected}
	if d := c.last.Sub(c.first); c.received > 1 && d > 0 {
		l.Rate = float64(c.received-1) / d.Seconds()
	}
	return l
}

// stream is phase 1: links links, n values each at rate.
func stream(ctx context.Context, links int, rate float64, n int, withSerial bool) (*streamReport, error) {
	emu, err := startEmulator(ctx, links, rate, n)
	if err != nil {
		return nil, err
	}
	defer emu.close()
	be, err := startBackend(ctx, emu, withSerial)
	if err != nil {
		return nil, err
	}
	defer be.Stop()
	counters := make([]*linkCounter, links)
	devs := make([]gogatt.Device, links)
	for i := range counters {
		addr := deviceAddress(i).String()
		d, err := be.Connect(ctx, addr, gogatt.ConnectOptions{})
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", addr, err)
		}
		devs[i] = d
		counters[i] = newLinkCounter(n)
		if err := d.Subscribe(ctx, sim.TortureStream, counters[i].handle, gogatt.SubscribeOptions{}); err != nil {
			return nil, fmt.Errorf("subscribe %s: %w", addr, err)
		}
	}
	rep := &streamReport{Expected: n}
	cpu0, sw0 := usage()
	t0 := time.Now()
	if _, err := emu.command("go", false); err != nil {
		return nil, err
	}
	// Wait for every link's last value; a stall (no value on a link for stallTimeout) ends the
	// wait, and the values never seen count as lost.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for _, c := range counters {
	wait:
		for {
			select {
			case <-c.done:
				break wait
			case <-ctx.Done():
				return nil, ctx.Err()
			case now := <-tick.C:
				last := c.lastValue()
				if last.IsZero() {
					last = t0
				}
				if now.Sub(last) > stallTimeout {
					break wait
				}
			}
		}
	}
	cpu1, sw1 := usage()
	rep.CPU, rep.Switches, rep.Wall = cpu1-cpu0, sw1-sw0, time.Since(t0)
	if s, err := emu.command("cpu", true); err == nil {
		if f, err := parseSeconds(s); err == nil {
			rep.EmuCPU = f
		}
	}
	for i, c := range counters {
		l := c.report(devs[i].Address())
		if r, ok := devs[i].(gogatt.SubscriptionStatsReporter); ok {
			h := sim.NewTortureDevice(deviceAddress(i), 1).ValueHandle(sim.TortureStream)
			if st, ok := r.SubscriptionStats(h); ok {
				l.Dropped, l.Discarded = st.Dropped, st.Discarded
			}
		}
		rep.Links = append(rep.Links, l)
	}
	for _, d := range devs {
		if err := d.Disconnect(); err != nil {
			return rep, fmt.Errorf("disconnect %s: %w", d.Address(), err)
		}
	}
	return rep, nil
}

// cycles is phase 2.
func cycles(ctx context.Context, cfg config) (*cycleReport, error) {
	emu, err := startEmulator(ctx, cfg.Links, cfg.Rate, 0)
	if err != nil {
		return nil, err
	}
	defer emu.close()
	be, err := startBackend(ctx, emu, false)
	if err != nil {
		return nil, err
	}
	defer be.Stop()
	cycle := func(i int) error {
		addr := deviceAddress(i % cfg.Links).String()
		// A cycle that makes no progress for stallTimeout is a hang.
		ctx, cancel := context.WithTimeout(ctx, stallTimeout)
		defer cancel()
		d, err := be.Connect(ctx, addr, gogatt.ConnectOptions{})
		if err != nil {
			return fmt.Errorf("cycle %d: connect %s: %w", i, addr, err)
		}
		if err := d.Subscribe(ctx, sim.TortureStream, func(uint16, []byte) {}, gogatt.SubscribeOptions{}); err != nil {
			d.Disconnect()
			return fmt.Errorf("cycle %d: subscribe %s: %w", i, addr, err)
		}
		if err := d.Disconnect(); err != nil {
			return fmt.Errorf("cycle %d: disconnect %s: %w", i, addr, err)
		}
		return nil
	}
	for i := range min(warmupCycles, cfg.Cycles) {
		if err := cycle(i); err != nil {
			return nil, err
		}
	}
	rep := &cycleReport{Cycles: cfg.Cycles, Start: takeSample()}
	t0 := time.Now()
	for i := range cfg.Cycles {
		if err := cycle(i); err != nil {
			return rep, err
		}
	}
	rep.Wall = time.Since(t0)
	// Goroutines of the last disconnection may still be on their way out: sample again until
	// the tolerance holds or settleTime has passed.
	rep.End = takeSample()
	for t1 := time.Now(); !rep.End.within(rep.Start) && time.Since(t1) < settleTime; rep.End = takeSample() {
		rep.Settled = time.Since(t1)
		time.Sleep(10 * time.Millisecond)
	}
	return rep, nil
}

func takeSample() sample {
	runtime.GC()
	runtime.GC() // the first may leave finalizers' objects for the second
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return sample{Goroutines: runtime.NumGoroutine(), FDs: openFDs(), Heap: ms.HeapAlloc}
}

// openFDs counts this process's open file descriptors (-1 when it cannot tell).
func openFDs() int {
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		if es, err := os.ReadDir(dir); err == nil {
			return len(es) - 1 // the directory's own descriptor, open while it is read
		}
	}
	return -1
}

// loadavg is /proc/loadavg, or "" where there is none.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func parseSeconds(s string) (time.Duration, error) {
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		return 0, fmt.Errorf("seconds %q: %w", s, err)
	}
	return time.Duration(f * float64(time.Second)), nil
}
