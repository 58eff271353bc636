package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi"
	"github.com/gogatt/gogatt/cmd/gogatt/internal/cli"
	"github.com/gogatt/gogatt/gatttool"
)

// openBackend builds the adapter the global flags ask for.
func openBackend(ctx context.Context, c cli.BackendConfig) (gogatt.Backend, error) {
	switch {
	case c.Sim:
		return openSim(ctx, c)
	case c.Kind == "bgapi":
		return bgapi.New(bgapi.Config{Port: c.Port, Logger: c.Logger}), nil
	case c.Kind == "gatttool":
		return gatttool.New(gatttool.Config{HCIDevice: c.HCI, Logger: c.Logger}), nil
	}
	return nil, fmt.Errorf("unknown backend %q", c.Kind)
}

func openSim(ctx context.Context, c cli.BackendConfig) (gogatt.Backend, error) {
	return nil, errors.New("--sim: the BLED112 emulator is not built into this binary yet")
}

func serveSim(ctx context.Context, log *slog.Logger, ready func(string, []cli.SimPeripheral)) error {
	return errors.New("the BLED112 emulator is not built into this binary yet")
}
