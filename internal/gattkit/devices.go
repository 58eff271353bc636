package gattkit

import (
	"context"
	"strings"
	"sync"

	"github.com/gogatt/gogatt"
)

// Devices is the set of Devices a backend has handed out and that have not ended: Backend.Stop
// disconnects them all and waits until each has delivered its last ConnectionEvent. The zero
// value is ready to use; all methods are safe for concurrent use.
type Devices struct {
	mu  sync.Mutex
	set map[gogatt.Device]struct{}
	wg  sync.WaitGroup
}

// Add tracks d until its Disconnected channel is closed.
func (s *Devices) Add(d gogatt.Device) {
	s.mu.Lock()
	if s.set == nil {
		s.set = make(map[gogatt.Device]struct{})
	}
	s.set[d] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		<-d.Disconnected()
		s.mu.Lock()
		delete(s.set, d)
		s.mu.Unlock()
	}()
}

// DisconnectAll calls Disconnect on every tracked Device (see gogatt.Device.Disconnect: prompt,
// waits for no handler).
func (s *Devices) DisconnectAll() {
	s.mu.Lock()
	ds := make([]gogatt.Device, 0, len(s.set))
	for d := range s.set {
		ds = append(ds, d)
	}
	s.mu.Unlock()
	for _, d := range ds {
		_ = d.Disconnect()
	}
}

// Wait returns once every tracked Device has closed Disconnected, that is, delivered its last
// ConnectionEvent. It must not be called from an OnConnectionEvent callback.
func (s *Devices) Wait() { s.wg.Wait() }

// Connect is Connect (the package function) for a backend that tracks its Devices in s: the
// Device is tracked unless the backend stopped meanwhile — stopped is called with mu held, the
// lock under which the backend's Stop marks itself stopped, so a Device is either tracked
// before Stop disconnects them all or disconnected here and refused with an error matching
// gogatt.ErrNotStarted.
func (s *Devices) Connect(ctx context.Context, address string, opts gogatt.ConnectOptions, cfg Config, mu sync.Locker, stopped func() bool) (gogatt.Device, error) {
	d, err := Connect(ctx, address, opts, cfg)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if stopped() {
		_ = d.Disconnect()
		return nil, gogatt.ErrNotStarted
	}
	s.Add(d)
	return d, nil
}

// FilteredScan is Backend.FilteredScan over a backend's Scan: only the devices whose name
// contains nameFilter reach opts.OnAdvertisement and the results.
func FilteredScan(ctx context.Context, scan func(context.Context, gogatt.ScanOptions) ([]gogatt.ScanResult, error), nameFilter string, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	if cb := opts.OnAdvertisement; cb != nil {
		opts.OnAdvertisement = func(r gogatt.ScanResult) bool {
			if !strings.Contains(r.Name, nameFilter) {
				return true
			}
			return cb(r)
		}
	}
	res, err := scan(ctx, opts)
	kept := res[:0]
	for _, r := range res {
		if strings.Contains(r.Name, nameFilter) {
			kept = append(kept, r)
		}
	}
	return kept, err
}
