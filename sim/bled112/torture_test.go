package bled112

import (
	"bytes"
	"slices"
	"testing"

	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

var tortureAddr = bt.MustParseAddress(sim.TortureAddress)

// collect reads events until procedure_completed and returns them and the completion.
func (h *host) collect() ([]wire.Message, *wire.EvtAttclientProcedureCompleted) {
	h.t.Helper()
	var evs []wire.Message
	for {
		m := h.nextMsg()
		if pc, ok := m.(*wire.EvtAttclientProcedureCompleted); ok {
			return evs, pc
		}
		evs = append(evs, m)
	}
}

// TestTortureDiscovery runs a full discovery (services, characteristics, descriptors) of the
// torture device with 128-bit UUIDs and compares it with the sim's own database.
func TestTortureDiscovery(t *testing.T) {
	_, h, ps := setup(t, Config{})
	p := ps[2]
	h.connect(tortureAddr, 0)

	h.send(&wire.CmdAttclientReadByGroupType{Start: 1, End: 0xFFFF, UUID: []byte{0x00, 0x28}})
	h.expect(&wire.RspAttclientReadByGroupType{})
	evs, pc := h.collect()
	if pc.Result != 0 {
		t.Fatalf("completed %v", pc.Result)
	}
	var primaries []sim.ServiceInfo
	for _, s := range p.Services() {
		if s.Primary {
			primaries = append(primaries, s)
		}
	}
	if len(evs) != len(primaries) {
		t.Fatalf("%d services found, sim has %d primaries", len(evs), len(primaries))
	}
	for i, m := range evs {
		g := m.(*wire.EvtAttclientGroupFound)
		s := primaries[i]
		if g.Start != s.Handle || g.End != s.EndHandle || !bytes.Equal(g.UUID, s.UUID.AppendLE(nil)) {
			t.Fatalf("service %d: %+v, want %+v", i, g, s)
		}
	}

	// Every attribute handle once, ascending, up to the highest (the database has a gap
	// before a service placed at 0x0200).
	h.send(&wire.CmdAttclientFindInformation{Start: 1, End: 0xFFFF})
	h.expect(&wire.RspAttclientFindInformation{})
	evs, pc = h.collect()
	if pc.Result != 0 || len(evs) < 100 {
		t.Fatalf("find_information: %d attributes (%v)", len(evs), pc.Result)
	}
	var prev uint16
	for i, m := range evs {
		fi := m.(*wire.EvtAttclientFindInformationFound)
		if fi.ChrHandle <= prev || (len(fi.UUID) != 2 && len(fi.UUID) != 16) {
			t.Fatalf("attribute %d: %+v", i, fi)
		}
		prev = fi.ChrHandle
	}
	if prev != p.HandleCount() {
		t.Fatalf("last handle 0x%04X, sim's highest 0x%04X", prev, p.HandleCount())
	}

	// Characteristic declarations of the main service.
	main := primaries[slices.IndexFunc(primaries, func(s sim.ServiceInfo) bool { return s.UUID == sim.TortureService })]
	h.send(&wire.CmdAttclientReadByType{Start: main.Handle, End: main.EndHandle, UUID: []byte{0x03, 0x28}})
	h.expect(&wire.RspAttclientReadByType{})
	evs, _ = h.collect()
	if len(evs) != len(main.Characteristics) {
		t.Fatalf("%d characteristics, want %d", len(evs), len(main.Characteristics))
	}
	for i, m := range evs {
		av := m.(*wire.EvtAttclientAttributeValue)
		c := main.Characteristics[i]
		if av.AttHandle != c.Handle || av.Type != wire.AttValueReadByType || len(av.Value) != 3+16 ||
			uint16(av.Value[1])|uint16(av.Value[2])<<8 != c.ValueHandle {
			t.Fatalf("characteristic %d: %+v, want %+v", i, av, c)
		}
	}
}

func TestTortureLongValuesAndSecurity(t *testing.T) {
	_, h, ps := setup(t, Config{})
	p := ps[2]
	h.connect(tortureAddr, 0)
	vh := func(u bt.UUID) uint16 {
		c, ok := p.Characteristic(u)
		if !ok {
			t.Fatalf("no %v", u)
		}
		return c.ValueHandle
	}
	for _, tc := range []struct {
		uuid bt.UUID
		n    int
	}{{sim.TortureLong, 300}, {sim.TortureMax, 512}} {
		hdl := vh(tc.uuid)
		h.send(&wire.CmdAttclientReadLong{Handle: hdl})
		h.expect(&wire.RspAttclientReadLong{})
		evs, pc := h.collect()
		if pc.Result != 0 || pc.ChrHandle != hdl {
			t.Fatalf("read_long: %+v", pc)
		}
		var got []byte
		for _, m := range evs {
			av := m.(*wire.EvtAttclientAttributeValue)
			if av.Type != wire.AttValueReadBlob || av.AttHandle != hdl || len(av.Value) > 22 {
				t.Fatalf("%+v", av)
			}
			got = append(got, av.Value...)
		}
		if len(got) != tc.n || len(evs) != (tc.n+21)/22 {
			t.Fatalf("read %d octets in %d chunks", len(got), len(evs))
		}
		for i, b := range got {
			if b != byte(i) {
				t.Fatalf("octet %d = %d", i, b)
			}
		}
	}
	// empty value: read_by_handle gives an empty attribute_value
	h.send(&wire.CmdAttclientReadByHandle{Handle: vh(sim.TortureEmpty)})
	h.expect(&wire.RspAttclientReadByHandle{}, &wire.EvtAttclientAttributeValue{AttHandle: vh(sim.TortureEmpty), Value: nil})

	// long write with prepare/execute, 18-octet chunks, read back
	long := vh(sim.TortureLong)
	val := bytes.Repeat([]byte("0123456789"), 5)
	for off := 0; off < len(val); off += 18 {
		chunk := val[off:min(off+18, len(val))]
		h.send(&wire.CmdAttclientPrepareWrite{Handle: long, Offset: uint16(off), Data: chunk})
		h.expect(&wire.RspAttclientPrepareWrite{}, procDone(0, long))
	}
	h.send(&wire.CmdAttclientExecuteWrite{Commit: 1})
	h.expect(&wire.RspAttclientExecuteWrite{}, procDone(0, 0))
	h.send(&wire.CmdAttclientReadLong{Handle: long})
	h.expect(&wire.RspAttclientReadLong{})
	evs, _ := h.collect()
	var got []byte
	for _, m := range evs {
		got = append(got, m.(*wire.EvtAttclientAttributeValue).Value...)
	}
	if !bytes.Equal(got[:len(val)], val) {
		t.Fatalf("read back %q", got)
	}

	// encryption required: ATT error, then encrypt_start, then the read works
	enc := vh(sim.TortureEncrypted)
	h.send(&wire.CmdAttclientReadByHandle{Handle: enc})
	h.expect(&wire.RspAttclientReadByHandle{})
	pc := h.nextMsg().(*wire.EvtAttclientProcedureCompleted)
	if pc.Result != wire.ResultATTInsufficientEncryption && pc.Result != wire.ResultATTInsufficientAuthentication {
		t.Fatalf("unencrypted read: %v", pc.Result)
	}
	h.send(&wire.CmdSmEncryptStart{Handle: 0, Bonding: 0})
	h.expect(&wire.RspSmEncryptStart{})
	if st := h.nextMsg().(*wire.EvtConnectionStatus); !st.Flags.Encrypted() {
		t.Fatalf("%+v", st)
	}
	h.send(&wire.CmdAttclientReadByHandle{Handle: enc})
	h.expect(&wire.RspAttclientReadByHandle{}, &wire.EvtAttclientAttributeValue{AttHandle: enc, Value: []byte("secret")})
	// no access: read not permitted
	na := vh(sim.TortureNoAccess)
	h.send(&wire.CmdAttclientReadByHandle{Handle: na})
	h.expect(&wire.RspAttclientReadByHandle{}, procDone(wire.ResultATTReadNotPermitted, na))
}
