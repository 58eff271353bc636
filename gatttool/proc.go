package gatttool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/gatttool/internal/parse"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// attTransactionTimeout is ATT's transaction timeout (Core v5.3 Vol 3 Part F §3.3.3): a request
// not answered in 30 s ends the bearer. gatttool then hangs (docs/bluez-tools.md §ATT timeout
// hang).
const attTransactionTimeout = 30 * time.Second

// ptyCols is the pty width: wider than any command line gatttool echoes (a 512-byte write is
// about 1100 columns), so readline never wraps or redraws (docs/bluez-tools.md §Line width).
const ptyCols = 4096

// exitGrace bounds the wait for a child to leave after "exit" or SIGINT before it is killed.
const exitGrace = 3 * time.Second

// op is one command on a gatttool process and the lines that answer it.
type op struct {
	name   string // operation for errors: "read", "write", "discover services", …
	handle uint16 // handle for ATT errors
	cmd    string // the line written to gatttool
	// accept reports whether a result line belongs to this op.
	accept func(parse.Line) bool
	// multi: results come as a burst of lines from one gatttool callback; after the first one a
	// sentinel ("sec-level") is sent, and its answer ends the op (one callback prints all lines
	// before stdin is read again: docs/bluez-tools.md §Command completion).
	multi bool
	// silent: gatttool prints nothing on success; the sentinel is sent with the command.
	silent bool
	// noHangCheck: the op is bounded by its context only (connect: ConnectOptions.Timeout).
	noHangCheck bool
	// errorIsEmpty maps "no attribute found" discovery errors to an empty result.
	errorIsEmpty func(parse.Line) bool

	lines    []parse.Line
	err      error
	sentinel bool // a sentinel is outstanding: only its answer ends the op
	final    bool // the terminal line was seen: the next prompt ends the op
	started  time.Time
	done     chan struct{}
	timer    *time.Timer
}

// proc drives one interactive gatttool process in a pty (docs/bluez-tools.md §gatttool -I).
type proc struct {
	log     *slog.Logger
	timeout time.Duration // hang detector (Config.RequestTimeout)
	// attTimeout: a 0x0e error this long after the request is gatttool's own ATT timeout.
	attTimeout time.Duration
	addr       string

	cmd *exec.Cmd
	pty *os.File

	// onValue receives notification and indication values on the reader goroutine; it must
	// not block (the registry's Dispatch copies and queues).
	onValue func(handle uint16, value []byte, indication bool)

	sem chan struct{} // one command at a time (docs/bluez-tools.md §Command completion)
	wmu sync.Mutex    // serialises writes to the pty

	mu        sync.Mutex
	cur       *op
	connected bool
	lossErr   error
	lost      chan struct{} // closed when the link or the process is gone
	ready     chan struct{} // closed at the first prompt
	readyOnce sync.Once
	exited    chan struct{} // closed when the reader has seen EOF and the child was reaped
	killOnce  sync.Once
}

// startProc starts `gatttool -i hci -I [extra]` in a wide pty with TERM=dumb and waits for its
// first prompt.
func startProc(ctx context.Context, cfg *Config, log *slog.Logger, addr string, onValue func(uint16, []byte, bool)) (*proc, error) {
	args := append([]string{"-i", cfg.HCIDevice}, cfg.ExtraGatttoolArgs...)
	args = append(args, "-I")
	cmd := exec.Command(cfg.GatttoolPath, args...)
	cmd.Env = childEnv(cfg.Env)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: ptyCols})
	if err != nil {
		return nil, fmt.Errorf("gatttool: start %s: %w", cfg.GatttoolPath, err)
	}
	p := &proc{
		log:        log.With("tool", "gatttool", "pid", cmd.Process.Pid, "addr", addr),
		timeout:    cfg.RequestTimeout,
		attTimeout: cfg.attTimeout,
		addr:       addr,
		cmd:        cmd,
		pty:        f,
		onValue:    onValue,
		sem:        make(chan struct{}, 1),
		lost:       make(chan struct{}),
		ready:      make(chan struct{}),
		exited:     make(chan struct{}),
	}
	go p.readLoop()
	select {
	case <-p.ready:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("gatttool exited before its first prompt: %w", p.loss())
	case <-ctx.Done():
		p.kill()
		<-p.exited
		return nil, gattkit.CtxErr(ctx, "gatttool start")
	}
}

// childEnv is the environment of every child: the parent's, TERM=dumb (no bracketed-paste
// toggles, docs/bluez-tools.md §Terminal output), the C locale (English strerror texts), then
// the caller's extras.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TERM=") || strings.HasPrefix(kv, "LC_ALL=") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "TERM=dumb", "LC_ALL=C", "LANG=C")
	return append(env, extra...)
}

func (p *proc) loss() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lossErr
}

