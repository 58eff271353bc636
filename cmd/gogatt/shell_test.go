package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// The completion scripts in real shells: each case starts a new interactive shell on a
// pseudo-terminal, with the script installed as `gogatt help completion` says, types a line and
// TAB as a person would, then moves to the start of the line and turns it into
// `echo LINE >result`, so the file holds the line as the completion left it.

// shellSetup installs the completion script for a shell in home and returns the command that
// starts the shell interactively, and what to append to a line to print DONE and the exit
// status once it ran.
type shellSetup func(t *testing.T, home string, env []string) (cmd *exec.Cmd, done string)

func bashShell(t *testing.T, home string, env []string) (*exec.Cmd, string) {
	const bashCompletion = "/usr/share/bash-completion/bash_completion" // Debian's bash-completion package
	if _, err := os.Stat(bashCompletion); err != nil {
		missingShell(t, "bash-completion (the package the bash script needs)")
	}
	// ~/.bashrc as `gogatt help completion` says (Debian's /etc/skel/.bashrc loads
	// bash-completion the same way).
	writeFile(t, filepath.Join(home, ".bashrc"), ". "+bashCompletion+"\nsource <(gogatt completion bash)\nPS1='gogatt-test> '\n")
	cmd := exec.Command(shellPath(t, "bash"), "--noprofile", "--rcfile", filepath.Join(home, ".bashrc"), "-i")
	cmd.Env = env
	return cmd, "; echo DONE$?"
}

func zshShell(t *testing.T, home string, env []string) (*exec.Cmd, string) {
	zsh := shellPath(t, "zsh")
	// A fresh user whose first fpath entry is writable, with compinit enabled in ~/.zshrc.
	writeFile(t, filepath.Join(home, ".zshenv"), "fpath=("+filepath.Join(home, "functions")+" $fpath)\n")
	writeFile(t, filepath.Join(home, ".zshrc"), "autoload -U compinit; compinit\nPS1='gogatt-test> '\n")
	if err := os.Mkdir(filepath.Join(home, "functions"), 0o755); err != nil {
		t.Fatal(err)
	}
	install := exec.Command(zsh, "-c", `gogatt completion zsh > "${fpath[1]}/_gogatt"`) // the documented line
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("installing the zsh completion: %v\n%s", err, out)
	}
	cmd := exec.Command(zsh, "-i")
	cmd.Env = env
	return cmd, "; echo DONE$?"
}

func fishShell(t *testing.T, home string, env []string) (*exec.Cmd, string) {
	fish := shellPath(t, "fish")
	// Autosuggestions off: what fish would suggest after the cursor is not part of the line.
	writeFile(t, filepath.Join(home, ".config/fish/config.fish"),
		"set -g fish_autosuggestion_enabled 0\nfunction fish_greeting; end\nfunction fish_prompt; echo -n 'gogatt-test> '; end\n")
	install := exec.Command(fish, "-c", `mkdir -p ~/.config/fish/completions; gogatt completion fish > ~/.config/fish/completions/gogatt.fish`)
	install.Env = env
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("installing the fish completion: %v\n%s", err, out)
	}
	cmd := exec.Command(fish, "-i")
	cmd.Env = env
	return cmd, "; echo DONE$status"
}

// shellPath finds a shell, or skips (fails with GOGATT_REQUIRE_SHELLS set).
func shellPath(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		missingShell(t, name)
	}
	return p
}

