package bluez

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// link is one Device1 connection (gattkit.Link).
type link struct {
	b     *Backend
	conn  *dbus.Conn
	addr  bt.Address
	path  dbus.ObjectPath
	sink  gattkit.Sink
	unsub func()

	mu        sync.Mutex
	resolved  chan struct{} // closed at ServicesResolved=true (nil once closed)
	closing   bool
	err       error
	done      chan struct{}
	tree      *tree                             // nil until discovered
	wanted    map[uint16]bool                   // value handles whose Value changes are notifications
	charPaths map[dbus.ObjectPath]uint16        // characteristic path → value handle, for signals
	acquired  map[uint16]*acquired              // AcquireNotify sockets by value handle
	released  map[dbus.ObjectPath]chan struct{} // closed at NotifyAcquired=false
	readers   sync.WaitGroup

	closeOnce sync.Once
	eattOnce  sync.Once // the EATT check of the first subscription (warnEATT)
}

// tree is the attribute tree of a connection with the objects behind its handles.
type tree struct {
	services []gogatt.Service
	objects  map[uint16]dbus.ObjectPath // value handles and descriptor handles
	chars    map[uint16]dbus.ObjectPath // value handle → characteristic
	mtu      int
}

var _ gattkit.Link = (*link)(nil)

// dial makes one link (gattkit.Dialer): Device1.Connect, then ServicesResolved.
func (b *Backend) dial(ctx context.Context, a bt.Address, opts gogatt.ConnectOptions, sink gattkit.Sink) (gattkit.Link, error) {
	conn, adapter, stopCtx, err := b.begin()
	if err != nil {
		return nil, err
	}
	caller := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(stopCtx, cancel)()
	ended := func(err error) error {
		if stopCtx.Err() != nil && caller.Err() == nil {
			return fmt.Errorf("bluez: connect %s: backend stopped: %w", a, gogatt.ErrNotStarted)
		}
		if caller.Err() != nil {
			return fmt.Errorf("%w: %w", gattkit.CtxErr(caller, "bluez: connect "+a.String()), err)
		}
		return err
	}
	l := &link{b: b, conn: conn, addr: a, path: devicePath(adapter, a), sink: sink,
		resolved: make(chan struct{}), done: make(chan struct{}), wanted: map[uint16]bool{},
		charPaths: map[dbus.ObjectPath]uint16{}, acquired: map[uint16]*acquired{}, released: map[dbus.ObjectPath]chan struct{}{}}
	l.unsub = b.listen(l.signal)
	fail := func(err error) (gattkit.Link, error) {
		l.unsub()
		return nil, ended(err)
	}
	if err := b.ensureDevice(ctx, conn, adapter, l.path); err != nil {
		return fail(fmt.Errorf("bluez: connect %s: %w", a, err))
	}
	dev := conn.Object(bluezService, l.path)
	b.log.Debug("Device1.Connect", "device", a.String())
	if err := dev.CallWithContext(ctx, ifaceDevice+".Connect", 0).Err; err != nil {
		l.cancelConnect(dev)
		return fail(mapError("connect "+a.String(), 0, err))
	}
	// ServicesResolved may have been set before the signal match saw it: ask once.
	if v, err := dev.GetProperty(ifaceDevice + ".ServicesResolved"); err == nil {
		if on, _ := v.Value().(bool); on {
			l.setResolved()
		}
	}
	l.mu.Lock()
	res := l.resolved
	l.mu.Unlock()
	if res != nil {
		select {
		case <-res:
		case <-l.done:
			return fail(fmt.Errorf("bluez: connect %s: %w", a, l.Err()))
		case <-ctx.Done():
			l.cancelConnect(dev)
			return fail(fmt.Errorf("bluez: connect %s: waiting for ServicesResolved", a))
		}
	}
	select {
	case <-l.done:
		return fail(fmt.Errorf("bluez: connect %s: %w", a, l.Err()))
	default:
	}
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		l.Close()
		return nil, gogatt.ErrNotStarted
	}
	b.links[l] = struct{}{}
	b.mu.Unlock()
	return l, nil
}

