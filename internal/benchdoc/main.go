// Command benchdoc runs the performance benchmarks and request-count tests and writes
// docs/benchmarks.md with every figure, the machine, the Go version and the method. Run it
// from the module root on an otherwise idle machine:
//
//	go run ./internal/benchdoc            # about two minutes
//	go run ./internal/benchdoc -count 10  # more runs per figure (medians)
//	go run ./internal/benchdoc -soak=false # without the soak section (another two and a half minutes)
//	go run ./internal/benchdoc -only gatttool,soak  # only those sections, the rest kept as it is
//
// The figures "before" are constants below: measured once with the same benchmarks at the
// commit named beside them, on the machine of the first docs/benchmarks.md.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	count := flag.Int("count", 5, "runs of each benchmark (the document shows medians)")
	out := flag.String("o", "docs/benchmarks.md", "output file")
	soak := flag.Bool("soak", true, "run go run ./internal/soak -md -before 60s (8 links × 1,000/s for 60 s twice, 10,000 cycles) for the soak section")
	only := flag.String("only", "", "regenerate only these sections of the existing document, comma-separated: gatttool, soak")
	flag.Parse()
	run := func() error { return run(*count, *out, *soak) }
	if *only != "" {
		run = func() error { return runOnly(strings.Split(*only, ","), *count, *out) }
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchdoc:", err)
		os.Exit(1)
	}
}

// result is the metrics of one benchmark over its runs.
type result map[string][]float64

// mm formats the median and the minimum of unit.
func (r result) mm(unit string) string {
	return fmt.Sprintf("%.1f (%.1f)", r.median(unit), slices.Min(append([]float64{1e300}, r[unit]...)))
}

func (r result) median(unit string) float64 {
	v := slices.Clone(r[unit])
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

var (
	benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)
	metric    = regexp.MustCompile(`([-+0-9.e]+) (\S+)`)
	reqLine   = regexp.MustCompile(`(\d+) discovery requests \(services (\d+), characteristics (\d+), descriptors (\d+)\); minimum (\d+)`)
	devLine   = regexp.MustCompile(`--- PASS: TestDiscoveryRequestsMinimal/(\S+)`)
)

// goTest runs go test with args and returns its output.
func goTest(args ...string) (string, error) {
	cmd := exec.Command("go", append([]string{"test"}, args...)...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	fmt.Fprintln(os.Stderr, "+ go test", strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		return b.String(), fmt.Errorf("go test %s: %w\n%s", strings.Join(args, " "), err, b.String())
	}
	return b.String(), nil
}

// bench runs the benchmarks matching re in pkg and collects their metrics by name.
func bench(pkg, re, benchtime string, count int) (map[string]result, string, error) {
	s, err := goTest("-run", "^$", "-bench", re, "-benchtime", benchtime, "-count", strconv.Itoa(count), pkg)
	if err != nil {
		return nil, "", err
	}
	res := map[string]result{}
	cpu := ""
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		l := sc.Text()
		if c, ok := strings.CutPrefix(l, "cpu: "); ok {
			cpu = c
		}
		m := benchLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		r := res[m[1]]
		if r == nil {
			r = result{}
			res[m[1]] = r
		}
		for _, mm := range metric.FindAllStringSubmatch(m[2], -1) {
			v, err := strconv.ParseFloat(mm[1], 64)
			if err == nil {
				r[mm[2]] = append(r[mm[2]], v)
			}
		}
	}
	return res, cpu, nil
}

// soakSection runs the soak command with its defaults, and its stream once more with
// go.bug.st/serial for the figure before, and returns its section of the document.
func soakSection() (string, error) {
	cmd := exec.Command("go", "run", "./internal/soak", "-md", "-before", "60s")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	fmt.Fprintln(os.Stderr, "+ go run ./internal/soak -md -before 60s")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go run ./internal/soak -md: %w\n%s%s", err, o.String(), e.String())
	}
	return o.String(), nil
}

