// Package cli implements the gogatt command: its subcommands, flags, output and exit codes. It
// uses only the public gogatt API; the backends (and the emulator behind --sim) are injected
// through Env.Open and Env.ServeSim, so the commands can be tested in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/view"
)

// BackendConfig is what the global flags say about the adapter to open.
type BackendConfig struct {
	Kind   string       // "bgapi", "gatttool" or "bluez"
	Port   string       // BGAPI serial port; "" = auto-detect
	HCI    string       // gatttool and bluez: the HCI adapter, e.g. "hci0"
	Sim    bool         // an in-process emulated BLED112 with the demo peripherals
	Logger *slog.Logger // debug log (-v), never nil
	// Notify (--notify, bluez only) is how subscriptions receive values: "auto" (AcquireNotify,
	// StartNotify where bluetoothd refuses it), "start" or "acquire" (bluez.Config.Notify).
	Notify string
	// Passkey and PasskeyDisplay, set with --passkey, answer and show passkeys while pairing
	// (bgapi.Config's fields of the same names); nil without it.
	Passkey        func(ctx context.Context, address string) (uint32, error)
	PasskeyDisplay func(ctx context.Context, address string, passkey uint32)
	// Confirm, set with --passkey, answers a numeric comparison (bluez.Config.Confirm): nil
	// when the number matches (--passkey N: it is N; --passkey ask: the user says yes).
	Confirm func(ctx context.Context, address string, passkey uint32) error
}

// SimPeripheral describes one peripheral the emulator serves.
type SimPeripheral struct {
	Address string `json:"address"`
	Name    string `json:"name"`
	Kind    string `json:"kind"` // "heart-rate sensor", …
}

// SimProcess is an emulator serving in the background (Env.StartSim); without PID, the one
// `gogatt sim` serves itself. It is the object of `sim --json` (docs/cli-json.md).
type SimProcess struct {
	Path        string          `json:"port"`          // the pseudo-terminal to open
	PID         int             `json:"pid,omitempty"` // the process serving it, until sent SIGINT, SIGTERM or SIGHUP
	Peripherals []SimPeripheral `json:"peripherals"`
}

// SimLink is the link model of `gogatt sim --interval … --per-event …` (bled112.LinkModel):
// every ATT PDU in either direction takes one of PerEvent slots per connection event, one event
// every Interval. The zero value is no model: as fast as the host reads.
type SimLink struct {
	Interval time.Duration
	PerEvent int
}

