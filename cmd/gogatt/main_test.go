package main

// End-to-end tests: the gogatt binary, built once in TestMain, run against the embedded
// emulator (--sim: the BLED112 emulator on a real pseudo-terminal inside the process, opened by
// the BGAPI backend through its serial-port code) for every command, in text and --json,
// including error paths and Ctrl-C.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const (
	hrm     = "C0:FF:EE:00:00:01"
	thermo  = "C0:FF:EE:00:00:02"
	torture = "C0:FF:EE:00:00:03"
	absent  = "AA:BB:CC:DD:EE:FF"
)

var bin string // the built gogatt binary

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gogatt-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "gogatt")
	// Without --backend the command chooses bluez when bluetoothd is on the system bus: point
	// the system bus at nothing, so that no test reaches this machine's bluetoothd. Tests that
	// want a bus (bluezsim) set their own.
	os.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(dir, "no-system-bus"))
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race") // the whole stack runs under the race detector too
	}
	// go test puts its own go command first in PATH.
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gogatt: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		return goleakRun(m)
	}()
	os.Exit(code)
}

func goleakRun(m *testing.M) int {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			return 1
		}
	}
	return code
}

type res struct {
	code           int
	stdout, stderr string
}

// exe runs the binary to completion.
func exe(t *testing.T, args ...string) res {
	t.Helper()
	return exeEnv(t, nil, args...)
}

// exeEnv is exe with environ as the binary's environment (nil: this process's).
func exeEnv(t *testing.T, environ []string, args ...string) res {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = environ
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running gogatt %q: %v", args, err)
	}
	return res{code, out.String(), errb.String()}
}

func (r res) must(t *testing.T, code int, args ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("gogatt %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, code, r.stdout, r.stderr)
	}
}

func run(t *testing.T, code int, args ...string) res {
	t.Helper()
	return runEnv(t, nil, code, args...)
}

// runEnv is run with environ as the binary's environment (nil: this process's).
func runEnv(t *testing.T, environ []string, code int, args ...string) res {
	t.Helper()
	r := exeEnv(t, environ, args...)
	r.must(t, code, args...)
	return r
}

// jsonLines decodes every stdout line as a JSON object.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		out = append(out, v)
	}
	return out
}

func TestHelp(t *testing.T) {
	r := run(t, 0, "--help")
	for _, c := range []string{"scan", "services", "read", "write", "subscribe", "bond", "clear-bond", "rssi", "sim", "demo", "completion", "version", "help"} {
		if !strings.Contains(r.stdout, "\n  "+c+" ") {
			t.Errorf("--help does not list %s", c)
		}
		if c == "help" {
			continue
		}
		h := run(t, 0, c, "--help")
		if !strings.Contains(h.stdout, "Examples:\n  gogatt "+c) || !strings.Contains(h.stdout, "'gogatt help exit-codes'") {
			t.Errorf("%s --help lacks examples or the reference to the exit codes:\n%s", c, h.stdout)
		}
	}
	r = run(t, 0, "help", "exit-codes")
	if !strings.HasPrefix(r.stdout, "Exit status:\n  0 ") {
		t.Errorf("help exit-codes: %q", r.stdout)
	}
	run(t, 0, "help", "-h")
	r = run(t, 2)
	if !strings.Contains(r.stderr, "Usage: gogatt") {
		t.Errorf("no arguments: %q", r.stderr)
	}
	// A mistyped command, a bad value: one line that names what is wrong, exit status 2.
	r = run(t, 2, "scna")
	if !strings.HasPrefix(r.stderr, `gogatt: unknown command "scna": did you mean scan?`+"\n") {
		t.Errorf("gogatt scna: %q", r.stderr)
	}
	r = run(t, 2, "--sim", "scan", "--timeout", "banana")
	if !strings.HasPrefix(r.stderr, `gogatt scan: invalid argument "banana" for "--timeout" flag`) {
		t.Errorf("--timeout banana: %q", r.stderr)
	}
}

