package main

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/gogatt/gogatt/cmd/gogatt/internal/cli"
)

// `gogatt sim --background` starts `gogatt sim` again as a process of its own
// (startSimBackground), with its standard streams on the null device and one more file: the
// write end of a pipe, whose descriptor number is in $GOGATT_SIM_READY_FD. That process
// serves as usual and writes one readyMsg to the pipe, then closes it; the first process prints
// what it learnt and exits (simbg_unix.go; elsewhere --background is refused).

// readyMsg is what a background emulator reports: the path it serves, or why it could not start.
type readyMsg struct {
	Path        string              `json:"path,omitempty"`
	Peripherals []cli.SimPeripheral `json:"peripherals,omitempty"`
	Error       string              `json:"error,omitempty"`
}

// serveSimReporting is serveSim that, in a process started by startSimBackground, also reports
// on the ready pipe that it serves (or why it could not).
func serveSimReporting(ctx context.Context, log *slog.Logger, link cli.SimLink, ready func(string, []cli.SimPeripheral)) error {
	pipe := readyPipe()
	if pipe == nil {
		return serveSim(ctx, log, link, ready)
	}
	sent := false
	send := func(m readyMsg) {
		if !sent {
			sent = true
			if err := json.NewEncoder(pipe).Encode(m); err != nil {
				log.Debug("reporting to the process that started the emulator", "err", err)
			}
			pipe.Close()
		}
	}
	defer send(readyMsg{Error: "the emulator stopped before serving"})
	err := serveSim(ctx, log, link, func(path string, ps []cli.SimPeripheral) {
		ready(path, ps)
		send(readyMsg{Path: path, Peripherals: ps})
	})
	if err != nil {
		send(readyMsg{Error: err.Error()})
	}
	return err
}