// Env is everything the commands touch outside themselves.
type Env struct {
	Stdout, Stderr io.Writer
	// Stdin is where --passkey ask reads the passkey (nil: nowhere); StdinFile is Stdin when it
	// is a file, so that a prompt is shown on a terminal.
	Stdin     io.Reader
	StdinFile *os.File
	// StdoutFile is Stdout when it is a file; it decides whether scan draws a live table.
	StdoutFile *os.File
	// IsTerminal and Width answer for StdoutFile.
	IsTerminal func(*os.File) bool
	Width      func(*os.File) int
	// StdoutGone, when set, returns a channel closed when stdout's reader has gone (a pipe
	// into `head -1` or `grep -m1` that has exited), watched until ctx ends. A streamed scan
	// then ends early, as on Ctrl-C, rather than running on with nobody reading.
	StdoutGone func(ctx context.Context) <-chan struct{}
	// Open returns an adapter, not yet started. Its Stop must release everything it created
	// (for Sim: the emulator too).
	Open func(ctx context.Context, c BackendConfig) (gogatt.Backend, error)
	// Choose picks the backend when --backend is not given (and neither --sim, --port,
	// --notify nor --acquire-notify implies one): its kind and what decided it. Nil: bgapi.
	Choose func(ctx context.Context) (kind, why string)
	// ServeSim runs the BLED112 emulator with the demo peripherals on a pseudo-terminal until ctx
	// ends, pacing its links by link; ready is called once with the path to open.
	ServeSim func(ctx context.Context, log *slog.Logger, link SimLink, ready func(path string, peripherals []SimPeripheral)) error
	// StartSim starts the emulator of ServeSim in a process of its own that outlives this one
	// (`gogatt sim --background`) and returns once it serves.
	StartSim func(ctx context.Context, log *slog.Logger, link SimLink) (SimProcess, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Exit codes, documented in `gogatt help exit-codes` (exitCodesHelp).
const (
	ExitOK          = 0
	ExitFailure     = 1   // anything not listed below
	ExitUsage       = 2   // bad command, flag, argument or value
	ExitNoAdapter   = 3   // no adapter found, it cannot be opened, or it was lost
	ExitNotFound    = 4   // characteristic (or service) not found, or ambiguous
	ExitTimeout     = 5   // an operation timed out (device absent or not answering)
	ExitRefused     = 6   // the peer answered with an ATT error or refused pairing
	ExitLinkLost    = 7   // the connection was lost
	ExitUnsupported = 8   // the backend cannot do this
	ExitInterrupted = 130 // Ctrl-C during a command that is not a stream
)

const exitCodesHelp = `Exit status:
  0    success (streams — scan, subscribe, rssi --watch, sim — also end with 0 on Ctrl-C)
  1    failure not listed below
  2    usage: bad command, flag, argument or value
  3    no adapter found, it cannot be opened (permission, busy), or it was lost
       (unplugged, or reset by another program)
  4    characteristic or service not found, or an ambiguous UUID
  5    timeout: the device is absent or does not answer
  6    refused by the peer: ATT error, or pairing refused
  7    the connection was lost
  8    not supported by this backend
  130  interrupted by Ctrl-C`

// globals are the flags every command accepts, anywhere on the line.
type globals struct {
	backend string
	port    string
	hci     string
	sim     bool
	json    bool
	timeout time.Duration
	verbose bool
	passkey string
	notify  string
	acquire bool // --acquire-notify, deprecated: AcquireNotify is the default
}

func (g *globals) register(fs *pflag.FlagSet) {
	fs.StringVar(&g.backend, "backend", "", "adapter backend: bgapi (BLED112 dongle), bluez (BlueZ's bluetoothd over D-Bus) or gatttool (BlueZ's gatttool); default: bgapi when a BLED112 is plugged in, else bluez when bluetoothd runs (Linux), else bgapi ('gogatt version' shows the choice)")
	fs.StringVar(&g.port, "port", "", "BGAPI serial port, e.g. /dev/ttyACM0 (default: auto-detect a BLED112)")
	fs.StringVar(&g.hci, "hci", "hci0", "bluez, gatttool: HCI adapter")
	fs.StringVar(&g.notify, "notify", "auto", "bluez: how values reach subscriptions: auto (a socket from bluetoothd, AcquireNotify, or D-Bus signals, StartNotify, where bluetoothd refuses it), start (StartNotify only) or acquire (AcquireNotify only)")
	fs.BoolVar(&g.acquire, "acquire-notify", false, "bluez: AcquireNotify, with StartNotify where refused (now the default)")
	fs.MarkDeprecated("acquire-notify", "AcquireNotify is the default; --notify selects")
	fs.BoolVar(&g.sim, "sim", false, "use an in-process emulated BLED112 with the demo peripherals (no hardware needed)")
	fs.BoolVar(&g.json, "json", false, "print JSON, one object per line")
	fs.DurationVar(&g.timeout, "timeout", 10*time.Second, "time limit for connecting and for each operation")
	fs.BoolVarP(&g.verbose, "verbose", "v", false, "log debug messages to stderr")
	fs.StringVar(&g.passkey, "passkey", "", passkeyHelp)
}

// app is one run of the command.
type app struct {
	env  Env
	g    globals
	log  *slog.Logger
	opts opts
	// backendWhy says why the backend was chosen when --backend was not given ("" otherwise).
	backendWhy string
	// peer is the device the command works on (canonical form), for the hints of errors.
	peer string
	stdinState
	root *cobra.Command // the command tree (newRoot), for the completion scripts
}

func (a *app) now() time.Time {
	if a.env.Now != nil {
		return a.env.Now()
	}
	return time.Now()
}

// emit writes v as one JSON line (view.JSON: no control character reaches the terminal).
// Stdout carries only the objects docs/cli-json.md describes: should v not encode, that is
// said on stderr, as errors are.
func (a *app) emit(v any) {
	b, err := view.JSON(v)
	if err != nil {
		fmt.Fprintf(a.env.Stderr, "gogatt: cannot encode the output as JSON: %v\n", err)
		return
	}
	b = append(b, '\n')
	a.env.Stdout.Write(b)
}

// overwriteCtrlC moves a terminal's cursor back over the "^C" it echoed, so the next line
// starts clean.
func (a *app) overwriteCtrlC() {
	if !a.g.json && a.env.StdoutFile != nil && a.env.IsTerminal(a.env.StdoutFile) {
		a.printf("\r")
	}
}

// printf writes text output (nothing in --json mode).
func (a *app) printf(format string, args ...any) {
	if !a.g.json {
		fmt.Fprintf(a.env.Stdout, format, args...)
	}
}

// Run runs the command line args (without the program name) and returns the exit status. ctx
// is cancelled on Ctrl-C.
func Run(ctx context.Context, env Env, args []string) int {
	a := &app{env: env}
	if a.env.Stderr != nil {
		a.env.Stderr = &syncWriter{w: a.env.Stderr} // passkey callbacks print from their own goroutines
	}
	if a.env.IsTerminal == nil {
		a.env.IsTerminal = func(*os.File) bool { return false }
	}
	if a.env.Width == nil {
		a.env.Width = func(*os.File) int { return 80 }
	}
	a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	a.root = a.newRoot(isCompletionRequest(args))
	a.root.SetArgs(negativeArguments(a.root, args))
	cc, err := a.root.ExecuteContextC(ctx)
	return a.exit(ctx, cc, err)
}

// exit prints what err says and returns the exit status: a command's failure is classified
// (classify); anything else cobra or a command reports is a usage error.
func (a *app) exit(ctx context.Context, cc *cobra.Command, err error) int {
	var f failure
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errUsageShown):
		return ExitUsage
	case errors.As(err, &f):
		code, line := a.classify(ctx, f.err, f.c)
		// Escaped: an error may quote what a device or a tool sent (a line of hcitool's output).
		fmt.Fprintf(a.env.Stderr, "gogatt %s: %s\n", f.c.name, view.Escape(line))
		return code
	}
	var u usageErr
	if errors.As(err, &u) {
		err = u.error
	}
	var c *command
	if cc != nil && cc != a.root {
		c = lookup(cc.Name())
	}
	return a.usageError(c, err)
}

