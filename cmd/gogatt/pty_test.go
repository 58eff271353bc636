package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyProc is gogatt running on a pseudo-terminal of a given width, as a person in a terminal
// would run it; out collects everything it wrote.
type ptyProc struct {
	cmd  *exec.Cmd
	tty  *os.File // the pty's master side: what the person types goes here
	mu   sync.Mutex
	out  bytes.Buffer
	more chan struct{}
	done chan struct{}
}

func startPTY(t *testing.T, width int, args ...string) *ptyProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cmd.Environ(), "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: uint16(width)})
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	p := &ptyProc{cmd: cmd, tty: f, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				p.mu.Lock()
				p.out.Write(buf[:n])
				p.mu.Unlock()
				select {
				case p.more <- struct{}{}:
				default:
				}
			}
			if err != nil { // EIO once the child has exited and closed the tty
				return
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		f.Close()
		<-p.done
	})
	return p
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the screen so far matches re.
func (p *ptyProc) waitFor(t *testing.T, width int, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(time.Minute)
	for {
		s := newScreen(width)
		s.write(p.output())
		if rx.MatchString(strings.Join(s.text(), "\n")) {
			return
		}
		select {
		case <-p.more:
		case <-p.done:
			s := newScreen(width)
			s.write(p.output())
			if !rx.MatchString(strings.Join(s.text(), "\n")) {
				t.Fatalf("output ended without %q:\n%s", re, strings.Join(s.text(), "\n"))
			}
			return
		case <-deadline:
			t.Fatalf("screen never matched %q:\n%s", re, strings.Join(s.text(), "\n"))
		}
	}
}

func (p *ptyProc) wait(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	<-p.done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return 0
}

// TestLiveScan drives the live scan table on a terminal 100 columns wide: while it runs the
// table shows the devices and the time left, redrawn in place (one table, not a scrolling
// log); at the end, after --duration, the table stays with a "Scan finished" line and the
// cursor is visible. How many devices a loaded machine sees in 3 s is not checked, only that
// the table and the summary agree (TestLiveScanNarrowAndCtrlC waits for all three).
func TestLiveScan(t *testing.T) {
	const width = 100
	p := startPTY(t, width, "scan", "--sim", "--duration", "3s")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%q", code, p.output())
	}
	// While it ran, a frame ended with the status line (3s left on the first frame; a loaded
	// machine may draw the next ones late).
	if !regexp.MustCompile(`\nScanning: [0-3] devices?, -?\d+s left \(Ctrl-C to stop\)\x1b\[K`).MatchString(p.output()) {
		t.Errorf("no status line while scanning:\n%q", p.output())
	}
	s := newScreen(width)
	s.write(p.output())
	lines := s.text()
	if len(lines) < 2 || !regexp.MustCompile(`^ADDRESS +NAME +RSSI +LAST SEEN +MANUFACTURER$`).MatchString(lines[0]) {
		t.Fatalf("final screen (one table redrawn in place):\n%s", strings.Join(lines, "\n"))
	}
	rows := lines[1 : len(lines)-1]
	row := regexp.MustCompile(`^C0:FF:EE:00:00:0[1-3]  gogatt \w+ +-\d+ +(now|\d+\.\ds)( |$)`)
	for i, l := range rows {
		if len(rows) > 3 || !row.MatchString(l) {
			t.Errorf("row %d = %q, want %v", i, l, row)
		}
	}
	// The scan lasts at least its --duration; a loaded machine may take longer.
	sum := regexp.MustCompile(`^Scan finished: (\d) devices? in (\d+)\.\ds\.$`).FindStringSubmatch(lines[len(lines)-1])
	if sum == nil || sum[1] != strconv.Itoa(len(rows)) || atoi(sum[2]) < 3 {
		t.Errorf("last line = %q after %d row(s)", lines[len(lines)-1], len(rows))
	}
	if s.cursorHidden {
		t.Error("the cursor is still hidden after the scan")
	}
	if s.wrapped || len(s.unknownEscape) > 0 {
		t.Errorf("wrapped %v, unknown escapes %q", s.wrapped, s.unknownEscape)
	}
	if !regexp.MustCompile(`\r\x1b\[\d+A`).MatchString(p.output()) {
		t.Error("the table was never redrawn in place")
	}
}

// TestLiveScanNarrowAndCtrlC: on a 50-column terminal no line wraps; Ctrl-C ends the scan
// early with exit status 0 and the final table.
func TestLiveScanNarrowAndCtrlC(t *testing.T) {
	const width = 50
	p := startPTY(t, width, "scan", "--sim", "--duration", "1h")
	p.waitFor(t, width, `(?m)^C0:FF:EE:00:00:03`)
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after Ctrl-C", code)
	}
	s := newScreen(width)
	s.write(p.output())
	lines := s.text()
	if s.wrapped {
		t.Errorf("a line wrapped on a %d-column terminal:\n%s", width, strings.Join(lines, "\n"))
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Scan finished: 3 devices in") {
		t.Errorf("last line after Ctrl-C = %q", last)
	}
	if s.cursorHidden {
		t.Error("cursor left hidden after Ctrl-C")
	}
}

// TestPTYSubscribeCtrlC presses Ctrl-C on the terminal (the line discipline turns it into
// SIGINT for gogatt's process group) during a subscription: the summary starts on a clean line
// (the echoed ^C is overwritten) and the exit status is 0.
func TestPTYSubscribeCtrlC(t *testing.T) {
	const width = 80
	p := startPTY(t, width, "subscribe", "--sim", hrm, "2a37")
	p.waitFor(t, width, `(?m)^\d\d:\d\d:\d\d\.\d{3}  \d+ bpm, contact$`)
	if _, err := p.tty.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after Ctrl-C:\n%q", code, p.output())
	}
	s := newScreen(width)
	s.write(p.output())
	lines := s.text()
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^\d+ value\(s\) in \d+\.\d\ds \(\d+\.\d/s\)$`).MatchString(last) {
		t.Errorf("last line after Ctrl-C = %q\n%s", last, strings.Join(lines, "\n"))
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}
