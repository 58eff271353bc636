//go:build unix

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// emulatorEnv, when set in the environment, makes this program (or its test binary, see
// TestMain) the emulator process: its value is "links rate n" (see serveEmulator).
const emulatorEnv = "GOGATT_SOAK_EMULATOR"

// deviceAddress is the address of the i-th torture device of the emulator process.
func deviceAddress(i int) bt.Address {
	return bt.MustParseAddress(fmt.Sprintf("C0:FF:EE:00:10:%02X", i+1))
}

// serveEmulator is the emulator process. spec is "links rate n": links torture devices behind
// an emulated BLED112 with links connection slots, on a pty whose path is the first line
// printed to out. Then it reads commands from in, one a line:
//
//	go   start every device's stream generator: n values at rate per second
//	cpu  print this process's user + system CPU seconds since "go"
//
// It stops when in ends. The return value is the exit status.
func serveEmulator(spec string, in io.Reader, out io.Writer) int {
	var (
		links int
		rate  float64
		n     int
	)
	if _, err := fmt.Sscan(spec, &links, &rate, &n); err != nil {
		fmt.Fprintf(os.Stderr, "soak emulator: %s=%q: %v\n", emulatorEnv, spec, err)
		return 2
	}
	ps := make([]*sim.Peripheral, links)
	for i := range ps {
		ps[i] = sim.NewTortureDevice(deviceAddress(i), int64(i+1))
	}
	emu, err := bled112.New(bled112.Config{Peripherals: ps, Slots: links})
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak emulator:", err)
		return 2
	}
	defer emu.Close()
	pt, err := emu.ListenPTY("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak emulator:", err)
		return 2
	}
	defer pt.Close()
	fmt.Fprintln(out, pt.Path())
	var (
		stops []func()
		cpu0  time.Duration
	)
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "go":
			cpu0 = cpuTime()
			for _, p := range ps {
				stops = append(stops, p.StartGenerator(p.ValueHandle(sim.TortureStream), n, rate))
			}
		case "cpu":
			fmt.Fprintf(out, "%.6f\n", (cpuTime() - cpu0).Seconds())
		}
	}
	return 0
}

// cpuTime is this process's user + system CPU time so far (0 if getrusage fails).
func cpuTime() time.Duration {
	cpu, _ := usage()
	return cpu
}

// usage is this process's user + system CPU time and its voluntary context switches (the
// times a thread blocked, i.e. wake-ups) so far; zeros if getrusage fails.
func usage() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Nvcsw)
}

// emuProcess is a running emulator process.
type emuProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	path  string // the pty
	done  chan struct{}
}

// startEmulator starts this executable as the emulator process (serveEmulator) and returns
// once it serves its pty.
func startEmulator(ctx context.Context, links int, rate float64, n int) (*emuProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("emulator process: %w", err)
	}
	// A test binary (TestMain) ignores its arguments in emulator mode; -test.run keeps it from
	// running tests should the environment variable get lost.
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %g %d", emulatorEnv, links, rate, n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("emulator process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("emulator process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator process: %w", err)
	}
	e := &emuProcess{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), done: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
			stdin.Close() // ends the process, which ends the read below
		case <-e.done:
		}
	}()
	line, err := e.out.ReadString('\n')
	if err != nil {
		e.close()
		return nil, fmt.Errorf("emulator process: no pty: %w", err)
	}
	e.path = strings.TrimSpace(line)
	return e, nil
}

// command sends one command line; with reply, it returns the line the process answers.
func (e *emuProcess) command(cmd string, reply bool) (string, error) {
	if _, err := fmt.Fprintln(e.stdin, cmd); err != nil {
		return "", fmt.Errorf("emulator process: %s: %w", cmd, err)
	}
	if !reply {
		return "", nil
	}
	line, err := e.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("emulator process: %s: %w", cmd, err)
	}
	return strings.TrimSpace(line), nil
}

// close ends the process and waits for it.
func (e *emuProcess) close() error {
	e.stdin.Close()
	io.Copy(io.Discard, e.out)
	err := e.cmd.Wait()
	close(e.done)
	if err != nil {
		return fmt.Errorf("emulator process: %w", err)
	}
	return nil
}
