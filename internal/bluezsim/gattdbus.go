package bluezsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt/adv"
	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/gatt"
	"github.com/gogatt/gogatt/sim"
)

// The GATT client side of the simulated bluetoothd: what BlueZ 5.66 exports over D-Bus for an LE
// device (doc/adapter-api.txt, doc/device-api.txt and doc/gatt-api.txt at tag 5.66). Discovery
// (Adapter1.StartDiscovery) reports the peripherals in range as Device1 objects;
// Device1.Connect opens a sim.Link to the peripheral, exchanges the MTU (517, as bluetoothd's
// default ExchangeMTU) and exports GattService1/GattCharacteristic1/GattDescriptor1 objects
// named like src/gatt-client.c (service%04x, char%04x with the declaration handle, desc%04x);
// ReadValue, WriteValue, StartNotify and StopNotify speak ATT to the peripheral's real GATT
// server over that link. The attribute tree itself is taken from the peripheral's database
// (sim.Peripheral.Services) rather than discovered with ATT requests.

const (
	ifaceGattService = "org.bluez.GattService1"
	ifaceGattChar    = "org.bluez.GattCharacteristic1"
	ifaceGattDesc    = "org.bluez.GattDescriptor1"

	errFailed         = "org.bluez.Error.Failed"
	errNotPermitted   = "org.bluez.Error.NotPermitted"
	errInProgress     = "org.bluez.Error.InProgress"
	errAlreadyConnect = "org.bluez.Error.AlreadyConnected"

	// discoveryTick is how often a running discovery reports the peripherals in range.
	discoveryTick = 20 * time.Millisecond
	// bluezMTU is the ATT_MTU bluetoothd asks for at connection time ([GATT] ExchangeMTU in
	// src/main.conf, BlueZ 5.66).
	bluezMTU = 517
)

// gattState is the GATT part of the bus, guarded by bluezBus.mu.
type gattState struct {
	discoverers map[string]bool // bus names with a discovery session
	discStop    chan struct{}   // closes the discovery loop
	discDone    chan struct{}
	conns       map[bt.Address]*gconn
	pending     map[bt.Address]chan struct{} // connection attempts; closed to cancel one
	closing     chan struct{}                // closed by closeGatt
	closed      bool
	monitorApps []*monitorApp // AdvertisementMonitorManager1 registrations (advmon.go)
}

// advInfo is what discovery learnt of a device.
type advInfo struct {
	rssi int16
	data adv.Data
}

// gconn is one D-Bus client connection to a peripheral.
type gconn struct {
	b    *bluezBus
	addr bt.Address
	path dbus.ObjectPath
	link *sim.Link
	mtu  int

	reqMu sync.Mutex  // one ATT request at a time (Core v5.3 Vol 3 Part F §3.3.2)
	rsp   chan []byte // responses, from the reader
	done  chan struct{}

	// guarded by b.mu
	objs     map[dbus.ObjectPath]*gobj
	byValue  map[uint16]*gobj
	resolved bool
}

// gobj is one exported GATT object.
type gobj struct {
	iface     string
	path      dbus.ObjectPath
	parent    dbus.ObjectPath
	uuid      bt.UUID
	handle    uint16 // service: first; characteristic: value handle; descriptor: its handle
	cccd      uint16 // characteristic's CCCD, 0 if none
	props     gatt.Properties
	primary   bool
	value     []byte
	notifying bool
	acquired  *os.File // the service's end of an AcquireNotify socket pair
}

func (g *gattState) init() {
	if g.conns == nil {
		g.conns = make(map[bt.Address]*gconn)
		g.discoverers = make(map[string]bool)
		g.pending = make(map[bt.Address]chan struct{})
		g.closing = make(chan struct{})
	}
}

func sender(c *call) string {
	s, _ := c.msg.Headers[dbus.FieldSender].Value().(string)
	return s
}

func bluezErr(name, text string) error { return dbus.NewError(name, []any{text}) }

// startDiscovery is Adapter1.StartDiscovery.
func (b *bluezBus) startDiscovery(c *call) ([]any, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gatt.init()
	if !b.powered {
		return nil, bluezErr(errNotReady, "Resource Not Ready")
	}
	s := sender(c)
	if b.gatt.discoverers[s] {
		return nil, bluezErr(errInProgress, "Operation already in progress")
	}
	b.gatt.discoverers[s] = true
	b.startLoopLocked()
	if len(b.gatt.discoverers) == 1 {
		b.emitAdapter("Discovering", true)
	}
	return nil, nil
}

