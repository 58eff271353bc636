package gattkit

import (
	"context"

	"github.com/gogatt/gogatt"
)

// ServiceCache holds the attribute tree of one connection.
type ServiceCache struct {
	discover func(ctx context.Context) ([]gogatt.Service, error)
}

// NewServiceCache returns a cache that calls discover when the tree is first needed.
func NewServiceCache(discover func(ctx context.Context) ([]gogatt.Service, error)) *ServiceCache {
	return &ServiceCache{discover: discover}
}

// Services returns the tree, discovering it on first use.
func (c *ServiceCache) Services(ctx context.Context) ([]gogatt.Service, error) {
	return c.discover(ctx)
}

// Characteristic finds the characteristic uuid (see gogatt.LookupCharacteristic).
func (c *ServiceCache) Characteristic(ctx context.Context, uuid gogatt.UUID) (gogatt.Characteristic, error) {
	s, err := c.Services(ctx)
	if err != nil {
		return gogatt.Characteristic{}, err
	}
	return gogatt.LookupCharacteristic(s, uuid)
}

// ByValueHandle finds the characteristic whose value handle is h.
func (c *ServiceCache) ByValueHandle(ctx context.Context, h uint16) (gogatt.Characteristic, error) {
	s, err := c.Services(ctx)
	if err != nil {
		return gogatt.Characteristic{}, err
	}
	return gogatt.CharacteristicByHandle(s, h)
}

// Reset forgets the tree.
func (c *ServiceCache) Reset() {}
