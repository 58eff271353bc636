package bgapi

import (
	"context"
	"testing"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim/bled112"
)

// BenchmarkNotificationsAutoReconnect is BenchmarkNotifications through a Device with
// AutoReconnect, the configuration of a gateway: the value's whole path from the serial read to
// the handler, with the allocations per notification.
func BenchmarkNotificationsAutoReconnect(b *testing.B) {
	env := startEmu(b, bled112.Config{}, Config{NoReset: true})
	d, err := env.b.Connect(context.Background(), tortureAddr, gogatt.ConnectOptions{AutoReconnect: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Disconnect() })
	b.ReportAllocs()
	benchNotifications(b, env, d)
}