// cancelConnect asks bluetoothd to drop a connection attempt that is abandoned (Device1.Disconnect
// also cancels a pending Connect, doc/device-api.txt).
func (l *link) cancelConnect(dev dbus.BusObject) {
	ctx, cancel := context.WithTimeout(context.Background(), l.b.cfg.CallTimeout)
	defer cancel()
	dev.CallWithContext(ctx, ifaceDevice+".Disconnect", 0)
}

// ensureDevice makes sure bluetoothd has a Device1 object at path, discovering until it appears
// (Device1.Connect needs one).
func (b *Backend) ensureDevice(ctx context.Context, conn *dbus.Conn, adapter, path dbus.ObjectPath) error {
	seen := make(chan struct{})
	var once sync.Once
	unlisten := b.listen(func(s *dbus.Signal) {
		if s.Name != ifaceObjManager+".InterfacesAdded" || len(s.Body) < 1 {
			return
		}
		if p, _ := s.Body[0].(dbus.ObjectPath); p == path {
			once.Do(func() { close(seen) })
		}
	})
	defer unlisten()
	if _, err := conn.Object(bluezService, path).GetProperty(ifaceDevice + ".Address"); err == nil {
		return nil
	}
	release, err := b.discover(ctx, conn, adapter)
	if err != nil {
		return err
	}
	defer release()
	// It may have appeared between the first look and the signal match.
	if _, err := conn.Object(bluezService, path).GetProperty(ifaceDevice + ".Address"); err == nil {
		return nil
	}
	select {
	case <-seen:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("device not found by discovery: %w", ctx.Err())
	}
}

func (l *link) setResolved() {
	l.mu.Lock()
	if l.resolved != nil {
		close(l.resolved)
		l.resolved = nil
	}
	l.mu.Unlock()
}

// lost ends the link (once) with why.
func (l *link) lost(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	l.err = &gogatt.DisconnectError{Address: l.addr.String(), Reason: reason, Local: l.closing, Err: gogatt.ErrNotConnected}
	close(l.done)
}

// signal handles the signals of the device and its GATT objects, on the dispatcher.
func (l *link) signal(s *dbus.Signal) {
	p := string(s.Path)
	switch s.Name {
	case ifaceProps + ".PropertiesChanged":
		if p != string(l.path) && !strings.HasPrefix(p, string(l.path)+"/") {
			return
		}
		var iface string
		var changed map[string]dbus.Variant
		if len(s.Body) < 2 || dbus.Store(s.Body[:2], &iface, &changed) != nil {
			return
		}
		switch iface {
		case ifaceDevice:
			if v, ok := changed["ServicesResolved"]; ok {
				if on, _ := v.Value().(bool); on {
					l.setResolved()
				}
			}
			if v, ok := changed["Connected"]; ok {
				if on, _ := v.Value().(bool); !on {
					l.lost(l.reason())
				}
			}
		case ifaceChar:
			if v, ok := changed["NotifyAcquired"]; ok {
				if on, _ := v.Value().(bool); !on {
					l.mu.Lock()
					if ch := l.released[s.Path]; ch != nil {
						close(ch)
						delete(l.released, s.Path)
					}
					l.mu.Unlock()
				}
			}
			v, ok := changed["Value"]
			if !ok {
				return
			}
			val, _ := v.Value().([]byte)
			l.mu.Lock()
			h, known := l.charPaths[s.Path]
			if !known {
				h, known = valueHandleOf(s.Path)
			}
			want := known && l.wanted[h] && l.err == nil
			l.mu.Unlock()
			if want {
				l.sink(h, val)
			}
		}
	case ifaceObjManager + ".InterfacesRemoved":
		var path dbus.ObjectPath
		var ifs []string
		if dbus.Store(s.Body, &path, &ifs) != nil || path != l.path {
			return
		}
		if slices.Contains(ifs, ifaceDevice) {
			l.lost("device removed by bluetoothd")
		}
	}
}

func (l *link) reason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return "disconnected by the application"
	}
	return "connection lost (Device1.Connected became false)"
}

