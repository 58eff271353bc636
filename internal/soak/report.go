//go:build unix

package main

import (
	"fmt"
	"io"
)

// text prints the report for a terminal.
func (r *report) text(w io.Writer) {
	fmt.Fprintf(w, "machine: %d logical CPUs, %s; load average at start: %s; at end: %s\n", r.CPUs, r.Go, orNA(r.LoadStart), orNA(r.LoadEnd))
	for _, ph := range []struct {
		name string
		s    *streamReport
	}{{"stream", r.Stream}, {"stream with go.bug.st/serial", r.Before}} {
		s := ph.s
		if s == nil {
			continue
		}
		per, sw := s.PerNotification()
		fmt.Fprintf(w, "%s: %d links × %g/s, %d values each, %v: CPU %.1f %% of one core, %.1f µs and %.2f voluntary context switches per notification (emulator process %.1f %%)\n",
			ph.name, len(s.Links), r.Config.Rate, s.Expected, s.Wall.Round(timeRound), s.CPUPercent(), float64(per.Nanoseconds())/1000, sw, s.EmuCPUPercent())
		for _, l := range s.Links {
			fmt.Fprintf(w, "  %s received %d lost %d out-of-order %d unexpected %d dropped %d discarded %d rate %.0f/s\n",
				l.Address, l.Received, l.Lost, l.OutOfOrder, l.Unexpected, l.Dropped, l.Discarded, l.Rate)
		}
	}
	if c := r.Cycles; c != nil {
		fmt.Fprintf(w, "cycles: %d in %v (%.2f ms each)\n", c.Cycles, c.Wall.Round(timeRound), msPer(c))
		fmt.Fprintf(w, "  goroutines %d → %d, open fds %d → %d, heap %d → %d bytes (tolerance +%d, +%d, +%d bytes; settled in %v)\n",
			c.Start.Goroutines, c.End.Goroutines, c.Start.FDs, c.End.FDs, c.Start.Heap, c.End.Heap,
			maxGoroutineGrowth, maxFDGrowth, maxHeapGrowth, c.Settled.Round(timeRound))
	}
}

// markdown prints the soak section of docs/benchmarks.md.
func (r *report) markdown(w io.Writer) {
	fmt.Fprintf(w, "## Soak (BGAPI backend, %d links)\n\n", r.Config.Links)
	fmt.Fprintf(w, "`go run ./internal/soak` (%s): the emulator, with %d torture devices and as many connection\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Config.Links)
	fmt.Fprintf(w, "slots, runs in a process of its own on a pty; %d logical CPUs, %s; load average at start\n", r.CPUs, r.Go)
	fmt.Fprintf(w, "%s, at end %s. It exits non-zero on any loss, reordering or growth.\n\n", orNA(r.LoadStart), orNA(r.LoadEnd))
	if s := r.Stream; s != nil {
		fmt.Fprintf(w, "Stream: each link subscribes to the torture stream, then every device sends %d numbered\n", s.Expected)
		fmt.Fprintf(w, "values at %g/s. CPU is getrusage(RUSAGE_SELF) of the gogatt process (backend, port,\n", r.Config.Rate)
		fmt.Fprintf(w, "handlers) from the generators' start to the last value, over that wall time; context\n")
		fmt.Fprintf(w, "switches are its voluntary ones (a thread blocked: about one per wake-up).")
		if r.Before != nil {
			fmt.Fprintf(w, " `before` opens the\npty with go.bug.st/serial through `bgapi.Config.Dial` (a pump goroutine, select(2) then\n")
			fmt.Fprintf(w, "read(2)), as the backend did before it read Linux ttys on the runtime's poller (`-before`).")
		}
		fmt.Fprintf(w, "\n\n| port | links × rate | wall | CPU, %% of one core | µs CPU per notification | context switches per notification | emulator process, %% of one core | lost | out of order |\n|---|---|---|---|---|---|---|---|---|\n")
		row := func(name string, s *streamReport) {
			per, sw := s.PerNotification()
			lost, ooo := 0, 0
			for _, l := range s.Links {
				lost += l.Lost
				ooo += l.OutOfOrder + l.Unexpected
			}
			fmt.Fprintf(w, "| %s | %d × %g/s | %v | **%.1f** | %.1f | %.2f | %.1f | %d | %d |\n", name, len(s.Links), r.Config.Rate, s.Wall.Round(timeRound), s.CPUPercent(),
				float64(per.Nanoseconds())/1000, sw, s.EmuCPUPercent(), lost, ooo)
		}
		if r.Before != nil {
			row("before (go.bug.st/serial)", r.Before)
		}
		row("now (the backend's own)", s)
		if len(s.Links) == 8 && r.Config.Rate == 1000 {
			verdict := "met"
			if s.CPUPercent() >= 10 {
				verdict = "not met"
			}
			fmt.Fprintf(w, "\nThe issue's target, under 10 %% of one core at 8 × 1,000/s: %s (%.1f %%).\n", verdict, s.CPUPercent())
		}
		fmt.Fprintf(w, "\nPer link, now:\n\n")
		fmt.Fprintf(w, "| link | received | lost | out of order | dropped | discarded | rate /s |\n|---|---|---|---|---|---|---|\n")
		for _, l := range s.Links {
			fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %.0f |\n", l.Address, l.Received, l.Lost, l.OutOfOrder+l.Unexpected, l.Dropped, l.Discarded, l.Rate)
		}
		fmt.Fprintln(w)
	}
	if c := r.Cycles; c != nil {
		fmt.Fprintf(w, "Cycles: connect, subscribe (partial discovery and the CCCD write), disconnect, the devices in\n")
		fmt.Fprintf(w, "turn; sampled after %d warm-up cycles and at the end, after runtime.GC. %d cycles took %v\n", warmupCycles, c.Cycles, c.Wall.Round(timeRound))
		fmt.Fprintf(w, "(%.2f ms each).\n\n", msPer(c))
		fmt.Fprintf(w, "| | start | end | tolerance |\n|---|---|---|---|\n")
		fmt.Fprintf(w, "| goroutines | %d | %d | +%d |\n", c.Start.Goroutines, c.End.Goroutines, maxGoroutineGrowth)
		fmt.Fprintf(w, "| open file descriptors | %d | %d | +%d |\n", c.Start.FDs, c.End.FDs, maxFDGrowth)
		fmt.Fprintf(w, "| live heap, KiB | %.0f | %.0f | +%d |\n\n", float64(c.Start.Heap)/1024, float64(c.End.Heap)/1024, maxHeapGrowth/1024)
	}
}

const timeRound = 10_000_000 // 10 ms

func msPer(c *cycleReport) float64 {
	if c.Cycles == 0 {
		return 0
	}
	return float64(c.Wall.Microseconds()) / 1000 / float64(c.Cycles)
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}
