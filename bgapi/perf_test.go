//go:build unix

package bgapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// CPU and latency benchmarks of the backend alone: the emulator runs in a process of its own
// (this test binary, re-executed as TestEmulatorProcess), so getrusage of this process counts
// the backend, the port and the handler, not the emulated dongle and peripheral.

const emuProcessEnv = "GOGATT_BENCH_EMULATOR_RATE"

// TestEmulatorProcess is the helper process of the benchmarks (skipped otherwise): it serves
// the emulator with the demo peripherals on a pty, prints the path, runs the torture device's
// stream generator endlessly at the rate in emuProcessEnv (values/s; 0: none) and serves until
// its stdin closes.
func TestEmulatorProcess(t *testing.T) {
	rs := os.Getenv(emuProcessEnv)
	if rs == "" {
		t.Skip("helper process of the CPU benchmarks")
	}
	rate, err := strconv.ParseFloat(rs, 64)
	if err != nil {
		t.Fatal(err)
	}
	ps := sim.DemoPeripherals(1)
	emu, err := bled112.New(bled112.Config{Peripherals: ps})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	pt, err := emu.ListenPTY(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	if rate > 0 {
		for _, p := range ps {
			if p.Address().String() == tortureAddr {
				defer p.StartGenerator(p.ValueHandle(sim.TortureStream), 0, rate)()
			}
		}
	}
	fmt.Printf("%s\n", pt.Path())
	io.Copy(io.Discard, os.Stdin)
}

// startEmuProcess starts TestEmulatorProcess and returns the pty path it serves; it stops with
// b's cleanups.
func startEmuProcess(b *testing.B, rate float64) string {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestEmulatorProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), emuProcessEnv+"="+strconv.FormatFloat(rate, 'f', -1, 64))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("emulator process: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	return strings.TrimSpace(line)
}

// cpuTime is this process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNotificationCPU: one link receiving the torture stream at 500, 1,000 and 4,000
// notifications/s through the backend to a handler; b.N notifications. Reports the CPU this
// process spends per notification (µs-CPU/notification), the rate received, lost and
// out-of-order values and allocations per notification.
//
// port=serial opens the pty with go.bug.st/serial (a blocking select(2) then read(2) per
// wake-up, read by a pump goroutine), as the backend did before it used the runtime's poller
// (port=poller, the default on Linux).
func BenchmarkNotificationCPU(b *testing.B) {
	for _, rate := range []float64{500, 1000, 4000} {
		b.Run(fmt.Sprintf("raw/rate=%v", rate), func(b *testing.B) { benchRawNotificationCPU(b, rate) })
	}
	for _, port := range []string{"poller", "serial"} {
		for _, rate := range []float64{500, 1000, 4000} {
			b.Run(fmt.Sprintf("port=%s/rate=%v", port, rate), func(b *testing.B) {
				benchNotificationCPU(b, port, rate)
			})
		}
	}
}

