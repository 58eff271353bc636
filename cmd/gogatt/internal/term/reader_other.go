//go:build !linux

package term

import (
	"context"
	"os"
)

// ReaderGone would report that the reader of the pipe f has gone. Outside Linux it never
// does: the returned channel is never closed. Reporting POLLERR or POLLHUP on a pipe's
// writing end when no event is requested is Linux's poll(2) behaviour, not POSIX's (and
// POLLOUT fires whenever the pipe has room), so elsewhere a command piped into `head -1` ends
// at its first failing write (EPIPE), at its own end (--count, --duration) or on Ctrl-C.
func ReaderGone(ctx context.Context, f *os.File) <-chan struct{} {
	return make(chan struct{})
}

// WriterBroken would report that the reader of the pipe f has gone; outside Linux it always
// says false (see ReaderGone).
func WriterBroken(f *os.File) bool { return false }
