// Package wire is a pure codec for the Bluegiga / Silicon Labs BGAPI 1.x binary protocol (BLE
// SDK 1.x, as spoken by the BLED112 USB dongle and BLE112/BLE113/BLE121LR modules). It performs
// no I/O beyond reading the io.Reader given to a Decoder and never looks at the clock.
//
// The layouts are those of the BLE SDK 1.x API reference (Bluegiga / Silicon Labs, "Bluetooth
// Smart Software API Reference": §4.1 framing, §4.4 data types, §5 messages, enumerations and
// error codes); docs/bgapi-protocol.md in this repository summarises them with their sources.
//
// # Frames
//
// A frame is a 4-byte Header (message type, technology, 11-bit payload length, class, ID) followed
// by the payload. Frame is the untyped form; AppendFrame encodes it. Decoder (pull, over an
// io.Reader) and Parser (push, fed with byte slices) split a byte stream into frames and
// resynchronise after garbage, since the protocol has neither delimiter nor checksum
// (docs/bgapi-protocol.md §Resynchronisation): a start byte must be 0x00 or 0x80, (type, class, ID)
// must name a known message whose fixed size and array length prefix agree with the header; on any
// failure exactly one byte is dropped and the stream is rescanned. A Frame's Payload aliases the
// decoder's buffer and is valid only until the next call to Next (or Feed).
//
// Commands and responses share their header layout (type 0); the direction tells them apart,
// so a decoder is configured for one direction: FromDevice (responses and events — what a host
// reads) or FromHost (commands — what an emulated dongle reads).
//
// # Typed messages
//
// Every command (Cmd…), response (Rsp…) and event (Evt…) of BGAPI 1.x is a Go struct named
// after the BGAPI name in CamelCase: attclient_read_by_handle is CmdAttclientReadByHandle
// and RspAttclientReadByHandle, attclient_attribute_value is EvtAttclientAttributeValue,
// gap_scan_response is EvtGapScanResponse. Each has Class, ID, Kind, Name, PayloadLen,
// AppendPayload, AppendFrame, MarshalBinary, UnmarshalPayload (zero-copy: array fields alias
// the payload) and UnmarshalBinary (copies). DecodeCommand, DecodeResponse and DecodeEvent turn
// a Frame into a freshly allocated message whose arrays do not alias the Frame; Events decodes
// event frames in place, without allocating, for a reader on a hot path.
//
// Addresses are bt.Address in printed order; the codec reverses them to wire order
// (least-significant byte first). Result is the u16 error code of the API reference's §5.11,
// with names and error spaces.
//
// Example, host side:
//
//	buf := wire.CmdAttclientReadByHandle{Connection: 0, Handle: 0x0003}.AppendFrame(nil)
//	port.Write(buf)
//	d := wire.NewDecoder(port)
//	var evs wire.Events
//	for {
//		f, err := d.Next()
//		if err != nil { ... }
//		if !f.Event { ... a response ... }
//		m, err := evs.Decode(f)
//		switch e := m.(type) {
//		case *wire.EvtAttclientAttributeValue:
//			... e.Value valid until d.Next ...
//		}
//	}
package wire

//go:generate go run ./internal/gen

import (
	"errors"
	"fmt"
)

// MsgType is bit 7 of header byte 0: 0x00 for commands and responses,
// 0x80 for events.
type MsgType uint8

const (
	// MsgCommand marks a command (host→device) or a response (device→host).
	MsgCommand MsgType = 0x00
	// MsgEvent marks an event (device→host).
	MsgEvent MsgType = 0x80
)

// Technology types of header byte 0 bits 6..3.
const (
	TechBLE  uint8 = 0 // Bluetooth Smart; the only value a BLED112 uses
	TechWiFi uint8 = 1 // WF121, never seen from a BLED112
)

// Frame size limits (BLE SDK 1.x API reference §4.1).
const (
	HeaderLen = 4
	// MaxPayload is the largest payload the 11-bit length field can express.
	MaxPayload = 2047
	// SafeCommandPayload is the largest payload the BLE112-family firmware accepts: packets
	// are at most 64 bytes, header included (BLE SDK 1.x API reference §4.1).
	SafeCommandPayload = 60
	// NumClasses is the number of BGAPI 1.x classes (0 system … 9 dfu).
	NumClasses = 10
)

