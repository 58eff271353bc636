package bluez_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/sim"
)

// The first subscription on a link says, once, on the log, when the link can carry Enhanced
// ATT (peer's Server Supported Features bit 0 and the Client Supported Features bit 1, Core
// v5.3 Vol 3 Part G §7.2, §7.4): bluetoothd may then hand values over out of order, which the
// library cannot undo, and must not claim silently. Without EATT nothing is said. Both
// subscription paths say it (AcquireNotify, the default, and StartNotify).
func TestEATTWarning(t *testing.T) {
	for _, mode := range []bluez.NotifyMode{bluez.NotifyAuto, bluez.NotifyStartNotify} {
		t.Run(mode.String(), func(t *testing.T) { testEATTWarning(t, mode) })
	}
}

func testEATTWarning(t *testing.T, mode bluez.NotifyMode) {
	for _, tc := range []struct {
		server, client byte
		warn           bool
	}{
		{0x01, 0x07, true},
		{0x01, 0x05, false}, // the client did not ask for EATT
		{0x00, 0x07, false}, // the server does not offer it
	} {
		t.Run(fmt.Sprintf("server=%02x,client=%02x", tc.server, tc.client), func(t *testing.T) {
			const addr = "C0:FF:EE:00:00:E1"
			bl := sim.NewBuilder(bt.MustParseAddress(addr)).Name("gogatt EATT")
			bl.Service(gogatt.UUID16(0x1801)).
				Characteristic(gogatt.UUID16(0x2B3A), gatt.PropRead).Value([]byte{tc.server}).
				Characteristic(gogatt.UUID16(0x2B29), gatt.PropRead|gatt.PropWrite).Value([]byte{tc.client}).
				Service(gogatt.UUID16(0xFFF0)).
				Characteristic(gogatt.UUID16(0xFFF1), gatt.PropNotify)
			p := bl.MustBuild()
			env, _ := newEnv(t, []*sim.Peripheral{p})
			var w warnings
			b := bluez.New(bluez.Config{Adapter: env.HCIDevice(), BusAddress: env.BusAddress(), Notify: mode, Logger: slog.New(&w)})
			t.Cleanup(func() { b.Stop() })
			ctx := ctxT(t)
			if err := b.Start(ctx); err != nil {
				t.Fatal(err)
			}
			d := connect(t, b, addr, gogatt.ConnectOptions{})
			for range 2 { // once per link
				if err := d.Subscribe(ctx, gogatt.UUID16(0xFFF1), func(uint16, []byte) {}, gogatt.SubscribeOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			w.mu.Lock()
			n := 0
			for _, m := range w.msgs {
				if strings.Contains(m, "Enhanced ATT") {
					n++
				}
			}
			w.mu.Unlock()
			if want := map[bool]int{true: 1, false: 0}[tc.warn]; n != want {
				t.Errorf("%d warnings about Enhanced ATT, want %d (all: %q)", n, want, w.msgs)
			}
		})
	}
}
