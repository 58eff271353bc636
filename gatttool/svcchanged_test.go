package gatttool_test

import (
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatttool"
	"github.com/gogatt/gogatt/internal/svctest"
	"github.com/gogatt/gogatt/sim"
)

// TestServiceChanged: through the real gatttool, a characteristic read by UUID moves to another
// handle when the peer changes its database; its Service Changed indication (Core v5.3 Vol 3
// Part G §7.1), which the library enabled after discovery, invalidates the cached tree, so the
// next read by UUID reads the new handle. A subscription of the application to 0x2A05 still
// gets the values.
func TestServiceChanged(t *testing.T) {
	for _, userSub := range []bool{false, true} {
		t.Run(map[bool]string{false: "library-only", true: "user-subscribed"}[userSub], func(t *testing.T) {
			p := sim.NewChangingDevice(bt.MustParseAddress(sim.ChangingAddress), 1)
			r := setup(t, gatttool.Config{}, p)
			d := connect(t, r, sim.ChangingAddress, gogatt.ConnectOptions{})
			svctest.Check(t, ctxT(t, 30*time.Second), d, userSub)
		})
	}
}
