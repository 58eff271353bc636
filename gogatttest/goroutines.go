package gogatttest

import (
	"runtime"
	"strings"
	"testing"
)

// Goroutines returns the stacks, as runtime.Stack prints them, of the goroutines other than the
// caller's for which match reports true. An environment's CheckStopped uses it to find the
// goroutines of its backend's code (match looks for the package's functions in the stack).
func Goroutines(match func(stack string) bool) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i > 0 && match(g) { // the first is the caller's
			out = append(out, g)
		}
	}
	return out
}

// NoGoroutines waits until Goroutines(match) is empty; only a hang fails t, with the stacks of
// what, the goroutines left.
func NoGoroutines(t *testing.T, what string, match func(stack string) bool) {
	t.Helper()
	var g []string
	if !poll(func() bool { g = Goroutines(match); return len(g) == 0 }) {
		t.Fatalf("%d %s left:\n%s", len(g), what, strings.Join(g, "\n\n"))
	}
}
