//go:build !unix

package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/gogatt/gogatt/cmd/gogatt/internal/cli"
)

func readyPipe() *os.File { return nil }

// startSimBackground: without pseudo-terminals there is nothing to serve from the background.
func startSimBackground(context.Context, *slog.Logger, cli.SimLink) (cli.SimProcess, error) {
	return cli.SimProcess{}, errors.New("this system has no pseudo-terminals to serve the emulator on (--sim works with every other command)")
}
