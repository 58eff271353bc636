package parse

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
)

// Kind classifies one line printed by gatttool (docs/bluez-tools.md §gatttool -I).
type Kind int

// Line kinds. Result kinds carry their fields in Line; error kinds also give Line.Err.
const (
	Unknown Kind = iota // anything else, including the echo of a typed command
	Empty               // blank line

	// Results (docs/bluez-tools.md §Result lines).
	Primary           // "attr handle: 0x0001, end grp handle: 0x0005 uuid: …"
	PrimaryRange      // "Starting handle: 0x0001 Ending handle: 0x0005" (primary <UUID>)
	Included          // "handle: 0x…, start handle: 0x…, end handle: 0x… uuid: …"
	NoIncluded        // "No included services found for this range"
	Characteristic    // "handle: 0x…, char properties: 0x…, char value handle: 0x…, uuid: …"
	Descriptor        // "handle: 0x…, uuid: …" (char-desc)
	Value             // "Characteristic value/descriptor: 01 02 "
	UUIDValue         // "handle: 0x… \t value: 01 02 " (char-read-uuid)
	Written           // "Characteristic value was written successfully"
	MTUExchanged      // "MTU was exchanged successfully: N"
	SecLevel          // "sec-level: low" (Text holds the level)
	AllowedSecLevels  // "Allowed values: low | medium | high"
	ChangeOnReconnect // "Change will take effect on reconnection"
	Usage             // "Usage: …"
	Help              // a row of the help table (docs/bluez-tools.md §Help table)

	// Connection (docs/bluez-tools.md §Connect, §Link loss, §MTU).
	Attempting   // "Attempting to connect to X" (Text holds X)
	Connected    // "Connection successful"
	Disconnected // GLib "… Invalid file descriptor." warning: the link is gone (§Link loss)
	MTUWarning   // "Can't detect MTU, using default: …" (stderr, §MTU)

	// Asynchronous values (docs/bluez-tools.md §Notifications).
	Notification // "Notification handle = 0x000c value: 48 65 "
	Indication   // "Indication   handle = 0x000c value: 48 65 "

	// Errors (docs/bluez-tools.md §Error lines). Line.Err gives the typed error.
	ATTErrorLine  // "Error: <procedure> failed: <ATT error text>" (§ATT error texts)
	ConnectError  // "Error: connect to …: … (111)", socket(…), l2cap_bind:, setsockopt(BT_SECURITY):
	NotConnected  // "Command Failed: Disconnected"
	CommandFailed // other "Command Failed: …" (MTU once per connection, LE only)
	ErrorLine     // other "Error: …" (no service found, invalid argument, command not found, …)
)

var kindNames = [...]string{"unknown", "empty", "primary", "primary-range", "included", "no-included",
	"characteristic", "descriptor", "value", "uuid-value", "written", "mtu", "sec-level",
	"allowed-sec-levels", "change-on-reconnect", "usage", "help", "attempting", "connected",
	"disconnected", "mtu-warning", "notification", "indication", "att-error", "connect-error",
	"not-connected", "command-failed", "error"}

// String names the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// IsError reports whether lines of kind k report a failure.
func (k Kind) IsError() bool { return k >= ATTErrorLine }

