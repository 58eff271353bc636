package bgapi

import (
	"fmt"

	"github.com/gogatt/gogatt/bgapi/wire"
)

// Event identities (class<<8 | id, BLE SDK 1.x API reference §5) the reader routes; payloads
// are decoded by package wire's typed messages.
const (
	evSystemBoot         = 0x00_00
	evConnectionStatus   = 0x03_00
	evDisconnected       = 0x03_04
	evProcedureCompleted = 0x04_01
	evGroupFound         = 0x04_02
	evFindInfoFound      = 0x04_04
	evAttributeValue     = 0x04_05
	evBondingFail        = 0x05_01
	evPasskeyDisplay     = 0x05_02
	evPasskeyRequest     = 0x05_03
	evBondStatus         = 0x05_04
	evScanResponse       = 0x06_00
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
// response but indicate_confirm's is `connection u8, result u16` (BLE SDK 1.x API reference
// §5.1.1), and "a non-zero result means the procedure did not start", so one typed decode
// serves them all.
func procResult(m wire.Message, payload []byte) wire.Result {
	if c, id := m.Class(), m.ID(); c != wire.ClassAttclient || id == (wire.CmdAttclientIndicateConfirm{}).ID() {
		return wire.ResultInvalidParam
	}
	var x wire.RspAttclientReadByHandle // the shared (connection, result) layout
	if err := x.UnmarshalPayload(payload); err != nil {
		return wire.ResultInvalidParam
	}
	return x.Result
}
