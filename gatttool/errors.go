package gatttool

import (
	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/gatttool/internal/parse"
)

// Error is a failure a BlueZ tool (gatttool, hcitool, bluetoothctl) printed. Every error line a
// tool prints reaches the caller as an *Error, possibly wrapped (test with errors.As). It
// matches, through Err, the gogatt sentinel that fits the line (docs/bluez-tools.md):
// gogatt.ErrNotConnected, ErrUnsupported, ErrInvalidParameter, ErrNoAdapter, ErrBusy, ErrTimeout
// or ErrNotFound; fs.ErrPermission (os.ErrPermission) for an hcitool "Operation not permitted";
// the syscall.Errno a failed connect printed (e.g. syscall.ECONNREFUSED); and, for an ATT Error
// Response (Core v5.3 Vol 3 Part F §3.4.1.1), the *gogatt.ATTError.
type Error struct {
	Tool   string        // "gatttool", "hcitool" or "bluetoothctl"
	Op     string        // the operation, e.g. "connect", "read", "lescan", "remove"
	Handle uint16        // the attribute handle the operation concerned, 0 if none
	Code   att.ErrorCode // the ATT error code when Err is a *gogatt.ATTError, else 0
	// Line is the tool's message as it printed it (for some messages with a short explanation
	// added). It is raw: not escaped, so quote it (%q) before showing it where control
	// characters matter.
	Line string
	// Err is what the error stands for: the *gogatt.ATTError of an ATT Error Response, otherwise
	// an error matching the sentinels above. Error returns its message.
	Err error
}

// Error returns the message of Err, e.g. "gatttool connect: connect error: Connection refused
// (111) (gogatt: not connected)" or "gogatt: read handle 0x0003: ATT error 0x02 (Read Not
// Permitted)".
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	s := e.Tool
	if e.Op != "" {
		s += " " + e.Op
	}
	return s + ": " + e.Line
}

// Unwrap returns Err, so errors.Is and errors.As see the sentinels and the *gogatt.ATTError.
func (e *Error) Unwrap() error { return e.Err }

// toolError turns the error of a tool's line (as the parse package reports it) into an *Error;
// it is the one place where parse's error types become the package's. handle is the operation's
// attribute handle and line the text of an ATT error line. Other errors (nil included) pass
// through unchanged.
func toolError(err error, handle uint16, line string) error {
	switch e := err.(type) {
	case *parse.ToolError:
		return &Error{Tool: e.Tool, Op: e.Op, Handle: handle, Line: e.Msg, Err: e}
	case *gogatt.ATTError:
		return &Error{Tool: "gatttool", Op: e.Op, Handle: e.Handle, Code: e.Code, Line: line, Err: e}
	}
	return err
}
