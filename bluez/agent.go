package bluez

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// Agent names (BlueZ 5.66 doc/agent-api.txt).
const (
	ifaceAgent    = "org.bluez.Agent1"
	ifaceAgentMgr = "org.bluez.AgentManager1"
	agentPath     = dbus.ObjectPath("/org/gogatt/bluez/agent")
	errRejected   = "org.bluez.Error.Rejected"
	errCanceled   = "org.bluez.Error.Canceled"
	// agentRequestTimeout is how long bluetoothd waits for an agent's answer before it cancels
	// the request (REQUEST_TIMEOUT in src/agent.c, BlueZ 5.66); it bounds the context of a
	// request that no Bond of this backend started.
	agentRequestTimeout = 60 * time.Second
)

// capability is the IO capability the backend's agent registers with
// (AgentManager1.RegisterAgent, doc/agent-api.txt), derived from the pairing callbacks of
// Config (see Config.Confirm); bluetoothd hands it to the kernel, whose SMP chooses the
// pairing method from both sides' capabilities (Core v5.3 Vol 3 Part H §2.3.5.1, Table 2.8):
//
//	Passkey  PasskeyDisplay  Confirm   capability
//	-        -               -         NoInputNoOutput (Just Works only)
//	-        set             -         DisplayOnly
//	-        any             set       DisplayYesNo
//	set      -               -         KeyboardOnly
//	set      at least one of them      KeyboardDisplay
func (c Config) capability() string {
	switch {
	case c.Passkey != nil && (c.PasskeyDisplay != nil || c.Confirm != nil):
		return "KeyboardDisplay"
	case c.Passkey != nil:
		return "KeyboardOnly"
	case c.Confirm != nil:
		return "DisplayYesNo"
	case c.PasskeyDisplay != nil:
		return "DisplayOnly"
	}
	return "NoInputNoOutput"
}

// agent is the backend's org.bluez.Agent1 object on its bus connection. bluetoothd calls it for
// the pairings that Device1.Pair calls of this connection start (agent_get in src/agent.c,
// pair_device in src/device.c, BlueZ 5.66: the agent of the caller, else the default agent),
// and for every pairing when Config.DefaultAgent made it the default agent.
type agent struct {
	b       *Backend
	conn    *dbus.Conn
	adapter dbus.ObjectPath

	bluetoothd *bluetoothdName // who may call the agent

	mu       sync.Mutex
	pairings map[dbus.ObjectPath]*pairing // Bonds in progress, by device path
	requests map[*request]struct{}        // requests whose context is live: Cancel ends them
	shown    map[dbus.ObjectPath]*request // the passkey display of each device
	stopped  bool
}

// pairing is one Bond in progress: the agent's requests for its device get its context.
type pairing struct {
	ctx   context.Context
	cbErr error // the error a callback returned (guarded by agent.mu)
}

// request is one agent request: its context ends when the request is answered, when
// bluetoothd cancels it (Agent1.Cancel), when the pairing ends, and at Stop.
type request struct {
	ctx     context.Context
	cancel  context.CancelFunc
	passkey uint32 // a displayed passkey
}

// startAgent exports the agent on conn and registers it (RegisterAgent with Config's
// capability; RequestDefaultAgent when Config.DefaultAgent).
func (b *Backend) startAgent(ctx context.Context, conn *dbus.Conn, adapter dbus.ObjectPath, name *bluetoothdName) (*agent, error) {
	a := &agent{b: b, conn: conn, adapter: adapter, bluetoothd: name, pairings: map[dbus.ObjectPath]*pairing{},
		requests: map[*request]struct{}{}, shown: map[dbus.ObjectPath]*request{}}
	err := conn.ExportMethodTable(map[string]any{
		"Release":              a.release,
		"RequestPinCode":       a.requestPinCode,
		"DisplayPinCode":       a.displayPinCode,
		"RequestPasskey":       a.requestPasskey,
		"DisplayPasskey":       a.displayPasskey,
		"RequestConfirmation":  a.requestConfirmation,
		"RequestAuthorization": a.requestAuthorization,
		"AuthorizeService":     a.authorizeService,
		"Cancel":               a.cancelRequests,
	}, agentPath, ifaceAgent)
	if err != nil {
		return nil, fmt.Errorf("bluez: exporting the pairing agent: %w", err)
	}
	mgr := conn.Object(bluezService, "/org/bluez")
	if err := mgr.CallWithContext(ctx, ifaceAgentMgr+".RegisterAgent", 0, agentPath, b.cfg.capability()).Err; err != nil {
		return nil, mapError("register agent", 0, err)
	}
	if b.cfg.DefaultAgent {
		if err := mgr.CallWithContext(ctx, ifaceAgentMgr+".RequestDefaultAgent", 0, agentPath).Err; err != nil {
			return nil, mapError("request default agent", 0, err)
		}
	}
	return a, nil
}