// Class IDs (BLE SDK 1.x API reference §4.1.2; 8 testing and 9 DFU from §5.9, §5.10).
const (
	ClassSystem     uint8 = 0
	ClassFlash      uint8 = 1
	ClassAttributes uint8 = 2
	ClassConnection uint8 = 3
	ClassAttclient  uint8 = 4
	ClassSM         uint8 = 5
	ClassGAP        uint8 = 6
	ClassHardware   uint8 = 7
	ClassTest       uint8 = 8
	ClassDFU        uint8 = 9
)

// Header is the 4-byte BGAPI header (BLE SDK 1.x API reference §4.1).
type Header struct {
	Type   MsgType
	Tech   uint8 // technology type, 0 = BLE
	Length int   // payload length, 0..2047
	Class  uint8
	ID     uint8
}

// Append appends the encoded header to dst. Length is masked to 11 bits.
func (h Header) Append(dst []byte) []byte {
	return append(dst,
		byte(h.Type&0x80)|(h.Tech&0x0F)<<3|byte(h.Length>>8)&0x07,
		byte(h.Length), h.Class, h.ID)
}

// ParseHeader decodes the first 4 bytes of b. It checks nothing but the size.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("wire: header needs 4 bytes, have %d: %w", len(b), ErrShort)
	}
	return Header{
		Type:   MsgType(b[0] & 0x80),
		Tech:   (b[0] >> 3) & 0x0F,
		Length: int(b[0]&0x07)<<8 | int(b[1]),
		Class:  b[2],
		ID:     b[3],
	}, nil
}

// Frame is one BGAPI message in untyped form. Event distinguishes events (type 0x80) from
// commands/responses (type 0x00). Payload returned by a Decoder is valid until its next Next.
type Frame struct {
	Event     bool
	Class, ID uint8
	Payload   []byte
}

// AppendFrame appends the encoded frame (BLE technology type) to dst. A payload longer than
// MaxPayload is truncated; Encode and MarshalBinary report that as an error instead.
func AppendFrame(dst []byte, f Frame) []byte {
	p := f.Payload
	if len(p) > MaxPayload {
		p = p[:MaxPayload]
	}
	t := MsgCommand
	if f.Event {
		t = MsgEvent
	}
	dst = Header{Type: t, Length: len(p), Class: f.Class, ID: f.ID}.Append(dst)
	return append(dst, p...)
}

// Kind says which of the three message families a message belongs to.
type Kind uint8

const (
	// KindCommand is a host→device command.
	KindCommand Kind = iota
	// KindResponse is the device's answer to a command (same class and ID).
	KindResponse
	// KindEvent is an unsolicited device→host message.
	KindEvent
)

