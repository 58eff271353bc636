package simhci

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeController is a controller of the tests: it answers every command with success (or
// Unknown HCI Command for the opcodes in unknown), has 2 LE ACL buffers of 27 bytes, returns a
// buffer (Number Of Completed Packets) for each ACL packet and reports what the host sent.
type fakeController struct {
	t       *testing.T
	c       net.Conn
	wmu     sync.Mutex
	unknown []uint16
	cmds    chan []byte // each command: opcode (2 bytes LE) and parameters
	acl     chan []byte // each ACL packet's payload
	done    chan struct{}
}

func newFake(t *testing.T, unknown ...uint16) (*fakeController, net.Conn) {
	a, b := net.Pipe()
	f := &fakeController{t: t, c: a, unknown: unknown, cmds: make(chan []byte, 256), acl: make(chan []byte, 256), done: make(chan struct{})}
	go f.run()
	t.Cleanup(func() { a.Close(); <-f.done })
	return f, b
}

func (f *fakeController) write(b []byte) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.c.Write(b)
}

func (f *fakeController) event(code byte, params ...byte) {
	f.write(append([]byte{pktEvent, code, byte(len(params))}, params...))
}

func (f *fakeController) run() {
	defer close(f.done)
	r := bufio.NewReader(f.c)
	for {
		pk, err := readPacket(r)
		if err != nil {
			return
		}
		switch pk.kind {
		case pktCommand:
			op := binary.LittleEndian.Uint16(pk.data)
			f.cmds <- append(pk.data[:2:2], pk.data[3:]...)
			switch {
			case slices.Contains(f.unknown, op):
				f.event(evCmdComplete, 1, byte(op), byte(op>>8), statusUnknownCommand)
			case op == opDisconnect:
				f.event(evCmdStatus, 0, 1, byte(op), byte(op>>8))
				f.event(evDisconnComplete, 0, pk.data[3], pk.data[4], pk.data[5])
			case op == opLEReadBufferSize:
				f.event(evCmdComplete, 1, byte(op), byte(op>>8), 0, 27, 0, 2)
			default:
				f.event(evCmdComplete, 1, byte(op), byte(op>>8), 0)
			}
		case pktACL:
			handle, _, payload, err := aclHeader(pk.data)
			if err != nil {
				f.t.Errorf("fake controller: %v", err)
				return
			}
			f.acl <- append([]byte(nil), payload...)
			f.event(evNumCompleted, 1, byte(handle), byte(handle>>8), 1, 0)
		}
	}
}

// waitCmd returns the parameters of the next command with opcode op, skipping others.
func (f *fakeController) waitCmd(op uint16) []byte {
	f.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-f.cmds:
			if binary.LittleEndian.Uint16(c) == op {
				return c[2:]
			}
		case <-timeout:
			f.t.Fatalf("no command 0x%04x", op)
		}
	}
}

// frame reassembles the next L2CAP frame the host sent.
func (f *fakeController) frame() frame {
	f.t.Helper()
	var r reassembler
	first := true
	for {
		select {
		case p := <-f.acl:
			if len(p) > 27 {
				f.t.Errorf("ACL packet of %d bytes, buffer size 27", len(p))
			}
			fr, err := r.add(first, p)
			first = false
			if err != nil {
				f.t.Fatal(err)
			}
			if len(fr) == 1 {
				return frame{fr[0].cid, append([]byte(nil), fr[0].payload...)}
			}
		case <-time.After(10 * time.Second):
			f.t.Fatal("no L2CAP frame")
		}
	}
}

// connect reports an LE Enhanced Connection Complete from central at handle.
func (f *fakeController) connect(handle uint16, central bt.Address) {
	a := central.LE()
	p := []byte{leEnhConnComplete, 0, byte(handle), byte(handle >> 8), 1, 0}
	p = append(p, a[:]...)
	p = append(p, make([]byte, 12+7)...)
	f.event(evLEMeta, p...)
}

// send sends an L2CAP frame to the host in ACL packets of at most 10 bytes.
func (f *fakeController) send(handle uint16, cid uint16, payload []byte) {
	for i, frag := range fragments(l2capFrame(cid, payload), 10) {
		h := handle
		if i > 0 {
			h |= 1 << 12
		} else {
			h |= 2 << 12
		}
		f.write(append([]byte{pktACL, byte(h), byte(h >> 8), byte(len(frag)), 0}, frag...))
	}
}

