package bluez_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/bluezsim"
	"github.com/gogatt/gogatt/sim"
)

// bondEnv starts a simulated bluetoothd with the demo peripherals, the torture device pairing
// with io, and a started backend with cfg (Adapter and BusAddress filled in).
func bondEnv(t *testing.T, cfg bluez.Config, io bluezsim.PeerIO) (*bluezsim.Env, *bluez.Backend) {
	t.Helper()
	bluezsim.RequireDBus(t)
	env, err := startSim(ctxT(t), sim.DemoPeripherals(1))
	if err != nil {
		t.Fatalf("bluezsim: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	env.SetPeerIO(bt.MustParseAddress(sim.TortureAddress), io)
	cfg.Adapter, cfg.BusAddress = env.HCIDevice(), env.BusAddress()
	b := bluez.New(cfg)
	t.Cleanup(func() { b.Stop() })
	if err := b.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return env, b
}

// calls records the pairing callbacks' calls.
type calls struct {
	mu    sync.Mutex
	list  []string
	added chan struct{} // a token per call (buffered by newCalls)
}

func newCalls() *calls { return &calls{added: make(chan struct{}, 16)} }

func (c *calls) add(s string) {
	c.mu.Lock()
	c.list = append(c.list, s)
	c.mu.Unlock()
	c.added <- struct{}{}
}

// wait waits for n calls in all, or ctx.
func (c *calls) wait(ctx context.Context, n int) {
	for len(c.get()) < n {
		select {
		case <-c.added:
		case <-ctx.Done():
			return
		}
	}
}

func (c *calls) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}

// TestBond: Bond through the backend's agent with each pairing method the simulated bluetoothd
// chooses from the agent's capability and the peer's (Core v5.3 Vol 3 Part H Table 2.8); the
// link is encrypted afterwards (an encrypted characteristic reads; an authenticated one after
// an authenticated method), and a failed pairing gives bluetoothd's D-Bus error, typed.
func TestBond(t *testing.T) {
	addr := bt.MustParseAddress(sim.TortureAddress)
	pk := bluezsim.PeerPasskey(addr)
	errNo := errors.New("user said no")
	for _, tc := range []struct {
		name     string
		io       bluezsim.PeerIO
		cfg      func(c *calls) bluez.Config
		capab    string
		wantCall []string // callbacks called, in order
		wantErr  string   // D-Bus error name of a failure
		wantIs   error    // and what it must also match
		authed   bool     // the link is authenticated
	}{
		{name: "just works without callbacks", io: bluezsim.PeerNoIO, capab: "NoInputNoOutput",
			cfg: func(*calls) bluez.Config { return bluez.Config{} }},
		{name: "just works, peer without IO", io: bluezsim.PeerNoIO, capab: "KeyboardOnly",
			cfg: func(c *calls) bluez.Config {
				return bluez.Config{Passkey: func(context.Context, string) (uint32, error) { c.add("passkey"); return pk, nil }}
			}},
		{name: "passkey entry", io: bluezsim.PeerDisplayOnly, capab: "KeyboardOnly", wantCall: []string{"passkey " + sim.TortureAddress}, authed: true,
			cfg: func(c *calls) bluez.Config {
				return bluez.Config{Passkey: func(_ context.Context, a string) (uint32, error) { c.add("passkey " + a); return pk, nil }}
			}},
		{name: "passkey display", io: bluezsim.PeerKeyboard, capab: "DisplayOnly", wantCall: []string{"display"}, authed: true,
			cfg: func(c *calls) bluez.Config {
				return bluez.Config{PasskeyDisplay: func(_ context.Context, a string, p uint32) {
					if a == sim.TortureAddress && p == pk {
						c.add("display")
					}
				}}
			}},
		{name: "numeric comparison", io: bluezsim.PeerDisplayYesNo, capab: "KeyboardDisplay", wantCall: []string{"confirm"}, authed: true,
			cfg: func(c *calls) bluez.Config {
				return bluez.Config{
					Passkey: func(context.Context, string) (uint32, error) { c.add("passkey"); return 0, nil },
					Confirm: func(_ context.Context, a string, p uint32) error {
						if p == pk {
							c.add("confirm")
						}
						return nil
					}}
			}},
		{name: "comparison without Confirm is rejected", io: bluezsim.PeerDisplayYesNo, capab: "KeyboardDisplay",
			wantErr: "org.bluez.Error.AuthenticationFailed",
			cfg: func(c *calls) bluez.Config {
				return bluez.Config{
					Passkey:        func(context.Context, string) (uint32, error) { c.add("passkey"); return 0, nil },
					PasskeyDisplay: func(context.Context, string, uint32) { c.add("display") }}
			}},
		{name: "wrong passkey", io: bluezsim.PeerDisplayOnly, capab: "KeyboardOnly", wantCall: []string{"passkey"},
			wantErr: "org.bluez.Error.AuthenticationFailed",
			cfg: func(c *calls) bluez.Config {
				return bluez.Config{Passkey: func(context.Context, string) (uint32, error) { c.add("passkey"); return (pk + 1) % 1000000, nil }}
			}},
		{name: "passkey callback error", io: bluezsim.PeerDisplayOnly, capab: "KeyboardOnly", wantCall: []string{"passkey"},
			wantErr: "org.bluez.Error.AuthenticationFailed", wantIs: errNo,
			cfg: func(c *calls) bluez.Config {
				return bluez.Config{Passkey: func(context.Context, string) (uint32, error) { c.add("passkey"); return 0, errNo }}
			}},
		{name: "passkey out of range", io: bluezsim.PeerDisplayOnly, capab: "KeyboardOnly", wantCall: []string{"passkey"},
			wantErr: "org.bluez.Error.AuthenticationFailed", wantIs: gogatt.ErrInvalidParameter,
			cfg: func(c *calls) bluez.Config {
				return bluez.Config{Passkey: func(context.Context, string) (uint32, error) { c.add("passkey"); return 1000000, nil }}
			}},
		{name: "confirm rejected", io: bluezsim.PeerDisplayYesNo, capab: "DisplayYesNo", wantCall: []string{"confirm"},
			wantErr: "org.bluez.Error.AuthenticationFailed", wantIs: errNo,
			cfg: func(c *calls) bluez.Config {
				return bluez.Config{Confirm: func(context.Context, string, uint32) error { c.add("confirm"); return errNo }}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			env, b := bondEnv(t, tc.cfg(c), tc.io)
			if got := env.Agents(); len(got) != 1 || func() string {
				for _, v := range got {
					return v
				}
				return ""
			}() != tc.capab {
				t.Errorf("registered agents = %v, want one with capability %s", got, tc.capab)
			}
			ctx := ctxT(t)
			d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
			err := d.Bond(ctx, true)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Bond: %v", err)
			}
			if tc.wantErr != "" {
				var be *bluez.Error
				if !errors.As(err, &be) || be.Name != tc.wantErr {
					t.Fatalf("Bond = %v, want %s", err, tc.wantErr)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("Bond = %v, want a match for %v", err, tc.wantIs)
				}
				if len(env.Bonds()) != 0 {
					t.Errorf("bonds after a failed Bond = %v", env.Bonds())
				}
			}
			c.wait(ctx, len(tc.wantCall)) // PasskeyDisplay runs on its own goroutine
			if got := c.get(); !slices.Equal(got, tc.wantCall) {
				t.Errorf("callbacks = %q, want %q", got, tc.wantCall)
			}
			if tc.wantErr != "" {
				return
			}
			if v, err := d.CharRead(ctx, sim.TortureEncrypted); err != nil || string(v) != "secret" {
				t.Errorf("CharRead(encrypted) after Bond = %q, %v", v, err)
			}
			if _, err := d.CharRead(ctx, sim.TortureAuthenticated); (err == nil) != tc.authed {
				t.Errorf("CharRead(authenticated) after Bond = %v, want success %v", err, tc.authed)
			}
			if got := env.Bonds(); len(got) != 1 || got[0] != addr {
				t.Errorf("bonds = %v, want %v", got, addr)
			}
			if v, err := busProp(t, env.BusAddress(), devPath(env.HCIDevice(), sim.TortureAddress), "org.bluez.Device1.Paired"); err != nil || v.Value() != true {
				t.Errorf("Paired = %v, %v", v, err)
			}
		})
	}
}

