package sim

import (
	"bytes"
	"encoding/binary"

	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
)

// handle serves one PDU from the client and returns the response to send (in c.rsp), or nil.
// Every request gets its response or an Error Response (Core v5.3 Vol 3 Part F §3.4.1.1);
// commands, and PDUs that are neither requests nor commands, get nothing.
func (c *conn) handle(pdu []byte) []byte {
	op := att.Opcode(pdu[0])
	mtu := int(c.mtu.Load())
	if op.IsRequest() && len(pdu) > mtu {
		return c.errRsp(op, 0, att.ErrInvalidPDU)
	}
	switch op {
	case att.OpExchangeMTUReq:
		return c.exchangeMTU(pdu)
	case att.OpFindInformationReq:
		return c.findInformation(pdu, mtu)
	case att.OpFindByTypeValueReq:
		return c.findByTypeValue(pdu, mtu)
	case att.OpReadByTypeReq:
		return c.readByType(pdu, mtu)
	case att.OpReadReq:
		return c.read(pdu, mtu)
	case att.OpReadBlobReq:
		return c.readBlob(pdu, mtu)
	case att.OpReadMultipleReq:
		return c.readMultiple(pdu, mtu)
	case att.OpReadMultipleVariableReq:
		return c.readMultipleVariable(pdu, mtu)
	case att.OpReadByGroupTypeReq:
		return c.readByGroupType(pdu, mtu)
	case att.OpWriteReq:
		return c.writeReq(pdu)
	case att.OpWriteCmd:
		var r att.WriteCmd
		if r.Unmarshal(pdu) == nil {
			if a, code := c.writable(r.Handle); code == 0 {
				c.writeAttr(a, r.Value)
			}
		}
		return nil
	case att.OpSignedWriteCmd:
		// The signature (Core v5.3 Vol 3 Part H §2.4.5) is not verified: the simulator holds no
		// CSRK. Only characteristics with the authenticated-signed-writes property accept it.
		var r att.SignedWriteCmd
		if r.Unmarshal(pdu) == nil {
			if a := c.p.db().find(r.Handle); a != nil && a.kind == kindValue && a.ch.props&gatt.PropAuthenticatedSignedWrites != 0 && c.check(a, true) == 0 {
				c.writeAttr(a, r.Value)
			}
		}
		return nil
	case att.OpPrepareWriteReq:
		return c.prepareWrite(pdu)
	case att.OpExecuteWriteReq:
		return c.executeWrite(pdu)
	}
	if op.IsRequest() {
		return c.errRsp(op, 0, att.ErrRequestNotSupported)
	}
	return nil
}

func (c *conn) errRsp(op att.Opcode, h uint16, code att.ErrorCode) []byte {
	c.rsp = att.ErrorRsp{Request: op, Handle: h, Code: code}.Append(c.rsp[:0])
	return c.rsp
}

func (c *conn) invalidPDU(op att.Opcode) []byte { return c.errRsp(op, 0, att.ErrInvalidPDU) }

// response is an ATT response PDU.
type response interface{ Append(dst []byte) []byte }

// reply encodes rsp into the link's response buffer and returns it.
func reply[R response](c *conn, rsp R) []byte {
	c.rsp = rsp.Append(c.rsp[:0])
	return c.rsp
}

// replyList finishes the response to a handle-range request whose entries (in wire form) are
// data: Attribute Not Found, reported with the starting handle, when nothing was listed (Core
// v5.3 Vol 3 Part F §3.4.3.1, §3.4.3.3, §3.4.4.1, §3.4.4.9), else rsp. data is kept as the
// scratch buffer for the next request.
func replyList[R response](c *conn, op att.Opcode, start uint16, data []byte, rsp R) []byte {
	if len(data) == 0 {
		return c.errRsp(op, start, att.ErrAttributeNotFound)
	}
	c.scratch = data
	return reply(c, rsp)
}

