package bluezsim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/gogatt/gogatt/bt"
	"github.com/gogatt/gogatt/sim"
)

// dbusClient starts a D-Bus-only environment and a client connection on its bus, with the
// signals of org.bluez delivered in order.
func dbusClient(t *testing.T) (*Env, []*sim.Peripheral, *dbus.Conn, chan *dbus.Signal) {
	t.Helper()
	RequireDBus(t)
	ps := sim.DemoPeripherals(7)
	e, err := Start(context.Background(), Options{Peripherals: ps, DBusOnly: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	conn, err := dbus.Connect(e.BusAddress(), dbus.WithSignalHandler(dbus.NewSequentialSignalHandler()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.AddMatchSignal(dbus.WithMatchSender("org.bluez")); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dbus.Signal, 4096)
	conn.Signal(ch)
	return e, ps, conn, ch
}

func dbusErrName(err error) string {
	var de dbus.Error
	var dp *dbus.Error
	if errors.As(err, &dp) {
		de = *dp
	}
	if de.Name != "" || errors.As(err, &de) {
		return de.Name + " " + fmt.Sprint(de.Body...)
	}
	return fmt.Sprint(err)
}

// TestDBusGATT pins what the simulated bluetoothd answers a D-Bus client, as BlueZ 5.66's
// src/gatt-client.c and src/device.c do: discovery adds the device, Connect exports the GATT
// objects named after handles, bluetoothd owns the CCCDs, StopNotify without a session fails,
// AcquireNotify is for notifications only, and Disconnect removes the GATT objects.
func TestDBusGATT(t *testing.T) {
	e, ps, conn, sigs := dbusClient(t)
	ctx := context.Background()
	var p *sim.Peripheral
	for _, x := range ps {
		if x.Address().String() == torture {
			p = x
		}
	}
	adapter := conn.Object("org.bluez", dbus.ObjectPath("/org/bluez/"+e.HCIDevice()))
	dev := devicePath(dbus.ObjectPath("/org/bluez/"+e.HCIDevice()), p.Address())
	if err := adapter.Call(ifaceAdapter+".StartDiscovery", 0).Err; err != nil {
		t.Fatal(err)
	}
	if err := adapter.Call(ifaceAdapter+".StartDiscovery", 0).Err; !strings.Contains(dbusErrName(err), errInProgress) {
		t.Errorf("second StartDiscovery = %v, want InProgress", err)
	}
	for s := range sigs {
		if s.Name == ifaceObjManager+".InterfacesAdded" && s.Body[0] == dev {
			props := s.Body[1].(map[string]map[string]dbus.Variant)[ifaceDevice]
			if props["Name"].Value() != sim.TortureName || props["RSSI"].Value() == nil {
				t.Errorf("InterfacesAdded of the device = %v, want its name and RSSI", props)
			}
			break
		}
	}
	if err := adapter.Call(ifaceAdapter+".StopDiscovery", 0).Err; err != nil {
		t.Fatal(err)
	}
	d := conn.Object("org.bluez", dev)
	if err := d.CallWithContext(ctx, ifaceDevice+".Connect", 0).Err; err != nil {
		t.Fatal(err)
	}
	if err := d.CallWithContext(ctx, ifaceDevice+".Connect", 0).Err; !strings.Contains(dbusErrName(err), errAlreadyConnect) {
		t.Errorf("second Connect = %v, want AlreadyConnected", err)
	}
	if v, err := d.GetProperty(ifaceDevice + ".ServicesResolved"); err != nil || v.Value() != true {
		t.Fatalf("ServicesResolved after Connect = %v, %v", v, err)
	}
	path := func(uuid bt.UUID) dbus.ObjectPath {
		info, _ := p.Characteristic(uuid)
		for _, s := range p.Services() {
			if s.Handle <= info.Handle && info.Handle <= s.EndHandle {
				return dev + dbus.ObjectPath(fmt.Sprintf("/service%04x/char%04x", s.Handle, info.Handle))
			}
		}
		return ""
	}
	long := conn.Object("org.bluez", path(sim.TortureLong))
	var v []byte
	if err := long.Call(ifaceGattChar+".ReadValue", 0, map[string]dbus.Variant{"offset": dbus.MakeVariant(uint16(100))}).Store(&v); err != nil || len(v) != 200 {
		t.Errorf("ReadValue at offset 100 of 300 octets = %d octets, %v", len(v), err)
	}
	desc := conn.Object("org.bluez", path(sim.TortureDescFirst))
	info, _ := p.Characteristic(sim.TortureDescFirst)
	cccd := conn.Object("org.bluez", dbus.ObjectPath(string(desc.Path())+fmt.Sprintf("/desc%04x", info.CCCDHandle)))
	if err := cccd.Call(ifaceGattDesc+".WriteValue", 0, []byte{1, 0}, map[string]dbus.Variant{}).Err; !strings.Contains(dbusErrName(err), "NotPermitted Write not permitted") {
		t.Errorf("CCCD WriteValue = %v, want NotPermitted", err)
	}
	if err := desc.Call(ifaceGattChar+".StopNotify", 0).Err; !strings.Contains(dbusErrName(err), "No notify session started") {
		t.Errorf("StopNotify without a session = %v", err)
	}
	ind := conn.Object("org.bluez", path(sim.TortureIndicate))
	if err := ind.Call(ifaceGattChar+".AcquireNotify", 0, map[string]dbus.Variant{}).Err; !strings.Contains(dbusErrName(err), errNotSupported) {
		t.Errorf("AcquireNotify of an indicate-only characteristic = %v, want NotSupported", err)
	}
	if err := desc.Call(ifaceGattChar+".StartNotify", 0).Err; err != nil {
		t.Fatal(err)
	}
	if err := desc.Call(ifaceGattChar+".AcquireNotify", 0, map[string]dbus.Variant{}).Err; !strings.Contains(dbusErrName(err), errInProgress) {
		t.Errorf("AcquireNotify during a StartNotify session = %v, want InProgress", err)
	}
	if err := d.CallWithContext(ctx, ifaceDevice+".Disconnect", 0).Err; err != nil {
		t.Fatal(err)
	}
	var objs map[dbus.ObjectPath]map[string]map[string]dbus.Variant
	if err := conn.Object("org.bluez", "/").Call(ifaceObjManager+".GetManagedObjects", 0).Store(&objs); err != nil {
		t.Fatal(err)
	}
	for path := range objs {
		if strings.HasPrefix(string(path), string(dev)+"/") {
			t.Errorf("%s still exported after Disconnect", path)
		}
	}
	if err := long.Call(ifaceGattChar+".ReadValue", 0, map[string]dbus.Variant{}).Err; !strings.Contains(dbusErrName(err), "UnknownObject") && !strings.Contains(dbusErrName(err), "UnknownMethod") {
		t.Errorf("ReadValue after Disconnect = %v, want an unknown object", err)
	}
}
