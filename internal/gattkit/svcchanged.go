package gattkit

import (
	"context"
	"encoding/binary"
	"log/slog"
	"sync/atomic"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/gatt"
)

// Invalidate forgets the tree because the attributes in start–end changed (a Service Changed
// indication, Core v5.3 Vol 3 Part G §7.1), so that the next lookup discovers again; a discovery
// in progress finishes for its callers but its result is not kept. A range that is empty or
// starts at 0 is taken as the whole database (0x0001–0xFFFF). Since a service may have been
// added anywhere in the range and everything after it may have shifted, the whole tree is
// rediscovered, not only the range (the client may discover more than the range).
//
// It returns the characteristics of the forgotten tree that lie in the range (declaration to
// last descriptor overlapping start–end), or nil when no tree was cached.
func (c *ServiceCache) Invalidate(start, end uint16) []gogatt.Characteristic {
	if start == 0 || start > end {
		start, end = 0x0001, 0xFFFF
	}
	c.mu.Lock()
	old, had := c.services, c.have
	if !had { // a partial discovery's skeleton locates subscriptions as well
		old, had = c.skel, c.haveSkel
	}
	c.services, c.have = nil, false
	c.skel, c.haveSkel, c.descs = nil, false, nil
	c.gen++
	c.mu.Unlock()
	if !had {
		return nil
	}
	var stale []gogatt.Characteristic
	for _, s := range old {
		for i, ch := range s.Characteristics {
			last := s.EndHandle
			if i+1 < len(s.Characteristics) {
				last = s.Characteristics[i+1].Handle - 1
			}
			if ch.Handle <= end && last >= start {
				stale = append(stale, ch)
			}
		}
	}
	return stale
}

// ServiceChanged keeps one connection's ServiceCache in step with the peer's database: after a
// discovery it enables indications of the peer's Service Changed characteristic (0x2A05 in the
// Generic Attribute service 0x1801) with one Write Request of 0x0002 to its CCCD, and each
// indication of it invalidates the cache for the range it carries (start and end handle, two
// little-endian uint16), so the next Services, GetHandle or read/write/subscribe by UUID
// discovers again and uses the new handles.
//
// The value still reaches a subscription the application made to 0x2A05 itself. If the
// application unsubscribes from 0x2A05, the CCCD is cleared and the library gets no more
// indications either, until the next discovery enables them again.
//
// Subscriptions are kept by value handle and are not moved: a subscription whose
// characteristic lies in the changed range keeps its old handle (the peer has cleared that
// CCCD, Core v5.3 Vol 3 Part G §2.5.2) and is reported with a warning on the log. Subscribe
// again, by UUID, to follow a characteristic that moved.
type ServiceChanged struct {
	cache  *ServiceCache
	reg    *Registry
	enable func(ctx context.Context, ch gogatt.Characteristic) error
	log    *slog.Logger
	handle atomic.Uint32 // value handle of 0x2A05 with indications enabled; 0 if none
}

// WatchServiceChanged returns the ServiceCache of a connection, with discover as in
// NewServiceCache, watched by a ServiceChanged. enableIndications enables the indications of
// the Service Changed characteristic ch (Link.Configure); values dispatched through reg are looked at first (on the
// dispatching goroutine, without calling any handler). log may be nil.
func WatchServiceChanged(discover func(ctx context.Context) ([]gogatt.Service, error),
	enableIndications func(ctx context.Context, ch gogatt.Characteristic) error, reg *Registry, log *slog.Logger) (*ServiceCache, *ServiceChanged) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &ServiceChanged{reg: reg, enable: enableIndications, log: log}
	w.cache = NewServiceCache(func(ctx context.Context) ([]gogatt.Service, error) {
		s, err := discover(ctx)
		if err == nil {
			w.discovered(ctx, s)
		}
		return s, err
	})
	tap := w.dispatched
	reg.tap.Store(&tap)
	return w.cache, w
}

// Handle returns the value handle of the Service Changed characteristic whose indications the
// library enabled, 0 if none (yet).
func (w *ServiceChanged) Handle() uint16 { return uint16(w.handle.Load()) }

// discovered enables Service Changed indications after a discovery, unless they are already on
// at that handle. A failure is logged, not returned: the tree is still good.
func (w *ServiceChanged) discovered(ctx context.Context, s []gogatt.Service) {
	ch, err := gogatt.LookupCharacteristicIn(s, gatt.UUIDGenericAttribute, gatt.UUIDServiceChanged)
	if err != nil || ch.Properties&gogatt.PropIndicate == 0 {
		return
	}
	if _, ok := ch.CCCD(); !ok || w.Handle() == ch.ValueHandle {
		return
	}
	if err := w.enable(ctx, ch); err != nil {
		w.log.Warn("gogatt: could not enable Service Changed indications", "handle", ch.ValueHandle, "err", err)
		return
	}
	w.handle.Store(uint32(ch.ValueHandle))
}

// dispatched sees every notification and indication before the registry routes it; it
// reports whether the value was a Service Changed indication the library used.
func (w *ServiceChanged) dispatched(valueHandle uint16, value []byte) bool {
	h := w.Handle()
	if h == 0 || valueHandle != h {
		return false
	}
	start, end := uint16(0x0001), uint16(0xFFFF)
	if len(value) >= 4 {
		start, end = binary.LittleEndian.Uint16(value), binary.LittleEndian.Uint16(value[2:])
	}
	if start == 0 || start > end {
		start, end = 0x0001, 0xFFFF
	}
	if h >= start && h <= end {
		w.handle.CompareAndSwap(uint32(h), 0) // it may have moved: enable again after discovery
	}
	stale := w.cache.Invalidate(start, end)
	w.log.Debug("gogatt: Service Changed", "start", start, "end", end)
	if len(stale) == 0 {
		return true
	}
	subs := w.reg.Subscriptions()
	for _, ch := range stale {
		if _, ok := subs[ch.ValueHandle]; ok && ch.ValueHandle != h {
			w.log.Warn("gogatt: Service Changed covers a subscription; it is not moved, subscribe again",
				"uuid", ch.UUID.String(), "handle", ch.ValueHandle, "start", start, "end", end)
		}
	}
	return true
}
