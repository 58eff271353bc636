package gogatt_test

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/internal/gattkit"
)

// scriptedBackend is a minimal in-memory Backend with one heart-rate sensor, used only so
// that ExampleBackend runs without hardware. It is not a simulator: see package sim for that.
type scriptedBackend struct{}

func newScriptedBackend() gogatt.Backend { return scriptedBackend{} }

func (scriptedBackend) Start(context.Context) error { return nil }
func (scriptedBackend) Stop() error                 { return nil }
func (scriptedBackend) SupportsUnbonded() bool      { return true }
func (b scriptedBackend) Scan(ctx context.Context, o gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	return b.FilteredScan(ctx, "", o)
}
func (scriptedBackend) FilteredScan(_ context.Context, name string, _ gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	r := gogatt.ScanResult{Address: "C0:FF:EE:00:00:01", Name: "HR Sensor", RSSI: -50}
	if !strings.Contains(r.Name, name) {
		return nil, nil
	}
	return []gogatt.ScanResult{r}, nil
}
func (scriptedBackend) ClearBond(context.Context, string) error { return nil }
func (scriptedBackend) Connect(_ context.Context, addr string, _ gogatt.ConnectOptions) (gogatt.Device, error) {
	if _, err := gogatt.ParseAddress(addr); err != nil {
		return nil, err
	}
	return &scriptedDevice{addr: addr, reg: gattkit.NewRegistry(), done: make(chan struct{})}, nil
}

var scriptedTree = []gogatt.Service{
	{UUID: gogatt.UUID16(0x180d), Handle: 1, EndHandle: 4, Characteristics: []gogatt.Characteristic{
		{UUID: gogatt.UUID16(0x2a37), Handle: 2, ValueHandle: 3, EndHandle: 4, Properties: gogatt.PropNotify,
			Descriptors: []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: 4}}},
	}},
	{UUID: gogatt.UUID16(0x180f), Handle: 5, EndHandle: 7, Characteristics: []gogatt.Characteristic{
		{UUID: gogatt.UUID16(0x2a19), Handle: 6, ValueHandle: 7, EndHandle: 7, Properties: gogatt.PropRead},
	}},
}

type scriptedDevice struct {
	addr string
	reg  *gattkit.Registry
	once sync.Once
	done chan struct{}
}

func (d *scriptedDevice) Address() string                      { return d.addr }
func (d *scriptedDevice) Bond(context.Context, bool) error     { return gogatt.ErrUnsupported }
func (d *scriptedDevice) RSSI(context.Context) (int, error)    { return -50, nil }
func (d *scriptedDevice) ResubscribeAll(context.Context) error { return nil }
func (d *scriptedDevice) Services(context.Context) ([]gogatt.Service, error) {
	return scriptedTree, nil
}
func (d *scriptedDevice) DiscoverCharacteristics(context.Context) (map[gogatt.UUID][]gogatt.Characteristic, error) {
	return gogatt.CharacteristicMap(scriptedTree), nil
}
func (d *scriptedDevice) GetHandle(_ context.Context, u gogatt.UUID) (uint16, error) {
	c, err := gogatt.LookupCharacteristic(scriptedTree, u)
	return c.ValueHandle, err
}
func (d *scriptedDevice) CharRead(ctx context.Context, u gogatt.UUID) ([]byte, error) {
	h, err := d.GetHandle(ctx, u)
	if err != nil {
		return nil, err
	}
	return d.CharReadHandle(ctx, h)
}
func (d *scriptedDevice) CharReadHandle(_ context.Context, h uint16) ([]byte, error) {
	if h == 7 {
		return []byte{87}, nil
	}
	return nil, &gogatt.ATTError{Op: "read", Handle: h, Code: 0x02}
}
func (d *scriptedDevice) CharReadLong(ctx context.Context, u gogatt.UUID) ([]byte, error) {
	return d.CharRead(ctx, u)
}
func (d *scriptedDevice) CharReadLongHandle(ctx context.Context, h uint16) ([]byte, error) {
	return d.CharReadHandle(ctx, h)
}
func (d *scriptedDevice) CharWrite(context.Context, gogatt.UUID, []byte, bool) error {
	return gogatt.ErrUnsupported
}
func (d *scriptedDevice) CharWriteHandle(context.Context, uint16, []byte, bool) error {
	return gogatt.ErrUnsupported
}
func (d *scriptedDevice) CharWriteLong(context.Context, gogatt.UUID, []byte) error {
	return gogatt.ErrUnsupported
}
func (d *scriptedDevice) CharWriteLongHandle(context.Context, uint16, []byte) error {
	return gogatt.ErrUnsupported
}
func (d *scriptedDevice) Subscribe(ctx context.Context, u gogatt.UUID, fn gogatt.NotificationHandler, o gogatt.SubscribeOptions) error {
	h, err := d.GetHandle(ctx, u)
	if err != nil {
		return err
	}
	return d.SubscribeHandle(ctx, h, fn, o)
}
func (d *scriptedDevice) SubscribeHandle(_ context.Context, h uint16, fn gogatt.NotificationHandler, o gogatt.SubscribeOptions) error {
	if h != 3 {
		return fmt.Errorf("handle 0x%04x: %w", h, gogatt.ErrNotFound)
	}
	d.reg.Add(h, fn, o)
	for bpm := byte(60); bpm < 63; bpm++ { // the "peer" notifies three measurements
		d.reg.Dispatch(h, []byte{0x00, bpm})
	}
	return nil
}
func (d *scriptedDevice) Unsubscribe(context.Context, gogatt.UUID) error {
	d.reg.Remove(3)
	return nil
}
func (d *scriptedDevice) UnsubscribeHandle(_ context.Context, h uint16) error {
	d.reg.Remove(h)
	return nil
}
func (d *scriptedDevice) ExchangeMTU(context.Context, int) (int, error) { return 23, nil }
func (d *scriptedDevice) Disconnect() error {
	d.once.Do(func() {
		d.reg.Close()
		close(d.done)
	})
	return nil
}
func (d *scriptedDevice) Disconnected() <-chan struct{} { return d.done }
func (d *scriptedDevice) Err() error {
	select {
	case <-d.done:
		return &gogatt.DisconnectError{Address: d.addr, Reason: "disconnected by the application", Local: true}
	default:
		return nil
	}
}
