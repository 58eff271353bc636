//go:build unix

package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain makes the test binary the emulator process when run() re-executes it.
func TestMain(m *testing.M) {
	if spec, ok := os.LookupEnv(emulatorEnv); ok {
		os.Exit(serveEmulator(spec, os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// TestSoakShort runs the soak command's phases briefly (8 links × 1,000/s for 2 s, the same
// with go.bug.st/serial for half a second, 200 cycles) with the emulator in another process: nothing lost, reordered, dropped or
// discarded, no growth beyond the tolerances, no goroutine left. It asserts no time.
func TestSoakShort(t *testing.T) {
	defer goleak.VerifyNone(t)
	var log, out bytes.Buffer
	rep, err := run(t.Context(), config{Links: 8, Rate: 1000, Duration: 2 * time.Second, Before: time.Second / 2, Cycles: 200}, &log)
	rep.text(&out)
	t.Logf("%s%s", log.String(), out.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stream == nil || len(rep.Stream.Links) != 8 || rep.Stream.Received() != 8*2000 {
		t.Fatalf("stream: %+v", rep.Stream)
	}
	if rep.Before == nil || rep.Before.Received() != 8*500 {
		t.Fatalf("stream with go.bug.st/serial: %+v", rep.Before)
	}
	if rep.Cycles == nil || rep.Cycles.Cycles != 200 {
		t.Fatalf("cycles: %+v", rep.Cycles)
	}
	var md bytes.Buffer
	rep.markdown(&md)
	for _, want := range []string{"## Soak", "| now (the backend's own) | 8 × 1000/s |", "| before (go.bug.st/serial) | 8 × 1000/s |", "| goroutines |", "The issue's target"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

// The checks that decide the exit status: a link that lost, reordered, repeated or got a
// number beyond the stream fails; so does growth beyond a tolerance.
func TestChecks(t *testing.T) {
	value := func(seq uint32) []byte { return binary.LittleEndian.AppendUint32(nil, seq) }
	for _, tc := range []struct {
		name string
		seqs []uint32
		want linkReport
	}{
		{"in order", []uint32{0, 1, 2, 3}, linkReport{Received: 4}},
		{"gap", []uint32{0, 2, 3}, linkReport{Received: 3, Lost: 1}},
		{"tail missing", []uint32{0, 1}, linkReport{Received: 2, Lost: 2}},
		{"swapped", []uint32{0, 2, 1, 3}, linkReport{Received: 4, OutOfOrder: 1}},
		{"repeated", []uint32{0, 1, 1, 2, 3}, linkReport{Received: 5, OutOfOrder: 1}},
		{"beyond the stream", []uint32{0, 1, 2, 3, 4}, linkReport{Received: 5, Unexpected: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newLinkCounter(4)
			for _, s := range tc.seqs {
				c.handle(1, value(s))
			}
			got := c.report("")
			got.Rate = 0
			if got != tc.want {
				t.Fatalf("%+v, want %+v", got, tc.want)
			}
			if got.ok() != (tc.name == "in order") {
				t.Fatalf("ok() = %v", got.ok())
			}
		})
	}
	start := sample{Goroutines: 10, FDs: 10, Heap: 1 << 20}
	for _, tc := range []struct {
		end  sample
		want bool
	}{
		{start, true},
		{sample{10 + maxGoroutineGrowth, 10 + maxFDGrowth, 1<<20 + maxHeapGrowth}, true},
		{sample{11 + maxGoroutineGrowth, 10, 1 << 20}, false},
		{sample{10, 11 + maxFDGrowth, 1 << 20}, false},
		{sample{10, 10, 1<<20 + maxHeapGrowth + 1}, false},
	} {
		if got := tc.end.within(start); got != tc.want {
			t.Errorf("%+v within %+v = %v", tc.end, start, got)
		}
	}
	var f *failure
	if err := error(&failure{"x"}); !errors.As(err, &f) {
		t.Fatal("failure is not found by errors.As")
	}
}
