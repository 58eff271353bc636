// Package svctest holds the Service Changed check that the tests of both backends run against
// sim.NewChangingDevice (through the BLED112 emulator and through the BlueZ tools).
package svctest

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim"
)

// Check runs the Service Changed scenario on d, a connection to sim.NewChangingDevice in its
// first layout: read sim.ChangingMoved by UUID (handle 0x000F, cached), write 0x01 to
// sim.ChangingControl (the peer inserts a service, so 0x000F now holds sim.ChangingInserted and
// sim.ChangingMoved moves to 0x0012, and indicates Service Changed 0x000D–0x0012 before its
// Write Response), then expect "moved" from a read by UUID and the new tree from Services;
// then the same back to the first layout. With userSub the application also subscribes to
// Service Changed (0x2A05) and must get both indications.
func Check(t testing.TB, ctx context.Context, d gogatt.Device, userSub bool) {
	t.Helper()
	user := make(chan []byte, 4)
	if userSub {
		if err := d.Subscribe(ctx, gogatt.UUID16(0x2A05), func(_ uint16, v []byte) { user <- v },
			gogatt.SubscribeOptions{Indication: true}); err != nil {
			t.Fatalf("subscribe to Service Changed: %v", err)
		}
	}
	read := func(step string) {
		t.Helper()
		v, err := d.CharRead(ctx, sim.ChangingMoved)
		if err != nil || string(v) != "moved" {
			t.Fatalf("%s: CharRead(ChangingMoved) = %q, %v; want \"moved\"", step, v, err)
		}
	}
	read("first layout")
	for _, step := range []struct {
		name     string
		ctl      byte
		inserted bool
		moved    uint16
	}{
		{"second layout", 0x01, true, 0x0012},
		{"first layout again", 0x00, false, 0x000F},
	} {
		if err := d.CharWrite(ctx, sim.ChangingControl, []byte{step.ctl}, true); err != nil {
			t.Fatalf("%s: write control: %v", step.name, err)
		}
		// The indication came before the Write Response, so the tree is already invalidated:
		// a read through the stale tree would get the attribute now at the old handle.
		read(step.name)
		svcs, err := d.Services(ctx)
		if err != nil {
			t.Fatalf("%s: Services: %v", step.name, err)
		}
		has := slices.ContainsFunc(svcs, func(s gogatt.Service) bool { return s.UUID == sim.ChangingInsertedService })
		if has != step.inserted {
			t.Fatalf("%s: Services has the inserted service: %v, want %v (cached tree not invalidated)", step.name, has, step.inserted)
		}
		if h, err := d.GetHandle(ctx, sim.ChangingMoved); err != nil || h != step.moved {
			t.Fatalf("%s: GetHandle(ChangingMoved) = 0x%04x, %v; want 0x%04x", step.name, h, err, step.moved)
		}
		if userSub {
			select {
			case v := <-user:
				if want := []byte{0x0D, 0x00, 0x12, 0x00}; !bytes.Equal(v, want) {
					t.Fatalf("%s: application got Service Changed % x, want % x", step.name, v, want)
				}
			case <-ctx.Done():
				t.Fatalf("%s: the application's Service Changed subscription got nothing", step.name)
			}
		}
	}
}
