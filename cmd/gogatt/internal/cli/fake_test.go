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
	"github.com/gogatt/gogatt/internal/gattkit"
)

// fakeBackend is a scripted gogatt.Backend for in-process tests of the commands: a fixed set of
// advertisers and one GATT tree. Connect returns the library's one gogatt.Device
// (gattkit.Connect) over a fakeLink, as the real backends do, so the commands meet the real
// Device: its UUID resolution, its checks and its subscriptions. The end-to-end tests
// (cmd/gogatt) run the real stack.
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
	conns      []*fakeLink    // every link dialled, in order
	deliveries gattkit.Group  // the delivery domain of the Devices, ended by Stop
	wg         sync.WaitGroup // the links' notifying goroutines
	writes     []fakeWrite
	dropLink   bool  // subscriptions drop the link after sending their values
	lostBy     error // why the link dropped (nil: a supervision timeout)
	// fail, when set, is the error the operation of that name returns ("read", "write",
	// "subscribe", "rssi"): the link's Read, Write, Configure (enabling) or RSSI returns it.
	// A scripted "subscribe" error also replaces the Device's own refusal of a characteristic
	// that cannot notify (see scriptedDevice). startHangs makes Start wait for its ctx to end, like an adapter
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

// Stop ends delivery to every Device's handlers and closes the links, as a backend's Stop does.
func (b *fakeBackend) Stop() error {
	b.mu.Lock()
	conns := b.conns
	b.stopped = true
	b.mu.Unlock()
	b.deliveries.Stop()
	for _, c := range conns {
		c.Close()
	}
	b.wg.Wait()
	return nil
}

func (b *fakeBackend) SupportsUnbonded() bool { return true }

// Connect is the real one: gattkit.Connect over links that b.dial makes.
func (b *fakeBackend) Connect(ctx context.Context, address string, opts gogatt.ConnectOptions) (gogatt.Device, error) {
	dev, err := gattkit.Connect(ctx, address, opts, gattkit.Config{Dial: b.dial, Group: &b.deliveries})
	if err != nil {
		return nil, err
	}
	if b.failure("subscribe") != nil {
		return scriptedDevice{dev, b}, nil
	}
	return dev, nil
}

