// Package simhci serves a simulated peripheral of package sim through an HCI controller: a
// minimal LE peripheral host (advertising, one connection at a time, ATT relayed over L2CAP)
// speaking HCI over an H:4 byte stream, such as a client socket of BlueZ's btvirt -s
// (/tmp/bt-server-le, BlueZ 5.66 emulator/server.c). The real-kernel tier uses it to put the
// peripherals of sim.DemoPeripherals on the same emulated radio as the controllers the kernel
// and bluetoothd manage, so that the contract suite runs against a real stack.
package simhci

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// H:4 packet indicators (Core v5.3 Vol 4 Part A §2).
const (
	pktCommand = 0x01
	pktACL     = 0x02
	pktSCO     = 0x03
	pktEvent   = 0x04
	pktISO     = 0x05
)

// errMalformed wraps every decoding failure.
var errMalformed = errors.New("simhci: malformed packet")

// packet is one H:4 packet: its indicator and the HCI packet that follows it (header included).
type packet struct {
	kind byte
	data []byte
}

// readPacket reads one H:4 packet. Unknown indicators fail: the stream cannot be resynchronised.
func readPacket(r *bufio.Reader) (packet, error) {
	kind, err := r.ReadByte()
	if err != nil {
		return packet{}, err
	}
	var hdr int
	switch kind {
	case pktEvent:
		hdr = 2
	case pktACL, pktISO:
		hdr = 4
	case pktSCO:
		hdr = 3
	case pktCommand:
		hdr = 3
	default:
		return packet{}, fmt.Errorf("%w: H:4 indicator 0x%02x", errMalformed, kind)
	}
	b := make([]byte, hdr, hdr+64)
	if _, err := io.ReadFull(r, b); err != nil {
		return packet{}, noEOF(err)
	}
	var n int
	switch kind {
	case pktEvent:
		n = int(b[1])
	case pktACL:
		n = int(binary.LittleEndian.Uint16(b[2:]))
	case pktISO:
		n = int(binary.LittleEndian.Uint16(b[2:]) & 0x3fff)
	default:
		n = int(b[2])
	}
	b = append(b, make([]byte, n)...)
	if _, err := io.ReadFull(r, b[hdr:]); err != nil {
		return packet{}, noEOF(err)
	}
	return packet{kind, b}, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// command encodes an HCI command packet with its H:4 indicator (Core v5.3 Vol 4 Part E §5.4.1).
func command(op uint16, params ...byte) []byte {
	b := []byte{pktCommand, byte(op), byte(op >> 8), byte(len(params))}
	return append(b, params...)
}

// acl encodes one ACL data packet with its H:4 indicator (Core v5.3 Vol 4 Part E §5.4.2);
// first selects the packet boundary flag "first non-automatically-flushable" (0b00) rather
// than "continuing fragment" (0b01).
func acl(handle uint16, first bool, data []byte) []byte {
	h := handle & 0x0fff
	if !first {
		h |= 1 << 12
	}
	b := []byte{pktACL, byte(h), byte(h >> 8), byte(len(data)), byte(len(data) >> 8)}
	return append(b, data...)
}

// aclHeader decodes an ACL data packet (without indicator): handle, whether it starts an
// L2CAP frame, and its payload.
func aclHeader(b []byte) (handle uint16, start bool, payload []byte, err error) {
	if len(b) < 4 {
		return 0, false, nil, fmt.Errorf("%w: ACL header of %d bytes", errMalformed, len(b))
	}
	hf := binary.LittleEndian.Uint16(b)
	n := int(binary.LittleEndian.Uint16(b[2:]))
	if len(b)-4 != n {
		return 0, false, nil, fmt.Errorf("%w: ACL length %d, %d bytes follow", errMalformed, n, len(b)-4)
	}
	return hf & 0x0fff, (hf>>12)&3 != 1, b[4:], nil
}

// l2capFrame encodes a basic L2CAP frame (Core v5.3 Vol 3 Part A §3.1).
func l2capFrame(cid uint16, payload []byte) []byte {
	b := binary.LittleEndian.AppendUint16(make([]byte, 0, 4+len(payload)), uint16(len(payload)))
	b = binary.LittleEndian.AppendUint16(b, cid)
	return append(b, payload...)
}

// reassembler collects the ACL fragments of one connection into L2CAP frames.
type reassembler struct {
	buf []byte
}

// add takes one ACL payload; it returns the channel and payload of each complete frame.
// A start fragment discards an incomplete frame; a continuation without a start is dropped.
func (r *reassembler) add(start bool, frag []byte) (frames []frame, err error) {
	if start {
		r.buf = append(r.buf[:0:0], frag...)
	} else {
		if r.buf == nil {
			return nil, fmt.Errorf("%w: continuation fragment without a start", errMalformed)
		}
		r.buf = append(r.buf, frag...)
	}
	if len(r.buf) < 4 {
		return nil, nil
	}
	n := int(binary.LittleEndian.Uint16(r.buf))
	if len(r.buf) < 4+n {
		return nil, nil
	}
	frames = append(frames, frame{cid: binary.LittleEndian.Uint16(r.buf[2:]), payload: r.buf[4 : 4+n]})
	if len(r.buf) > 4+n {
		err = fmt.Errorf("%w: %d bytes after an L2CAP frame", errMalformed, len(r.buf)-4-n)
	}
	r.buf = nil
	return frames, err
}

// frame is one L2CAP basic frame.
type frame struct {
	cid     uint16
	payload []byte
}

// fragments splits an L2CAP frame into ACL payloads of at most mtu bytes.
func fragments(f []byte, mtu int) [][]byte {
	var out [][]byte
	for len(f) > mtu {
		out = append(out, f[:mtu])
		f = f[mtu:]
	}
	return append(out, f)
}
