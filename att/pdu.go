package att

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	"github.com/gogatt/gogatt/bt"
)

// Opcode is the first octet of every ATT PDU (Core v5.3 Vol 3 Part F §3.3.1): bits 0–5 the
// method, bit 6 the command flag, bit 7 the authentication signature flag.
type Opcode uint8

// Opcodes of Core v5.3 Vol 3 Part F §3.4.8, Table 3.37.
const (
	OpErrorRsp                Opcode = 0x01 // §3.4.1.1
	OpExchangeMTUReq          Opcode = 0x02 // §3.4.2.1
	OpExchangeMTURsp          Opcode = 0x03 // §3.4.2.2
	OpFindInformationReq      Opcode = 0x04 // §3.4.3.1
	OpFindInformationRsp      Opcode = 0x05 // §3.4.3.2
	OpFindByTypeValueReq      Opcode = 0x06 // §3.4.3.3
	OpFindByTypeValueRsp      Opcode = 0x07 // §3.4.3.4
	OpReadByTypeReq           Opcode = 0x08 // §3.4.4.1
	OpReadByTypeRsp           Opcode = 0x09 // §3.4.4.2
	OpReadReq                 Opcode = 0x0A // §3.4.4.3
	OpReadRsp                 Opcode = 0x0B // §3.4.4.4
	OpReadBlobReq             Opcode = 0x0C // §3.4.4.5
	OpReadBlobRsp             Opcode = 0x0D // §3.4.4.6
	OpReadMultipleReq         Opcode = 0x0E // §3.4.4.7
	OpReadMultipleRsp         Opcode = 0x0F // §3.4.4.8
	OpReadByGroupTypeReq      Opcode = 0x10 // §3.4.4.9
	OpReadByGroupTypeRsp      Opcode = 0x11 // §3.4.4.10
	OpWriteReq                Opcode = 0x12 // §3.4.5.1
	OpWriteRsp                Opcode = 0x13 // §3.4.5.2
	OpPrepareWriteReq         Opcode = 0x16 // §3.4.6.1
	OpPrepareWriteRsp         Opcode = 0x17 // §3.4.6.2
	OpExecuteWriteReq         Opcode = 0x18 // §3.4.6.3
	OpExecuteWriteRsp         Opcode = 0x19 // §3.4.6.4
	OpHandleValueNtf          Opcode = 0x1B // §3.4.7.1
	OpHandleValueInd          Opcode = 0x1D // §3.4.7.2
	OpHandleValueCfm          Opcode = 0x1E // §3.4.7.3
	OpReadMultipleVariableReq Opcode = 0x20 // §3.4.4.11
	OpReadMultipleVariableRsp Opcode = 0x21 // §3.4.4.12
	OpMultipleHandleValueNtf  Opcode = 0x23 // §3.4.7.4
	OpWriteCmd                Opcode = 0x52 // §3.4.5.3
	OpSignedWriteCmd          Opcode = 0xD2 // §3.4.5.4
)

// Sizes fixed by the specification.
const (
	// DefaultMTU is the LE default ATT_MTU (Core v5.3 Vol 3 Part G §5.2.1).
	DefaultMTU = 23
	// MaxMTU is the largest ATT_MTU a Bluetooth LE device may negotiate (Core v5.3 Vol 3 Part F
	// §3.2.8 with the 512-octet attribute limit; BlueZ and Android use 517).
	MaxMTU = 517
	// MaxAttributeLen is the maximum length of an attribute value (Core v5.3 Vol 3 Part F §3.2.9).
	MaxAttributeLen = 512
	// SignatureLen is the length of the authentication signature of a Signed Write Command
	// (Core v5.3 Vol 3 Part F §3.4.5.4).
	SignatureLen = 12
)

// Execute Write Request flags (Core v5.3 Vol 3 Part F §3.4.6.3, Table 3.35).
const (
	ExecuteCancel uint8 = 0x00 // cancel all prepared writes
	ExecuteWrite  uint8 = 0x01 // immediately write all pending prepared values
)

// Find Information Response formats (Core v5.3 Vol 3 Part F §3.4.3.2, Table 3.8).
const (
	FormatUUID16  uint8 = 0x01
	FormatUUID128 uint8 = 0x02
)

var opNames = map[Opcode]string{
	OpErrorRsp: "Error Response", OpExchangeMTUReq: "Exchange MTU Request",
	OpExchangeMTURsp: "Exchange MTU Response", OpFindInformationReq: "Find Information Request",
	OpFindInformationRsp: "Find Information Response", OpFindByTypeValueReq: "Find By Type Value Request",
	OpFindByTypeValueRsp: "Find By Type Value Response", OpReadByTypeReq: "Read By Type Request",
	OpReadByTypeRsp: "Read By Type Response", OpReadReq: "Read Request", OpReadRsp: "Read Response",
	OpReadBlobReq: "Read Blob Request", OpReadBlobRsp: "Read Blob Response",
	OpReadMultipleReq: "Read Multiple Request", OpReadMultipleRsp: "Read Multiple Response",
	OpReadByGroupTypeReq: "Read By Group Type Request", OpReadByGroupTypeRsp: "Read By Group Type Response",
	OpWriteReq: "Write Request", OpWriteRsp: "Write Response", OpPrepareWriteReq: "Prepare Write Request",
	OpPrepareWriteRsp: "Prepare Write Response", OpExecuteWriteReq: "Execute Write Request",
	OpExecuteWriteRsp: "Execute Write Response", OpHandleValueNtf: "Handle Value Notification",
	OpHandleValueInd: "Handle Value Indication", OpHandleValueCfm: "Handle Value Confirmation",
	OpReadMultipleVariableReq: "Read Multiple Variable Request",
	OpReadMultipleVariableRsp: "Read Multiple Variable Response",
	OpMultipleHandleValueNtf:  "Multiple Handle Value Notification",
	OpWriteCmd:                "Write Command", OpSignedWriteCmd: "Signed Write Command",
}

// String returns the specification's name of the opcode, e.g. "Read By Type Request".
func (o Opcode) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return fmt.Sprintf("Opcode(0x%02X)", uint8(o))
}

// Known reports whether o is an opcode defined by Core v5.3.
func (o Opcode) Known() bool { _, ok := opNames[o]; return ok }