func run(count int, out string, soak bool) error {
	start := time.Now()
	var doc strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&doc, format, args...) }

	reqOut, err := goTest("-run", "^TestDiscoveryRequestsMinimal$|^TestLongReadWriteRequests$", "-v", "-count=1", "./bgapi/")
	if err != nil {
		return err
	}
	gen, _, err := bench("./sim/", "^BenchmarkGeneratorRate$", "5x", count)
	if err != nil {
		return err
	}
	link, _, err := bench("./bgapi/", "^BenchmarkDiscoveryModelledLink$", "2x", 1)
	if err != nil {
		return err
	}
	// Interleaved rounds, so that a change in the machine's load hits every variant alike.
	cpuRes, cpu := map[string]result{}, ""
	for range count {
		r, c, err := bench("./bgapi/", "^BenchmarkNotificationCPU$|^BenchmarkReadRTT$", "2000x", 1)
		if err != nil {
			return err
		}
		cpu = c
		for k, m := range r {
			if cpuRes[k] == nil {
				cpuRes[k] = result{}
			}
			for u, v := range m {
				cpuRes[k][u] = append(cpuRes[k][u], v...)
			}
		}
	}
	gtMD, err := gatttoolSection(count)
	if err != nil {
		return err
	}
	load, _ := os.ReadFile("/proc/loadavg")
	soakMD := ""
	if soak {
		// After the benchmarks: the soak section states the load of its own moment.
		if soakMD, err = soakSection(); err != nil {
			return err
		}
	}

	w("# Benchmarks\n\n")
	w("Generated by `go run ./internal/benchdoc` (%s, %d runs per figure, medians). Regenerate it on\n", start.UTC().Format("2006-01-02"), count)
	w("an idle machine: CPU time per wake-up grows with the load of the other processes.\n\n")
	w("- Machine: %s, %d logical CPUs, %s/%s; load average when it started: %s\n", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, strings.TrimSpace(string(load)))
	w("- Go: %s\n", runtime.Version())
	w("- Took: %v\n\n", time.Since(start).Round(time.Second))

	w("## ATT requests of discovery (BGAPI backend, ATT_MTU 23)\n\n")
	w("Counted by the emulated dongle (`bled112.Emulator.ATTRequests`) over a pty, in\n")
	w("`TestDiscoveryRequestsMinimal`, which also computes the minimum from the device's database\n")
	w("(the rules are in the test's `discoveryMinimum`: each procedure asks again until a response\n")
	w("reaches the end of its range or Attribute Not Found ends it, so a client chooses only the\n")
	w("ranges, from what earlier responses told it) and fails unless the two are equal.\n\n")
	w("| device | before (%s) | now | services | characteristics | descriptors | minimum |\n|---|---|---|---|---|---|---|\n", baseCommit)
	devs := devLine.FindAllStringSubmatch(reqOut, -1)
	for i, m := range reqLine.FindAllStringSubmatch(reqOut, -1) {
		name := "?"
		if i < len(devs) {
			name = devs[i][1]
		}
		w("| %s %s | %d | %s | %s | %s | %s | %s |\n", name, deviceNames[name], beforeDiscovery[name], m[1], m[2], m[3], m[4], m[5])
	}
	w("\nLong read and long write take ceil((len − 22) / 22) + 1 and ceil(len / 18) + 1 requests\n")
	w("(`TestLongReadWriteRequests`: 300 and 512 octets read, 1 to 512 written), unchanged.\n\n")

	w("## Discovery on a modelled radio link\n\n")
	w("`BenchmarkDiscoveryModelledLink`: the torture device's whole tree with `bled112.LinkModel`.\n")
	w("Every PDU takes one of the event's slots and one request is outstanding at a time, so the\n")
	w("floor is ceil(2 × requests / per-event) × interval. The model starts a new event at once after\n")
	w("an idle interval, so a run can come in slightly under the floor.\n\n")
	w("| link | requests (before → now) | before ms | now ms | floor ms | now / floor |\n|---|---|---|---|---|---|\n")
	for _, k := range sortedKeys(link) {
		r := link[k]
		b := beforeLink[k]
		w("| %s | %d → %.0f | %.0f | %.0f | %.0f | %.3f |\n", strings.TrimPrefix(k, "BenchmarkDiscoveryModelledLink/"), b.requests, r.median("requests/op"), b.ms, r.median("ms/op"), r.median("floor-ms/op"), r.median("time/floor"))
	}

	w("\n## StartGenerator rate\n\n")
	w("`BenchmarkGeneratorRate`: values received per second when asked for a rate, a tenth of a\n")
	w("second per run. Before, a `time.Ticker` dropped the ticks the goroutine woke too late for\n")
	w("(timers sleep at least about 1 ms when the process is idle); now value i is due at\n")
	w("start + (i+1)/rate and every value due is sent when the generator wakes.\n\n")
	w("| asked /s | before /s | now /s | now / asked |\n|---|---|---|---|\n")
	for _, k := range sortedKeys(gen) {
		r := gen[k]
		rate := strings.TrimPrefix(k, "BenchmarkGeneratorRate/rate=")
		w("| %s | %.0f | %.0f | %.3f |\n", rate, beforeGenerator[rate], r.median("values/s"), r.median("delivered/asked"))
	}

	w("\n## CPU per notification (BGAPI backend, one link)\n\n")
	w("`BenchmarkNotificationCPU`: the emulator runs in a process of its own (the test binary\n")
	w("re-executed), its generator streams the torture device's 20-octet values at the given rate,\n")
	w("and getrusage(RUSAGE_SELF) of the benchmark process — backend, port, handler — is divided by\n")
	w("the notifications received. `raw` is the floor: one goroutine reading the pty through a\n")
	w("non-blocking file and decoding frames, nothing else. `port=serial` opens the port with\n")
	w("go.bug.st/serial, as the backend did before (a blocking select(2) then read(2) per wake-up,\n")
	w("read by a pump goroutine): it is the \"before\" path. `port=poller` is the backend now on\n")
	w("Linux. Every run checks the sequence numbers: lost and out-of-order stay 0.\n\n")
	w("Figures are medians (minimum in parentheses) of µs of CPU per notification.\n\n")
	w("| rate /s | raw | before (serial) | now (poller) | now allocs | now lost | now received /s |\n|---|---|---|---|---|---|---|\n")
	for _, rate := range []string{"500", "1000", "4000"} {
		raw := cpuRes["BenchmarkNotificationCPU/raw/rate="+rate]
		ser := cpuRes["BenchmarkNotificationCPU/port=serial/rate="+rate]
		pol := cpuRes["BenchmarkNotificationCPU/port=poller/rate="+rate]
		w("| %s | %s | %s | %s | %.2f | %.0f | %.0f |\n", rate, raw.mm("µs-CPU/notification"), ser.mm("µs-CPU/notification"),
			pol.mm("µs-CPU/notification"), pol.median("allocs/notification"), pol.median("lost"), pol.median("notifications/s"))
	}
	w("\n## Read round trip\n\n")
	w("`BenchmarkReadRTT`: attclient_read_by_handle → attribute_value on the heart-rate sensor,\n")
	w("emulator in another process, over its pty: a raw host (as above) and the backend.\n\n")
	raw := cpuRes["BenchmarkReadRTT/raw"]
	w("| host | µs per read, median (minimum) | median over raw |\n|---|---|---|\n| raw | %s | |\n", raw.mm("µs/read"))
	for _, p := range []string{"serial", "poller"} {
		v := cpuRes["BenchmarkReadRTT/bgapi/port="+p]
		w("| backend, port=%s | %s | %+.1f |\n", p, v.mm("µs/read"), v.median("µs/read")-raw.median("µs/read"))
	}
	w("\n%s%s%s", gtMD, soakMD, limits)
	// The real-kernel section is measured in the qemu tier, not here: kept as it is.
	text := doc.String()
	if old, err := os.ReadFile(out); err == nil {
		if sec := section(string(old), realKernelHeading); sec != "" {
			text = splice(text, realKernelHeading, sec)
		}
	}
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", out)
	return nil
}

