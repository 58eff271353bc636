// Command vmperiph is the peripheral of gogatt's real-kernel test tier. It publishes a GATT
// application and an LE advertisement through bluetoothd's D-Bus API
// (org.bluez.GattManager1.RegisterApplication, org.bluez.LEAdvertisingManager1.RegisterAdvertisement,
// BlueZ 5.66 doc/gatt-api.txt and doc/advertising-api.txt) on one adapter of the test guest.
//
// Its services sit at fixed handles (the services' Handle property), so that the tests can
// assert the attribute table: a heart-rate service like sim's demo sensor, and a test service
// with characteristics for reads, writes, long values, errors, security, notifications and
// indications, and a control characteristic. Writing
//
//	[target u8][count u32le][interval_us u32le][size u8]
//
// to the control characteristic makes the application push count values (target 1:
// notifications, target 2: indications) of size bytes, interval_us apart, each starting with a
// u32le sequence number. The advertisement is registered again whenever the adapter is powered
// again (the kernel removes advertising instances at power-off).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
)

const (
	ifChrc  = "org.bluez.GattCharacteristic1"
	ifDesc  = "org.bluez.GattDescriptor1"
	ifSvc   = "org.bluez.GattService1"
	ifAdv   = "org.bluez.LEAdvertisement1"
	ifProps = "org.freedesktop.DBus.Properties"
	appPath = dbus.ObjectPath("/org/gogatt/vmtest")
	advPath = dbus.ObjectPath("/org/gogatt/vmtest/adv")
)

// props holds one object's properties: interface → name → value.
type props map[string]map[string]dbus.Variant

// propObj serves org.freedesktop.DBus.Properties. bluetoothd writes the allocated handle back
// into Handle; that write is accepted, every other one refused.
type propObj struct {
	mu sync.Mutex
	p  props
}

func (o *propObj) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if v, ok := o.p[iface][name]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.NewError("org.freedesktop.DBus.Error.InvalidArgs", []any{"no property " + name})
}

func (o *propObj) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.p[iface], nil
}

func (o *propObj) Set(iface, name string, v dbus.Variant) *dbus.Error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.p[iface]; ok && name == "Handle" {
		o.p[iface][name] = v
		return nil
	}
	return dbus.NewError("org.freedesktop.DBus.Error.PropertyReadOnly", []any{name})
}

func bluezErr(name, msg string) *dbus.Error {
	return dbus.NewError("org.bluez.Error."+name, []any{msg})
}

func optOffset(o map[string]dbus.Variant) int {
	if v, ok := o["offset"]; ok {
		if x, ok := v.Value().(uint16); ok {
			return int(x)
		}
	}
	return 0
}

// chrc is one characteristic: a value with a maximum length and an optional write hook.
type chrc struct {
	conn    *dbus.Conn
	path    dbus.ObjectPath
	mu      sync.Mutex
	value   []byte
	maxLen  int
	onWrite func([]byte)
}

func (c *chrc) ReadValue(o map[string]dbus.Variant) ([]byte, *dbus.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	off := optOffset(o)
	if off > len(c.value) {
		return nil, bluezErr("InvalidOffset", "offset")
	}
	return append([]byte(nil), c.value[off:]...), nil
}

func (c *chrc) WriteValue(v []byte, o map[string]dbus.Variant) *dbus.Error {
	off := optOffset(o)
	c.mu.Lock()
	if off > len(c.value) {
		c.mu.Unlock()
		return bluezErr("InvalidOffset", "offset")
	}
	if off+len(v) > c.maxLen {
		c.mu.Unlock()
		return bluezErr("InvalidValueLength", "too long")
	}
	c.value = append(c.value[:off:off], v...)
	hook := c.onWrite
	c.mu.Unlock()
	if hook != nil {
		hook(v)
	}
	return nil
}

func (c *chrc) StartNotify() *dbus.Error { return nil }
func (c *chrc) StopNotify() *dbus.Error  { return nil }
func (c *chrc) Confirm() *dbus.Error     { return nil }

// push stores v and signals the change; bluetoothd sends it to every client whose CCCD asks.
func (c *chrc) push(v []byte) error {
	c.mu.Lock()
	c.value = v
	c.mu.Unlock()
	return c.conn.Emit(c.path, ifProps+".PropertiesChanged", ifChrc,
		map[string]dbus.Variant{"Value": dbus.MakeVariant(v)}, []string{})
}

type desc struct{ value []byte }

func (d *desc) ReadValue(o map[string]dbus.Variant) ([]byte, *dbus.Error) {
	off := optOffset(o)
	if off > len(d.value) {
		return nil, bluezErr("InvalidOffset", "offset")
	}
	return d.value[off:], nil
}

func (d *desc) WriteValue(v []byte, o map[string]dbus.Variant) *dbus.Error {
	return bluezErr("NotPermitted", "read only")
}

