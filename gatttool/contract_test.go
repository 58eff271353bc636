package gatttool_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gogatt/gogatt/gatttool"
	"github.com/gogatt/gogatt/gogatttest"
	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

// TestContract runs the contract suite against the BlueZ tools through bluezsim.
func TestContract(t *testing.T) {
	bluezsim.RequireTools(t)
	gogatttest.Run(t, func(t *testing.T) gogatttest.Env {
		ps := sim.DemoPeripherals(1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		env, err := bluezsim.Start(ctx, bluezsim.Options{Peripherals: ps})
		if err != nil {
			t.Fatalf("bluezsim: %v", err)
		}
		t.Cleanup(func() { env.Close() })
		var forward slog.Handler
		if l := logger(t); l != nil {
			forward = l.Handler()
		}
		// The backend logs every line of the tools; gatttool prints "Attempting to connect".
		connecting := gogatttest.NewLogSignal("kind", "attempting", forward)
		b := gatttool.New(gatttool.Config{Env: env.Environ(), Logger: slog.New(connecting)})
		t.Cleanup(func() { b.Stop() })
		byAddr := map[string]*sim.Peripheral{}
		for _, p := range ps {
			byAddr[p.Address().String()] = p
		}
		return gogatttest.Env{Backend: b, Peripherals: ps,
			SetInRange:   func(a string, in bool) { byAddr[a].SetInRange(in) },
			Connecting:   connecting.Next,
			CheckStopped: nothingLeft}
	})
}