// failure is the error of a command's run function.
type failure struct {
	c   *command
	err error
}

func (f failure) Error() string { return f.err.Error() }
func (f failure) Unwrap() error { return f.err }

// errUsageShown: the usage was printed to stderr; the exit status is ExitUsage.
var errUsageShown = errors.New("usage shown")

// checkGlobals checks the global flags together and sets up the debug log.
func (a *app) checkGlobals() error {
	if a.g.backend == "" { // flags that only one backend has choose it
		switch {
		case a.g.sim || a.g.port != "":
			a.g.backend = "bgapi"
		case a.g.acquire || a.g.notify != "auto":
			a.g.backend = "bluez"
		}
	}
	switch {
	case a.g.backend != "" && a.g.backend != "bgapi" && a.g.backend != "gatttool" && a.g.backend != "bluez":
		return usagef("--backend %q: want bgapi, bluez or gatttool", a.g.backend)
	case (a.g.backend == "bluez" || a.g.backend == "") && !validHCI(a.g.hci):
		return usagef("--hci %q: want an adapter's name, hciN (e.g. hci0; 'bluetoothctl list' shows them)", a.g.hci)
	case a.g.acquire && a.g.backend != "bluez":
		return usagef("--acquire-notify works with --backend bluez")
	case a.g.notify != "auto" && a.g.notify != "start" && a.g.notify != "acquire":
		return usagef("--notify %q: want auto, start or acquire", a.g.notify)
	case a.g.notify != "auto" && a.g.backend != "bluez":
		return usagef("--notify works with --backend bluez")
	case a.g.acquire && a.g.notify != "auto":
		return usagef("--acquire-notify (deprecated) means --notify auto: leave it out")
	case a.g.sim && a.g.backend != "bgapi":
		return usagef("--sim emulates a BLED112: use it with --backend bgapi")
	case a.g.sim && a.g.port != "":
		return usagef("--sim and --port exclude each other: --sim brings its own emulated port")
	case a.g.timeout <= 0:
		return usagef("--timeout %v must be positive", a.g.timeout)
	}
	if err := parsePasskey(a.g.passkey); err != nil {
		return usageErr{err}
	}
	if a.g.passkey != "" && a.g.backend == "gatttool" {
		return usagef("--passkey works with --backend bgapi or bluez: with gatttool, pair with MITM protection through bluetoothctl, whose agent asks for the passkey")
	}
	level := slog.LevelWarn + 100 // silent
	if a.g.verbose {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: level}))
	return nil
}

// resolveBackend chooses the backend when --backend was not given (Env.Choose), once, and logs
// the choice.
func (a *app) resolveBackend(ctx context.Context) {
	if a.g.backend != "" {
		return
	}
	kind, why := "bgapi", "no probe in this build"
	if a.env.Choose != nil {
		kind, why = a.env.Choose(ctx)
	}
	a.g.backend, a.backendWhy = kind, why
	a.log.Debug("backend chosen (no --backend)", "backend", kind, "why", why)
}

