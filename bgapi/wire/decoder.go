package wire

import "io"

// Direction selects which messages a Parser or Decoder expects (commands and responses share
// type 0; only the direction tells them apart, BLE SDK 1.x API reference §4.1.1).
type Direction uint8

const (
	// FromDevice decodes what a host reads: responses (type 0x00) and events (0x80).
	FromDevice Direction = iota
	// FromHost decodes what a dongle reads: commands (type 0x00 only).
	FromHost
)

// DecoderConfig configures a Parser or Decoder. The zero value decodes device output strictly.
type DecoderConfig struct {
	Direction Direction
	// Lenient turns off the per-message plausibility checks (docs/bgapi-protocol.md
	// §Resynchronisation, step 2): any header with technology 0, the right type bit for the
	// direction, a class below NumClasses and a payload no longer than MaxPayload is framed, known
	// or not, and array prefixes are not checked. An emulated dongle uses it so that an unknown or
	// malformed command is framed the way firmware frames it and can be answered.
	Lenient bool
	// MaxPayload bounds the payload accepted in lenient mode; 0 means MaxPayload (2047).
	MaxPayload int
}

// Parser is the push form of the frame splitter: Feed it bytes as they arrive, then call Next
// until it reports false. It never allocates once its buffer has grown to the largest
// pending frame. Not safe for concurrent use.
type Parser struct {
	cfg     DecoderConfig
	buf     []byte
	off     int
	skipped uint64
}

// NewParser returns a Parser configured by c.
func NewParser(c DecoderConfig) *Parser {
	if c.MaxPayload <= 0 || c.MaxPayload > MaxPayload {
		c.MaxPayload = MaxPayload
	}
	return &Parser{cfg: c, buf: make([]byte, 0, 4096)}
}

func (p *Parser) compact() {
	if p.off == 0 {
		return
	}
	n := copy(p.buf, p.buf[p.off:])
	p.buf = p.buf[:n]
	p.off = 0
}

// Feed appends b to the parser's input. Frames returned earlier become invalid.
func (p *Parser) Feed(b []byte) {
	p.compact()
	p.buf = append(p.buf, b...)
}

// Buffered returns the number of input bytes not yet consumed (a partial frame or bytes not
// yet scanned).
func (p *Parser) Buffered() int { return len(p.buf) - p.off }

// Skipped returns how many bytes have been dropped while resynchronising.
func (p *Parser) Skipped() uint64 { return p.skipped }

// Reset discards every buffered byte (e.g. the firmware's 1 s partial-command timeout, BLE SDK 1.x
// API reference, system_protocol_error) and returns how many were dropped. They are not counted as
// skipped.
func (p *Parser) Reset() int {
	n := p.Buffered()
	p.buf = p.buf[:0]
	p.off = 0
	return n
}

// Abandon gives up on the partial frame at the head of the buffer after an inter-byte timeout
// (docs/bgapi-protocol.md §Resynchronisation, step 4): it drops its first byte, counted as skipped,
// so that the next call to Next rescans from the following byte. It reports whether a byte was
// dropped.
func (p *Parser) Abandon() bool {
	if p.Buffered() == 0 {
		return false
	}
	p.off++
	p.skipped++
	return true
}

const (
	stOK = iota
	stMore
	stBad
)

// check applies the plausibility checks (docs/bgapi-protocol.md §Resynchronisation) to the
// window w starting at a candidate start byte.
func (p *Parser) check(w []byte) (int, int) {
	b0 := w[0]
	if p.cfg.Lenient {
		if b0&0x78 != 0 || (p.cfg.Direction == FromHost && b0&0x80 != 0) {
			return 0, stBad
		}
	} else if b0 != 0x00 && (b0 != 0x80 || p.cfg.Direction == FromHost) {
		return 0, stBad
	}
	if len(w) < HeaderLen {
		return 0, stMore
	}
	length := int(b0&0x07)<<8 | int(w[1])
	class, id := w[2], w[3]
	if class >= NumClasses {
		return 0, stBad
	}
	var mi *msgInfo
	if p.cfg.Lenient {
		if length > p.cfg.MaxPayload {
			return 0, stBad
		}
	} else {
		k := KindResponse
		switch {
		case p.cfg.Direction == FromHost:
			k = KindCommand
		case b0&0x80 != 0:
			k = KindEvent
		}
		mi = lookup(k, class, id)
		if mi == nil || !mi.lengthOK(length) {
			return 0, stBad
		}
	}
	if len(w) < HeaderLen+length {
		return 0, stMore
	}
	if mi != nil && mi.array && int(w[HeaderLen+mi.fixed]) != length-mi.fixed-1 {
		return 0, stBad
	}
	return HeaderLen + length, stOK
}

// Next returns the next complete frame, or false if more input is needed. The frame's Payload
// aliases the parser's buffer and is valid until the next call to Next, Feed, Reset or
// Abandon.
func (p *Parser) Next() (Frame, bool) {
	for p.off < len(p.buf) {
		w := p.buf[p.off:]
		n, st := p.check(w)
		switch st {
		case stMore:
			return Frame{}, false
		case stBad:
			p.off++
			p.skipped++
			continue
		}
		f := Frame{Event: w[0]&0x80 != 0, Class: w[2], ID: w[3], Payload: w[HeaderLen:n:n]}
		p.off += n
		return f, true
	}
	return Frame{}, false
}

// Decoder reads frames from a byte stream (the pull form of Parser), resynchronising after garbage
// (docs/bgapi-protocol.md §Resynchronisation). It has no inter-byte timeout of its own (the codec
// knows no time): a caller that wants one closes or deadlines the reader, or uses Parser with
// Abandon. Not safe for concurrent use.
type Decoder struct {
	r     io.Reader
	p     *Parser
	err   error
	empty int // consecutive (0, nil) reads
}

// NewDecoder returns a strict decoder of device output (responses and events) reading r.
func NewDecoder(r io.Reader) *Decoder { return NewDecoderConfig(r, DecoderConfig{}) }

// NewDecoderConfig returns a decoder configured by c reading r.
func NewDecoderConfig(r io.Reader, c DecoderConfig) *Decoder {
	return &Decoder{r: r, p: NewParser(c)}
}

// Next returns the next frame. Its Payload is valid until the next call to Next. At the end of
// the stream it returns the reader's error (io.EOF), or io.ErrUnexpectedEOF if a partial frame
// was pending.
func (d *Decoder) Next() (Frame, error) {
	for {
		if f, ok := d.p.Next(); ok {
			return f, nil
		}
		if d.err != nil {
			if d.err == io.EOF && d.p.Buffered() > 0 {
				return Frame{}, io.ErrUnexpectedEOF
			}
			return Frame{}, d.err
		}
		d.p.compact()
		if cap(d.p.buf)-len(d.p.buf) < 256 {
			nb := make([]byte, len(d.p.buf), 2*cap(d.p.buf)+256)
			copy(nb, d.p.buf)
			d.p.buf = nb
		}
		l := len(d.p.buf)
		n, err := d.r.Read(d.p.buf[l:cap(d.p.buf)])
		d.p.buf = d.p.buf[:l+n]
		if err != nil {
			d.err = err
		}
		if n == 0 && err == nil {
			if d.empty++; d.empty >= 100 {
				d.err = io.ErrNoProgress
			}
		} else {
			d.empty = 0
		}
	}
}

// Skipped returns how many bytes have been dropped while resynchronising.
func (d *Decoder) Skipped() uint64 { return d.p.Skipped() }

// Buffered returns the number of bytes read but not yet returned in a frame.
func (d *Decoder) Buffered() int { return d.p.Buffered() }
