package bluez_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bluez"
	"github.com/gogatt/gogatt/internal/bluezsim"
)

// TestStartErrors: every reason Start cannot use the adapter is said in its own error, matched
// by its sentinel and carrying what to do, against a private dbus-daemon and the simulated
// bluetoothd.
func TestStartErrors(t *testing.T) {
	refused := func(t *testing.T) string {
		// A socket nobody listens on any more: connect(2) fails with ECONNREFUSED.
		sock := filepath.Join(t.TempDir(), "bus")
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		l.Close()
		return "unix:path=" + sock
	}
	type env struct {
		bus, adapter string
		sim          *bluezsim.Env
	}
	simEnv := func(opts bluezsim.Options) func(t *testing.T) env {
		return func(t *testing.T) env {
			bluezsim.RequireDBus(t)
			opts.DBusOnly = true
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			e, err := bluezsim.Start(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			return env{e.BusAddress(), e.HCIDevice(), e}
		}
	}
	tests := []struct {
		name    string
		env     func(t *testing.T) env
		prepare func(t *testing.T, e env) env
		powerOn bool
		is      []error // errors.Is must hold
		isNot   []error
		says    []string // in the message
	}{
		{name: "socket absent",
			env: func(t *testing.T) env {
				return env{bus: "unix:path=" + filepath.Join(t.TempDir(), "absent"), adapter: "hci0"}
			},
			is: []error{bluez.ErrNoBus, gogatt.ErrNoAdapter, fs.ErrNotExist}, says: []string{"absent", "DBUS_SYSTEM_BUS_ADDRESS"}},
		{name: "connection refused",
			env:  func(t *testing.T) env { return env{bus: refused(t), adapter: "hci0"} },
			is:   []error{bluez.ErrNoBus, gogatt.ErrNoAdapter, syscall.ECONNREFUSED},
			says: []string{"unix:path="}},
		{name: "bluetoothd not running", env: simEnv(bluezsim.Options{}),
			prepare: func(t *testing.T, e env) env {
				if err := e.sim.SetBluetoothd(false); err != nil {
					t.Fatal(err)
				}
				return e
			},
			is: []error{bluez.ErrNoBluetoothd, gogatt.ErrNoAdapter}, isNot: []error{fs.ErrPermission},
			says: []string{"bluetoothd is not running", "start it"}},
		{name: "no such adapter", env: simEnv(bluezsim.Options{}),
			prepare: func(t *testing.T, e env) env { e.adapter = "hci7"; return e },
			is:      []error{gogatt.ErrNoAdapter}, isNot: []error{fs.ErrPermission, bluez.ErrNoBluetoothd},
			says: []string{"no adapter hci7", "bluetoothd has hci0"}},
		{name: "permission denied", env: simEnv(bluezsim.Options{DenyCalls: true}),
			is: []error{fs.ErrPermission}, isNot: []error{gogatt.ErrNoAdapter},
			says: []string{"/etc/dbus-1/system.d/bluetooth.conf", `"bluetooth"`, "root", "AccessDenied"}},
		{name: "powered off", env: simEnv(bluezsim.Options{}),
			prepare: func(t *testing.T, e env) env {
				if err := e.sim.SetPowered(false); err != nil {
					t.Fatal(err)
				}
				return e
			},
			is:   []error{bluez.ErrPoweredOff, gogatt.ErrNoAdapter},
			says: []string{"adapter hci0 is powered off; power it on (bluetoothctl power on) or set Config.PowerOn"}},
		{name: "powered off, PowerOn", env: simEnv(bluezsim.Options{}), powerOn: true,
			prepare: func(t *testing.T, e env) env {
				if err := e.sim.SetPowered(false); err != nil {
					t.Fatal(err)
				}
				return e
			}},
		{name: "rfkill, PowerOn", env: simEnv(bluezsim.Options{}), powerOn: true,
			prepare: func(t *testing.T, e env) env {
				if err := e.sim.SetRFKill(true); err != nil {
					t.Fatal(err)
				}
				return e
			},
			is:   []error{bluez.ErrBlocked, gogatt.ErrNoAdapter},
			says: []string{"blocked by rfkill", "rfkill unblock bluetooth", "Blocked through rfkill"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.env(t)
			if tc.prepare != nil {
				e = tc.prepare(t, e)
			}
			b := bluez.New(bluez.Config{Adapter: e.adapter, BusAddress: e.bus, PowerOn: tc.powerOn})
			defer b.Stop()
			err := b.Start(ctxT(t))
			t.Logf("Start: %v", err)
			if tc.is == nil {
				if err != nil {
					t.Fatalf("Start = %v, want nil", err)
				}
				if v, err := busProp(t, e.bus, dbus.ObjectPath("/org/bluez/"+e.adapter), "org.bluez.Adapter1.Powered"); err != nil || v.Value() != true {
					t.Errorf("Powered after Start with PowerOn = %v, %v; want true", v, err)
				}
				return
			}
			if err == nil {
				t.Fatal("Start = nil, want an error")
			}
			for _, want := range tc.is {
				if !errors.Is(err, want) {
					t.Errorf("errors.Is(%v, %v) = false", err, want)
				}
			}
			for _, not := range tc.isNot {
				if errors.Is(err, not) {
					t.Errorf("errors.Is(%v, %v) = true", err, not)
				}
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Start = %q, want it to say %q", err, s)
				}
			}
		})
	}
}

