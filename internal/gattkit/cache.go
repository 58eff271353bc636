package gattkit

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	gen      uint64 // incremented by Invalidate, so a discovery started before it is not stored
	flight   *flight

	// What a partial discovery (Stepwise links) learnt, kept until Invalidate: the services
	// and characteristic declarations, and the descriptors of some characteristics.
	skel     []gogatt.Service
	haveSkel bool
	descs    map[uint16][]gogatt.Descriptor // by value handle
}

// skeleton returns the learnt services and declarations, and the generation to learn under.
func (c *ServiceCache) skeleton() (gen uint64, sk []gogatt.Service, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.skel, c.haveSkel
}

// learnSkeleton keeps sk unless the cache was invalidated since generation gen; it reports
// whether it did.
func (c *ServiceCache) learnSkeleton(gen uint64, sk []gogatt.Service) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.haveSkel {
		return false
	}
	c.skel, c.haveSkel = sk, true
	return true
}

// knownDescriptors returns the descriptors learnt under generation gen of the characteristic
// of value handle vh.
func (c *ServiceCache) knownDescriptors(gen uint64, vh uint16) ([]gogatt.Descriptor, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil, false
	}
	ds, ok := c.descs[vh]
	return ds, ok
}

// knownDescriptorMap returns a copy of every learnt set of descriptors.
func (c *ServiceCache) knownDescriptorMap() map[uint16][]gogatt.Descriptor {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.descs)
}

// learnDescriptors keeps ds as the descriptors of vh unless the cache was invalidated since
// generation gen.
func (c *ServiceCache) learnDescriptors(gen uint64, vh uint16, ds []gogatt.Descriptor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || !c.haveSkel { // only beside the skeleton the characteristic came from
		return
	}
	if c.descs == nil {
		c.descs = make(map[uint16][]gogatt.Descriptor)
	}
	c.descs[vh] = ds
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
	return byValueHandle(s, h)
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