// valueHandleOf derives a characteristic's value handle from its object name: bluetoothd names
// it char%04x after the declaration handle (src/gatt-client.c, BlueZ 5.66), and the value
// follows the declaration (Core v5.3 Vol 3 Part G §3.3).
func valueHandleOf(p dbus.ObjectPath) (uint16, bool) {
	h, ok := handleOf(p, "char")
	return h + 1, ok
}

// handleOf parses the handle in the last element of p, named prefix%04x.
func handleOf(p dbus.ObjectPath, prefix string) (uint16, bool) {
	s := string(p)
	last := s[strings.LastIndexByte(s, '/')+1:]
	if !strings.HasPrefix(last, prefix) {
		return 0, false
	}
	v, err := strconv.ParseUint(last[len(prefix):], 16, 16)
	return uint16(v), err == nil
}

func (l *link) Done() <-chan struct{} { return l.done }

func (l *link) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// begin fails when the link is gone or ctx has ended.
func (l *link) begin(ctx context.Context, op string) error {
	if err := gattkit.CtxErr(ctx, op); err != nil {
		return err
	}
	if err := l.Err(); err != nil {
		return fmt.Errorf("bluez: %s: %w", op, err)
	}
	return nil
}

// callErr is the error of a failed call: the link's loss when that explains it, ctx's when it
// ended, else the mapped D-Bus error.
func (l *link) callErr(ctx context.Context, op string, handle uint16, err error) error {
	if lerr := l.Err(); lerr != nil {
		return fmt.Errorf("bluez: %s: %w", op, lerr)
	}
	if cerr := gattkit.CtxErr(ctx, op); cerr != nil {
		return fmt.Errorf("%w: %w", cerr, mapError(op, handle, err))
	}
	return mapError(op, handle, err)
}

// Discover builds the tree from bluetoothd's objects under the device (GetManagedObjects):
// primary services, characteristics (value handle = declaration handle + 1) and descriptors.
// bluetoothd does not export service end handles: EndHandle is the service's last attribute.
func (l *link) Discover(ctx context.Context) ([]gogatt.Service, error) {
	t, err := l.discover(ctx)
	if err != nil {
		return nil, err
	}
	return t.services, nil
}

func (l *link) discover(ctx context.Context) (*tree, error) {
	if err := l.begin(ctx, "discover"); err != nil {
		return nil, err
	}
	l.mu.Lock()
	t := l.tree
	l.mu.Unlock()
	if t != nil {
		return t, nil
	}
	objs, err := managedObjects(ctx, l.conn)
	if err != nil {
		return nil, l.callErr(ctx, "discover", 0, err)
	}
	t = &tree{objects: map[uint16]dbus.ObjectPath{}, chars: map[uint16]dbus.ObjectPath{}}
	prefix := string(l.path) + "/"
	type svc struct {
		s     gogatt.Service
		chars map[dbus.ObjectPath]*gogatt.Characteristic
	}
	svcs := map[dbus.ObjectPath]*svc{}
	uuidOf := func(props map[string]dbus.Variant) gogatt.UUID {
		s, _ := props["UUID"].Value().(string)
		u, _ := bt.ParseUUID(s)
		return u
	}
	for p, ifs := range objs {
		if props, ok := ifs[ifaceService]; ok && strings.HasPrefix(string(p), prefix) {
			if primary, _ := props["Primary"].Value().(bool); !primary {
				continue
			}
			h, ok := handleOf(p, "service")
			if !ok {
				continue
			}
			svcs[p] = &svc{s: gogatt.Service{UUID: uuidOf(props), Handle: h, EndHandle: h}, chars: map[dbus.ObjectPath]*gogatt.Characteristic{}}
		}
	}
	for p, ifs := range objs {
		props, ok := ifs[ifaceChar]
		if !ok {
			continue
		}
		sp, _ := props["Service"].Value().(dbus.ObjectPath)
		s := svcs[sp]
		h, ok := handleOf(p, "char")
		if s == nil || !ok {
			continue
		}
		flags, _ := props["Flags"].Value().([]string)
		c := &gogatt.Characteristic{UUID: uuidOf(props), Handle: h, ValueHandle: h + 1, EndHandle: h + 1, Properties: properties(flags)}
		s.chars[p] = c
		t.objects[c.ValueHandle] = p
		t.chars[c.ValueHandle] = p
		if m, ok := props["MTU"].Value().(uint16); ok && t.mtu == 0 {
			t.mtu = int(m)
		}
	}
	for p, ifs := range objs {
		props, ok := ifs[ifaceDesc]
		if !ok {
			continue
		}
		cp, _ := props["Characteristic"].Value().(dbus.ObjectPath)
		h, ok := handleOf(p, "desc")
		if !ok {
			continue
		}
		for _, s := range svcs {
			if c := s.chars[cp]; c != nil {
				c.Descriptors = append(c.Descriptors, gogatt.Descriptor{UUID: uuidOf(props), Handle: h})
				c.EndHandle = max(c.EndHandle, h)
				t.objects[h] = p
			}
		}
	}
	for _, s := range svcs {
		for _, c := range s.chars {
			slices.SortFunc(c.Descriptors, func(x, y gogatt.Descriptor) int { return int(x.Handle) - int(y.Handle) })
			s.s.Characteristics = append(s.s.Characteristics, *c)
			s.s.EndHandle = max(s.s.EndHandle, c.EndHandle)
		}
		slices.SortFunc(s.s.Characteristics, func(x, y gogatt.Characteristic) int { return int(x.Handle) - int(y.Handle) })
		t.services = append(t.services, s.s)
	}
	slices.SortFunc(t.services, func(x, y gogatt.Service) int { return int(x.Handle) - int(y.Handle) })
	l.mu.Lock()
	if l.tree == nil {
		l.tree = t
		for h, p := range t.chars {
			l.charPaths[p] = h
		}
	}
	t = l.tree
	l.mu.Unlock()
	return t, nil
}