// IsCommand reports whether the command flag (bit 6) is set: the server sends no response
// (Core v5.3 Vol 3 Part F §3.3.1).
func (o Opcode) IsCommand() bool { return o&0x40 != 0 }

// HasSignature reports whether the authentication signature flag (bit 7) is set.
func (o Opcode) HasSignature() bool { return o&0x80 != 0 }

// IsRequest reports whether o is a request a server must answer with its response or an Error
// Response (Core v5.3 Vol 3 Part F §3.3). Unknown opcodes without the command flag count as
// requests, so a server answers them with Request Not Supported (§3.4.1.1).
func (o Opcode) IsRequest() bool {
	switch o {
	case OpExchangeMTUReq, OpFindInformationReq, OpFindByTypeValueReq, OpReadByTypeReq, OpReadReq,
		OpReadBlobReq, OpReadMultipleReq, OpReadByGroupTypeReq, OpWriteReq, OpPrepareWriteReq,
		OpExecuteWriteReq, OpReadMultipleVariableReq:
		return true
	}
	return !o.Known() && !o.IsCommand()
}

// Response returns the opcode of the successful response to request o.
func (o Opcode) Response() (Opcode, bool) {
	switch o {
	case OpExchangeMTUReq, OpFindInformationReq, OpFindByTypeValueReq, OpReadByTypeReq, OpReadReq,
		OpReadBlobReq, OpReadMultipleReq, OpReadByGroupTypeReq, OpWriteReq, OpPrepareWriteReq,
		OpExecuteWriteReq, OpReadMultipleVariableReq:
		return o + 1, true
	case OpHandleValueInd:
		return OpHandleValueCfm, true
	}
	return 0, false
}

// ErrMalformed is wrapped by every decoding error: the PDU is too short, too long, or its
// fields are inconsistent. A server answers such a request with ErrInvalidPDU (§3.4.1.1).
var ErrMalformed = errors.New("att: malformed PDU")

// DecodeError describes why a PDU could not be decoded. It matches ErrMalformed with errors.Is.
type DecodeError struct {
	Op     Opcode
	Reason string
}

// Error describes the malformed PDU.
func (e *DecodeError) Error() string { return fmt.Sprintf("att: malformed %v: %s", e.Op, e.Reason) }

// Unwrap returns ErrMalformed.
func (e *DecodeError) Unwrap() error { return ErrMalformed }

func malformed(op Opcode, reason string) error { return &DecodeError{Op: op, Reason: reason} }

// PDU is any decoded ATT PDU. Append appends its wire form (opcode first) to dst.
type PDU interface {
	Opcode() Opcode
	Append(dst []byte) []byte
}