// TestAdapterNotFoundList: the error of a missing adapter lists the adapters there are.
func TestAdapterNotFoundList(t *testing.T) {
	env, _ := newEnv(t, nil)
	b := bluez.New(bluez.Config{Adapter: "hci3", BusAddress: env.BusAddress()})
	defer b.Stop()
	err := b.Start(ctxT(t))
	var nf *bluez.AdapterNotFoundError
	if !errors.As(err, &nf) || nf.Adapter != "hci3" || len(nf.Available) != 1 || nf.Available[0] != env.HCIDevice() {
		t.Fatalf("Start = %#v, want *AdapterNotFoundError{hci3, [%s]}", err, env.HCIDevice())
	}
}

// TestReachable: the probe of bluetoothd says nil with it, ErrNoBluetoothd without it and
// ErrNoBus without a bus.
func TestReachable(t *testing.T) {
	env, _ := newEnv(t, nil)
	ctx := ctxT(t)
	if err := bluez.Reachable(ctx, env.BusAddress()); err != nil {
		t.Errorf("Reachable = %v, want nil", err)
	}
	if err := env.SetBluetoothd(false); err != nil {
		t.Fatal(err)
	}
	if err := bluez.Reachable(ctx, env.BusAddress()); !errors.Is(err, bluez.ErrNoBluetoothd) {
		t.Errorf("Reachable without bluetoothd = %v, want ErrNoBluetoothd", err)
	}
	absent := "unix:path=" + filepath.Join(t.TempDir(), "absent")
	if err := bluez.Reachable(ctx, absent); !errors.Is(err, bluez.ErrNoBus) || !strings.Contains(err.Error(), absent) {
		t.Errorf("Reachable(%s) = %v, want ErrNoBus naming the address", absent, err)
	}
}

// TestStartContextEndsInConnect: Start honours its context while it connects to the bus: a
// socket that accepts the connection and never answers the authentication (a wedged
// dbus-daemon) makes Start fail with ctx's error once ctx ends, not hang.
func TestStartContextEndsInConnect(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "bus")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		cancel() // Start is now waiting for the authentication
	}()
	b := bluez.New(bluez.Config{BusAddress: "unix:path=" + sock})
	defer b.Stop()
	done := make(chan error, 1)
	go func() { done <- b.Start(ctx) }()
	defer func() {
		// Unblock a Start that ignored ctx: it fails once the listener's end is closed.
		l.Close()
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Start on a bus that never answers = %v, want context.Canceled", err)
		}
	case <-time.After(hang):
		t.Error("Start ignored its context while authenticating to the bus")
		l.Close()
		if c, ok := <-accepted; ok {
			c.Close()
		}
		<-done
	}
}
