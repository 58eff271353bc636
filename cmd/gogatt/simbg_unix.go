//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/gogatt/gogatt/cmd/gogatt/internal/cli"
)

// readyFDEnv names the descriptor of the readiness pipe in the background process (simbg.go).
const readyFDEnv = "GOGATT_SIM_READY_FD"

// readyPipe returns the pipe named by $GOGATT_SIM_READY_FD, or nil when this process was not
// started by startSimBackground. It clears the variable, so that it is read once.
func readyPipe() *os.File {
	v, ok := os.LookupEnv(readyFDEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(readyFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil
	}
	return os.NewFile(uintptr(fd), "ready pipe")
}

// startSimBackground runs `gogatt sim` in a new session (no controlling terminal: Ctrl-C in the
// shell that started it, or the terminal closing, does not reach it), with stdin, stdout and
// stderr on the null device, so that nothing waits for it: not the $(…) that runs us, which
// reads our stdout until every writer has closed it. It returns once the emulator serves; when
// ctx ends first, the process is killed.
func startSimBackground(ctx context.Context, log *slog.Logger, link cli.SimLink) (cli.SimProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return cli.SimProcess{}, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return cli.SimProcess{}, err
	}
	defer r.Close()
	args := []string{"sim"}
	if link.Interval > 0 {
		args = append(args, "--interval", link.Interval.String(), "--per-event", strconv.Itoa(link.PerEvent))
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), readyFDEnv+"=3") // ExtraFiles[0] is descriptor 3
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close() // the child has its copy: EOF on r when it has written or exited
	if err != nil {
		return cli.SimProcess{}, err
	}
	log.Debug("background emulator started", "pid", cmd.Process.Pid)
	type result struct {
		m   readyMsg
		err error
	}
	got := make(chan result, 1)
	go func() {
		var m readyMsg
		err := json.NewDecoder(r).Decode(&m)
		got <- result{m, err}
	}()
	var res result
	select {
	case res = <-got:
	case <-ctx.Done():
		cmd.Process.Kill()
		cmd.Wait()
		<-got // the child's end of the pipe is closed now
		return cli.SimProcess{}, ctx.Err()
	}
	if res.err != nil || res.m.Error != "" || res.m.Path == "" {
		cmd.Process.Kill() // in case it still runs
		werr := cmd.Wait()
		if res.m.Error != "" {
			return cli.SimProcess{}, errors.New(res.m.Error)
		}
		return cli.SimProcess{}, fmt.Errorf("the emulator process ended without serving (%v)", werr)
	}
	p := cli.SimProcess{Path: res.m.Path, PID: cmd.Process.Pid, Peripherals: res.m.Peripherals}
	cmd.Process.Release() // it serves on after we exit
	return p, nil
}