// span validates a request's handle range and returns the attributes in it. A starting handle
// of 0 or above the ending handle is Invalid Handle (Core v5.3 Vol 3 Part F §3.4.3.1, §3.4.3.3,
// §3.4.4.1, §3.4.4.9), reported with the starting handle.
func (c *conn) span(start, end uint16) ([]*attr, att.ErrorCode) {
	if start == 0 || start > end {
		return nil, att.ErrInvalidHandle
	}
	return c.p.db().span(start, end), 0
}

// readable looks up handle h and reads its value for this link (readAttr): Invalid Handle
// for a handle the database does not hold, else readAttr's access error.
func (c *conn) readable(h uint16) (*attr, []byte, att.ErrorCode) {
	a := c.p.db().find(h)
	if a == nil {
		return nil, nil, att.ErrInvalidHandle
	}
	v, code := c.readAttr(a)
	return a, v, code
}

// writable looks up handle h and checks that this link may write it: Invalid Handle for a
// handle the database does not hold, else check's access error.
func (c *conn) writable(h uint16) (*attr, att.ErrorCode) {
	a := c.p.db().find(h)
	if a == nil {
		return nil, att.ErrInvalidHandle
	}
	return a, c.check(a, true)
}

func (c *conn) req(h uint16) Request {
	return Request{Central: c.central, Handle: h, Security: c.security()}
}

// check returns the error code for accessing a (Core v5.3 Vol 3 Part F §3.2.5, §4; Vol 3
// Part C §10.3): permission first, then authentication, encryption, authorization.
func (c *conn) check(a *attr, write bool) att.ErrorCode {
	need := a.readSec
	if write {
		if !a.write {
			return att.ErrWriteNotPermitted
		}
		need = a.writeSec
	} else if !a.read {
		return att.ErrReadNotPermitted
	}
	if need > SecurityNone {
		sec := c.security()
		if need >= SecurityAuthenticated && sec < SecurityAuthenticated {
			return att.ErrInsufficientAuthentication
		}
		if sec < SecurityEncrypted {
			return att.ErrInsufficientEncryption
		}
	}
	if a.authz && !c.p.authorized(c.central, a.handle) {
		return att.ErrInsufficientAuthorization
	}
	return 0
}

// readAttr checks permissions and returns a's value for this link.
func (c *conn) readAttr(a *attr) ([]byte, att.ErrorCode) {
	if code := c.check(a, false); code != 0 {
		return nil, code
	}
	switch {
	case a.kind == kindCCCD:
		return binary.LittleEndian.AppendUint16(nil, c.cccdValue(a.handle)), 0
	case a.onRead != nil:
		v, code := a.onRead(c.req(a.handle))
		if code != 0 {
			return nil, code
		}
		return v[:min(len(v), att.MaxAttributeLen)], 0
	}
	return c.p.stored(a), 0
}

// writeAttr stores a full value after the permission check (done by the caller).
func (c *conn) writeAttr(a *attr, v []byte) att.ErrorCode {
	if len(v) > a.maxLen {
		return att.ErrInvalidAttributeValueLength
	}
	if a.kind == kindCCCD {
		return c.writeCCCD(a, v)
	}
	if a.onWrite != nil {
		if code := a.onWrite(c.req(a.handle), v); code != 0 {
			return code
		}
	}
	c.p.store(a, append([]byte(nil), v...))
	return 0
}

