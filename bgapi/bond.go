package bgapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bgapi/wire"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Bonds across programs: see the package documentation, "Bonds". Connect calls resumeBond;
// Bond records new bonds (recordBond); ClearBond finds bonds by address through this
// program's connections and the records.

// bondRecordKey is the persistent-store key of bond handle 0; maxBondRecords handles are
// recorded.
const (
	bondRecordKey   uint16 = 0x8078
	maxBondRecords         = 8
	bondRecordMagic        = "gogatt bond "
)

// bondRecord is what one record key holds.
type bondRecord int

const (
	recordNone    bondRecord = iota // key absent or empty
	recordOurs                      // a gogatt bond record
	recordForeign                   // another application's data
)

// loadBondRecord reads the record of bond handle h (flash_ps_load).
func (c *client) loadBondRecord(ctx context.Context, h uint8) (bt.Address, bondRecord, error) {
	var a bt.Address
	var r wire.RspFlashPsLoad
	if err := c.call(ctx, &wire.CmdFlashPsLoad{Key: bondRecordKey + uint16(h)}, &r); err != nil {
		return a, recordNone, err
	}
	switch v := r.Value; {
	case r.Result != wire.ResultSuccess || len(v) == 0:
		return a, recordNone, nil // a key never saved (or erased) is refused
	case len(v) != len(bondRecordMagic)+len(a) || string(v[:len(bondRecordMagic)]) != bondRecordMagic:
		return a, recordForeign, nil
	default:
		copy(a[:], v[len(bondRecordMagic):])
		return a, recordOurs, nil
	}
}

// recordBond records that bond handle h is the bond with addr, and drops any other record of
// addr (an earlier bond of the same peer). A record that already says so costs one
// flash_ps_load; flash is written only when something changes.
func (c *client) recordBond(ctx context.Context, h uint8, addr bt.Address) error {
	if int(h) >= maxBondRecords {
		return nil
	}
	cur, kind, err := c.loadBondRecord(ctx, h)
	switch {
	case err != nil:
		return err
	case kind == recordOurs && cur == addr:
		return nil
	case kind == recordForeign:
		c.log.Warn("bgapi: persistent-store key in use by another application: bond not recorded", "key", fmt.Sprintf("0x%04x", bondRecordKey+uint16(h)), "address", addr)
		return nil
	}
	m := &wire.CmdFlashPsSave{Key: bondRecordKey + uint16(h), Value: append([]byte(bondRecordMagic), addr[:]...)}
	var r wire.RspFlashPsSave
	if err := c.call(ctx, m, &r); err != nil {
		return err
	}
	if err := check(m, r.Result); err != nil {
		return err
	}
	return c.eraseBondRecords(ctx, func(o uint8, a bt.Address) bool { return o != h && a == addr })
}

// bondRecords returns the bond handles whose record satisfies match.
func (c *client) bondRecords(ctx context.Context, match func(h uint8, a bt.Address) bool) ([]uint8, error) {
	var hs []uint8
	for h := range uint8(maxBondRecords) {
		a, kind, err := c.loadBondRecord(ctx, h)
		if err != nil {
			return nil, err
		}
		if kind == recordOurs && match(h, a) {
			hs = append(hs, h)
		}
	}
	return hs, nil
}

// eraseBondRecords erases the records that satisfy match (flash_ps_erase).
func (c *client) eraseBondRecords(ctx context.Context, match func(h uint8, a bt.Address) bool) error {
	hs, err := c.bondRecords(ctx, match)
	if err != nil {
		return err
	}
	for _, h := range hs {
		if err := c.call(ctx, &wire.CmdFlashPsErase{Key: bondRecordKey + uint16(h)}, nil); err != nil {
			return err
		}
	}
	return nil
}

// encrypt sends sm_encrypt_start (bonding 1: store a bond if none exists and the dongle is
// bondable) and waits until connection_status reports the link encrypted. It fails with the
// sm_bonding_fail result, the link's *gogatt.DisconnectError or ctx's error. op names the
// operation in errors. A passkey callback still running when it returns sees its context end.
func (cn *conn) encrypt(ctx context.Context, op string, bonding uint8) error {
	c := cn.c
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw := &bondWait{ctx: ctx, done: make(chan struct{})}
	c.mu.Lock()
	if cn.err != nil {
		err := cn.err
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", op, err)
	}
	cn.bond = bw
	c.mu.Unlock()
	clear := func() {
		c.mu.Lock()
		if cn.bond == bw {
			cn.bond = nil
		}
		c.mu.Unlock()
	}
	m := &wire.CmdSmEncryptStart{Handle: cn.handle, Bonding: bonding}
	var r wire.RspSmEncryptStart
	if err := c.call(ctx, m, &r); err != nil {
		clear()
		return cn.linkOr(op, err)
	}
	if r.Result != wire.ResultSuccess {
		clear()
		return resultError(m.Name(), op, int(cn.handle), 0, r.Result)
	}
	select {
	case <-bw.done:
		if bw.err != nil {
			if _, ok := bw.err.(*gogatt.DisconnectError); ok {
				return fmt.Errorf("%s: %w", op, bw.err)
			}
			return fmt.Errorf("%s %s: %w", op, cn.addr, bw.err)
		}
		return nil
	case <-ctx.Done():
		clear()
		return gattkit.CtxErr(ctx, op)
	}
}

