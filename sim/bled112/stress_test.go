package bled112

import (
	"encoding/binary"
	"testing"

	"github.com/gogatt/gogatt/bgapi/wire"
)

// TestConcurrentConnections: three connections; a notification flood on one while GATT
// procedures run on the others; every event is attributed to the right connection, the
// flood arrives complete and in order, and every procedure completes.
func TestConcurrentConnections(t *testing.T) {
	_, h, ps := setup(t, Config{})
	h.connect(hrmAddr, 0)
	h.connect(thermoAddr, 1)
	h.connect(tortureAddr, 2)
	h.send(&wire.CmdAttclientAttributeWrite{Connection: 0, Handle: 0x15, Data: []byte{0x01, 0x00}})
	h.expect(&wire.RspAttclientAttributeWrite{}, procDone(0, 0x15))
	const n = 2000
	stop := ps[0].StartGenerator(0x14, n, 0)
	defer stop()

	var seq uint32
	pending := map[uint8]bool{}
	found := map[uint8]int{}
	handle := func(m wire.Message) {
		switch v := m.(type) {
		case *wire.EvtAttclientAttributeValue:
			if v.Connection == 0 {
				if v.Type != wire.AttValueNotify || binary.LittleEndian.Uint32(v.Value) != seq {
					t.Fatalf("notification %d: %+v", seq, v)
				}
				seq++
				return
			}
			found[v.Connection]++
		case *wire.EvtAttclientFindInformationFound:
			found[v.Connection]++
		case *wire.EvtAttclientProcedureCompleted:
			if v.Result != 0 || !pending[v.Connection] {
				t.Fatalf("completed %+v", v)
			}
			delete(pending, v.Connection)
		default:
			t.Fatalf("unexpected %#v", m)
		}
	}
	// one command at a time (docs/bgapi-protocol.md §Command discipline); events of all three
	// links interleave.
	command := func(cmd wire.Message, conn uint8) {
		h.send(cmd)
		for {
			m := h.nextMsg()
			if m.Kind() == wire.KindResponse {
				if m.Name() != cmd.Name() {
					t.Fatalf("response %s to %s", m.Name(), cmd.Name())
				}
				pending[conn] = true
				return
			}
			handle(m)
		}
	}
	for round := 0; round < 5; round++ {
		command(&wire.CmdAttclientFindInformation{Connection: 2, Start: 1, End: 0xFFFF}, 2)
		command(&wire.CmdAttclientReadLong{Connection: 1, Handle: 0x03}, 1)
		for len(pending) > 0 {
			handle(h.nextMsg())
		}
	}
	for seq < n {
		handle(h.nextMsg())
	}
	if found[2] < 5*100 || found[1] != 5 {
		t.Fatalf("found %v", found)
	}
}