// stop ends every request's context and unregisters the agent (best effort: the bus connection
// closes next, which makes bluetoothd forget the agent anyway).
func (a *agent) stop(timeout time.Duration) {
	a.mu.Lock()
	a.stopped = true
	for r := range a.requests {
		r.cancel()
	}
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := a.conn.Object(bluezService, "/org/bluez").CallWithContext(ctx, ifaceAgentMgr+".UnregisterAgent", 0, agentPath).Err; err != nil {
		a.b.log.Debug("UnregisterAgent", "err", err)
	}
}

// beginPairing records a Bond of device path; the returned function ends it. ok is false when
// a Bond of the same device is already in progress.
func (a *agent) beginPairing(ctx context.Context, path dbus.ObjectPath) (p *pairing, end func(), ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pairings[path] != nil {
		return nil, nil, false
	}
	p = &pairing{ctx: ctx}
	a.pairings[path] = p
	return p, func() {
		a.mu.Lock()
		delete(a.pairings, path)
		a.mu.Unlock()
	}, true
}

func agentErr(name, text string) *dbus.Error { return dbus.NewError(name, []any{text}) }

// begin checks that a request comes from bluetoothd and concerns a device of this backend's
// adapter, and returns the device's address and a request whose context ends with the
// pairing: the Bond's, or, for a pairing no Bond of this backend started (default agent), at
// bluetoothd's own request timeout.
func (a *agent) begin(sender dbus.Sender, device dbus.ObjectPath) (string, *request, *pairing, *dbus.Error) {
	if !a.bluetoothd.is(sender) {
		return "", nil, nil, agentErr(errRejected, "gogatt: agent requests are accepted from bluetoothd only")
	}
	addr, ok := deviceAddress(a.adapter, device)
	if !ok {
		return "", nil, nil, agentErr(errRejected, "gogatt: "+string(device)+" is not a device on adapter "+string(a.adapter))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return "", nil, nil, agentErr(errCanceled, "gogatt: backend stopped")
	}
	p := a.pairings[device]
	var ctx context.Context
	var cancel context.CancelFunc
	if p != nil {
		ctx, cancel = context.WithCancel(p.ctx)
	} else {
		ctx, cancel = context.WithTimeout(context.Background(), agentRequestTimeout)
	}
	r := &request{ctx: ctx, cancel: cancel}
	a.requests[r] = struct{}{}
	context.AfterFunc(ctx, func() {
		a.mu.Lock()
		delete(a.requests, r)
		if a.shown[device] == r {
			delete(a.shown, device)
		}
		a.mu.Unlock()
	})
	return addr.String(), r, p, nil
}

// failed records a callback's error in the pairing and returns the Rejected error for
// bluetoothd.
func (a *agent) failed(p *pairing, what string, err error) *dbus.Error {
	if p != nil {
		a.mu.Lock()
		if p.cbErr == nil {
			p.cbErr = err
		}
		a.mu.Unlock()
	}
	return agentErr(errRejected, "gogatt: "+what+": "+err.Error())
}

// call runs fn on a goroutine of its own (user code: never on godbus's goroutine under a wait
// it cannot leave) and waits for it or for the request's end.
func call[T any](r *request, fn func(ctx context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn(r.ctx)
		ch <- result{v, err}
	}()
	select {
	case res := <-ch:
		return res.v, res.err
	case <-r.ctx.Done():
		var zero T
		return zero, r.ctx.Err()
	}
}