// Decode decodes one ATT PDU into its typed value (ErrorRsp, ReadReq, …; all value types).
// Byte-slice fields alias pdu: they are valid as long as pdu is. An opcode this package does not
// know is returned as Unknown with a nil error. Decode never panics. Each Unmarshal method does
// the same for one type without allocating.
func Decode(pdu []byte) (PDU, error) {
	if len(pdu) == 0 {
		return nil, malformed(0, "empty PDU")
	}
	var (
		p   PDU
		err error
	)
	switch Opcode(pdu[0]) {
	case OpErrorRsp:
		var v ErrorRsp
		err, p = v.Unmarshal(pdu), v
	case OpExchangeMTUReq:
		var v ExchangeMTUReq
		err, p = v.Unmarshal(pdu), v
	case OpExchangeMTURsp:
		var v ExchangeMTURsp
		err, p = v.Unmarshal(pdu), v
	case OpFindInformationReq:
		var v FindInformationReq
		err, p = v.Unmarshal(pdu), v
	case OpFindInformationRsp:
		var v FindInformationRsp
		err, p = v.Unmarshal(pdu), v
	case OpFindByTypeValueReq:
		var v FindByTypeValueReq
		err, p = v.Unmarshal(pdu), v
	case OpFindByTypeValueRsp:
		var v FindByTypeValueRsp
		err, p = v.Unmarshal(pdu), v
	case OpReadByTypeReq:
		var v ReadByTypeReq
		err, p = v.Unmarshal(pdu), v
	case OpReadByTypeRsp:
		var v ReadByTypeRsp
		err, p = v.Unmarshal(pdu), v
	case OpReadReq:
		var v ReadReq
		err, p = v.Unmarshal(pdu), v
	case OpReadRsp:
		var v ReadRsp
		err, p = v.Unmarshal(pdu), v
	case OpReadBlobReq:
		var v ReadBlobReq
		err, p = v.Unmarshal(pdu), v
	case OpReadBlobRsp:
		var v ReadBlobRsp
		err, p = v.Unmarshal(pdu), v
	case OpReadMultipleReq:
		var v ReadMultipleReq
		err, p = v.Unmarshal(pdu), v
	case OpReadMultipleRsp:
		var v ReadMultipleRsp
		err, p = v.Unmarshal(pdu), v
	case OpReadByGroupTypeReq:
		var v ReadByGroupTypeReq
		err, p = v.Unmarshal(pdu), v
	case OpReadByGroupTypeRsp:
		var v ReadByGroupTypeRsp
		err, p = v.Unmarshal(pdu), v
	case OpWriteReq:
		var v WriteReq
		err, p = v.Unmarshal(pdu), v
	case OpWriteRsp:
		var v WriteRsp
		err, p = v.Unmarshal(pdu), v
	case OpWriteCmd:
		var v WriteCmd
		err, p = v.Unmarshal(pdu), v
	case OpSignedWriteCmd:
		var v SignedWriteCmd
		err, p = v.Unmarshal(pdu), v
	case OpPrepareWriteReq:
		var v PrepareWriteReq
		err, p = v.Unmarshal(pdu), v
	case OpPrepareWriteRsp:
		var v PrepareWriteRsp
		err, p = v.Unmarshal(pdu), v
	case OpExecuteWriteReq:
		var v ExecuteWriteReq
		err, p = v.Unmarshal(pdu), v
	case OpExecuteWriteRsp:
		var v ExecuteWriteRsp
		err, p = v.Unmarshal(pdu), v
	case OpHandleValueNtf:
		var v HandleValueNtf
		err, p = v.Unmarshal(pdu), v
	case OpHandleValueInd:
		var v HandleValueInd
		err, p = v.Unmarshal(pdu), v
	case OpHandleValueCfm:
		var v HandleValueCfm
		err, p = v.Unmarshal(pdu), v
	case OpReadMultipleVariableReq:
		var v ReadMultipleVariableReq
		err, p = v.Unmarshal(pdu), v
	case OpReadMultipleVariableRsp:
		var v ReadMultipleVariableRsp
		err, p = v.Unmarshal(pdu), v
	case OpMultipleHandleValueNtf:
		var v MultipleHandleValueNtf
		err, p = v.Unmarshal(pdu), v
	default:
		return Unknown{Op: Opcode(pdu[0]), Params: pdu[1:]}, nil
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ---- helpers ----

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

func put16(dst []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(dst, v) }

// fixed checks the opcode and an exact length.
func fixed(pdu []byte, op Opcode, n int) error {
	if len(pdu) == 0 || Opcode(pdu[0]) != op {
		return malformed(op, "wrong opcode")
	}
	if len(pdu) != n {
		return malformed(op, fmt.Sprintf("%d octets, want %d", len(pdu), n))
	}
	return nil
}

// atLeast checks the opcode and a minimum length.
func atLeast(pdu []byte, op Opcode, n int) error {
	if len(pdu) == 0 || Opcode(pdu[0]) != op {
		return malformed(op, "wrong opcode")
	}
	if len(pdu) < n {
		return malformed(op, fmt.Sprintf("%d octets, want at least %d", len(pdu), n))
	}
	return nil
}

// uuidField decodes a 2- or 16-octet attribute type (Core v5.3 Vol 3 Part F §3.2.1).
func uuidField(op Opcode, b []byte) (bt.UUID, error) {
	if len(b) != 2 && len(b) != 16 {
		return bt.UUID{}, malformed(op, fmt.Sprintf("attribute type of %d octets, want 2 or 16", len(b)))
	}
	u, _ := bt.UUIDFromLE(b)
	return u, nil
}

// ---- Unknown ----

// Unknown is a PDU whose opcode this package does not define. A server answers an unknown
// request with ErrRequestNotSupported and ignores an unknown command (Core v5.3 Vol 3 Part F
// §3.4.1.1, §3.3.1).
type Unknown struct {
	Op     Opcode
	Params []byte
}

// Opcode returns u.Op.
func (u Unknown) Opcode() Opcode { return u.Op }

// Append appends the opcode and parameters.
func (u Unknown) Append(dst []byte) []byte { return append(append(dst, byte(u.Op)), u.Params...) }

// ---- Error Response §3.4.1.1 ----

// ErrorRsp is the Error Response (Core v5.3 Vol 3 Part F §3.4.1.1): the request that failed,
// the attribute handle in error (0x0000 if none) and the reason. It implements error.
type ErrorRsp struct {
	Request Opcode
	Handle  uint16
	Code    ErrorCode
}

// Opcode returns OpErrorRsp.
func (ErrorRsp) Opcode() Opcode { return OpErrorRsp }

// Append appends the 5-octet PDU.
func (r ErrorRsp) Append(dst []byte) []byte {
	return append(put16(append(dst, byte(OpErrorRsp), byte(r.Request)), r.Handle), byte(r.Code))
}

// Unmarshal decodes an Error Response.
func (r *ErrorRsp) Unmarshal(pdu []byte) error {
	if err := fixed(pdu, OpErrorRsp, 5); err != nil {
		return err
	}
	*r = ErrorRsp{Request: Opcode(pdu[1]), Handle: le16(pdu[2:]), Code: ErrorCode(pdu[4])}
	return nil
}

// Error describes the failure, e.g. "Read Request on handle 0x0003: Read Not Permitted (0x02)".
func (r ErrorRsp) Error() string {
	return fmt.Sprintf("%v on handle 0x%04X: %v (0x%02X)", r.Request, r.Handle, r.Code, uint8(r.Code))
}

// ---- Exchange MTU §3.4.2 ----

// ExchangeMTUReq is the Exchange MTU Request (Core v5.3 Vol 3 Part F §3.4.2.1).
type ExchangeMTUReq struct{ ClientRxMTU uint16 }

// Opcode returns OpExchangeMTUReq.
func (ExchangeMTUReq) Opcode() Opcode { return OpExchangeMTUReq }

// Append appends the 3-octet PDU.
func (r ExchangeMTUReq) Append(dst []byte) []byte {
	return put16(append(dst, byte(OpExchangeMTUReq)), r.ClientRxMTU)
}

// Unmarshal decodes an Exchange MTU Request.
func (r *ExchangeMTUReq) Unmarshal(pdu []byte) error {
	if err := fixed(pdu, OpExchangeMTUReq, 3); err != nil {
		return err
	}
	r.ClientRxMTU = le16(pdu[1:])
	return nil
}

// ExchangeMTURsp is the Exchange MTU Response (Core v5.3 Vol 3 Part F §3.4.2.2).
type ExchangeMTURsp struct{ ServerRxMTU uint16 }

// Opcode returns OpExchangeMTURsp.
func (ExchangeMTURsp) Opcode() Opcode { return OpExchangeMTURsp }

// Append appends the 3-octet PDU.
func (r ExchangeMTURsp) Append(dst []byte) []byte {
	return put16(append(dst, byte(OpExchangeMTURsp)), r.ServerRxMTU)
}

// Unmarshal decodes an Exchange MTU Response.
func (r *ExchangeMTURsp) Unmarshal(pdu []byte) error {
	if err := fixed(pdu, OpExchangeMTURsp, 3); err != nil {
		return err
	}
	r.ServerRxMTU = le16(pdu[1:])
	return nil
}

// ---- Find Information §3.4.3.1/2 ----

// FindInformationReq is the Find Information Request (Core v5.3 Vol 3 Part F §3.4.3.1).
type FindInformationReq struct{ StartHandle, EndHandle uint16 }

// Opcode returns OpFindInformationReq.
func (FindInformationReq) Opcode() Opcode { return OpFindInformationReq }

// Append appends the 5-octet PDU.
func (r FindInformationReq) Append(dst []byte) []byte {
	return put16(put16(append(dst, byte(OpFindInformationReq)), r.StartHandle), r.EndHandle)
}

// Unmarshal decodes a Find Information Request.
func (r *FindInformationReq) Unmarshal(pdu []byte) error {
	if err := fixed(pdu, OpFindInformationReq, 5); err != nil {
		return err
	}
	r.StartHandle, r.EndHandle = le16(pdu[1:]), le16(pdu[3:])
	return nil
}

// FindInformationRsp is the Find Information Response (Core v5.3 Vol 3 Part F §3.4.3.2):
// a format (FormatUUID16 or FormatUUID128) and handle–type pairs of that format, kept in their
// wire form in Data. Build one with Add; read it with All or Entry.
type FindInformationRsp struct {
	Format uint8
	Data   []byte // handle (2) + UUID (2 or 16), repeated
}

// Opcode returns OpFindInformationRsp.
func (FindInformationRsp) Opcode() Opcode { return OpFindInformationRsp }

// Append appends the PDU.
func (r FindInformationRsp) Append(dst []byte) []byte {
	return append(append(dst, byte(OpFindInformationRsp), r.Format), r.Data...)
}

func (r FindInformationRsp) entrySize() int {
	if r.Format == FormatUUID128 {
		return 18
	}
	return 4
}

// Unmarshal decodes a Find Information Response; Data aliases pdu.
func (r *FindInformationRsp) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpFindInformationRsp, 2); err != nil {
		return err
	}
	f := pdu[1]
	if f != FormatUUID16 && f != FormatUUID128 {
		return malformed(OpFindInformationRsp, fmt.Sprintf("format 0x%02X", f))
	}
	v := FindInformationRsp{Format: f, Data: pdu[2:]}
	if n := len(v.Data); n == 0 || n%v.entrySize() != 0 {
		return malformed(OpFindInformationRsp, fmt.Sprintf("%d octets of information data, want a non-zero multiple of %d", n, v.entrySize()))
	}
	*r = v
	return nil
}

