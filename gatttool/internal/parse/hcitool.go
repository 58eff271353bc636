package parse

import (
	"os"
	"strings"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
)

// ScanKind classifies one line of `hcitool lescan` (docs/bluez-tools.md §hcitool lescan).
type ScanKind int

// hcitool lescan line kinds.
const (
	ScanUnknown ScanKind = iota // anything else (usage text, a "^C" echo, blank)
	ScanStarted                 // "LE Scan ..."
	ScanReport                  // "AA:BB:CC:DD:EE:FF Name" or "… (unknown)"
	ScanError                   // one of docs/bluez-tools.md §lescan errors; ScanLine.Err is set
)

// ScanLine is one classified lescan line.
type ScanLine struct {
	Kind    ScanKind
	Address bt.Address
	// Name is the advertised name, "" when hcitool printed "(unknown)".
	Name    string
	HasName bool
	// Err is the typed error of a ScanError line (a *ToolError).
	Err error
	// Fatal is true for errors after which hcitool exits (all of docs/bluez-tools.md §lescan
	// errors except a failing "Disable scan", which comes at the very end anyway).
	Fatal bool
	Text  string
}

// ParseLescan classifies one cleaned line of `hcitool -i hciX lescan` (docs/bluez-tools.md
// §lescan output, §lescan errors).
func ParseLescan(s string) ScanLine {
	t := strings.TrimRight(s, " \t")
	switch {
	case t == "LE Scan ...":
		return ScanLine{Kind: ScanStarted}
	case len(t) >= 17 && (len(t) == 17 || t[17] == ' '):
		a, err := bt.ParseAddress(t[:17])
		if err != nil {
			break
		}
		l := ScanLine{Kind: ScanReport, Address: a}
		if len(t) > 18 {
			// The name is printed raw (docs/bluez-tools.md §lescan output); only the trailing
			// newline separates it.
			name := s[18:]
			if name != "(unknown)" {
				l.Name, l.HasName = name, true
			}
		}
		return l
	}
	if err, ok := lescanError(t); ok {
		return ScanLine{Kind: ScanError, Err: err, Fatal: !strings.HasPrefix(t, "Disable scan failed"), Text: t}
	}
	return ScanLine{Kind: ScanUnknown, Text: s}
}

// lescanError maps the error messages of docs/bluez-tools.md §lescan errors to typed errors.
func lescanError(t string) (error, bool) {
	te := func(causes ...error) (error, bool) { return NewToolError("hcitool", "lescan", t, causes...), true }
	switch {
	case strings.HasPrefix(t, "Invalid device: ") || strings.HasPrefix(t, "Could not open device: "):
		// No such device, Network is down (adapter down), Address family not supported
		// (no Bluetooth in the kernel): in every case there is no usable adapter.
		return te(gogatt.ErrNoAdapter)
	case strings.HasPrefix(t, "Set scan parameters failed: ") || strings.HasPrefix(t, "Enable scan failed: "):
		switch {
		case strings.HasSuffix(t, "Input/output error"):
			// The controller refused (Command Disallowed): typically a scan still enabled by
			// a killed hcitool (docs/bluez-tools.md §Stopping lescan).
			return te(gogatt.ErrBusy)
		case strings.HasSuffix(t, "Connection timed out"):
			return te(gogatt.ErrTimeout)
		case strings.HasSuffix(t, "Operation not permitted"):
			return te(os.ErrPermission)
		}
		return te()
	case strings.HasPrefix(t, "Could not receive advertising events: "),
		strings.HasPrefix(t, "Disable scan failed: "):
		return te()
	case strings.HasPrefix(t, "Unknown command - "), t == "Unknown discovery procedure",
		strings.HasPrefix(t, "lescan: invalid option"), strings.HasPrefix(t, "lescan: unrecognized option"):
		return te(gogatt.ErrInvalidParameter)
	}
	return nil, false
}