// gatttoolSection runs the gatttool backend's benchmarks against gatttool itself (skipped, so
// absent, without BlueZ's tools) in count interleaved rounds and returns their section.
func gatttoolSection(count int) (string, error) {
	var doc strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&doc, format, args...) }
	start := time.Now()
	gtRes := map[string]result{}
	for range count {
		for _, b := range []struct{ re, n string }{{"^BenchmarkGatttoolBackendNotifications$", "20000x"}, {"^BenchmarkGatttoolBackendRead$", "2000x"}} {
			r, _, err := bench("./internal/bluezsim/", b.re, b.n, 1)
			if err != nil {
				return "", err
			}
			for k, m := range r {
				if gtRes[k] == nil {
					gtRes[k] = result{}
				}
				for u, v := range m {
					gtRes[k][u] = append(gtRes[k][u], v...)
				}
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	w("## gatttool backend\n\n")
	w("`BenchmarkGatttoolBackendNotifications` and `BenchmarkGatttoolBackendRead` (package\n")
	w("internal/bluezsim): the real gatttool, in a pty, against the simulated torture device through\n")
	w("the shim. `raw` is gatttool alone, driven by a bare host (write a command line, wait for the\n")
	w("answer and the prompt; count the \"Notification handle = …\" lines); `backend` is the gatttool\n")
	w("backend, values into a handler that checks their sequence numbers. Notifications: 20,000\n")
	w("values generated as fast as the link takes them; reads: 2,000 char-read-hnd / CharReadHandle\n")
	w("of a 5-octet value. Interleaved rounds, medians (best in parentheses). Measured %s; load\n", start.UTC().Format("2006-01-02 15:04 MST"))
	w("average at start %s.\n\n", strings.TrimSpace(string(load)))
	nr, nb := gtRes["BenchmarkGatttoolBackendNotifications/raw"], gtRes["BenchmarkGatttoolBackendNotifications/backend"]
	rr, rb := gtRes["BenchmarkGatttoolBackendRead/raw"], gtRes["BenchmarkGatttoolBackendRead/backend"]
	if nr == nil || nb == nil || rr == nil || rb == nil {
		w("Not measured: BlueZ's tools (gatttool, hcitool, bluetoothctl) and gcc are not installed here.\n\n")
	} else {
		met := func(ok bool) string {
			if ok {
				return "met"
			}
			return "**not met**"
		}
		ratio := nb.median("notifications/s") / nr.median("notifications/s")
		diff := rb.median("µs/read") - rr.median("µs/read")
		w("| figure | gatttool alone (raw) | backend | backend against raw | issue's target | |\n|---|---|---|---|---|---|\n")
		best := func(r result) float64 { return slices.Max(append([]float64{0}, r["notifications/s"]...)) }
		w("| notifications/s | %.0f (%.0f) | %.0f (%.0f) | × %.2f | ≥ × 0.9 | %s |\n", nr.median("notifications/s"), best(nr), nb.median("notifications/s"), best(nb), ratio, met(ratio >= 0.9))
		w("| µs per read | %s | %s | %+.1f µs | ≤ +50 µs | %s |\n", rr.mm("µs/read"), rb.mm("µs/read"), diff, met(diff <= 50))
		w("\nLost and out of order (backend, every run): %.0f and %.0f.\n\n", slices.Max(append([]float64{0}, nb["lost"]...)), slices.Max(append([]float64{0}, nb["out-of-order"]...)))
	}
	return doc.String(), nil
}

// splice replaces the section of doc whose heading starts with key by section (or inserts it
// before the section "What limits each figure"), and that last section by limits.
func splice(doc, key, section string) string {
	lines := strings.SplitAfter(doc, "\n")
	find := func(prefix string) (int, int) {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				j := i + 1
				for j < len(lines) && !strings.HasPrefix(lines[j], "## ") {
					j++
				}
				return i, j
			}
		}
		return -1, -1
	}
	i, j := find(key)
	if i < 0 {
		i, _ = find("## What limits each figure")
		if i < 0 {
			i = len(lines)
		}
		j = i
	}
	lines = slices.Replace(lines, i, j, section)
	s := strings.Join(lines, "")
	if k := strings.Index(s, "## What limits each figure"); k >= 0 {
		s = s[:k] + limits
	}
	return s
}

