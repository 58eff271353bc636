package gatttool_test

import "testing"

// nothingLeft fails t if a gatttool child or a goroutine of the library is left after Stop.
func nothingLeft(t *testing.T) {
	t.Helper()
	noChildLeft(t)
	noLibGoroutines(t)
}
