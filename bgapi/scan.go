package bgapi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Scan sets the scan parameters (gap_set_scan_parameters, 625 µs units from
// ScanOptions.Resolve), starts gap_discover and merges every gap_scan_response per device:
// advertising and scan-response data parsed by package adv, the name from either, the latest
// RSSI. It stops at opts.Timeout or when OnAdvertisement returns false (returning what it has
// and nil), when ctx ends (what it has and an error matching ctx's, gogatt.ErrTimeout for a
// deadline) or when Stop ends it (what it has and an error matching gogatt.ErrNotStarted), and
// always ends with gap_end_procedure.
func (b *Backend) Scan(ctx context.Context, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	return b.scan(ctx, "", opts)
}

// FilteredScan is Scan keeping devices whose name contains nameFilter.
func (b *Backend) FilteredScan(ctx context.Context, nameFilter string, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	return b.scan(ctx, nameFilter, opts)
}

func (b *Backend) scan(ctx context.Context, filter string, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	params, err := opts.Resolve()
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	c, err := b.client()
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	select {
	case b.scanSem <- struct{}{}:
	default:
		return nil, fmt.Errorf("scan: another scan is running: %w", gogatt.ErrBusy)
	}
	defer func() { <-b.scanSem }()
	active := uint8(1)
	if opts.Passive {
		active = 0
	}
	sp := &wire.CmdGapSetScanParameters{ScanInterval: params.Interval, ScanWindow: params.Window, Active: active}
	var spr wire.RspGapSetScanParameters
	if err := c.call(ctx, sp, &spr); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	if err := check(sp, spr.Result); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	mode := map[gogatt.DiscoverMode]uint8{gogatt.DiscoverLimited: wire.DiscoverLimited, gogatt.DiscoverGeneric: wire.DiscoverGeneric, gogatt.DiscoverObservation: wire.DiscoverObservation}[opts.Mode]
	sink := newScanSink()
	c.mu.Lock()
	c.scan = sink
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.scan == sink {
			c.scan = nil
		}
		c.mu.Unlock()
	}()
	dm := &wire.CmdGapDiscover{Mode: mode}
	var dr wire.RspGapDiscover
	if err := c.call(ctx, dm, &dr); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	if err := check(dm, dr.Result); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	defer b.endProcedure(c)

	timer := time.NewTimer(opts.ScanTimeout())
	defer timer.Stop()
	seen := map[bt.Address]*gogatt.ScanResult{}
	var order []bt.Address
	var batch []scanEvent
	var stopErr error
loop:
	for {
		select {
		case <-sink.notify:
		case <-timer.C:
			break loop
		case <-ctx.Done():
			stopErr = gattkit.CtxErr(ctx, "scan")
			break loop
		case <-c.closed:
			stopErr = c.closedErr("scan")
			break loop
		}
		batch = sink.take(batch)
		for _, e := range batch {
			pt, ok := advPacketType(e.ptype)
			if !ok {
				continue
			}
			r := seen[e.addr]
			if r == nil {
				r = &gogatt.ScanResult{Address: e.addr.String()}
				seen[e.addr] = r
				order = append(order, e.addr)
			}
			r.AddressType = e.atype
			r.RSSI = int(e.rssi)
			if err := r.Data.Parse(pt, e.data); err != nil {
				b.log.Debug("bgapi: malformed advertising data", "address", e.addr, "err", err)
			}
			r.Name = r.Data.LocalName
			if opts.OnAdvertisement != nil && matches(*r, filter) {
				if !opts.OnAdvertisement(cloneResult(*r)) {
					break loop
				}
			}
		}
	}
	out := make([]gogatt.ScanResult, 0, len(order))
	for _, a := range order {
		if r := seen[a]; matches(*r, filter) {
			out = append(out, *r)
		}
	}
	return out, stopErr
}

func matches(r gogatt.ScanResult, filter string) bool {
	return filter == "" || strings.Contains(r.Name, filter)
}

func cloneResult(r gogatt.ScanResult) gogatt.ScanResult {
	r.Data = r.Data.Clone()
	return r
}

// advPacketType maps gap_scan_response's packet_type (BLE SDK 1.x API reference §5.4.2) to
// adv's; scan requests and connect requests carry no advertiser data.
func advPacketType(t wire.ScanPacketType) (adv.PacketType, bool) {
	switch t {
	case wire.PacketAdvInd:
		return adv.ConnectableUndirected, true
	case wire.PacketAdvDirectInd:
		return adv.ConnectableDirected, true
	case wire.PacketAdvNonconnInd:
		return adv.NonConnectable, true
	case wire.PacketScanRsp:
		return adv.ScanResponse, true
	case wire.PacketAdvScanInd:
		return adv.ScannableUndirected, true
	}
	return 0, false
}
