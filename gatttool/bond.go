package gatttool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatttool/internal/parse"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// ClearBond removes the bond with address through `bluetoothctl remove ADDRESS`, or every paired
// device (as listed by `bluetoothctl devices Paired`; `paired-devices` no longer exists in 5.66,
// docs/bluez-tools.md §bluetoothctl devices) when address is "". The result is verified by listing
// the paired devices again. A device bluetoothd does not know ("Device … not available") has no
// bond, which is what was asked for. Without bluetoothd, bluetoothctl waits for ever
// (docs/bluez-tools.md §Without bluetoothd): the call is bounded by ctx, or by Config.ToolTimeout
// when ctx has no deadline, and then fails with an error matching gogatt.ErrTimeout that says
// bluetoothd is not reachable; without a system bus at all the error matches gogatt.ErrNoAdapter.
func (b *Backend) ClearBond(ctx context.Context, address string) error {
	if err := b.begin(); err != nil {
		return err
	}
	var targets []bt.Address
	if address != "" {
		a, err := bt.ParseAddress(address)
		if err != nil {
			return fmt.Errorf("%w: %w", gogatt.ErrInvalidParameter, err)
		}
		targets = []bt.Address{a}
	}
	if b.cfg.BluetoothctlPath == "" {
		return fmt.Errorf("gatttool backend: clear bond: bluetoothctl not found in PATH: %w", gogatt.ErrUnsupported)
	}
	b.mu.Lock()
	if b.stopped { // Stop may be in wg.Wait: no Add after it
		b.mu.Unlock()
		return gogatt.ErrNotStarted
	}
	b.wg.Add(1)
	b.mu.Unlock()
	defer b.wg.Done()
	ctx, cancel := b.toolCtx(ctx)
	defer cancel()

	if address == "" {
		paired, err := b.pairedDevices(ctx)
		if err != nil {
			return err
		}
		targets = paired
	}
	for _, a := range targets {
		lines, err := b.ctl(ctx, "remove", a.String())
		removed := false
		var lineErr error
		for _, l := range lines {
			switch l.Kind {
			case parse.CtlRemoved:
				removed = true
			case parse.CtlNotAvailable:
				removed = true // no such device: no bond
				b.log.Debug("bluetoothctl: device not known; nothing to remove", "addr", a)
			default:
				if e := toolError(l.Err("remove"), 0, ""); e != nil && lineErr == nil {
					lineErr = e
				}
			}
		}
		switch {
		case lineErr != nil:
			return fmt.Errorf("gatttool backend: clear bond %s: %w", a, lineErr)
		case !removed && err != nil:
			return fmt.Errorf("gatttool backend: clear bond %s: %w", a, err)
		case !removed:
			return fmt.Errorf("gatttool backend: clear bond %s: bluetoothctl did not confirm the removal", a)
		}
	}
	// Verify rather than assume.
	paired, err := b.pairedDevices(ctx)
	if err != nil {
		return err
	}
	for _, p := range paired {
		for _, a := range targets {
			if p == a {
				return fmt.Errorf("gatttool backend: clear bond %s: still paired after removal", a)
			}
		}
	}
	return nil
}

// pairedDevices lists `bluetoothctl devices Paired`.
func (b *Backend) pairedDevices(ctx context.Context) ([]bt.Address, error) {
	lines, err := b.ctl(ctx, "devices", "Paired")
	var out []bt.Address
	for _, l := range lines {
		if e := toolError(l.Err("devices"), 0, ""); e != nil {
			return nil, fmt.Errorf("gatttool backend: list paired devices: %w", e)
		}
		if l.Kind == parse.CtlDevice {
			out = append(out, l.Address)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("gatttool backend: list paired devices: %w", err)
	}
	return out, nil
}

// ctl runs one non-interactive bluetoothctl command (pipes: no prompt, docs/bluez-tools.md
// §bluetoothctl output) bounded by ctx, and classifies its output lines.
func (b *Backend) ctl(ctx context.Context, args ...string) ([]parse.CtlLine, error) {
	cmd := exec.CommandContext(ctx, b.cfg.BluetoothctlPath, args...)
	cmd.Env = childEnv(b.cfg.Env)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	var lines []parse.CtlLine
	var sp parse.Splitter
	sp.Mode = parse.ModePlain
	emit := func(t parse.Token) {
		if t.Line != "" {
			b.log.Debug("line", "tool", "bluetoothctl", "text", t.Line)
			lines = append(lines, parse.ParseBluetoothctl(t.Line))
		}
	}
	sp.Feed(out.Bytes(), emit)
	sp.Flush(emit)
	if ctx.Err() != nil {
		for _, l := range lines {
			if l.Kind == parse.CtlNoBus {
				return lines, toolError(l.Err(args[0]), 0, "")
			}
		}
		return lines, fmt.Errorf("bluetoothctl %s gave no answer: is bluetoothd running? %w",
			strings.Join(args, " "), gattkit.CtxErr(ctx, "bluetoothctl "+args[0]))
	}
	if runErr != nil {
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			for _, l := range lines {
				if l.Kind == parse.CtlNoBus {
					return lines, toolError(l.Err(args[0]), 0, "")
				}
			}
			return lines, fmt.Errorf("bluetoothctl %s: %v: %q", strings.Join(args, " "), runErr, strings.TrimSpace(out.String()))
		}
		return lines, fmt.Errorf("bluetoothctl %s: %w", strings.Join(args, " "), runErr)
	}
	return lines, nil
}
