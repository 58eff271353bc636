package gattkit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gogatt/gogatt"
)

// ServiceCache holds the attribute tree of one connection. The tree is discovered once, on first
// use: concurrent callers share a single discovery (singleflight). A failed discovery is not
// cached; the next call tries again. All methods are safe for concurrent use.
//
// The tree it returns is shared: callers must not modify it.
type ServiceCache struct {
	discover func(ctx context.Context) ([]gogatt.Service, error)

	mu       sync.Mutex
	services []gogatt.Service
	have     bool
	gen      uint64 // incremented by Reset, so a discovery started before Reset is not stored
	flight   *flight
}

type flight struct {
	done     chan struct{}
	services []gogatt.Service
	err      error
	ctxEnded bool // the leader's context ended: waiters with a live context retry
}

// NewServiceCache returns a cache that calls discover when the tree is first needed. discover
// receives the context of the call that triggered it.
func NewServiceCache(discover func(ctx context.Context) ([]gogatt.Service, error)) *ServiceCache {
	return &ServiceCache{discover: discover}
}

// Services returns the tree, discovering it on first use. A caller that joins a discovery
// already in progress waits for it or for its own ctx; if that discovery failed only because
// its own caller's context ended, the waiting caller starts a new one.
func (c *ServiceCache) Services(ctx context.Context) ([]gogatt.Service, error) {
	for {
		c.mu.Lock()
		if c.have {
			s := c.services
			c.mu.Unlock()
			return s, nil
		}
		if f := c.flight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, CtxErr(ctx, "discover services")
			}
			if f.err == nil {
				return f.services, nil
			}
			if f.ctxEnded && ctx.Err() == nil {
				continue // the leader gave up, not the peer: try again ourselves
			}
			return nil, f.err
		}
		f := &flight{done: make(chan struct{})}
		c.flight = f
		gen := c.gen
		c.mu.Unlock()

		c.lead(ctx, f, gen)
		return f.services, f.err
	}
}

// lead runs the discovery of flight f; the deferred part runs even if discover panics, so
// that waiters are never left hanging.
func (c *ServiceCache) lead(ctx context.Context, f *flight, gen uint64) {
	f.err = errors.New("gattkit: service discovery panicked")
	defer func() {
		c.mu.Lock()
		if c.flight == f {
			c.flight = nil
		}
		if f.err == nil && c.gen == gen {
			c.services, c.have = f.services, true
		}
		c.mu.Unlock()
		close(f.done)
	}()
	s, err := c.discover(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, gogatt.ErrTimeout) {
		if isCtxErr(err) {
			err = CtxErr(ctx, "discover services")
		} else {
			err = fmt.Errorf("%w: %w", CtxErr(ctx, "discover services"), err)
		}
	}
	f.services, f.err, f.ctxEnded = s, err, err != nil && ctx.Err() != nil
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Characteristic finds the characteristic uuid. It fails with an error matching
// gogatt.ErrNotFound when there is none, and with a *gogatt.AmbiguousUUIDError naming the
// candidates when several services have one.
func (c *ServiceCache) Characteristic(ctx context.Context, uuid gogatt.UUID) (gogatt.Characteristic, error) {
	s, err := c.Services(ctx)
	if err != nil {
		return gogatt.Characteristic{}, err
	}
	return gogatt.LookupCharacteristic(s, uuid)
}

// CharacteristicIn finds characteristic uuid inside service svc.
func (c *ServiceCache) CharacteristicIn(ctx context.Context, svc, uuid gogatt.UUID) (gogatt.Characteristic, error) {
	s, err := c.Services(ctx)
	if err != nil {
		return gogatt.Characteristic{}, err
	}
	return gogatt.LookupCharacteristicIn(s, svc, uuid)
}

// ByValueHandle finds the characteristic whose value handle is h; the error matches
// gogatt.ErrNotFound when there is none.
func (c *ServiceCache) ByValueHandle(ctx context.Context, h uint16) (gogatt.Characteristic, error) {
	s, err := c.Services(ctx)
	if err != nil {
		return gogatt.Characteristic{}, err
	}
	for _, svc := range s {
		for _, ch := range svc.Characteristics {
			if ch.ValueHandle == h {
				return ch, nil
			}
		}
	}
	return gogatt.Characteristic{}, fmt.Errorf("characteristic with value handle 0x%04x: %w", h, gogatt.ErrNotFound)
}

// Cached returns the tree if it has been discovered, without discovering it.
func (c *ServiceCache) Cached() ([]gogatt.Service, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services, c.have
}

// Reset forgets the tree (after a reconnection, or a Service Changed indication). A discovery
// in progress finishes for its callers but its result is not kept.
func (c *ServiceCache) Reset() {
	c.mu.Lock()
	c.services, c.have = nil, false
	c.gen++
	c.mu.Unlock()
}
