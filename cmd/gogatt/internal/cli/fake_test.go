package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"
	"sync"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/att"
	"github.com/gogatt/gogatt/bt"
)

// fakeBackend is a scripted gogatt.Backend for in-process tests of the commands: a fixed set of
// advertisers and one GATT tree. The end-to-end tests (cmd/gogatt) run the real stack.
type fakeBackend struct {
	mu       sync.Mutex
	started  bool
	stopped  bool
	startErr error
	devices  []gogatt.ScanResult
	// adverts, when set, is what a scan reports (devices otherwise): one OnAdvertisement call
	// each, so one device may appear several times as it gains data.
	adverts []gogatt.ScanResult
	// resume, when set, holds a scan after each advertisement until it receives a value (or
	// the scan's ctx ends): tests see what the command printed while the scan is still running.
	resume chan struct{}
	// inCallback counts, per goroutine (goid), the OnAdvertisement calls running on it:
	// nothing may be printed from inside one (output belongs to the command's goroutine, not
	// the backend's). Keyed by goroutine, not a global flag, so that a write made by another
	// goroutine while a callback runs is not mistaken for one made inside it.
	cbMu       sync.Mutex
	inCallback map[uint64]int
	tree       []gogatt.Service
	values     map[uint16][]byte
	notify     int // values each subscription sends, then the goroutine waits for unsubscribe
	bonds      map[string]bool
	conns      []*fakeDevice
	wg         sync.WaitGroup
	writes     []fakeWrite
	dropLink   bool  // subscriptions drop the link after sending their values
	lostBy     error // why the link dropped (nil: a supervision timeout)
	// fail, when set, is the error the operation of that name returns ("read", "write",
	// "subscribe", "rssi"); startHangs makes Start wait for its ctx to end, like an adapter
	// that does not answer.
	fail       map[string]error
	startHangs bool
}

type fakeWrite struct {
	handle uint16
	value  []byte
	resp   bool
}

var (
	hrmAddr = "C0:FF:EE:00:00:01"
)

func newFake() *fakeBackend {
	u := bt.UUID16
	return &fakeBackend{
		devices: []gogatt.ScanResult{
			{Address: hrmAddr, Name: "gogatt HRM", RSSI: -52, Data: gogatt.AdvertisementData{LocalName: "gogatt HRM", ManufacturerData: map[uint16][]byte{0x02ff: {1, 2}}}},
			{Address: "C0:FF:EE:00:00:02", Name: "gogatt Thermometer", RSSI: -60},
		},
		tree: []gogatt.Service{
			{UUID: u(0x180d), Handle: 0x10, EndHandle: 0x15, Characteristics: []gogatt.Characteristic{
				{UUID: u(0x2a37), Handle: 0x11, ValueHandle: 0x12, Properties: gogatt.PropNotify, Descriptors: []gogatt.Descriptor{{UUID: u(0x2902), Handle: 0x13}}},
				{UUID: u(0x2a39), Handle: 0x14, ValueHandle: 0x15, Properties: gogatt.PropWrite},
			}},
			{UUID: u(0x180f), Handle: 0x20, EndHandle: 0x23, Characteristics: []gogatt.Characteristic{
				{UUID: u(0x2a19), Handle: 0x21, ValueHandle: 0x22, Properties: gogatt.PropRead | gogatt.PropNotify, Descriptors: []gogatt.Descriptor{{UUID: u(0x2902), Handle: 0x23}}},
			}},
			{UUID: u(0xfff0), Handle: 0x30, EndHandle: 0x34, Characteristics: []gogatt.Characteristic{
				{UUID: u(0x2a19), Handle: 0x31, ValueHandle: 0x32, Properties: gogatt.PropRead},
				{UUID: u(0xfff1), Handle: 0x33, ValueHandle: 0x34, Properties: gogatt.PropRead},
			}},
		},
		values: map[uint16][]byte{0x22: {87}, 0x32: {5}, 0x34: {0xaa, 0xbb}},
		notify: 5,
		bonds:  map[string]bool{},
	}
}

func (b *fakeBackend) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.startErr != nil {
		return b.startErr
	}
	if b.startHangs {
		<-ctx.Done()
		return fmt.Errorf("fake: start: %w", ctx.Err())
	}
	b.started = true
	return nil
}

// failure returns the error scripted for op, if any.
func (b *fakeBackend) failure(op string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fail[op]
}

func (b *fakeBackend) Stop() error {
	b.mu.Lock()
	conns := b.conns
	b.stopped = true
	b.mu.Unlock()
	for _, c := range conns {
		c.Disconnect()
	}
	b.wg.Wait()
	return nil
}

func (b *fakeBackend) SupportsUnbonded() bool { return true }