// Add appends one handle–UUID pair. The first pair fixes the format; Add reports false (and
// adds nothing) for a UUID of the other size.
func (r *FindInformationRsp) Add(handle uint16, uuid bt.UUID) bool {
	_, is16 := uuid.Is16()
	f := FormatUUID128
	if is16 {
		f = FormatUUID16
	}
	if len(r.Data) == 0 {
		r.Format = f
	} else if r.Format != f {
		return false
	}
	r.Data = uuid.AppendLE(put16(r.Data, handle))
	return true
}

// Len returns the number of pairs.
func (r FindInformationRsp) Len() int { return len(r.Data) / r.entrySize() }

// Entry returns pair i.
func (r FindInformationRsp) Entry(i int) (handle uint16, uuid bt.UUID) {
	n := r.entrySize()
	e := r.Data[i*n : (i+1)*n]
	uuid, _ = bt.UUIDFromLE(e[2:])
	return le16(e), uuid
}

// All iterates over the handle–UUID pairs.
func (r FindInformationRsp) All() iter.Seq2[uint16, bt.UUID] {
	return func(yield func(uint16, bt.UUID) bool) {
		for i := range r.Len() {
			if !yield(r.Entry(i)) {
				return
			}
		}
	}
}

// ---- Find By Type Value §3.4.3.3/4 ----

// FindByTypeValueReq is the Find By Type Value Request (Core v5.3 Vol 3 Part F §3.4.3.3). The
// attribute type is always a 16-bit UUID.
type FindByTypeValueReq struct {
	StartHandle, EndHandle uint16
	Type                   uint16
	Value                  []byte
}

// Opcode returns OpFindByTypeValueReq.
func (FindByTypeValueReq) Opcode() Opcode { return OpFindByTypeValueReq }

// Append appends the PDU.
func (r FindByTypeValueReq) Append(dst []byte) []byte {
	dst = put16(put16(put16(append(dst, byte(OpFindByTypeValueReq)), r.StartHandle), r.EndHandle), r.Type)
	return append(dst, r.Value...)
}

// Unmarshal decodes a Find By Type Value Request; Value aliases pdu.
func (r *FindByTypeValueReq) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpFindByTypeValueReq, 7); err != nil {
		return err
	}
	*r = FindByTypeValueReq{StartHandle: le16(pdu[1:]), EndHandle: le16(pdu[3:]), Type: le16(pdu[5:]), Value: pdu[7:]}
	return nil
}

// FindByTypeValueRsp is the Find By Type Value Response (Core v5.3 Vol 3 Part F §3.4.3.4):
// a list of (found attribute handle, group end handle) pairs in wire form.
type FindByTypeValueRsp struct {
	Data []byte // found handle (2) + group end handle (2), repeated
}

// Opcode returns OpFindByTypeValueRsp.
func (FindByTypeValueRsp) Opcode() Opcode { return OpFindByTypeValueRsp }

// Append appends the PDU.
func (r FindByTypeValueRsp) Append(dst []byte) []byte {
	return append(append(dst, byte(OpFindByTypeValueRsp)), r.Data...)
}

// Unmarshal decodes a Find By Type Value Response; Data aliases pdu.
func (r *FindByTypeValueRsp) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpFindByTypeValueRsp, 5); err != nil {
		return err
	}
	if (len(pdu)-1)%4 != 0 {
		return malformed(OpFindByTypeValueRsp, "handles information list is not a multiple of 4 octets")
	}
	r.Data = pdu[1:]
	return nil
}

// Add appends one pair.
func (r *FindByTypeValueRsp) Add(found, groupEnd uint16) {
	r.Data = put16(put16(r.Data, found), groupEnd)
}

// Len returns the number of pairs.
func (r FindByTypeValueRsp) Len() int { return len(r.Data) / 4 }

// Entry returns pair i.
func (r FindByTypeValueRsp) Entry(i int) (found, groupEnd uint16) {
	return le16(r.Data[4*i:]), le16(r.Data[4*i+2:])
}

// All iterates over the pairs.
func (r FindByTypeValueRsp) All() iter.Seq2[uint16, uint16] {
	return func(yield func(uint16, uint16) bool) {
		for i := range r.Len() {
			if !yield(r.Entry(i)) {
				return
			}
		}
	}
}

// ---- Read By Type §3.4.4.1/2 ----

// ReadByTypeReq is the Read By Type Request (Core v5.3 Vol 3 Part F §3.4.4.1). Type travels in
// its 2-octet form when it is a 16-bit UUID, else in 16 octets.
type ReadByTypeReq struct {
	StartHandle, EndHandle uint16
	Type                   bt.UUID
}

// Opcode returns OpReadByTypeReq.
func (ReadByTypeReq) Opcode() Opcode { return OpReadByTypeReq }