func serve(t *testing.T, f *fakeController, c net.Conn, p *sim.Peripheral) *Host {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := Serve(ctx, c, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestHostAdvertisesAndServes runs the host against the fake controller: advertising set up
// with the extended commands (or the legacy ones where the controller does not know them),
// ATT requests relayed to the peripheral across fragmented ACL packets, its responses sent in
// fragments no larger than the controller's buffers, SMP and signalling answered, advertising
// again after the disconnection.
func TestHostAdvertisesAndServes(t *testing.T) {
	for _, tc := range []struct {
		name             string
		unknown          []uint16
		enable, adv, rsp uint16
	}{
		{"extended", nil, opLESetExtAdvEn, opLESetExtAdvData, opLESetExtScanRsp},
		{"legacy", []uint16{opLESetExtAdvParam}, opLESetAdvEnable, opLESetAdvData, opLESetScanRsp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := sim.DemoPeripherals(1)[0]
			f, c := newFake(t, tc.unknown...)
			serve(t, f, c, p)
			a := p.Address().LE()
			if got := f.waitCmd(opLESetRandomAddr); !bytes.Equal(got, a[:]) {
				t.Errorf("random address %x, want %x", got, a)
			}
			adv := f.waitCmd(tc.adv)
			if !bytes.Contains(adv, p.AdvertisingData()) {
				t.Errorf("advertising data %x does not hold %x", adv, p.AdvertisingData())
			}
			if rsp := f.waitCmd(tc.rsp); !bytes.Contains(rsp, p.ScanResponseData()) {
				t.Errorf("scan response %x does not hold %x", rsp, p.ScanResponseData())
			}
			if en := f.waitCmd(tc.enable); en[0] != 1 {
				t.Fatalf("advertising enable %x", en)
			}

			central := bt.Address{0x00, 0xAA, 0x01, 0x00, 0x00, 0x00}
			f.connect(0x0040, central)
			vh := p.ValueHandle(gatt.UUIDManufacturerName)
			f.send(0x0040, cidATT, []byte{0x02, 0x00, 0x02})                // Exchange MTU 512
			if fr := f.frame(); fr.cid != cidATT || fr.payload[0] != 0x03 { // Exchange MTU Response
				t.Fatalf("MTU exchange answered %x", fr.payload)
			}
			f.send(0x0040, cidATT, []byte{0x0a, byte(vh), byte(vh >> 8)}) // Read Request
			want := append([]byte{0x0b}, p.Value(vh)...)
			if fr := f.frame(); fr.cid != cidATT || !bytes.Equal(fr.payload, want) {
				t.Fatalf("read answered %x on channel %d, want %x", fr.payload, fr.cid, want)
			}
			f.send(0x0040, cidSMP, []byte{0x01, 0x03, 0x00, 0x01, 0x10, 0x07, 0x07}) // Pairing Request
			if fr := f.frame(); fr.cid != cidSMP || !bytes.Equal(fr.payload, []byte{0x02, 0x03, 0x00, 0x01, 0x10, 0x00, 0x01}) {
				t.Fatalf("pairing answered %x on channel %d", fr.payload, fr.cid)
			}
			f.send(0x0040, cidSig, []byte{0x14, 0x07, 0x02, 0x00, 0x27, 0x00}) // an unknown request
			if fr := f.frame(); fr.cid != cidSig || !bytes.Equal(fr.payload, []byte{0x01, 0x07, 2, 0, 0, 0}) {
				t.Fatalf("signalling answered %x on channel %d", fr.payload, fr.cid)
			}
			if p.ConnectionCount() != 1 {
				t.Fatalf("%d links", p.ConnectionCount())
			}

			f.event(evDisconnComplete, 0, 0x40, 0x00, 0x13)
			if en := f.waitCmd(tc.enable); en[0] != 1 {
				t.Fatalf("advertising enable after the disconnection %x", en)
			}
			if p.ConnectionCount() != 0 {
				t.Fatalf("%d links after the disconnection", p.ConnectionCount())
			}
		})
	}
}

// TestHostLinkEndsOnPeripheralSide checks that a link the peripheral loses (out of range)
// is disconnected with reason 0x13 and that advertising stays off until it is in range again.
func TestHostLinkEndsOnPeripheralSide(t *testing.T) {
	p := sim.DemoPeripherals(1)[1]
	f, c := newFake(t)
	h := serve(t, f, c, p)
	f.waitCmd(opLESetExtAdvEn)
	f.connect(0x0041, bt.Address{0x00, 0xAA, 0x01, 0x00, 0x00, 0x00})
	f.send(0x0041, cidATT, []byte{0x02, 0x17, 0x00})
	f.frame()
	ctx := context.Background()
	if err := h.SetInRange(ctx, false); err != nil {
		t.Fatal(err)
	}
	if en := f.waitCmd(opLESetExtAdvEn); en[0] != 0 {
		t.Fatalf("advertising enable %x out of range", en)
	}
	p.SetInRange(false)
	if d := f.waitCmd(opDisconnect); !bytes.Equal(d, []byte{0x41, 0x00, 0x13}) {
		t.Fatalf("Disconnect %x", d)
	}
	p.SetInRange(true)
	if err := h.SetInRange(ctx, true); err != nil {
		t.Fatal(err)
	}
	if en := f.waitCmd(opLESetExtAdvEn); en[0] != 1 {
		t.Fatalf("advertising enable %x after coming back into range", en)
	}
}

// TestServeRejectsPublicAddress: a host cannot give its controller a public address.
func TestServeRejectsPublicAddress(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	p := sim.NewBuilder(bt.Address{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}).MustBuild()
	if _, err := Serve(context.Background(), b, p, nil); err == nil {
		t.Fatal("Serve of a public address succeeded")
	}
}