func (b *fakeBackend) Connect(ctx context.Context, address string, opts gogatt.ConnectOptions) (gogatt.Device, error) {
	for _, d := range b.devices {
		if d.Address == address {
			dev := &fakeDevice{b: b, addr: address, done: make(chan struct{}), subs: map[uint16]chan struct{}{}}
			b.mu.Lock()
			b.conns = append(b.conns, dev)
			b.mu.Unlock()
			return dev, nil
		}
	}
	<-ctx.Done()
	return nil, fmt.Errorf("connect: %w", ctx.Err())
}

func (b *fakeBackend) Scan(ctx context.Context, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	return b.FilteredScan(ctx, "", opts)
}

func (b *fakeBackend) FilteredScan(ctx context.Context, name string, opts gogatt.ScanOptions) ([]gogatt.ScanResult, error) {
	adverts := b.adverts
	if adverts == nil {
		adverts = b.devices
	}
	var order []string
	merged := map[string]gogatt.ScanResult{}
	for _, d := range adverts {
		if _, ok := merged[d.Address]; !ok {
			order = append(order, d.Address)
		}
		merged[d.Address] = d
		if opts.OnAdvertisement != nil && !b.advertise(opts.OnAdvertisement, d) {
			break
		}
		if b.resume != nil {
			select {
			case <-b.resume:
				continue
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	var out []gogatt.ScanResult
	for _, a := range order {
		out = append(out, merged[a])
	}
	select {
	case <-ctx.Done():
		return out, fmt.Errorf("scan: %w", ctx.Err())
	default:
	}
	return out, nil
}

// advertise calls fn(r), marking the calling goroutine as inside OnAdvertisement meanwhile.
func (b *fakeBackend) advertise(fn func(gogatt.ScanResult) bool, r gogatt.ScanResult) bool {
	id := goid()
	b.cbMu.Lock()
	if b.inCallback == nil {
		b.inCallback = map[uint64]int{}
	}
	b.inCallback[id]++
	b.cbMu.Unlock()
	defer func() {
		b.cbMu.Lock()
		b.inCallback[id]--
		b.cbMu.Unlock()
	}()
	return fn(r)
}

// insideCallback reports whether the calling goroutine is inside an OnAdvertisement call. Only
// this goroutine changes its own count, so the answer cannot depend on timing.
func (b *fakeBackend) insideCallback() bool {
	id := goid()
	b.cbMu.Lock()
	defer b.cbMu.Unlock()
	return b.inCallback[id] > 0
}

// goid returns the calling goroutine's id, read from the first line of its stack trace
// ("goroutine 18 [running]:"). Tests only: it tells which goroutine did something.
func goid() uint64 {
	var buf [64]byte
	f := bytes.Fields(buf[:runtime.Stack(buf[:], false)])
	if len(f) < 2 {
		panic(fmt.Sprintf("goid: unexpected stack header %q", buf[:]))
	}
	id, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		panic(fmt.Sprintf("goid: unexpected stack header %q: %v", buf[:], err))
	}
	return id
}

func (b *fakeBackend) ClearBond(ctx context.Context, address string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if address == "" {
		clear(b.bonds)
	} else {
		delete(b.bonds, address)
	}
	return nil
}

type fakeDevice struct {
	b        *fakeBackend
	addr     string
	mu       sync.Mutex
	done     chan struct{}
	closed   bool
	err      error
	subs     map[uint16]chan struct{}
	disconns int
}

func (d *fakeDevice) Address() string { return d.addr }
func (d *fakeDevice) Bond(ctx context.Context, permanent bool) error {
	if d.addr != hrmAddr {
		return fmt.Errorf("pairing refused: %w", &gogatt.ATTError{Op: "bond", Code: att.ErrInsufficientAuthentication})
	}
	d.b.mu.Lock()
	d.b.bonds[d.addr] = permanent
	d.b.mu.Unlock()
	return nil
}
func (d *fakeDevice) RSSI(ctx context.Context) (int, error) {
	if err := d.b.failure("rssi"); err != nil {
		return 0, err
	}
	return -42, nil
}
func (d *fakeDevice) Services(ctx context.Context) ([]gogatt.Service, error) {
	return d.b.tree, nil
}
func (d *fakeDevice) DiscoverCharacteristics(ctx context.Context) (map[gogatt.UUID][]gogatt.Characteristic, error) {
	return gogatt.CharacteristicMap(d.b.tree), nil
}
func (d *fakeDevice) GetHandle(ctx context.Context, uuid gogatt.UUID) (uint16, error) {
	c, err := gogatt.LookupCharacteristic(d.b.tree, uuid)
	return c.ValueHandle, err
}
func (d *fakeDevice) CharRead(ctx context.Context, uuid gogatt.UUID) ([]byte, error) {
	h, err := d.GetHandle(ctx, uuid)
	if err != nil {
		return nil, err
	}
	return d.CharReadHandle(ctx, h)
}
func (d *fakeDevice) CharReadHandle(ctx context.Context, handle uint16) ([]byte, error) {
	if err := d.b.failure("read"); err != nil {
		return nil, err
	}
	v, ok := d.b.values[handle]
	if !ok {
		return nil, &gogatt.ATTError{Op: "read", Handle: handle, Code: att.ErrReadNotPermitted}
	}
	return v, nil
}
func (d *fakeDevice) CharReadLong(ctx context.Context, uuid gogatt.UUID) ([]byte, error) {
	return d.CharRead(ctx, uuid)
}
func (d *fakeDevice) CharReadLongHandle(ctx context.Context, handle uint16) ([]byte, error) {
	return d.CharReadHandle(ctx, handle)
}
func (d *fakeDevice) CharWrite(ctx context.Context, uuid gogatt.UUID, value []byte, withResponse bool) error {
	h, err := d.GetHandle(ctx, uuid)
	if err != nil {
		return err
	}
	return d.CharWriteHandle(ctx, h, value, withResponse)
}
func (d *fakeDevice) CharWriteHandle(ctx context.Context, handle uint16, value []byte, withResponse bool) error {
	if err := d.b.failure("write"); err != nil {
		return err
	}
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	d.b.writes = append(d.b.writes, fakeWrite{handle, value, withResponse})
	return nil
}
func (d *fakeDevice) CharWriteLong(ctx context.Context, uuid gogatt.UUID, value []byte) error {
	return d.CharWrite(ctx, uuid, value, true)
}
func (d *fakeDevice) CharWriteLongHandle(ctx context.Context, handle uint16, value []byte) error {
	return d.CharWriteHandle(ctx, handle, value, true)
}
func (d *fakeDevice) Subscribe(ctx context.Context, uuid gogatt.UUID, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	h, err := d.GetHandle(ctx, uuid)
	if err != nil {
		return err
	}
	return d.SubscribeHandle(ctx, h, fn, opts)
}

// SubscribeHandle starts a goroutine that sends b.notify values (heart-rate measurements with a
// sequence-number-like prefix are not needed: the value is [flags=0, bpm] for 0x12, else a
// 4-byte LE counter) and then waits until unsubscribed or disconnected.
func (d *fakeDevice) SubscribeHandle(ctx context.Context, valueHandle uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	if err := d.b.failure("subscribe"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return gogatt.ErrNotConnected
	}
	stop := make(chan struct{})
	d.subs[valueHandle] = stop
	n, drop := d.b.notify, d.b.dropLink
	d.b.wg.Add(1)
	go func() {
		defer d.b.wg.Done()
		for i := range n {
			var v []byte
			if valueHandle == 0x12 {
				v = []byte{0x00, byte(60 + i)}
			} else {
				v = binary.LittleEndian.AppendUint32(nil, uint32(i))
				if i == 2 { // skip one: a loss
					continue
				}
			}
			select {
			case <-stop:
				return
			case <-d.done:
				return
			default:
			}
			fn(valueHandle, v)
		}
		if drop {
			d.lose()
			return
		}
		select {
		case <-stop:
		case <-d.done:
		}
	}()
	return nil
}
func (d *fakeDevice) Unsubscribe(ctx context.Context, uuid gogatt.UUID) error {
	h, err := d.GetHandle(ctx, uuid)
	if err != nil {
		return err
	}
	return d.UnsubscribeHandle(ctx, h)
}
func (d *fakeDevice) UnsubscribeHandle(ctx context.Context, valueHandle uint16) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.subs[valueHandle]; ok {
		close(s)
		delete(d.subs, valueHandle)
	}
	return nil
}
func (d *fakeDevice) ResubscribeAll(ctx context.Context) error { return nil }
func (d *fakeDevice) ExchangeMTU(ctx context.Context, mtu int) (int, error) {
	return 0, gogatt.ErrUnsupported
}
func (d *fakeDevice) lose() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		d.err = &gogatt.DisconnectError{Address: d.addr, Reason: "connection timeout (supervision)", Code: 0x0208}
		if d.b.lostBy != nil {
			d.err = &gogatt.DisconnectError{Address: d.addr, Reason: "adapter stopped", Err: d.b.lostBy}
		}
		close(d.done)
	}
}
func (d *fakeDevice) Disconnect() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.disconns++
	if !d.closed {
		d.closed = true
		d.err = &gogatt.DisconnectError{Address: d.addr, Reason: "local", Local: true}
		close(d.done)
	}
	return nil
}
func (d *fakeDevice) Disconnected() <-chan struct{} { return d.done }
func (d *fakeDevice) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}
