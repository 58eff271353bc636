package parse

import (
	"strings"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
)

// CtlKind classifies one line of bluetoothctl (docs/bluez-tools.md §bluetoothctl).
type CtlKind int

// bluetoothctl line kinds.
const (
	CtlUnknown           CtlKind = iota
	CtlWaiting                   // "Waiting to connect to bluetoothd..."
	CtlAgentRegistered           // "Agent registered"
	CtlAgentUnregistered         // "Agent unregistered"
	CtlRemoved                   // "Device has been removed"
	CtlEvent                     // "[NEW] Device AA:… Alias", "[DEL] …", "[CHG] …" (Event, Object)
	CtlDevice                    // "Device AA:… Alias" (the devices listing)
	CtlNotAvailable              // "Device AA:… not available"
	CtlNoController              // "No default controller available"
	CtlMissingArgument           // "Missing dev argument"
	CtlFailed                    // "Failed to remove device[: org.bluez.Error.X]"
	CtlInvalidArgument           // "Invalid argument X"
	CtlInvalidCommand            // "Invalid command in menu main: X"
	CtlNoBus                     // libdbus assertion: no system bus at all (§Without bluetoothd)
)

// CtlLine is one classified bluetoothctl line.
type CtlLine struct {
	Kind CtlKind
	// Event is "NEW", "DEL" or "CHG" for CtlEvent; Object is the word after it ("Device",
	// "Controller", …).
	Event, Object string
	// Address of CtlEvent (when Object is Device or Controller), CtlDevice and CtlNotAvailable.
	Address bt.Address
	HasAddr bool
	// Alias (or "<unknown>") of CtlDevice and device events; the rest of the line otherwise.
	Alias string
	// Text is the whole line, and for CtlFailed the D-Bus error name if any.
	Text string
}

// ParseBluetoothctl classifies one cleaned line of bluetoothctl output (docs/bluez-tools.md
// §bluetoothctl).
func ParseBluetoothctl(s string) CtlLine {
	t := strings.TrimSpace(s)
	l := CtlLine{Text: t}
	switch {
	case t == "":
		return l
	case strings.HasPrefix(t, "Waiting to connect to bluetoothd"):
		l.Kind = CtlWaiting
	case t == "Agent registered":
		l.Kind = CtlAgentRegistered
	case t == "Agent unregistered":
		l.Kind = CtlAgentUnregistered
	case t == "Device has been removed":
		l.Kind = CtlRemoved
	case t == "No default controller available":
		l.Kind = CtlNoController
	case t == "Missing dev argument":
		l.Kind = CtlMissingArgument
	case strings.HasPrefix(t, "Failed to remove device"):
		l.Kind = CtlFailed
		l.Text = strings.TrimPrefix(strings.TrimPrefix(t, "Failed to remove device"), ": ")
	case strings.HasPrefix(t, "Invalid argument "):
		l.Kind = CtlInvalidArgument
	case strings.HasPrefix(t, "Invalid command in menu"):
		l.Kind = CtlInvalidCommand
	case strings.HasPrefix(t, "dbus[") && strings.Contains(t, "assertion"):
		l.Kind = CtlNoBus
	case len(t) > 6 && t[0] == '[' && t[4] == ']' && t[5] == ' ':
		l.Kind = CtlEvent
		l.Event = t[1:4]
		rest := t[6:]
		obj, after, _ := strings.Cut(rest, " ")
		l.Object = obj
		if a, tail, ok := cutAddress(after); ok {
			l.Address, l.HasAddr, l.Alias = a, true, tail
		} else {
			l.Alias = after
		}
	case strings.HasPrefix(t, "Device "):
		a, tail, ok := cutAddress(t[len("Device "):])
		if !ok {
			return l
		}
		l.Address, l.HasAddr = a, true
		if tail == "not available" {
			l.Kind = CtlNotAvailable
		} else {
			l.Kind = CtlDevice
			l.Alias = tail
		}
	}
	return l
}

func cutAddress(s string) (bt.Address, string, bool) {
	if len(s) < 17 || (len(s) > 17 && s[17] != ' ') {
		return bt.Address{}, s, false
	}
	a, err := bt.ParseAddress(s[:17])
	if err != nil {
		return a, s, false
	}
	if len(s) == 17 {
		return a, "", true
	}
	return a, s[18:], true
}

// Err gives the typed error of a failure line of `bluetoothctl remove` or `devices`, nil
// otherwise.
func (l CtlLine) Err(op string) error {
	switch l.Kind {
	case CtlNotAvailable:
		return NewToolError("bluetoothctl", op, l.Text, gogatt.ErrNotFound)
	case CtlNoController:
		return NewToolError("bluetoothctl", op, l.Text, gogatt.ErrNoAdapter)
	case CtlFailed:
		msg := "Failed to remove device"
		if l.Text != "" {
			msg += ": " + l.Text
		}
		var s error
		switch {
		case strings.HasSuffix(l.Text, ".DoesNotExist"):
			s = gogatt.ErrNotFound
		case strings.HasSuffix(l.Text, ".InvalidArguments"):
			s = gogatt.ErrInvalidParameter
		case strings.HasSuffix(l.Text, ".NotReady"):
			s = gogatt.ErrNoAdapter
		}
		return NewToolError("bluetoothctl", op, msg, s)
	case CtlMissingArgument, CtlInvalidArgument, CtlInvalidCommand:
		return NewToolError("bluetoothctl", op, l.Text, gogatt.ErrInvalidParameter)
	case CtlNoBus:
		return NewToolError("bluetoothctl", op, "no system D-Bus: "+l.Text, gogatt.ErrNoAdapter)
	}
	return nil
}