// readLoop is the process's only reader: it splits and classifies every line, routes values to
// onValue, and answers the current op.
func (p *proc) readLoop() {
	var sp parse.Splitter
	buf := make([]byte, 32<<10)
	handle := func(t parse.Token) { p.token(t) }
	for {
		n, err := p.pty.Read(buf)
		if n > 0 {
			sp.Feed(buf[:n], handle)
		}
		if err != nil {
			sp.Flush(handle)
			break
		}
	}
	werr := p.cmd.Wait()
	p.pty.Close()
	reason := "gatttool exited"
	if werr != nil {
		reason = "gatttool exited: " + werr.Error()
	}
	p.gone(&gogatt.DisconnectError{Address: p.addr, Reason: reason}, true)
	close(p.exited)
}

// token handles one token from the splitter.
func (p *proc) token(t parse.Token) {
	if t.IsPrompt {
		p.readyOnce.Do(func() { close(p.ready) })
		p.mu.Lock()
		o := p.cur
		var lost *gogatt.DisconnectError
		if o != nil && o.final {
			if !t.Prompt.Connected && p.connected && isUnlikely(o.err) {
				// A pending request failed with 0x0e and the prompt lost its colour: the link
				// dropped (docs/bluez-tools.md §Link loss). The GLib warning follows — or, after
				// a failed pairing on a real kernel, gatttool crashes before printing it
				// (docs/real-kernel-tier.md): the loss is recorded now, so that it is what every
				// later call reports and no command reaches that process.
				lost = linkLostDuring(p.addr, o.name)
				o.err = lost
			}
			p.finishLocked(o)
		}
		p.mu.Unlock()
		if lost != nil {
			p.gone(lost, false)
		}
		return
	}
	l := parse.ParseGatttool(t.Line)
	switch l.Kind {
	case parse.Notification, parse.Indication:
		p.onValue(l.Handle, l.Value, l.Kind == parse.Indication)
		return
	case parse.Disconnected:
		p.log.Debug("link closed", "line", t.Line)
		p.gone(&gogatt.DisconnectError{Address: p.addr, Reason: "link closed (gatttool: Invalid file descriptor)"}, false)
		return
	case parse.Empty:
		return
	}
	p.log.Debug("line", "kind", l.Kind.String(), "text", t.Line)
	var sentinel, dropped bool
	p.mu.Lock()
	switch l.Kind {
	case parse.Connected:
		p.connected = true
	case parse.NotConnected:
		// One process serves one connection: once it was up, gatttool saying "Disconnected"
		// means the link is gone, whether or not the GLib warning was seen.
		dropped = p.connected
	}
	if o := p.cur; o != nil {
		sentinel = p.feedLocked(o, l)
	} else if l.Kind.IsError() {
		p.log.Warn("unsolicited error line", "text", t.Line)
	}
	p.mu.Unlock()
	if sentinel {
		p.write("sec-level\n")
	}
	if dropped {
		p.gone(&gogatt.DisconnectError{Address: p.addr, Reason: "gatttool reports the link disconnected"}, false)
	}
}

// linkLostDuring is the error of a request that was pending when the link dropped. gatttool
// answers it with the text of ATT error 0x0e, which no peer sent (docs/bluez-tools.md §Link
// loss), so the caller gets the loss and no *gogatt.ATTError. On a real kernel this is also how a
// failed pairing ends a read or write: when the peer answers Insufficient Encryption or
// Authentication, gatttool raises the socket's security level and retries (src/shared/att.c in
// BlueZ 5.66, handle_error/change_security), the kernel starts pairing, and a pairing that fails
// (no agent to confirm it, or refused) drops the link (docs/real-kernel-tier.md).
func linkLostDuring(addr, opName string) *gogatt.DisconnectError {
	return &gogatt.DisconnectError{Address: addr,
		Reason: "link lost during " + opName + " (if the attribute needs encryption: the pairing gatttool started failed, e.g. no agent or refused)"}
}

func isUnlikely(err error) bool {
	var ae *gogatt.ATTError
	return errors.As(err, &ae) && ae.Code == att.ErrUnlikelyError
}

// feedLocked applies line l to op o; it reports whether a sentinel must be written.
func (p *proc) feedLocked(o *op, l parse.Line) (sendSentinel bool) {
	if o.sentinel {
		switch {
		case l.Kind == parse.SecLevel:
			p.finishLocked(o)
		case l.Kind.IsError():
			if o.err == nil {
				o.err = p.lineErr(o, l)
			}
		case o.accept != nil && o.accept(l):
			o.lines = append(o.lines, l)
		}
		return false
	}
	switch {
	case l.Kind.IsError():
		o.err = p.lineErr(o, l)
		o.final = true
	case o.accept != nil && o.accept(l):
		o.lines = append(o.lines, l)
		if o.multi {
			o.sentinel = true
			return true
		}
		o.final = true
	}
	return false
}