// writeCCCD configures notifications (bit 0) and indications (bit 1) for this link (Core v5.3
// Vol 3 Part G §3.3.3.3). Bits the characteristic does not support are refused with CCCD
// Improperly Configured (Core Supplement Part B §1.2).
func (c *conn) writeCCCD(a *attr, v []byte) att.ErrorCode {
	if len(v) != 2 {
		return att.ErrInvalidAttributeValueLength
	}
	val := binary.LittleEndian.Uint16(v)
	var allowed uint16
	if a.ch.props&gatt.PropNotify != 0 {
		allowed |= 1
	}
	if a.ch.props&gatt.PropIndicate != 0 {
		allowed |= 2
	}
	if val&^allowed != 0 {
		return att.ErrCCCDImproperlyConfigured
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if val == 0 {
		delete(c.cccd, a.handle)
	} else {
		c.cccd[a.handle] = val
	}
	if a.ch.autoGen != nil {
		if val != 0 {
			c.startAuto(a.ch)
		} else {
			c.stopAuto(a.ch)
		}
	}
	return 0
}

// Exchange MTU, §3.4.2: the link's ATT_MTU becomes min(client Rx MTU, server Rx MTU), never
// below 23.
func (c *conn) exchangeMTU(pdu []byte) []byte {
	var r att.ExchangeMTUReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(att.OpExchangeMTUReq)
	}
	eff := max(att.DefaultMTU, min(int(r.ClientRxMTU), c.p.serverMTU))
	c.mtu.Store(int32(eff))
	return reply(c, att.ExchangeMTURsp{ServerRxMTU: uint16(c.p.serverMTU)})
}

// Find Information, §3.4.3.1–2.
func (c *conn) findInformation(pdu []byte, mtu int) []byte {
	const op = att.OpFindInformationReq
	var r att.FindInformationReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	attrs, code := c.span(r.StartHandle, r.EndHandle)
	if code != 0 {
		return c.errRsp(op, r.StartHandle, code)
	}
	rsp := att.FindInformationRsp{Data: c.scratch[:0]}
	for _, a := range attrs {
		size := 4
		if _, ok := a.typ.Is16(); !ok {
			size = 18
		}
		if 2+len(rsp.Data)+size > mtu || !rsp.Add(a.handle, a.typ) {
			break
		}
	}
	return replyList(c, op, r.StartHandle, rsp.Data, rsp)
}

// Find By Type Value, §3.4.3.3–4. Only readable attributes without security requirements and
// with a static value are compared; the group end is the service's end for service
// declarations and the found handle otherwise.
func (c *conn) findByTypeValue(pdu []byte, mtu int) []byte {
	const op = att.OpFindByTypeValueReq
	var r att.FindByTypeValueReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	attrs, code := c.span(r.StartHandle, r.EndHandle)
	if code != 0 {
		return c.errRsp(op, r.StartHandle, code)
	}
	typ := bt.UUID16(r.Type)
	rsp := att.FindByTypeValueRsp{Data: c.scratch[:0]}
	for _, a := range attrs {
		if a.typ != typ || a.kind == kindCCCD || a.onRead != nil || !a.read || a.readSec > SecurityNone || a.authz {
			continue
		}
		v := c.p.stored(a)
		match := bytes.Equal(v, r.Value)
		if !match && a.kind == kindService && len(r.Value) == 16 {
			u1, _ := bt.UUIDFromLE(v)
			u2, _ := bt.UUIDFromLE(r.Value)
			match = u1 == u2
		}
		if !match {
			continue
		}
		if 1+len(rsp.Data)+4 > mtu {
			break
		}
		end := a.handle
		if a.kind == kindService {
			end = a.end
		}
		rsp.Add(a.handle, end)
	}
	return replyList(c, op, r.StartHandle, rsp.Data, rsp)
}

// Read By Type, §3.4.4.1–2: consecutive attributes of the type whose values have the length
// of the first, each truncated to min(ATT_MTU−4, 253); an access error on the first is
// reported with its handle, on a later one ends the list.
func (c *conn) readByType(pdu []byte, mtu int) []byte {
	const op = att.OpReadByTypeReq
	var r att.ReadByTypeReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	attrs, code := c.span(r.StartHandle, r.EndHandle)
	if code != 0 {
		return c.errRsp(op, r.StartHandle, code)
	}
	maxV := min(mtu-4, 253)
	rsp := att.ReadByTypeRsp{Data: c.scratch[:0]}
	for _, a := range attrs {
		if a.typ != r.Type {
			continue
		}
		v, code := c.readAttr(a)
		if code != 0 {
			if len(rsp.Data) == 0 {
				return c.errRsp(op, a.handle, code)
			}
			break
		}
		v = v[:min(len(v), maxV)]
		if 2+len(rsp.Data)+2+len(v) > mtu || !rsp.Add(a.handle, v) {
			break
		}
	}
	return replyList(c, op, r.StartHandle, rsp.Data, rsp)
}