// TestScan: the three demo devices with their names, in lines and in --json (the last object of
// a device is the fullest), and --name. Each scan runs until what is checked has been printed,
// then Ctrl-C ends it, so nothing depends on how fast a loaded machine sees the devices; the
// last one ends by itself after --duration.
func TestScan(t *testing.T) {
	contains := func(lines []string, subs ...string) bool {
		all := strings.Join(lines, "\n")
		for _, s := range subs {
			if !strings.Contains(all, s) {
				return false
			}
		}
		return true
	}
	names := []string{hrm, thermo, torture, "gogatt HRM", "gogatt Thermo", "gogatt Torture"}
	s := start(t, "scan", "--sim", "--duration", "1h")
	s.waitUntil(t, func(lines []string) bool { return contains(lines, names...) })
	if code, _ := s.interrupt(t); code != 0 || !strings.Contains(s.stderr.String(), "Scan finished: 3 devices") {
		t.Errorf("scan: exit %d, stderr %q", code, s.stderr)
	}

	var last map[string]map[string]any // the last object of each device is the fullest
	full := func(lines []string) bool {
		last = map[string]map[string]any{}
		for _, l := range jsonLines(t, strings.Join(lines, "\n")) {
			last[l["address"].(string)] = l
		}
		return len(last) == 3 && last[hrm]["name"] == "gogatt HRM" && last[thermo]["name"] == "gogatt Thermo" &&
			last[hrm]["data"].(map[string]any)["manufacturerData"] != nil
	}
	s = start(t, "scan", "--sim", "--duration", "1h", "--json")
	s.waitUntil(t, full)
	code, rest := s.interrupt(t)
	if code != 0 {
		t.Errorf("scan --json: exit %d, stderr %q", code, s.stderr)
	}
	if rest != "" {
		jsonLines(t, rest) // every line after Ctrl-C is whole JSON too
	}

	s = start(t, "scan", "--sim", "--duration", "1h", "--name", "hrm")
	lines := s.waitUntil(t, func(lines []string) bool { return contains(lines, "gogatt HRM") })
	code, rest = s.interrupt(t)
	if rest != "" {
		lines = append(lines, strings.Split(rest, "\n")...)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, hrm+" ") || !strings.Contains(l, "gogatt HRM") {
			t.Errorf("scan --name hrm: %q", lines)
		}
	}
	if code != 0 {
		t.Errorf("scan --name hrm: exit %d", code)
	}

	// Ending by itself: whatever the scan saw in its second, in whole lines.
	r := run(t, 0, "scan", "--sim", "--duration", "1s")
	if !regexp.MustCompile(`^Scan finished: [0-3] devices? in \d+\.\ds\.\n$`).MatchString(r.stderr) {
		t.Errorf("scan --duration 1s: stderr %q", r.stderr)
	}
	for _, l := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		if l != "" && !regexp.MustCompile(`^C0:FF:EE:00:00:0[1-3] +-\d+ dBm  \S`).MatchString(l) {
			t.Errorf("scan --duration 1s: line %q", l)
		}
	}
}