// properties turns GattCharacteristic1.Flags (doc/gatt-api.txt) into property bits.
func properties(flags []string) gatt.Properties {
	var p gatt.Properties
	for _, f := range flags {
		switch f {
		case "broadcast":
			p |= gatt.PropBroadcast
		case "read":
			p |= gatt.PropRead
		case "write-without-response":
			p |= gatt.PropWriteWithoutResponse
		case "write":
			p |= gatt.PropWrite
		case "notify":
			p |= gatt.PropNotify
		case "indicate":
			p |= gatt.PropIndicate
		case "authenticated-signed-writes":
			p |= gatt.PropAuthenticatedSignedWrites
		case "extended-properties", "reliable-write", "writable-auxiliaries":
			p |= gatt.PropExtendedProperties
		}
	}
	return p
}

// object returns the object behind handle: a characteristic (by value handle) or a descriptor.
// Other attributes (declarations) are not exported by bluetoothd.
func (l *link) object(ctx context.Context, op string, handle uint16) (dbus.BusObject, error) {
	t, err := l.discover(ctx)
	if err != nil {
		return nil, err
	}
	p, ok := t.objects[handle]
	if !ok {
		return nil, fmt.Errorf("bluez: %s handle 0x%04x: %w: bluetoothd exports characteristic values and descriptors only", op, handle, gogatt.ErrNotFound)
	}
	return l.conn.Object(bluezService, p), nil
}

// Read is ReadValue. bluetoothd always reads the whole value (Read then Read Blob), so long
// makes no difference.
func (l *link) Read(ctx context.Context, handle uint16, long bool) ([]byte, error) {
	o, err := l.object(ctx, "read", handle)
	if err != nil {
		return nil, err
	}
	iface := ifaceChar
	if !strings.Contains(string(o.Path()[strings.LastIndexByte(string(o.Path()), '/'):]), "char") {
		iface = ifaceDesc
	}
	var v []byte
	if err := o.CallWithContext(ctx, iface+".ReadValue", 0, map[string]dbus.Variant{}).Store(&v); err != nil {
		return nil, l.callErr(ctx, "read", handle, err)
	}
	return v, nil
}

