//go:build !linux

package bluezsim

import (
	"errors"
	"os"
)

func seqpacketPair() (*os.File, int, func(), error) {
	return nil, 0, nil, errors.New("bluezsim: socket pairs are simulated on Linux only")
}