// objectManager answers GetManagedObjects with its objects in the order they were added.
// bluetoothd builds the attribute table in the order of that answer, a D-Bus dict that godbus
// would encode from a Go map in random order; so the reply is sent here as an array of entries
// in order (the same bytes on the wire) under the dict's signature, and the attribute handles
// are the same in every run.
type objectManager struct {
	conn  *dbus.Conn
	order []dbus.ObjectPath
	objs  map[dbus.ObjectPath]props
}

// objectEntry has the wire layout of one a{oa{sa{sv}}} dict entry.
type objectEntry struct {
	Path   dbus.ObjectPath
	Ifaces props
}

func (m *objectManager) GetManagedObjects(msg dbus.Message) *dbus.Error {
	entries := make([]objectEntry, 0, len(m.order))
	for _, p := range m.order {
		entries = append(entries, objectEntry{p, m.objs[p]})
	}
	r := &dbus.Message{Type: dbus.TypeMethodReply, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldReplySerial: dbus.MakeVariant(msg.Serial()),
		dbus.FieldSignature:   dbus.MakeVariant(dbus.ParseSignatureMust("a{oa{sa{sv}}}")),
	}, Body: []any{entries}}
	if s, ok := msg.Headers[dbus.FieldSender]; ok {
		r.Headers[dbus.FieldDestination] = s
	}
	// godbus sends an empty reply after this one; bluetoothd ignores it (its serial is answered).
	m.conn.Send(r, nil)
	return nil
}

type advertisement struct{}

func (advertisement) Release() *dbus.Error { return nil }

// app builds the exported objects.
type app struct {
	conn *dbus.Conn
	om   *objectManager
	svc  dbus.ObjectPath
	n    int
}

func (a *app) add(p dbus.ObjectPath, pr props) {
	a.om.objs[p] = pr
	a.om.order = append(a.om.order, p)
}

func (a *app) export(obj any, p dbus.ObjectPath, iface string, pr props) {
	a.add(p, pr)
	must(a.conn.Export(obj, p, iface))
	must(a.conn.Export(&propObj{p: pr}, p, ifProps))
}

func (a *app) service(n int, uuid string, handle uint16) {
	a.svc = dbus.ObjectPath(fmt.Sprintf("%s/svc%d", appPath, n))
	a.add(a.svc, props{ifSvc: {"UUID": dbus.MakeVariant(uuid), "Primary": dbus.MakeVariant(true),
		"Handle": dbus.MakeVariant(handle)}})
	must(a.conn.Export(&propObj{p: a.om.objs[a.svc]}, a.svc, ifProps))
}

// chrc adds a characteristic. bluetoothd allocates handles in the order of GetManagedObjects
// (see objectManager); the comments at the calls give the value handles the tests expect.
func (a *app) chrc(uuid string, flags []string, value []byte, maxLen int) *chrc {
	p := dbus.ObjectPath(fmt.Sprintf("%s/chrc%d", a.svc, a.n))
	a.n++
	c := &chrc{conn: a.conn, path: p, value: value, maxLen: maxLen}
	a.export(c, p, ifChrc, props{ifChrc: {"UUID": dbus.MakeVariant(uuid), "Service": dbus.MakeVariant(a.svc),
		"Flags": dbus.MakeVariant(flags)}})
	return c
}

func (a *app) desc(c *chrc, uuid string, value []byte) {
	p := c.path + "/desc0"
	a.export(&desc{value: value}, p, ifDesc, props{ifDesc: {"UUID": dbus.MakeVariant(uuid),
		"Characteristic": dbus.MakeVariant(c.path), "Flags": dbus.MakeVariant([]string{"read"})}})
}

// burst pushes count values of size bytes (≥ 4) interval apart, each led by its sequence number.
func burst(c *chrc, count uint32, interval time.Duration, size int) {
	t0 := time.Now()
	for i := uint32(0); i < count; i++ {
		b := make([]byte, size)
		binary.LittleEndian.PutUint32(b, i)
		if err := c.push(b); err != nil {
			log.Printf("emit: %v", err)
		}
		if interval > 0 {
			// Paced against the start, so that a late wake-up does not lower the rate.
			if d := time.Until(t0.Add(time.Duration(i+1) * interval)); d > 0 {
				time.Sleep(d)
			}
		}
	}
	log.Printf("burst done: %d values of %d bytes in %v", count, size, time.Since(t0).Round(time.Millisecond))
}

