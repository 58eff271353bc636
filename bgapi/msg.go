package bgapi

import (
	"fmt"

	"github.com/gogatt/gogatt/bgapi/wire"
)

// unmarshaler is a typed wire message decoded in place; array fields alias the payload.
type unmarshaler interface{ UnmarshalPayload([]byte) error }

// decode decodes payload into m, naming the message on error.
func decode(name string, payload []byte, m unmarshaler) error {
	if err := m.UnmarshalPayload(payload); err != nil {
		return fmt.Errorf("bgapi: %s: malformed payload: %w", name, err)
	}
	return nil
}

// procResult extracts the result of an attclient procedure command's response. Every attclient
// response that echoes the connection (all but indicate_confirm's) is `connection u8, result
// u16` (BLE SDK 1.x API reference §5.1.1), and "a non-zero result means the procedure did not
// start", so one typed decode serves them all.
func procResult(m wire.Message, payload []byte) wire.Result {
	info, _ := wire.Lookup(wire.KindResponse, m.Class(), m.ID())
	if m.Class() != wire.ClassAttclient || !info.EchoesConnection {
		return wire.ResultInvalidParam
	}
	var x wire.RspAttclientReadByHandle // the shared (connection, result) layout
	if err := x.UnmarshalPayload(payload); err != nil {
		return wire.ResultInvalidParam
	}
	return x.Result
}