// lineErr converts an error line for op o.
func (p *proc) lineErr(o *op, l parse.Line) error {
	if o.errorIsEmpty != nil && o.errorIsEmpty(l) {
		return errEmpty
	}
	err := toolError(l.Err(o.name, o.handle), o.handle, l.Text)
	if l.Kind == parse.ATTErrorLine && l.Code == att.ErrUnlikelyError && time.Since(o.started) >= p.attTimeout {
		// The 30 s ATT transaction timeout (docs/bluez-tools.md §ATT timeout hang): gatttool is
		// now hung.
		err = fmt.Errorf("%w (gatttool reported the ATT transaction timeout: %w)", gattkit.TimeoutError(o.name), err)
		go p.hung(o.name)
	}
	return err
}

// errEmpty marks a discovery that found nothing ("No attribute found within the given range").
var errEmpty = errors.New("nothing found")

// finishLocked ends op o (p.mu held) and frees the command slot.
func (p *proc) finishLocked(o *op) {
	if p.cur != o {
		return
	}
	p.cur = nil
	if o.timer != nil {
		o.timer.Stop()
	}
	close(o.done)
	<-p.sem
}

// gone records the end of the link (or of the process) once, fails the current op and starts
// the termination of the process.
func (p *proc) gone(err *gogatt.DisconnectError, exited bool) {
	p.mu.Lock()
	first := p.lossErr == nil
	if first {
		p.lossErr = err
		p.connected = false
		close(p.lost)
	}
	if o := p.cur; o != nil {
		if o.err == nil {
			o.err = p.lossErr
		}
		p.finishLocked(o)
	}
	p.mu.Unlock()
	if first && !exited {
		go p.terminate()
	}
}

// terminate asks gatttool to exit and kills it if it has not left within exitGrace.
func (p *proc) terminate() {
	p.write("exit\n")
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.log.Warn("gatttool did not exit; killing it")
		p.kill()
	}
}

// hung recovers from gatttool's post-timeout hang (docs/bluez-tools.md §ATT timeout hang): the
// process is killed.
func (p *proc) hung(opName string) {
	p.log.Warn("gatttool hung (no answer); killing it", "op", opName)
	p.gone(&gogatt.DisconnectError{Address: p.addr, Reason: "gatttool stopped answering during " + opName + " (ATT transaction timeout)", Err: gattkit.TimeoutError(opName)}, true)
	p.kill()
}

func (p *proc) kill() {
	p.killOnce.Do(func() {
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.log.Debug("kill", "err", err)
		}
	})
}

func (p *proc) write(s string) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if _, err := io.WriteString(p.pty, s); err != nil {
		p.log.Debug("write", "err", err)
	}
}

// do runs op o: it waits for the command slot, writes the command and waits for the answer.
// If ctx ends first the op keeps its slot until gatttool answers (so that its answer cannot be
// taken for the next command's) or the hang detector fires.
func (p *proc) do(ctx context.Context, o *op) ([]parse.Line, error) {
	if ctx.Err() != nil {
		return nil, gattkit.CtxErr(ctx, o.name)
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, gattkit.CtxErr(ctx, o.name)
	case <-p.lost:
		return nil, p.loss()
	}
	p.mu.Lock()
	if p.lossErr != nil {
		<-p.sem
		err := p.lossErr
		p.mu.Unlock()
		return nil, err
	}
	o.done = make(chan struct{})
	o.started = time.Now()
	o.sentinel = o.silent
	p.cur = o
	if p.timeout > 0 && !o.noHangCheck {
		o.timer = time.AfterFunc(p.timeout, func() { p.timedOut(o) })
	}
	p.mu.Unlock()

	line := o.cmd + "\n"
	if o.silent {
		line += "sec-level\n"
	}
	p.write(line)
	select {
	case <-o.done:
		if errors.Is(o.err, errEmpty) {
			return nil, nil
		}
		return o.lines, o.err
	case <-ctx.Done():
		return nil, gattkit.CtxErr(ctx, o.name)
	}
}

// timedOut is the hang detector: no answer within RequestTimeout.
func (p *proc) timedOut(o *op) {
	p.mu.Lock()
	if p.cur != o {
		p.mu.Unlock()
		return
	}
	o.err = fmt.Errorf("%w: gatttool gave no answer within %v", gattkit.TimeoutError(o.name), p.timeout)
	p.finishLocked(o)
	p.mu.Unlock()
	p.hung(o.name)
}

// close ends the process: "exit" then a kill after exitGrace; it waits for the reader.
func (p *proc) close(reason string) {
	p.gone(&gogatt.DisconnectError{Address: p.addr, Reason: reason, Local: true}, true)
	p.terminate()
	<-p.exited
}

// abort kills the process at once and waits for the reader (a failed or timed-out connect).
func (p *proc) abort(reason string) {
	p.gone(&gogatt.DisconnectError{Address: p.addr, Reason: reason, Local: true}, true)
	p.kill()
	<-p.exited
}

// signalled reports whether the process was killed by sig.
func signalled(ps *os.ProcessState, sig syscall.Signal) bool {
	if ps == nil {
		return false
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}