// Append appends the PDU.
func (r ReadByTypeReq) Append(dst []byte) []byte {
	return r.Type.AppendLE(put16(put16(append(dst, byte(OpReadByTypeReq)), r.StartHandle), r.EndHandle))
}

// Unmarshal decodes a Read By Type Request.
func (r *ReadByTypeReq) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpReadByTypeReq, 7); err != nil {
		return err
	}
	u, err := uuidField(OpReadByTypeReq, pdu[5:])
	if err != nil {
		return err
	}
	*r = ReadByTypeReq{StartHandle: le16(pdu[1:]), EndHandle: le16(pdu[3:]), Type: u}
	return nil
}

// ReadByTypeRsp is the Read By Type Response (Core v5.3 Vol 3 Part F §3.4.4.2): handle–value
// pairs, all of the same Length (2 + value length), in wire form.
type ReadByTypeRsp struct {
	Length uint8
	Data   []byte // handle (2) + value (Length-2), repeated
}

// Opcode returns OpReadByTypeRsp.
func (ReadByTypeRsp) Opcode() Opcode { return OpReadByTypeRsp }

// Append appends the PDU.
func (r ReadByTypeRsp) Append(dst []byte) []byte {
	return append(append(dst, byte(OpReadByTypeRsp), r.Length), r.Data...)
}

// Unmarshal decodes a Read By Type Response; Data aliases pdu.
func (r *ReadByTypeRsp) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpReadByTypeRsp, 4); err != nil {
		return err
	}
	l := int(pdu[1])
	if l < 2 || (len(pdu)-2)%l != 0 {
		return malformed(OpReadByTypeRsp, fmt.Sprintf("length %d does not divide %d octets of attribute data", l, len(pdu)-2))
	}
	*r = ReadByTypeRsp{Length: pdu[1], Data: pdu[2:]}
	return nil
}

// Add appends one pair. The first pair fixes Length; Add reports false (and adds nothing) for a
// value of another length or one longer than 253 octets.
func (r *ReadByTypeRsp) Add(handle uint16, value []byte) bool {
	if len(value) > 253 {
		return false
	}
	l := uint8(2 + len(value))
	if len(r.Data) == 0 {
		r.Length = l
	} else if r.Length != l {
		return false
	}
	r.Data = append(put16(r.Data, handle), value...)
	return true
}

// Len returns the number of pairs.
func (r ReadByTypeRsp) Len() int {
	if r.Length == 0 {
		return 0
	}
	return len(r.Data) / int(r.Length)
}

// Entry returns pair i; value aliases r.Data.
func (r ReadByTypeRsp) Entry(i int) (handle uint16, value []byte) {
	l := int(r.Length)
	e := r.Data[i*l : (i+1)*l]
	return le16(e), e[2:]
}

// All iterates over the pairs.
func (r ReadByTypeRsp) All() iter.Seq2[uint16, []byte] {
	return func(yield func(uint16, []byte) bool) {
		for i := range r.Len() {
			if !yield(r.Entry(i)) {
				return
			}
		}
	}
}

// ---- Read §3.4.4.3/4 ----

// ReadReq is the Read Request (Core v5.3 Vol 3 Part F §3.4.4.3).
type ReadReq struct{ Handle uint16 }

// Opcode returns OpReadReq.
func (ReadReq) Opcode() Opcode { return OpReadReq }

// Append appends the 3-octet PDU.
func (r ReadReq) Append(dst []byte) []byte { return put16(append(dst, byte(OpReadReq)), r.Handle) }

// Unmarshal decodes a Read Request.
func (r *ReadReq) Unmarshal(pdu []byte) error {
	if err := fixed(pdu, OpReadReq, 3); err != nil {
		return err
	}
	r.Handle = le16(pdu[1:])
	return nil
}

// ReadRsp is the Read Response (Core v5.3 Vol 3 Part F §3.4.4.4).
type ReadRsp struct{ Value []byte }

// Opcode returns OpReadRsp.
func (ReadRsp) Opcode() Opcode { return OpReadRsp }

// Append appends the PDU.
func (r ReadRsp) Append(dst []byte) []byte { return append(append(dst, byte(OpReadRsp)), r.Value...) }

// Unmarshal decodes a Read Response; Value aliases pdu.
func (r *ReadRsp) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpReadRsp, 1); err != nil {
		return err
	}
	r.Value = pdu[1:]
	return nil
}

// ---- Read Blob §3.4.4.5/6 ----

// ReadBlobReq is the Read Blob Request (Core v5.3 Vol 3 Part F §3.4.4.5).
type ReadBlobReq struct{ Handle, Offset uint16 }

// Opcode returns OpReadBlobReq.
func (ReadBlobReq) Opcode() Opcode { return OpReadBlobReq }

// Append appends the 5-octet PDU.
func (r ReadBlobReq) Append(dst []byte) []byte {
	return put16(put16(append(dst, byte(OpReadBlobReq)), r.Handle), r.Offset)
}

// Unmarshal decodes a Read Blob Request.
func (r *ReadBlobReq) Unmarshal(pdu []byte) error {
	if err := fixed(pdu, OpReadBlobReq, 5); err != nil {
		return err
	}
	r.Handle, r.Offset = le16(pdu[1:]), le16(pdu[3:])
	return nil
}

// ReadBlobRsp is the Read Blob Response (Core v5.3 Vol 3 Part F §3.4.4.6).
type ReadBlobRsp struct{ Value []byte }

// Opcode returns OpReadBlobRsp.
func (ReadBlobRsp) Opcode() Opcode { return OpReadBlobRsp }

// Append appends the PDU.
func (r ReadBlobRsp) Append(dst []byte) []byte {
	return append(append(dst, byte(OpReadBlobRsp)), r.Value...)
}

// Unmarshal decodes a Read Blob Response; Value aliases pdu.
func (r *ReadBlobRsp) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpReadBlobRsp, 1); err != nil {
		return err
	}
	r.Value = pdu[1:]
	return nil
}

// ---- Read Multiple §3.4.4.7/8 ----

// ReadMultipleReq is the Read Multiple Request (Core v5.3 Vol 3 Part F §3.4.4.7): two or more
// handles. Unmarshal reuses the capacity of Handles, so a reused value decodes without
// allocating.
type ReadMultipleReq struct{ Handles []uint16 }

// Opcode returns OpReadMultipleReq.
func (ReadMultipleReq) Opcode() Opcode { return OpReadMultipleReq }

