package gatttool_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatttool"
)

// A bond outlives the program that made it, as bluetoothd keeps it: a later Backend (another
// program: a new gatttool, hcitool and bluetoothctl each) reads an encrypted characteristic
// without bonding again — gatttool's ATT layer raises the security level after Insufficient
// Encryption and the kernel encrypts with the stored keys (Core v5.3 Vol 3 Part H §2.4.4.1) —
// and a third one removes that bond by address, after which the read is refused. Pairing is
// refused by the peer after the first bond, so only the stored keys can encrypt the link.
func TestBondAcrossBackends(t *testing.T) {
	p, _ := testPeripheral(t, testAddr)
	r := setup(t, gatttool.Config{}, p)
	ctx := ctxT(t, 60*time.Second)
	addr := bt.MustParseAddress(testAddr)
	newBackend := func() *gatttool.Backend {
		t.Helper()
		b := gatttool.New(gatttool.Config{Env: r.env.Environ(), Logger: logger(t)})
		if err := b.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		t.Cleanup(func() { b.Stop() })
		return b
	}
	read := func(b *gatttool.Backend) ([]byte, error) {
		t.Helper()
		d, err := b.Connect(ctx, testAddr, gogatt.ConnectOptions{})
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
		defer d.Disconnect()
		return d.CharRead(ctx, uEnc)
	}

	// First program: bond.
	d := connect(t, r, testAddr, gogatt.ConnectOptions{})
	if err := d.Bond(ctx, true); err != nil {
		t.Fatalf("Bond: %v", err)
	}
	if err := d.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if err := r.b.Stop(); err != nil {
		t.Fatal(err)
	}
	// gatttool's sec-level answer confirms the security level of the link; the pairing (and
	// the bond bluetoothd stores) completes beside it, so the bond may be listed a moment
	// later: wait for it, failing only on a hang.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !slices.Contains(r.env.Bonds(), addr) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("no bond in org.bluez after Bond: %v", r.env.Bonds())
		}
	}
	p.SetRefusePairing(true)

	// Second program: the stored bond encrypts the link.
	if v, err := read(newBackend()); err != nil || string(v) != "secret" {
		t.Fatalf("encrypted read in a later program: %q, %v", v, err)
	}

	// Third program: remove the bond by address; the read is then refused.
	b3 := newBackend()
	if err := b3.ClearBond(ctx, testAddr); err != nil {
		t.Fatalf("ClearBond: %v", err)
	}
	if slices.Contains(r.env.Bonds(), addr) {
		t.Fatalf("bond still listed after ClearBond: %v", r.env.Bonds())
	}
	_, err := read(b3)
	var ae *gogatt.ATTError
	if !errors.As(err, &ae) || (ae.Code != att.ErrInsufficientEncryption && ae.Code != att.ErrInsufficientAuthentication) {
		t.Fatalf("encrypted read after ClearBond: %v", err)
	}
}