// blockingPasskey is a Passkey callback that reports its start and returns when its ctx ends.
func blockingPasskey(started chan<- struct{}, ended chan<- error) func(context.Context, string) (uint32, error) {
	return func(ctx context.Context, _ string) (uint32, error) {
		started <- struct{}{}
		<-ctx.Done()
		ended <- ctx.Err()
		return 0, ctx.Err()
	}
}

// TestBondCancel: Bond's context ending during a callback ends the callback's context, cancels
// the pairing in bluetoothd (Device1.CancelPairing) and fails Bond with the context's error.
func TestBondCancel(t *testing.T) {
	started, ended := make(chan struct{}, 1), make(chan error, 1)
	env, b := bondEnv(t, bluez.Config{Passkey: blockingPasskey(started, ended)}, bluezsim.PeerDisplayOnly)
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	ctx, cancel := context.WithCancel(ctxT(t))
	res := make(chan error, 1)
	go func() { res <- d.Bond(ctx, true) }()
	<-started
	cancel()
	err := <-res
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Bond = %v, want context.Canceled", err)
	}
	if cerr := <-ended; !errors.Is(cerr, context.Canceled) {
		t.Errorf("callback's ctx ended with %v", cerr)
	}
	if env.Pairing(bt.MustParseAddress(sim.TortureAddress)) { // Bond waits for CancelPairing
		t.Error("bluetoothd still pairing after Bond returned")
	}
	// CancelPairing may find the pairing over already: the agent answered the request whose
	// context ended with Canceled, which ends it too.
	if n := env.CancelPairingCalls(); n != 1 {
		t.Errorf("CancelPairing called %d times, want 1", n)
	}
	if len(env.Bonds()) != 0 {
		t.Errorf("bonds after a cancelled Bond = %v", env.Bonds())
	}
	// The link survives: a new Bond with a good passkey works.
	if _, err := d.CharRead(ctxT(t), sim.TortureLong); err != nil {
		t.Errorf("CharRead after the cancelled Bond: %v", err)
	}
}

