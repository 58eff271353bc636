package bluezsim

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// expectTimeout bounds every wait for a real tool's output. Generous: the tools are real
// processes sharing two cores with other test suites.
const expectTimeout = 15 * time.Second

// term runs a real tool in a pseudo-terminal (500 columns, so readline never wraps) and lets a
// test wait for its output.
type term struct {
	t   testing.TB
	cmd *exec.Cmd
	f   *os.File

	mu      sync.Mutex
	buf     []byte
	pos     int           // output before pos has been consumed by expect
	changed chan struct{} // closed and replaced whenever buf grows or the reader ends
	eof     bool

	readerDone chan struct{}
	waitErr    error
	waitDone   chan struct{}
}

func toolEnv(e *Env) []string {
	env := append(os.Environ(), e.Environ()...)
	return append(env, "TERM=xterm", "LC_ALL=C")
}

func startTerm(t testing.TB, e *Env, name string, args ...string) *term {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = toolEnv(e)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 500})
	if err != nil {
		t.Fatalf("starting %s in a pty: %v", name, err)
	}
	tm := &term{t: t, cmd: cmd, f: f, changed: make(chan struct{}), readerDone: make(chan struct{}), waitDone: make(chan struct{})}
	go tm.read()
	go func() {
		tm.waitErr = cmd.Wait()
		close(tm.waitDone)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-tm.waitDone
		<-tm.readerDone
		f.Close()
	})
	return tm
}

func (tm *term) read() {
	defer close(tm.readerDone)
	b := make([]byte, 4096)
	for {
		n, err := tm.f.Read(b)
		tm.mu.Lock()
		tm.buf = append(tm.buf, b[:n]...)
		if err != nil {
			tm.eof = true
		}
		close(tm.changed)
		tm.changed = make(chan struct{})
		tm.mu.Unlock()
		if err != nil {
			return // EIO once the child has exited
		}
	}
}

// expect waits until the unconsumed output contains s, consumes it and returns everything up to
// and including s.
func (tm *term) expect(s string) string {
	tm.t.Helper()
	timer := time.NewTimer(expectTimeout)
	defer timer.Stop()
	for {
		tm.mu.Lock()
		i := bytes.Index(tm.buf[tm.pos:], []byte(s))
		ch, eof := tm.changed, tm.eof
		if i >= 0 {
			out := string(tm.buf[tm.pos : tm.pos+i+len(s)])
			tm.pos += i + len(s)
			tm.mu.Unlock()
			return out
		}
		rest := string(tm.buf[tm.pos:])
		tm.mu.Unlock()
		if eof {
			tm.t.Fatalf("%s exited before printing %q; unconsumed output: %q", tm.cmd.Path, s, rest)
		}
		select {
		case <-ch:
		case <-timer.C:
			tm.t.Fatalf("%s did not print %q within %v; unconsumed output: %q", tm.cmd.Path, s, expectTimeout, rest)
		}
	}
}

// expectAll waits until the output (consumed or not) contains every string, in any order.
func (tm *term) expectAll(strs ...string) {
	tm.t.Helper()
	timer := time.NewTimer(expectTimeout)
	defer timer.Stop()
	for {
		tm.mu.Lock()
		out, ch, eof := string(tm.buf), tm.changed, tm.eof
		tm.mu.Unlock()
		missing := ""
		for _, s := range strs {
			if !strings.Contains(out, s) {
				missing = s
				break
			}
		}
		if missing == "" {
			return
		}
		if eof {
			tm.t.Fatalf("%s exited before printing %q; output: %q", tm.cmd.Path, missing, out)
		}
		select {
		case <-ch:
		case <-timer.C:
			tm.t.Fatalf("%s did not print %q within %v; output: %q", tm.cmd.Path, missing, expectTimeout, out)
		}
	}
}

// send types a line.
func (tm *term) send(line string) {
	tm.t.Helper()
	if _, err := tm.f.Write([]byte(line + "\n")); err != nil {
		tm.t.Fatalf("writing to %s: %v", tm.cmd.Path, err)
	}
}

// signal sends sig to the tool (by its PID).
func (tm *term) signal(sig syscall.Signal) {
	tm.t.Helper()
	if err := tm.cmd.Process.Signal(sig); err != nil {
		tm.t.Fatalf("signal %v to %s: %v", sig, tm.cmd.Path, err)
	}
}

// interrupt stops hcitool lescan with SIGINT and returns its exit code. hcitool only notices
// SIGINT while blocked in read(2); one that lands while it prints a report is lost and it
// scans on (a race in hcitool itself), so SIGINT is repeated until it exits.
func (tm *term) interrupt() int {
	tm.t.Helper()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(expectTimeout)
	defer deadline.Stop()
	for {
		tm.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-tm.waitDone:
			return tm.wait()
		case <-tick.C:
		case <-deadline.C:
			tm.t.Fatalf("%s did not exit on SIGINT within %v", tm.cmd.Path, expectTimeout)
		}
	}
}

// wait waits for the tool to exit and returns its exit code.
func (tm *term) wait() int {
	tm.t.Helper()
	select {
	case <-tm.waitDone:
	case <-time.After(expectTimeout):
		tm.t.Fatalf("%s did not exit within %v", tm.cmd.Path, expectTimeout)
	}
	<-tm.readerDone
	if ee, ok := tm.waitErr.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if tm.waitErr != nil {
		tm.t.Fatalf("%s: %v", tm.cmd.Path, tm.waitErr)
	}
	return 0
}

// output returns everything the tool printed so far.
func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return string(tm.buf)
}

// pid returns the tool's process ID as gatttool prints it in GLib warnings.
func (tm *term) pid() string { return strconv.Itoa(tm.cmd.Process.Pid) }

// run runs a tool without a terminal and returns stdout, stderr and the exit code.
func run(t testing.TB, e *Env, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), expectTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = toolEnv(e)
	var o, er bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &er
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish within %v; stdout %q stderr %q", name, args, expectTimeout, o.String(), er.String())
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return o.String(), er.String(), code
}
