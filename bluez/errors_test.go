package bluez

import (
	"errors"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
)

// TestMapError: each D-Bus error bluetoothd sends for a GATT operation (create_gatt_dbus_error
// in src/gatt-client.c, BlueZ 5.66) matches the gogatt error it stands for, and keeps its name
// and text in *Error.
func TestMapError(t *testing.T) {
	attErr := func(c att.ErrorCode) error { return &gogatt.ATTError{Code: c} }
	for _, tc := range []struct {
		name, text string
		want       error
	}{
		{"org.bluez.Error.NotPermitted", "Read not permitted", attErr(att.ErrReadNotPermitted)},
		{"org.bluez.Error.NotPermitted", "Write not permitted", attErr(att.ErrWriteNotPermitted)},
		{"org.bluez.Error.NotPermitted", "Not paired", attErr(att.ErrInsufficientAuthentication)},
		{"org.bluez.Error.InvalidArguments", "Invalid offset", attErr(att.ErrInvalidOffset)},
		{"org.bluez.Error.InvalidArguments", "Invalid Length", attErr(att.ErrInvalidAttributeValueLength)},
		{"org.bluez.Error.Failed", "Operation failed with ATT error: 0x80", attErr(0x80)},
		{"org.bluez.Error.Failed", "Operation failed with ATT error: 0x0e", attErr(att.ErrUnlikelyError)},
		{"org.bluez.Error.Failed", "Not connected", gogatt.ErrNotConnected},
		{"org.bluez.Error.NotConnected", "Not Connected", gogatt.ErrNotConnected},
		{"org.freedesktop.DBus.Error.UnknownObject", "Unknown object '/org/bluez/hci0/dev_X/service0001/char0002'", gogatt.ErrNotConnected},
		{"org.bluez.Error.InProgress", "In Progress", gogatt.ErrBusy},
		{"org.bluez.Error.NotSupported", "Operation is not supported", gogatt.ErrUnsupported},
		{"org.freedesktop.DBus.Error.ServiceUnknown", "The name org.bluez was not provided by any .service files", gogatt.ErrNoAdapter},
		{"org.bluez.Error.AuthenticationTimeout", "Authentication Timeout", gogatt.ErrTimeout},
		{"org.bluez.Error.ConnectionAttemptFailed", "Page Timeout", gogatt.ErrNotConnected},
	} {
		err := mapError("read", 0x0003, dbus.Error{Name: tc.name, Body: []any{tc.text}})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s %q = %v, want a match for %v", tc.name, tc.text, err, tc.want)
		}
		var e *Error
		if !errors.As(err, &e) || e.Name != tc.name || e.Text != tc.text || e.Op != "read" {
			t.Errorf("%s %q: *Error = %+v", tc.name, tc.text, e)
		}
		var ae *gogatt.ATTError
		if errors.As(err, &ae) && (ae.Handle != 0x0003 || ae.Op != "read") {
			t.Errorf("%s %q: ATTError = %+v, want handle 0x0003, op read", tc.name, tc.text, ae)
		}
	}
	// Errors bluetoothd has no mapping for stay *Error only.
	err := mapError("read", 1, dbus.Error{Name: "org.bluez.Error.Failed", Body: []any{"Operation failed with ATT error: 0xzz"}})
	var ae *gogatt.ATTError
	if errors.As(err, &ae) {
		t.Errorf("malformed ATT text mapped to %v", ae)
	}
}
