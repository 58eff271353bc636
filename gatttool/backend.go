// Package gatttool is gogatt's BlueZ backend: it drives the tools of BlueZ 5.66 as a user would,
// through pseudo-terminals, and never needs root itself.
//
//   - One interactive `gatttool -i hciX -I` per connected device (several devices at once are
//     several processes). A reader goroutine per process splits and classifies every line
//     (package gatttool/internal/parse); commands are serialised per process and each waits for its own answer
//     line — an error gatttool prints is returned at once, as a typed error (see Errors below).
//   - `hcitool -i hciX lescan` for scanning, stopped with SIGINT only (docs/bluez-tools.md
//     §Stopping lescan).
//   - `bluetoothctl remove` / `devices Paired` for bonds (docs/bluez-tools.md §bluetoothctl).
//
// Discovery uses three commands (primary, characteristics, char-desc over the whole range) and
// knows a burst has ended when the answer to a `sec-level` query sent after its first line
// comes back: gatttool prints a whole discovery result from one callback before it reads its
// input again (docs/bluez-tools.md §Command completion), so no fixed sleep is involved. The hang
// gatttool falls into after the 30 s ATT transaction timeout (docs/bluez-tools.md §ATT timeout
// hang) is detected (no answer within Config.RequestTimeout, or the 0x0e error after 30 s) and
// recovered by killing the process; the caller gets an error matching gogatt.ErrTimeout and the
// Device reports the loss.
//
// # Errors
//
// An error line a tool prints comes back as an *Error (errors.As(err, new(*gatttool.Error))),
// with the tool, the operation, the handle and the line as printed. It matches the gogatt
// sentinel that fits the line (gogatt.ErrNotConnected, gogatt.ErrBusy for "a scan is already
// running" or a controller left scanning, gogatt.ErrNotFound, …), fs.ErrPermission when hcitool
// may not use the adapter, the syscall.Errno of a failed connect and, for an ATT Error Response,
// the *gogatt.ATTError with the code of docs/bluez-tools.md §ATT error texts (errors.As finds
// it through the *Error; Error.Code holds the same code).
//
// Every value that reaches a tool is built from checked, typed values (addresses parsed by
// bt.ParseAddress, handles, hex-encoded bytes), so no input can make a tool run a second
// command. No shell and no sudo are used.
package gatttool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"regexp"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatttool/internal/parse"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Config configures the backend. The zero value uses hci0 and the tools found in PATH.
type Config struct {
	// HCIDevice is the adapter, "hci0" by default. It must be "hci" followed by digits.
	HCIDevice string
	// GatttoolPath, HcitoolPath and BluetoothctlPath locate the tools; empty means look them up
	// in PATH.
	GatttoolPath, HcitoolPath, BluetoothctlPath string
	// ExtraGatttoolArgs are added to every gatttool command line (before -I), e.g.
	// []string{"-m", "100"} — handed over as arguments, never through a shell.
	ExtraGatttoolArgs []string
	// Env holds extra environment variables ("K=V") for every child process.
	Env []string
	// Logger receives debug logs of every line the tools print; nil discards them.
	Logger *slog.Logger
	// RequestTimeout is the hang detector: a gatttool command without any answer for this long
	// means gatttool is hung (docs/bluez-tools.md §ATT timeout hang) and its process is killed.
	// Zero means 30 s, ATT's transaction timeout (Core v5.3 Vol 3 Part F §3.3.3). Tests use a
	// short value.
	RequestTimeout time.Duration
	// ToolTimeout bounds bluetoothctl and hcitool housekeeping calls whose context has no
	// deadline (bluetoothctl waits for ever without bluetoothd, docs/bluez-tools.md §Without
	// bluetoothd). Zero means 10 s.
	ToolTimeout time.Duration
	// SkipAdapterCheck makes Start skip `hcitool dev` (which lists adapters that are up).
	SkipAdapterCheck bool

	// attTimeout: a 0x0e error this long after its request is gatttool's ATT transaction
	// timeout (docs/bluez-tools.md §ATT timeout hang); 29 s, a second of slack below the 30 s
	// (tests lower it).
	attTimeout time.Duration
}

var hciName = regexp.MustCompile(`^hci[0-9]{1,3}$`)

// Backend drives BlueZ's tools. Create it with New.
type Backend struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	started  bool
	stopped  bool
	devices  map[*link]struct{}
	handed   gattkit.Devices // the Devices handed to the application
	scanning bool
	wg       sync.WaitGroup // scans and bond calls in progress
	// deliveries holds every connection's registry and every AutoReconnect Device's queues:
	// Stop ends them all at once.
	deliveries gattkit.Group

	stopCtx    context.Context // cancelled by Stop: ends scans, bond calls and dials in progress
	stopCancel context.CancelFunc
}

var _ gogatt.Backend = (*Backend)(nil)

