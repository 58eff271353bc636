package gatttool

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/gatttool/internal/parse"
)

// TestErrorSentinels: the error of every kind of tool error line reaches users as a *Error that
// matches the shared sentinels (fs.ErrPermission for a permission failure, as bgapi's port
// errors do) and, for an ATT Error Response, the *gogatt.ATTError.
func TestErrorSentinels(t *testing.T) {
	tests := []struct {
		name string
		err  error // as the parser reports it
		want []error
		not  []error
		code att.ErrorCode
	}{
		{"lescan permission", parse.ParseLescan("Set scan parameters failed: Operation not permitted").Err,
			[]error{fs.ErrPermission}, []error{gogatt.ErrBusy}, 0},
		{"lescan busy", parse.ParseLescan("Set scan parameters failed: Input/output error").Err,
			[]error{gogatt.ErrBusy}, []error{fs.ErrPermission}, 0},
		{"connect refused", parse.ParseGatttool("Error: connect error: Connection refused (111)").Err("connect", 0),
			[]error{gogatt.ErrNotConnected, syscall.ECONNREFUSED}, []error{fs.ErrPermission}, 0},
		{"ATT error", parse.ParseGatttool("Error: Characteristic value/descriptor read failed: Attribute can't be read").Err("read", 3),
			[]error{&gogatt.ATTError{Code: att.ErrReadNotPermitted}}, []error{fs.ErrPermission}, att.ErrReadNotPermitted},
		{"bluetoothctl not available", parse.ParseBluetoothctl("Device 11:22:33:44:55:66 not available").Err("remove"),
			[]error{gogatt.ErrNotFound}, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("the parser reported no error")
			}
			err := toolError(tc.err, 3, "line")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T %v is no *gatttool.Error", err, err)
			}
			if e.Error() != tc.err.Error() || e.Code != tc.code {
				t.Errorf("Error() = %q, Code %v; want %q, Code %v", e.Error(), e.Code, tc.err.Error(), tc.code)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("errors.Is(%v, %v) = false, want true", err, w)
				}
			}
			for _, w := range tc.not {
				if errors.Is(err, w) {
					t.Errorf("errors.Is(%v, %v) = true, want false", err, w)
				}
			}
			var ae *gogatt.ATTError
			if errors.As(err, &ae) != (tc.code != 0) {
				t.Errorf("errors.As(*gogatt.ATTError) = %v", ae)
			}
		})
	}
	if toolError(nil, 0, "") != nil {
		t.Error("toolError(nil) != nil")
	}
}
