package gatttool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/gatttool/internal/parse"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Scan runs `hcitool -i hciX lescan` in a pty (so its output is line-buffered, docs/bluez-tools.md
// §lescan output) until opts.Timeout, ctx or opts.OnAdvertisement stops it, always with SIGINT so
// that hcitool disables scanning before it exits (tools/hcitool.c in BlueZ 5.66;
// docs/bluez-tools.md §Stopping lescan). Options: --passive when opts.Passive; --discovery=l for
// DiscoverLimited (hcitool then drops reports without a limited-discoverable Flags AD); always
// --duplicates, so that no report is lost to the controller's duplicate filter and OnAdvertisement
// sees every advertisement. hcitool cannot set the scan interval and window (they are validated
// only), and prints neither RSSI nor address type: results have RSSI 0 and a public AddressType. An
// address is reported once per device with the name merged across its reports ("(unknown)" means no
// name). Every error of docs/bluez-tools.md §lescan errors is returned typed: no adapter →
// gogatt.ErrNoAdapter, a controller refusing (scan left enabled) → gogatt.ErrBusy, no reply →
// gogatt.ErrTimeout, permission → os.ErrPermission. A scan that ctx ends returns the devices seen
// so far with an error matching ctx's (context.Canceled, or gogatt.ErrTimeout for a deadline), with
// or without OnAdvertisement; one that Stop ends returns them with an error matching
// gogatt.ErrNotStarted.
func (b *Backend) Scan(ctx context.Context, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	if err := b.begin(); err != nil {
		return nil, err
	}
	if _, err := opts.Resolve(); err != nil {
		return nil, err
	}
	if b.cfg.HcitoolPath == "" {
		return nil, fmt.Errorf("gatttool backend: scan: hcitool not found in PATH: %w", gogatt.ErrUnsupported)
	}
	b.mu.Lock()
	if b.stopped { // Stop may be in wg.Wait: no Add after it
		b.mu.Unlock()
		return nil, gogatt.ErrNotStarted
	}
	if b.scanning {
		b.mu.Unlock()
		return nil, fmt.Errorf("gatttool backend: scan: %w: a scan is already running", gogatt.ErrBusy)
	}
	b.scanning = true
	b.wg.Add(1)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.scanning = false
		b.mu.Unlock()
		b.wg.Done()
	}()

	args := []string{"-i", b.cfg.HCIDevice, "lescan"}
	if opts.Passive {
		args = append(args, "--passive")
	}
	if opts.Mode == gogatt.DiscoverLimited {
		args = append(args, "--discovery=l")
	}
	// Always ask for duplicates and merge here: with the controller's duplicate filter a lost
	// first report, or a scan response the controller takes for a duplicate of its
	// advertisement, would never be seen again, and names could not be merged.
	args = append(args, "--duplicates")
	cmd := exec.Command(b.cfg.HcitoolPath, args...)
	cmd.Env = childEnv(b.cfg.Env)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: ptyCols})
	if err != nil {
		return nil, fmt.Errorf("gatttool backend: scan: start hcitool: %w", err)
	}
	log := b.log.With("tool", "hcitool", "pid", cmd.Process.Pid)

	lines := make(chan parse.ScanLine)
	stopReader := make(chan struct{})
	waitErr := make(chan error, 1)
	go func() { // reader: the only goroutine reading the pty; reaps the child at EOF
		defer close(lines)
		var sp parse.Splitter
		sp.Mode = parse.ModePlain
		buf := make([]byte, 8192)
		var pending []parse.ScanLine
		emit := func(t parse.Token) {
			if !t.IsPrompt && t.Line != "" {
				log.Debug("line", "text", t.Line)
				pending = append(pending, parse.ParseLescan(t.Line))
			}
		}
		for {
			n, err := f.Read(buf)
			if n > 0 {
				sp.Feed(buf[:n], emit)
			}
			if err != nil {
				sp.Flush(emit)
			}
			for _, l := range pending {
				select {
				case lines <- l:
				case <-stopReader:
				}
			}
			pending = pending[:0]
			if err != nil {
				break
			}
		}
		waitErr <- cmd.Wait()
		f.Close()
	}()
	defer close(stopReader)

	timer := time.NewTimer(opts.ScanTimeout())
	defer timer.Stop()
	var grace <-chan time.Time
	started, stopWanted, interrupted := false, false, false
	ctxStopped := false // ctx, rather than the timeout, the callback or Stop, ended the scan
	byStop := false     // Stop ended the scan
	ctxDone, stopDone := ctx.Done(), b.stopContext().Done()
	var scanErr error
	var unknown []string
	results := map[string]*gogatt.ScanResult{}
	var order []string
	var graceT *time.Timer
	var resend <-chan time.Time
	stopResend := func() {}
	defer func() {
		if graceT != nil {
			graceT.Stop()
		}
		stopResend()
	}()
	stop := func() {
		stopWanted = true
		if graceT == nil {
			// Bound the wait for the child: before "LE Scan ..." hcitool may be waiting for its
			// controller (up to 10 s, docs/bluez-tools.md §lescan errors); after SIGINT it should
			// leave at once.
			graceT = time.NewTimer(exitGrace)
			grace = graceT.C
		}
		if started && !interrupted {
			interrupted = true
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				log.Debug("SIGINT", "err", err)
			}
			graceT.Reset(exitGrace)
			// hcitool acts on SIGINT only when it interrupts its blocking read(); one that
			// arrives while it handles a report is noted but ignored until the next EINTR
			// (tools/hcitool.c, print_advertising_devices). Repeat it until it leaves.
			t := time.NewTicker(100 * time.Millisecond)
			stopResend = t.Stop
			resend = t.C
		}
	}
