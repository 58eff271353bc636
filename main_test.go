package gogatt

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test (the examples' delivery goroutines included) leaks a goroutine.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
