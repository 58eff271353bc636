package gattkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/gogatt/gogatt"
)

// TimeoutError returns an error that matches gogatt.ErrTimeout and context.DeadlineExceeded,
// saying what timed out.
func TimeoutError(op string) error { return fmt.Errorf("%s: %w", op, gogatt.ErrTimeout) }

// CtxErr converts a context's error into gogatt's: a deadline becomes an error matching both
// gogatt.ErrTimeout and context.DeadlineExceeded; a cancellation stays context.Canceled. op
// names the operation. It returns nil while ctx is live.
func CtxErr(ctx context.Context, op string) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return TimeoutError(op)
	}
	return fmt.Errorf("%s: %w", op, err)
}
