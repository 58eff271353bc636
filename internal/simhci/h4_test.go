package simhci

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gogatt/gogatt/sim"
)

func TestCodec(t *testing.T) {
	pk, err := readPacket(bufio.NewReader(bytes.NewReader(acl(0x0042, false, []byte{1, 2, 3}))))
	if err != nil || pk.kind != pktACL {
		t.Fatalf("readPacket = %+v, %v", pk, err)
	}
	h, start, payload, err := aclHeader(pk.data)
	if err != nil || h != 0x0042 || start || !bytes.Equal(payload, []byte{1, 2, 3}) {
		t.Fatalf("aclHeader = %#x %v %x %v", h, start, payload, err)
	}
	if _, err := readPacket(bufio.NewReader(bytes.NewReader([]byte{0x09}))); !errors.Is(err, errMalformed) {
		t.Errorf("unknown indicator: %v", err)
	}
	if _, err := readPacket(bufio.NewReader(bytes.NewReader([]byte{pktEvent, 0x0e, 4, 1}))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short event: %v", err)
	}
	var r reassembler
	f := l2capFrame(cidATT, bytes.Repeat([]byte{7}, 60))
	var got []frame
	for i, frag := range fragments(f, 27) {
		fr, err := r.add(i == 0, frag)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fr...)
	}
	if len(got) != 1 || got[0].cid != cidATT || len(got[0].payload) != 60 {
		t.Fatalf("reassembled %+v", got)
	}
	if _, err := r.add(false, []byte{1}); !errors.Is(err, errMalformed) {
		t.Errorf("continuation without a start: %v", err)
	}
}

// FuzzCodec feeds arbitrary controller bytes to the packet reader, the ACL decoder and the
// reassembler, and checks that a reassembled frame re-encodes to the bytes it came from.
func FuzzCodec(f *testing.F) {
	f.Add(acl(0x0040, true, l2capFrame(cidATT, []byte{0x0a, 0x03, 0x00})))
	f.Add([]byte{pktEvent, evCmdComplete, 4, 1, 0x03, 0x0c, 0})
	f.Add(append(acl(1, true, []byte{5, 0, 4, 0, 1}), acl(1, false, []byte{2, 3, 4, 5})...))
	h := &Host{p: sim.DemoPeripherals(1)[0]}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		var ra reassembler
		var acc []byte // the ACL payloads since the last start fragment
		for {
			pk, err := readPacket(r)
			if err != nil {
				return
			}
			if pk.kind != pktACL {
				continue
			}
			_, start, payload, err := aclHeader(pk.data)
			if err != nil {
				continue
			}
			if start {
				acc = acc[:0]
			}
			acc = append(acc, payload...)
			frames, _ := ra.add(start, payload)
			for _, fr := range frames {
				if enc := l2capFrame(fr.cid, fr.payload); !bytes.HasPrefix(acc, enc) {
					t.Fatalf("frame re-encodes to % x, not to the start of its fragments % x", enc, acc)
				}
			}
			_ = signalling(payload)
			var c conn
			_ = h.smp(&c, payload)
		}
	})
}
