package bgapi

import (
	"errors"
	"fmt"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
)

// ErrConnectionLimit: every connection slot of the dongle is in use (BGAPI result 0x0209
// connection_limit_exceeded; the stock BLED112 firmware has 3 slots, docs/bgapi-protocol.md
// §Connections). The *Error of a refused connect_direct matches it, and so does gogatt.ErrBusy.
var ErrConnectionLimit = errors.New("bgapi: all connection slots in use")

// Error is a non-zero BGAPI result: a command's response said the command failed, or a
// procedure ended with a stack, controller or SMP error (BLE SDK 1.x API reference §5.11). ATT
// errors from the peer (0x04xx) are reported as *gogatt.ATTError instead.
//
// errors.Is(err, &Error{Result: r}) and errors.Is(err, r) match any Error with result r; common results also match
// gogatt's sentinels: invalid_param → ErrInvalidParameter, wrong_state → ErrBusy,
// timeout → ErrTimeout, not_connected → ErrNotConnected, connection_limit_exceeded →
// ErrConnectionLimit and ErrBusy.
type Error struct {
	Command    string      // the BGAPI command, e.g. "attclient_read_by_handle"
	Connection int         // the connection handle, -1 when none
	Result     wire.Result // the result code; Result.String() is the API reference's name
}

// Error names the command, the connection and the result (name and code).
func (e *Error) Error() string {
	if e.Connection >= 0 {
		return fmt.Sprintf("bgapi: %s (connection %d): %s (0x%04x)", e.Command, e.Connection, e.Result, uint16(e.Result))
	}
	return fmt.Sprintf("bgapi: %s: %s (0x%04x)", e.Command, e.Result, uint16(e.Result))
}

// Is matches another *Error with the same result (and command, when the target names one), and
// the sentinels listed on the type.
func (e *Error) Is(target error) bool {
	switch t := target.(type) {
	case *Error:
		return t.Result == e.Result && (t.Command == "" || t.Command == e.Command)
	case wire.Result:
		return t == e.Result
	}
	switch e.Result {
	case wire.ResultInvalidParam:
		return target == gogatt.ErrInvalidParameter
	case wire.ResultWrongState:
		return target == gogatt.ErrBusy
	case wire.ResultTimeout:
		return target == gogatt.ErrTimeout
	case wire.ResultNotConnected:
		return target == gogatt.ErrNotConnected
	case wire.ResultConnectionLimitExceeded:
		return target == ErrConnectionLimit || target == gogatt.ErrBusy
	}
	return false
}

// resultError turns a non-zero result into an error: *gogatt.ATTError for ATT codes (0x04xx,
// the low byte is the ATT error code of Core v5.3 Vol 3 Part F §3.4.1.1), *Error otherwise.
func resultError(cmd, op string, connection int, handle uint16, r wire.Result) error {
	if r == wire.ResultSuccess {
		return nil
	}
	if code, ok := r.ATT(); ok {
		return &gogatt.ATTError{Op: op, Handle: handle, Code: code}
	}
	return &Error{Command: cmd, Connection: connection, Result: r}
}

// disconnectReason names a connection_disconnected reason (docs/bgapi-protocol.md
// §Connections).
func disconnectReason(r wire.Result) string {
	switch r {
	case 0:
		return "closed by local host"
	case wire.ResultConnectionTimeout:
		return "connection timeout (supervision, link lost)"
	case wire.ResultRemoteUserTerminated:
		return "remote user terminated connection"
	case wire.ResultConnectionTerminatedByLocalHost:
		return "closed by local host"
	case wire.ResultConnectionFailedToBeEstablished:
		return "connection failed to be established"
	}
	return r.String()
}
