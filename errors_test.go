package gogatt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gogatt/gogatt/att"
)

func TestErrTimeout(t *testing.T) {
	for _, target := range []error{ErrTimeout, context.DeadlineExceeded} {
		if !errors.Is(ErrTimeout, target) {
			t.Errorf("errors.Is(ErrTimeout, %v) = false", target)
		}
	}
	if errors.Is(ErrTimeout, context.Canceled) {
		t.Error("ErrTimeout matches Canceled")
	}
	if !os.IsTimeout(ErrTimeout) {
		t.Error("os.IsTimeout(ErrTimeout) = false")
	}
	// Wrapped, it still matches.
	if w := fmt.Errorf("connect C0:FF:EE:00:00:01: %w", ErrTimeout); !errors.Is(w, ErrTimeout) || !errors.Is(w, context.DeadlineExceeded) {
		t.Error("wrapped timeout lost its identity")
	}
}

func TestATTError(t *testing.T) {
	err := fmt.Errorf("char read: %w", &ATTError{Op: "read", Handle: 0x0003, Code: att.ErrReadNotPermitted})
	for _, tc := range []struct {
		target error
		want   bool
	}{
		{&ATTError{Code: att.ErrReadNotPermitted}, true},
		{&ATTError{Code: att.ErrReadNotPermitted, Handle: 3}, true},
		{&ATTError{Code: att.ErrReadNotPermitted, Op: "read"}, true},
		{&ATTError{Code: att.ErrReadNotPermitted, Handle: 4}, false},
		{&ATTError{Code: att.ErrReadNotPermitted, Op: "write"}, false},
		{&ATTError{Code: att.ErrInsufficientAuthentication}, false},
		{ErrNotConnected, false},
	} {
		if got := errors.Is(err, tc.target); got != tc.want {
			t.Errorf("errors.Is(%v, %v) = %v", err, tc.target, got)
		}
	}
	var ae *ATTError
	if !errors.As(err, &ae) || ae.Handle != 3 || ae.Code != 0x02 {
		t.Errorf("errors.As: %+v", ae)
	}
	if want := "gogatt: read handle 0x0003: ATT error 0x02 (Read Not Permitted)"; ae.Error() != want {
		t.Errorf("Error() = %q, want %q", ae.Error(), want)
	}
}

func TestDisconnectError(t *testing.T) {
	cause := errors.New("serial port closed")
	err := fmt.Errorf("read: %w", &DisconnectError{Address: "C0:FF:EE:00:00:01", Reason: "connection timeout (supervision)", Code: 0x0208, Err: cause})
	if !errors.Is(err, ErrNotConnected) {
		t.Error("DisconnectError is not ErrNotConnected")
	}
	if !errors.Is(err, cause) {
		t.Error("cause not unwrapped")
	}
	var de *DisconnectError
	if !errors.As(err, &de) || de.Code != 0x0208 || de.Local {
		t.Errorf("errors.As: %+v", de)
	}
	want := "gogatt: C0:FF:EE:00:00:01 disconnected: connection timeout (supervision) (0x0208): serial port closed"
	if de.Error() != want {
		t.Errorf("Error() = %q", de.Error())
	}
	local := &DisconnectError{Address: "A", Reason: "closed", Local: true}
	if local.Error() != "gogatt: A disconnected: closed" || local.Unwrap() != nil {
		t.Errorf("local: %q", local.Error())
	}
}

func TestSentinelsDistinct(t *testing.T) {
	all := []error{ErrNotConnected, ErrTimeout, ErrUnsupported, ErrNoAdapter, ErrNotStarted, ErrInvalidParameter, ErrNotFound, ErrBusy}
	for i, a := range all {
		for j, b := range all {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, i != j)
			}
		}
		if !strings.HasPrefix(a.Error(), "gogatt: ") {
			t.Errorf("%q lacks the package prefix", a)
		}
	}
}
