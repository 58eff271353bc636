//go:build !unix

// Command soak needs a pty for the emulated dongle, so it runs on Unix only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "soak: needs a Unix pty for the emulated BLED112")
	os.Exit(2)
}
