package cli

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// runSim serves the emulated BLED112 on a pseudo-terminal until Ctrl-C. The first line of
// output is the path to open. With --background another process serves it (runSimBackground).
func runSim(ctx context.Context, a *app, _ []string) error {
	link, err := simLink(a.opts.interval, a.opts.perEvent)
	if err != nil {
		return err
	}
	if a.opts.background {
		return runSimBackground(ctx, a, link)
	}
	if a.env.ServeSim == nil {
		return errors.New("this binary was built without the BLED112 emulator")
	}
	var served time.Time // when the emulator began to serve; zero if it never did
	err = a.env.ServeSim(ctx, a.log, link, func(path string, ps []SimPeripheral) {
		served = a.now()
		if a.g.json {
			a.emit(SimProcess{Path: path, Peripherals: ps})
			return
		}
		a.printf("%s\n", path)
		a.printf("BLED112 emulator serving %d demo peripheral(s); open the path above as a serial port, e.g.\n", len(ps))
		a.printf("  gogatt scan --port %s\n", path)
		for _, p := range ps {
			a.printf("  %s  %-20s %s\n", p.Address, p.Name, p.Kind)
		}
		if link.Interval > 0 {
			a.printf("Link model: a connection event every %v, %d ATT PDU(s) per event.\n", link.Interval, link.PerEvent)
		}
		a.printf("Ctrl-C to stop.\n")
	})
	if err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		return fmt.Errorf("emulator: %w", err)
	}
	if !served.IsZero() {
		// Like every stream, it ends with a summary; on a terminal it starts over the echoed
		// ^C and ends the line, so the prompt comes back clean.
		sum := simSummary{Seconds: a.now().Sub(served).Seconds(), Reason: "interrupted"}
		if a.g.json {
			a.emit(struct {
				Summary simSummary `json:"summary"`
			}{sum})
		} else {
			a.overwriteCtrlC()
			a.printf("BLED112 emulator stopped after %.1fs\n", sum.Seconds)
		}
	}
	return nil
}

// simLink checks --interval and --per-event: a connection interval of 7.5 ms to 4 s (Core v5.3
// Vol 6 Part B §4.5.1), at least one PDU per event (4 unless given), --per-event only with
// --interval.
func simLink(interval time.Duration, perEvent int) (SimLink, error) {
	switch {
	case interval == 0 && perEvent != 0:
		return SimLink{}, usagef("--per-event needs --interval")
	case interval == 0:
		return SimLink{}, nil
	case interval < 7500*time.Microsecond || interval > 4*time.Second:
		return SimLink{}, usagef("--interval %v: a connection interval is 7.5ms to 4s", interval)
	case perEvent < 0:
		return SimLink{}, usagef("--per-event %d: must be at least 1", perEvent)
	case perEvent == 0:
		perEvent = 4
	}
	return SimLink{Interval: interval, PerEvent: perEvent}, nil
}

// simSummary ends `gogatt sim --json`, as every stream ends in --json mode.
type simSummary struct {
	Seconds float64 `json:"seconds"`
	Reason  string  `json:"end"` // "interrupted": a signal stopped it
}

// runSimBackground starts the emulator in a process of its own and prints the path it serves
// as the only line of stdout (or one JSON object with the path, the process ID and the
// peripherals), so that `port=$(gogatt sim --background)` returns at once; stderr says how to
// stop it. Starting is bounded by --timeout.
func runSimBackground(ctx context.Context, a *app, link SimLink) error {
	if a.env.StartSim == nil {
		return fmt.Errorf("--background: %w", errors.ErrUnsupported)
	}
	ctx, cancel := context.WithTimeout(ctx, a.g.timeout)
	defer cancel()
	p, err := a.env.StartSim(ctx, a.log, link)
	if err != nil {
		return fmt.Errorf("starting the emulator in the background: %w", err)
	}
	if a.g.json {
		a.emit(p)
	} else {
		a.printf("%s\n", p.Path)
	}
	fmt.Fprintf(a.env.Stderr, "BLED112 emulator serving %d demo peripheral(s) on %s in the background, as process %d; stop it with: kill %d\n",
		len(p.Peripherals), p.Path, p.PID, p.PID)
	return nil
}