// TestScanStreams: when stdout is a pipe, devices are printed while the scan runs (the scan
// lasts an hour; the lines arrive from the running process), each as soon as it is seen; Ctrl-C
// then ends it with exit status 0, the summary on stderr and the lines intact.
func TestScanStreams(t *testing.T) {
	for _, tc := range []struct {
		args []string
		hrm  string // a line for the heart-rate sensor
		all  string // the line that says the last device's name was learned
		line string // every stdout line
	}{
		{nil, `^` + hrm + ` +-\d+ dBm  gogatt HRM`, `gogatt Torture`, `^C0:FF:EE:00:00:0\d +-\d+ dBm  \S`},
		{[]string{"--json"}, `^\{"address":"` + hrm + `".*"name":"gogatt HRM"`, `"name":"gogatt Torture"`, `^\{"address":"C0:FF:EE:00:00:0\d".*\}$`},
	} {
		args := append([]string{"scan", "--sim", "--duration", "1h"}, tc.args...)
		s := start(t, args...)
		first := s.waitLine(t, tc.hrm)
		if st := procState(s.cmd.Process.Pid); st == "" || st == "Z" {
			t.Fatalf("%q: the process had ended (state %q) when its first line arrived", args, st)
		}
		s.waitLine(t, tc.all)
		code, rest := s.interrupt(t)
		if code != 0 {
			t.Errorf("%q: exit %d after Ctrl-C; stderr %s", args, code, s.stderr)
		}
		if !regexp.MustCompile(tc.line).MatchString(first) {
			t.Errorf("%q: line %q does not match %s", args, first, tc.line)
		}
		after := strings.Split(rest, "\n")
		if tc.args != nil { // --json ends with the summary
			if l := after[len(after)-1]; !strings.HasPrefix(l, `{"summary":{"devices":3,`) || !strings.HasSuffix(l, `,"end":"interrupted"}}`) {
				t.Errorf("%q: last line after Ctrl-C %q is not the summary", args, l)
			}
			after = after[:len(after)-1]
		}
		for _, l := range after {
			if l != "" && !regexp.MustCompile(tc.line).MatchString(l) {
				t.Errorf("%q: line after Ctrl-C %q does not match %s", args, l, tc.line)
			}
		}
		if tc.args == nil && !strings.Contains(s.stderr.String(), "Scan finished: 3 devices") {
			t.Errorf("%q: stderr %q", args, s.stderr)
		}
	}
}

// TestScanEndsWhenReaderGone: `gogatt scan --duration 1h | head -1` — once the reader of the
// pipe has gone the scan ends at once, cleanly (exit 0, the summary), without waiting for a
// write to fail (the demo devices are all printed within the first second).
func TestScanEndsWhenReaderGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "scan", "--sim", "--duration", "1h")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "C0:FF:EE:00:00:0") {
		t.Errorf("first line %q, %v", line, err)
	}
	r.Close() // head -1 exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gogatt scan after its reader went: %v; stderr %s", err, &errb)
	}
	if !strings.Contains(errb.String(), "Scan finished:") {
		t.Errorf("stderr %q", errb.String())
	}
}