// Append appends the PDU.
func (r ReadMultipleReq) Append(dst []byte) []byte {
	dst = append(dst, byte(OpReadMultipleReq))
	for _, h := range r.Handles {
		dst = put16(dst, h)
	}
	return dst
}

func unmarshalHandles(op Opcode, pdu []byte, hs *[]uint16) error {
	if err := atLeast(pdu, op, 5); err != nil {
		return err
	}
	if (len(pdu)-1)%2 != 0 {
		return malformed(op, "odd number of octets in the set of handles")
	}
	*hs = (*hs)[:0]
	for i := 1; i < len(pdu); i += 2 {
		*hs = append(*hs, le16(pdu[i:]))
	}
	return nil
}

// Unmarshal decodes a Read Multiple Request.
func (r *ReadMultipleReq) Unmarshal(pdu []byte) error {
	return unmarshalHandles(OpReadMultipleReq, pdu, &r.Handles)
}

// ReadMultipleRsp is the Read Multiple Response (Core v5.3 Vol 3 Part F §3.4.4.8): the values
// concatenated (the client must know their lengths).
type ReadMultipleRsp struct{ Values []byte }

// Opcode returns OpReadMultipleRsp.
func (ReadMultipleRsp) Opcode() Opcode { return OpReadMultipleRsp }

// Append appends the PDU.
func (r ReadMultipleRsp) Append(dst []byte) []byte {
	return append(append(dst, byte(OpReadMultipleRsp)), r.Values...)
}

// Unmarshal decodes a Read Multiple Response; Values aliases pdu.
func (r *ReadMultipleRsp) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpReadMultipleRsp, 1); err != nil {
		return err
	}
	r.Values = pdu[1:]
	return nil
}

// ---- Read By Group Type §3.4.4.9/10 ----

// ReadByGroupTypeReq is the Read By Group Type Request (Core v5.3 Vol 3 Part F §3.4.4.9).
type ReadByGroupTypeReq struct {
	StartHandle, EndHandle uint16
	Type                   bt.UUID
}

// Opcode returns OpReadByGroupTypeReq.
func (ReadByGroupTypeReq) Opcode() Opcode { return OpReadByGroupTypeReq }

// Append appends the PDU.
func (r ReadByGroupTypeReq) Append(dst []byte) []byte {
	return r.Type.AppendLE(put16(put16(append(dst, byte(OpReadByGroupTypeReq)), r.StartHandle), r.EndHandle))
}

// Unmarshal decodes a Read By Group Type Request.
func (r *ReadByGroupTypeReq) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpReadByGroupTypeReq, 7); err != nil {
		return err
	}
	u, err := uuidField(OpReadByGroupTypeReq, pdu[5:])
	if err != nil {
		return err
	}
	*r = ReadByGroupTypeReq{StartHandle: le16(pdu[1:]), EndHandle: le16(pdu[3:]), Type: u}
	return nil
}

// ReadByGroupTypeRsp is the Read By Group Type Response (Core v5.3 Vol 3 Part F §3.4.4.10):
// (attribute handle, end group handle, value) triples, all of the same Length (4 + value
// length), in wire form.
type ReadByGroupTypeRsp struct {
	Length uint8
	Data   []byte
}

// Opcode returns OpReadByGroupTypeRsp.
func (ReadByGroupTypeRsp) Opcode() Opcode { return OpReadByGroupTypeRsp }

// Append appends the PDU.
func (r ReadByGroupTypeRsp) Append(dst []byte) []byte {
	return append(append(dst, byte(OpReadByGroupTypeRsp), r.Length), r.Data...)
}

// Unmarshal decodes a Read By Group Type Response; Data aliases pdu.
func (r *ReadByGroupTypeRsp) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpReadByGroupTypeRsp, 6); err != nil {
		return err
	}
	l := int(pdu[1])
	if l < 4 || (len(pdu)-2)%l != 0 {
		return malformed(OpReadByGroupTypeRsp, fmt.Sprintf("length %d does not divide %d octets of attribute data", l, len(pdu)-2))
	}
	*r = ReadByGroupTypeRsp{Length: pdu[1], Data: pdu[2:]}
	return nil
}

// Add appends one triple. The first fixes Length; Add reports false (and adds nothing) for a
// value of another length or one longer than 251 octets.
func (r *ReadByGroupTypeRsp) Add(handle, endGroup uint16, value []byte) bool {
	if len(value) > 251 {
		return false
	}
	l := uint8(4 + len(value))
	if len(r.Data) == 0 {
		r.Length = l
	} else if r.Length != l {
		return false
	}
	r.Data = append(put16(put16(r.Data, handle), endGroup), value...)
	return true
}

// Len returns the number of triples.
func (r ReadByGroupTypeRsp) Len() int {
	if r.Length == 0 {
		return 0
	}
	return len(r.Data) / int(r.Length)
}

// Entry returns triple i; value aliases r.Data.
func (r ReadByGroupTypeRsp) Entry(i int) (handle, endGroup uint16, value []byte) {
	l := int(r.Length)
	e := r.Data[i*l : (i+1)*l]
	return le16(e), le16(e[2:]), e[4:]
}

// ---- Write §3.4.5 ----

// WriteReq is the Write Request (Core v5.3 Vol 3 Part F §3.4.5.1).
type WriteReq struct {
	Handle uint16
	Value  []byte
}

// Opcode returns OpWriteReq.
func (WriteReq) Opcode() Opcode { return OpWriteReq }

// Append appends the PDU.
func (r WriteReq) Append(dst []byte) []byte {
	return append(put16(append(dst, byte(OpWriteReq)), r.Handle), r.Value...)
}

// Unmarshal decodes a Write Request; Value aliases pdu.
func (r *WriteReq) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpWriteReq, 3); err != nil {
		return err
	}
	*r = WriteReq{Handle: le16(pdu[1:]), Value: pdu[3:]}
	return nil
}

// WriteRsp is the Write Response (Core v5.3 Vol 3 Part F §3.4.5.2).
type WriteRsp struct{}

// Opcode returns OpWriteRsp.
func (WriteRsp) Opcode() Opcode { return OpWriteRsp }

// Append appends the 1-octet PDU.
func (WriteRsp) Append(dst []byte) []byte { return append(dst, byte(OpWriteRsp)) }

