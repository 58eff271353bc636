package bgapi

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/gogatt/gogatt/bgapi/wire"
)

// fakeDongle is a tiny scripted BGAPI device over an in-process pipe, for client tests that
// need exact control of timing and faults (virtual time with testing/synctest, where a real
// pty cannot take part). The emulator (sim/bled112) is used for everything else.
type fakeDongle struct {
	dev io.ReadWriteCloser
	wmu sync.Mutex

	mu       sync.Mutex
	values   map[uint16][]byte
	conns    map[uint8]bool
	silent   map[[2]uint8]bool // commands answered with nothing at all
	hold     map[[2]uint8]bool // commands answered, but their procedure never ends
	cmds     [][2]uint8
	onCmd    func(f *fakeDongle, cmd wire.Frame) bool // handled → true
	nextConn uint8
	maxconn  int
	connect  bool // connect_direct succeeds (connection_status follows)
}

// pipePort adapts the host end of the pipe to serialPort.
type pipePort struct{ net.Conn }

func (pipePort) ResetInputBuffer() error { return nil }

func newFake(t testing.TB) (*fakeDongle, serialPort) {
	host, dev := net.Pipe()
	f := newFakeOn(dev)
	go f.serve()
	t.Cleanup(func() { dev.Close() })
	return f, pipePort{host}
}

// newFakeOn returns a fake dongle over dev (not yet serving).
func newFakeOn(dev io.ReadWriteCloser) *fakeDongle {
	return &fakeDongle{dev: dev, values: map[uint16][]byte{}, conns: map[uint8]bool{}, silent: map[[2]uint8]bool{}, hold: map[[2]uint8]bool{}, maxconn: 3, connect: true}
}

func (f *fakeDongle) serve() {
	dec := wire.NewDecoderConfig(f.dev, wire.DecoderConfig{Direction: wire.FromHost})
	for {
		fr, err := dec.Next()
		if err != nil {
			return
		}
		fr.Payload = append([]byte(nil), fr.Payload...)
		f.mu.Lock()
		f.cmds = append(f.cmds, [2]uint8{fr.Class, fr.ID})
		on := f.onCmd
		silent := f.silent[[2]uint8{fr.Class, fr.ID}]
		f.mu.Unlock()
		if silent {
			continue
		}
		if on != nil && on(f, fr) {
			continue
		}
		f.handle(fr)
	}
}

func (f *fakeDongle) send(event bool, class, id uint8, payload []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_, err := f.dev.Write(wire.AppendFrame(nil, wire.Frame{Event: event, Class: class, ID: id, Payload: payload}))
	return err
}

func (f *fakeDongle) raw(b []byte) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.dev.Write(b)
}

func (f *fakeDongle) rsp(cmd wire.Frame, payload ...byte)  { f.send(false, cmd.Class, cmd.ID, payload) }
func (f *fakeDongle) evt(class, id uint8, payload ...byte) { f.send(true, class, id, payload) }

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func (f *fakeDongle) commands() [][2]uint8 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][2]uint8(nil), f.cmds...)
}

func (f *fakeDongle) handle(cmd wire.Frame) {
	p := cmd.Payload
	key := [2]uint8{cmd.Class, cmd.ID}
	f.mu.Lock()
	hold := f.hold[key]
	f.mu.Unlock()
	switch key {
	case [2]uint8{0, 1}, [2]uint8{5, 1}, [2]uint8{5, 3}: // hello, set_bondable, sm_set_parameters
		f.rsp(cmd)
	case [2]uint8{0, 6}:
		f.rsp(cmd, uint8(f.maxconn))
	case [2]uint8{3, 0}: // disconnect
		f.mu.Lock()
		up := f.conns[p[0]]
		delete(f.conns, p[0])
		f.mu.Unlock()
		if !up {
			f.rsp(cmd, cat([]byte{p[0]}, le16(0x0186))...)
			return
		}
		f.rsp(cmd, p[0], 0, 0)
		f.evt(3, 4, cat([]byte{p[0]}, le16(0x0216))...)
	case [2]uint8{3, 1}: // get_rssi
		f.rsp(cmd, p[0], 0xC4)
	case [2]uint8{6, 1}, [2]uint8{6, 7}, [2]uint8{6, 2}, [2]uint8{5, 2}: // set_mode, scan params, discover, delete_bonding
		f.rsp(cmd, 0, 0)
	case [2]uint8{6, 4}: // end_procedure
		f.rsp(cmd, le16(0x0181)...)
	case [2]uint8{6, 3}: // connect_direct
		f.mu.Lock()
		if len(f.conns) >= f.maxconn {
			f.mu.Unlock()
			f.rsp(cmd, cat(le16(0x0209), []byte{0})...)
			return
		}
		h := f.nextConn
		f.nextConn++
		ok := f.connect
		if ok {
			f.conns[h] = true
		}
		f.mu.Unlock()
		f.rsp(cmd, 0, 0, h)
		if ok {
			f.evt(3, 0, cat([]byte{h, 0x05}, p[:7], le16(60), le16(100), le16(0), []byte{0xFF})...)
		}
	case [2]uint8{4, 4}: // read_by_handle
		h := binary.LittleEndian.Uint16(p[1:])
		f.rsp(cmd, p[0], 0, 0)
		if hold {
			return
		}
		f.mu.Lock()
		v, ok := f.values[h]
		f.mu.Unlock()
		if !ok {
			f.evt(4, 1, cat([]byte{p[0]}, le16(0x0401), le16(h))...)
			return
		}
		f.evt(4, 5, cat([]byte{p[0]}, le16(h), []byte{0, byte(len(v))}, v)...)
	case [2]uint8{4, 5}: // attribute_write
		h := binary.LittleEndian.Uint16(p[1:])
		f.rsp(cmd, p[0], 0, 0)
		if hold {
			return
		}
		f.mu.Lock()
		f.values[h] = append([]byte(nil), p[4:]...)
		f.mu.Unlock()
		f.evt(4, 1, cat([]byte{p[0]}, le16(0), le16(h))...)
	case [2]uint8{4, 6}: // write_command
		f.rsp(cmd, p[0], 0, 0)
	default:
		f.rsp(cmd, 0x83, 0x01) // not_implemented (only meaningful for result-first responses)
	}
}

var _ io.ReadWriteCloser = pipePort{}