// Read By Group Type, §3.4.4.9–10: only the grouping types 0x2800 and 0x2801 are supported.
func (c *conn) readByGroupType(pdu []byte, mtu int) []byte {
	const op = att.OpReadByGroupTypeReq
	var r att.ReadByGroupTypeReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	attrs, code := c.span(r.StartHandle, r.EndHandle)
	if code != 0 {
		return c.errRsp(op, r.StartHandle, code)
	}
	if r.Type != gatt.UUIDPrimaryService && r.Type != gatt.UUIDSecondaryService {
		return c.errRsp(op, r.StartHandle, att.ErrUnsupportedGroupType)
	}
	maxV := min(mtu-6, 251)
	rsp := att.ReadByGroupTypeRsp{Data: c.scratch[:0]}
	for _, a := range attrs {
		if a.typ != r.Type {
			continue
		}
		v := a.value[:min(len(a.value), maxV)]
		if 2+len(rsp.Data)+4+len(v) > mtu || !rsp.Add(a.handle, a.end, v) {
			break
		}
	}
	return replyList(c, op, r.StartHandle, rsp.Data, rsp)
}

// Read, §3.4.4.3–4: the value truncated to ATT_MTU−1.
func (c *conn) read(pdu []byte, mtu int) []byte {
	const op = att.OpReadReq
	var r att.ReadReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	_, v, code := c.readable(r.Handle)
	if code != 0 {
		return c.errRsp(op, r.Handle, code)
	}
	return reply(c, att.ReadRsp{Value: v[:min(len(v), mtu-1)]})
}

// Read Blob, §3.4.4.5–6: Invalid Offset past the end (an offset equal to the length returns
// an empty part); Attribute Not Long for declarations and CCCDs, whose fixed values always fit.
func (c *conn) readBlob(pdu []byte, mtu int) []byte {
	const op = att.OpReadBlobReq
	var r att.ReadBlobReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	a, v, code := c.readable(r.Handle)
	if code != 0 {
		return c.errRsp(op, r.Handle, code)
	}
	if r.Offset > 0 && (a.kind == kindService || a.kind == kindCharDecl || a.kind == kindCCCD) {
		return c.errRsp(op, r.Handle, att.ErrAttributeNotLong)
	}
	if int(r.Offset) > len(v) {
		return c.errRsp(op, r.Handle, att.ErrInvalidOffset)
	}
	v = v[r.Offset:]
	return reply(c, att.ReadBlobRsp{Value: v[:min(len(v), mtu-1)]})
}

// Read Multiple, §3.4.4.7–8: the first failing handle is reported; values concatenated and
// truncated to ATT_MTU−1.
func (c *conn) readMultiple(pdu []byte, mtu int) []byte {
	const op = att.OpReadMultipleReq
	var r att.ReadMultipleReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	out := c.scratch[:0]
	for _, h := range r.Handles {
		_, v, code := c.readable(h)
		if code != 0 {
			return c.errRsp(op, h, code)
		}
		out = append(out, v...)
	}
	c.scratch = out
	return reply(c, att.ReadMultipleRsp{Values: out[:min(len(out), mtu-1)]})
}

