//go:build unix

package bgapi

import (
	"os"
	"syscall"
)

// nodeID identifies a device node (following symlinks): a re-enumerated dongle or a new pty
// gets a new one even at the same path.
type nodeID struct{ dev, ino, rdev uint64 }

func nodeIdentity(path string) (nodeID, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return nodeID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nodeID{}, false
	}
	return nodeID{uint64(st.Dev), uint64(st.Ino), uint64(st.Rdev)}, true
}