// TestBondStop: Stop during a pairing ends the callback's context, fails Bond, unregisters the
// agent and leaves no goroutine (TestMain's goleak).
func TestBondStop(t *testing.T) {
	started, ended := make(chan struct{}, 1), make(chan error, 1)
	env, b := bondEnv(t, bluez.Config{Passkey: blockingPasskey(started, ended)}, bluezsim.PeerDisplayOnly)
	d, err := b.Connect(ctxT(t), sim.TortureAddress, gogatt.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() { res <- d.Bond(ctxT(t), true) }()
	<-started
	b.Stop()
	if err := <-res; err == nil {
		t.Error("Bond succeeded across Stop")
	}
	if cerr := <-ended; cerr == nil {
		t.Error("callback's ctx did not end")
	}
	if got := env.Agents(); len(got) != 0 {
		t.Errorf("agents after Stop = %v", got)
	}
}

// TestBondAgain: Bond of a bonded device succeeds without pairing again, also on a new
// connection, whose link bluetoothd encrypts with the stored keys; Bond(ctx, false) is
// ErrUnsupported.
func TestBondAgain(t *testing.T) {
	c := newCalls()
	pk := bluezsim.PeerPasskey(bt.MustParseAddress(sim.TortureAddress))
	_, b := bondEnv(t, bluez.Config{Passkey: func(context.Context, string) (uint32, error) { c.add("passkey"); return pk, nil }}, bluezsim.PeerDisplayOnly)
	ctx := ctxT(t)
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	if err := d.Bond(ctx, false); !errors.Is(err, gogatt.ErrUnsupported) {
		t.Errorf("Bond(permanent=false) = %v, want ErrUnsupported", err)
	}
	if err := d.Bond(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := d.Bond(ctx, true); err != nil {
		t.Errorf("second Bond: %v", err)
	}
	d.Disconnect()
	d = connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	if err := d.Bond(ctx, true); err != nil {
		t.Errorf("Bond on a new connection: %v", err)
	}
	if v, err := d.CharRead(ctx, sim.TortureEncrypted); err != nil || string(v) != "secret" {
		t.Errorf("CharRead(encrypted) on the new connection = %q, %v", v, err)
	}
	if got := c.get(); len(got) != 1 {
		t.Errorf("Passkey called %d times, want once", len(got))
	}
}

// TestAgentRefusesOthers: the agent answers bluetoothd's unique name only; a call from another
// bus client is rejected and reaches no callback. Without Config.DefaultAgent it is not the
// default agent: another client's Pair does not reach it; with it, it does.
func TestAgentRefusesOthers(t *testing.T) {
	for _, def := range []bool{false, true} {
		c := newCalls()
		pk := bluezsim.PeerPasskey(bt.MustParseAddress(sim.TortureAddress))
		env, b := bondEnv(t, bluez.Config{DefaultAgent: def,
			Passkey: func(context.Context, string) (uint32, error) { c.add("passkey"); return pk, nil }}, bluezsim.PeerDisplayOnly)
		var owner string
		for o := range env.Agents() {
			owner = o
		}
		other, err := dbus.Connect(env.BusAddress())
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		dev := devPath(env.HCIDevice(), sim.TortureAddress)
		err = other.Object(owner, "/org/gogatt/bluez/agent").CallWithContext(ctxT(t), "org.bluez.Agent1.RequestPasskey", 0, dev).Err
		var de dbus.Error
		if !errors.As(err, &de) || de.Name != "org.bluez.Error.Rejected" {
			t.Errorf("RequestPasskey from another client = %v, want org.bluez.Error.Rejected", err)
		}
		connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
		err = other.Object("org.bluez", dev).CallWithContext(ctxT(t), "org.bluez.Device1.Pair", 0).Err
		if def {
			if err != nil || !slices.Equal(c.get(), []string{"passkey"}) {
				t.Errorf("default agent: another client's Pair = %v, callbacks %q; want success through the agent", err, c.get())
			}
		} else if len(c.get()) != 0 {
			t.Errorf("not the default agent, yet another client's Pair called %q", c.get())
		}
	}
}

// TestBondDisconnect: Disconnect during a passkey request ends the pairing (bluetoothd cancels
// it with the link) and the callback's context; Bond fails with an error matching
// gogatt.ErrNotConnected.
func TestBondDisconnect(t *testing.T) {
	started, ended := make(chan struct{}, 1), make(chan error, 1)
	env, b := bondEnv(t, bluez.Config{Passkey: blockingPasskey(started, ended)}, bluezsim.PeerDisplayOnly)
	d := connect(t, b, sim.TortureAddress, gogatt.ConnectOptions{})
	res := make(chan error, 1)
	go func() { res <- d.Bond(ctxT(t), true) }()
	<-started
	d.Disconnect()
	if cerr := <-ended; !errors.Is(cerr, context.Canceled) {
		t.Errorf("callback's ctx ended with %v", cerr)
	}
	if err := <-res; !errors.Is(err, gogatt.ErrNotConnected) {
		t.Errorf("Bond = %v, want ErrNotConnected", err)
	}
	if len(env.Bonds()) != 0 {
		t.Errorf("bonds = %v", env.Bonds())
	}
}
