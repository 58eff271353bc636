package simhci

import (
	"context"
	"crypto/aes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"slices"

	"github.com/gogatt/gogatt/sim"
)

// Security Manager codes (Core v5.3 Vol 3 Part H §3.3, §3.5, §3.6).
const (
	smpPairingRequest  = 0x01
	smpPairingResponse = 0x02
	smpPairingConfirm  = 0x03
	smpPairingRandom   = 0x04
	smpPairingFailed   = 0x05
	smpEncryptionInfo  = 0x06
	smpCentralIdent    = 0x07

	smpErrConfirmValue = 0x04 // Confirm Value Failed
	smpErrEncKeySize   = 0x06 // Encryption Key Size
	smpErrUnspecified  = 0x08 // Unspecified Reason

	authBonding = 0x01 // AuthReq Bonding_Flags 0b01 (§3.5.1)
	distEncKey  = 0x01 // key distribution EncKey (§3.6.1)
)

// HCI commands and events of encryption (Core v5.3 Vol 4 Part E §7.8.25, §7.7.8, §7.7.39).
const (
	opLELTKReply      = 0x201a
	evEncChange       = 0x08
	evEncKeyRefreshed = 0x30
)

// Pairing phases of one connection.
const (
	phaseIdle       = iota
	phaseResponded  // Pairing Response sent, waiting for the central's confirm
	phaseConfirmed  // confirm values exchanged, waiting for the central's random
	phaseSTK        // random values exchanged, waiting for the LTK Request of the STK
	phaseEncrypting // STK given to the controller, waiting for the Encryption Change
)

// pairing is the responder's state of LE legacy pairing, Just Works (Core v5.3 Vol 3 Part H
// §2.3.5), on one connection. Only the reader goroutine touches it.
type pairing struct {
	phase      int
	preq, pres [7]byte
	mconfirm   [16]byte
	srand      [16]byte
	stk        [16]byte
	keySize    int
	bond       bool // both sides set the Bonding flag and the central takes our EncKey
	reencrypt  bool // an LTK of an earlier bond was given to the controller
}

// ltkKeys are the keys the host distributed to one central (§3.6.2, §3.6.3).
type ltkKeys struct {
	ltk  [16]byte
	ediv uint16
	rand [8]byte
}

// e is the security function e (Core v5.3 Vol 3 Part H §2.2.1): AES-128 of the most
// significant octet first. k and p are given, and the result returned, least significant
// octet first, as SMP carries them.
func e(k, p [16]byte) [16]byte {
	kb, pb := k, p
	slices.Reverse(kb[:])
	slices.Reverse(pb[:])
	b, _ := aes.NewCipher(kb[:]) // a 16-octet key never fails
	var out [16]byte
	b.Encrypt(out[:], pb[:])
	slices.Reverse(out[:])
	return out
}

// c1 is the confirm value generation function (Core v5.3 Vol 3 Part H §2.2.3); every
// argument is least significant octet first, iat and rat are the address types (0 public,
// 1 random).
func c1(k, r [16]byte, preq, pres [7]byte, iat, rat byte, ia, ra [6]byte) [16]byte {
	var p1, p2 [16]byte // p1 = pres || preq || rat' || iat', p2 = padding || ia || ra
	p1[0], p1[1] = iat, rat
	copy(p1[2:9], preq[:])
	copy(p1[9:16], pres[:])
	copy(p2[0:6], ra[:])
	copy(p2[6:12], ia[:])
	x := e(k, xor(r, p1))
	return e(k, xor(x, p2))
}

// s1 is the key generation function (Core v5.3 Vol 3 Part H §2.2.4): e(k, r1' || r2'), r1'
// and r2' the least significant 64 bits of r1 and r2; least significant octet first.
func s1(k, r1, r2 [16]byte) [16]byte {
	var r [16]byte
	copy(r[0:8], r2[0:8])
	copy(r[8:16], r1[0:8])
	return e(k, r)
}

func xor(a, b [16]byte) [16]byte {
	for i := range a {
		a[i] ^= b[i]
	}
	return a
}

// shorten keeps the keySize least significant octets of k (§2.3.4).
func shorten(k [16]byte, keySize int) [16]byte {
	clear(k[keySize:])
	return k
}

