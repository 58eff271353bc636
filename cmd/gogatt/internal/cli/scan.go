package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/value"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/view"
)

// scanJSON is one device in `scan --json`.
type scanJSON struct {
	Address      string            `json:"address"`
	AddressType  string            `json:"addressType"`
	Name         string            `json:"name,omitempty"`
	RSSI         int               `json:"rssi"`
	LastSeen     string            `json:"lastSeen"`
	Adverts      int               `json:"advertisements"`
	Manufacturer map[string]string `json:"manufacturerData,omitempty"` // company id "0x02ff" → hex
	ServiceUUIDs []string          `json:"serviceUUIDs,omitempty"`
	TxPower      *int8             `json:"txPower,omitempty"`
}

// scanState collects advertisements; OnAdvertisement feeds it from the backend's goroutine.
type scanState struct {
	mu      sync.Mutex
	filter  string
	devices map[string]*view.Device
	results map[string]gogatt.ScanResult
	changed chan struct{}
}

func newScanState(filter string) *scanState {
	return &scanState{filter: strings.ToLower(filter), devices: map[string]*view.Device{}, results: map[string]gogatt.ScanResult{}, changed: make(chan struct{}, 1)}
}

func (s *scanState) matches(r gogatt.ScanResult) bool {
	return s.filter == "" || strings.Contains(strings.ToLower(view.DeviceName(r)), s.filter)
}

func (s *scanState) add(r gogatt.ScanResult, at time.Time, count bool) {
	if !s.matches(r) {
		return
	}
	s.mu.Lock()
	d := view.DeviceFromResult(r, at)
	old, seen := s.devices[r.Address]
	news := !seen || old.Name != d.Name
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
	s.mu.Unlock()
	if !news {
		return // the periodic redraw shows RSSI and last-seen changes
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *scanState) snapshot() ([]view.Device, []gogatt.ScanResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// scan runs one scan of dur, calling redraw (if set) whenever the table may have changed, and
// returns the devices seen sorted by address. Ctrl-C (ctx) ends it early without error.
func (a *app) scan(ctx context.Context, b gogatt.Backend, dur time.Duration, name string, passive bool, redraw func(st *scanState, started time.Time, done bool)) ([]view.Device, []gogatt.ScanResult, error) {
	st := newScanState(name)
	opts := gogatt.ScanOptions{
		Timeout: dur,
		Passive: passive,
		OnAdvertisement: func(r gogatt.ScanResult) bool {
			st.add(r, a.now(), true)
			return true
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
	var res result
	if redraw != nil {
		tick := time.NewTicker(250 * time.Millisecond)
		redraw(st, started, false)
	wait:
		for {
			select {
			case res = <-done:
				tick.Stop()
				break wait
			case <-tick.C:
				redraw(st, started, false)
			case <-st.changed:
				redraw(st, started, false)
			}
		}
	} else {
		res = <-done
	}
	for _, r := range res.rs {
		st.add(r, a.now(), false)
	}
	if redraw != nil {
		redraw(st, started, true)
	}
	ds, rs := st.snapshot()
	if res.err != nil && !(ctx.Err() != nil && errors.Is(res.err, context.Canceled)) {
		return ds, rs, fmt.Errorf("scanning: %w", res.err)
	}
	return ds, rs, nil
}

func runScan(ctx context.Context, a *app, _ []string) error {
	if a.opts.duration <= 0 {
		return usagef("--duration must be positive")
	}
	b, stop, err := a.start(ctx)
	if err != nil {
		return err
	}
	defer stop()
	live := !a.g.json && a.env.StdoutFile != nil && a.env.IsTerminal(a.env.StdoutFile)
	var redraw func(*scanState, time.Time, bool)
	if live {
		var l view.Live
		a.printf("%s", view.HideCursor)
		defer a.printf("%s", view.ShowCursor)
		redraw = func(st *scanState, started time.Time, done bool) {
			ds, _ := st.snapshot()
			now := a.now()
			width := a.env.Width(a.env.StdoutFile)
			lines := view.ScanTable(ds, now, width)
			elapsed := now.Sub(started)
			lines = append(lines, view.Fit(view.ScanStatus(len(ds), a.opts.duration-elapsed, done, elapsed), width))
			a.printf("%s", l.Frame(lines))
		}
	}
	start := a.now()
	ds, rs, err := a.scan(ctx, b, a.opts.duration, a.opts.name, a.opts.passive, redraw)
	switch {
	case a.g.json:
		for i, r := range rs {
			a.emit(scanToJSON(r, ds[i]))
		}
	case !live:
		for _, d := range ds {
			a.printf("%s\n", view.PlainScanLine(d))
		}
		fmt.Fprintf(a.env.Stderr, "%s\n", view.ScanStatus(len(ds), 0, true, a.now().Sub(start)))
	}
	return err
}

func scanToJSON(r gogatt.ScanResult, d view.Device) scanJSON {
	j := scanJSON{Address: r.Address, AddressType: r.AddressType.String(), Name: d.Name, RSSI: r.RSSI, LastSeen: d.LastSeen.UTC().Format(time.RFC3339Nano), Adverts: d.Adverts}
	if len(r.Data.ManufacturerData) > 0 {
		j.Manufacturer = map[string]string{}
		for id, b := range r.Data.ManufacturerData {
			j.Manufacturer[fmt.Sprintf("0x%04x", id)] = value.Hex(b)
		}
	}
	for _, u := range r.Data.ServiceUUIDs {
		j.ServiceUUIDs = append(j.ServiceUUIDs, u.String())
	}
	sort.Strings(j.ServiceUUIDs)
	if r.Data.HasTxPower {
		tx := r.Data.TxPower
		j.TxPower = &tx
	}
	return j
}