// dial connects to one of b.devices; any other address is not in range: the dial lasts until
// ctx ends.
func (b *fakeBackend) dial(ctx context.Context, addr bt.Address, _ gogatt.ConnectOptions, sink gattkit.Sink) (gattkit.Link, error) {
	for _, d := range b.devices {
		if a, err := bt.ParseAddress(d.Address); err == nil && a == addr {
			l := &fakeLink{b: b, addr: d.Address, sink: sink, done: make(chan struct{}), subs: map[uint16]chan struct{}{}}
			b.mu.Lock()
			b.conns = append(b.conns, l)
			b.mu.Unlock()
			return l, nil
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

// fakeLink is one connection of the fakeBackend: the gattkit.Link the real Device runs over.
type fakeLink struct {
	b        *fakeBackend
	addr     string
	sink     gattkit.Sink
	mu       sync.Mutex
	done     chan struct{}
	err      error                    // why the link went; nil while up
	subs     map[uint16]chan struct{} // value handle → stops its notifying goroutine
	disconns int                      // Close calls
}

var _ gattkit.Link = (*fakeLink)(nil)

// check fails op once the link is gone.
func (l *fakeLink) check(op string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return fmt.Errorf("%s: %w", op, l.err)
	}
	return nil
}

func (l *fakeLink) Discover(ctx context.Context) ([]gogatt.Service, error) {
	if err := l.check("discover"); err != nil {
		return nil, err
	}
	return l.b.tree, nil
}

func (l *fakeLink) Read(ctx context.Context, handle uint16, long bool) ([]byte, error) {
	if err := l.check("read"); err != nil {
		return nil, err
	}
	if err := l.b.failure("read"); err != nil {
		return nil, err
	}
	l.b.mu.Lock()
	v, ok := l.b.values[handle]
	l.b.mu.Unlock()
	if !ok {
		return nil, &gogatt.ATTError{Op: "read", Handle: handle, Code: att.ErrReadNotPermitted}
	}
	return v, nil
}

func (l *fakeLink) Write(ctx context.Context, handle uint16, value []byte, mode gattkit.WriteMode) error {
	if err := l.check("write"); err != nil {
		return err
	}
	if err := l.b.failure("write"); err != nil {
		return err
	}
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	l.b.writes = append(l.b.writes, fakeWrite{handle, bytes.Clone(value), mode != gattkit.WriteCommand})
	return nil
}

// Configure, enabling, starts a goroutine that sends b.notify values through the sink — for
// 0x12 a heart-rate measurement [flags=0, bpm], else a 4-byte LE counter that skips 2 (a lost
// value) — and then waits until disabled or the link is gone; with b.dropLink it loses the link
// instead.
func (l *fakeLink) Configure(ctx context.Context, ch gogatt.Characteristic, n gattkit.Notify) error {
	if err := l.check(n.Op()); err != nil {
		return err
	}
	h := ch.ValueHandle
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.subs[h]; ok {
		close(s)
		delete(l.subs, h)
	}
	if n == gattkit.NotifyOff {
		return nil
	}
	if err := l.b.failure("subscribe"); err != nil {
		return err
	}
	stop := make(chan struct{})
	l.subs[h] = stop
	l.b.mu.Lock()
	count, drop := l.b.notify, l.b.dropLink
	l.b.mu.Unlock()
	l.b.wg.Add(1)
	go func() {
		defer l.b.wg.Done()
		for i := range count {
			var v []byte
			if h == 0x12 {
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
			case <-l.done:
				return
			default:
			}
			l.sink(h, v)
		}
		if drop {
			l.lose()
			return
		}
		select {
		case <-stop:
		case <-l.done:
		}
	}()
	return nil
}

func (l *fakeLink) Bond(ctx context.Context, permanent bool) error {
	if err := l.check("bond"); err != nil {
		return err
	}
	if l.addr != hrmAddr {
		return fmt.Errorf("pairing refused: %w", &gogatt.ATTError{Op: "bond", Code: att.ErrInsufficientAuthentication})
	}
	l.b.mu.Lock()
	l.b.bonds[l.addr] = permanent
	l.b.mu.Unlock()
	return nil
}

func (l *fakeLink) RSSI(ctx context.Context) (int, error) {
	if err := l.check("rssi"); err != nil {
		return 0, err
	}
	if err := l.b.failure("rssi"); err != nil {
		return 0, err
	}
	return -42, nil
}

func (l *fakeLink) ExchangeMTU(ctx context.Context, mtu int) (int, error) {
	return 0, gogatt.ErrUnsupported
}

// lose drops the link: a supervision timeout, or b.lostBy.
func (l *fakeLink) lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = &gogatt.DisconnectError{Address: l.addr, Reason: "connection timeout (supervision)", Code: 0x0208}
		if l.b.lostBy != nil {
			l.err = &gogatt.DisconnectError{Address: l.addr, Reason: "adapter stopped", Err: l.b.lostBy}
		}
		close(l.done)
	}
}

func (l *fakeLink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.disconns++
	if l.err == nil {
		l.err = &gogatt.DisconnectError{Address: l.addr, Reason: "local", Local: true}
		close(l.done)
	}
	return nil
}

func (l *fakeLink) Done() <-chan struct{} { return l.done }

func (l *fakeLink) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// scriptedDevice is the real Device with a scripted "subscribe" failure in the words of a
// backend: the tests of the command line's error lines script what the backends answered when
// they checked characteristics themselves ("no Client Characteristic Configuration
// descriptor", "gatttool: subscribe handle …: operation not supported"). The Device is still
// called; when it refuses the characteristic itself, before the link, the scripted error
// replaces its own.
type scriptedDevice struct {
	gogatt.Device
	b *fakeBackend
}

func (d scriptedDevice) scripted(err error) error {
	if s := d.b.failure("subscribe"); s != nil && err != nil {
		return s
	}
	return err
}

func (d scriptedDevice) Subscribe(ctx context.Context, uuid gogatt.UUID, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	return d.scripted(d.Device.Subscribe(ctx, uuid, fn, opts))
}

func (d scriptedDevice) SubscribeHandle(ctx context.Context, h uint16, fn gogatt.NotificationHandler, opts gogatt.SubscribeOptions) error {
	return d.scripted(d.Device.SubscribeHandle(ctx, h, fn, opts))
}
