package main

import (
	"testing"
	"time"

	"github.com/gogatt/gogatt/cmd/gogatt/internal/cli"
	"github.com/gogatt/gogatt/sim/bled112"
)

// TestLinkModel: `gogatt sim --interval --per-event` becomes the emulator's LinkModel; no
// --interval, no model.
func TestLinkModel(t *testing.T) {
	if m := linkModel(cli.SimLink{}); m != nil {
		t.Errorf("no interval: %+v, want nil", m)
	}
	m := linkModel(cli.SimLink{Interval: 7500 * time.Microsecond, PerEvent: 4})
	if m == nil || *m != (bled112.LinkModel{ConnInterval: 7500 * time.Microsecond, PacketsPerEvent: 4}) {
		t.Errorf("7.5ms, 4 per event: %+v", m)
	}
}