// Unmarshal decodes a Write Response.
func (*WriteRsp) Unmarshal(pdu []byte) error { return fixed(pdu, OpWriteRsp, 1) }

// WriteCmd is the Write Command (Core v5.3 Vol 3 Part F §3.4.5.3): no response.
type WriteCmd struct {
	Handle uint16
	Value  []byte
}

// Opcode returns OpWriteCmd.
func (WriteCmd) Opcode() Opcode { return OpWriteCmd }

// Append appends the PDU.
func (r WriteCmd) Append(dst []byte) []byte {
	return append(put16(append(dst, byte(OpWriteCmd)), r.Handle), r.Value...)
}

// Unmarshal decodes a Write Command; Value aliases pdu.
func (r *WriteCmd) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpWriteCmd, 3); err != nil {
		return err
	}
	*r = WriteCmd{Handle: le16(pdu[1:]), Value: pdu[3:]}
	return nil
}

// SignedWriteCmd is the Signed Write Command (Core v5.3 Vol 3 Part F §3.4.5.4): a Write
// Command followed by a 12-octet authentication signature (Vol 3 Part H §2.4.5).
type SignedWriteCmd struct {
	Handle    uint16
	Value     []byte
	Signature [SignatureLen]byte
}

// Opcode returns OpSignedWriteCmd.
func (SignedWriteCmd) Opcode() Opcode { return OpSignedWriteCmd }

// Append appends the PDU.
func (r SignedWriteCmd) Append(dst []byte) []byte {
	return append(append(put16(append(dst, byte(OpSignedWriteCmd)), r.Handle), r.Value...), r.Signature[:]...)
}

// Unmarshal decodes a Signed Write Command; Value aliases pdu.
func (r *SignedWriteCmd) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpSignedWriteCmd, 3+SignatureLen); err != nil {
		return err
	}
	n := len(pdu) - SignatureLen
	*r = SignedWriteCmd{Handle: le16(pdu[1:]), Value: pdu[3:n], Signature: [SignatureLen]byte(pdu[n:])}
	return nil
}

// ---- Queued writes §3.4.6 ----

// PrepareWriteReq is the Prepare Write Request (Core v5.3 Vol 3 Part F §3.4.6.1).
type PrepareWriteReq struct {
	Handle, Offset uint16
	Value          []byte
}

// Opcode returns OpPrepareWriteReq.
func (PrepareWriteReq) Opcode() Opcode { return OpPrepareWriteReq }

// Append appends the PDU.
func (r PrepareWriteReq) Append(dst []byte) []byte {
	return append(put16(put16(append(dst, byte(OpPrepareWriteReq)), r.Handle), r.Offset), r.Value...)
}

// Unmarshal decodes a Prepare Write Request; Value aliases pdu.
func (r *PrepareWriteReq) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpPrepareWriteReq, 5); err != nil {
		return err
	}
	*r = PrepareWriteReq{Handle: le16(pdu[1:]), Offset: le16(pdu[3:]), Value: pdu[5:]}
	return nil
}

// PrepareWriteRsp is the Prepare Write Response (Core v5.3 Vol 3 Part F §3.4.6.2): an echo of
// the request, which the client compares with what it sent.
type PrepareWriteRsp struct {
	Handle, Offset uint16
	Value          []byte
}

// Opcode returns OpPrepareWriteRsp.
func (PrepareWriteRsp) Opcode() Opcode { return OpPrepareWriteRsp }

// Append appends the PDU.
func (r PrepareWriteRsp) Append(dst []byte) []byte {
	return append(put16(put16(append(dst, byte(OpPrepareWriteRsp)), r.Handle), r.Offset), r.Value...)
}

// Unmarshal decodes a Prepare Write Response; Value aliases pdu.
func (r *PrepareWriteRsp) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpPrepareWriteRsp, 5); err != nil {
		return err
	}
	*r = PrepareWriteRsp{Handle: le16(pdu[1:]), Offset: le16(pdu[3:]), Value: pdu[5:]}
	return nil
}

// ExecuteWriteReq is the Execute Write Request (Core v5.3 Vol 3 Part F §3.4.6.3): Flags is
// ExecuteCancel or ExecuteWrite (other values are decoded as-is; a server rejects them).
type ExecuteWriteReq struct{ Flags uint8 }

// Opcode returns OpExecuteWriteReq.
func (ExecuteWriteReq) Opcode() Opcode { return OpExecuteWriteReq }

// Append appends the 2-octet PDU.
func (r ExecuteWriteReq) Append(dst []byte) []byte {
	return append(dst, byte(OpExecuteWriteReq), r.Flags)
}

// Unmarshal decodes an Execute Write Request.
func (r *ExecuteWriteReq) Unmarshal(pdu []byte) error {
	if err := fixed(pdu, OpExecuteWriteReq, 2); err != nil {
		return err
	}
	r.Flags = pdu[1]
	return nil
}

// ExecuteWriteRsp is the Execute Write Response (Core v5.3 Vol 3 Part F §3.4.6.4).
type ExecuteWriteRsp struct{}

// Opcode returns OpExecuteWriteRsp.
func (ExecuteWriteRsp) Opcode() Opcode { return OpExecuteWriteRsp }

// Append appends the 1-octet PDU.
func (ExecuteWriteRsp) Append(dst []byte) []byte { return append(dst, byte(OpExecuteWriteRsp)) }

// Unmarshal decodes an Execute Write Response.
func (*ExecuteWriteRsp) Unmarshal(pdu []byte) error { return fixed(pdu, OpExecuteWriteRsp, 1) }

// ---- Server-initiated §3.4.7 ----

// HandleValueNtf is the Handle Value Notification (Core v5.3 Vol 3 Part F §3.4.7.1).
type HandleValueNtf struct {
	Handle uint16
	Value  []byte
}

// Opcode returns OpHandleValueNtf.
func (HandleValueNtf) Opcode() Opcode { return OpHandleValueNtf }

// Append appends the PDU.
func (r HandleValueNtf) Append(dst []byte) []byte {
	return append(put16(append(dst, byte(OpHandleValueNtf)), r.Handle), r.Value...)
}

// Unmarshal decodes a Handle Value Notification; Value aliases pdu.
func (r *HandleValueNtf) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpHandleValueNtf, 3); err != nil {
		return err
	}
	*r = HandleValueNtf{Handle: le16(pdu[1:]), Value: pdu[3:]}
	return nil
}

