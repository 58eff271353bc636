//go:build vmtest

package vmtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
)

// The bluez backend pairs through the real bluetoothd with the agent it registers itself. The
// peripheral's side (hci1, incoming pairing) is answered by the default agent, which the tests
// register on a connection of their own: bluetoothd asks the agent of the Device1.Pair caller
// for hci0's side and the default agent for hci1's (agent_get in src/agent.c, BlueZ 5.66), and
// the kernel pairs hci1 with the default agent's IO capability.

// displayAgent is a default agent with capability DisplayOnly: it hands the passkey bluetoothd
// asks it to show for hci1's side to shown (buffered 1; bluetoothd calls it from one goroutine).
type displayAgent struct {
	agent
	shown chan uint32
}

func (a displayAgent) DisplayPasskey(_ dbus.ObjectPath, passkey uint32, entered uint16) *dbus.Error {
	if entered == 0 {
		select { // the latest passkey only
		case <-a.shown:
		default:
		}
		a.shown <- passkey
	}
	return nil
}

// withDefaultAgent registers v as the default agent with capability for the test's duration.
func withDefaultAgent(t *testing.T, v any, capability string) {
	t.Helper()
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		t.Fatal(err)
	}
	const path = dbus.ObjectPath("/org/gogatt/vmtest/display")
	if err := conn.Export(v, path, "org.bluez.Agent1"); err != nil {
		t.Fatal(err)
	}
	mgr := conn.Object("org.bluez", "/org/bluez")
	if err := mgr.Call("org.bluez.AgentManager1.RegisterAgent", 0, path, capability).Err; err != nil {
		t.Fatalf("RegisterAgent: %v", err)
	}
	if err := mgr.Call("org.bluez.AgentManager1.RequestDefaultAgent", 0, path).Err; err != nil {
		t.Fatalf("RequestDefaultAgent: %v", err)
	}
	t.Cleanup(func() {
		mgr.Call("org.bluez.AgentManager1.UnregisterAgent", 0, path)
		conn.Close()
	})
}

// TestBluezBond: Bond, an encrypted read, Bond again (bonded already: no new pairing), with
// Just Works (the backend's agent NoInputNoOutput) and with passkey entry (Config.Passkey
// answers with the passkey hci1's side displays); a wrong passkey and a callback's error fail
// Bond with org.bluez.Error.AuthenticationFailed, as the simulated bluetoothd says.
func TestBluezBond(t *testing.T) {
	errNo := errors.New("user said no")
	for _, tc := range []struct {
		name    string
		passkey bool
		answer  func(shown uint32) (uint32, error) // nil: the passkey shown
	}{
		{"JustWorks", false, nil},
		{"Passkey", true, nil},
		{"WrongPasskey", true, func(pk uint32) (uint32, error) { return (pk + 1) % 1000000, nil }},
		{"Rejected", true, func(uint32) (uint32, error) { return 0, errNo }},
		{"Cancelled", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var asked []string
			cancelled := tc.name == "Cancelled"
			blocked := make(chan struct{}, 1)
			cfg := bluez.Config{Adapter: central}
			if tc.passkey {
				shown := make(chan uint32, 1)
				withDefaultAgent(t, displayAgent{shown: shown}, "DisplayOnly")
				cfg.Passkey = func(ctx context.Context, address string) (uint32, error) {
					mu.Lock()
					asked = append(asked, address)
					first := len(asked) == 1
					mu.Unlock()
					if cancelled && first { // the user walks away: Bond's ctx ends
						blocked <- struct{}{}
						<-ctx.Done()
						return 0, ctx.Err()
					}
					select {
					case pk := <-shown:
						if tc.answer != nil {
							return tc.answer(pk)
						}
						return pk, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				}
			} else {
				withAgent(t)
			}
			b := bluez.New(cfg)
			if err := b.Start(ctxT(t, 20*time.Second)); err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(func() { b.Stop() })
			d := bluezConnect(t, b, gogatt.ConnectOptions{})
			ctx := ctxT(t, 60*time.Second)
			if cancelled {
				cctx, cancel := context.WithCancel(ctx)
				res := make(chan error, 1)
				t0 := time.Now()
				go func() { res <- d.Bond(cctx, true) }()
				<-blocked
				cancel()
				err := <-res
				t.Logf("MEASURE bluez Bond cancelled during Passkey: %v, %v", time.Since(t0).Round(time.Millisecond), err)
				if !errors.Is(err, context.Canceled) {
					t.Errorf("cancelled Bond = %v, want context.Canceled", err)
				}
				// What follows is the peer's: the link was lost at once (1 run of 3) or 30 s later,
				// and a Bond meanwhile waited for that loss (docs/bluez-dbus.md §Pairing); the
				// test's clean-up disconnects.
				return
			}
			t0 := time.Now()
			err := d.Bond(ctx, true)
			t.Logf("MEASURE bluez Bond (%s): %v, %v", tc.name, time.Since(t0).Round(time.Millisecond), err)
			if tc.answer != nil {
				var be *bluez.Error
				if !errors.As(err, &be) || be.Name != "org.bluez.Error.AuthenticationFailed" {
					t.Errorf("Bond = %v, want org.bluez.Error.AuthenticationFailed", err)
				}
				if _, cbErr := tc.answer(0); cbErr != nil && !errors.Is(err, cbErr) {
					t.Errorf("Bond = %v, want it to wrap the callback's error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bond: %v", err)
			}
			mu.Lock()
			got := append([]string(nil), asked...)
			mu.Unlock()
			if want := map[bool]int{false: 0, true: 1}[tc.passkey]; len(got) != want || (want == 1 && got[0] != peer) {
				t.Errorf("Passkey asked for %q, want %d call(s) for %s", got, want, peer)
			}
			v, err := d.CharRead(ctx, uEnc)
			if err != nil || string(v) != "secret" {
				t.Fatalf("encrypted read after Bond: %q, %v", v, err)
			}
			conn, err := dbus.ConnectSystemBus()
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			p, err := conn.Object("org.bluez", devicePath(peer)).GetProperty("org.bluez.Device1.Paired")
			if err != nil || p.Value() != true {
				t.Errorf("Paired = %v, %v", p, err)
			}
			if err := d.Bond(ctx, true); err != nil {
				t.Errorf("Bond of a bonded device: %v", err)
			}
		})
	}
}