// realKernelHeading starts the section of figures from the real-kernel tier (TestBench in
// internal/vmtest, run by .ci/vm/run), which benchdoc cannot measure and keeps.
const realKernelHeading = "## Real kernel (qemu TCG guest)"

// section returns the section of doc whose heading starts with key, up to the next "## "
// heading ("" if there is none).
func section(doc, key string) string {
	i := strings.Index(doc, "\n"+key)
	if i < 0 {
		return ""
	}
	rest := doc[i+1:]
	if j := strings.Index(rest[len(key):], "\n## "); j >= 0 {
		return rest[:len(key)+j+1]
	}
	return rest
}

// runOnly regenerates only the sections named in parts ("gatttool", "soak") of the document out,
// keeping the others as they are.
func runOnly(parts []string, count int, out string) error {
	old, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	doc := string(old)
	for _, p := range parts {
		switch p {
		case "gatttool":
			sec, err := gatttoolSection(count)
			if err != nil {
				return err
			}
			doc = splice(doc, "## gatttool backend", sec)
		case "soak":
			sec, err := soakSection()
			if err != nil {
				return err
			}
			doc = splice(doc, "## Soak", sec)
		default:
			return fmt.Errorf("-only %s: want gatttool or soak", p)
		}
	}
	if err := os.WriteFile(out, []byte(doc), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", out)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return ks
}

// Figures measured at baseCommit with the same tests and benchmarks.
const baseCommit = "e3b8834"

var (
	deviceNames     = map[string]string{"C0:FF:EE:00:00:01": "(heart-rate sensor)", "C0:FF:EE:00:00:02": "(thermometer)", "C0:FF:EE:00:00:03": "(torture device)"}
	beforeDiscovery = map[string]int{"C0:FF:EE:00:00:01": 17, "C0:FF:EE:00:00:02": 19, "C0:FF:EE:00:00:03": 96}
	beforeLink      = map[string]struct {
		requests int
		ms       float64
	}{
		"BenchmarkDiscoveryModelledLink/interval=7.5ms/per-event=4": {96, 357},
		"BenchmarkDiscoveryModelledLink/interval=7.5ms/per-event=1": {96, 1437},
	}
	beforeGenerator = map[string]float64{"1000": 926, "2000": 928, "3000": 967, "4000": 980}
)

const limits = `## What limits each figure

- Discovery requests: the protocol. Responses carry what fits in ATT_MTU − 2 = 21 octets, so a
  characteristic with a 128-bit UUID costs one Read By Type response of its own (61 of the
  torture device's 65), and every procedure that cannot tell from its range that it is done
  costs one Attribute Not Found. The figure the issue quoted as the minimum (about 79) is below
  what these rules allow for this database: the test computes 91 and the backend reaches it.
- Modelled link: the model's floor; the difference is the host's time between procedures.
- Generator: a value arrives up to one timer wake-up (about 1 ms) after it was due, so a tenth of
  a second's run shows 0.99 of the rate; over longer runs the ratio tends to 1.
- CPU per notification at 500–1,000/s: wake-ups, which cost more the busier the machine is
  (on a shared 2-CPU machine the figures vary by a factor of two from run to run; compare
  variants within one document only). Each notification wakes the process from idle
  (epoll_wait returns, read, parse), and the backend also wakes the subscription's delivery
  goroutine, so the runtime wakes a second thread (perf stat: about 5 context switches per
  notification for the backend, 2 for the raw host; strace: futex and nanosleep dominate). At
  4,000/s values arrive in bursts and one wake-up serves several. The target of 10 µs at
  1,000/s is below what even the raw host reached on the machine of this document.
- 8 links × 1,000/s (soak): wake-ups again, but shared. Values of several links arrive
  together, so one wake-up serves about two of them (the soak's voluntary context switches per
  notification, against about 5 for one link at 1,000/s), and the CPU per notification is of
  the order of the single link's at 4,000/s. For the same reason the port makes little difference
  here: the before and now rows differ by less than their run-to-run spread on this machine.
  The emulator process spends about as much CPU as the backend.
- gatttool backend: gatttool itself, which prints one line per value and a prompt per command
  into a pty; the backend splits and parses every line and hands each value to the
  subscription's delivery goroutine, where the bare host only searches the bytes. Three
  processes (the simulation, gatttool, the reader) share the machine's two CPUs, so on a loaded
  machine the spread between runs exceeds the differences and the medians and the best runs
  can disagree on a target: regenerate these rows on an idle machine before concluding. Not
  profiled further yet.
- Read round trip: the pty (two writes and two reads across processes) and the emulator; the
  backend adds the command's goroutine hand-offs (the caller waits for the response, then for
  the attribute_value event).
`
