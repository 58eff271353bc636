package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

// TestGatttoolBackend runs the binary with --backend gatttool: the real BlueZ gatttool,
// hcitool and bluetoothctl, their sockets redirected to the sim demo peripherals by
// internal/bluezsim. Here Ctrl-C must also leave no gatttool or hcitool process behind.
func TestGatttoolBackend(t *testing.T) {
	bluezsim.RequireTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err := bluezsim.Start(ctx, bluezsim.Options{Peripherals: sim.DemoPeripherals(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	environ := append(os.Environ(), env.Environ()...)

	gt := func(code int, args ...string) res {
		t.Helper()
		return runEnv(t, environ, code, append([]string{"--backend", "gatttool"}, args...)...)
	}

	// The scan runs until it has printed the three devices (however long a loaded machine
	// takes), then Ctrl-C ends it.
	scan := exec.CommandContext(ctx, bin, "--backend", "gatttool", "scan", "--duration", "1h")
	scan.Env = environ
	s := startCmd(t, scan)
	s.waitUntil(t, func(lines []string) bool {
		all := strings.Join(lines, "\n")
		return strings.Contains(all, hrm) && strings.Contains(all, thermo) && strings.Contains(all, torture)
	})
	if code, _ := s.interrupt(t); code != 0 {
		t.Errorf("gatttool scan: exit %d after Ctrl-C; stderr %s", code, s.stderr)
	}
	r := gt(0, "services", hrm)
	if !strings.Contains(r.stdout, "2a37 Heart Rate Measurement  notify") {
		t.Errorf("gatttool services:\n%s", r.stdout)
	}
	r = gt(0, "read", hrm, "2a19")
	if !regexp.MustCompile(`^\d{1,3} %\n$`).MatchString(r.stdout) {
		t.Errorf("gatttool read: %q", r.stdout)
	}
	r = gt(0, "write", "--json", hrm, "2a39", "01")
	if !strings.Contains(r.stdout, `"hex":"01"`) {
		t.Errorf("gatttool write: %q", r.stdout)
	}
	r = gt(8, "rssi", hrm)
	if !strings.Contains(r.stderr, "(try --backend bgapi)") {
		t.Errorf("gatttool rssi: %q", r.stderr)
	}

	// Ctrl-C during a subscription: exit 0 with a summary, and gatttool is gone.
	cmd := exec.CommandContext(ctx, bin, "--backend", "gatttool", "subscribe", hrm, "2a37") // killed if it hangs
	cmd.Env = environ
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.Contains(sc.Text(), "bpm") {
	}
	kids := children(cmd.Process.Pid)
	if len(kids) == 0 {
		t.Error("no gatttool child while subscribed")
	}
	cmd.Process.Signal(syscall.SIGINT)
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("subscribe after Ctrl-C: %v", err)
	}
	if !strings.Contains(strings.Join(rest, "\n"), "value(s) in") {
		t.Errorf("no summary after Ctrl-C: %q", rest)
	}
	for _, pid := range kids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("child %d (gatttool) outlived gogatt", pid)
		}
	}
}