// validHCI reports whether s names an HCI adapter as BlueZ does: "hci" and its index.
func validHCI(s string) bool {
	n, ok := strings.CutPrefix(s, "hci")
	if !ok || n == "" || len(n) > 3 {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// runCommand runs c after its flags and arguments were parsed.
func (a *app) runCommand(ctx context.Context, c *command, args []string) error {
	if err := a.checkGlobals(); err != nil {
		return err
	}
	err := c.run(ctx, a, args)
	var u usageErr
	if err == nil || errors.As(err, &u) {
		return err
	}
	return failure{c, err}
}

// usageErr marks a bad argument found while running a command.
type usageErr struct{ error }

func usagef(format string, args ...any) error { return usageErr{fmt.Errorf(format, args...)} }

func (a *app) usageError(c *command, err error) int {
	if c != nil {
		fmt.Fprintf(a.env.Stderr, "gogatt %s: %v\nusage: %s (see 'gogatt %s --help')\n", c.name, err, c.synopsis(), c.name)
	} else {
		fmt.Fprintf(a.env.Stderr, "gogatt: %v\nsee 'gogatt --help'\n", err)
	}
	return ExitUsage
}

// negativeArguments lets a negative number be an argument where people type one, among flags
// ("write … --format int --signed -5"): pflag would take "-5" for a shorthand flag. When the
// command's arguments include one, they are moved after a "--", in their order, and every flag
// before it; a flag's value stays the flag's ("--count -1").
func negativeArguments(root *cobra.Command, args []string) []string {
	cc, rest, err := root.Find(args)
	if err != nil || cc == root || !slices.ContainsFunc(rest, isNegativeNumber) {
		return args
	}
	var flags, pos []string
	for i := 0; i < len(rest); i++ {
		s := rest[i]
		switch {
		case s == "--":
			pos = append(pos, rest[i+1:]...)
			i = len(rest)
		case isNegativeNumber(s) || !strings.HasPrefix(s, "-") || s == "-":
			pos = append(pos, s)
		default:
			flags = append(flags, s)
			if flagTakesValue(cc.Flags(), s) && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
		}
	}
	path := strings.Fields(cc.CommandPath())[1:]
	return slices.Concat(path, flags, []string{"--"}, pos)
}

func isNegativeNumber(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	return s[1] >= '0' && s[1] <= '9'
}

// flagTakesValue reports whether token is a flag (without "=value") that consumes the next
// argument.
func flagTakesValue(fs *pflag.FlagSet, token string) bool {
	if strings.Contains(token, "=") {
		return false
	}
	var f *pflag.Flag
	if name, ok := strings.CutPrefix(token, "--"); ok {
		f = fs.Lookup(name)
	} else if name := strings.TrimPrefix(token, "-"); len(name) == 1 {
		f = fs.ShorthandLookup(name)
	}
	return f != nil && f.NoOptDefVal == ""
}

// withTimeout bounds one operation by --timeout.
func (a *app) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.g.timeout)
}

func (a *app) backendConfig() BackendConfig {
	c := BackendConfig{Kind: a.g.backend, Port: a.g.port, HCI: a.g.hci, Sim: a.g.sim, Logger: a.log, Notify: a.g.notify}
	c.Passkey, c.PasskeyDisplay = a.passkeyCallbacks()
	c.Confirm = a.confirmCallback()
	return c
}

// start opens and starts the adapter. The caller must call stop. An error is an
// *adapterError.
func (a *app) start(ctx context.Context) (b gogatt.Backend, stop func(), err error) {
	if a.env.Open == nil {
		return nil, nil, fmt.Errorf("no backend is built into this binary: %w", gogatt.ErrNoAdapter)
	}
	a.resolveBackend(ctx)
	b, err = a.env.Open(ctx, a.backendConfig())
	if err != nil {
		return nil, nil, &adapterError{err: err}
	}
	sctx, cancel := a.withTimeout(ctx)
	defer cancel()
	if err := b.Start(sctx); err != nil {
		b.Stop()
		// Out of time (and not interrupted): the adapter did not answer, whatever the
		// backend makes of it (a BLED112 that does not come back after its reset is "not
		// found" to it).
		timedOut := errors.Is(err, gogatt.ErrTimeout) || (ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded))
		return nil, nil, &adapterError{err: err, timedOut: timedOut}
	}
	return b, func() {
		if err := b.Stop(); err != nil {
			a.log.Debug("stopping the adapter", "err", err)
		}
	}, nil
}

// session is one adapter and one connected device.
type session struct {
	backend gogatt.Backend
	dev     gogatt.Device
	close   func()
}

// connect starts the adapter and connects to address.
func (a *app) connect(ctx context.Context, address string) (*session, error) {
	addr, err := gogatt.ParseAddress(address)
	if err != nil {
		return nil, usageErr{err}
	}
	atype, err := bt.ParseAddressType(a.opts.addressType)
	if err != nil {
		return nil, usageErr{err}
	}
	a.peer = addr.String()
	b, stop, err := a.start(ctx)
	if err != nil {
		return nil, err
	}
	cctx, cancel := a.withTimeout(ctx)
	defer cancel()
	a.log.Debug("connecting", "address", addr)
	dev, err := b.Connect(cctx, addr.String(), gogatt.ConnectOptions{AddressType: atype, Timeout: a.g.timeout})
	if err != nil {
		stop()
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return &session{backend: b, dev: dev, close: func() {
		if err := dev.Disconnect(); err != nil {
			a.log.Debug("disconnecting", "err", err)
		}
		stop()
	}}, nil
}
