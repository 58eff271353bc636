package gattkit

import (
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