// HandleValueInd is the Handle Value Indication (Core v5.3 Vol 3 Part F §3.4.7.2); the client
// answers with HandleValueCfm.
type HandleValueInd struct {
	Handle uint16
	Value  []byte
}

// Opcode returns OpHandleValueInd.
func (HandleValueInd) Opcode() Opcode { return OpHandleValueInd }

// Append appends the PDU.
func (r HandleValueInd) Append(dst []byte) []byte {
	return append(put16(append(dst, byte(OpHandleValueInd)), r.Handle), r.Value...)
}

// Unmarshal decodes a Handle Value Indication; Value aliases pdu.
func (r *HandleValueInd) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpHandleValueInd, 3); err != nil {
		return err
	}
	*r = HandleValueInd{Handle: le16(pdu[1:]), Value: pdu[3:]}
	return nil
}

// HandleValueCfm is the Handle Value Confirmation (Core v5.3 Vol 3 Part F §3.4.7.3).
type HandleValueCfm struct{}

// Opcode returns OpHandleValueCfm.
func (HandleValueCfm) Opcode() Opcode { return OpHandleValueCfm }

// Append appends the 1-octet PDU.
func (HandleValueCfm) Append(dst []byte) []byte { return append(dst, byte(OpHandleValueCfm)) }

// Unmarshal decodes a Handle Value Confirmation.
func (*HandleValueCfm) Unmarshal(pdu []byte) error { return fixed(pdu, OpHandleValueCfm, 1) }

// ---- Core 5.2+ PDUs ----

// ReadMultipleVariableReq is the Read Multiple Variable Length Request (Core v5.3 Vol 3 Part F
// §3.4.4.11). Unmarshal reuses the capacity of Handles.
type ReadMultipleVariableReq struct{ Handles []uint16 }

// Opcode returns OpReadMultipleVariableReq.
func (ReadMultipleVariableReq) Opcode() Opcode { return OpReadMultipleVariableReq }

// Append appends the PDU.
func (r ReadMultipleVariableReq) Append(dst []byte) []byte {
	dst = append(dst, byte(OpReadMultipleVariableReq))
	for _, h := range r.Handles {
		dst = put16(dst, h)
	}
	return dst
}

// Unmarshal decodes a Read Multiple Variable Length Request.
func (r *ReadMultipleVariableReq) Unmarshal(pdu []byte) error {
	return unmarshalHandles(OpReadMultipleVariableReq, pdu, &r.Handles)
}

// ReadMultipleVariableRsp is the Read Multiple Variable Length Response (Core v5.3 Vol 3 Part F
// §3.4.4.12): length (2) + value tuples in wire form; the last value may be truncated.
type ReadMultipleVariableRsp struct{ Data []byte }

// Opcode returns OpReadMultipleVariableRsp.
func (ReadMultipleVariableRsp) Opcode() Opcode { return OpReadMultipleVariableRsp }

// Append appends the PDU.
func (r ReadMultipleVariableRsp) Append(dst []byte) []byte {
	return append(append(dst, byte(OpReadMultipleVariableRsp)), r.Data...)
}

// Unmarshal decodes a Read Multiple Variable Length Response; Data aliases pdu.
func (r *ReadMultipleVariableRsp) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpReadMultipleVariableRsp, 1); err != nil {
		return err
	}
	r.Data = pdu[1:]
	return nil
}

// Add appends one length–value tuple.
func (r *ReadMultipleVariableRsp) Add(value []byte) {
	r.Data = append(put16(r.Data, uint16(len(value))), value...)
}

// All iterates over the values (the last one possibly truncated by the MTU).
func (r ReadMultipleVariableRsp) All() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		d := r.Data
		for len(d) >= 2 {
			n := int(le16(d))
			d = d[2:]
			n = min(n, len(d))
			if !yield(d[:n]) {
				return
			}
			d = d[n:]
		}
	}
}

// MultipleHandleValueNtf is the Multiple Handle Value Notification (Core v5.3 Vol 3 Part F
// §3.4.7.4): handle (2) + length (2) + value tuples in wire form.
type MultipleHandleValueNtf struct{ Data []byte }

// Opcode returns OpMultipleHandleValueNtf.
func (MultipleHandleValueNtf) Opcode() Opcode { return OpMultipleHandleValueNtf }

// Append appends the PDU.
func (r MultipleHandleValueNtf) Append(dst []byte) []byte {
	return append(append(dst, byte(OpMultipleHandleValueNtf)), r.Data...)
}

// Unmarshal decodes a Multiple Handle Value Notification and checks that its tuples are
// complete; Data aliases pdu.
func (r *MultipleHandleValueNtf) Unmarshal(pdu []byte) error {
	if err := atLeast(pdu, OpMultipleHandleValueNtf, 5); err != nil {
		return err
	}
	d := pdu[1:]
	for len(d) > 0 {
		if len(d) < 4 || int(le16(d[2:])) > len(d)-4 {
			return malformed(OpMultipleHandleValueNtf, "truncated handle length value tuple")
		}
		d = d[4+int(le16(d[2:])):]
	}
	r.Data = pdu[1:]
	return nil
}

// Add appends one tuple.
func (r *MultipleHandleValueNtf) Add(handle uint16, value []byte) {
	r.Data = append(put16(put16(r.Data, handle), uint16(len(value))), value...)
}

// All iterates over the handle–value tuples.
func (r MultipleHandleValueNtf) All() iter.Seq2[uint16, []byte] {
	return func(yield func(uint16, []byte) bool) {
		d := r.Data
		for len(d) >= 4 {
			h, n := le16(d), int(le16(d[2:]))
			d = d[4:]
			n = min(n, len(d))
			if !yield(h, d[:n]) {
				return
			}
			d = d[n:]
		}
	}
}

// All iterates over the triples as (handle, end group handle, value) via yield.
func (r ReadByGroupTypeRsp) All() iter.Seq2[uint16, GroupEntry] {
	return func(yield func(uint16, GroupEntry) bool) {
		for i := range r.Len() {
			h, end, v := r.Entry(i)
			if !yield(h, GroupEntry{EndGroup: end, Value: v}) {
				return
			}
		}
	}
}

// GroupEntry is the end group handle and value of one Read By Group Type Response entry.
type GroupEntry struct {
	EndGroup uint16
	Value    []byte
}
