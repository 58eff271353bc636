package cli

import (
	"context"
	"errors"
	"io/fs"
	"strings"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi"
)

// classify turns an error into an exit status and one line saying what happened and what to
// do about it.
func (a *app) classify(ctx context.Context, err error, c *command) (int, string) {
	msg := strings.ReplaceAll(err.Error(), "gogatt: ", "")
	var amb *gogatt.AmbiguousUUIDError
	var ae *gogatt.ATTError
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return ExitInterrupted, "interrupted"
	case errors.Is(err, bgapi.ErrPortBusy):
		return ExitNoAdapter, msg
	case errors.Is(err, bgapi.ErrAdapterLost):
		// Before ErrNotConnected: the links went with the adapter.
		return ExitNoAdapter, msg + ": was the adapter unplugged, or reset by another program using it?"
	case errors.Is(err, gogatt.ErrNoAdapter):
		a.log.Debug("no adapter", "err", err)
		switch {
		case a.g.backend == "gatttool":
			return ExitNoAdapter, "no Bluetooth adapter " + a.g.hci + ": check 'hciconfig', pass --hci, or try --sim (-v says more)"
		case a.g.port != "":
			return ExitNoAdapter, msg + ": check the path given to --port, or try --sim"
		}
		return ExitNoAdapter, "no BLED112 found: plug one in, pass --port, or try --sim"
	case errors.Is(err, fs.ErrPermission):
		return ExitNoAdapter, msg + ": add yourself to the group that owns the device (often 'dialout') and log in again"
	case errors.As(err, &amb):
		return ExitNotFound, msg + " (e.g. SERVICE/CHAR or handle:0x" + hex4(firstHandle(amb)) + ")"
	case errors.Is(err, gogatt.ErrNotFound) && c.name == "clear-bond":
		return ExitNotFound, msg
	case errors.Is(err, gogatt.ErrNotFound):
		return ExitNotFound, msg + ": run 'gogatt services ADDRESS' to see what the device offers"
	case errors.Is(err, gogatt.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout, msg + ": is the device in range and advertising? (raise --timeout if it is slow)"
	case errors.As(err, &ae):
		switch ae.Code {
		case att.ErrInsufficientAuthentication, att.ErrInsufficientEncryption, att.ErrInsufficientEncryptionKeySize:
			return ExitRefused, msg + ": add --bond to pair first"
		}
		return ExitRefused, msg
	case errors.Is(err, gogatt.ErrNotConnected):
		return ExitLinkLost, msg
	case errors.Is(err, gogatt.ErrUnsupported):
		return ExitUnsupported, msg + " (try the other --backend)"
	case errors.Is(err, gogatt.ErrInvalidParameter):
		return ExitUsage, msg
	case errors.Is(err, gogatt.ErrBusy):
		return ExitFailure, msg + ": another program may be using the adapter"
	}
	if strings.Contains(msg, "pairing") || strings.Contains(msg, "bonding") {
		return ExitRefused, msg
	}
	return ExitFailure, msg
}

func firstHandle(e *gogatt.AmbiguousUUIDError) uint16 {
	if len(e.Candidates) > 0 {
		return e.Candidates[0].ValueHandle
	}
	return 0
}

func hex4(v uint16) string {
	const d = "0123456789abcdef"
	return string([]byte{d[v>>12], d[v>>8&15], d[v>>4&15], d[v&15]})
}
