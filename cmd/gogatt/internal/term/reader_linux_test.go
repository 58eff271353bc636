package term

import (
	"context"
	"os"
	"testing"
)

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