// smp handles one Security Manager command from the central on the reader goroutine and
// returns the answer, nil for none. The host pairs as a responder of LE legacy pairing with
// Just Works (IO capability NoInputNoOutput, no OOB, no MITM, no Secure Connections: a central
// proposing Secure Connections falls back to legacy pairing, Core v5.3 Vol 3 Part H §2.3.5.1),
// distributing an LTK with EDIV and Rand when bonding.
func (h *Host) smp(c *conn, p []byte) []byte {
	if len(p) < 1 {
		return nil
	}
	fail := func(reason byte) []byte {
		c.pair = pairing{}
		return []byte{smpPairingFailed, reason}
	}
	switch p[0] {
	case smpPairingRequest:
		if len(p) < 7 {
			return fail(smpErrUnspecified)
		}
		if p[4] < 7 {
			return fail(smpErrEncKeySize)
		}
		pr := pairing{phase: phaseResponded, keySize: int(min(p[4], 16))}
		copy(pr.preq[:], p)
		auth := p[3] & authBonding
		rdist := p[6] & distEncKey
		pr.bond = auth != 0 && rdist != 0
		pr.pres = [7]byte{smpPairingResponse, 0x03 /* NoInputNoOutput */, 0x00, auth, 16, 0x00, rdist}
		c.pair = pr
		return pr.pres[:]
	case smpPairingConfirm:
		if len(p) < 17 || c.pair.phase != phaseResponded {
			return fail(smpErrUnspecified)
		}
		copy(c.pair.mconfirm[:], p[1:])
		rand.Read(c.pair.srand[:])
		c.pair.phase = phaseConfirmed
		sconfirm := h.confirm(c, c.pair.srand)
		return append([]byte{smpPairingConfirm}, sconfirm[:]...)
	case smpPairingRandom:
		if len(p) < 17 || c.pair.phase != phaseConfirmed {
			return fail(smpErrUnspecified)
		}
		var mrand [16]byte
		copy(mrand[:], p[1:])
		want := h.confirm(c, mrand)
		if subtle.ConstantTimeCompare(want[:], c.pair.mconfirm[:]) != 1 {
			return fail(smpErrConfirmValue)
		}
		c.pair.stk = shorten(s1([16]byte{}, c.pair.srand, mrand), c.pair.keySize)
		c.pair.phase = phaseSTK
		return append([]byte{smpPairingRandom}, c.pair.srand[:]...)
	case smpPairingFailed:
		c.pair = pairing{}
	}
	return nil
}

// confirm is c1 with TK 0 (Just Works) of the connection's pairing for random r.
func (h *Host) confirm(c *conn, r [16]byte) [16]byte {
	return c1([16]byte{}, r, c.pair.preq, c.pair.pres, byte(c.centralType&1), 1,
		c.central.LE(), h.p.Address().LE())
}

// ltkRequest answers the controller's LE Long Term Key Request (Core v5.3 Vol 4 Part E
// §7.7.65.5) on the reader goroutine: EDIV 0 and Rand 0 during pairing ask for the STK,
// the EDIV and Rand the host gave a central ask for its LTK while the peripheral still holds
// the bond; anything else gets a Negative Reply.
func (h *Host) ltkRequest(handle uint16, rnd [8]byte, ediv uint16) {
	h.mu.Lock()
	c := h.conn
	if c == nil || !c.is(handle) {
		c = nil
	}
	var key [16]byte
	ok := false
	if c != nil {
		switch {
		case ediv == 0 && rnd == [8]byte{} && c.pair.phase == phaseSTK:
			key, ok = c.pair.stk, true
			c.pair.phase = phaseEncrypting
		default:
			k, have := h.keys[c.central]
			if _, bonded := h.p.Bonded(c.central); have && bonded && k.ediv == ediv && k.rand == rnd {
				key, ok = k.ltk, true
				c.pair.reencrypt = true
			}
		}
	}
	h.mu.Unlock()
	hb := []byte{byte(handle), byte(handle >> 8)}
	h.log.Debug("simhci: LTK request", "handle", handle, "ediv", ediv, "known", ok)
	h.later(func() {
		if ok {
			_, err := h.cmd(context.Background(), opLELTKReply, append(hb, key[:]...)...)
			h.logErr("LTK reply", err)
			return
		}
		_, err := h.cmd(context.Background(), opLELTKNegReply, hb...)
		h.logErr("LTK negative reply", err)
	})
}

// encrypted handles an Encryption Change (enabled) or Encryption Key Refresh Complete on the
// reader goroutine: after pairing the host distributes its keys (when bonding) and the link
// gets SecurityEncrypted; after an LTK of a bond the link gets the bond's level back.
func (h *Host) encrypted(handle uint16) {
	h.mu.Lock()
	c := h.conn
	if c == nil || !c.is(handle) {
		h.mu.Unlock()
		return
	}
	pr := c.pair
	c.pair = pairing{}
	var keys ltkKeys
	if pr.phase == phaseEncrypting && pr.bond {
		rand.Read(keys.ltk[:])
		keys.ltk = shorten(keys.ltk, pr.keySize)
		rand.Read(keys.rand[:])
		var b [2]byte
		rand.Read(b[:])
		keys.ediv = binary.LittleEndian.Uint16(b[:])
		h.keys[c.central] = keys
	}
	h.mu.Unlock()
	switch {
	case pr.phase == phaseEncrypting:
		h.logErr("pair", c.link.Pair(sim.SecurityEncrypted, pr.bond))
		if pr.bond {
			info := append([]byte{smpEncryptionInfo}, keys.ltk[:]...)
			ident := binary.LittleEndian.AppendUint16([]byte{smpCentralIdent}, keys.ediv)
			ident = append(ident, keys.rand[:]...)
			h.later(func() {
				if h.sendL2CAP(c, cidSMP, info) == nil {
					h.logErr("SMP keys", h.sendL2CAP(c, cidSMP, ident))
				}
			})
		}
	case pr.reencrypt:
		h.logErr("encrypt", c.link.Encrypt())
	}
}
