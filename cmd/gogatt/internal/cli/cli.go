// Package cli implements the gogatt command: its subcommands, flags, output and exit codes. It
// uses only the public gogatt API; the backends (and the emulator behind --sim) are injected
// through Env.Open and Env.ServeSim, so the commands can be tested in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/view"
)

// BackendConfig is what the global flags say about the adapter to open.
type BackendConfig struct {
	Kind   string       // "bgapi" or "gatttool"
	Port   string       // BGAPI serial port; "" = auto-detect
	HCI    string       // gatttool HCI device, e.g. "hci0"
	Sim    bool         // an in-process emulated BLED112 with the demo peripherals
	Logger *slog.Logger // debug log (-v), never nil
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

// Env is everything the commands touch outside themselves.
type Env struct {
	Stdout, Stderr io.Writer
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
	// ServeSim runs the BLED112 emulator with the demo peripherals on a pseudo-terminal until ctx
	// ends; ready is called once with the path to open.
	ServeSim func(ctx context.Context, log *slog.Logger, ready func(path string, peripherals []SimPeripheral)) error
	// StartSim starts the emulator of ServeSim in a process of its own that outlives this one
	// (`gogatt sim --background`) and returns once it serves.
	StartSim func(ctx context.Context, log *slog.Logger) (SimProcess, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Exit codes, documented in --help.
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

// globals are the flags every command accepts.
type globals struct {
	backend string
	port    string
	hci     string
	sim     bool
	json    bool
	timeout time.Duration
	verbose bool
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.backend, "backend", "bgapi", "adapter backend: bgapi (BLED112 dongle) or gatttool (BlueZ)")
	fs.StringVar(&g.port, "port", "", "BGAPI serial port, e.g. /dev/ttyACM0 (default: auto-detect a BLED112)")
	fs.StringVar(&g.hci, "hci", "hci0", "gatttool: HCI device")
	fs.BoolVar(&g.sim, "sim", false, "use an in-process emulated BLED112 with the demo peripherals (no hardware needed)")
	fs.BoolVar(&g.json, "json", false, "print JSON, one object per line")
	fs.DurationVar(&g.timeout, "timeout", 10*time.Second, "time limit for connecting and for each operation")
	fs.BoolVar(&g.verbose, "v", false, "log debug messages to stderr")
}

// app is one run of the command.
type app struct {
	env  Env
	g    globals
	log  *slog.Logger
	opts opts
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
	if a.env.IsTerminal == nil {
		a.env.IsTerminal = func(*os.File) bool { return false }
	}
	if a.env.Width == nil {
		a.env.Width = func(*os.File) int { return 80 }
	}
	// Global flags may come before the command name…
	gfs := flag.NewFlagSet("gogatt", flag.ContinueOnError)
	gfs.SetOutput(io.Discard)
	a.g.register(gfs)
	help := gfs.Bool("help", false, "")
	gfs.BoolVar(help, "h", false, "")
	version := gfs.Bool("version", false, "")
	if err := gfs.Parse(args); err != nil {
		return a.usageError(nil, err)
	}
	if *version {
		runVersion(ctx, a, nil)
		return ExitOK
	}
	rest := gfs.Args()
	if *help || len(rest) == 0 {
		if len(rest) == 0 && !*help {
			a.mainUsage(a.env.Stderr)
			return ExitUsage
		}
		a.mainUsage(a.env.Stdout)
		return ExitOK
	}
	name := rest[0]
	if name == "help" {
		if len(rest) > 1 {
			if c := lookup(rest[1]); c != nil {
				a.commandUsage(a.env.Stdout, c)
				return ExitOK
			}
			return a.usageError(nil, fmt.Errorf("unknown command %q", rest[1]))
		}
		a.mainUsage(a.env.Stdout)
		return ExitOK
	}
	c := lookup(name)
	if c == nil {
		return a.usageError(nil, fmt.Errorf("unknown command %q (run 'gogatt help' for the list)", name))
	}
	// …or anywhere after it, among the command's own flags and arguments.
	fs := flag.NewFlagSet("gogatt "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.g.register(fs)
	// Keep values given before the command name: register resets defaults, so re-parse them.
	if err := fs.Parse(args[:len(args)-len(rest)]); err != nil {
		return a.usageError(c, err)
	}
	if c.flags != nil {
		c.flags(fs, &a.opts)
	}
	pos, err := parseInterspersed(fs, rest[1:])
	if errors.Is(err, flag.ErrHelp) {
		a.commandUsage(a.env.Stdout, c)
		return ExitOK
	}
	if err != nil {
		return a.usageError(c, err)
	}
	if len(pos) < c.minArgs || (c.maxArgs >= 0 && len(pos) > c.maxArgs) {
		return a.usageError(c, fmt.Errorf("%s takes %s", c.name, c.argsDesc()))
	}
	if a.g.backend != "bgapi" && a.g.backend != "gatttool" {
		return a.usageError(c, fmt.Errorf("--backend %q: want bgapi or gatttool", a.g.backend))
	}
	if a.g.sim && a.g.backend != "bgapi" {
		return a.usageError(c, errors.New("--sim emulates a BLED112: use it with --backend bgapi"))
	}
	if a.g.sim && a.g.port != "" {
		return a.usageError(c, errors.New("--sim and --port exclude each other: --sim brings its own emulated port"))
	}
	if a.g.timeout <= 0 {
		return a.usageError(c, fmt.Errorf("--timeout %v must be positive", a.g.timeout))
	}
	level := slog.LevelWarn + 100 // silent
	if a.g.verbose {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: level}))

	err = c.run(ctx, a, pos)
	if err == nil {
		return ExitOK
	}
	var u usageErr
	if errors.As(err, &u) {
		return a.usageError(c, u.error)
	}
	code, line := a.classify(ctx, err, c)
	// Escaped: an error may quote what a device or a tool sent (a line of hcitool's output).
	fmt.Fprintf(a.env.Stderr, "gogatt %s: %s\n", c.name, view.Escape(line))
	return code
}

// usageErr marks a bad argument found while running a command.
type usageErr struct{ error }

func usagef(format string, args ...any) error { return usageErr{fmt.Errorf(format, args...)} }

func (a *app) usageError(c *command, err error) int {
	if c != nil {
		fmt.Fprintf(a.env.Stderr, "gogatt %s: %v\nusage: gogatt %s %s (see 'gogatt %s --help')\n", c.name, err, c.name, c.args, c.name)
	} else {
		fmt.Fprintf(a.env.Stderr, "gogatt: %v\nsee 'gogatt --help'\n", err)
	}
	return ExitUsage
}

// parseInterspersed parses flags that may appear between positional arguments, as people
// type them: "read C0:FF:EE:00:00:01 2a19 --format int". A token that is a negative number
// ("-5") is an argument, not a flag; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if isNegativeNumber(args[0]) {
			pos, args = append(pos, args[0]), args[1:]
			continue
		}
		// Parse up to (not including) the next negative number, which flag would take for a flag.
		end := len(args)
		for i := 1; i < len(args); i++ {
			if isNegativeNumber(args[i]) && !flagTakesValue(fs, args[i-1]) {
				end = i
				break
			}
		}
		if err := fs.Parse(args[:end]); err != nil {
			return nil, err
		}
		left := fs.Args()
		consumed := end - len(left)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(append(pos, left...), args[end:]...), nil
		}
		if len(left) > 0 {
			pos = append(pos, left[0])
			args = append(left[1:len(left):len(left)], args[end:]...)
		} else {
			args = args[end:]
		}
	}
	return pos, nil
}

func isNegativeNumber(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	return s[1] >= '0' && s[1] <= '9'
}

// flagTakesValue reports whether token is a flag (without "=value") that consumes the next
// argument.
func flagTakesValue(fs *flag.FlagSet, token string) bool {
	if !strings.HasPrefix(token, "-") || strings.Contains(token, "=") {
		return false
	}
	f := fs.Lookup(strings.TrimLeft(token, "-"))
	if f == nil {
		return false
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return false
	}
	return true
}

// withTimeout bounds one operation by --timeout.
func (a *app) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.g.timeout)
}

func (a *app) backendConfig() BackendConfig {
	return BackendConfig{Kind: a.g.backend, Port: a.g.port, HCI: a.g.hci, Sim: a.g.sim, Logger: a.log}
}

// start opens and starts the adapter. The caller must call stop. An error is an
// *adapterError.
func (a *app) start(ctx context.Context) (b gogatt.Backend, stop func(), err error) {
	if a.env.Open == nil {
		return nil, nil, fmt.Errorf("no backend is built into this binary: %w", gogatt.ErrNoAdapter)
	}
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
