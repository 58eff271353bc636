package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/value"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/view"
	"github.com/gogatt/gogatt/gatt"
)

// runDemo is the guided main job: scan, connect to the heart-rate sensor, print its tree, read
// the battery level, stream heart-rate notifications with a rate summary.
func runDemo(ctx context.Context, a *app, _ []string) error {
	addr, err := gogatt.ParseAddress(a.opts.address)
	if err != nil {
		return usageErr{fmt.Errorf("--address: %w", err)}
	}
	if a.opts.scanFor <= 0 || a.opts.streamFr <= 0 {
		return usagef("--scan and --duration must be positive")
	}
	atype, err := bt.ParseAddressType(a.opts.addressType)
	if err != nil {
		return usageErr{err}
	}
	step := func(title string) { a.printf("\n== %s\n", title) }
	a.resolveBackend(ctx)
	where := "a BLED112"
	switch {
	case a.g.sim:
		where = "the emulated BLED112 (--sim)"
	case a.g.backend == "gatttool":
		where = "BlueZ " + a.g.hci
	case a.g.backend == "bluez":
		where = "BlueZ " + a.g.hci + " (D-Bus)"
	}
	a.printf("gogatt demo on %s\n", where)

	b, stop, err := a.start(ctx)
	if err != nil {
		return err
	}
	defer stop()

	// 1. Scan.
	step(fmt.Sprintf("Scanning for %v", a.opts.scanFor))
	ds, rs, err := a.scan(ctx, b, a.opts.scanFor, "", false, scanOutput{})
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("demo: %w", ctx.Err())
	}
	name := ""
	for _, d := range ds {
		a.printf("%s\n", view.PlainScanLine(d))
		if d.Address == addr.String() {
			name = d.Name
		}
	}
	if a.g.json {
		// The library's ScanResult, as in scan --json: one shape of a scan result.
		a.emit(map[string]any{"step": "scan", "devices": rs})
	}
	if name == "" {
		name = "not seen in the scan"
	}

	// 2. Connect.
	step(fmt.Sprintf("Connecting to %s (%s)", addr, view.Escape(name)))
	cctx, cancel := a.withTimeout(ctx)
	t0 := a.now()
	dev, err := b.Connect(cctx, addr.String(), gogatt.ConnectOptions{AddressType: atype, Timeout: a.g.timeout})
	cancel()
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", addr, err)
	}
	defer dev.Disconnect()
	took := a.now().Sub(t0)
	a.printf("connected in %v\n", roundDuration(took))
	if a.g.json {
		a.emit(map[string]any{"step": "connect", "address": dev.Address(), "ms": took.Milliseconds()})
	}

	// 3. Service tree.
	dctx, cancel := a.withTimeout(ctx)
	t0 = a.now()
	services, err := dev.Services(dctx)
	cancel()
	if err != nil {
		return fmt.Errorf("discovering services: %w", err)
	}
	step(fmt.Sprintf("Service tree (%s, discovered in %v)", view.TreeSummary(services), roundDuration(a.now().Sub(t0))))
	for _, l := range view.Tree(services) {
		a.printf("%s\n", l)
	}
	if a.g.json {
		a.emit(map[string]any{"step": "services", "services": view.TreeJSON(services)})
	}

	// 4. Battery level.
	step("Battery level (180f/2a19)")
	rctx, cancel := a.withTimeout(ctx)
	bat, err := gogatt.LookupCharacteristicIn(services, gatt.UUIDBattery, gatt.UUIDBatteryLevel)
	var v []byte
	if err == nil {
		v, err = dev.CharReadHandle(rctx, bat.ValueHandle)
	}
	cancel()
	if err != nil {
		return fmt.Errorf("reading the battery level: %w", err)
	}
	r := render(value.Codec{}, gatt.UUIDBatteryLevel, v)
	a.printf("%s\n", view.Escape(r.Text))
	if a.g.json {
		a.emit(map[string]any{"step": "battery", "handle": bat.ValueHandle, "hex": r.Hex, "text": r.Text, "decoded": r.Decoded})
	}

	// 5. Heart-rate notifications.
	hr, err := gogatt.LookupCharacteristicIn(services, gatt.UUIDHeartRate, gatt.UUIDHeartRateMeasurement)
	if err != nil {
		return fmt.Errorf("the heart-rate measurement characteristic: %w", err)
	}
	step(fmt.Sprintf("Heart-rate notifications (180d/2a37) for %v, Ctrl-C to stop early", a.opts.streamFr))
	sp := streamSpec{t: target{char: hr, known: true}, char: "180d/2a37", dur: a.opts.streamFr}
	sum, err := a.stream(ctx, dev, sp, nil, func(v arrival, n uint64) {
		r := render(value.Codec{}, gatt.UUIDHeartRateMeasurement, v.v)
		a.printf("%s  %s\n", v.at.Format("15:04:05.000"), view.Escape(r.Text))
		if a.g.json {
			a.emit(map[string]any{"step": "notification", "time": v.at.UTC().Format(time.RFC3339Nano), "handle": hr.ValueHandle, "hex": r.Hex, "text": r.Text, "decoded": r.Decoded})
		}
	})
	if sum.Reason == "interrupted" {
		a.overwriteCtrlC()
	}
	if sum.Reason != "" {
		step("Summary")
		a.printf("%d heart-rate notifications in %.2fs (%.1f/s)\n", sum.Count, sum.Seconds, sum.Rate)
		if a.g.json {
			a.emit(map[string]any{"step": "summary", "summary": sum})
		}
	}
	if err != nil {
		return err
	}
	if err := dev.Disconnect(); err != nil {
		a.log.Debug("disconnect", "err", err)
	}
	a.printf("disconnected from %s\n", addr)
	return nil
}

// roundDuration keeps two or three significant digits: 1.2ms, 35ms, 1.25s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d < time.Second:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}
