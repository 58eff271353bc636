package gattkit

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
)

const fakeAddr = "C0:FF:EE:00:00:01"

var (
	svcNoCCCD = gogatt.UUID16(0xfff0)
	chrNoCCCD = gogatt.UUID16(0xfff2)
)

// linkTree is the attribute tree of a fakeLink:
//
//	0x0003 Heart Rate Measurement    notify               CCCD 0x0004
//	0x0006 fff1 (also at 0x000F)     read, notify         CCCD 0x0009
//	0x000C Battery Level             read, notify, indicate CCCD 0x000D
//	0x000F fff1                      read                 (no CCCD)
//	0x0012 fff2                      notify               (no CCCD)
func linkTree() []gogatt.Service {
	cccd := func(h uint16) []gogatt.Descriptor {
		return []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: h}}
	}
	return []gogatt.Service{
		{UUID: svcHR, Handle: 1, EndHandle: 9, Characteristics: []gogatt.Characteristic{
			{UUID: chrHRM, Handle: 2, ValueHandle: 3, EndHandle: 4, Properties: gogatt.PropNotify, Descriptors: cccd(4)},
			{UUID: chrDup, Handle: 5, ValueHandle: 6, EndHandle: 9, Properties: gogatt.PropRead | gogatt.PropNotify, Descriptors: cccd(9)},
		}},
		{UUID: svcBatt, Handle: 10, EndHandle: 15, Characteristics: []gogatt.Characteristic{
			{UUID: chrBL, Handle: 11, ValueHandle: 12, EndHandle: 13, Properties: gogatt.PropRead | gogatt.PropNotify | gogatt.PropIndicate, Descriptors: cccd(13)},
			{UUID: chrDup, Handle: 14, ValueHandle: 15, EndHandle: 15, Properties: gogatt.PropRead},
		}},
		{UUID: svcNoCCCD, Handle: 16, EndHandle: 18, Characteristics: []gogatt.Characteristic{
			{UUID: chrNoCCCD, Handle: 17, ValueHandle: 18, EndHandle: 18, Properties: gogatt.PropNotify},
		}},
	}
}

// fakeLink is a test double of Link: a fixed attribute tree, a record of the procedures run
// on it ("discover", "read 12", "write 12", "cfg 3 on", "cfg 12 ind", "cfg 3 off", "mtu 185",
// "bond", "rssi"), failures scripted per operation or per operation and handle, and a link the
// test can break (lose) or feed values (notify).
type fakeLink struct {
	addr string
	sink Sink
	tree func() []gogatt.Service

	mu     sync.Mutex
	err    error
	done   chan struct{}
	record []string
	fails  map[string]error // "cfg 12", "cfg", "read 12", "read", "mtu", …
	closes int
}

func newFakeLink(addr string, sink Sink) *fakeLink {
	return &fakeLink{addr: addr, sink: sink, tree: linkTree, done: make(chan struct{}), fails: map[string]error{}}
}

// failOn makes the operation key ("cfg", "read", "write", "mtu", "bond", "rssi", "discover",
// optionally followed by a space and a handle) fail with err; nil clears it.
func (l *fakeLink) failOn(key string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		delete(l.fails, key)
		return
	}
	l.fails[key] = err
}

// do records call and returns the error for it: the link's loss, or a scripted failure.
func (l *fakeLink) do(ctx context.Context, op string, handle uint16, call string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return fmt.Errorf("%s: %w", op, l.err)
	}
	if err := CtxErr(ctx, op); err != nil {
		return err
	}
	l.record = append(l.record, call)
	if err, ok := l.fails[fmt.Sprintf("%s %d", op, handle)]; ok {
		return err
	}
	return l.fails[op]
}

// lose breaks the link as the peer or the radio would: Done closes, Err is a
// *gogatt.DisconnectError (a supervision timeout, 0x0208).
func (l *fakeLink) lose(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	l.err = &gogatt.DisconnectError{Address: l.addr, Reason: reason, Code: 0x0208}
	close(l.done)
}

// notify delivers a value as the link's reader would, to the Sink it was dialled with.
func (l *fakeLink) notify(h uint16, v ...byte) bool { return l.sink(h, v) }

