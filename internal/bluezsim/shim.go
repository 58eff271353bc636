package bluezsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	_ "embed"
)

// shimSource is the C source of the LD_PRELOAD shim; it is compiled with gcc at run time.
//
//go:embed shim/bluezsim_shim.c
var shimSource []byte

// Control messages share the socket with ATT PDUs (L2CAP) or HCI packets (HCI). They start with
// ctlMagic, which neither an ATT opcode (Core v5.3 Vol 3 Part F §3.3: 0xFF is unassigned) nor an
// HCI packet type the tools write (0x01 command) begins with, then a type byte.
const ctlMagic = "\xffBZSIM"

// Control message types.
const (
	ctlHello    = 'H' // shim → peer: src[6] srcType dst[6] dstType secLevel (bdaddr little-endian)
	ctlConnect  = 'C' // peer → shim: errno int32 LE, mtu uint16 LE (0 errno = connected)
	ctlSecurity = 'S' // shim → peer: level (BT_SECURITY_LOW=1 … FIPS=4), from setsockopt
	ctlFilter   = 'F' // shim → controller: the socket's 16-byte HCI filter
)

// buildShim compiles the shim into a content-addressed cache file under the temp directory
// (reused by later calls and processes) and returns its path.
func buildShim(ctx context.Context) (string, error) {
	sum := sha256.Sum256(shimSource)
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("gogatt-bluezsim-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("bluezsim: shim cache: %w", err)
	}
	out := filepath.Join(dir, "shim-"+hex.EncodeToString(sum[:8])+".so")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp, err := os.CreateTemp(dir, "build-*.so")
	if err != nil {
		return "", fmt.Errorf("bluezsim: shim cache: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)
	cmd := exec.CommandContext(ctx, "gcc", "-shared", "-fPIC", "-O2", "-Wall", "-x", "c", "-o", tmpName, "-", "-ldl", "-lpthread")
	cmd.Stdin = bytes.NewReader(shimSource)
	if outb, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bluezsim: building the LD_PRELOAD shim with gcc: %w: %s", err, bytes.TrimSpace(outb))
	}
	if err := os.Rename(tmpName, out); err != nil {
		return "", fmt.Errorf("bluezsim: shim cache: %w", err)
	}
	return out, nil
}
