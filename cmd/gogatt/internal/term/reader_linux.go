package term

import (
	"context"
	"os"

	"golang.org/x/sys/unix"
)

// ReaderGone returns a channel that is closed when f is a pipe or socket whose reading end has
// been closed (`gogatt scan | head -1` after head has exited): on Linux poll(2) reports POLLERR
// on a pipe's writing end (fs/pipe.c, pipe_poll), POLLHUP on a socket's, with no event
// requested. It watches until ctx ends; for anything else (a terminal, a file) or when watching
// is impossible the channel is never closed. The watcher waits in poll on f and on a wake-up
// pipe written when ctx ends, so it neither spins nor outlives ctx.
func ReaderGone(ctx context.Context, f *os.File) <-chan struct{} {
	gone := make(chan struct{})
	if !isPipe(f) {
		return gone
	}
	var wake [2]int
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return gone
	}
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		unix.Write(wake[1], []byte{0})
		close(woken)
	})
	fd := int(f.Fd())
	go func() {
		defer func() {
			if !stop() {
				<-woken // the wake-up write has started: let it finish before the close
			}
			unix.Close(wake[0])
			unix.Close(wake[1])
		}()
		fds := []unix.PollFd{{Fd: int32(fd)}, {Fd: int32(wake[0]), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil, fds[1].Revents != 0:
				return
			case fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0:
				close(gone)
				return
			}
		}
	}()
	return gone
}

// WriterBroken reports whether f is a pipe or socket whose reading end has been closed, now
// (poll(2) with no wait; see ReaderGone).
func WriterBroken(f *os.File) bool {
	if !isPipe(f) {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(f.Fd())}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
}

// isPipe reports whether f is a pipe or socket, the only files whose reader can go away.
func isPipe(f *os.File) bool {
	if f == nil {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0
}