// calls returns the recorded procedures whose names start with one of prefixes (all when none).
func (l *fakeLink) calls(prefixes ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.record {
		keep := len(prefixes) == 0
		for _, p := range prefixes {
			keep = keep || strings.HasPrefix(c, p)
		}
		if keep {
			out = append(out, c)
		}
	}
	return out
}

func (l *fakeLink) Discover(ctx context.Context) ([]gogatt.Service, error) {
	if err := l.do(ctx, "discover", 0, "discover"); err != nil {
		return nil, err
	}
	return l.tree(), nil
}

func (l *fakeLink) Read(ctx context.Context, handle uint16, long bool) ([]byte, error) {
	if err := l.do(ctx, "read", handle, fmt.Sprintf("read %d", handle)); err != nil {
		return nil, err
	}
	return []byte{byte(handle)}, nil
}

func (l *fakeLink) Write(ctx context.Context, handle uint16, value []byte, mode WriteMode) error {
	return l.do(ctx, "write", handle, fmt.Sprintf("write %d", handle))
}

func (l *fakeLink) Configure(ctx context.Context, ch gogatt.Characteristic, n Notify) error {
	if _, ok := ch.CCCD(); !ok {
		return fmt.Errorf("fakeLink: Configure of handle %d, which has no CCCD", ch.ValueHandle)
	}
	what := map[Notify]string{NotifyOff: "off", NotifyOn: "on", IndicateOn: "ind"}[n]
	return l.do(ctx, "cfg", ch.ValueHandle, fmt.Sprintf("cfg %d %s", ch.ValueHandle, what))
}

func (l *fakeLink) Bond(ctx context.Context, permanent bool) error {
	return l.do(ctx, "bond", 0, "bond")
}

func (l *fakeLink) RSSI(ctx context.Context) (int, error) {
	if err := l.do(ctx, "rssi", 0, "rssi"); err != nil {
		return 0, err
	}
	return -42, nil
}

func (l *fakeLink) ExchangeMTU(ctx context.Context, mtu int) (int, error) {
	if err := l.do(ctx, "mtu", 0, fmt.Sprintf("mtu %d", mtu)); err != nil {
		return 0, err
	}
	return min(mtu, 100), nil
}

func (l *fakeLink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closes++
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

var _ Link = (*fakeLink)(nil)

// linkDialer is a Dialer of fakeLinks. The first dial (Connect's) always succeeds; the
// reconnection attempts after it follow the script.
type linkDialer struct {
	script []error // one per reconnection attempt; nil = succeed; beyond the script: succeed
	// before, if set, runs first in each reconnection attempt; an error fails the attempt.
	before func(ctx context.Context) error
	// setup, if set, scripts link i (0 = Connect's) before it is returned.
	setup func(i int, l *fakeLink)

	mu    sync.Mutex
	links []*fakeLink
	n     int
}

func (d *linkDialer) dial(ctx context.Context, addr bt.Address, _ gogatt.ConnectOptions, sink Sink) (Link, error) {
	d.mu.Lock()
	i := d.n
	d.n++
	d.mu.Unlock()
	if i > 0 {
		if d.before != nil {
			if err := d.before(ctx); err != nil {
				return nil, err
			}
		}
		if j := i - 1; j < len(d.script) && d.script[j] != nil {
			return nil, d.script[j]
		}
	}
	l := newFakeLink(addr.String(), sink)
	if d.setup != nil {
		d.setup(i, l)
	}
	d.mu.Lock()
	d.links = append(d.links, l)
	d.mu.Unlock()
	return l, nil
}

// dials returns how many times dial was called (Connect's included).
func (d *linkDialer) dials() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// last returns the newest link.
func (d *linkDialer) last() *fakeLink {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.links[len(d.links)-1]
}

// connect runs Connect over dl.
func (d *linkDialer) connect(ctx context.Context, opts gogatt.ConnectOptions, g *Group) (gogatt.Device, *fakeLink, error) {
	dev, err := Connect(ctx, fakeAddr, opts, Config{Dial: d.dial, Group: g})
	if err != nil {
		return nil, nil, err
	}
	return dev, d.last(), nil
}