// release is Agent1.Release: bluetoothd unregistered the agent (it is exiting).
func (a *agent) release(sender dbus.Sender) *dbus.Error {
	if a.bluetoothd.is(sender) {
		a.b.log.Debug("bluetoothd released the pairing agent")
	}
	return nil
}

// requestPinCode is Agent1.RequestPinCode: BR/EDR legacy pairing only, which gogatt does not do.
func (a *agent) requestPinCode(sender dbus.Sender, device dbus.ObjectPath) (string, *dbus.Error) {
	_, r, _, derr := a.begin(sender, device)
	if derr != nil {
		return "", derr
	}
	r.cancel()
	return "", agentErr(errRejected, "gogatt: PIN codes (BR/EDR legacy pairing) are not supported")
}

// displayPinCode is Agent1.DisplayPinCode: a PIN of up to 6 digits goes to PasskeyDisplay.
func (a *agent) displayPinCode(sender dbus.Sender, device dbus.ObjectPath, pin string) *dbus.Error {
	n, err := strconv.ParseUint(pin, 10, 32)
	if err != nil || len(pin) > 6 {
		_, r, _, derr := a.begin(sender, device)
		if derr != nil {
			return derr
		}
		r.cancel()
		return agentErr(errRejected, "gogatt: PIN code "+strconv.Quote(pin)+" cannot be shown as a passkey")
	}
	return a.displayPasskey(sender, device, uint32(n), 0)
}

// requestPasskey is Agent1.RequestPasskey: Config.Passkey's answer.
func (a *agent) requestPasskey(sender dbus.Sender, device dbus.ObjectPath) (uint32, *dbus.Error) {
	addr, r, p, derr := a.begin(sender, device)
	if derr != nil {
		return 0, derr
	}
	defer r.cancel()
	fn := a.b.cfg.Passkey
	if fn == nil {
		return 0, agentErr(errRejected, "gogatt: no Config.Passkey to enter a passkey with")
	}
	pk, err := call(r, func(ctx context.Context) (uint32, error) { return fn(ctx, addr) })
	switch {
	case r.ctx.Err() != nil:
		return 0, agentErr(errCanceled, "gogatt: passkey request ended: "+r.ctx.Err().Error())
	case err != nil:
		return 0, a.failed(p, "Passkey", err)
	case pk > 999999:
		return 0, a.failed(p, "Passkey", fmt.Errorf("%w: passkey %d is not 0–999999", gogatt.ErrInvalidParameter, pk))
	}
	return pk, nil
}

// displayPasskey is Agent1.DisplayPasskey: Config.PasskeyDisplay is told the passkey once per
// pairing (bluetoothd calls again as the peer's user types, with entered counting the digits)
// and may show it until its context ends. The call returns at once.
func (a *agent) displayPasskey(sender dbus.Sender, device dbus.ObjectPath, passkey uint32, entered uint16) *dbus.Error {
	addr, r, _, derr := a.begin(sender, device)
	if derr != nil {
		return derr
	}
	fn := a.b.cfg.PasskeyDisplay
	a.mu.Lock()
	old := a.shown[device]
	again := old != nil && old.passkey == passkey && old.ctx.Err() == nil
	if !again && fn != nil {
		if old != nil {
			old.cancel()
		}
		r.passkey = passkey
		a.shown[device] = r
	}
	a.mu.Unlock()
	if again || fn == nil {
		r.cancel()
		return nil
	}
	go fn(r.ctx, addr, passkey) // not waited for by Stop: user code, which gets ctx
	return nil
}

// requestConfirmation is Agent1.RequestConfirmation (numeric comparison, LE Secure
// Connections): Config.Confirm decides; without it the request is rejected.
func (a *agent) requestConfirmation(sender dbus.Sender, device dbus.ObjectPath, passkey uint32) *dbus.Error {
	addr, r, p, derr := a.begin(sender, device)
	if derr != nil {
		return derr
	}
	defer r.cancel()
	fn := a.b.cfg.Confirm
	if fn == nil {
		return agentErr(errRejected, "gogatt: no Config.Confirm for a numeric comparison")
	}
	_, err := call(r, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx, addr, passkey) })
	switch {
	case r.ctx.Err() != nil:
		return agentErr(errCanceled, "gogatt: confirmation ended: "+r.ctx.Err().Error())
	case err != nil:
		return a.failed(p, "Confirm", err)
	}
	return nil
}