// benchOpen returns the Config.open of a port variant of the benchmarks.
func benchOpen(port string) func(string) (serialPort, error) {
	if port == "serial" {
		return func(path string) (serialPort, error) {
			return serial.Open(path, &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
		}
	}
	return openSerial
}

func benchNotificationCPU(b *testing.B, port string, rate float64) {
	path := startEmuProcess(b, rate)
	be := New(Config{Port: path, NoReset: true, Logger: discardLogger(), open: benchOpen(port)})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := be.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer be.Stop()
	d, err := be.Connect(ctx, tortureAddr, gogatt.ConnectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Disconnect()
	var (
		n, lost, reorder atomic.Int64
		next             atomic.Int64 // the sequence number expected next; -1 before the first
		target           atomic.Int64
	)
	next.Store(-1)
	target.Store(1 << 62)
	done := make(chan struct{}, 1)
	handler := func(_ uint16, v []byte) {
		seq := int64(binary.LittleEndian.Uint32(v))
		if exp := next.Load(); exp >= 0 && seq != exp {
			if seq > exp {
				lost.Add(seq - exp)
			} else {
				reorder.Add(1)
			}
		}
		next.Store(seq + 1)
		if n.Add(1) >= target.Load() {
			select {
			case done <- struct{}{}:
			default:
			}
		}
	}
	wait := func(t int64) {
		target.Store(t)
		for n.Load() < t {
			select {
			case <-done:
			case <-ctx.Done():
				b.Fatalf("received %d of %d", n.Load(), t)
			}
		}
	}
	if err := d.Subscribe(ctx, sim.TortureStream, handler, gogatt.SubscribeOptions{}); err != nil {
		b.Fatal(err)
	}
	// Warm up for a tenth of a second's values, then measure b.N.
	warm := int64(rate / 10)
	wait(warm)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, t0, n0 := cpuTime(b), time.Now(), n.Load()
	lost.Store(0)
	reorder.Store(0)
	b.ResetTimer()
	wait(n0 + int64(b.N))
	b.StopTimer()
	cpu, el := cpuTime(b)-cpu0, time.Since(t0)
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "µs-CPU/notification")
	b.ReportMetric(float64(b.N)/el.Seconds(), "notifications/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N), "allocs/notification")
	b.ReportMetric(float64(lost.Load()), "lost")
	b.ReportMetric(float64(reorder.Load()), "out-of-order")
}

// BenchmarkReadRTT: one read (attclient_read_by_handle → attribute_value) of the heart-rate
// sensor's Body Sensor Location over the pty of an emulator in another process, by a raw
// BGAPI host (a non-blocking file on the pty, the codec and nothing else: the floor) and by
// the backend. Their difference is the library's time.
func BenchmarkReadRTT(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		path := startEmuProcess(b, 0)
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		f := os.NewFile(uintptr(fd), path)
		defer f.Close()
		dec := wire.NewDecoder(f)
		until := func(class, id uint8, event bool) wire.Frame {
			for {
				fr, err := dec.Next()
				if err != nil {
					b.Fatal(err)
				}
				if fr.Event == event && fr.Class == class && fr.ID == id {
					return fr
				}
			}
		}
		f.Write(wire.CmdGapConnectDirect{Address: bt.MustParseAddress(hrmAddr), ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 100}.AppendFrame(nil))
		st := until(3, 0, true) // connection_status
		h := sim.DemoPeripherals(1)[0].ValueHandle(gogatt.UUID16(0x2A38))
		cmd := wire.CmdAttclientReadByHandle{Connection: st.Payload[0], Handle: h}.AppendFrame(nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.Write(cmd); err != nil {
				b.Fatal(err)
			}
			until(4, 4, false) // response
			until(4, 5, true)  // attribute_value
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/read")
	})
	for _, port := range []string{"poller", "serial"} {
		b.Run("bgapi/port="+port, func(b *testing.B) { benchReadRTT(b, port) })
	}
}

func benchReadRTT(b *testing.B, port string) {
	path := startEmuProcess(b, 0)
	be := New(Config{Port: path, NoReset: true, Logger: discardLogger(), open: benchOpen(port)})
	ctx := context.Background()
	if err := be.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer be.Stop()
	d, err := be.Connect(ctx, hrmAddr, gogatt.ConnectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Disconnect()
	h := sim.DemoPeripherals(1)[0].ValueHandle(gogatt.UUID16(0x2A38))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.CharReadHandle(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/read")
}

// openRaw opens the pty as a raw host does: a non-blocking file on the runtime's poller.
func openRaw(b *testing.B, path string) *os.File {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), path)
	b.Cleanup(func() { f.Close() })
	return f
}

// benchRawNotificationCPU is BenchmarkNotificationCPU's floor: a raw BGAPI host (openRaw, the
// codec, one goroutine) counting attribute_value events.
func benchRawNotificationCPU(b *testing.B, rate float64) {
	f := openRaw(b, startEmuProcess(b, rate))
	dec := wire.NewDecoder(f)
	next := func() wire.Frame {
		fr, err := dec.Next()
		if err != nil {
			b.Fatal(err)
		}
		return fr
	}
	f.Write(wire.CmdGapConnectDirect{Address: bt.MustParseAddress(tortureAddr), ConnIntervalMin: 6, ConnIntervalMax: 6, Timeout: 100}.AppendFrame(nil))
	var conn uint8
	for fr := next(); !(fr.Event && fr.Class == 3 && fr.ID == 0); fr = next() {
	}
	p := sim.NewTortureDevice(bt.MustParseAddress(tortureAddr), 1)
	ci, _ := p.Characteristic(sim.TortureStream)
	f.Write(wire.CmdAttclientAttributeWrite{Connection: conn, Handle: ci.CCCDHandle, Data: []byte{1, 0}}.AppendFrame(nil))
	count := func(n int) {
		for i := 0; i < n; {
			if fr := next(); fr.Event && fr.Class == 4 && fr.ID == 5 {
				i++
			}
		}
	}
	count(int(rate / 10))
	cpu0, t0 := cpuTime(b), time.Now()
	b.ResetTimer()
	count(b.N)
	b.StopTimer()
	cpu, el := cpuTime(b)-cpu0, time.Since(t0)
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "µs-CPU/notification")
	b.ReportMetric(float64(b.N)/el.Seconds(), "notifications/s")
}
