package bgapi

import (
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/svctest"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// TestEmuServiceChanged: a characteristic read by UUID moves to another handle when the peer
// changes its database; its Service Changed indication (Core v5.3 Vol 3 Part G §7.1), which
// the library enabled after discovery, invalidates the cached tree, so the next read by UUID
// reads the new handle. A subscription of the application to 0x2A05 still gets the values.
func TestEmuServiceChanged(t *testing.T) {
	for _, userSub := range []bool{false, true} {
		t.Run(map[bool]string{false: "library-only", true: "user-subscribed"}[userSub], func(t *testing.T) {
			p := sim.NewChangingDevice(bt.MustParseAddress(sim.ChangingAddress), 1)
			env := startEmu(t, bled112.Config{}, Config{NoReset: true}, p)
			d := env.connect(t, sim.ChangingAddress, gogatt.ConnectOptions{})
			svctest.Check(t, ctxT(t, 20*time.Second), d, userSub)
		})
	}
}