// Write is WriteValue with type "request" or "command" (doc/gatt-api.txt). A long write is
// type "request" too: bluetoothd uses Prepare/Execute Write when the value does not fit in one
// Write Request, and a single Write Request otherwise.
func (l *link) Write(ctx context.Context, handle uint16, value []byte, mode gattkit.WriteMode) error {
	op := "write"
	if mode == gattkit.WriteCommand {
		op = "write command"
	}
	o, err := l.object(ctx, op, handle)
	if err != nil {
		return err
	}
	iface := ifaceChar
	if !strings.Contains(string(o.Path()[strings.LastIndexByte(string(o.Path()), '/'):]), "char") {
		iface = ifaceDesc
	}
	typ := "request"
	if mode == gattkit.WriteCommand {
		typ = "command"
	}
	opts := map[string]dbus.Variant{"type": dbus.MakeVariant(typ)}
	if err := o.CallWithContext(ctx, iface+".WriteValue", 0, value, opts).Err; err != nil {
		return l.callErr(ctx, op, handle, err)
	}
	return nil
}

// Configure is AcquireNotify or StartNotify as Config.Notify says (NotifyOn, IndicateOn:
// bluetoothd picks notifications when the characteristic has both), or closing the socket or
// StopNotify. StopNotify without a session of this client ("No
// notify session started") succeeds: there is nothing of this client's to turn off, and
// bluetoothd does not let a client write a CCCD.
func (l *link) Configure(ctx context.Context, ch gogatt.Characteristic, n gattkit.Notify) error {
	op := n.Op()
	if err := l.begin(ctx, op); err != nil {
		return err
	}
	t, err := l.discover(ctx)
	if err != nil {
		return err
	}
	p, ok := t.chars[ch.ValueHandle]
	if !ok {
		return fmt.Errorf("bluez: %s handle 0x%04x: %w", op, ch.ValueHandle, gogatt.ErrNotFound)
	}
	if n != gattkit.NotifyOff {
		l.warnEATT(ctx, t)
	}
	if n == gattkit.IndicateOn && ch.Properties&gogatt.PropNotify != 0 {
		// bluetoothd chooses notifications whenever the characteristic allows them
		// (src/gatt-client.c, BlueZ 5.66): asking for indications cannot be honoured.
		return fmt.Errorf("bluez: %s handle 0x%04x: indications of a characteristic that also notifies: bluetoothd always enables notifications: %w", op, ch.ValueHandle, gogatt.ErrUnsupported)
	}
	o := l.conn.Object(bluezService, p)
	if n == gattkit.NotifyOff {
		if done, err := l.release(ctx, ch.ValueHandle, p); done {
			return err
		}
		l.mu.Lock()
		delete(l.wanted, ch.ValueHandle)
		l.mu.Unlock()
		err := o.CallWithContext(ctx, ifaceChar+".StopNotify", 0).Err
		var de dbus.Error
		if err != nil && errors.As(err, &de) && de.Name == "org.bluez.Error.Failed" && len(de.Body) > 0 && de.Body[0] == "No notify session started" {
			return nil
		}
		if err != nil {
			return l.callErr(ctx, op, ch.ValueHandle, err)
		}
		return nil
	}
	l.mu.Lock()
	started := l.wanted[ch.ValueHandle] // a StartNotify session already (AcquireNotify was refused)
	l.mu.Unlock()
	if mode := l.b.cfg.Notify; mode != NotifyStartNotify && !started {
		if done, err := l.acquire(ctx, ch.ValueHandle, o, mode == NotifyAcquire); done {
			return err
		}
	}
	l.mu.Lock()
	was := l.wanted[ch.ValueHandle]
	l.wanted[ch.ValueHandle] = true // values may follow the CCCD write before the reply
	l.mu.Unlock()
	if err := o.CallWithContext(ctx, ifaceChar+".StartNotify", 0).Err; err != nil {
		if !was {
			l.mu.Lock()
			delete(l.wanted, ch.ValueHandle)
			l.mu.Unlock()
		}
		return l.callErr(ctx, op, ch.ValueHandle, err)
	}
	return nil
}

// Bond pairs and bonds with Device1.Pair, with the backend's agent (agent.go).
func (l *link) Bond(ctx context.Context, permanent bool) error {
	if err := l.begin(ctx, "bond"); err != nil {
		return err
	}
	return l.b.bond(ctx, l, permanent)
}

