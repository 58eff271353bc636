package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/view"
)

// scanSummary ends `scan --json`, as every stream ends in --json mode.
type scanSummary struct {
	Devices int     `json:"devices"`
	Seconds float64 `json:"seconds"`
	Reason  string  `json:"end"` // "duration", "interrupted", "output closed", "error"
}

// scanState collects advertisements. Only the goroutine that owns stdout touches it: the
// backend's OnAdvertisement callback hands each result over a channel (see app.scan).
type scanState struct {
	filter  string
	json    bool // which fields count as new information for a streamed line (see infoKeys)
	devices map[string]*view.Device
	results map[string]gogatt.ScanResult
	printed map[string]map[string]bool // address → information keys already streamed
}

func newScanState(filter string, json bool) *scanState {
	return &scanState{filter: strings.ToLower(filter), json: json, devices: map[string]*view.Device{}, results: map[string]gogatt.ScanResult{}, printed: map[string]map[string]bool{}}
}

func (s *scanState) matches(r gogatt.ScanResult) bool {
	return s.filter == "" || strings.Contains(strings.ToLower(view.DeviceName(r)), s.filter)
}

// add merges r, seen at t (count: one more advertisement; false for the final results Scan
// returns). changed says the live table gained a row or a row's name changed; report says a
// streamed line is due: the device is new (to the --name filter too), or r brings information
// not yet streamed for it (infoKeys: the name, a manufacturer, with --json also a service UUID
// or the TX power) — never for RSSI or last-seen changes alone.
func (s *scanState) add(r gogatt.ScanResult, at time.Time, count bool) (changed, report bool) {
	if !s.matches(r) {
		return false, false
	}
	d := view.DeviceFromResult(r, at)
	old, seen := s.devices[r.Address]
	changed = !seen || old.Name != d.Name
	if seen {
		d.Adverts = old.Adverts
		if !count {
			d.LastSeen = old.LastSeen
		}
	}
	if count {
		d.Adverts++
	}
	if d.Adverts == 0 {
		d.Adverts = 1
	}
	s.devices[r.Address] = &d
	s.results[r.Address] = r
	keys := infoKeys(r, s.json)
	printed := s.printed[r.Address]
	if printed == nil {
		printed = map[string]bool{}
		s.printed[r.Address] = printed
		report = true
	}
	for _, k := range keys {
		if !printed[k] {
			printed[k] = true
			report = true
		}
	}
	return changed, report
}

// infoKeys names the pieces of information in r that a streamed line shows: the plain line
// shows the name and the manufacturers; the JSON object also the service UUIDs and TX power.
// A device is streamed again when it gains a key (a name first learned from a scan response,
// say); keys only accumulate, so a device is printed a bounded number of times.
func infoKeys(r gogatt.ScanResult, json bool) []string {
	var keys []string
	if view.DeviceName(r) != "" {
		keys = append(keys, "name")
	}
	for id := range r.Data.ManufacturerData {
		keys = append(keys, fmt.Sprintf("mfr %04x", id))
	}
	if json {
		for _, u := range r.Data.ServiceUUIDs {
			keys = append(keys, "uuid "+u.String())
		}
		if r.Data.HasTxPower {
			keys = append(keys, "tx")
		}
	}
	return keys
}

func (s *scanState) device(address string) (view.Device, gogatt.ScanResult) {
	return *s.devices[address], s.results[address]
}

func (s *scanState) snapshot() ([]view.Device, []gogatt.ScanResult) {
	ds := make([]view.Device, 0, len(s.devices))
	for _, d := range s.devices {
		ds = append(ds, *d)
	}
	view.SortDevices(ds)
	rs := make([]gogatt.ScanResult, 0, len(ds))
	for _, d := range ds {
		rs = append(rs, s.results[d.Address])
	}
	return ds, rs
}

// scanOutput is what app.scan shows while it runs; every func is called on the goroutine that
// called scan (the one that owns stdout), never on the backend's.
type scanOutput struct {
	// redraw (live table) is called when the table may have changed, every 250 ms, and once
	// with done at the end.
	redraw func(st *scanState, started time.Time, done bool)
	// report (streamed output) is called when a device is first seen and when it gains
	// information (scanState.add).
	report func(d view.Device, r gogatt.ScanResult)
	// json selects the information keys of the JSON object for report.
	json bool
}

