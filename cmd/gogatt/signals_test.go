package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"
)

// TestSignalsCleanUp: SIGTERM (kill) and SIGHUP (the terminal closed) end `gogatt sim` and a
// subscription as Ctrl-C (SIGINT) does: exit status 0, the summary printed, no child process
// left and no emulator pty directory left in $TMPDIR.
func TestSignalsCleanUp(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		for _, tc := range []struct {
			args  []string
			ready string // a line saying it runs
			sum   string // the summary it ends with
		}{
			{[]string{"sim"}, `^/`, `^BLED112 emulator stopped after \d+\.\ds$`},
			{[]string{"subscribe", "--sim", hrm, "2a37"}, `bpm`, `^\d+ value\(s\) in `},
			{[]string{"subscribe", "--sim", "--json", hrm, "2a37"}, `bpm`, `^\{"summary":\{.*"end":"interrupted"\}\}$`},
		} {
			tmp := t.TempDir()
			cmd := exec.Command(bin, tc.args...)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			s := startCmd(t, cmd)
			first := s.waitLine(t, tc.ready)
			if tc.args[0] == "sim" && !strings.HasPrefix(first, tmp+"/") {
				t.Fatalf("the emulator's path %s is not in $TMPDIR %s", first, tmp)
			}
			code, rest := s.stop(t, sig) // checks that no child process is left
			lines := strings.Split(rest, "\n")
			if code != 0 || !regexp.MustCompile(tc.sum).MatchString(lines[len(lines)-1]) {
				t.Errorf("%v during gogatt %q: exit %d, last lines %q; stderr %s", sig, tc.args, code, lines, s.stderr)
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("%v during gogatt %q left %v in $TMPDIR", sig, tc.args, left)
			}
		}
	}
}

// TestAdapterTimeout: a serial port where nothing answers (a pseudo-terminal nobody serves, as
// a device that is not a BLED112 would be) ends with exit status 3 and a line that names the
// adapter — not advice about a peripheral.
func TestAdapterTimeout(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	r := run(t, 3, "read", "--port", tty.Name(), "--timeout", "1s", hrm, "2a19")
	want := "gogatt read: the BLED112 on " + tty.Name() + " did not answer within --timeout 1s: is --port a BLED112? Unplug it and plug it in again\n"
	if r.stderr != want {
		t.Errorf("stderr %q\nwant %q", r.stderr, want)
	}
}

// TestPTYRSSIWatchCtrlC: Ctrl-C on the terminal ends `rssi --watch` with a summary line that
// starts over the echoed ^C and ends with a newline, so the shell's prompt starts on a clean
// line rather than glued to "^C".
func TestPTYRSSIWatchCtrlC(t *testing.T) {
	const width = 80
	p := startPTY(t, width, "rssi", "--sim", "--watch", "--interval", "50ms", hrm)
	p.waitFor(t, width, `(?m)^\d\d:\d\d:\d\d\.\d{3}  -\d+ dBm$`)
	if _, err := p.tty.Write([]byte{0x03}); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after Ctrl-C:\n%q", code, p.output())
	}
	out := p.output()
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("the output does not end a line: the prompt would follow %q", out[max(0, len(out)-40):])
	}
	s := newScreen(width)
	s.write(out)
	lines := s.text()
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^\d+ measurement\(s\) in \d+\.\d\ds: min -\d+, mean -\d+\.\d, max -\d+ dBm$`).MatchString(last) {
		t.Errorf("last line after Ctrl-C = %q\n%s", last, strings.Join(lines, "\n"))
	}
}