func main() {
	adapter := flag.String("adapter", "hci1", "adapter to publish on")
	name := flag.String("name", "gogatt VM", "advertised local name")
	flag.Parse()
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("vmperiph: ")
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		log.Fatal(err)
	}
	a := &app{conn: conn, om: &objectManager{conn: conn, objs: map[dbus.ObjectPath]props{}}}

	// Heart rate (like sim.NewHeartRateSensor): Heart Rate Measurement (notify), Body Sensor
	// Location (read, "wrist").
	a.service(0, "0000180d-0000-1000-8000-00805f9b34fb", 0x0020)
	hrm := a.chrc("00002a37-0000-1000-8000-00805f9b34fb", []string{"notify"}, []byte{0x00, 72}, 8) // 0x0022
	a.chrc("00002a38-0000-1000-8000-00805f9b34fb", []string{"read"}, []byte{0x02}, 1)              // 0x0025
	_ = hrm

	// The test service.
	a.service(1, "a0000000-0000-1000-8000-00805f9b34fb", 0x0040)
	a.chrc("a0000001-0000-1000-8000-00805f9b34fb", []string{"read", "write", "write-without-response"}, []byte{1, 2, 3}, 512) // 0x0042
	long := make([]byte, 300)
	for i := range long {
		long[i] = byte(i * 7)
	}
	a.chrc("a0000002-0000-1000-8000-00805f9b34fb", []string{"read", "write"}, long, 512)                           // 0x0044
	notify := a.chrc("a0000003-0000-1000-8000-00805f9b34fb", []string{"read", "notify"}, make([]byte, 4), 512)     // 0x0046
	a.desc(notify, "00002901-0000-1000-8000-00805f9b34fb", []byte("sequence"))                                     // 0x0048
	a.chrc("a0000004-0000-1000-8000-00805f9b34fb", []string{"write"}, []byte{0}, 512)                              // 0x004a
	a.chrc("a0000005-0000-1000-8000-00805f9b34fb", []string{"read"}, []byte("ro"), 2)                              // 0x004c
	a.chrc("a0000006-0000-1000-8000-00805f9b34fb", []string{"encrypt-read"}, []byte("secret"), 6)                  // 0x004e
	indicate := a.chrc("a0000008-0000-1000-8000-00805f9b34fb", []string{"read", "indicate"}, make([]byte, 4), 512) // 0x0050
	ctl := a.chrc("a00000ff-0000-1000-8000-00805f9b34fb", []string{"write", "write-without-response"}, nil, 16)    // 0x0053
	ctl.onWrite = func(v []byte) {
		if len(v) < 10 {
			return
		}
		target, count := v[0], binary.LittleEndian.Uint32(v[1:])
		interval := time.Duration(binary.LittleEndian.Uint32(v[5:])) * time.Microsecond
		size := max(int(v[9]), 4)
		c := notify
		if target == 2 {
			c = indicate
		}
		go burst(c, count, interval, size)
	}
	must(conn.Export(a.om, appPath, "org.freedesktop.DBus.ObjectManager"))

	ad := dbus.ObjectPath("/org/bluez/" + *adapter)
	mgr := conn.Object("org.bluez", ad)
	if err := mgr.Call("org.bluez.GattManager1.RegisterApplication", 0, appPath, map[string]dbus.Variant{}).Err; err != nil {
		log.Fatalf("RegisterApplication: %v", err)
	}
	// A 16-bit service UUID leaves room for the name in the 31-octet advertising data (Core
	// v5.3 Vol 3 Part C §11): flags 3 + UUID 4 + name 2+len.
	must(conn.Export(advertisement{}, advPath, ifAdv))
	must(conn.Export(&propObj{p: props{ifAdv: {
		"Type":         dbus.MakeVariant("peripheral"),
		"ServiceUUIDs": dbus.MakeVariant([]string{"180d"}),
		"LocalName":    dbus.MakeVariant(*name),
		"Discoverable": dbus.MakeVariant(true),
	}}}, advPath, ifProps))
	register := func() error {
		return mgr.Call("org.bluez.LEAdvertisingManager1.RegisterAdvertisement", 0, advPath, map[string]dbus.Variant{}).Err
	}
	if err := register(); err != nil {
		log.Fatalf("RegisterAdvertisement: %v", err)
	}
	must(conn.AddMatchSignal(dbus.WithMatchObjectPath(ad), dbus.WithMatchInterface(ifProps), dbus.WithMatchMember("PropertiesChanged")))
	sigs := make(chan *dbus.Signal, 16)
	conn.Signal(sigs)
	go func() {
		for s := range sigs {
			if s.Path != ad || len(s.Body) < 2 {
				continue
			}
			changed, _ := s.Body[1].(map[string]dbus.Variant)
			if v, ok := changed["Powered"]; ok && v.Value() == true {
				mgr.Call("org.bluez.LEAdvertisingManager1.UnregisterAdvertisement", 0, advPath)
				log.Printf("adapter powered again; advertisement registered again: %v", register())
			}
		}
	}()
	fmt.Println("VMPERIPH READY")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
