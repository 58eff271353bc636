package bluez

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
)

// Error is a D-Bus error returned by bluetoothd (or by the bus), as received: its D-Bus error
// name (e.g. "org.bluez.Error.NotPermitted") and message text. errors.As finds it in the
// errors of the backend; errors.Is matches the gogatt sentinel or *gogatt.ATTError it maps to
// (see mapError).
type Error struct {
	Op   string // the operation, e.g. "read", "connect"
	Name string // the D-Bus error name
	Text string // the message text, e.g. "Read not permitted"

	mapped error // the sentinel or *gogatt.ATTError, nil if none
}

func (e *Error) Error() string {
	s := fmt.Sprintf("bluez: %s: %s: %s", e.Op, e.Name, e.Text)
	if e.mapped != nil {
		s += " (" + e.mapped.Error() + ")"
	}
	return s
}

// Unwrap returns what the D-Bus error means in gogatt's terms.
func (e *Error) Unwrap() error { return e.mapped }

// attPrefix is the message bluetoothd gives an ATT error it has no D-Bus error name for.
const attPrefix = "Operation failed with ATT error: 0x"

// mapError turns a D-Bus error of operation op on handle into the backend's error. bluetoothd
// keeps few ATT codes (create_gatt_dbus_error in src/gatt-client.c, BlueZ 5.66):
//
//   - org.bluez.Error.NotPermitted "Read not permitted" / "Write not permitted": ATT 0x02 / 0x03;
//   - org.bluez.Error.NotPermitted "Not paired": one of Insufficient Authentication (0x05),
//     Insufficient Encryption Key Size (0x0c) or Insufficient Encryption (0x0f); reported as 0x05;
//   - org.bluez.Error.InvalidArguments "Invalid offset" / "Invalid Length": 0x07 / 0x0d;
//   - org.bluez.Error.Failed "Operation failed with ATT error: 0xNN": NN;
//   - "Not connected", org.bluez.Error.NotConnected and an object that no longer exists:
//     gogatt.ErrNotConnected; org.bluez.Error.InProgress: gogatt.ErrBusy;
//     org.bluez.Error.NotSupported: gogatt.ErrUnsupported;
//   - pairing (Device1.Pair, doc/device-api.txt): org.bluez.Error.AuthenticationTimeout:
//     gogatt.ErrTimeout; org.bluez.Error.ConnectionAttemptFailed: gogatt.ErrNotConnected;
//     AuthenticationFailed, AuthenticationRejected and AuthenticationCanceled have no sentinel
//     (errors.As an *Error and test its Name).
func mapError(op string, handle uint16, err error) error {
	var de dbus.Error
	var dep *dbus.Error
	switch {
	case errors.As(err, &dep):
		de = *dep
	case errors.As(err, &de):
	default:
		if errors.Is(err, dbus.ErrClosed) {
			return fmt.Errorf("bluez: %s: %w: %w", op, gogatt.ErrNotConnected, err)
		}
		return fmt.Errorf("bluez: %s: %w", op, err)
	}
	e := &Error{Op: op, Name: de.Name}
	if len(de.Body) > 0 {
		e.Text, _ = de.Body[0].(string)
	}
	attErr := func(c att.ErrorCode) error { return &gogatt.ATTError{Op: op, Handle: handle, Code: c} }
	switch {
	case e.Name == "org.bluez.Error.NotPermitted" && strings.EqualFold(e.Text, "Read not permitted"):
		e.mapped = attErr(att.ErrReadNotPermitted)
	case e.Name == "org.bluez.Error.NotPermitted" && strings.EqualFold(e.Text, "Write not permitted"):
		e.mapped = attErr(att.ErrWriteNotPermitted)
	case e.Name == "org.bluez.Error.NotPermitted" && strings.EqualFold(e.Text, "Not paired"):
		e.mapped = attErr(att.ErrInsufficientAuthentication)
	case e.Name == "org.bluez.Error.InvalidArguments" && strings.EqualFold(e.Text, "Invalid offset"):
		e.mapped = attErr(att.ErrInvalidOffset)
	case e.Name == "org.bluez.Error.InvalidArguments" && strings.EqualFold(e.Text, "Invalid Length"):
		e.mapped = attErr(att.ErrInvalidAttributeValueLength)
	case e.Name == "org.bluez.Error.Failed" && strings.HasPrefix(e.Text, attPrefix):
		if c, perr := strconv.ParseUint(strings.TrimPrefix(e.Text, attPrefix), 16, 8); perr == nil {
			e.mapped = attErr(att.ErrorCode(c))
		}
	case e.Name == "org.bluez.Error.NotConnected",
		e.Name == "org.bluez.Error.Failed" && strings.EqualFold(e.Text, "Not connected"),
		e.Name == "org.freedesktop.DBus.Error.UnknownObject",
		e.Name == "org.freedesktop.DBus.Error.NoSuchObject", // godbus's name for it
		e.Name == "org.freedesktop.DBus.Error.UnknownMethod" && strings.Contains(e.Text, "doesn't exist"):
		e.mapped = gogatt.ErrNotConnected
	case e.Name == "org.bluez.Error.InProgress":
		e.mapped = gogatt.ErrBusy
	case e.Name == "org.bluez.Error.AuthenticationTimeout":
		e.mapped = gogatt.ErrTimeout
	case e.Name == "org.bluez.Error.ConnectionAttemptFailed":
		e.mapped = gogatt.ErrNotConnected
	case e.Name == "org.bluez.Error.NotSupported":
		e.mapped = gogatt.ErrUnsupported
	case e.Name == "org.freedesktop.DBus.Error.ServiceUnknown":
		e.mapped = gogatt.ErrNoAdapter
	}
	return e
}
