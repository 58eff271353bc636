package bluez

import (
	"context"
	"testing"

	"github.com/godbus/dbus/v5"
)

// TestAgentRejectsOtherAdapters: a request from bluetoothd about a device that is not on the
// backend's adapter (or not a device path) is rejected without calling a callback.
func TestAgentRejectsOtherAdapters(t *testing.T) {
	called := false
	b := New(Config{Passkey: func(context.Context, string) (uint32, error) { called = true; return 0, nil }})
	a := &agent{b: b, adapter: "/org/bluez/hci0", bluetoothd: &bluetoothdName{name: ":1.5"}, pairings: map[dbus.ObjectPath]*pairing{},
		requests: map[*request]struct{}{}, shown: map[dbus.ObjectPath]*request{}}
	for _, dev := range []dbus.ObjectPath{"/org/bluez/hci1/dev_C0_FF_EE_00_00_03", "/org/bluez/hci0", "/org/bluez/hci0/dev_nope"} {
		if _, err := a.requestPasskey(":1.5", dev); err == nil || err.Name != errRejected {
			t.Errorf("RequestPasskey(%s) = %v, want %s", dev, err, errRejected)
		}
		if err := a.requestAuthorization(":1.5", dev); err == nil || err.Name != errRejected {
			t.Errorf("RequestAuthorization(%s) = %v, want %s", dev, err, errRejected)
		}
	}
	if called {
		t.Error("Passkey called")
	}
	if len(a.requests) != 0 {
		t.Errorf("%d requests left", len(a.requests))
	}
}

// TestAgentCancel: Agent1.Cancel from bluetoothd ends the context of every request in
// progress; RequestAuthorization is accepted for a device a Bond of this backend pairs with.
func TestAgentCancel(t *testing.T) {
	a := &agent{b: New(Config{}), adapter: "/org/bluez/hci0", bluetoothd: &bluetoothdName{name: ":1.5"}, pairings: map[dbus.ObjectPath]*pairing{},
		requests: map[*request]struct{}{}, shown: map[dbus.ObjectPath]*request{}}
	dev := dbus.ObjectPath("/org/bluez/hci0/dev_C0_FF_EE_00_00_03")
	if err := a.requestAuthorization(":1.5", dev); err == nil || err.Name != errRejected {
		t.Errorf("RequestAuthorization without a Bond = %v, want %s", err, errRejected)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, end, _ := a.beginPairing(ctx, dev)
	defer end()
	if err := a.requestAuthorization(":1.5", dev); err != nil {
		t.Errorf("RequestAuthorization during a Bond = %v, want nil", err)
	}
	_, r, _, derr := a.begin(":1.5", dev)
	if derr != nil {
		t.Fatal(derr)
	}
	if err := a.cancelRequests(":1.5"); err != nil {
		t.Fatal(err)
	}
	if r.ctx.Err() == nil {
		t.Error("request's context still live after Cancel")
	}
	if ctx.Err() != nil {
		t.Error("Cancel ended the Bond's own context")
	}
}