// RSSI is not available for a connection over D-Bus (Device1.RSSI is an advertising value).
func (l *link) RSSI(ctx context.Context) (int, error) {
	return 0, fmt.Errorf("bluez: RSSI of a connection: %w (Device1.RSSI is set by discovery only)", gogatt.ErrUnsupported)
}

// ExchangeMTU returns the MTU bluetoothd exchanged at connection time (GattCharacteristic1.MTU)
// when it is at most mtu; ErrUnsupported otherwise, since it cannot be exchanged again.
func (l *link) ExchangeMTU(ctx context.Context, mtu int) (int, error) {
	t, err := l.discover(ctx)
	if err != nil {
		return 0, err
	}
	if t.mtu == 0 {
		return 0, fmt.Errorf("bluez: exchange MTU: %w: no characteristic exports an MTU", gogatt.ErrUnsupported)
	}
	if t.mtu > mtu {
		return 0, fmt.Errorf("bluez: exchange MTU %d: %w: bluetoothd already exchanged ATT_MTU %d", mtu, gogatt.ErrUnsupported, t.mtu)
	}
	return t.mtu, nil
}

// Close is Device1.Disconnect; it returns once bluetoothd reports the device disconnected (or
// the call fails, e.g. because the bus is gone).
func (l *link) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closing = true
		gone := l.err != nil
		l.mu.Unlock()
		if !gone {
			ctx, cancel := context.WithTimeout(context.Background(), l.b.cfg.CallTimeout)
			err := l.conn.Object(bluezService, l.path).CallWithContext(ctx, ifaceDevice+".Disconnect", 0).Err
			if err == nil {
				select {
				case <-l.done:
				case <-ctx.Done():
				}
			}
			cancel()
			l.lost("disconnected by the application")
		}
		l.mu.Lock()
		for _, a := range l.acquired {
			a.f.Close()
		}
		clear(l.acquired)
		l.mu.Unlock()
		l.readers.Wait()
		l.unsub()
		l.b.mu.Lock()
		delete(l.b.links, l)
		l.b.mu.Unlock()
	})
	return nil
}

// acquireCall is the AcquireNotify call, abandoned when ctx ends. bluetoothd still completes
// the call then, and its reply carries a socket that keeps the notifications acquired
// (NotifyAcquired; AcquireNotify and StartNotify refused) until it is closed: that socket is
// closed when it comes (or the bus closes; Stop waits for it).
func (l *link) acquireCall(ctx context.Context, o dbus.BusObject) *dbus.Call {
	call := o.Go(ifaceChar+".AcquireNotify", 0, make(chan *dbus.Call, 1), map[string]dbus.Variant{})
	select {
	case c := <-call.Done:
		return c
	case <-ctx.Done():
	}
	b := l.b
	b.mu.Lock()
	tracked := !b.stopped
	if tracked {
		b.wg.Add(1)
	}
	b.mu.Unlock()
	go func() {
		if tracked {
			defer b.wg.Done()
		}
		c := <-call.Done
		var fd dbus.UnixFD
		var mtu uint16
		if c.Err == nil && c.Store(&fd, &mtu) == nil {
			os.NewFile(uintptr(fd), "bluez-notify").Close()
		}
	}()
	return &dbus.Call{Err: ctx.Err()}
}

// acquired is a socket of AcquireNotify and its reader.
type acquired struct {
	f    *os.File
	done chan struct{}
}

