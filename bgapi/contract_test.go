package bgapi

import (
	"log/slog"
	"testing"

	"github.com/gogatt/gogatt/gogatttest"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// TestContract runs the contract suite against the BLED112 emulator on a pseudo-terminal.
func TestContract(t *testing.T) {
	gogatttest.Run(t, func(t *testing.T) gogatttest.Env {
		env := newEmuEnv(t, bled112.Config{})
		env.listenPTY(t)
		var forward slog.Handler
		if l := testLogger(); l != nil {
			forward = l.Handler()
		}
		// The backend logs every command it sends (at debug level).
		connecting := gogatttest.NewLogSignal("command", "gap_connect_direct", forward)
		b := New(Config{Port: env.pty.Path(), ports: noPorts, Logger: slog.New(connecting)})
		t.Cleanup(func() { b.Stop() })
		var ps []*sim.Peripheral
		for _, p := range env.periphs {
			ps = append(ps, p)
		}
		return gogatttest.Env{Backend: b, Peripherals: ps, CanBond: true,
			SetInRange: func(a string, in bool) { env.periphs[a].SetInRange(in) },
			Connecting: connecting.Next,
			CheckStopped: func(t *testing.T) {
				if n := env.emu.Connections(); n != 0 {
					t.Errorf("the dongle holds %d connections after Stop", n)
				}
				noLibGoroutines(t, false)
			}}
	})
}