// scan runs one scan of dur, showing it through out, and returns the devices seen sorted by
// address. Ctrl-C (ctx) ends it early without error.
func (a *app) scan(ctx context.Context, b gogatt.Backend, dur time.Duration, name string, passive bool, out scanOutput) ([]view.Device, []gogatt.ScanResult, error) {
	st := newScanState(name, out.json)
	// The callback runs on the backend's goroutine: it only hands the result over. The buffer
	// absorbs bursts; when it is full the backend waits for this goroutine (backpressure), unless
	// Ctrl-C or the end of the scan (quit) releases it.
	adverts := make(chan gogatt.ScanResult, 64)
	quit := make(chan struct{})
	defer close(quit)
	opts := gogatt.ScanOptions{
		Timeout: dur,
		Passive: passive,
		OnAdvertisement: func(r gogatt.ScanResult) bool {
			select {
			case adverts <- r:
				return true
			case <-ctx.Done():
				return false
			case <-quit:
				return false
			}
		},
	}
	type result struct {
		rs  []gogatt.ScanResult
		err error
	}
	done := make(chan result, 1)
	started := a.now()
	go func() {
		// --name is case-insensitive, unlike FilteredScan (as pygatt's): filter here.
		var r result
		r.rs, r.err = b.Scan(ctx, opts)
		done <- r
	}()
	dirty := false
	take := func(r gogatt.ScanResult, count bool) {
		changed, report := st.add(r, a.now(), count)
		dirty = dirty || changed
		if report && out.report != nil {
			out.report(st.device(r.Address))
		}
	}
	// drain takes every result already handed over; Scan's callbacks all happen before it
	// returns, so after done this gets the last of them.
	drain := func() {
		for {
			select {
			case r := <-adverts:
				take(r, true)
			default:
				return
			}
		}
	}
	var tick <-chan time.Time
	if out.redraw != nil {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		tick = t.C
		out.redraw(st, started, false)
	}
	var res result
wait:
	for {
		select {
		case res = <-done:
			break wait
		case r := <-adverts:
			take(r, true)
			drain() // one redraw for a burst
			if dirty && out.redraw != nil {
				out.redraw(st, started, false)
			}
			dirty = false
		case <-tick:
			out.redraw(st, started, false)
		}
	}
	drain()
	for _, r := range res.rs {
		take(r, false)
	}
	if out.redraw != nil {
		out.redraw(st, started, true)
	}
	ds, rs := st.snapshot()
	// Ctrl-C cancels ctx, and the clean-up that follows may Stop the backend first (a scan
	// ended by Stop fails with gogatt.ErrNotStarted): both end the scan without error.
	if res.err != nil && !(ctx.Err() != nil && (errors.Is(res.err, context.Canceled) || errors.Is(res.err, gogatt.ErrNotStarted))) {
		return ds, rs, fmt.Errorf("scanning: %w", res.err)
	}
	return ds, rs, nil
}

func runScan(ctx context.Context, a *app, _ []string) error {
	if a.opts.duration <= 0 {
		return usagef("--duration must be positive")
	}
	interrupted := ctx.Done()
	var gone atomic.Bool // stdout's reader has gone
	b, stop, err := a.start(ctx)
	if err != nil {
		return err
	}
	defer stop()
	live := !a.g.json && a.env.StdoutFile != nil && a.env.IsTerminal(a.env.StdoutFile)
	out := scanOutput{json: a.g.json}
	switch {
	case live:
		var l view.Live
		a.printf("%s", view.HideCursor)
		defer a.printf("%s", view.ShowCursor)
		out.redraw = func(st *scanState, started time.Time, done bool) {
			ds, _ := st.snapshot()
			now := a.now()
			width := a.env.Width(a.env.StdoutFile)
			lines := view.ScanTable(ds, now, width)
			elapsed := now.Sub(started)
			lines = append(lines, view.Fit(view.ScanStatus(len(ds), a.opts.duration-elapsed, done, elapsed), width))
			a.printf("%s", l.Frame(lines))
		}
	default:
		// One line (or JSON object) as it happens, so `gogatt scan | grep` and `gogatt scan
		// --json | jq` see devices live. When the reader has gone (`| head -1`, `| grep -m1`:
		// StdoutGone, or EPIPE on a write where SIGPIPE is ignored), the scan ends early, as on
		// Ctrl-C, instead of running on unseen.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		if a.env.StdoutGone != nil {
			readerGone := a.env.StdoutGone(ctx)
			go func() {
				select {
				case <-readerGone:
					a.log.Debug("stdout's reader has gone; ending the scan")
					gone.Store(true)
					cancel()
				case <-ctx.Done():
				}
			}()
		}
		out.report = func(d view.Device, r gogatt.ScanResult) {
			var line []byte
			if a.g.json {
				// The library's ScanResult, as it marshals itself: the one shape of a scan
				// result (docs/cli-json.md), here and in demo --json.
				line, _ = view.JSON(r) // strings, numbers, byte slices and maps of them: cannot fail
			} else {
				line = []byte(view.PlainScanLine(d))
			}
			if _, err := a.env.Stdout.Write(append(line, '\n')); err != nil {
				a.log.Debug("writing scan output; ending the scan", "err", err)
				gone.Store(true)
				cancel()
			}
		}
	}
	start := a.now()
	ds, _, err := a.scan(ctx, b, a.opts.duration, a.opts.name, a.opts.passive, out)
	elapsed := a.now().Sub(start)
	switch {
	case a.g.json:
		sum := scanSummary{Devices: len(ds), Seconds: elapsed.Seconds(), Reason: "duration"}
		select {
		case <-interrupted:
			sum.Reason = "interrupted"
		default:
			switch {
			case gone.Load():
				sum.Reason = "output closed"
			case err != nil:
				sum.Reason = "error" // said on stderr
			}
		}
		if !gone.Load() {
			a.emit(struct {
				Summary scanSummary `json:"summary"`
			}{sum})
		}
	case !live:
		fmt.Fprintf(a.env.Stderr, "%s\n", view.ScanStatus(len(ds), 0, true, elapsed))
	}
	return err
}