// String returns "command", "response" or "event".
func (k Kind) String() string {
	switch k {
	case KindCommand:
		return "command"
	case KindResponse:
		return "response"
	case KindEvent:
		return "event"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Message is any typed BGAPI message: a Cmd…, Rsp… or Evt… struct or a pointer to one
// (decoders return pointers, which also have UnmarshalPayload).
type Message interface {
	Class() uint8
	ID() uint8
	Kind() Kind
	// Name is the BGAPI name, e.g. "attclient_read_by_handle".
	Name() string
	PayloadLen() int
	AppendPayload(dst []byte) []byte
	AppendFrame(dst []byte) []byte
	validate() error
}

// Command is a typed host→device command (a Cmd… struct).
type Command interface {
	Message
	isCommand()
}

// Errors returned by the codec; wrapped with the message name where known.
var (
	// ErrShort reports a buffer shorter than a header.
	ErrShort = errors.New("wire: short buffer")
	// ErrUnknownMessage reports a (kind, class, ID) triple the BGAPI 1.x definition lacks.
	ErrUnknownMessage = errors.New("wire: unknown message")
	// ErrLength reports a payload whose length disagrees with the message layout or whose
	// uint8array length prefix is wrong.
	ErrLength = errors.New("wire: bad payload length")
	// ErrHeader reports a header that does not match the message being decoded.
	ErrHeader = errors.New("wire: header mismatch")
	// ErrTooLong reports an array over 255 bytes or a payload over MaxPayload.
	ErrTooLong = errors.New("wire: field too long")
)

func lengthError(name string, k Kind, n int) error {
	return fmt.Errorf("wire: %s %s: payload of %d bytes: %w", name, k, n, ErrLength)
}

// checkFrame validates a complete frame's header for (k, class, id) and returns its payload.
func checkFrame(frame []byte, k Kind, class, id uint8) ([]byte, error) {
	h, err := ParseHeader(frame)
	if err != nil {
		return nil, err
	}
	wantEvent := k == KindEvent
	if (h.Type == MsgEvent) != wantEvent || h.Tech != TechBLE || h.Class != class || h.ID != id {
		return nil, fmt.Errorf("wire: frame %02X %02X %02X %02X is not %s (%d,%d): %w",
			frame[0], frame[1], frame[2], frame[3], k, class, id, ErrHeader)
	}
	if len(frame) != HeaderLen+h.Length {
		return nil, fmt.Errorf("wire: frame of %d bytes, header says %d: %w", len(frame), HeaderLen+h.Length, ErrLength)
	}
	return frame[HeaderLen:], nil
}

// Encode appends m's complete frame to dst, failing (and appending nothing) if an array field
// exceeds 255 bytes.
func Encode(dst []byte, m Message) ([]byte, error) {
	if err := m.validate(); err != nil {
		return dst, err
	}
	return m.AppendFrame(dst), nil
}

// MessageInfo describes a message layout from the BGAPI 1.x definition.
type MessageInfo struct {
	Name string // BGAPI name, e.g. "gap_scan_response"
	// FixedLen is the size of the fixed part; with HasArray the payload is FixedLen + 1 + n.
	FixedLen int
	HasArray bool
	// NoResponse is set for commands the device never answers (system_reset, dfu_reset).
	NoResponse bool
	// EchoesConnection is set for commands, and their responses, whose response starts with the
	// connection handle that is the command's first parameter: every connection and attclient
	// command but connection_slave_latency_disable and attclient_indicate_confirm, and
	// sm_encrypt_start (BLE SDK 1.x API reference §5.1, §5.3 and §5.7 response tables). A reader
	// can tell such a response from garbage framed alike by that byte.
	EchoesConnection bool
}

type msgInfo struct {
	name       string
	fixed      int
	array      bool
	noResponse bool
	// echoesConnection: see MessageInfo.EchoesConnection.
	echoesConnection bool
	new              func() Message
}

func table(k Kind) *[NumClasses][]msgInfo {
	switch k {
	case KindCommand:
		return &cmdTable
	case KindResponse:
		return &rspTable
	}
	return &evtTable
}

func lookup(k Kind, class, id uint8) *msgInfo {
	if class >= NumClasses || k > KindEvent {
		return nil
	}
	row := table(k)[class]
	if int(id) >= len(row) || row[id].new == nil {
		return nil
	}
	return &row[id]
}

// Lookup returns the layout of message (k, class, id), or false if BGAPI 1.x has none.
func Lookup(k Kind, class, id uint8) (MessageInfo, bool) {
	mi := lookup(k, class, id)
	if mi == nil {
		return MessageInfo{}, false
	}
	return MessageInfo{Name: mi.name, FixedLen: mi.fixed, HasArray: mi.array, NoResponse: mi.noResponse, EchoesConnection: mi.echoesConnection}, true
}

// New returns a pointer to a zero message of (k, class, id), or nil if unknown.
func New(k Kind, class, id uint8) Message {
	mi := lookup(k, class, id)
	if mi == nil {
		return nil
	}
	return mi.new()
}

// plausible reports whether a payload of n bytes (first array-prefix byte at p[fixed] if
// available) fits the message layout.
func (mi *msgInfo) lengthOK(n int) bool {
	if mi.array {
		return n >= mi.fixed+1 && n <= mi.fixed+1+255
	}
	return n == mi.fixed
}

func decode(k Kind, f Frame) (Message, error) {
	if f.Event != (k == KindEvent) {
		return nil, fmt.Errorf("wire: frame (event=%v) decoded as %s: %w", f.Event, k, ErrHeader)
	}
	mi := lookup(k, f.Class, f.ID)
	if mi == nil {
		return nil, fmt.Errorf("wire: %s class %d ID %d: %w", k, f.Class, f.ID, ErrUnknownMessage)
	}
	m := mi.new()
	p := f.Payload
	if mi.array {
		p = append([]byte(nil), p...)
	}
	if err := m.(interface{ UnmarshalPayload([]byte) error }).UnmarshalPayload(p); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeCommand decodes a command frame into a new Cmd… value (arrays copied).
func DecodeCommand(f Frame) (Command, error) {
	m, err := decode(KindCommand, f)
	if err != nil {
		return nil, err
	}
	return m.(Command), nil
}

// DecodeResponse decodes a response frame into a new Rsp… value (arrays copied).
func DecodeResponse(f Frame) (Message, error) { return decode(KindResponse, f) }

// DecodeEvent decodes an event frame into a new Evt… value (arrays copied).
func DecodeEvent(f Frame) (Message, error) { return decode(KindEvent, f) }
