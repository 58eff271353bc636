package bgapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Config configures a BGAPI backend. The zero value auto-detects a BLED112, resets it on Start
// (as pygatt does) and logs nothing.
type Config struct {
	// Port is the serial port path, e.g. "/dev/ttyACM0" or the path printed by the emulator
	// (sim/bled112). "" auto-detects the first port with USB ID 2458:0001.
	Port string
	// NoReset skips the system_reset on Start. By default Start resets the dongle, waits for it
	// to re-enumerate and reopens it, as pygatt's reset_on_start=True.
	NoReset bool
	// Logger receives diagnostics; nil is silent.
	Logger *slog.Logger
	// Passkey answers a peer's passkey request during Bond (sm_passkey_request, BLE SDK 1.x API
	// reference): return 0–999999. It runs on a goroutine of its own; ctx ends when
	// the pairing does (bond completed or failed, link lost, Bond's context ended, Stop). Stop
	// does not wait for it: a callback that ignores ctx only delays its own return. When nil,
	// bonding with a peer that asks for a passkey fails.
	Passkey func(ctx context.Context, address string) (uint32, error)
	// PasskeyDisplay, when set, is told the passkey the user must type on the peer
	// (sm_passkey_display). It runs on a goroutine of its own and may keep showing the passkey
	// until ctx ends, which happens when the pairing does (as for Passkey); Stop does not wait
	// for it. With Passkey and/or PasskeyDisplay set the dongle pairs with MITM protection
	// (authenticated); with neither, Just Works.
	PasskeyDisplay func(ctx context.Context, address string, passkey uint32)
	// Slots is the number of connection slots; 0 asks the dongle (system_get_connections;
	// 3 on stock BLED112 firmware, docs/bgapi-protocol.md §Connections).
	Slots int
	// ResetTimeout bounds the wait for the dongle to come back after system_reset (default 10 s).
	ResetTimeout time.Duration
	// PollInterval is how often Start polls for the re-enumerated port after a reset
	// (default 50 ms).
	PollInterval time.Duration
	// CommandTimeout bounds the wait for a command's response (default 3 s). Responses come at
	// once from a working dongle; this only catches a dead one.
	CommandTimeout time.Duration
	// Dial, when set, replaces the serial port: Start (and every reopen after a reset) calls it
	// for a new byte stream to a BGAPI device, e.g. an in-process emulator
	// (sim/bled112's Emulator.Pipe). Port then only names the stream in messages ("dial" when
	// empty), nothing is auto-detected and nothing is flushed on open.
	Dial func() (io.ReadWriteCloser, error)

	// open replaces the serial port (in-package tests over an in-process pipe).
	open func(path string) (serialPort, error)
	// ports replaces the listing of serial ports (listPorts) in in-package tests.
	ports func() ([]*portDetails, error)
}

// Backend is the BGAPI backend: a BLED112 (or BLE112/BLE121LR in USB-CDC mode) driven over its
// serial port. It implements gogatt.Backend; all methods are safe for concurrent use.
type Backend struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // guards the fields below and serialises Start/Stop
	c       *client
	slots   int
	devices map[*link]struct{}
	// handed are the Devices handed to the application; Stop disconnects them and waits until
	// each has announced it. They outlive an adapter loss and a restart (Start after it).
	handed gattkit.Devices
	ctx    context.Context // backend lifetime: reconnect loops end with it
	cancel context.CancelFunc

	connSem chan struct{} // one gap_connect_direct at a time
	scanSem chan struct{} // one scan at a time
}

var _ gogatt.Backend = (*Backend)(nil)

// New returns a BGAPI backend; call Start before use.
func New(cfg Config) *Backend {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ResetTimeout <= 0 {
		cfg.ResetTimeout = 10 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	useDial(&cfg)
	if cfg.ports == nil {
		cfg.ports = listPorts
	}
	if cfg.open == nil {
		cfg.open = openSerial
	}
	return &Backend{cfg: cfg, log: log, connSem: make(chan struct{}, 1), scanSem: make(chan struct{}, 1)}
}

// SupportsUnbonded is true: a BLED112 reads and writes without bonding.
func (b *Backend) SupportsUnbonded() bool { return true }

// Stop disconnects every device, discards the values still queued for notification handlers
// (also those of devices lost earlier) and closes the port. It does not wait for a handler call
// in progress, so it may be called from a handler (gogatt.Backend.Stop). When it returns, every
// Device it handed out has closed Disconnected and delivered its last ConnectionEvent, so it
// must not be called from an OnConnectionEvent callback. It is idempotent and safe after a
// failed Start.
func (b *Backend) Stop() error {
	b.mu.Lock()
	c := b.c
	b.c = nil
	devs := b.devices
	b.devices = nil
	if b.cancel != nil {
		b.cancel()
	}
	b.ctx, b.cancel = nil, nil
	b.mu.Unlock()
	// The application's Devices first, so that each stops reconnecting and reports a local
	// disconnect (they outlive a lost adapter: c may be nil); then whatever raw device is left
	// (a reconnection in flight).
	b.handed.DisconnectAll()
	var wg sync.WaitGroup
	for d := range devs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = d.disconnect(ctx)
		})
	}
	wg.Wait()
	if c != nil {
		c.close(fmt.Errorf("bgapi: backend stopped: %w", gogatt.ErrNotStarted))
		// What is left to deliver (queues still draining after a loss) is discarded.
		c.deliveries.Stop()
	}
	b.handed.Wait() // every Device has delivered its last ConnectionEvent and closed Disconnected
	return nil
}

func (b *Backend) client() (*client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.c == nil {
		return nil, gogatt.ErrNotStarted
	}
	if err := b.c.stopped(); err != nil {
		return nil, err
	}
	return b.c, nil
}
