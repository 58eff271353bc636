package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSimBackground runs what `gogatt sim --help` shows a script doing,
// port=$(gogatt sim --background), in a real shell: it must return at once with the path (the
// usage it replaces, port=$(gogatt sim | head -1), never returned, because the emulator kept
// the pipe open), that path must serve other gogatt processes, and the emulator's process must
// end on SIGTERM and remove the path.
func TestSimBackground(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{{"text", nil}, {"json", []string{"--json"}}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			script := `port=$("$0" sim --background "$@") || exit; printf '%s\n' "$port"`
			cmd := exec.CommandContext(ctx, "sh", append([]string{"-c", script, bin}, tc.args...)...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("port=$(gogatt sim --background) did not return within 30 s; stderr %s", &errb)
			}
			if err != nil {
				t.Fatalf("port=$(gogatt sim --background %s): %v; stdout %q, stderr %q", strings.Join(tc.args, " "), err, &out, &errb)
			}
			var path string
			var pid int
			if tc.name == "json" {
				var v struct {
					Port        string
					PID         int
					Peripherals []struct{ Address string }
				}
				if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v.Peripherals) != 3 {
					t.Fatalf("--json: %q: %+v, %v", &out, v, err)
				}
				path, pid = v.Port, v.PID
			} else {
				path = strings.TrimSuffix(out.String(), "\n")
				m := regexp.MustCompile(`as process (\d+); stop it with: kill (\d+)\n$`).FindStringSubmatch(errb.String())
				if m == nil || m[1] != m[2] {
					t.Fatalf("stderr does not say which process to kill: %q", &errb)
				}
				pid, _ = strconv.Atoi(m[1])
			}
			if pid <= 0 {
				t.Fatalf("no process ID: stdout %q, stderr %q", &out, &errb)
			}
			// Wait for the emulator's exit through a pidfd: it is not our child.
			pidfd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				t.Fatalf("process %d: %v", pid, err)
			}
			defer unix.Close(pidfd)
			killed := false
			t.Cleanup(func() {
				if !killed {
					unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
				}
			})
			if sid, err := unix.Getsid(pid); err != nil || sid != pid {
				t.Errorf("the emulator (process %d) is not in a session of its own: sid %d, %v", pid, sid, err)
			}

			r := run(t, 0, "read", "--port", path, hrm, "2a00", "--format", "utf8")
			if r.stdout != "gogatt HRM\n" {
				t.Errorf("read through the background emulator's pty %s: %q", path, r.stdout)
			}

			if err := unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0); err != nil {
				t.Fatal(err)
			}
			killed = true
			fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
			for {
				n, err := unix.Poll(fds, 30_000)
				if errors.Is(err, syscall.EINTR) {
					continue
				}
				if err != nil || n == 0 {
					t.Fatalf("the emulator (process %d) did not exit within 30 s of SIGTERM: %v", pid, err)
				}
				break
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s still exists after the emulator exited: %v", path, err)
			}
		})
	}
}
