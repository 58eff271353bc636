package bgapi

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// startPipeEmu runs the emulator and the backend inside a synctest bubble over the emulator's
// in-process pipe (a real pty cannot take part in virtual time).
func startPipeEmu(t *testing.T, cfg Config) (*bled112.Emulator, *Backend, map[string]*sim.Peripheral) {
	t.Helper()
	ps := sim.DemoPeripherals(1)
	emu, err := bled112.New(bled112.Config{Peripherals: ps})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	cfg.Port = "emulator"
	cfg.open = func(string) (serialPort, error) { return pipePort{emu.Pipe()}, nil }
	b := New(cfg)
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop() })
	m := map[string]*sim.Peripheral{}
	for _, p := range ps {
		m[p.Address().String()] = p
	}
	return emu, b, m
}

// An unresponsive peer: without a caller deadline the read ends with the ATT transaction
// timeout (Core v5.3 Vol 3 Part F §3.3.3), 30 s of virtual time, as a typed timeout.
func TestVirtualATTTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, b, ps := startPipeEmu(t, Config{})
		d, err := b.Connect(t.Context(), hrmAddr, gogatt.ConnectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := d.Services(ctx); err != nil {
			t.Fatal(err)
		}
		ps[hrmAddr].SetUnresponsive(true)
		start := time.Now()
		_, err = d.CharRead(ctx, gogatt.UUID16(0x2A38))
		if !errors.Is(err, gogatt.ErrTimeout) {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el < 30*time.Second || el > 31*time.Second {
			t.Fatalf("timed out after %v", el)
		}
		ps[hrmAddr].SetUnresponsive(false)
		d.Disconnect()
	})
}

// Reset on start over the pipe: the emulator restarts without re-enumerating and answers
// system_hello on the same port; no time passes waiting.
func TestVirtualStartWithReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		_, b, _ := startPipeEmu(t, Config{})
		if el := time.Since(start); el > 200*time.Millisecond {
			t.Fatalf("Start took %v of virtual time", el)
		}
		d, err := b.Connect(t.Context(), tortureAddr, gogatt.ConnectOptions{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		d.Disconnect()
		// Connecting to nobody ends at the deadline exactly.
		start = time.Now()
		if _, err := b.Connect(t.Context(), "C0:FF:EE:99:99:99", gogatt.ConnectOptions{Timeout: 2 * time.Second}); !errors.Is(err, gogatt.ErrTimeout) {
			t.Fatal(err)
		}
		if el := time.Since(start); el != 2*time.Second {
			t.Fatalf("connect timeout after %v", el)
		}
	})
}