// Read Multiple Variable Length, §3.4.4.11–12: length–value tuples, the last truncated to fit
// ATT_MTU−1.
func (c *conn) readMultipleVariable(pdu []byte, mtu int) []byte {
	const op = att.OpReadMultipleVariableReq
	var r att.ReadMultipleVariableReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	rsp := att.ReadMultipleVariableRsp{Data: c.scratch[:0]}
	for _, h := range r.Handles {
		_, v, code := c.readable(h)
		if code != 0 {
			return c.errRsp(op, h, code)
		}
		rsp.Add(v)
	}
	c.scratch = rsp.Data
	rsp.Data = rsp.Data[:min(len(rsp.Data), mtu-1)]
	return reply(c, rsp)
}

// Write Request, §3.4.5.1–2.
func (c *conn) writeReq(pdu []byte) []byte {
	const op = att.OpWriteReq
	var r att.WriteReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	a, code := c.writable(r.Handle)
	if code != 0 {
		return c.errRsp(op, r.Handle, code)
	}
	if code := c.writeAttr(a, r.Value); code != 0 {
		return c.errRsp(op, r.Handle, code)
	}
	return reply(c, att.WriteRsp{})
}

// Prepare Write, §3.4.6.1–2: handle, permission and security are checked now, offsets and
// lengths at execution; the queue holds at most the builder's PrepareQueueLimit writes.
func (c *conn) prepareWrite(pdu []byte) []byte {
	const op = att.OpPrepareWriteReq
	var r att.PrepareWriteReq
	if r.Unmarshal(pdu) != nil {
		return c.invalidPDU(op)
	}
	a, code := c.writable(r.Handle)
	if code != 0 {
		return c.errRsp(op, r.Handle, code)
	}
	c.mu.Lock()
	full := len(c.prep) >= c.p.prepLimit
	if !full {
		c.prep = append(c.prep, prepWrite{a: a, offset: int(r.Offset), value: append([]byte(nil), r.Value...)})
	}
	c.mu.Unlock()
	if full {
		return c.errRsp(op, r.Handle, att.ErrPrepareQueueFull)
	}
	return reply(c, att.PrepareWriteRsp(r))
}

// Execute Write, §3.4.6.3–4: with ExecuteWrite every queued part is applied in order to the
// attribute's current value (an offset past the value so far is Invalid Offset, a result
// longer than the maximum is Invalid Attribute Value Length, reported with the attribute's
// handle, nothing written); ExecuteCancel discards the queue. Either way the queue is emptied.
// Other flag values are an Invalid PDU.
func (c *conn) executeWrite(pdu []byte) []byte {
	const op = att.OpExecuteWriteReq
	var r att.ExecuteWriteReq
	if r.Unmarshal(pdu) != nil || r.Flags > att.ExecuteWrite {
		return c.invalidPDU(op)
	}
	c.mu.Lock()
	queue := c.prep
	c.prep = nil
	c.mu.Unlock()
	if r.Flags == att.ExecuteWrite {
		type pending struct {
			a *attr
			v []byte
		}
		var ps []pending
		for _, w := range queue {
			i := 0
			for ; i < len(ps); i++ {
				if ps[i].a == w.a {
					break
				}
			}
			if i == len(ps) {
				var cur []byte
				if w.a.kind == kindCCCD {
					cur = binary.LittleEndian.AppendUint16(nil, c.cccdValue(w.a.handle))
				} else {
					cur = append([]byte(nil), c.p.stored(w.a)...)
				}
				ps = append(ps, pending{a: w.a, v: cur})
			}
			if w.offset > len(ps[i].v) {
				return c.errRsp(op, w.a.handle, att.ErrInvalidOffset)
			}
			ps[i].v = append(ps[i].v[:w.offset], w.value...)
		}
		for _, pw := range ps {
			if len(pw.v) > pw.a.maxLen {
				return c.errRsp(op, pw.a.handle, att.ErrInvalidAttributeValueLength)
			}
		}
		for _, pw := range ps {
			if code := c.writeAttr(pw.a, pw.v); code != 0 {
				return c.errRsp(op, pw.a.handle, code)
			}
		}
	}
	return reply(c, att.ExecuteWriteRsp{})
}
