package sim

import (
	"bytes"
	"testing"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

// TestChangingDevice: a link that enabled Service Changed indications gets the changed range
// (Core v5.3 Vol 3 Part G §7.1) before the Write Response that made the change, the moved
// characteristic answers at its new handle, CCCDs in the range are cleared and the Service
// Changed configuration survives, so a second change is indicated too.
func TestChangingDevice(t *testing.T) {
	p := NewChangingDevice(bt.MustParseAddress(ChangingAddress), 1)
	l := connect(t, p)
	sc := p.ValueHandle(gatt.UUIDServiceChanged)
	scInfo, _ := p.Characteristic(gatt.UUIDServiceChanged)
	ctl := p.ValueHandle(ChangingControl)
	if sc != 0x0008 || ctl != 0x000C || p.ValueHandle(ChangingMoved) != 0x000F {
		t.Fatalf("first layout: Service Changed 0x%04X, control 0x%04X, moved 0x%04X", sc, ctl, p.ValueHandle(ChangingMoved))
	}
	if got := roundTrip(t, l, hx("12 0900 0200")); !bytes.Equal(got, hx("13")) {
		t.Fatalf("enable indications: % x", got)
	}
	for i, step := range []struct {
		ctl          byte
		moved        uint16
		at0F         string
		start, end   uint16
		wantInserted bool
	}{
		{ctl: 1, moved: 0x0012, at0F: "inserted", start: 0x000D, end: 0x0012, wantInserted: true},
		{ctl: 0, moved: 0x000F, at0F: "moved", start: 0x000D, end: 0x0012},
	} {
		ind := roundTrip(t, l, []byte{0x12, byte(ctl), byte(ctl >> 8), step.ctl})
		want := []byte{0x1D, byte(sc), byte(sc >> 8), byte(step.start), byte(step.start >> 8), byte(step.end), byte(step.end >> 8)}
		if !bytes.Equal(ind, want) {
			t.Fatalf("step %d: got % x, want the indication % x", i, ind, want)
		}
		if err := l.WritePDU([]byte{0x1E}); err != nil {
			t.Fatal(err)
		}
		if rsp, err := l.ReadPDU(); err != nil || !bytes.Equal(rsp, hx("13")) {
			t.Fatalf("step %d: write response % x, %v", i, rsp, err)
		}
		if got := p.ValueHandle(ChangingMoved); got != step.moved {
			t.Fatalf("step %d: moved at 0x%04X, want 0x%04X", i, got, step.moved)
		}
		if got := roundTrip(t, l, hx("0a 0f00")); !bytes.Equal(got, append([]byte{0x0B}, step.at0F...)) {
			t.Fatalf("step %d: read 0x000F: % x, want %q", i, got, step.at0F)
		}
		if _, ok := p.Characteristic(ChangingInserted); ok != step.wantInserted {
			t.Fatalf("step %d: inserted service present %v", i, ok)
		}
		if got := roundTrip(t, l, []byte{0x0A, byte(scInfo.CCCDHandle), 0}); !bytes.Equal(got, hx("0b 0200")) {
			t.Fatalf("step %d: Service Changed CCCD % x", i, got)
		}
	}
	if s, e, err := p.ChangeServices(NewBuilder(p.Address()).Name(ChangingName).
		Service(ChangingService).Characteristic(ChangingControl, gatt.PropRead|gatt.PropWrite).Value([]byte{0}).MaxLength(1).
		Service(ChangingMovedService).Characteristic(ChangingMoved, gatt.PropRead).StringValue("moved").s.b); err != nil || s != 0 || e != 0 {
		t.Fatalf("unchanged database: range 0x%04X–0x%04X, %v; want none", s, e, err)
	}
}
