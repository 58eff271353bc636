package bgapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
)

// Start opens the dongle: optional system_reset, then polling until the port is back (no blind
// sleep, docs/bgapi-protocol.md#pygatt-reset), reopening it, flushing stale input and
// confirming with system_hello (docs/bgapi-protocol.md §Reset and re-enumeration). Then it sets
// the state pygatt sets: every connection slot disconnected, not advertising (gap_set_mode
// 0,0), no procedure running (gap_end_procedure), not bondable. Starting a started backend does
// nothing. Starting one whose adapter was lost (unplugged, or reset by another program) closes
// the lost port and opens the port again, keeping the Devices handed out: those with
// AutoReconnect, still reconnecting, dial through the new port.
func (b *Backend) Start(ctx context.Context) error {
	b.mu.Lock()
	dead := b.c
	b.mu.Unlock()
	if dead != nil {
		if dead.stopped() == nil {
			return nil
		}
		// Closed before b.mu is taken again: the client's goroutines may need it to end.
		dead.close(gogatt.ErrNotStarted)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c != nil && b.c != dead {
		return nil // started meanwhile
	}
	b.c = nil
	path, id := b.cfg.Port, (*portDetails)(nil)
	if path == "" {
		d, err := detectPort(b.cfg.ports)
		if err != nil {
			return err
		}
		path, id = d.Name, d
		b.log.Info("bgapi: BLED112 found", "port", path, "serial", d.SerialNumber, "usb_id_checked", !usbIDsUnknown)
	} else {
		id = portIdentity(b.cfg.ports, path)
	}
	port, err := b.cfg.open(path)
	if err != nil {
		return err
	}
	// A dongle left scanning is already streaming events (docs/bgapi-protocol.md
	// §Resynchronisation, step 5); the parser would resynchronise anyway, but stale responses
	// are better gone.
	_ = port.ResetInputBuffer()
	if !b.cfg.NoReset {
		old, oldOK := nodeIdentity(path) // to tell the re-enumerated node from this one
		// system_reset(0) has no response (BLE SDK 1.x API reference, system_reset); the
		// dongle re-enumerates, so close and poll for it (docs/bgapi-protocol.md §Reset and
		// re-enumeration).
		c := newClient(port, b.clientConfig())
		if err := c.call(ctx, &wire.CmdSystemReset{BootInDFU: 0}, nil); err != nil {
			c.close(gogatt.ErrNotStarted)
			return fmt.Errorf("bgapi: start: system_reset: %w", err)
		}
		// A BLED112 now drops off USB and the port fails; a module that does not
		// re-enumerate (UART, or an emulator told not to) answers system_hello on the same
		// port once it has restarted.
		c = b.awaitRestart(ctx, c)
		if c == nil {
			var err error
			if c, err = b.reopen(ctx, path, id, old, oldOK); err != nil {
				return err
			}
		}
		b.c = c
	} else {
		c := newClient(port, b.clientConfig())
		if err := c.call(ctx, &wire.CmdSystemHello{}, nil); err != nil {
			c.close(gogatt.ErrNotStarted)
			return fmt.Errorf("bgapi: start: %s does not answer system_hello: %w", path, err)
		}
		b.c = c
	}
	if err := b.initDongle(ctx); err != nil {
		b.c.close(gogatt.ErrNotStarted)
		b.c = nil
		return fmt.Errorf("bgapi: start: %w", err)
	}
	b.c.setLive()
	if b.ctx == nil { // else a restart after an adapter loss: the Devices stay
		b.devices = make(map[*link]struct{})
		b.ctx, b.cancel = context.WithCancel(context.Background())
	}
	b.log.Info("bgapi: started", "port", path, "slots", b.slots)
	return nil
}

func (b *Backend) clientConfig() clientConfig {
	return clientConfig{log: b.log, cmdTimeout: b.cfg.CommandTimeout, passkey: b.cfg.Passkey, display: b.cfg.PasskeyDisplay}
}

// awaitRestart polls system_hello on the port the reset was sent on, for the re-enumeration
// window. It returns the client if the dongle answered there, or nil (client closed) when the
// port failed — the dongle is re-enumerating — or never answered.
func (b *Backend) awaitRestart(ctx context.Context, c *client) *client {
	window := time.NewTimer(vanishWindow(b.cfg.PollInterval))
	defer window.Stop()
	for {
		hctx, cancel := context.WithTimeout(ctx, max(2*b.cfg.PollInterval, 100*time.Millisecond))
		err := c.call(hctx, &wire.CmdSystemHello{}, nil)
		cancel()
		if err == nil {
			return c
		}
		if c.stopped() != nil || ctx.Err() != nil {
			break
		}
		select {
		case <-window.C:
		default:
			continue
		}
		break
	}
	c.close(gogatt.ErrNotStarted)
	return nil
}

// vanishWindow is how long a reset dongle may take to drop off USB.
func vanishWindow(poll time.Duration) time.Duration {
	return min(max(20*poll, 100*time.Millisecond), time.Second)
}

// reopen polls until the dongle answers system_hello on its (possibly renamed) port. Until the
// old device node has been seen to go (or a short window has passed, for modules that do not
// re-enumerate), a node with the old identity is not reopened: it could be the dongle just
// before it drops off USB.
func (b *Backend) reopen(ctx context.Context, path string, id *portDetails, old nodeID, oldOK bool) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.ResetTimeout)
	defer cancel()
	tick := time.NewTicker(b.cfg.PollInterval)
	defer tick.Stop()
	vanishBy := time.Now().Add(vanishWindow(b.cfg.PollInterval))
	var last error
	for {
		p := path
		if b.cfg.Port == "" {
			if d, err := detectPort(b.cfg.ports); err == nil {
				p = d.Name
			}
		} else {
			p = relocate(b.cfg.ports, path, id)
		}
		cur, curOK := nodeIdentity(p)
		if oldOK && curOK && cur == old && time.Now().Before(vanishBy) {
			last = fmt.Errorf("%s has not re-enumerated yet", p)
		} else {
			if oldOK && !curOK {
				oldOK = false // the old node is gone: whatever appears next is the new one
			}
			port, err := b.cfg.open(p)
			if err == nil {
				_ = port.ResetInputBuffer()
				c := newClient(port, b.clientConfig())
				hctx, hcancel := context.WithTimeout(ctx, max(4*b.cfg.PollInterval, 200*time.Millisecond))
				err = c.call(hctx, &wire.CmdSystemHello{}, nil)
				hcancel()
				if err == nil {
					return c, nil
				}
				c.close(gogatt.ErrNotStarted)
			}
			last = err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			if errors.Is(last, gogatt.ErrNoAdapter) || errors.Is(last, ErrPermissionDenied) || errors.Is(last, ErrPortBusy) {
				return nil, fmt.Errorf("bgapi: start: dongle did not come back after system_reset within %v: %w", b.cfg.ResetTimeout, last)
			}
			return nil, fmt.Errorf("bgapi: start: dongle did not come back after system_reset within %v: %w (last error: %v)", b.cfg.ResetTimeout, gogatt.ErrNoAdapter, last)
		}
	}
}