// startLoopLocked starts the loop that reports advertisements (discovery, monitors) unless it
// runs.
func (b *bluezBus) startLoopLocked() {
	if b.gatt.discStop == nil && !b.gatt.closed {
		b.gatt.discStop, b.gatt.discDone = make(chan struct{}), make(chan struct{})
		go b.discover(b.gatt.discStop, b.gatt.discDone)
	}
}

// stopDiscovery is Adapter1.StopDiscovery.
func (b *bluezBus) stopDiscovery(c *call) ([]any, error) {
	b.mu.Lock()
	b.gatt.init()
	s := sender(c)
	if !b.gatt.discoverers[s] {
		b.mu.Unlock()
		return nil, bluezErr(errFailed, "No discovery started")
	}
	delete(b.gatt.discoverers, s)
	last := len(b.gatt.discoverers) == 0
	done := b.stopLoopLocked()
	b.mu.Unlock()
	if done != nil {
		<-done
	}
	if last {
		b.emitAdapter("Discovering", false)
	}
	return nil, nil
}

// stopLoopLocked ends the loop when nobody discovers or monitors any more.
func (b *bluezBus) stopLoopLocked() chan struct{} {
	if len(b.gatt.discoverers) > 0 || len(b.gatt.monitorApps) > 0 || b.gatt.discStop == nil {
		return nil
	}
	close(b.gatt.discStop)
	done := b.gatt.discDone
	b.gatt.discStop, b.gatt.discDone = nil, nil
	return done
}

func (b *bluezBus) emitAdapter(name string, v any) {
	b.conn.Emit(b.adapter, ifaceProperties+".PropertiesChanged", ifaceAdapter,
		map[string]dbus.Variant{name: dbus.MakeVariant(v)}, []string{})
}

