package term

import (
	"context"
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

func TestReaderGone(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gone := ReaderGone(ctx, w)
	select {
	case <-gone:
		t.Fatal("reader gone while it is open")
	default:
	}
	if WriterBroken(w) {
		t.Error("WriterBroken while the reader is open")
	}
	r.Close()
	<-gone // closed once the reader has gone (the test would hang otherwise)
	if !WriterBroken(w) {
		t.Error("WriterBroken = false after the reader has gone")
	}

	// ctx ends the watcher; a file is never watched.
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	defer w2.Close()
	ctx2, cancel2 := context.WithCancel(context.Background())
	gone2 := ReaderGone(ctx2, w2)
	cancel2()
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if WriterBroken(f) || WriterBroken(nil) {
		t.Error("WriterBroken of a file or nil")
	}
	for _, g := range []<-chan struct{}{gone2, ReaderGone(ctx, f), ReaderGone(ctx, nil)} {
		select {
		case <-g:
			t.Error("closed without the reader going")
		default:
		}
	}
}