loop:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break loop
			}
			switch l.Kind {
			case parse.ScanStarted:
				started = true
				if stopWanted {
					stop()
				}
			case parse.ScanReport:
				key := l.Address.String()
				r, seen := results[key]
				if !seen {
					r = &gogatt.ScanResult{Address: key, AddressType: gogatt.AddressPublic}
					results[key] = r
					order = append(order, key)
				}
				if l.HasName {
					r.Name, r.Data.LocalName = l.Name, l.Name
				}
				if opts.OnAdvertisement != nil && !stopWanted {
					if !opts.OnAdvertisement(*r) {
						stop()
					}
				}
			case parse.ScanError:
				if scanErr == nil {
					scanErr = toolError(l.Err, 0, "")
				}
			default:
				if len(unknown) < 20 {
					unknown = append(unknown, l.Text)
				}
			}
		case <-timer.C:
			stop()
		case <-ctxDone:
			ctxDone = nil // closed for good: do not spin on it while hcitool leaves
			ctxStopped = !stopWanted
			stop()
		case <-stopDone:
			stopDone = nil
			byStop = !stopWanted
			stop()
		case <-resend:
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				log.Debug("SIGINT", "err", err)
			}
		case <-grace:
			log.Warn("hcitool did not exit after SIGINT; killing it (the controller may keep scanning)")
			cmd.Process.Kill()
			grace = nil
		}
	}
	werr := <-waitErr
	out := make([]gogatt.ScanResult, 0, len(order))
	for _, k := range order {
		out = append(out, *results[k])
	}
	switch {
	case scanErr != nil:
		return out, fmt.Errorf("gatttool backend: scan: %w", scanErr)
	case !started:
		return out, fmt.Errorf("gatttool backend: scan: hcitool lescan ended before scanning (%v): %s", exitText(werr), strings.Join(unknown, " | "))
	case !interrupted:
		// hcitool ended by itself (e.g. an LE meta event other than an advertising report
		// ends its loop quietly, docs/bluez-tools.md §lescan output).
		log.Warn("hcitool lescan ended by itself", "status", exitText(werr))
	case werr != nil:
		var ee *exec.ExitError
		if errors.As(werr, &ee) && signalled(ee.ProcessState, syscall.SIGKILL) {
			return out, fmt.Errorf("gatttool backend: scan: hcitool had to be killed after SIGINT: %w", gogatt.ErrTimeout)
		}
		return out, fmt.Errorf("gatttool backend: scan: hcitool: %s", exitText(werr))
	}
	if byStop {
		return out, fmt.Errorf("gatttool backend: scan: backend stopped: %w", gogatt.ErrNotStarted)
	}
	if ctxStopped {
		return out, gattkit.CtxErr(ctx, "scan")
	}
	return out, nil
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// FilteredScan is Scan keeping only devices whose name contains nameFilter; OnAdvertisement
// sees only those.
func (b *Backend) FilteredScan(ctx context.Context, nameFilter string, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	return gattkit.FilteredScan(ctx, b.Scan, nameFilter, opts)
}

// checkAdapter runs `hcitool dev` and looks for the configured adapter.
func (b *Backend) checkAdapter(ctx context.Context) error {
	ctx, cancel := b.toolCtx(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.cfg.HcitoolPath, "dev")
	cmd.Env = childEnv(b.cfg.Env)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("gatttool backend: hcitool dev: %w", gattkit.CtxErr(ctx, "adapter check"))
	}
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) >= 1 && f[0] == b.cfg.HCIDevice {
			return nil
		}
	}
	return fmt.Errorf("gatttool backend: adapter %s is not listed (or not up) by `hcitool dev` (%s; output %q): %w",
		b.cfg.HCIDevice, exitText(err), strings.TrimSpace(out.String()), gogatt.ErrNoAdapter)
}

// toolCtx bounds ctx by ToolTimeout when it has no deadline.
// The result also ends when the backend is stopped.
func (b *Backend) toolCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	var c context.Context
	var cancel context.CancelFunc
	if _, ok := ctx.Deadline(); ok {
		c, cancel = context.WithCancel(ctx)
	} else {
		c, cancel = context.WithTimeout(ctx, b.cfg.ToolTimeout)
	}
	stopWatch := context.AfterFunc(b.stopContext(), cancel)
	return c, func() { stopWatch(); cancel() }
}