// discover reports, at its advertising interval, each peripheral in range and not connected: a new
// one with InterfacesAdded, a known one with PropertiesChanged of its RSSI (bluetoothd emits
// only properties that changed).
func (b *bluezBus) discover(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(discoveryTick)
	defer t.Stop()
	last := map[*sim.Peripheral]time.Time{}
	for {
		now := time.Now()
		for _, p := range b.e.peripherals() {
			if !p.InRange() || now.Sub(last[p]) < advInterval(p) {
				continue
			}
			last[p] = now
			b.mu.Lock()
			discovering, monitoring := len(b.gatt.discoverers) > 0, len(b.gatt.monitorApps) > 0
			b.mu.Unlock()
			if discovering {
				b.advertised(p, true)
			}
			if monitoring {
				b.monitored(p, discovering)
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// advertised merges one advertisement of p into its device, with the scan response when
// scanResp (an active scan asks for it).
func (b *bluezBus) advertised(p *sim.Peripheral, scanResp bool) {
	a := p.Address()
	rssi := int16(p.SampleRSSI())
	var data adv.Data
	data.Parse(adv.ConnectableUndirected, p.AdvertisingData())
	if sr := p.ScanResponseData(); len(sr) > 0 && scanResp {
		data.Parse(adv.ScanResponse, sr)
	}
	b.mu.Lock()
	if b.gatt.conns[a] != nil {
		b.mu.Unlock()
		return
	}
	d := b.devices[a]
	if d == nil {
		d = &simDevice{addr: a, random: p.AddressType() == bt.AddressRandom, name: data.LocalName,
			adv: &advInfo{rssi: rssi, data: data}}
		b.devices[a] = d
		props := b.deviceProps(d)
		b.mu.Unlock()
		b.conn.Emit("/", ifaceObjManager+".InterfacesAdded", devicePath(b.adapter, a),
			map[string]map[string]dbus.Variant{ifaceDevice: props})
		return
	}
	changed := map[string]dbus.Variant{}
	if d.adv == nil || d.adv.rssi != rssi {
		changed["RSSI"] = dbus.MakeVariant(rssi)
	}
	if d.name == "" && data.LocalName != "" {
		d.name = data.LocalName
		changed["Name"] = dbus.MakeVariant(d.name)
		changed["Alias"] = dbus.MakeVariant(d.name)
	}
	d.adv = &advInfo{rssi: rssi, data: data}
	b.mu.Unlock()
	if len(changed) > 0 {
		b.conn.Emit(devicePath(b.adapter, a), ifaceProperties+".PropertiesChanged", ifaceDevice, changed, []string{})
	}
}

// advProps adds what discovery learnt to a device's properties; caller holds b.mu.
func (b *bluezBus) advProps(d *simDevice, props map[string]dbus.Variant) {
	if gc := b.gatt.conns[d.addr]; gc != nil {
		props["ServicesResolved"] = dbus.MakeVariant(gc.resolved)
	}
	if d.adv == nil {
		return
	}
	if b.gatt.conns[d.addr] == nil {
		props["RSSI"] = dbus.MakeVariant(d.adv.rssi)
	}
	uuids := make([]string, 0, len(d.adv.data.ServiceUUIDs))
	for _, u := range d.adv.data.ServiceUUIDs {
		uuids = append(uuids, u.String())
	}
	props["UUIDs"] = dbus.MakeVariant(uuids)
	if m := d.adv.data.ManufacturerData; len(m) > 0 {
		mv := map[uint16]dbus.Variant{}
		for k, v := range m {
			mv[k] = dbus.MakeVariant(slices.Clone(v))
		}
		props["ManufacturerData"] = dbus.MakeVariant(mv)
	}
	if m := d.adv.data.ServiceData; len(m) > 0 {
		mv := map[string]dbus.Variant{}
		for k, v := range m {
			mv[k.String()] = dbus.MakeVariant(slices.Clone(v))
		}
		props["ServiceData"] = dbus.MakeVariant(mv)
	}
}

// deviceConnect is Device1.Connect for a.
func (b *bluezBus) deviceConnect(a bt.Address) methodFunc {
	return func(c *call) ([]any, error) {
		p := b.e.peripheral(a)
		b.mu.Lock()
		b.gatt.init()
		if b.gatt.conns[a] != nil {
			b.mu.Unlock()
			return nil, bluezErr(errAlreadyConnect, "Already Connected")
		}
		if b.gatt.pending[a] != nil {
			b.mu.Unlock()
			return nil, bluezErr(errInProgress, "In Progress")
		}
		cancel := make(chan struct{})
		b.gatt.pending[a] = cancel
		closing := b.gatt.closed
		b.mu.Unlock()
		defer func() {
			b.mu.Lock()
			if b.gatt.pending[a] == cancel {
				delete(b.gatt.pending, a)
			}
			b.mu.Unlock()
		}()
		// The controller connects at the peripheral's next connectable advertising event (Core
		// v5.3 Vol 6 Part B §4.5); while it is out of range or not connectable the attempt pends
		// until the LE connection timeout, or until Device1.Disconnect cancels it.
		deadline := time.Now().Add(b.e.leConnTimeout)
		for !closing && (p == nil || !p.InRange() || !p.Connectable()) {
			wait := time.Until(deadline)
			if wait <= 0 {
				return nil, bluezErr(errFailed, "le-connection-abort-by-local")
			}
			every := discoveryTick
			if p != nil {
				every = advInterval(p)
			}
			t := time.NewTimer(min(wait, every))
			select {
			case <-t.C:
			case <-cancel:
				t.Stop()
				return nil, bluezErr(errFailed, "le-connection-abort-by-local")
			case <-b.gatt.closing:
				t.Stop()
				closing = true
			}
		}
		if closing {
			return nil, bluezErr(errFailed, "le-connection-abort-by-local")
		}
		link, err := p.Connect(b.e.ctrlAddr, bt.AddressPublic)
		if err != nil {
			return nil, bluezErr(errFailed, "le-connection-abort-by-local")
		}
		gc := &gconn{b: b, addr: a, path: devicePath(b.adapter, a), link: link, mtu: 23,
			rsp: make(chan []byte, 1), done: make(chan struct{})}
		b.e.wg.Add(1)
		go gc.read()
		b.mu.Lock()
		if b.gatt.closed || b.gatt.conns[a] != nil {
			b.mu.Unlock()
			link.Close()
			<-gc.done
			return nil, bluezErr(errFailed, "le-connection-abort-by-local")
		}
		b.gatt.conns[a] = gc
		paired := b.devices[a] != nil && b.devices[a].paired
		b.mu.Unlock()
		if paired {
			// bluetoothd connects to a paired LE device at medium security, which encrypts the
			// link with the stored keys (device_connect_le in src/device.c, BlueZ 5.66); a
			// peripheral that lost its half leaves the link unencrypted here.
			link.Encrypt()
		}
		b.setConnected(a, true)
		// bluetoothd exchanges the MTU itself once connected.
		if r, err := gc.request([]byte{0x02, bluezMTU & 0xff, bluezMTU >> 8}, 0x03); err == nil && len(r) >= 3 {
			gc.mtu = max(23, min(bluezMTU, int(binary.LittleEndian.Uint16(r[1:]))))
		}
		gc.export(p)
		return nil, nil
	}
}

// export publishes the attribute tree and sets ServicesResolved.
func (gc *gconn) export(p *sim.Peripheral) {
	var order []*gobj
	objs := map[dbus.ObjectPath]*gobj{}
	byValue := map[uint16]*gobj{}
	for _, s := range p.Services() {
		sp := gc.path + dbus.ObjectPath(fmt.Sprintf("/service%04x", s.Handle))
		so := &gobj{iface: ifaceGattService, path: sp, parent: gc.path, uuid: s.UUID, handle: s.Handle, primary: s.Primary}
		order = append(order, so)
		for _, ch := range s.Characteristics {
			cp := sp + dbus.ObjectPath(fmt.Sprintf("/char%04x", ch.Handle))
			co := &gobj{iface: ifaceGattChar, path: cp, parent: sp, uuid: ch.UUID, handle: ch.ValueHandle, cccd: ch.CCCDHandle, props: ch.Properties}
			order = append(order, co)
			byValue[ch.ValueHandle] = co
			for _, d := range ch.Descriptors {
				dp := cp + dbus.ObjectPath(fmt.Sprintf("/desc%04x", d.Handle))
				order = append(order, &gobj{iface: ifaceGattDesc, path: dp, parent: cp, uuid: d.UUID, handle: d.Handle})
			}
		}
	}
	for _, o := range order {
		objs[o.path] = o
	}
	b := gc.b
	b.mu.Lock()
	if b.gatt.conns[gc.addr] != gc {
		b.mu.Unlock()
		return
	}
	gc.objs, gc.byValue = objs, byValue
	b.mu.Unlock()
	for _, o := range order {
		b.mu.Lock()
		props := o.propsLocked(gc)
		b.mu.Unlock()
		b.conn.Emit("/", ifaceObjManager+".InterfacesAdded", o.path, map[string]map[string]dbus.Variant{o.iface: props})
	}
	b.mu.Lock()
	live := b.gatt.conns[gc.addr] == gc
	if live {
		gc.resolved = true
	}
	b.mu.Unlock()
	if live {
		b.conn.Emit(gc.path, ifaceProperties+".PropertiesChanged", ifaceDevice,
			map[string]dbus.Variant{"ServicesResolved": dbus.MakeVariant(true)}, []string{})
	}
}

// flagNames are the Flags of a GattCharacteristic1 (doc/gatt-api.txt).
func flagNames(p gatt.Properties) []string {
	var f []string
	for _, x := range []struct {
		bit  gatt.Properties
		name string
	}{{gatt.PropBroadcast, "broadcast"}, {gatt.PropRead, "read"}, {gatt.PropWriteWithoutResponse, "write-without-response"},
		{gatt.PropWrite, "write"}, {gatt.PropNotify, "notify"}, {gatt.PropIndicate, "indicate"},
		{gatt.PropAuthenticatedSignedWrites, "authenticated-signed-writes"}, {gatt.PropExtendedProperties, "extended-properties"}} {
		if p&x.bit != 0 {
			f = append(f, x.name)
		}
	}
	return f
}

// propsLocked returns o's properties; caller holds b.mu.
func (o *gobj) propsLocked(gc *gconn) map[string]dbus.Variant {
	val := o.value
	if val == nil {
		val = []byte{}
	}
	switch o.iface {
	case ifaceGattService:
		return map[string]dbus.Variant{"UUID": dbus.MakeVariant(o.uuid.String()), "Device": dbus.MakeVariant(o.parent),
			"Primary": dbus.MakeVariant(o.primary), "Includes": dbus.MakeVariant([]dbus.ObjectPath{})}
	case ifaceGattChar:
		props := map[string]dbus.Variant{"UUID": dbus.MakeVariant(o.uuid.String()), "Service": dbus.MakeVariant(o.parent),
			"Value": dbus.MakeVariant(slices.Clone(val)), "Notifying": dbus.MakeVariant(o.notifying),
			"Flags": dbus.MakeVariant(flagNames(o.props)), "MTU": dbus.MakeVariant(uint16(gc.mtu))}
		if o.props&(gatt.PropNotify|gatt.PropIndicate) != 0 {
			props["NotifyAcquired"] = dbus.MakeVariant(o.acquired != nil)
		}
		return props
	}
	return map[string]dbus.Variant{"UUID": dbus.MakeVariant(o.uuid.String()), "Characteristic": dbus.MakeVariant(o.parent),
		"Value": dbus.MakeVariant(slices.Clone(val))}
}

// read runs the link's receiving side: responses to the pending request, notifications and
// indications (as PropertiesChanged of Value, in arrival order), then the teardown.
func (gc *gconn) read() {
	defer gc.b.e.wg.Done()
	defer close(gc.done)
	for {
		pdu, err := gc.link.ReadPDU()
		if err != nil {
			break
		}
		if len(pdu) == 0 {
			continue
		}
		switch pdu[0] {
		case 0x1B, 0x1D: // Handle Value Notification / Indication
			if len(pdu) < 3 {
				continue
			}
			if pdu[0] == 0x1D {
				gc.link.WritePDU([]byte{0x1E})
			}
			gc.valueArrived(binary.LittleEndian.Uint16(pdu[1:]), pdu[3:])
		default:
			select {
			case gc.rsp <- pdu:
			default: // nobody waits (a request abandoned when the link went)
			}
		}
	}
	gc.teardown()
}

func (gc *gconn) valueArrived(h uint16, v []byte) {
	b := gc.b
	b.mu.Lock()
	o := gc.byValue[h]
	emit := o != nil && o.notifying
	var f *os.File
	if o != nil {
		o.value = slices.Clone(v)
		f = o.acquired
	}
	b.mu.Unlock()
	if f != nil {
		// One packet per value; a full socket drops it, as bluetoothd's non-blocking write does.
		if _, err := f.Write(v); err != nil {
			b.e.logf("AcquireNotify %s: value dropped: %v", o.path, err)
		}
		return
	}
	if emit {
		b.conn.Emit(o.path, ifaceProperties+".PropertiesChanged", ifaceGattChar,
			map[string]dbus.Variant{"Value": dbus.MakeVariant(slices.Clone(v))}, []string{})
	}
}

// teardown: the link is gone. Like bluetoothd: ServicesResolved and Connected become false,
// then the GATT objects are removed (InterfacesRemoved, children first).
func (gc *gconn) teardown() {
	b := gc.b
	b.mu.Lock()
	if b.gatt.conns[gc.addr] == gc {
		delete(b.gatt.conns, gc.addr)
	}
	objs := slices.Collect(maps.Values(gc.objs))
	for _, o := range objs {
		if o.acquired != nil {
			o.acquired.Close() // the client's end sees the hang-up
			o.acquired = nil
		}
	}
	gc.objs, gc.byValue = nil, nil
	resolved := gc.resolved
	gc.resolved = false
	b.mu.Unlock()
	if resolved {
		b.conn.Emit(gc.path, ifaceProperties+".PropertiesChanged", ifaceDevice,
			map[string]dbus.Variant{"ServicesResolved": dbus.MakeVariant(false)}, []string{})
	}
	b.setConnected(gc.addr, false)
	slices.SortFunc(objs, func(x, y *gobj) int { return -strings.Compare(string(x.path), string(y.path)) })
	for _, o := range objs {
		b.conn.Emit("/", ifaceObjManager+".InterfacesRemoved", o.path, []string{o.iface})
	}
}

// attError is an ATT Error Response.
type attError struct {
	op     byte
	handle uint16
	code   byte
}

func (e *attError) Error() string { return fmt.Sprintf("ATT error 0x%02x", e.code) }

var errLinkGone = errors.New("bluezsim: not connected")

// request sends one ATT request and returns its response (opcode want) or the Error Response.
func (gc *gconn) request(pdu []byte, want byte) ([]byte, error) {
	gc.reqMu.Lock()
	defer gc.reqMu.Unlock()
	if err := gc.link.WritePDU(pdu); err != nil {
		return nil, errLinkGone
	}
	for {
		select {
		case r := <-gc.rsp:
			if r[0] == 0x01 && len(r) >= 5 && r[1] == pdu[0] {
				return nil, &attError{op: pdu[0], handle: binary.LittleEndian.Uint16(r[2:]), code: r[4]}
			}
			if r[0] == want {
				return r, nil
			}
		case <-gc.done:
			return nil, errLinkGone
		}
	}
}

// dbusATTError is how bluetoothd reports an ATT error to a D-Bus caller (create_gatt_dbus_error
// in src/gatt-client.c, BlueZ 5.66): most codes survive only in the message text.
func dbusATTError(err error) error {
	var ae *attError
	if !errors.As(err, &ae) {
		return bluezErr(errFailed, "Not connected")
	}
	switch ae.code {
	case 0x02:
		return bluezErr(errNotPermitted, "Read not permitted")
	case 0x03:
		return bluezErr(errNotPermitted, "Write not permitted")
	case 0x05, 0x0c, 0x0f:
		return bluezErr(errNotPermitted, "Not paired")
	case 0x07:
		return bluezErr(errInvalidArgs, "Invalid offset")
	case 0x0d:
		return bluezErr(errInvalidArgs, "Invalid Length")
	}
	return bluezErr(errFailed, fmt.Sprintf("Operation failed with ATT error: 0x%02x", ae.code))
}

// readLong reads the whole value from offset, as bt_gatt_client_read_long_value does.
func (gc *gconn) readLong(h uint16, offset uint16) ([]byte, error) {
	var out []byte
	for {
		var r []byte
		var err error
		if offset == 0 {
			r, err = gc.request([]byte{0x0A, byte(h), byte(h >> 8)}, 0x0B)
		} else {
			r, err = gc.request([]byte{0x0C, byte(h), byte(h >> 8), byte(offset), byte(offset >> 8)}, 0x0D)
		}
		if err != nil {
			var ae *attError
			// A Read Blob past a value that exactly filled the last response ends the read.
			if offset > 0 && len(out) > 0 && errors.As(err, &ae) && ae.code == 0x07 {
				return out, nil
			}
			return nil, err
		}
		out = append(out, r[1:]...)
		if len(r)-1 < gc.mtu-1 || len(out) >= 512 {
			return out, nil
		}
		offset += uint16(len(r) - 1)
	}
}

// writeValue writes as the WriteValue type option says (src/gatt-client.c 5.66: command, request
// — a long write when it does not fit in one PDU — or reliable).
func (gc *gconn) writeValue(h uint16, v []byte, typ string, offset uint16) error {
	switch {
	case typ == "command":
		gc.reqMu.Lock()
		err := gc.link.WritePDU(append([]byte{0x52, byte(h), byte(h >> 8)}, v...))
		gc.reqMu.Unlock()
		if err != nil {
			return errLinkGone
		}
		return nil
	case typ != "reliable" && offset == 0 && len(v) <= gc.mtu-3:
		_, err := gc.request(append([]byte{0x12, byte(h), byte(h >> 8)}, v...), 0x13)
		return err
	}
	for off := 0; off < len(v) || off == 0; {
		n := min(len(v)-off, gc.mtu-5)
		o := int(offset) + off
		pdu := append([]byte{0x16, byte(h), byte(h >> 8), byte(o), byte(o >> 8)}, v[off:off+n]...)
		if _, err := gc.request(pdu, 0x17); err != nil {
			gc.request([]byte{0x18, 0x00}, 0x19) // cancel the queue
			return err
		}
		off += n
		if n == 0 {
			break
		}
	}
	_, err := gc.request([]byte{0x18, 0x01}, 0x19)
	return err
}

// options decodes a{sv} options of ReadValue/WriteValue.
func options(m map[string]dbus.Variant) (typ string, offset uint16) {
	if v, ok := m["type"]; ok {
		typ, _ = v.Value().(string)
	}
	if v, ok := m["offset"]; ok {
		offset, _ = v.Value().(uint16)
	}
	return typ, offset
}

// gattObject returns the D-Bus object of an exported GATT path.
func (b *bluezBus) gattObject(path dbus.ObjectPath) (dbus.ServerObject, bool) {
	b.mu.Lock()
	var gc *gconn
	var o *gobj
	for _, c := range b.gatt.conns {
		if x := c.objs[path]; x != nil {
			gc, o = c, x
			break
		}
	}
	b.mu.Unlock()
	if o == nil {
		return nil, false
	}
	obj := object{ifaceProperties: b.properties(path), ifaceIntrospect: introspectable(path)}
	switch o.iface {
	case ifaceGattService:
		obj[o.iface] = iface{}
	case ifaceGattChar:
		obj[o.iface] = iface{
			"ReadValue":     gc.readValue(o),
			"WriteValue":    gc.writeMethod(o),
			"StartNotify":   gc.startNotify(o),
			"StopNotify":    gc.stopNotify(o),
			"AcquireWrite":  func(*call) ([]any, error) { return nil, bluezErr(errNotSupported, "Operation is not supported") },
			"AcquireNotify": gc.acquireNotify(o),
		}
	default:
		obj[o.iface] = iface{"ReadValue": gc.readValue(o), "WriteValue": gc.writeMethod(o)}
	}
	return obj, true
}

func (gc *gconn) readValue(o *gobj) methodFunc {
	return func(c *call) ([]any, error) {
		var opts map[string]dbus.Variant
		if err := dbus.Store(c.msg.Body, &opts); err != nil {
			return nil, bluezErr(errInvalidArgs, "Invalid arguments in method call")
		}
		_, offset := options(opts)
		v, err := gc.readLong(o.handle, offset)
		if err != nil {
			return nil, dbusATTError(err)
		}
		gc.b.mu.Lock()
		o.value = slices.Clone(v)
		gc.b.mu.Unlock()
		return []any{v}, nil
	}
}

func (gc *gconn) writeMethod(o *gobj) methodFunc {
	return func(c *call) ([]any, error) {
		var v []byte
		var opts map[string]dbus.Variant
		if err := dbus.Store(c.msg.Body, &v, &opts); err != nil {
			return nil, bluezErr(errInvalidArgs, "Invalid arguments in method call")
		}
		if o.iface == ifaceGattDesc && o.uuid == gatt.UUIDCCCD {
			// bluetoothd owns the CCCDs (desc_write_value, src/gatt-client.c 5.66).
			return nil, bluezErr(errNotPermitted, "Write not permitted")
		}
		typ, offset := options(opts)
		if typ == "" {
			typ = "request"
			if o.iface == ifaceGattChar && o.props&gatt.PropWrite == 0 && o.props&gatt.PropWriteWithoutResponse != 0 {
				typ = "command"
			}
		}
		if typ != "command" && typ != "request" && typ != "reliable" {
			return nil, bluezErr(errInvalidArgs, "Invalid arguments in method call")
		}
		if err := gc.writeValue(o.handle, v, typ, offset); err != nil {
			return nil, dbusATTError(err)
		}
		return nil, nil
	}
}

// startNotify writes the CCCD: notifications when the characteristic supports them, else
// indications (bluetoothd always prefers notifications, src/shared/gatt-client.c 5.66).
func (gc *gconn) startNotify(o *gobj) methodFunc {
	return func(c *call) ([]any, error) {
		if o.props&(gatt.PropNotify|gatt.PropIndicate) == 0 || o.cccd == 0 {
			return nil, bluezErr(errNotSupported, "Operation is not supported")
		}
		b := gc.b
		b.mu.Lock()
		on, acquired := o.notifying, o.acquired != nil
		b.mu.Unlock()
		if acquired {
			return nil, bluezErr(errNotPermitted, "Notify acquired")
		}
		if on {
			return nil, nil
		}
		val := byte(0x01)
		if o.props&gatt.PropNotify == 0 {
			val = 0x02
		}
		if _, err := gc.request([]byte{0x12, byte(o.cccd), byte(o.cccd >> 8), val, 0}, 0x13); err != nil {
			return nil, dbusATTError(err)
		}
		b.mu.Lock()
		o.notifying = true
		b.mu.Unlock()
		b.conn.Emit(o.path, ifaceProperties+".PropertiesChanged", ifaceGattChar,
			map[string]dbus.Variant{"Notifying": dbus.MakeVariant(true)}, []string{})
		return nil, nil
	}
}

func (gc *gconn) stopNotify(o *gobj) methodFunc {
	return func(c *call) ([]any, error) {
		b := gc.b
		b.mu.Lock()
		on := o.notifying
		o.notifying = false
		b.mu.Unlock()
		if !on {
			return nil, bluezErr(errFailed, "No notify session started")
		}
		b.conn.Emit(o.path, ifaceProperties+".PropertiesChanged", ifaceGattChar,
			map[string]dbus.Variant{"Notifying": dbus.MakeVariant(false)}, []string{})
		if _, err := gc.request([]byte{0x12, byte(o.cccd), byte(o.cccd >> 8), 0, 0}, 0x13); err != nil {
			return nil, dbusATTError(err)
		}
		return nil, nil
	}
}

// deviceDisconnect is Device1.Disconnect: it returns once the link is down.
func (b *bluezBus) deviceDisconnect(a bt.Address) methodFunc {
	return func(*call) ([]any, error) {
		b.mu.Lock()
		b.gatt.init()
		gc := b.gatt.conns[a]
		cancel := b.gatt.pending[a]
		if cancel != nil {
			close(cancel) // the pending Connect fails
			delete(b.gatt.pending, a)
		}
		b.mu.Unlock()
		if gc == nil {
			if cancel != nil {
				return nil, nil
			}
			return nil, bluezErr(errNotConnected, "Not Connected")
		}
		gc.link.Close()
		<-gc.done
		return nil, nil
	}
}

const errNotConnected = "org.bluez.Error.NotConnected"

// gattObjects adds the exported GATT objects to GetManagedObjects; caller holds b.mu.
func (b *bluezBus) gattObjects(objs map[dbus.ObjectPath]map[string]map[string]dbus.Variant) {
	for _, gc := range b.gatt.conns {
		for p, o := range gc.objs {
			objs[p] = map[string]map[string]dbus.Variant{o.iface: o.propsLocked(gc)}
		}
	}
}

// closeGatt ends discovery and every GATT connection (Env.Close).
func (b *bluezBus) closeGatt() {
	b.mu.Lock()
	b.gatt.init()
	if !b.gatt.closed {
		close(b.gatt.closing)
	}
	b.gatt.closed = true
	clear(b.gatt.discoverers)
	b.gatt.monitorApps = nil
	done := b.stopLoopLocked()
	conns := slices.Collect(maps.Values(b.gatt.conns))
	b.mu.Unlock()
	if done != nil {
		<-done
	}
	for _, gc := range conns {
		gc.link.Close()
		<-gc.done
	}
}

// GATTConnected reports whether a D-Bus client holds a connection to a.
func (e *Env) GATTConnected(a bt.Address) bool {
	if e.bus == nil {
		return false
	}
	e.bus.mu.Lock()
	defer e.bus.mu.Unlock()
	return e.bus.gatt.conns[a] != nil
}

// BusAddress returns the D-Bus address of the private bus the simulated org.bluez is on.
func (e *Env) BusAddress() string {
	if e.bus == nil {
		return ""
	}
	return e.bus.address
}

// ConnectPending reports whether a Device1.Connect to a is waiting for the peripheral.
func (e *Env) ConnectPending(a bt.Address) bool {
	if e.bus == nil {
		return false
	}
	e.bus.mu.Lock()
	defer e.bus.mu.Unlock()
	return e.bus.gatt.pending[a] != nil
}

// acquireNotify is GattCharacteristic1.AcquireNotify (doc/gatt-api.txt, BlueZ 5.66): it enables
// notifications and returns one end of a SOCK_SEQPACKET socket pair, both ends
// non-blocking, and the MTU; each value then arrives as one packet on it instead of as
// PropertiesChanged. The client closing its end disables them again.
func (gc *gconn) acquireNotify(o *gobj) methodFunc {
	return func(c *call) ([]any, error) {
		b := gc.b
		b.mu.Lock()
		busy, acquired := o.notifying, o.acquired != nil
		b.mu.Unlock()
		// The checks of characteristic_acquire_notify (src/gatt-client.c, BlueZ 5.66), in its
		// order: notifications only, not indications.
		if acquired {
			return nil, bluezErr(errNotPermitted, "Notify acquired")
		}
		if busy {
			return nil, bluezErr(errInProgress, "In Progress")
		}
		if o.props&gatt.PropNotify == 0 || o.cccd == 0 {
			return nil, bluezErr(errNotSupported, "Operation is not supported")
		}
		mine, theirs, closeTheirs, err := seqpacketPair()
		if err != nil {
			return nil, bluezErr(errFailed, err.Error())
		}
		if _, err := gc.request([]byte{0x12, byte(o.cccd), byte(o.cccd >> 8), 0x01, 0}, 0x13); err != nil {
			mine.Close()
			closeTheirs()
			return nil, dbusATTError(err)
		}
		b.mu.Lock()
		if gc.objs[o.path] != o { // the link went meanwhile
			b.mu.Unlock()
			mine.Close()
			closeTheirs()
			return nil, bluezErr(errFailed, "Not connected")
		}
		o.acquired = mine
		b.e.wg.Add(1)
		hook := b.onAcquireNotify
		b.mu.Unlock()
		go gc.watchAcquired(o, mine)
		if hook != nil {
			hook()
		}
		c.reply("hq", dbus.UnixFD(theirs), uint16(gc.mtu))
		closeTheirs() // the client has its own copy now
		b.conn.Emit(o.path, ifaceProperties+".PropertiesChanged", ifaceGattChar,
			map[string]dbus.Variant{"NotifyAcquired": dbus.MakeVariant(true)}, []string{})
		return nil, nil
	}
}

// watchAcquired waits for the client to close its end (or for the link's teardown to close
// ours); a client that closed it gets notifications disabled, as bluetoothd does on the hang-up.
func (gc *gconn) watchAcquired(o *gobj, f *os.File) {
	defer gc.b.e.wg.Done()
	buf := make([]byte, 1)
	for {
		if _, err := f.Read(buf); err != nil {
			break
		}
	}
	b := gc.b
	b.mu.Lock()
	mine := o.acquired == f
	if mine {
		o.acquired = nil
	}
	b.mu.Unlock()
	if !mine {
		return // closed by the teardown
	}
	f.Close()
	gc.request([]byte{0x12, byte(o.cccd), byte(o.cccd >> 8), 0, 0}, 0x13)
	b.conn.Emit(o.path, ifaceProperties+".PropertiesChanged", ifaceGattChar,
		map[string]dbus.Variant{"NotifyAcquired": dbus.MakeVariant(false)}, []string{})
}

// OnAcquireNotify makes fn run in each GattCharacteristic1.AcquireNotify once the notifications
// are acquired, before the call replies with the socket (nil: none), so that a test can end the
// caller's context while the call is in progress.
func (e *Env) OnAcquireNotify(fn func()) {
	if e.bus == nil {
		return
	}
	e.bus.mu.Lock()
	e.bus.onAcquireNotify = fn
	e.bus.mu.Unlock()
}
