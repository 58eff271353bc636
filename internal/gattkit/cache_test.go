package gattkit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
)

var (
	svcHR   = gogatt.UUID16(0x180d)
	svcBatt = gogatt.UUID16(0x180f)
	chrHRM  = gogatt.UUID16(0x2a37)
	chrBL   = gogatt.UUID16(0x2a19)
	chrDup  = gogatt.MustParseUUID("0000fff1-0000-1000-8000-00805f9b34fb")
)

func testTree() []gogatt.Service {
	cccd := func(h uint16) []gogatt.Descriptor {
		return []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: h}}
	}
	return []gogatt.Service{
		{UUID: svcHR, Handle: 1, EndHandle: 9, Characteristics: []gogatt.Characteristic{
			{UUID: chrHRM, Handle: 2, ValueHandle: 3, EndHandle: 4, Properties: gogatt.PropNotify, Descriptors: cccd(4)},
			{UUID: chrDup, Handle: 5, ValueHandle: 6, EndHandle: 9, Properties: gogatt.PropRead | gogatt.PropNotify, Descriptors: cccd(9)},
		}},
		{UUID: svcBatt, Handle: 10, EndHandle: 15, Characteristics: []gogatt.Characteristic{
			{UUID: chrBL, Handle: 11, ValueHandle: 12, EndHandle: 13, Properties: gogatt.PropRead | gogatt.PropNotify, Descriptors: cccd(13)},
			{UUID: chrDup, Handle: 14, ValueHandle: 15, EndHandle: 15, Properties: gogatt.PropRead},
		}},
	}
}

func TestServiceCacheSingleflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		c := NewServiceCache(func(ctx context.Context) ([]gogatt.Service, error) {
			calls.Add(1)
			time.Sleep(50 * time.Millisecond) // virtual time: a slow discovery
			return testTree(), nil
		})
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				s, err := c.Services(t.Context())
				if err != nil || len(s) != 2 {
					t.Errorf("Services = %d, %v", len(s), err)
				}
			})
		}
		wg.Wait()
		if _, err := c.Characteristic(t.Context(), chrHRM); err != nil {
			t.Error(err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("discover called %d times, want 1", n)
		}
		c.Reset()
		if _, ok := c.Cached(); ok {
			t.Error("Cached after Reset")
		}
		if _, err := c.Services(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("discover called %d times after Reset, want 2", n)
		}
	})
}

func TestServiceCacheErrorNotCached(t *testing.T) {
	fail := errors.New("boom")
	n := 0
	c := NewServiceCache(func(context.Context) ([]gogatt.Service, error) {
		n++
		if n == 1 {
			return nil, fail
		}
		return testTree(), nil
	})
	if _, err := c.Services(t.Context()); !errors.Is(err, fail) {
		t.Fatalf("first: %v", err)
	}
	if _, err := c.Services(t.Context()); err != nil {
		t.Fatalf("second: %v", err)
	}
}

// When the caller leading a discovery gives up, a waiter with a live context starts again.
func TestServiceCacheLeaderCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		c := NewServiceCache(func(ctx context.Context) ([]gogatt.Service, error) {
			calls.Add(1)
			select {
			case <-time.After(time.Second):
				return testTree(), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
		leaderCtx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := c.Services(leaderCtx)
			errc <- err
		}()
		synctest.Wait()
		s, err := c.Services(t.Context()) // joins, then retries after the leader's timeout
		if err != nil || len(s) != 2 {
			t.Fatalf("waiter: %d, %v", len(s), err)
		}
		lerr := <-errc
		if !errors.Is(lerr, gogatt.ErrTimeout) || !errors.Is(lerr, context.DeadlineExceeded) {
			t.Errorf("leader error %v: want ErrTimeout", lerr)
		}
		if calls.Load() != 2 {
			t.Errorf("calls = %d", calls.Load())
		}
		// A waiter whose own context ends stops waiting with a timeout error.
		c.Reset()
		go func() { _, _ = c.Services(t.Context()) }()
		synctest.Wait()
		short, cancel2 := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel2()
		if _, err := c.Services(short); !errors.Is(err, gogatt.ErrTimeout) {
			t.Errorf("short waiter: %v", err)
		}
		synctest.Wait()
	})
}

func TestServiceCacheLookups(t *testing.T) {
	c := NewServiceCache(func(context.Context) ([]gogatt.Service, error) { return testTree(), nil })
	ctx := t.Context()
	ch, err := c.Characteristic(ctx, chrBL)
	if err != nil || ch.ValueHandle != 12 {
		t.Errorf("Characteristic(2a19) = %+v, %v", ch, err)
	}
	if h, ok := ch.CCCD(); !ok || h != 13 {
		t.Errorf("CCCD = %d, %v", h, ok)
	}
	_, err = c.Characteristic(ctx, chrDup)
	var amb *gogatt.AmbiguousUUIDError
	if !errors.As(err, &amb) || len(amb.Candidates) != 2 || amb.Services[0] != svcHR || amb.Services[1] != svcBatt {
		t.Errorf("ambiguous lookup: %v", err)
	}
	if ch, err := c.CharacteristicIn(ctx, svcBatt, chrDup); err != nil || ch.ValueHandle != 15 {
		t.Errorf("CharacteristicIn = %+v, %v", ch, err)
	}
	if _, err := c.Characteristic(ctx, gogatt.UUID16(0x2a00)); !errors.Is(err, gogatt.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	if ch, err := c.ByValueHandle(ctx, 6); err != nil || ch.Handle != 5 {
		t.Errorf("ByValueHandle(6) = %+v, %v", ch, err)
	}
	if _, err := c.ByValueHandle(ctx, 5); !errors.Is(err, gogatt.ErrNotFound) {
		t.Errorf("ByValueHandle(declaration) = %v, want ErrNotFound", err)
	}
}