func missingShell(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("GOGATT_REQUIRE_SHELLS") != "" {
		t.Fatalf("%s is not installed, and GOGATT_REQUIRE_SHELLS is set (apt-get install bash-completion zsh fish)", what)
	}
	t.Skipf("%s is not installed: skipping (set GOGATT_REQUIRE_SHELLS=1 to make this a failure)", what)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// shellEnv is a clean environment: the gogatt under test first in PATH, home as HOME (and
// zsh's ZDOTDIR), no editor that would switch the line editors to vi keys.
func shellEnv(home string) []string {
	env := []string{
		"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"ZDOTDIR=" + home,
		"TERM=xterm",
		"LANG=C.UTF-8",
	}
	if v, ok := os.LookupEnv("TMPDIR"); ok {
		env = append(env, "TMPDIR="+v)
	}
	return env
}

// TestShellCompletion: in bash, zsh and fish, TAB completes a flag after a global flag and
// the command (`gogatt --sim scan --dur`, `gogatt --port P read --fo`), a command
// (`gogatt sc`) and an address from a scan of the emulator (`gogatt --sim services C0`: the
// three demo devices share C0:FF:EE:00:00:0). Each case is a new shell, so the zsh cases
// also check that the first TAB of a shell completes.
func TestShellCompletion(t *testing.T) {
	shells := []struct {
		name  string
		setup shellSetup
	}{{"bash", bashShell}, {"zsh", zshShell}, {"fish", fishShell}}
	cases := []struct {
		name, typed string
		want        *regexp.Regexp // the line after TAB
	}{
		{"flag after global flags", "gogatt --sim scan --dur", regexp.MustCompile(`^gogatt --sim scan --duration$`)},
		{"flag after a global flag's value", "gogatt --port /dev/ttyACM9 read --fo", regexp.MustCompile(`^gogatt --port /dev/ttyACM9 read --format$`)},
		{"command", "gogatt sc", regexp.MustCompile(`^gogatt scan$`)},
		// All three devices, or (a machine so loaded that the 2 s scan saw one) one.
		{"address", "gogatt --sim services C0", regexp.MustCompile(`^gogatt --sim services C0:FF:EE:00:00:0[1-3]?$`)},
	}
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					home := t.TempDir()
					cmd, done := sh.setup(t, home, shellEnv(home))
					cmd.Dir = home
					s := startShell(t, cmd)
					s.waitFor(t, `gogatt-test> `)
					// TAB, then: Ctrl-A, "echo ", Ctrl-E, " >result; echo DONE$?", Enter.
					s.write(t, tc.typed+"\t")
					s.write(t, "\x01echo \x05 >result"+done+"\r")
					if st := s.waitFor(t, `DONE(\d+)`); st[1] != "0" {
						t.Fatalf("echo … >result failed (%s):\n%q", st[0], s.output())
					}
					b, err := os.ReadFile(filepath.Join(home, "result"))
					if got := strings.TrimSpace(string(b)); err != nil || !tc.want.MatchString(got) {
						t.Errorf("%s: %q<TAB> gave %q (%v), want %v\nterminal:\n%q", sh.name, tc.typed, got, err, tc.want, s.output())
					}
					s.write(t, "exit\r")
					s.wait(t)
				})
			}
		})
	}
}

// shellProc is an interactive shell on a pseudo-terminal.
type shellProc struct {
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	more chan struct{}
	done chan struct{}
}

func startShell(t *testing.T, cmd *exec.Cmd) *shellProc {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	s := &shellProc{cmd: cmd, tty: f, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				s.mu.Lock()
				s.out.Write(buf[:n])
				s.mu.Unlock()
				select {
				case s.more <- struct{}{}:
				default:
				}
			}
			if err != nil {
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
		<-s.done
	})
	return s
}

func (s *shellProc) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *shellProc) write(t *testing.T, keys string) {
	t.Helper()
	if _, err := s.tty.Write([]byte(keys)); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until the shell has written text matching re and returns the match.
func (s *shellProc) waitFor(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(time.Minute)
	for {
		if m := rx.FindStringSubmatch(s.output()); m != nil {
			return m
		}
		select {
		case <-s.more:
		case <-s.done:
			if m := rx.FindStringSubmatch(s.output()); m != nil {
				return m
			}
			t.Fatalf("the shell ended without writing %q:\n%q", re, s.output())
		case <-deadline:
			t.Fatalf("the shell did not write %q within a minute:\n%q", re, s.output())
		}
	}
}

// wait waits for the shell to exit (after "exit").
func (s *shellProc) wait(t *testing.T) {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the shell exited with %v:\n%q", err, s.output())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the shell did not exit within a minute:\n%q", s.output())
	}
	<-s.done
}
