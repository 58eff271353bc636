package bluez

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
)

// A bus policy that refuses the call is a permission problem, as for a serial port the user may
// not open, not a missing adapter; anything else is.
func TestAdapterError(t *testing.T) {
	denied := adapterError("hci0", dbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied", Body: []any{"Rejected send message"}})
	if !errors.Is(denied, fs.ErrPermission) || errors.Is(denied, gogatt.ErrNoAdapter) {
		t.Errorf("AccessDenied: %v", denied)
	}
	missing := adapterError("hci1", dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownObject"})
	if !errors.Is(missing, gogatt.ErrNoAdapter) || errors.Is(missing, fs.ErrPermission) {
		t.Errorf("UnknownObject: %v", missing)
	}
}