// initDongle puts the dongle in the state pygatt leaves it in (docs/bgapi-protocol.md
// §Start-up).
func (b *Backend) initDongle(ctx context.Context) error {
	c := b.c
	var gc wire.RspSystemGetConnections
	if err := c.call(ctx, &wire.CmdSystemGetConnections{}, &gc); err != nil {
		return err
	}
	maxconn := int(gc.MaxConn)
	if maxconn == 0 {
		maxconn = 3
	}
	b.slots = maxconn
	if b.cfg.Slots > 0 {
		b.slots = b.cfg.Slots
	}
	for h := range maxconn {
		// not_connected (0x0186) is the normal answer for a free slot.
		if err := c.call(ctx, &wire.CmdConnectionDisconnect{Connection: uint8(h)}, nil); err != nil {
			return err
		}
	}
	sm := &wire.CmdGapSetMode{Discover: wire.GapNonDiscoverable, Connect: wire.GapNonConnectable}
	var smr wire.RspGapSetMode
	if err := c.call(ctx, sm, &smr); err != nil {
		return err
	}
	if err := check(sm, smr.Result); err != nil {
		return err
	}
	if err := c.endProcedure(ctx); err != nil {
		return err
	}
	if err := c.call(ctx, &wire.CmdSmSetBondableMode{Bondable: 0}, nil); err != nil {
		return err
	}
	// sm_set_parameters (BLE SDK 1.x API reference §5.7.1, §5.7.2): minimum key size 7; the IO
	// capabilities the callbacks provide — Passkey: KeyboardOnly (2), PasskeyDisplay:
	// DisplayOnly (0), both: KeyboardDisplay (4), neither: NoInputNoOutput (3, Just Works) —
	// and MITM protection whenever a passkey can be exchanged.
	p := &wire.CmdSmSetParameters{MITM: 1, MinKeySize: 7}
	switch {
	case b.cfg.Passkey != nil && b.cfg.PasskeyDisplay != nil:
		p.IOCapabilities = wire.IOKeyboardDisplay
	case b.cfg.Passkey != nil:
		p.IOCapabilities = wire.IOKeyboardOnly
	case b.cfg.PasskeyDisplay != nil:
		p.IOCapabilities = wire.IODisplayOnly
	default:
		p.MITM, p.IOCapabilities = 0, wire.IONoInputNoOutput
	}
	return c.call(ctx, p, nil)
}
