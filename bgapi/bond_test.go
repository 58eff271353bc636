package bgapi

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
	"github.com/gogatt/gogatt/sim/bled112"
)

// program is one program using the dongle: a Backend started (with the default system_reset)
// on the emulator's port, used, then stopped before the next one starts — as separate runs of
// a command-line tool are. The emulator keeps its bonds and persistent store meanwhile, as the
// dongle's flash does.
func program(t *testing.T, env *emuEnv, cfg Config, f func(b *Backend)) {
	t.Helper()
	cfg.Port, cfg.ports, cfg.Logger = env.pty.Path(), noPorts, testLogger()
	b := New(cfg)
	defer b.Stop()
	if err := b.Start(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	f(b)
	if err := b.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// readIn connects to addr in b and reads uuid.
func readIn(t *testing.T, b *Backend, addr string, uuid gogatt.UUID) ([]byte, error) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	d, err := b.Connect(ctx, addr, gogatt.ConnectOptions{})
	if err != nil {
		t.Fatalf("Connect %s: %v", addr, err)
	}
	defer d.Disconnect()
	return d.CharRead(ctx, uuid)
}

// A bond made by one program is used by the next (Connect encrypts the link with it) and
// removed by address by a third, which never connected to the peer; the read then fails with
// Insufficient Encryption again.
func TestEmuBondAcrossPrograms(t *testing.T) {
	env := newEmuEnv(t, bled112.Config{})
	env.listenPTY(t)
	torture := bt.MustParseAddress(tortureAddr)

	program(t, env, Config{}, func(b *Backend) {
		ctx := ctxT(t, 10*time.Second)
		d, err := b.Connect(ctx, tortureAddr, gogatt.ConnectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Bond(ctx, true); err != nil {
			t.Fatalf("Bond: %v", err)
		}
	})
	if !slices.Contains(env.emu.Bonds(), torture) {
		t.Fatalf("bonds after Bond: %v", env.emu.Bonds())
	}
	// Only the stored keys can encrypt the link from now on.
	env.periphs[tortureAddr].SetRefusePairing(true)

	program(t, env, Config{}, func(b *Backend) {
		if v, err := readIn(t, b, tortureAddr, sim.TortureEncrypted); err != nil || string(v) != "secret" {
			t.Fatalf("encrypted read in the next program: %q, %v", v, err)
		}
	})
	program(t, env, Config{}, func(b *Backend) {
		if err := b.ClearBond(ctxT(t, 10*time.Second), tortureAddr); err != nil {
			t.Fatalf("ClearBond in a program that never connected: %v", err)
		}
	})
	if len(env.emu.Bonds()) != 0 {
		t.Fatalf("bonds after ClearBond: %v", env.emu.Bonds())
	}
	program(t, env, Config{}, func(b *Backend) {
		_, err := readIn(t, b, tortureAddr, sim.TortureEncrypted)
		if !errors.Is(err, &gogatt.ATTError{Code: att.ErrInsufficientEncryption}) {
			t.Fatalf("encrypted read after ClearBond: %v", err)
		}
		// Its record went with it.
		if err := b.ClearBond(ctxT(t, 10*time.Second), tortureAddr); !errors.Is(err, gogatt.ErrNotFound) {
			t.Fatalf("second ClearBond: %v", err)
		}
	})
}

// A bond made with MITM protection (passkey) is restored without a passkey: the stored keys
// encrypt the link at the level they were made with, and the characteristic that needs an
// authenticated link can be read by the next program.
func TestEmuAuthenticatedBondAcrossPrograms(t *testing.T) {
	env := newEmuEnv(t, bled112.Config{})
	env.listenPTY(t)
	var asked atomic.Int32
	keyboard := Config{Passkey: func(context.Context, string) (uint32, error) { asked.Add(1); return 123456, nil }}
	program(t, env, keyboard, func(b *Backend) {
		ctx := ctxT(t, 10*time.Second)
		d, err := b.Connect(ctx, tortureAddr, gogatt.ConnectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Bond(ctx, true); err != nil {
			t.Fatalf("Bond: %v", err)
		}
	})
	if n := asked.Load(); n != 1 {
		t.Fatalf("passkey asked %d times while bonding", n)
	}
	program(t, env, keyboard, func(b *Backend) {
		if v, err := readIn(t, b, tortureAddr, sim.TortureAuthenticated); err != nil || string(v) != "top secret" {
			t.Fatalf("authenticated read in the next program: %q, %v", v, err)
		}
	})
	if n := asked.Load(); n != 1 {
		t.Fatalf("passkey asked again (%d) to re-encrypt with the stored bond", n)
	}
}

// ClearBond with "" removes every bond and every record; a record whose bond another program
// deleted is no bond (ErrNotFound), and is dropped.
func TestEmuClearBondRecords(t *testing.T) {
	env := newEmuEnv(t, bled112.Config{})
	env.listenPTY(t)
	bond := func(addrs ...string) {
		program(t, env, Config{}, func(b *Backend) {
			for _, a := range addrs {
				ctx := ctxT(t, 10*time.Second)
				d, err := b.Connect(ctx, a, gogatt.ConnectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if err := d.Bond(ctx, true); err != nil {
					t.Fatalf("Bond %s: %v", a, err)
				}
				d.Disconnect()
			}
		})
	}
	bond(hrmAddr, tortureAddr)
	program(t, env, Config{}, func(b *Backend) {
		if err := b.ClearBond(ctxT(t, 10*time.Second), ""); err != nil {
			t.Fatalf("ClearBond all: %v", err)
		}
	})
	if len(env.emu.Bonds()) != 0 {
		t.Fatalf("bonds after ClearBond(\"\"): %v", env.emu.Bonds())
	}
	program(t, env, Config{}, func(b *Backend) {
		for _, a := range []string{hrmAddr, tortureAddr} {
			if err := b.ClearBond(ctxT(t, 10*time.Second), a); !errors.Is(err, gogatt.ErrNotFound) {
				t.Fatalf("ClearBond %s after ClearBond all: %v", a, err)
			}
		}
	})

	// The bond is deleted behind gogatt's back (sm_delete_bonding from another program): the
	// record is stale.
	bond(tortureAddr)
	program(t, env, Config{}, func(b *Backend) {
		c, _ := b.client()
		if err := c.deleteBonding(ctxT(t, 10*time.Second), 0xFF); err != nil {
			t.Fatal(err)
		}
	})
	program(t, env, Config{}, func(b *Backend) {
		ctx := ctxT(t, 10*time.Second)
		if err := b.ClearBond(ctx, tortureAddr); !errors.Is(err, gogatt.ErrNotFound) {
			t.Fatalf("ClearBond of a stale record: %v", err)
		}
		c, _ := b.client()
		if hs, err := c.bondRecords(ctx, func(uint8, bt.Address) bool { return true }); err != nil || len(hs) != 0 {
			t.Fatalf("records left: %v %v", hs, err)
		}
	})
}

// A persistent-store key that holds another application's data is never overwritten: the
// bond then has no record, and ClearBond by address in a later program finds nothing to
// delete rather than deleting a bond it cannot name; ClearBond with "" still removes it.
func TestEmuBondRecordKeepsForeignKey(t *testing.T) {
	env := newEmuEnv(t, bled112.Config{})
	env.listenPTY(t)
	foreign := &wire.CmdFlashPsSave{Key: bondRecordKey, Value: []byte("someone else's")}
	program(t, env, Config{}, func(b *Backend) {
		c, _ := b.client()
		ctx := ctxT(t, 10*time.Second)
		if err := c.call(ctx, foreign, nil); err != nil {
			t.Fatal(err)
		}
		d, err := b.Connect(ctx, tortureAddr, gogatt.ConnectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Bond(ctx, true); err != nil { // bond handle 0: key 0x8078
			t.Fatalf("Bond: %v", err)
		}
	})
	program(t, env, Config{}, func(b *Backend) {
		ctx := ctxT(t, 10*time.Second)
		if err := b.ClearBond(ctx, tortureAddr); !errors.Is(err, gogatt.ErrNotFound) {
			t.Fatalf("ClearBond of an unrecorded bond: %v", err)
		}
		c, _ := b.client()
		var r wire.RspFlashPsLoad
		if err := c.call(ctx, &wire.CmdFlashPsLoad{Key: bondRecordKey}, &r); err != nil || string(r.Value) != string(foreign.Value) {
			t.Fatalf("the other application's key: %q %v", r.Value, err)
		}
		if !slices.Contains(env.emu.Bonds(), bt.MustParseAddress(tortureAddr)) {
			t.Fatalf("bond gone: %v", env.emu.Bonds())
		}
		if err := b.ClearBond(ctx, ""); err != nil || len(env.emu.Bonds()) != 0 {
			t.Fatalf("ClearBond all: %v, bonds %v", err, env.emu.Bonds())
		}
	})
}