// Line is one classified gatttool line.
type Line struct {
	Kind Kind
	// Handle is the attribute handle of Primary (start), Included, Characteristic (declaration),
	// Descriptor, UUIDValue, Notification and Indication lines.
	Handle uint16
	// End is the end handle of Primary, PrimaryRange and Included lines; Start of Included and
	// PrimaryRange is in Start.
	Start, End uint16
	// ValueHandle and Properties of a Characteristic line.
	ValueHandle uint16
	Properties  uint8
	// UUID of Primary, Included (may be zero when gatttool printed none), Characteristic and
	// Descriptor lines.
	UUID bt.UUID
	// Value of Value, UUIDValue, Notification and Indication lines (nil for an empty value).
	Value []byte
	// MTU of an MTUExchanged line.
	MTU int
	// Procedure is the failing procedure of an ATTErrorLine, e.g.
	// "Characteristic value/descriptor read".
	Procedure string
	// Code is the ATT error code of an ATTErrorLine; CodeKnown is false for gatttool's
	// "Unexpected error code" (codes 0x12–0x7f, 0x83–0xff; att_ecode2str in attrib/att.c,
	// BlueZ 5.66).
	Code      att.ErrorCode
	CodeKnown bool
	// Errno of a ConnectError line, 0 if none was printed.
	Errno syscall.Errno
	// Text is the message of error lines (prefix removed) and the payload of SecLevel,
	// Attempting, Usage and Unknown lines.
	Text string
}

// ATT error texts of att_ecode2str (attrib/att.c, BlueZ 5.66) as the Debian binary prints them
// (docs/bluez-tools.md §ATT error texts).
var attTexts = map[string]att.ErrorCode{
	"Invalid handle":                                       0x01,
	"Attribute can't be read":                              0x02,
	"Attribute can't be written":                           0x03,
	"Attribute PDU was invalid":                            0x04,
	"Attribute requires authentication before read/write":  0x05,
	"Server doesn't support the request received":          0x06,
	"Offset past the end of the attribute":                 0x07,
	"Attribute requires authorization before read/write":   0x08,
	"Too many prepare writes have been queued":             0x09,
	"No attribute found within the given range":            0x0a,
	"Attribute can't be read/written using Read Blob Req":  0x0b,
	"Encryption Key Size is insufficient":                  0x0c,
	"Attribute value length is invalid":                    0x0d,
	"Request attribute has encountered an unlikely error":  0x0e,
	"Encryption required before read/write":                0x0f,
	"Attribute type is not a supported grouping attribute": 0x10,
	"Insufficient Resources to complete the request":       0x11,
	"Internal application error: I/O":                      0x80,
	"A timeout occurred":                                   0x81,
	"A timeout occured":                                    0x81, // upstream spelling
	"The operation was aborted":                            0x82,
}

// ATTCode maps an att_ecode2str text (docs/bluez-tools.md §ATT error texts) to its code. ok is
// false for unknown texts; known is false for "Unexpected error code", which gatttool prints for
// every code it has no text for.
func ATTCode(text string) (code att.ErrorCode, known, ok bool) {
	if c, found := attTexts[text]; found {
		return c, true, true
	}
	if text == "Unexpected error code" {
		return 0, false, true
	}
	return 0, false, false
}

const (
	errPrefix = "Error: "
	cmdFailed = "Command Failed: "
)

