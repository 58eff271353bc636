package bgapi

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/sim/bled112"
)

// Config.Dial: the backend runs over the emulator's in-process pipe, no serial port at all,
// across the reset on Start (a re-enumerating system_reset ends the first stream, so Dial is
// called again).
func TestDial(t *testing.T) {
	env := newEmuEnv(t, bled112.Config{ReenumerateOnReset: true})
	var dials atomic.Int32
	env.start(t, Config{Dial: func() (io.ReadWriteCloser, error) {
		dials.Add(1)
		return env.emu.Pipe(), nil
	}})
	d := env.connect(t, hrmAddr, gogatt.ConnectOptions{})
	v, err := d.CharRead(ctxT(t, 10*time.Second), gogatt.UUID16(0x2A19))
	if err != nil || len(v) != 1 {
		t.Fatalf("battery level = %x, %v", v, err)
	}
	if n := dials.Load(); n < 2 {
		t.Errorf("Dial called %d time(s); the reset on Start must reopen the stream", n)
	}
}

func TestDialError(t *testing.T) {
	boom := errors.New("boom")
	b := New(Config{NoReset: true, Dial: func() (io.ReadWriteCloser, error) { return nil, boom }})
	defer b.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); !errors.Is(err, boom) {
		t.Fatalf("Start = %v, want the Dial error", err)
	}
}