// New returns a backend for cfg. Nothing is started until Start.
func New(cfg Config) *Backend {
	if cfg.HCIDevice == "" {
		cfg.HCIDevice = "hci0"
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = attTransactionTimeout
	}
	if cfg.attTimeout <= 0 {
		cfg.attTimeout = attTransactionTimeout - time.Second
	}
	if cfg.ToolTimeout <= 0 {
		cfg.ToolTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	stopCtx, stopCancel := context.WithCancel(context.Background())
	return &Backend{cfg: cfg, log: log, devices: map[*link]struct{}{},
		stopCtx: stopCtx, stopCancel: stopCancel}
}

// Start resolves the tools and checks that the adapter is listed by `hcitool dev`.
func (b *Backend) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.stopped { // Start after Stop starts again (Stop then Start is pygatt's reset())
		b.stopped, b.started = false, false
		b.stopCtx, b.stopCancel = context.WithCancel(context.Background())
	}
	b.mu.Unlock()
	if !hciName.MatchString(b.cfg.HCIDevice) {
		return fmt.Errorf("%w: HCIDevice %q: want hciN", gogatt.ErrInvalidParameter, b.cfg.HCIDevice)
	}
	for _, t := range []struct {
		path *string
		name string
	}{{&b.cfg.GatttoolPath, "gatttool"}, {&b.cfg.HcitoolPath, "hcitool"}, {&b.cfg.BluetoothctlPath, "bluetoothctl"}} {
		if *t.path == "" {
			p, err := exec.LookPath(t.name)
			if err != nil {
				if t.name == "gatttool" {
					return fmt.Errorf("gatttool backend: %w (install BlueZ's deprecated tools)", err)
				}
				continue // needed only by Scan / ClearBond, which report it
			}
			*t.path = p
		}
	}
	if !b.cfg.SkipAdapterCheck && b.cfg.HcitoolPath != "" {
		if err := b.checkAdapter(ctx); err != nil {
			return err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped { // a Stop during this Start
		return gogatt.ErrNotStarted
	}
	b.started = true
	return nil
}

// stopContext returns the context that the next Stop cancels.
func (b *Backend) stopContext() context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopCtx
}

// Stop disconnects every device, discards the values still queued for notification handlers
// (also those of devices lost earlier) and waits for every child process and goroutine of the
// backend — but not for a handler call in progress, so it may be called from a handler
// (gogatt.Backend.Stop). It is idempotent.
func (b *Backend) Stop() error {
	b.mu.Lock()
	b.stopped = true
	b.stopCancel()
	var ds []*link
	for d := range b.devices {
		ds = append(ds, d)
	}
	b.mu.Unlock()
	b.handed.DisconnectAll()
	for _, d := range ds {
		d.Close()
	}
	// What is left to deliver (queues still draining after a loss) is discarded.
	b.deliveries.Stop()
	b.wg.Wait()     // watchers (processes reaped), scans, bond calls
	b.handed.Wait() // last ConnectionEvents
	return nil
}

// SupportsUnbonded is true: gatttool reads and writes without pairing.
func (b *Backend) SupportsUnbonded() bool { return true }

func (b *Backend) begin() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started || b.stopped {
		return gogatt.ErrNotStarted
	}
	return nil
}

func (b *Backend) forget(d *link) {
	b.mu.Lock()
	delete(b.devices, d)
	b.mu.Unlock()
}

// Connect starts a gatttool process and sends `connect ADDRESS public|random` (the type is always
// given: a bare address would reset it to public, attrib/interactive.c cmd_connect in BlueZ
// 5.66, docs/bluez-tools.md §Connect). The connection parameters of opts are validated but
// gatttool cannot apply them. The returned Device reconnects when opts.AutoReconnect is set
// (the module's one Device), re-subscribing every subscription. A Connect that Stop interrupts fails with
// an error matching gogatt.ErrNotStarted.
func (b *Backend) Connect(ctx context.Context, address string, opts gogatt.ConnectOptions) (gogatt.Device, error) {
	if err := b.begin(); err != nil {
		return nil, err
	}
	// The reconnect layer lives in the backend's context, not in the caller's.
	return b.handed.Connect(ctx, address, opts, gattkit.Config{Dial: b.dial, Group: &b.deliveries, Log: b.log, Values: b.stopContext()},
		&b.mu, func() bool { return b.stopped })
}

// dial makes one link (gattkit.Dialer): a new gatttool process and `connect`.
func (b *Backend) dial(ctx context.Context, a bt.Address, opts gogatt.ConnectOptions, sink gattkit.Sink) (gattkit.Link, error) {
	if err := b.begin(); err != nil {
		return nil, err
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout())
	defer cancel()
	stopCtx := b.stopContext()
	defer context.AfterFunc(stopCtx, cancel)()
	addr := a.String()
	// ended reports an attempt that Stop ended as such (the caller cancelled nothing).
	ended := func(err error) error {
		if stopCtx.Err() != nil && caller.Err() == nil {
			return fmt.Errorf("connect %s: backend stopped: %w", addr, gogatt.ErrNotStarted)
		}
		return err
	}
	d := &link{b: b, addr: addr, done: make(chan struct{})}
	p, err := startProc(ctx, &b.cfg, b.log, addr, func(h uint16, v []byte, _ bool) { sink(h, v) })
	if err != nil {
		return nil, ended(err)
	}
	d.p = p
	typ := "public"
	if opts.AddressType == gogatt.AddressRandom {
		typ = "random"
	}
	_, err = p.do(ctx, &op{name: "connect", cmd: "connect " + addr + " " + typ, noHangCheck: true,
		accept: func(l parse.Line) bool { return l.Kind == parse.Connected }})
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, gogatt.ErrTimeout) && !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%w: %w", gattkit.CtxErr(ctx, "connect"), err)
		}
		p.abort("connect failed")
		return nil, ended(fmt.Errorf("connect %s: %w", addr, err))
	}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		p.close("backend stopped")
		return nil, gogatt.ErrNotStarted
	}
	b.devices[d] = struct{}{}
	b.wg.Add(1)
	b.mu.Unlock()
	go d.watch()
	return d, nil
}