// ParseGatttool classifies one cleaned line of gatttool's interactive output (docs/bluez-tools.md
// §gatttool -I). It also accepts the non-interactive " = " forms (docs/bluez-tools.md
// §Non-interactive output). Lines it does not know are Unknown with Text set, never an error.
func ParseGatttool(s string) Line {
	t := strings.TrimRight(s, " ")
	if strings.TrimSpace(t) == "" {
		return Line{Kind: Empty}
	}
	switch {
	case strings.HasPrefix(t, "Notification handle = "):
		return parseHandleValue(Notification, t[len("Notification handle = "):], s)
	case strings.HasPrefix(t, "Indication   handle = "):
		return parseHandleValue(Indication, t[len("Indication   handle = "):], s)
	case strings.HasPrefix(t, "Characteristic value/descriptor:"):
		v, ok := parseHex(t[len("Characteristic value/descriptor:"):])
		if !ok {
			return unknown(s)
		}
		return Line{Kind: Value, Value: v}
	case t == "Characteristic value was written successfully":
		return Line{Kind: Written}
	case strings.HasPrefix(t, "MTU was exchanged successfully: "):
		n, err := strconv.Atoi(t[len("MTU was exchanged successfully: "):])
		if err != nil || n < 0 || n > 0xffff {
			return unknown(s)
		}
		return Line{Kind: MTUExchanged, MTU: n}
	case t == "Connection successful":
		return Line{Kind: Connected}
	case strings.HasPrefix(t, "Attempting to connect to "):
		return Line{Kind: Attempting, Text: t[len("Attempting to connect to "):]}
	case strings.HasPrefix(t, errPrefix):
		return parseError(t[len(errPrefix):])
	case strings.HasPrefix(t, cmdFailed):
		msg := t[len(cmdFailed):]
		if msg == "Disconnected" {
			return Line{Kind: NotConnected, Text: msg}
		}
		return Line{Kind: CommandFailed, Text: msg}
	case strings.HasPrefix(t, "(") && strings.Contains(t, "GLib") && strings.HasSuffix(t, "Invalid file descriptor."):
		return Line{Kind: Disconnected, Text: t}
	case strings.HasPrefix(t, "attr handle: ") || strings.HasPrefix(t, "attr handle = "):
		return parsePrimary(t, s)
	case strings.HasPrefix(t, "Starting handle: "):
		return parsePrimaryRange(t, s)
	case strings.HasPrefix(t, "handle: ") || strings.HasPrefix(t, "handle = "):
		return parseHandleLine(t, s)
	case t == "No included services found for this range":
		return Line{Kind: NoIncluded}
	case strings.HasPrefix(t, "sec-level: "):
		return Line{Kind: SecLevel, Text: t[len("sec-level: "):]}
	case t == "Allowed values: low | medium | high":
		return Line{Kind: AllowedSecLevels}
	case t == "Change will take effect on reconnection":
		return Line{Kind: ChangeOnReconnect}
	case strings.HasPrefix(t, "Usage: "):
		return Line{Kind: Usage, Text: t[len("Usage: "):]}
	case strings.HasPrefix(t, "Can't detect MTU, using default: "):
		return Line{Kind: MTUWarning, Text: t[len("Can't detect MTU, using default: "):]}
	case isHelpRow(t):
		return Line{Kind: Help, Text: t}
	}
	return unknown(s)
}

func unknown(s string) Line { return Line{Kind: Unknown, Text: s} }

var helpCommands = []string{"help ", "exit ", "quit ", "connect ", "disconnect ", "primary ", "included ",
	"characteristics ", "char-desc ", "char-read-hnd ", "char-read-uuid ", "char-write-req ",
	"char-write-cmd ", "sec-level ", "mtu "}

// isHelpRow recognises rows of the help table, "%-15s %-30s %s" (cmd_help in attrib/interactive.c,
// BlueZ 5.66): the command name, padding to column 16 and a description at column 47.
func isHelpRow(t string) bool {
	if len(t) < 48 || t[46] != ' ' || t[47] == ' ' {
		return false
	}
	for _, c := range helpCommands {
		if strings.HasPrefix(t, c) {
			return true
		}
	}
	return false
}

// parseError classifies the text after "Error: ".
func parseError(msg string) Line {
	if i := strings.LastIndex(msg, " failed: "); i >= 0 {
		if code, known, ok := ATTCode(msg[i+len(" failed: "):]); ok {
			return Line{Kind: ATTErrorLine, Procedure: msg[:i], Code: code, CodeKnown: known, Text: msg}
		}
	}
	if strings.HasPrefix(msg, "connect to ") || strings.HasPrefix(msg, "connect error: ") ||
		strings.HasPrefix(msg, "socket(") || strings.HasPrefix(msg, "l2cap_bind: ") ||
		strings.HasPrefix(msg, "setsockopt(") {
		return Line{Kind: ConnectError, Errno: trailingErrno(msg), Text: msg}
	}
	return Line{Kind: ErrorLine, Text: msg}
}

