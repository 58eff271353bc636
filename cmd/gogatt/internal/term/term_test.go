package term

import (
	"os"
	"testing"

	"github.com/creack/pty"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 24, Cols: 97}); err != nil {
		t.Fatal(err)
	}
	if !IsTerminal(tty) {
		t.Error("IsTerminal(pty) = false")
	}
	if w := Width(tty, 80); w != 97 {
		t.Errorf("Width(pty) = %d, want 97", w)
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("IsTerminal(file) = true")
	}
	if w := Width(f, 80); w != 80 {
		t.Errorf("Width(file) = %d, want 80", w)
	}
	if IsTerminal(nil) || Width(nil, 5) != 5 {
		t.Error("nil file")
	}
}