// resumeBond re-encrypts a new link with the stored bond when connection_status named one
// (package documentation, "Bonds") and records the bond if it is not recorded yet. A
// refused encryption (the peer lost its keys) leaves the link up and unencrypted: the
// operations that need encryption then fail with the peer's ATT error. It fails only when ctx
// ends or the link goes.
func (cn *conn) resumeBond(ctx context.Context) error {
	c := cn.c
	c.mu.Lock()
	h, encrypted := cn.bondHandle, cn.encrypted
	c.mu.Unlock()
	if h == wire.NoBond {
		return nil
	}
	if err := c.recordBond(ctx, h, cn.addr); err != nil {
		if ctx.Err() != nil || cn.linkErr() != nil {
			return cn.linkOr("connect", err)
		}
		c.log.Warn("bgapi: the bond could not be recorded in the persistent store", "address", cn.addr, "bond", h, "err", err)
	}
	if encrypted {
		return nil
	}
	const op = "encrypt with the stored bond"
	err := cn.encrypt(ctx, op, 1)
	if err == nil || ctx.Err() != nil || cn.linkErr() != nil {
		return err
	}
	c.log.Warn("bgapi: "+op+" failed; the link stays unencrypted", "address", cn.addr, "bond", h, "err", err)
	return nil
}

// clearBond implements Backend.ClearBond.
func (b *Backend) clearBond(ctx context.Context, address string) error {
	c, err := b.client()
	if err != nil {
		return fmt.Errorf("clear bond: %w", err)
	}
	if address == "" {
		if err := c.deleteBonding(ctx, wire.NoBond); err != nil {
			return fmt.Errorf("clear bond: %w", err)
		}
		if err := c.eraseBondRecords(ctx, func(uint8, bt.Address) bool { return true }); err != nil {
			return fmt.Errorf("clear bond: every bond is deleted, but not their records in the persistent store: %w", err)
		}
		return nil
	}
	addr, err := bt.ParseAddress(address)
	if err != nil {
		return fmt.Errorf("clear bond: %w: %w", gogatt.ErrInvalidParameter, err)
	}
	// The bond a connection named in this session is certain; else the records.
	c.mu.Lock()
	bh, seen := c.bonds[addr]
	c.mu.Unlock()
	hs := []uint8{bh}
	if !seen {
		if hs, err = c.bondRecords(ctx, func(_ uint8, a bt.Address) bool { return a == addr }); err != nil {
			return fmt.Errorf("clear bond %s: %w", addr, err)
		}
	}
	deleted := false
	for _, h := range hs {
		err := c.deleteBonding(ctx, h)
		var be *Error
		switch {
		case err == nil:
			deleted = true
		case !seen && errors.As(err, &be) && be.Result == wire.ResultInvalidParam:
			// A record of a bond deleted by another program: nothing to delete.
			b.log.Debug("bgapi: recorded bond no longer exists", "address", addr, "bond", h)
		default:
			return fmt.Errorf("clear bond %s: %w", addr, err)
		}
	}
	if err := c.eraseBondRecords(ctx, func(h uint8, a bt.Address) bool { return a == addr || (seen && h == bh) }); err != nil {
		if deleted {
			return fmt.Errorf("clear bond %s: the bond is deleted, but not its record in the persistent store: %w", addr, err)
		}
		return fmt.Errorf("clear bond %s: %w", addr, err)
	}
	if !deleted {
		return fmt.Errorf("clear bond %s: no bond known with this address (none named by a connection to it, nor recorded in the dongle's persistent store): %w", addr, gogatt.ErrNotFound)
	}
	return nil
}

// deleteBonding sends sm_delete_bonding(h) (0xFF: every bond) and forgets what this client
// knew of the deleted bonds.
func (c *client) deleteBonding(ctx context.Context, h uint8) error {
	m := &wire.CmdSmDeleteBonding{Handle: h}
	var r wire.RspSmDeleteBonding
	if err := c.call(ctx, m, &r); err != nil {
		return err
	}
	if err := check(m, r.Result); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, bh := range c.bonds {
		if h == wire.NoBond || bh == h {
			delete(c.bonds, a)
		}
	}
	for _, cn := range c.conns {
		if h == wire.NoBond || cn.bondHandle == h {
			cn.bondHandle = wire.NoBond
		}
	}
	return nil
}

// ClearBond deletes the bond with address, or every bond when address is "" (sm_delete_bonding
// 0xFF). BGAPI 1.x names bonds by handle (pygatt ignored the address and deleted all,
// docs/bgapi-protocol.md#pygatt-clear-bond): the handle of the peer's bond is the one a
// connection to it named in this program (connection_status), else the one gogatt recorded in
// the dongle's persistent store, so this works from any later program too (see "Bonds" in the
// package documentation); the record goes with the bond. An address with no bond known either
// way gives an error matching gogatt.ErrNotFound.
func (b *Backend) ClearBond(ctx context.Context, address string) error {
	return b.clearBond(ctx, address)
}
