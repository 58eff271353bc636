package gattkit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
)

func TestTimeoutError(t *testing.T) {
	err := TimeoutError("read")
	for _, target := range []error{gogatt.ErrTimeout, context.DeadlineExceeded} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	if errors.Is(err, context.Canceled) {
		t.Error("timeout matches Canceled")
	}
	if err.Error() != "read: gogatt: timeout" {
		t.Errorf("Error() = %q", err)
	}
	var to interface{ Timeout() bool }
	if !errors.As(err, &to) || !to.Timeout() {
		t.Error("no Timeout() bool")
	}
	// Wrapped further, it still matches.
	if w := fmt.Errorf("connect C0:FF:EE:00:00:01: %w", err); !errors.Is(w, gogatt.ErrTimeout) || !errors.Is(w, context.DeadlineExceeded) {
		t.Error("wrapped timeout lost its identity")
	}
}

func TestCtxErr(t *testing.T) {
	if CtxErr(context.Background(), "x") != nil {
		t.Error("live context gives an error")
	}
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		<-ctx.Done()
		err := CtxErr(ctx, "write")
		if !errors.Is(err, gogatt.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "write: ") {
			t.Errorf("deadline: %v", err)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := CtxErr(ctx, "scan")
	if !errors.Is(err, context.Canceled) || errors.Is(err, gogatt.ErrTimeout) {
		t.Errorf("cancel: %v", err)
	}
}