// trailingErrno extracts N from a message ending in " (N)".
func trailingErrno(msg string) syscall.Errno {
	if !strings.HasSuffix(msg, ")") {
		return 0
	}
	i := strings.LastIndex(msg, " (")
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(msg[i+2 : len(msg)-1])
	if err != nil || n <= 0 || n > 4095 {
		return 0
	}
	return syscall.Errno(n)
}

// parseHandleValue parses "0x000c value: 48 65 " of notification and indication lines.
func parseHandleValue(k Kind, rest, orig string) Line {
	h, rest, ok := cutHandle(rest)
	if !ok || !strings.HasPrefix(rest, " value:") {
		return unknown(orig)
	}
	v, ok := parseHex(rest[len(" value:"):])
	if !ok {
		return unknown(orig)
	}
	return Line{Kind: k, Handle: h, Value: v}
}

// parsePrimary: "attr handle: 0x0001, end grp handle: 0x0005 uuid: <uuid>" (or " = " forms).
func parsePrimary(t, orig string) Line {
	rest, _ := cutAny(t, "attr handle: ", "attr handle = ")
	h, rest, ok := cutHandle(rest)
	if !ok {
		return unknown(orig)
	}
	rest, ok = cutAny(rest, ", end grp handle: ", ", end grp handle = ")
	if !ok {
		return unknown(orig)
	}
	e, rest, ok := cutHandle(rest)
	if !ok {
		return unknown(orig)
	}
	rest, ok = cutAny(rest, " uuid: ")
	if !ok {
		return unknown(orig)
	}
	u, ok := parseUUID(rest)
	if !ok {
		return unknown(orig)
	}
	return Line{Kind: Primary, Handle: h, Start: h, End: e, UUID: u}
}

// parsePrimaryRange: "Starting handle: 0x0001 Ending handle: 0x0005" (interactive) or without
// 0x (non-interactive, docs/bluez-tools.md §Non-interactive output).
func parsePrimaryRange(t, orig string) Line {
	f := strings.Fields(t)
	if len(f) != 6 || f[1] != "handle:" || f[3] != "Ending" || f[4] != "handle:" {
		return unknown(orig)
	}
	a, ok1 := hex16(strings.TrimPrefix(f[2], "0x"))
	b, ok2 := hex16(strings.TrimPrefix(f[5], "0x"))
	if !ok1 || !ok2 {
		return unknown(orig)
	}
	return Line{Kind: PrimaryRange, Handle: a, Start: a, End: b}
}

// parseHandleLine handles the four line forms starting with "handle: 0x…".
func parseHandleLine(t, orig string) Line {
	rest, _ := cutAny(t, "handle: ", "handle = ")
	h, rest, ok := cutHandle(rest)
	if !ok {
		return unknown(orig)
	}
	switch {
	case strings.HasPrefix(rest, " \t value:"):
		v, ok := parseHex(rest[len(" \t value:"):])
		if !ok {
			return unknown(orig)
		}
		return Line{Kind: UUIDValue, Handle: h, Value: v}
	case strings.HasPrefix(rest, ", char properties: ") || strings.HasPrefix(rest, ", char properties = "):
		rest, _ = cutAny(rest, ", char properties: ", ", char properties = ")
		if len(rest) < 4 || rest[:2] != "0x" {
			return unknown(orig)
		}
		p, err := strconv.ParseUint(rest[2:4], 16, 8)
		if err != nil {
			return unknown(orig)
		}
		rest, ok = cutAny(rest[4:], ", char value handle: ", ", char value handle = ")
		if !ok {
			return unknown(orig)
		}
		vh, rest, ok := cutHandle(rest)
		if !ok {
			return unknown(orig)
		}
		rest, ok = cutAny(rest, ", uuid: ", ", uuid = ")
		if !ok {
			return unknown(orig)
		}
		u, ok := parseUUID(rest)
		if !ok {
			return unknown(orig)
		}
		return Line{Kind: Characteristic, Handle: h, ValueHandle: vh, Properties: uint8(p), UUID: u}
	case strings.HasPrefix(rest, ", start handle: "):
		st, r2, ok := cutHandle(rest[len(", start handle: "):])
		if !ok {
			return unknown(orig)
		}
		r2, ok = cutAny(r2, ", end handle: ")
		if !ok {
			return unknown(orig)
		}
		e, r2, ok := cutHandle(r2)
		if !ok {
			return unknown(orig)
		}
		l := Line{Kind: Included, Handle: h, Start: st, End: e}
		if r2, ok = cutAny(r2, " uuid: "); ok && r2 != "" {
			if l.UUID, ok = parseUUID(r2); !ok {
				return unknown(orig)
			}
		}
		return l
	case strings.HasPrefix(rest, ", uuid: ") || strings.HasPrefix(rest, ", uuid = "):
		rest, _ = cutAny(rest, ", uuid: ", ", uuid = ")
		u, ok := parseUUID(rest)
		if !ok {
			return unknown(orig)
		}
		return Line{Kind: Descriptor, Handle: h, UUID: u}
	}
	return unknown(orig)
}

