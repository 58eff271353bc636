// Package term answers the questions the CLI asks about its output: is it a terminal, how
// wide is it, and has the reader of a pipe gone. It uses ioctls (TCGETS, TIOCGWINSZ) and poll(2)
// from golang.org/x/sys/unix (already a dependency of the module) rather than golang.org/x/term.
package term

import (
	"context"
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is a terminal (a tty or pty).
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Width returns the number of columns of the terminal f, or def when it is not a terminal or
// does not say.
func Width(f *os.File, def int) int {
	if f == nil {
		return def
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return def
	}
	return int(ws.Col)
}

// ReaderGone returns a channel that is closed when f is a pipe or socket whose reading end has
// been closed (`gogatt scan | head -1` after head has exited): poll(2) reports POLLERR on a
// pipe's writing end, POLLHUP on a socket's, with no event requested. It watches until ctx ends;
// for anything else (a terminal, a file) or when watching is impossible the channel is never
// closed. The watcher waits in poll on f and on a wake-up pipe written when ctx ends, so it
// neither spins nor outlives ctx.
func ReaderGone(ctx context.Context, f *os.File) <-chan struct{} {
	gone := make(chan struct{})
	if f == nil {
		return gone
	}
	if st, err := f.Stat(); err != nil || st.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
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
	if f == nil {
		return false
	}
	if st, err := f.Stat(); err != nil || st.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(f.Fd())}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
}
