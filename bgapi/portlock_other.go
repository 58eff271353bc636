//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package bgapi

// lockPort does nothing where flock(2) is not available: Windows opens a COM port exclusively
// by itself (a second opener gets ErrPortBusy from go.bug.st/serial).
func lockPort(string) (unlock func(), err error) { return func() {}, nil }
