//go:build unix

// Command soak runs the BGAPI backend for a long time against the emulated BLED112 and fails
// on loss, reordering or growth. It is a command, not a unit test: run it from the module root.
//
//	go run ./internal/soak                       # 8 links × 1,000/s for 60 s, then 10,000 cycles
//	go run ./internal/soak -duration 10m -cycles 100000
//	go run ./internal/soak -md                   # the section of docs/benchmarks.md
//
// Two phases, each against an emulator (sim/bled112 with torture devices, one connection slot
// per link) running in a process of its own — this program re-executed — on a pty, so that
// the CPU time measured is the backend's, its port's and the handlers', not the emulated
// dongle's:
//
//  1. Stream: -links connections each subscribe to the torture device's stream; then every
//     device's generator sends exactly -rate × -duration values at -rate per second. Each
//     value carries its sequence number; the handler counts received, lost (never seen) and
//     out-of-order (a number not above one already seen) values per link, and the
//     subscriptions' own counters must show nothing dropped or discarded. Reported: the CPU
//     time of this process during the stream over its wall time, in % of one core.
//     With -before, a second stream phase opens the pty with go.bug.st/serial through
//     bgapi.Config.Dial, as the backend did before it read Linux ttys on the runtime's poller.
//  2. Cycles: -cycles times connect, subscribe, disconnect (devices in turn). Goroutines, open
//     file descriptors and the live heap (after runtime.GC) are sampled after a warm-up and at
//     the end; growth beyond the tolerances below fails.
//
// The exit status is 0 when both phases pass, 1 when a check fails, 2 on a usage or setup
// error. Nothing in it asserts a time: a loaded machine only makes the run longer (a phase
// that makes no progress at all for a long time ends it as a failure).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if spec, ok := os.LookupEnv(emulatorEnv); ok {
		os.Exit(serveEmulator(spec, os.Stdin, os.Stdout))
	}
	var cfg config
	flag.IntVar(&cfg.Links, "links", 8, "connections streaming at once (1 to 8, the emulator's slots)")
	flag.Float64Var(&cfg.Rate, "rate", 1000, "notifications per second on each link")
	flag.DurationVar(&cfg.Duration, "duration", 60*time.Second, "length of the stream phase (0: skip it)")
	flag.DurationVar(&cfg.Before, "before", 0, "length of a second stream phase with go.bug.st/serial, the port before the poller (0: none)")
	flag.IntVar(&cfg.Cycles, "cycles", 10000, "connect/disconnect cycles (0: skip the phase)")
	md := flag.Bool("md", false, "print the results as the soak section of docs/benchmarks.md")
	flag.Parse()
	if err := cfg.check(); err != nil || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "soak:", err, flag.Args())
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg, os.Stderr)
	if *md {
		rep.markdown(os.Stdout)
	} else {
		rep.text(os.Stdout)
	}
	var failed *failure
	switch {
	case errors.As(err, &failed):
		fmt.Fprintln(os.Stderr, "soak: FAIL:", err)
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "soak: PASS")
}
