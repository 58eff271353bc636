package bluezsim

import (
	"context"
	"errors"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// Pairing errors of Device1.Pair (doc/device-api.txt, BlueZ 5.66).
const (
	errAuthFailed     = "org.bluez.Error.AuthenticationFailed"
	errAuthCanceled   = "org.bluez.Error.AuthenticationCanceled"
	errConnAttempt    = "org.bluez.Error.ConnectionAttemptFailed"
	ifaceAgent        = "org.bluez.Agent1"
	noInputNoOutput   = "NoInputNoOutput"
	capKeyboardOnly   = "KeyboardOnly"
	capKeyboardDisp   = "KeyboardDisplay"
	capDisplayYesNo   = "DisplayYesNo"
	capDisplayOnly    = "DisplayOnly"
	errAgentCanceled  = "org.bluez.Error.Canceled"
	textAuthFailed    = "Authentication Failed"
	textAuthCanceled  = "Authentication Canceled"
	textConnAttempt   = "Page Timeout"
	textAlreadyExists = "Already Exists"
)

// simPairing is a Device1.Pair in progress.
type simPairing struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Pair has answered
}

// simAgent is a registered org.bluez.Agent1.
type simAgent struct {
	owner, capability string
	path              dbus.ObjectPath
}

// PeerIO is the IO capability a simulated peripheral pairs with (Core v5.3 Vol 3 Part H
// §2.3.2); with the central agent's capability it chooses the pairing method of Device1.Pair
// (Table 2.8, LE Secure Connections).
type PeerIO int

// Peer IO capabilities.
const (
	PeerNoIO         PeerIO = iota // NoInputNoOutput: Just Works
	PeerDisplayOnly                // shows PeerPasskey: a central with a keyboard enters it (RequestPasskey)
	PeerKeyboard                   // KeyboardOnly: types the passkey a central displays (DisplayPasskey)
	PeerDisplayYesNo               // numeric comparison with a DisplayYesNo/KeyboardDisplay central (RequestConfirmation)
)

// PeerPasskey is the passkey a simulated peripheral shows, or types when the central displays
// one: a stable 6-digit number derived from its address.
func PeerPasskey(a bt.Address) uint32 {
	var v uint32
	for _, b := range a {
		v = v*131 + uint32(b)
	}
	return v % 1000000
}

// SetPeerIO sets the IO capability peripheral a pairs with (PeerNoIO by default).
func (e *Env) SetPeerIO(a bt.Address, io PeerIO) {
	if e.bus == nil {
		return
	}
	e.bus.mu.Lock()
	e.bus.peerIO[a] = io
	e.bus.mu.Unlock()
}

// Agents returns the registered agents: the IO capability of each by its owner's unique bus
// name.
func (e *Env) Agents() map[string]string {
	out := map[string]string{}
	if e.bus == nil {
		return out
	}
	e.bus.mu.Lock()
	defer e.bus.mu.Unlock()
	for owner, a := range e.bus.agents {
		out[owner] = a.capability
	}
	return out
}

// Pairing reports whether a Device1.Pair of a is in progress.
func (e *Env) Pairing(a bt.Address) bool {
	if e.bus == nil {
		return false
	}
	e.bus.mu.Lock()
	defer e.bus.mu.Unlock()
	return e.bus.pairing[a].cancel != nil
}

// CancelPairingCalls returns how many Device1.CancelPairing calls the service received.
func (e *Env) CancelPairingCalls() int {
	if e.bus == nil {
		return 0
	}
	e.bus.mu.Lock()
	defer e.bus.mu.Unlock()
	return e.bus.pairCancels
}

type pairMethod int

const (
	justWorks    pairMethod = iota
	enterPasskey            // the central's agent enters the peer's passkey (RequestPasskey)
	showPasskey             // the central's agent displays a passkey the peer types (DisplayPasskey)
	comparison              // numeric comparison (RequestConfirmation)
)

// methodFor is Table 2.8 of Core v5.3 Vol 3 Part H (LE Secure Connections column), the central
// initiating.
func methodFor(central string, peer PeerIO) pairMethod {
	if central == noInputNoOutput || peer == PeerNoIO {
		return justWorks
	}
	switch peer {
	case PeerDisplayOnly:
		if central == capKeyboardOnly || central == capKeyboardDisp {
			return enterPasskey
		}
	case PeerKeyboard:
		if central == capKeyboardOnly {
			return enterPasskey // both type the same passkey
		}
		return showPasskey
	case PeerDisplayYesNo:
		switch central {
		case capKeyboardOnly:
			return enterPasskey
		case capDisplayYesNo, capKeyboardDisp:
			return comparison
		}
	}
	return justWorks
}

