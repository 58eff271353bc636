//go:build !unix

package bled112

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// openPTY fails: there are no pseudo-terminals here (Windows has ConPTY, which is a console,
// not a serial port). Serve the emulator over Pipe or ServeConn instead.
func openPTY() (master, slave *os.File, err error) {
	return nil, nil, fmt.Errorf("bled112: no pseudo-terminals on %s; use Emulator.Pipe: %w", runtime.GOOS, errors.ErrUnsupported)
}