func cutAny(s string, prefixes ...string) (string, bool) {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return s[len(p):], true
		}
	}
	return s, false
}

// cutHandle parses "0x%04x" at the start of s.
func cutHandle(s string) (uint16, string, bool) {
	if len(s) < 6 || s[0] != '0' || s[1] != 'x' {
		return 0, s, false
	}
	h, ok := hex16(s[2:6])
	return h, s[6:], ok
}

func hex16(s string) (uint16, bool) {
	var b [2]byte
	if len(s) != 4 {
		return 0, false
	}
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[:]), true
}

// parseUUID accepts gatttool's output UUIDs: always the 36-character lowercase form
// (docs/bluez-tools.md §Result lines), though any case is accepted here.
func parseUUID(s string) (bt.UUID, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 36 {
		return bt.UUID{}, false
	}
	u, err := bt.ParseUUID(s)
	return u, err == nil
}

// parseHex parses a "%02x " dump: " 48 65 6c " (leading and trailing spaces allowed). An empty
// dump is a valid empty value (nil).
func parseHex(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, true
	}
	if (len(s)+1)%3 != 0 {
		return nil, false
	}
	v := make([]byte, (len(s)+1)/3)
	for i := range v {
		p := 3 * i
		if _, err := hex.Decode(v[i:i+1], []byte(s[p:p+2])); err != nil || (p+2 < len(s) && s[p+2] != ' ') {
			return nil, false
		}
	}
	return v, true
}

// ToolError is a failure a BlueZ tool printed. It unwraps to the gogatt sentinel that fits
// (ErrNotConnected, ErrUnsupported, ErrInvalidParameter, ErrNoAdapter, ErrBusy, ErrTimeout,
// ErrNotFound) and, for socket errors, to the syscall.Errno.
type ToolError struct {
	Tool string // "gatttool", "hcitool", "bluetoothctl"
	Op   string // the operation, e.g. "connect"
	Msg  string // the tool's message without its prefix
	errs []error
}

// NewToolError builds a ToolError unwrapping to causes.
func NewToolError(tool, op, msg string, causes ...error) *ToolError {
	var errs []error
	for _, c := range causes {
		if c != nil {
			errs = append(errs, c)
		}
	}
	return &ToolError{Tool: tool, Op: op, Msg: msg, errs: errs}
}

// Error returns "tool op: message", the line the tool printed.
func (e *ToolError) Error() string {
	s := e.Tool
	if e.Op != "" {
		s += " " + e.Op
	}
	s += ": " + e.Msg
	for _, c := range e.errs {
		if c == gogatt.ErrTimeout {
			continue
		}
		if _, ok := c.(syscall.Errno); ok {
			continue
		}
		s += " (" + c.Error() + ")"
	}
	return s
}

