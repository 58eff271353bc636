package bluez

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
)

// Why Start failed, besides the gogatt sentinels (gogatt.ErrNoAdapter, fs.ErrPermission). Test
// with errors.Is; each of these errors also matches gogatt.ErrNoAdapter.
var (
	// ErrNoBus: no D-Bus daemon answers at the bus address (the socket is absent, or nothing
	// listens on it). The error names the address tried.
	ErrNoBus = errors.New("bluez: D-Bus bus not reachable")
	// ErrNoBluetoothd: the bus is there but nothing owns org.bluez on it: bluetoothd is not
	// running.
	ErrNoBluetoothd = errors.New("bluez: bluetoothd not running")
	// ErrPoweredOff: the adapter is powered off (Adapter1.Powered false) and Config.PowerOn is
	// not set, or powering it on failed.
	ErrPoweredOff = errors.New("bluez: adapter powered off")
	// ErrBlocked: powering the adapter on failed because rfkill blocks it.
	ErrBlocked = errors.New("bluez: adapter blocked by rfkill")
)

// AdapterNotFoundError says bluetoothd has no adapter of that name. It matches
// gogatt.ErrNoAdapter.
type AdapterNotFoundError struct {
	Adapter   string   // the adapter asked for, e.g. "hci1"
	Available []string // the adapters bluetoothd has, sorted; empty if none (or not known)
	Err       error    // the D-Bus error of the call on the adapter
}

// Error names the adapter and the adapters that exist.
func (e *AdapterNotFoundError) Error() string {
	have := "bluetoothd has no adapter"
	if len(e.Available) > 0 {
		have = "bluetoothd has " + strings.Join(e.Available, ", ")
	}
	return fmt.Sprintf("bluez: no adapter %s (%s)", e.Adapter, have)
}

// Is makes it match gogatt.ErrNoAdapter.
func (e *AdapterNotFoundError) Is(target error) bool { return target == gogatt.ErrNoAdapter }

// Unwrap returns the D-Bus error.
func (e *AdapterNotFoundError) Unwrap() error { return e.Err }

// startError is one of Start's errors: a message saying what to do, and the sentinels and cause
// it matches.
type startError struct {
	msg  string
	errs []error
}

func (e *startError) Error() string   { return e.msg }
func (e *startError) Unwrap() []error { return e.errs }

// Reachable reports whether bluetoothd can be reached: nil when something owns org.bluez on
// the bus (busAddress, or the system bus when empty: DBUS_SYSTEM_BUS_ADDRESS or the default
// socket). Otherwise it fails as Start would, with ErrNoBus or ErrNoBluetoothd. ctx bounds it
// all, the bus's authentication included.
func Reachable(ctx context.Context, busAddress string) error {
	addr := busAddressOr(busAddress)
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		return busError(addr, err)
	}
	defer conn.Close()
	var owned bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, bluezService).Store(&owned)
	if err != nil {
		return fmt.Errorf("bluez: asking the bus at %s for %s: %w", addr, bluezService, err)
	}
	if !owned {
		return noBluetoothd(addr, nil)
	}
	return nil
}

// noBluetoothd is ErrNoBluetoothd for the bus at addr, with the D-Bus error that said so (nil
// when the bus answered that org.bluez has no owner).
func noBluetoothd(addr string, cause error) error {
	msg := fmt.Sprintf("bluez: bluetoothd is not running: nothing owns org.bluez on the bus at %s; start it (systemctl start bluetooth)", addr)
	errs := []error{ErrNoBluetoothd, gogatt.ErrNoAdapter}
	if cause != nil {
		msg += ": " + dbusText(cause)
		errs = append(errs, cause)
	}
	return &startError{msg: msg, errs: errs}
}
