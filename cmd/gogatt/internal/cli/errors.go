package cli

import (
	"context"
	"errors"
	"io/fs"
	"strings"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/bgapi/wire"
)

// classify turns an error into an exit status and one line saying what happened and what to
// do about it.
func (a *app) classify(ctx context.Context, err error, c *command) (int, string) {
	msg := strings.ReplaceAll(err.Error(), "gogatt: ", "")
	var amb *gogatt.AmbiguousUUIDError
	var ae *gogatt.ATTError
	var be *bgapi.Error
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
		return ExitNotFound, msg + ": connect to it once with any gogatt command, so that the adapter names its bond, and run clear-bond again; or remove every bond with 'gogatt clear-bond --all'"
	case errors.Is(err, gogatt.ErrNotFound):
		return ExitNotFound, msg + ": run 'gogatt services ADDRESS' to see what the device offers"
	case errors.Is(err, gogatt.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout, msg + ": is the device in range and advertising? (raise --timeout if it is slow)"
	case errors.As(err, &ae):
		if hint := a.securityHint(ae.Code, c); hint != "" {
			return ExitRefused, msg + ": " + hint
		}
		return ExitRefused, msg
	case errors.As(err, &be) && be.Result == wire.ResultPinOrKeyMissing:
		return ExitRefused, msg + ": the device has lost its keys of the bond: remove the bond with 'gogatt clear-bond " + a.peerArg() + "', then bond again"
	case errors.As(err, &be) && be.Result == wire.ResultAuthenticationRequirements && a.g.passkey == "":
		return ExitRefused, msg + ": the device wants pairing with MITM protection: add --passkey N (its passkey) or --passkey ask"
	case errors.As(err, &be) && (be.Result == wire.ResultPasskeyEntryFailed || be.Result == wire.ResultConfirmValueFailed):
		return ExitRefused, msg + ": was the passkey right?"
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

// securityHint says what to do about an ATT security error from the peer, in gogatt's own
// terms: pair (Insufficient Encryption), or pair with MITM protection — a passkey — when the
// characteristic needs an authenticated link (Insufficient Authentication, Core v5.3 Vol 3
// Part F §3.4.1.1), which bonding again without a passkey would never give.
func (a *app) securityHint(code att.ErrorCode, c *command) string {
	peer := a.peerArg()
	paired := a.opts.bond || c.name == "bond"
	switch code {
	case att.ErrInsufficientEncryption, att.ErrInsufficientEncryptionKeySize:
		if paired {
			return ""
		}
		return "pair first: add --bond, or run 'gogatt bond " + peer + "' once (later connections are then encrypted with the bond)"
	case att.ErrInsufficientAuthentication:
		switch {
		case a.g.backend == "gatttool":
			return "the characteristic needs pairing with MITM protection: pair with bluetoothctl (its agent asks for the passkey), then run this again"
		case a.g.passkey == "":
			add := "--bond --passkey"
			if c.name == "bond" {
				add = "--passkey"
			}
			return "the characteristic needs pairing with MITM protection: add " + add + " N (the device's passkey) or " + add + " ask; a bond made without it must go first: 'gogatt clear-bond " + peer + "'"
		case !paired:
			return "add --bond to pair with the passkey; a bond made without it must go first: 'gogatt clear-bond " + peer + "'"
		}
		return "the bond in use was made without MITM protection, and pairing reuses it: remove it with 'gogatt clear-bond " + peer + "', then bond again with --passkey"
	}
	return ""
}

// peerArg is the device's address for a command line in a hint.
func (a *app) peerArg() string {
	if a.peer == "" {
		return "ADDRESS"
	}
	return a.peer
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