// requestAuthorization is Agent1.RequestAuthorization (a Just Works pairing bluetoothd asks
// the agent about): accepted for a Bond of this backend in progress, which is the
// application's own request, rejected otherwise.
func (a *agent) requestAuthorization(sender dbus.Sender, device dbus.ObjectPath) *dbus.Error {
	_, r, p, derr := a.begin(sender, device)
	if derr != nil {
		return derr
	}
	r.cancel()
	if p == nil {
		return agentErr(errRejected, "gogatt: pairing not requested by this application")
	}
	return nil
}

// authorizeService is Agent1.AuthorizeService (an incoming connection to a local profile):
// always rejected, since gogatt serves no profile.
func (a *agent) authorizeService(sender dbus.Sender, device dbus.ObjectPath, uuid string) *dbus.Error {
	_, r, _, derr := a.begin(sender, device)
	if derr != nil {
		return derr
	}
	r.cancel()
	return agentErr(errRejected, "gogatt: no service to authorize")
}

// cancelRequests is Agent1.Cancel: bluetoothd gave up the request in progress (bluetoothd has
// at most one per agent, src/agent.c), so every live request's context ends.
func (a *agent) cancelRequests(sender dbus.Sender) *dbus.Error {
	if !a.bluetoothd.is(sender) {
		return agentErr(errRejected, "gogatt: agent requests are accepted from bluetoothd only")
	}
	a.mu.Lock()
	for r := range a.requests {
		r.cancel()
	}
	a.mu.Unlock()
	return nil
}

// bond is Device.Bond over the link to path: Device1.Pair, with this backend's agent
// answering bluetoothd.
func (b *Backend) bond(ctx context.Context, l *link, permanent bool) error {
	if !permanent {
		return fmt.Errorf("bluez: bond %s: %w: bluetoothd stores the keys of every pairing while the adapter is Pairable (permanent=false)", l.addr, gogatt.ErrUnsupported)
	}
	b.mu.Lock()
	a, stopCtx := b.agent, b.stopCtx
	b.mu.Unlock()
	if a == nil {
		return gogatt.ErrNotStarted
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(stopCtx, cancel)()
	p, end, ok := a.beginPairing(ctx, l.path)
	if !ok {
		return fmt.Errorf("bluez: bond %s: %w: a Bond of this device is in progress", l.addr, gogatt.ErrBusy)
	}
	defer end()
	err := l.conn.Object(bluezService, l.path).CallWithContext(ctx, ifaceDevice+".Pair", 0).Err
	var de dbus.Error
	if err != nil && errors.As(err, &de) && de.Name == "org.bluez.Error.AlreadyExists" {
		return nil // bonded already: bluetoothd encrypts with the stored keys
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		// The call was abandoned, the pairing is not: cancel it (doc/device-api.txt CancelPairing).
		cctx, ccancel := context.WithTimeout(context.Background(), b.cfg.CallTimeout)
		if cerr := l.conn.Object(bluezService, l.path).CallWithContext(cctx, ifaceDevice+".CancelPairing", 0).Err; cerr != nil {
			b.log.Debug("CancelPairing", "device", l.addr.String(), "err", cerr)
		}
		ccancel()
		// The context's end comes first, even when the link drops meanwhile: a peer whose
		// pairing is cancelled may end the link (docs/bluez-dbus.md §Pairing).
		if stopCtx.Err() != nil {
			return fmt.Errorf("bluez: bond: %w", gogatt.ErrNotStarted)
		}
		return fmt.Errorf("bluez: %w (pairing cancelled: Device1.CancelPairing)", gattkit.CtxErr(ctx, "bond"))
	}
	a.mu.Lock()
	cbErr := p.cbErr
	a.mu.Unlock()
	err = l.callErr(ctx, "bond", 0, err)
	if cbErr != nil {
		return fmt.Errorf("%w (pairing callback: %w)", err, cbErr)
	}
	return err
}
