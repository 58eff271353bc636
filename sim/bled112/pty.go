package bled112

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// PTYName is the name of the stable symlink ListenPTY creates, as a BLED112 appears on Linux.
const PTYName = "ttyACM0"

// PTY serves an Emulator on a pseudo-terminal in raw mode. Path is a symlink in a directory
// that always points at the current pty: after Unplug or a re-enumerating reset it vanishes
// and comes back at the same path, like a USB dongle (docs/bgapi-protocol.md §Reset and
// re-enumeration).
type PTY struct {
	e      *Emulator
	dir    string
	ownDir bool
	path   string

	mu        sync.Mutex
	master    *os.File
	slave     *os.File // held open so a client closing the port does not hang up the master
	tty       string
	unplugged bool
	closed    bool
	replug    chan struct{}
	back      chan struct{} // closed when the port next comes back
	quit      chan struct{}
	wg        sync.WaitGroup
}

// ListenPTY opens a pseudo-terminal, puts it in raw mode (CR, LF, 0x00, 0xFF pass untouched),
// creates the symlink dir/ttyACM0 to it and serves the emulator on it until Close. An empty
// dir means a new temporary directory, removed by Close. Any serial-port client
// (go.bug.st/serial, pyserial) opens Path() like a dongle. It works on every Unix (Linux,
// macOS, the BSDs); elsewhere (Windows) there are no pseudo-terminals and it returns an error
// matching errors.ErrUnsupported: use Pipe instead.
func (e *Emulator) ListenPTY(dir string) (*PTY, error) {
	p := &PTY{e: e, dir: dir, replug: make(chan struct{}, 1), back: make(chan struct{}), quit: make(chan struct{})}
	if dir == "" {
		d, err := os.MkdirTemp("", "bled112-")
		if err != nil {
			return nil, fmt.Errorf("bled112: pty directory: %w", err)
		}
		p.dir, p.ownDir = d, true
	}
	p.path = filepath.Join(p.dir, PTYName)
	p.mu.Lock()
	err := p.openLocked()
	p.mu.Unlock()
	if err != nil {
		if p.ownDir {
			os.RemoveAll(p.dir)
		}
		return nil, err
	}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Path returns the stable path a serial client opens (a symlink to the current pty).
func (p *PTY) Path() string { return p.path }

// TTY returns the current pty slave device (e.g. /dev/pts/3), "" while unplugged.
func (p *PTY) TTY() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tty
}

func (p *PTY) openLocked() error {
	m, s, err := openPTY()
	if err != nil {
		return err
	}
	tmp := p.path + ".new"
	os.Remove(tmp)
	if err := os.Symlink(s.Name(), tmp); err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("bled112: symlink: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		m.Close()
		s.Close()
		os.Remove(tmp)
		return fmt.Errorf("bled112: symlink: %w", err)
	}
	p.master, p.slave, p.tty = m, s, s.Name()
	close(p.back)
	p.back = make(chan struct{})
	return nil
}

// Back returns a channel that is closed the next time the port comes back at Path after it
// vanished (a re-enumerating system_reset, or Replug after Unplug). Take it before causing the
// event.
func (p *PTY) Back() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.back
}

// closeLocked removes the symlink and closes both ends: the port has vanished.
func (p *PTY) closeLocked() {
	os.Remove(p.path)
	if p.master != nil {
		p.master.Close()
		p.slave.Close()
		p.master, p.slave, p.tty = nil, nil, ""
	}
}

func (p *PTY) serve() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		m := p.master
		p.mu.Unlock()
		if m == nil { // unplugged: wait for Replug
			select {
			case <-p.replug:
				continue
			case <-p.quit:
				return
			}
		}
		err := p.e.ServeConn(m)
		if errors.Is(err, ErrBusy) {
			// Another port holds the emulator: nothing to do until Close.
			<-p.quit
			return
		}
		p.mu.Lock()
		if p.closed || errors.Is(err, ErrClosed) {
			p.closeLocked()
			p.mu.Unlock()
			return
		}
		if p.master != m {
			// Unplugged (and perhaps already replugged) while we served m: serve what is
			// there now, or wait.
			p.mu.Unlock()
			continue
		}
		// The port went away under us (a re-enumerating reset or an I/O error): vanish, then
		// come back at the same path.
		p.closeLocked()
		p.mu.Unlock()
		if d := p.e.cfg.ReenumerateDelay; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-p.quit:
				t.Stop()
				return
			}
		}
		p.mu.Lock()
		var oerr error
		if !p.closed && !p.unplugged && p.master == nil {
			if oerr = p.openLocked(); oerr != nil {
				p.unplugged = true
			}
		}
		p.mu.Unlock()
		if oerr != nil {
			p.e.logf("bled112: re-enumerate: %v", oerr)
		}
	}
}

// Unplug makes the port vanish (fault hook): the pty closes — the client's reads and writes
// fail — and the symlink is removed. Like a dongle pulled out of USB, the emulator loses power:
// every connection, scan and connect attempt ends without events (the peripherals see the link
// drop); bonds survive (flash). Use Replug to bring it back.
func (p *PTY) Unplug() {
	p.mu.Lock()
	if p.closed || p.unplugged {
		p.mu.Unlock()
		return
	}
	p.unplugged = true
	p.closeLocked()
	p.mu.Unlock()
	p.e.powerCycle()
}

// Replug brings an unplugged port back at the same path (a new pty).
func (p *PTY) Replug() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if !p.unplugged {
		return nil
	}
	if err := p.openLocked(); err != nil {
		return err
	}
	p.unplugged = false
	select {
	case p.replug <- struct{}{}:
	default:
	}
	return nil
}

// Close stops serving, closes the pty and removes the symlink (and the directory if
// ListenPTY created it). The Emulator itself stays open.
func (p *PTY) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.quit)
	p.closeLocked()
	p.mu.Unlock()
	p.wg.Wait()
	if p.ownDir {
		os.RemoveAll(p.dir)
	}
	return nil
}

// Pipe serves the emulator over an in-process net.Pipe and returns the host's end: write
// commands to it, read responses and events from it. Closing it ends the session. If another
// port is being served (ErrBusy), or after a re-enumerating reset, the returned end reads EOF;
// call Pipe again for a new port.
func (e *Emulator) Pipe() net.Conn {
	host, dev := net.Pipe()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := e.ServeConn(dev); err != nil && !errors.Is(err, ErrReenumerated) {
			dev.Close()
		}
	}()
	return host
}