// procState is the state letter of process pid from /proc ("R", "S", "Z", …), "" if it is gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func TestServices(t *testing.T) {
	r := run(t, 0, "services", "--sim", hrm)
	for _, want := range []string{
		hrm + ": ",
		"180d Heart Rate",
		"2a37 Heart Rate Measurement  notify",
		"2902 Client Characteristic Configuration",
		"180f Battery",
		"2a19 Battery Level  read",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("services lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, 0, "services", "--sim", "--json", hrm)
	v := jsonLines(t, r.stdout)
	if len(v) != 1 || v[0]["address"] != hrm || len(v[0]["services"].([]any)) < 3 {
		t.Errorf("services --json: %v", v)
	}
}

func TestRead(t *testing.T) {
	r := run(t, 0, "read", "--sim", hrm, "2a19")
	if !regexp.MustCompile(`^\d{1,3} %\n$`).MatchString(r.stdout) {
		t.Errorf("read battery: %q", r.stdout)
	}
	r = run(t, 0, "read", "--sim", hrm, "180f/2a19", "--format", "int")
	n, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil || n < 0 || n > 100 {
		t.Errorf("read --format int: %q", r.stdout)
	}
	r = run(t, 0, "read", "--sim", hrm, "2a00", "--format", "utf8")
	if r.stdout != "gogatt HRM\n" {
		t.Errorf("read device name: %q", r.stdout)
	}
	r = run(t, 0, "read", "--sim", "--json", hrm, "2a19")
	v := jsonLines(t, r.stdout)
	if len(v) != 1 || v[0]["kind"] != "battery_level" || v[0]["uuid"] != "00002a19-0000-1000-8000-00805f9b34fb" {
		t.Errorf("read --json: %v", v)
	}
	// By handle, as 'services' shows it.
	h := v[0]["handle"].(float64)
	r = run(t, 0, "read", "--sim", hrm, fmt.Sprintf("handle:0x%04x", int(h)), "--format", "hex")
	if !regexp.MustCompile(`^[0-9a-f]{2}\n$`).MatchString(r.stdout) {
		t.Errorf("read by handle: %q", r.stdout)
	}
}

func TestReadLong(t *testing.T) {
	const long = "7e570101-0000-4000-8000-746f72747572" // 300 octets, byte i = i mod 256
	r := run(t, 0, "read", "--sim", torture, long, "--format", "hex")
	if r.stdout != "000102030405060708090a0b0c0d0e0f101112131415\n" || !strings.Contains(r.stderr, "add --long") {
		t.Errorf("short read of a long value: %+v", r)
	}
	r = run(t, 0, "read", "--sim", torture, long, "--long", "--format", "hex")
	want := make([]byte, 300)
	for i := range want {
		want[i] = byte(i)
	}
	if r.stdout != fmt.Sprintf("%x\n", want) || r.stderr != "" {
		t.Errorf("read --long: %+v", r)
	}
	// Encryption needed: refused, then read after pairing.
	const enc = "7e570103-0000-4000-8000-746f72747572"
	r = run(t, 6, "read", "--sim", torture, enc)
	if !strings.Contains(r.stderr, "Insufficient Encryption") || !strings.Contains(r.stderr, "add --bond") {
		t.Errorf("encrypted read: %q", r.stderr)
	}
	r = run(t, 0, "read", "--sim", "--bond", torture, enc, "--format", "utf8")
	if r.stdout != "secret\n" {
		t.Errorf("read --bond: %q", r.stdout)
	}
	// The same UUID in two services: ambiguous, then qualified.
	const dup = "7e57d0b1-0000-4000-8000-746f72747572"
	r = run(t, 4, "read", "--sim", torture, dup)
	if !strings.Contains(r.stderr, "ambiguous") {
		t.Errorf("ambiguous read: %q", r.stderr)
	}
	r = run(t, 0, "read", "--sim", torture, "7e570002-0000-4000-8000-746f72747572/"+dup, "--format", "utf8")
	if r.stdout != "service 2\n" {
		t.Errorf("service-qualified read: %q", r.stdout)
	}
}

func TestSubscribeSeq(t *testing.T) {
	const stream = "7e57010d-0000-4000-8000-746f72747572"
	r := run(t, 0, "subscribe", "--sim", "--json", torture, stream, "--seq", "--count", "200")
	v := jsonLines(t, r.stdout)
	sum := v[len(v)-1]["summary"].(map[string]any)
	if len(v) != 201 || sum["count"] != float64(200) || sum["lost"] != float64(0) || sum["outOfOrder"] != float64(0) {
		t.Errorf("subscribe --seq: %d lines, summary %v", len(v), sum)
	}
	if _, ok := v[0]["seq"]; !ok {
		t.Errorf("no seq in %v", v[0])
	}
}

func TestWrite(t *testing.T) {
	// Heart Rate Control Point: 0x01 resets the energy expended (HRS §3.3).
	r := run(t, 0, "write", "--sim", hrm, "2a39", "01")
	if !strings.HasPrefix(r.stdout, "wrote 1 byte(s) 01 to 2a39 Heart Rate Control Point") {
		t.Errorf("write: %q", r.stdout)
	}
	r = run(t, 0, "write", "--sim", "--json", hrm, "2a39", "--format", "int", "1")
	v := jsonLines(t, r.stdout)
	if v[0]["hex"] != "01" || v[0]["withResponse"] != true {
		t.Errorf("write --json: %v", v)
	}
}

func TestSubscribe(t *testing.T) {
	r := run(t, 0, "subscribe", "--sim", hrm, "2a37", "--count", "5")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 6 || !strings.Contains(lines[0], " bpm") || !strings.HasPrefix(lines[5], "5 value(s) in ") {
		t.Errorf("subscribe --count 5:\n%s", r.stdout)
	}
	// 2a1c only indicates: subscribe uses indications without being told.
	r = run(t, 0, "subscribe", "--sim", thermo, "2a1c", "--count", "1")
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3}  3\d\.\d °C\n1 value\(s\) in `).MatchString(r.stdout) {
		t.Errorf("subscribe to the thermometer:\n%s", r.stdout)
	}
	r = run(t, 0, "subscribe", "--sim", "--json", hrm, "2a37", "--count", "3")
	v := jsonLines(t, r.stdout)
	if len(v) != 4 || v[0]["kind"] != "heart_rate" || v[3]["summary"].(map[string]any)["count"] != float64(3) {
		t.Errorf("subscribe --json: %v", v)
	}
}

func TestBondRSSIClearBond(t *testing.T) {
	r := run(t, 0, "bond", "--sim", torture)
	if r.stdout != "bonded with "+torture+"\n" {
		t.Errorf("bond: %q", r.stdout)
	}
	run(t, 0, "bond", "--sim", "--temporary", torture)
	r = run(t, 0, "bond", "--sim", "--json", torture)
	if v := jsonLines(t, r.stdout); v[0]["bonded"] != true {
		t.Errorf("bond --json: %v", v)
	}
	r = run(t, 0, "clear-bond", "--sim", "--all")
	if r.stdout != "removed every bond\n" {
		t.Errorf("clear-bond: %q", r.stdout)
	}
	r = run(t, 0, "clear-bond", "--sim", "--all", "--json")
	if r.stdout != `{"cleared":"all"}`+"\n" {
		t.Errorf("clear-bond --json: %q", r.stdout)
	}
	// Every --sim run starts a fresh emulator: it has no bond with the torture device.
	r = run(t, 4, "clear-bond", "--sim", torture)
	if !strings.Contains(r.stderr, "gogatt clear-bond: clearing bonds: ") || strings.Contains(r.stderr, "gogatt services") {
		t.Errorf("clear-bond of an unknown bond: %q", r.stderr)
	}
	r = run(t, 0, "rssi", "--sim", hrm)
	if !regexp.MustCompile(`^-\d+ dBm\n$`).MatchString(r.stdout) {
		t.Errorf("rssi: %q", r.stdout)
	}
	r = run(t, 0, "rssi", "--sim", "--json", "--watch", "--count", "2", "--interval", "10ms", hrm)
	if v := jsonLines(t, r.stdout); len(v) != 3 || v[1]["rssi"].(float64) >= 0 || v[2]["summary"].(map[string]any)["count"] != float64(2) {
		t.Errorf("rssi --json --watch: %v", v)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"read", "--sim", hrm, "2aff"}, 4, "run 'gogatt services ADDRESS'"},
		{[]string{"read", "--sim", "--timeout", "1s", absent, "2a19"}, 5, "is the device in range"},
		{[]string{"read", "--sim", "not-an-address", "2a19"}, 2, "invalid Bluetooth address"},
		{[]string{"write", "--sim", hrm, "2a39", "xyz"}, 2, "not a hex digit"},
		{[]string{"read", "--sim", hrm, "2a37"}, 6, "Read Not Permitted): it is not readable but sends its values: run 'gogatt subscribe " + hrm + " 2a37'"},
		{[]string{"scan", "--port", "/nonexistent/ttyACM9"}, 3, "--port /nonexistent/ttyACM9 does not exist: "},
		// Paths that are not serial ports: exit status 3 (the adapter cannot be opened), in
		// the terms of --port, without the serial library's message.
		{[]string{"scan", "--port", "/dev/null"}, 3, "gogatt scan: --port /dev/null is not a serial port: pass a BLED112's port"},
		{[]string{"scan", "--port", "main_test.go"}, 3, "gogatt scan: --port main_test.go is not a serial port: "},
		{[]string{"read", "--port", "internal", hrm, "2a19"}, 3, "gogatt read: --port internal is not a serial port: "},
		// ATT errors with what to do.
		{[]string{"read", "--sim", torture, "7e570102-0000-4000-8000-746f72747572"}, 6, "(Read Not Permitted): the characteristic is not readable: see its properties with 'gogatt services " + torture + "'"},
		{[]string{"write", "--sim", torture, "7e57010c-0000-4000-8000-746f72747572", "01"}, 6, "(Write Not Permitted): the characteristic is not writable: "},
		{[]string{"read", "--sim", torture, "handle:0x0300"}, 6, "(Invalid Handle): the device has no attribute with that handle: run 'gogatt services " + torture + "'"},
		{[]string{"read", "--sim", torture, "7e570105-0000-4000-8000-746f72747572"}, 6, "(Insufficient Authorization): the device has not authorized this client: "},
		// Too long for one packet: the flag that does it, not the library call.
		{[]string{"write", "--sim", torture, "7e570101-0000-4000-8000-746f72747572", strings.Repeat("ab", 30)}, 2, ": 30 bytes do not fit in one ATT write: add --long "},
		{[]string{"write", "--sim", "--no-response", torture, "7e570101-0000-4000-8000-746f72747572", strings.Repeat("ab", 30)}, 2, ": 30 bytes do not fit in one ATT write: a Write Command carries no more: add --long"},
		// Subscribing to what neither notifies nor indicates: no "Subscribed" first.
		{[]string{"subscribe", "--sim", torture, "7e570101-0000-4000-8000-746f72747572"}, 8, "it neither notifies nor indicates: read it with 'gogatt read " + torture + " 7e570101-0000-4000-8000-746f72747572'"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
	} {
		r := exe(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("gogatt %q: exit %d stderr %q; want %d containing %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
		if tc.code != 2 && strings.Count(r.stderr, "\n") != 1 || strings.Count(r.stderr, "\n") > 2 {
			t.Errorf("gogatt %q: stderr is not one line: %q", tc.args, r.stderr)
		}
		for _, lib := range []string{"CharWrite", "Config.", "Invalid serial port", "term settings"} {
			if strings.Contains(r.stderr, lib) {
				t.Errorf("gogatt %q: stderr speaks the library's terms (%s): %q", tc.args, lib, r.stderr)
			}
		}
	}
}

// TestDemo runs the demo to its end. Its scan and its stream last fixed times, so what they
// catch depends on the machine's load: the device may be missed in the scan (the demo says
// so) and no notification may arrive; TestCtrlCDemo waits for a heart-rate line.
func TestDemo(t *testing.T) {
	r := run(t, 0, "demo", "--sim", "--duration", "1s", "--scan", "500ms")
	for _, want := range []string{
		"gogatt demo on the emulated BLED112 (--sim)",
		"== Scanning for 500ms",
		"== Service tree (",
		"180d Heart Rate",
		"== Battery level (180f/2a19)",
		"== Heart-rate notifications (180d/2a37) for 1s",
		"== Summary",
		"disconnected from " + hrm,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`\n== Connecting to ` + hrm + ` \((gogatt HRM|not seen in the scan)\)\n`).MatchString(r.stdout) {
		t.Errorf("demo: no connect step:\n%s", r.stdout)
	}
	r = run(t, 0, "demo", "--sim", "--json", "--duration", "500ms", "--scan", "300ms")
	steps := map[string]int{}
	for _, v := range jsonLines(t, r.stdout) {
		steps[v["step"].(string)]++
	}
	for _, s := range []string{"scan", "connect", "services", "battery", "summary"} {
		if steps[s] != 1 {
			t.Errorf("demo --json has %d %q steps: %v", steps[s], s, steps)
		}
	}
}

// TestCompletion: the completion requests of the shells' scripts (__complete, which
// TestShellCompletion drives through real shells) against the emulator: addresses from a scan,
// a device's characteristics from its service tree.
func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := run(t, 0, "completion", sh)
		if !strings.Contains(r.stdout, "__complete") {
			t.Errorf("completion %s:\n%s", sh, r.stdout)
		}
	}
	r := run(t, 0, "__complete", "--sim", "services", "C0:FF")
	if !regexp.MustCompile(`(?m)^C0:FF:EE:00:00:0[1-3]\tgogatt (HRM|Thermo|Torture), -\d+ dBm$`).MatchString(r.stdout) || !strings.HasSuffix(r.stdout, "\n:4\n") {
		t.Errorf("completing an address:\n%s", r.stdout)
	}
	r = run(t, 0, "__complete", "--sim", "read", hrm, "2a")
	for _, want := range []string{"2a37\tHeart Rate Measurement, in 180d Heart Rate\n", "2a19\tBattery Level, in 180f Battery\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("completing a characteristic of %s: lacks %q:\n%s", hrm, want, r.stdout)
		}
	}
	// No adapter: nothing, at once.
	r = run(t, 0, "__complete", "--port", "/nonexistent/ttyACM9", "read", "")
	if r.stdout != ":4\n" {
		t.Errorf("completing without an adapter: %q", r.stdout)
	}
}

// started is a gogatt process whose stdout is read line by line.
type started struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *bytes.Buffer
}

func start(t *testing.T, args ...string) *started {
	t.Helper()
	return startCmd(t, exec.Command(bin, args...))
}

// startCmd starts cmd, a gogatt command line, reading its stdout line by line.
func startCmd(t *testing.T, cmd *exec.Cmd) *started {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &started{cmd: cmd, lines: make(chan string, 1000), stderr: &errb}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return s
}

// waitLine returns the first line matching re.
func (s *started) waitLine(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("output ended before a line matching %q; stderr: %s", re, s.stderr)
			}
			if rx.MatchString(l) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line matching %q within a minute", re)
		}
	}
}

// waitUntil reads lines until done(every line so far) holds and returns them.
func (s *started) waitUntil(t *testing.T, done func([]string) bool) []string {
	t.Helper()
	var lines []string
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("output ended before it was complete:\n%s\nstderr: %s", strings.Join(lines, "\n"), s.stderr)
			}
			lines = append(lines, l)
			if done(lines) {
				return lines
			}
		case <-timeout:
			t.Fatalf("output not complete within a minute:\n%s", strings.Join(lines, "\n"))
		}
	}
}

// interrupt sends SIGINT, waits for the exit and returns the exit code and the remaining output.
// It checks that no child process of gogatt outlives it.
func (s *started) interrupt(t *testing.T) (int, string) {
	t.Helper()
	return s.stop(t, syscall.SIGINT)
}

// stop is interrupt with another signal.
func (s *started) stop(t *testing.T, sig os.Signal) (int, string) {
	t.Helper()
	kids := children(s.cmd.Process.Pid)
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for l := range s.lines {
		rest = append(rest, l)
	}
	err := s.cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	for _, pid := range kids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("child process %d of gogatt still exists", pid)
		}
	}
	if left := children(s.cmd.Process.Pid); len(left) > 0 {
		t.Errorf("processes left with gogatt as parent: %v", left)
	}
	return code, strings.Join(rest, "\n")
}

// children lists the processes whose parent is pid (from /proc).
func children(pid int) []int {
	var kids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may contain spaces, so split after the last ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, n)
		}
	}
	return kids
}

func TestCtrlCSubscribe(t *testing.T) {
	for _, json := range []bool{false, true} {
		args := []string{"subscribe", "--sim", hrm, "2a37"}
		if json {
			args = append(args, "--json")
		}
		s := start(t, args...)
		s.waitLine(t, `bpm`)
		code, rest := s.interrupt(t)
		if code != 0 {
			t.Errorf("%q: exit %d after Ctrl-C; stderr %s", args, code, s.stderr)
		}
		want := "value(s) in"
		if json {
			want = `"end":"interrupted"`
		}
		if !strings.Contains(rest, want) {
			t.Errorf("%q: no summary after Ctrl-C:\n%s", args, rest)
		}
	}
}

func TestCtrlCRSSIWatch(t *testing.T) {
	s := start(t, "rssi", "--sim", "--watch", "--interval", "100ms", hrm)
	s.waitLine(t, `dBm`)
	if code, _ := s.interrupt(t); code != 0 {
		t.Errorf("rssi --watch: exit %d after Ctrl-C; stderr %s", code, s.stderr)
	}
}

// TestCtrlCConnect: Ctrl-C while connecting to an absent device exits 130 at once, long before
// the timeout.
func TestCtrlCConnect(t *testing.T) {
	cmd := exec.Command(bin, "read", "--sim", "-v", "--timeout", "1h", absent, "2a19")
	errp, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(errp)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "msg=connecting address="+absent) {
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || lines[len(lines)-1] != "gogatt read: interrupted" {
		t.Errorf("Ctrl-C while connecting: %v\n%s", err, strings.Join(lines, "\n"))
	}
}

func TestCtrlCDemo(t *testing.T) {
	s := start(t, "demo", "--sim", "--duration", "1h")
	s.waitLine(t, `bpm`)
	code, rest := s.interrupt(t)
	if code != 0 || !strings.Contains(rest, "== Summary") || !strings.Contains(rest, "disconnected from") {
		t.Errorf("demo after Ctrl-C: exit %d\n%s\nstderr %s", code, rest, s.stderr)
	}
}

// TestSimCommand runs `gogatt sim`, then a second gogatt that opens the printed path as its
// --port, then stops the emulator with Ctrl-C: its pty must be gone.
func TestSimCommand(t *testing.T) {
	s := start(t, "sim")
	path := s.waitLine(t, `.`)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("first line %q is not a path: %v", path, err)
	}
	r := run(t, 0, "read", "--port", path, hrm, "2a00", "--format", "utf8")
	if r.stdout != "gogatt HRM\n" {
		t.Errorf("read through the sim command's pty: %q", r.stdout)
	}
	code, _ := s.interrupt(t)
	if code != 0 {
		t.Errorf("sim exit %d after Ctrl-C; stderr %s", code, s.stderr)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s still exists after the emulator stopped", path)
	}
	sj := start(t, "sim", "--json")
	var v struct {
		Port        string
		Peripherals []struct{ Address string }
	}
	if err := json.Unmarshal([]byte(sj.waitLine(t, `port`)), &v); err != nil || v.Port == "" || len(v.Peripherals) != 3 {
		t.Errorf("sim --json: %+v, %v", v, err)
	}
	if code, _ := sj.interrupt(t); code != 0 {
		t.Errorf("sim --json exit %d", code)
	}
}

// TestSecondProcessOnPort: a second gogatt on the port a first one streams from (both run as
// whatever user, root included) is refused with exit status 3 before it touches the dongle, and
// the first one's subscription goes on.
func TestSecondProcessOnPort(t *testing.T) {
	s := start(t, "sim")
	path := s.waitLine(t, `.`)
	a := start(t, "subscribe", "--port", path, hrm, "2a37")
	a.waitLine(t, `bpm`)
	r := run(t, 3, "read", "--port", path, hrm, "2a00")
	if !strings.Contains(r.stderr, "busy") {
		t.Errorf("second gogatt on %s: %q", path, r.stderr)
	}
	for drained := false; !drained; { // what arrived before the second one ran
		select {
		case <-a.lines:
		default:
			drained = true
		}
	}
	a.waitLine(t, `bpm`)
	a.waitLine(t, `bpm`)
	if code, rest := a.interrupt(t); code != 0 || !strings.Contains(rest, "value(s) in") {
		t.Errorf("first gogatt: exit %d after Ctrl-C\n%s\nstderr %s", code, rest, a.stderr)
	}
	if code, _ := s.interrupt(t); code != 0 {
		t.Errorf("sim exit %d after Ctrl-C; stderr %s", code, s.stderr)
	}
}