// devicePair is Device1.Pair of a, as pair_device in src/device.c (BlueZ 5.66): the agent of
// the caller, else the default agent, else none (NoInputNoOutput) answers the pairing's
// requests; the pairing method comes from both IO capabilities; a success bonds (Paired and
// Bonded true).
func (b *bluezBus) devicePair(a bt.Address) methodFunc {
	return func(c *call) ([]any, error) {
		b.mu.Lock()
		d, gc := b.devices[a], b.gatt.conns[a]
		switch {
		case d == nil:
			b.mu.Unlock()
			return nil, bluezErr(errDoesNotExist, "Does Not Exist")
		case b.pairing[a].cancel != nil:
			b.mu.Unlock()
			return nil, bluezErr(errInProgress, "In Progress")
		case d.paired:
			b.mu.Unlock()
			return nil, bluezErr(errAlreadyExists, textAlreadyExists)
		case gc == nil: // bluetoothd would connect first; the sim pairs connected devices only
			b.mu.Unlock()
			return nil, bluezErr(errConnAttempt, textConnAttempt)
		}
		ag, ok := b.agents[sender(c)]
		if !ok {
			ag, ok = b.agents[b.defAgent]
		}
		capability := noInputNoOutput
		if ok {
			capability = ag.capability
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		b.pairing[a] = simPairing{cancel, done}
		peer := b.peerIO[a]
		b.mu.Unlock()
		defer func() {
			cancel()
			b.mu.Lock()
			delete(b.pairing, a)
			b.mu.Unlock()
			close(done)
		}()
		go func() { // the link's end cancels the pairing
			select {
			case <-gc.done:
				cancel()
			case <-ctx.Done():
			}
		}()

		path := devicePath(b.adapter, a)
		level := sim.SecurityEncrypted
		var err error
		switch methodFor(capability, peer) {
		case enterPasskey:
			level = sim.SecurityAuthenticated
			var pk uint32
			if err = b.agentCall(ctx, ag, "RequestPasskey", path).Store(&pk); err == nil && pk != PeerPasskey(a) {
				return nil, bluezErr(errAuthFailed, textAuthFailed) // SMP Confirm Value Failed
			}
		case showPasskey:
			level = sim.SecurityAuthenticated
			// The peer's user types the passkey shown; the reply says nothing (an error is
			// ignored), but waiting for it keeps the display within the pairing.
			b.agentCall(ctx, ag, "DisplayPasskey", path, PeerPasskey(a), uint16(0))
		case comparison:
			level = sim.SecurityAuthenticated
			err = b.agentCall(ctx, ag, "RequestConfirmation", path, PeerPasskey(a)).Err
		}
		if err != nil {
			if ctx.Err() != nil {
				b.agentSend(ag, "Cancel")
				return nil, bluezErr(errAuthCanceled, textAuthCanceled)
			}
			// The agent's rejection becomes a negative reply to the kernel, hence an SMP
			// failure: bluetoothd reports AuthenticationFailed (or Canceled if the agent said so).
			var de dbus.Error
			if errors.As(err, &de) && de.Name == errAgentCanceled {
				return nil, bluezErr(errAuthCanceled, textAuthCanceled)
			}
			return nil, bluezErr(errAuthFailed, textAuthFailed)
		}
		if ctx.Err() != nil {
			return nil, bluezErr(errAuthCanceled, textAuthCanceled)
		}
		if err := gc.link.Pair(level, true); err != nil {
			if errors.Is(err, sim.ErrPairingRefused) {
				return nil, bluezErr(errAuthFailed, textAuthFailed)
			}
			return nil, bluezErr(errConnAttempt, textConnAttempt)
		}
		b.e.AddBond(a)
		return nil, nil
	}
}

// cancelPairing is Device1.CancelPairing of a; it replies once the pairing has ended (Pair
// answered AuthenticationCanceled), so that a test sees no pairing after it.
func (b *bluezBus) cancelPairing(a bt.Address) methodFunc {
	return func(c *call) ([]any, error) {
		b.mu.Lock()
		p := b.pairing[a]
		b.pairCancels++
		b.mu.Unlock()
		if p.cancel == nil {
			return nil, bluezErr(errDoesNotExist, "Does Not Exist")
		}
		p.cancel()
		<-p.done
		return nil, nil
	}
}

// agentCall calls an Agent1 method of ag and waits for the reply or ctx.
func (b *bluezBus) agentCall(ctx context.Context, ag simAgent, m string, args ...any) *dbus.Call {
	return b.conn.Object(ag.owner, ag.path).CallWithContext(ctx, ifaceAgent+"."+m, 0, args...)
}

// agentSend calls an Agent1 method of ag without waiting for a reply.
func (b *bluezBus) agentSend(ag simAgent, m string, args ...any) {
	if ag.owner == "" {
		return
	}
	b.conn.Object(ag.owner, ag.path).Call(ifaceAgent+"."+m, dbus.FlagNoReplyExpected, args...)
}
