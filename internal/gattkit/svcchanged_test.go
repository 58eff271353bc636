package gattkit

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/gogatt/gogatt"
)

// scTree is a database with the Generic Attribute service (Service Changed at 0x0008, CCCD
// 0x0009) and a service 0x000D–0x000F whose characteristic value is at valueAt.
func scTree(valueAt uint16) []gogatt.Service {
	return []gogatt.Service{
		{UUID: gogatt.UUID16(0x1801), Handle: 0x0006, EndHandle: 0x0009, Characteristics: []gogatt.Characteristic{
			{UUID: gogatt.UUID16(0x2A05), Handle: 0x0007, ValueHandle: 0x0008, Properties: gogatt.PropIndicate,
				Descriptors: []gogatt.Descriptor{{UUID: gogatt.UUID16(0x2902), Handle: 0x0009}}},
		}},
		{UUID: svcHR, Handle: valueAt - 2, EndHandle: valueAt, Characteristics: []gogatt.Characteristic{
			{UUID: chrHRM, Handle: valueAt - 1, ValueHandle: valueAt, Properties: gogatt.PropRead | gogatt.PropNotify},
		}},
	}
}

func TestCacheInvalidateRange(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cached     bool
		start, end uint16
		stale      []uint16 // value handles of the characteristics reported
	}{
		{name: "range covers the service", cached: true, start: 0x000D, end: 0x0012, stale: []uint16{0x000F}},
		{name: "range covers the declaration only", cached: true, start: 0x000E, end: 0x000E, stale: []uint16{0x000F}},
		{name: "range before it", cached: true, start: 0x000A, end: 0x000C},
		{name: "empty range is everything", cached: true, start: 0x0010, end: 0x0001, stale: []uint16{0x0008, 0x000F}},
		{name: "start 0 is everything", cached: true, start: 0, end: 0x0001, stale: []uint16{0x0008, 0x000F}},
		{name: "nothing cached", cached: false, start: 0x0001, end: 0xFFFF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			c := NewServiceCache(func(context.Context) ([]gogatt.Service, error) {
				calls.Add(1)
				return scTree(0x000F), nil
			})
			if tc.cached {
				if _, err := c.Services(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			var got []uint16
			for _, ch := range c.Invalidate(tc.start, tc.end) {
				got = append(got, ch.ValueHandle)
			}
			if !slices.Equal(got, tc.stale) {
				t.Fatalf("Invalidate(0x%04x, 0x%04x) reported %04x, want %04x", tc.start, tc.end, got, tc.stale)
			}
			if _, ok := c.Cached(); ok {
				t.Fatal("tree still cached after Invalidate")
			}
			before := calls.Load()
			if _, err := c.Services(t.Context()); err != nil || calls.Load() != before+1 {
				t.Fatalf("Services after Invalidate: %v, %d discoveries (want one more)", err, calls.Load()-before)
			}
		})
	}
}

// TestCacheInvalidateDuringDiscovery: a discovery running when the indication arrives is not
// kept (it may have read the old database).
func TestCacheInvalidateDuringDiscovery(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	c := NewServiceCache(func(context.Context) ([]gogatt.Service, error) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return scTree(0x000F), nil
	})
	done := make(chan error)
	go func() { _, err := c.Services(t.Context()); done <- err }()
	<-entered
	c.Invalidate(0x0001, 0xFFFF)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Cached(); ok {
		t.Fatal("a discovery started before Invalidate was kept")
	}
}

// TestWatchServiceChanged: indications are enabled once after discovery (again after a change
// that covers the Service Changed characteristic), an indication invalidates the cache and
// still reaches the application's subscription, other values pass untouched, and a failed
// enable leaves the tree usable.
func TestWatchServiceChanged(t *testing.T) {
	valueAt := atomic.Uint32{}
	valueAt.Store(0x000F)
	var enabled []uint16
	var failEnable atomic.Bool
	reg := NewRegistry()
	defer reg.Stop()
	c, w := WatchServiceChanged(func(context.Context) ([]gogatt.Service, error) {
		return scTree(uint16(valueAt.Load())), nil
	}, func(_ context.Context, ch gogatt.Characteristic) error {
		if failEnable.Load() {
			return errors.New("refused")
		}
		cccd, _ := ch.CCCD()
		enabled = append(enabled, cccd)
		return nil
	}, reg, nil)

	if reg.Dispatch(0x0008, []byte{0x0D, 0, 0x12, 0}) {
		t.Fatal("an indication before discovery was taken as Service Changed")
	}
	if h, err := c.Characteristic(t.Context(), chrHRM); err != nil || h.ValueHandle != 0x000F {
		t.Fatalf("first lookup: %v, %v", h, err)
	}
	if !slices.Equal(enabled, []uint16{0x0009}) || w.Handle() != 0x0008 {
		t.Fatalf("enabled %04x, handle 0x%04x; want the CCCD 0x0009 once", enabled, w.Handle())
	}

	user := make(chan []byte, 1)
	reg.Add(0x0008, func(_ uint16, v []byte) { user <- v }, gogatt.SubscribeOptions{Indication: true})
	valueAt.Store(0x0012)
	if !reg.Dispatch(0x0008, []byte{0x0D, 0, 0x12, 0}) {
		t.Fatal("Service Changed indication not used")
	}
	if v := <-user; !slices.Equal(v, []byte{0x0D, 0, 0x12, 0}) {
		t.Fatalf("application got % x", v)
	}
	if h, err := c.Characteristic(t.Context(), chrHRM); err != nil || h.ValueHandle != 0x0012 {
		t.Fatalf("lookup after Service Changed: %v, %v; want value handle 0x0012", h, err)
	}
	if len(enabled) != 1 {
		t.Fatalf("indications enabled again (%04x) although Service Changed did not move", enabled)
	}
	if reg.Dispatch(0x0012, []byte{1}) {
		t.Fatal("a value without subscriber was reported as delivered")
	}
	if _, ok := c.Cached(); !ok {
		t.Fatal("another handle's value invalidated the cache")
	}

	// A change covering Service Changed itself: enabled again after the next discovery; a
	// refusal is logged and the tree is still returned.
	failEnable.Store(true)
	reg.Dispatch(0x0008, nil) // a malformed value counts as the whole database
	if _, err := c.Services(t.Context()); err != nil {
		t.Fatal(err)
	}
	if w.Handle() != 0 {
		t.Fatalf("Service Changed handle 0x%04x after a refused enable", w.Handle())
	}
	<-user
}