// acquire subscribes through AcquireNotify; done is false when bluetoothd refuses it and strict
// is false, so that the caller falls back to StartNotify. The refusals are those of
// characteristic_acquire_notify (src/gatt-client.c, BlueZ 5.66): NotSupported without the notify
// property, NotPermitted while a socket is out ("Notify acquired"), InProgress while a client
// has a StartNotify session, Failed.
func (l *link) acquire(ctx context.Context, vh uint16, o dbus.BusObject, strict bool) (done bool, err error) {
	l.mu.Lock()
	_, have := l.acquired[vh]
	l.mu.Unlock()
	if have {
		return true, nil
	}
	var fd dbus.UnixFD
	var mtu uint16
	if err := l.acquireCall(ctx, o).Store(&fd, &mtu); err != nil {
		var de dbus.Error
		if !strict && errors.As(err, &de) && ctx.Err() == nil && l.Err() == nil && (de.Name == "org.bluez.Error.NotSupported" ||
			de.Name == "org.bluez.Error.NotPermitted" || de.Name == "org.bluez.Error.InProgress" || de.Name == "org.bluez.Error.Failed") {
			l.b.log.Debug("AcquireNotify refused; using StartNotify", "device", l.addr.String(), "handle", vh, "err", err)
			return false, nil
		}
		return true, l.callErr(ctx, "subscribe", vh, err)
	}
	// bluetoothd's socket is non-blocking: os.NewFile puts it in Go's poller, so reads wait.
	a := &acquired{f: os.NewFile(uintptr(fd), "bluez-notify"), done: make(chan struct{})}
	l.mu.Lock()
	if l.err != nil || l.closing {
		l.mu.Unlock()
		a.f.Close()
		return true, fmt.Errorf("bluez: subscribe: %w", gogatt.ErrNotConnected)
	}
	l.acquired[vh] = a
	l.readers.Add(1)
	l.mu.Unlock()
	go l.readAcquired(vh, a, max(int(mtu), 517))
	return true, nil
}

// readAcquired hands each packet (one value) to the sink, in order, until the socket closes.
func (l *link) readAcquired(vh uint16, a *acquired, size int) {
	defer l.readers.Done()
	defer close(a.done)
	buf := make([]byte, size)
	for {
		n, err := a.f.Read(buf)
		if err != nil {
			return
		}
		l.sink(vh, buf[:n])
	}
}

// release ends an AcquireNotify subscription: it closes the socket and waits until bluetoothd
// reports NotifyAcquired false. done is false when vh has no socket.
func (l *link) release(ctx context.Context, vh uint16, p dbus.ObjectPath) (done bool, err error) {
	l.mu.Lock()
	a := l.acquired[vh]
	if a == nil {
		l.mu.Unlock()
		return false, nil
	}
	delete(l.acquired, vh)
	ch := make(chan struct{})
	l.released[p] = ch
	l.mu.Unlock()
	a.f.Close()
	<-a.done
	select {
	case <-ch:
		return true, nil
	case <-l.done:
		return true, nil
	case <-ctx.Done():
		l.mu.Lock()
		delete(l.released, p)
		l.mu.Unlock()
		return true, gattkit.CtxErr(ctx, "unsubscribe")
	}
}

// warnEATT says once per link, on the log at warning level, when the link can carry Enhanced
// ATT: the peer's Server Supported Features (0x2B3A) has bit 0 (EATT supported) and the Client
// Supported Features bluetoothd wrote to it (0x2B29) bit 1 (EATT) (Core v5.3 Vol 3 Part G §7.2,
// §7.4). bluetoothd then receives notifications and indications on several bearers, which can
// overtake each other before it hands them over, so values may reach the handler out of the
// order the peer sent them (measured in the real-kernel tier: 400–670 of 1,000 in a fast burst;
// docs/bluez-dbus.md). gogatt keeps the order in which bluetoothd delivers; it cannot restore
// the peer's. A peer without these characteristics, or whose values cannot be read, is not
// reported.
func (l *link) warnEATT(ctx context.Context, t *tree) {
	l.eattOnce.Do(func() {
		srv, err1 := gogatt.LookupCharacteristic(t.services, gogatt.UUID16(0x2B3A))
		cli, err2 := gogatt.LookupCharacteristic(t.services, gogatt.UUID16(0x2B29))
		if err1 != nil || err2 != nil {
			return
		}
		sv, err1 := l.Read(ctx, srv.ValueHandle, false)
		cv, err2 := l.Read(ctx, cli.ValueHandle, false)
		if err1 != nil || err2 != nil || len(sv) == 0 || sv[0]&0x01 == 0 || len(cv) == 0 || cv[0]&0x02 == 0 {
			return
		}
		l.b.log.Warn("bluez: the link uses Enhanced ATT: bluetoothd may hand notifications and indications over out of the order the peer sent them; for strict order set Channels = 1 in the [GATT] section of bluetoothd's main.conf",
			"address", l.addr.String())
	})
}
