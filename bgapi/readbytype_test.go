package bgapi

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// A read by UUID on a fresh connection puts one Read By Type on the wire ("Read Using
// Characteristic UUID", Core v5.3 Vol 3 Part G §4.8.2) instead of discovering the whole tree
// first (18 procedures for the heart-rate sensor before). A value that fills the response is
// read again by handle; anything a single Read By Type cannot settle (no such characteristic,
// several, an error on the first) goes through the tree and gives the same result as before.
func TestReadByUUIDWithoutDiscovery(t *testing.T) {
	var (
		readByType   = ident(wire.CmdAttclientReadByType{})
		readByHandle = ident(wire.CmdAttclientReadByHandle{})
		readLong     = ident(wire.CmdAttclientReadLong{})
		groups       = ident(wire.CmdAttclientReadByGroupType{})
	)
	long := make([]byte, 300)
	for i := range long {
		long[i] = byte(i)
	}
	tests := []struct {
		name    string
		addr    string
		uuid    gogatt.UUID
		long    bool
		want    []byte // nil: check err
		wantErr func(error) bool
		cmds    [][2]uint8 // the commands after Connect returned; a prefix when discovery follows
		prefix  bool
	}{
		{name: "short value", addr: hrmAddr, uuid: gogatt.UUID16(0x2A38), want: []byte{0x01}, cmds: [][2]uint8{readByType}},
		{name: "value filling the response", addr: tortureAddr, uuid: sim.TortureLong, want: long[:attMTU-1], cmds: [][2]uint8{readByType, readByHandle}},
		{name: "long value", addr: tortureAddr, uuid: sim.TortureLong, long: true, want: long, cmds: [][2]uint8{readByType, readLong}},
		{name: "duplicate UUID", addr: tortureAddr, uuid: sim.TortureDuplicate, cmds: [][2]uint8{readByType, groups}, prefix: true,
			wantErr: func(err error) bool {
				var a *gogatt.AmbiguousUUIDError
				return errors.As(err, &a) && len(a.Candidates) == 2
			}},
		{name: "no such characteristic", addr: hrmAddr, uuid: sim.TortureLong, cmds: [][2]uint8{readByType, groups}, prefix: true,
			wantErr: func(err error) bool { return errors.Is(err, gogatt.ErrNotFound) }},
		{name: "not readable", addr: tortureAddr, uuid: sim.TortureWriteOnly, cmds: [][2]uint8{readByType, groups}, prefix: true,
			wantErr: func(err error) bool {
				var a *gogatt.ATTError
				return errors.As(err, &a) && a.Code == att.ErrReadNotPermitted
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env, log := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
				d := env.connect(t, tc.addr, gogatt.ConnectOptions{})
				before := len(log.commands())
				var v []byte
				var err error
				if tc.long {
					v, err = d.CharReadLong(context.Background(), tc.uuid)
				} else {
					v, err = d.CharRead(context.Background(), tc.uuid)
				}
				cmds := log.commands()[before:]
				if tc.wantErr != nil {
					if !tc.wantErr(err) {
						t.Fatalf("err = %v", err)
					}
				} else if err != nil || !slices.Equal(v, tc.want) {
					t.Fatalf("read = % x, %v; want % x", v, err, tc.want)
				}
				got := cmds
				if tc.prefix && len(got) > len(tc.cmds) {
					got = got[:len(tc.cmds)]
				}
				if !slices.Equal(got, tc.cmds) {
					t.Fatalf("commands after connect = %v; want %v (prefix: %v)", cmds, tc.cmds, tc.prefix)
				}
			})
		})
	}
}

// A subscription by UUID on a fresh connection discovers only what locates the characteristic
// and its CCCD: the services and the declarations (one procedure each, whatever the number of
// services), then the descriptors of that one characteristic — plus, as after any first
// discovery, the Service Changed characteristic's descriptors and the write that enables its
// indications. A later full discovery reuses all of it. The counts are BGAPI procedures.
func TestSubscribeDiscoversOnlyWhatItNeeds(t *testing.T) {
	var (
		groups = ident(wire.CmdAttclientReadByGroupType{})
		types  = ident(wire.CmdAttclientReadByType{})
		info   = ident(wire.CmdAttclientFindInformation{})
		write  = ident(wire.CmdAttclientAttributeWrite{})
	)
	count := func(cmds [][2]uint8, id [2]uint8) int {
		n := 0
		for _, c := range cmds {
			if c == id {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		addr string
		uuid gogatt.UUID
	}{
		{hrmAddr, gogatt.UUID16(0x2A37)},
		{tortureAddr, sim.TortureStream},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				env, log := startPipeEmu(t, bled112.Config{}, Config{NoReset: true})
				p := env.periphs[tc.addr]
				_, hasSC := p.CharacteristicIn(gogatt.UUID16(0x1801), gogatt.UUID16(0x2A05))
				d := env.connect(t, tc.addr, gogatt.ConnectOptions{})
				before := len(log.commands())
				if err := d.Subscribe(context.Background(), tc.uuid, func(uint16, []byte) {}, gogatt.SubscribeOptions{}); err != nil {
					t.Fatal(err)
				}
				cmds := log.commands()[before:]
				sc := 0
				if hasSC {
					sc = 1
				}
				if g, ty, fi, w := count(cmds, groups), count(cmds, types), count(cmds, info), count(cmds, write); g != 1 || ty != 1 || fi != 1+sc || w != 1+sc || len(cmds) != 2+2*(1+sc) {
					t.Fatalf("subscribe put %v on the wire: %d read_by_group_type, %d read_by_type, %d find_information, %d attribute_write", cmds, g, ty, fi, w)
				}
				// The full tree afterwards: only the descriptors not yet known.
				before = len(log.commands())
				svcs, err := d.Services(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				cmds = log.commands()[before:]
				if count(cmds, groups) != 0 || count(cmds, types) != 0 {
					t.Fatalf("Services rediscovered what the subscription learnt: %v", cmds)
				}
				ch, err := gogatt.LookupCharacteristic(svcs, tc.uuid)
				if cccd, ok := ch.CCCD(); err != nil || !ok || cccd == 0 {
					t.Fatalf("tree lost the CCCD: %+v, %v", ch, err)
				}
			})
		})
	}
}