// Unwrap returns the sentinel(s) the error matches.
func (e *ToolError) Unwrap() []error { return e.errs }

// Err converts an error line into a typed error for operation op on handle. It returns nil for
// lines that are not errors.
//
//   - ATTErrorLine → *gogatt.ATTError{Op: op, Handle: handle, Code} (docs/bluez-tools.md §ATT
//     error texts); for "Unexpected error code" the Code is 0, which no Error Response carries.
//   - NotConnected → ToolError matching gogatt.ErrNotConnected.
//   - ConnectError → ToolError matching gogatt.ErrNotConnected and the printed errno
//     (e.g. syscall.ECONNREFUSED); errno 97 (no Bluetooth in the kernel) also matches
//     gogatt.ErrNoAdapter.
//   - CommandFailed → "MTU exchange can only occur once" matches gogatt.ErrBusy, "only available
//     for LE transport" gogatt.ErrUnsupported.
//   - ErrorLine → argument errors match gogatt.ErrInvalidParameter; "No primary service found"
//     and "No service UUID found" gogatt.ErrNotFound; "command not found" gogatt.ErrUnsupported.
func (l Line) Err(op string, handle uint16) error {
	switch l.Kind {
	case ATTErrorLine:
		return &gogatt.ATTError{Op: op, Handle: handle, Code: l.Code}
	case NotConnected:
		return NewToolError("gatttool", op, "Command Failed: "+l.Text, gogatt.ErrNotConnected)
	case ConnectError:
		var extra error
		if l.Errno == syscall.EAFNOSUPPORT {
			extra = gogatt.ErrNoAdapter
		}
		var errno error
		if l.Errno != 0 {
			errno = l.Errno
		}
		return NewToolError("gatttool", op, l.Text, gogatt.ErrNotConnected, errno, extra)
	case CommandFailed:
		var s error
		switch {
		case strings.Contains(l.Text, "only occur once"):
			s = gogatt.ErrBusy
		case strings.Contains(l.Text, "only available for LE"):
			s = gogatt.ErrUnsupported
		}
		return NewToolError("gatttool", op, "Command Failed: "+l.Text, s)
	case ErrorLine:
		return NewToolError("gatttool", op, l.Text, errorLineSentinel(l.Text))
	case Disconnected:
		return NewToolError("gatttool", op, "link closed (GLib: Invalid file descriptor.)", gogatt.ErrNotConnected)
	}
	return nil
}

func errorLineSentinel(msg string) error {
	switch {
	case msg == "No primary service found", msg == "No service UUID found":
		return gogatt.ErrNotFound
	case strings.HasSuffix(msg, ": command not found"):
		return gogatt.ErrUnsupported
	case msg == "Remote Bluetooth address required":
		return gogatt.ErrInvalidParameter
	case strings.HasPrefix(msg, "Invalid"), strings.HasPrefix(msg, "Missing argument"),
		msg == "A valid handle is required":
		return gogatt.ErrInvalidParameter
	case msg == "Error exchanging MTU", msg == "Protocol error":
		return errProtocol
	}
	return nil
}

// errProtocol is wrapped by "Protocol error" and "Error exchanging MTU" lines: the peer's
// response could not be decoded.
var errProtocol = errors.New("undecodable response from peer")

// ErrProtocol reports whether err came from a gatttool "Protocol error" line.
func ErrProtocol(err error) bool { return errors.Is(err, errProtocol) }

// String renders a line for logs.
func (l Line) String() string {
	switch l.Kind {
	case Notification, Indication, UUIDValue:
		return fmt.Sprintf("%s handle=0x%04x value=% x", l.Kind, l.Handle, l.Value)
	case Value:
		return fmt.Sprintf("%s % x", l.Kind, l.Value)
	}
	if l.Text != "" {
		return l.Kind.String() + " " + strconv.Quote(l.Text)
	}
	return l.Kind.String()
}
