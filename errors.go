package gogatt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gogatt/gogatt/att"
)

// Sentinel errors. Backends wrap them with %w, so test with errors.Is.
var (
	// ErrNotConnected: the device is not (or no longer) connected. pygatt: NotConnectedError.
	ErrNotConnected = errors.New("gogatt: not connected")
	// ErrTimeout: an operation did not finish in time. errors.Is(err, context.DeadlineExceeded)
	// also holds for every timeout error gogatt returns.
	ErrTimeout error = timeoutError{}
	// ErrUnsupported: the backend cannot do this operation.
	ErrUnsupported = errors.New("gogatt: operation not supported by this backend")
	// ErrNoAdapter: no adapter (dongle, HCI device) was found.
	ErrNoAdapter = errors.New("gogatt: no BLE adapter found")
	// ErrNotStarted: the backend has not been started, or has been stopped.
	ErrNotStarted = errors.New("gogatt: backend not started")
	// ErrInvalidParameter: a caller-supplied value was rejected before reaching the wire.
	ErrInvalidParameter = errors.New("gogatt: invalid parameter")
	// ErrNotFound: no characteristic or descriptor matches.
	ErrNotFound = errors.New("gogatt: not found")
	// ErrBusy: the adapter is busy with another procedure of the same kind (e.g. a scan).
	ErrBusy = errors.New("gogatt: adapter busy")
	// ErrNotSerialPort: the path given as the adapter's serial port names something else: a
	// regular file, a directory, or a device that is not a terminal (such as /dev/null).
	// Opening it again will not help; pass the adapter's port.
	ErrNotSerialPort = errors.New("gogatt: not a serial port")
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "gogatt: timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// Is makes errors.Is(ErrTimeout, context.DeadlineExceeded) true.
func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// ATTError is an Error Response from the peer's ATT server (Core v5.3 Vol 3 Part F §3.4.1.1).
// pygatt reports these as BGAPIError or BLEError.
type ATTError struct {
	Op     string        // the operation, e.g. "read", "write", "subscribe"
	Handle uint16        // the attribute handle the error concerns
	Code   att.ErrorCode // the ATT error code
}

// Error describes the operation, handle and code, e.g.
// "gogatt: read handle 0x0003: ATT error 0x02 (Read Not Permitted)".
func (e *ATTError) Error() string {
	return fmt.Sprintf("gogatt: %s handle 0x%04x: ATT error 0x%02x (%s)", e.Op, e.Handle, uint8(e.Code), e.Code)
}

// Is lets errors.Is(err, &ATTError{Code: c}) match any ATTError with code c.
func (e *ATTError) Is(target error) bool {
	t, ok := target.(*ATTError)
	return ok && t.Code == e.Code && (t.Handle == 0 || t.Handle == e.Handle) && (t.Op == "" || t.Op == e.Op)
}

// AmbiguousUUIDError says a characteristic UUID occurs more than once; use a service-qualified
// lookup (LookupCharacteristicIn) or a handle instead.
type AmbiguousUUIDError struct {
	UUID       UUID             // the characteristic UUID looked up
	Candidates []Characteristic // every characteristic with that UUID, in handle order
	Services   []UUID           // the service of each candidate, same order
}

// Error names every candidate's value handle and service.
func (e *AmbiguousUUIDError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gogatt: characteristic %s is ambiguous: %d candidates (", e.UUID, len(e.Candidates))
	for i, c := range e.Candidates {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "value handle 0x%04x", c.ValueHandle)
		if i < len(e.Services) {
			fmt.Fprintf(&b, " in service %s", e.Services[i])
		}
	}
	b.WriteString("); qualify it with its service or use its handle")
	return b.String()
}

// DisconnectError says why a link is gone. It matches ErrNotConnected.
type DisconnectError struct {
	Address string
	Reason  string // human-readable reason, e.g. "connection timeout (supervision)"
	Code    int    // backend-specific reason code (BGAPI result / HCI reason), 0 if none
	Local   bool   // true when this side closed the link (Disconnect, Stop)
	Err     error  // underlying cause, if any
}

// Error gives the address, the reason and, if known, the code and the cause.
func (e *DisconnectError) Error() string {
	s := fmt.Sprintf("gogatt: %s disconnected: %s", e.Address, e.Reason)
	if e.Code != 0 {
		s += fmt.Sprintf(" (0x%04x)", e.Code)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes every DisconnectError match ErrNotConnected.
func (e *DisconnectError) Is(target error) bool { return target == ErrNotConnected }

// Unwrap returns the underlying cause.
func (e *DisconnectError) Unwrap() error { return e.Err }
