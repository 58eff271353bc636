package cli

import (
	"context"
	"errors"
	"fmt"
)

// runSim serves the emulated BLED112 on a pseudo-terminal until Ctrl-C. The first line of
// output is the path to open.
func runSim(ctx context.Context, a *app, _ []string) error {
	if a.env.ServeSim == nil {
		return errors.New("this binary was built without the BLED112 emulator")
	}
	err := a.env.ServeSim(ctx, a.log, func(path string, ps []SimPeripheral) {
		if a.g.json {
			a.emit(map[string]any{"port": path, "peripherals": ps})
			return
		}
		a.printf("%s\n", path)
		a.printf("BLED112 emulator serving %d demo peripheral(s); open the path above as a serial port, e.g.\n", len(ps))
		a.printf("  gogatt scan --port %s\n", path)
		for _, p := range ps {
			a.printf("  %s  %-20s %s\n", p.Address, p.Name, p.Kind)
		}
		a.printf("Ctrl-C to stop.\n")
	})
	if err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		return fmt.Errorf("emulator: %w", err)
	}
	return nil
}
