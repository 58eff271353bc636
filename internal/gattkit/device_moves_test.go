package gattkit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/gogatt/gogatt"
	"github.com/gogatt/gogatt/bt"
)

func curState(w gogatt.Device) *linkState {
	d := w.(*device)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// Two subscriptions by UUID whose value handles swap across a reconnection (a firmware update
// reorders the database): apply() moves the first onto the second's handle (reg.Add replaces
// the second's handler), then moving the second Removes that handle, so the first is routed
// nowhere although it is still in d.subs.
func TestDeviceReconnectHandleSwap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		swapped := func() []gogatt.Service {
			s := linkTree()
			hr := &s[0].Characteristics[0] // Heart Rate Measurement 3 → 12
			hr.Handle, hr.ValueHandle, hr.EndHandle = 11, 12, 13
			hr.Descriptors = []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: 13}}
			bl := &s[1].Characteristics[0] // Battery Level 12 → 3
			bl.Handle, bl.ValueHandle, bl.EndHandle = 2, 3, 4
			bl.Descriptors = []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: 4}}
			return s
		}
		dl := &linkDialer{setup: func(i int, l *fakeLink) {
			if i > 0 {
				l.tree = swapped
			}
		}}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true}, nil)
		defer w.Disconnect()
		var mu sync.Mutex
		var got []string
		rec := func(name string) gogatt.NotificationHandler {
			return func(h uint16, v []byte) { mu.Lock(); got = append(got, fmt.Sprintf("%s@%d", name, h)); mu.Unlock() }
		}
		if err := w.Subscribe(t.Context(), chrHRM, rec("hrm"), gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := w.Subscribe(t.Context(), chrBL, rec("bl"), gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		raw.lose("gone")
		synctest.Wait()
		nd := dl.last()
		nd.notify(12, 1) // Heart Rate Measurement now
		nd.notify(3, 2)  // Battery Level now
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(got) // two subscriptions: no order between them
		if fmt.Sprint(got) != "[bl@3 hrm@12]" {
			t.Errorf("delivered %v, want [bl@3 hrm@12]", got)
		}
	})
}

// The Service Changed doc says "Subscribe again, by UUID, to follow a characteristic that
// moved". Doing so leaves the old record (old handle) in d.subs; Unsubscribe(uuid) forgets only
// the last record of that UUID, and the next reconnection re-resolves the old record to the new
// handle: the subscription is resurrected with the replaced handler after Unsubscribe.
func TestDeviceResubscribeAfterMoveResurrects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		moved := func() []gogatt.Service {
			s := linkTree()
			hr := &s[0].Characteristics[0]
			hr.Handle, hr.ValueHandle, hr.EndHandle = 0x22, 0x23, 0x24
			hr.Descriptors = []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: 0x24}}
			return s
		}
		dl := &linkDialer{setup: func(i int, l *fakeLink) {
			if i > 0 {
				l.tree = moved
			}
		}}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true}, nil)
		defer w.Disconnect()
		var mu sync.Mutex
		var got []string
		rec := func(name string) gogatt.NotificationHandler {
			return func(h uint16, v []byte) { mu.Lock(); got = append(got, fmt.Sprintf("%s@%d", name, h)); mu.Unlock() }
		}
		if err := w.Subscribe(t.Context(), chrHRM, rec("old"), gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		raw.tree = moved                   // the peer's database changed …
		curState(w).cache.Invalidate(0, 0) // … and said so (Service Changed)
		if err := w.Subscribe(t.Context(), chrHRM, rec("new"), gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := w.Unsubscribe(t.Context(), chrHRM); err != nil {
			t.Fatal(err)
		}
		if _, ok := statsOf(w, 3); ok {
			t.Errorf("after Unsubscribe(HRM) the old handle 3 is still routed")
		}
		raw.lose("gone")
		synctest.Wait()
		nd := dl.last()
		if c := fmt.Sprint(nd.calls("cfg")); c != "[]" {
			t.Errorf("re-applied after Unsubscribe: %s", c)
		}
		nd.notify(0x23, 1)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 0 {
			t.Errorf("handler called after Unsubscribe: %v", got)
		}
	})
}

// stepLink is a fakeLink that is Stepwise; hook runs (once) inside Declarations.
type stepLink struct {
	*fakeLink
	hook func()
}

func (l *stepLink) PrimaryServices(ctx context.Context) ([]gogatt.Service, error) {
	if err := l.do(ctx, "primary", 0, "primary"); err != nil {
		return nil, err
	}
	var out []gogatt.Service
	for _, s := range l.tree() {
		s.Characteristics = nil
		out = append(out, s)
	}
	return out, nil
}

func (l *stepLink) Declarations(ctx context.Context, start, end uint16) ([]gogatt.Characteristic, error) {
	if err := l.do(ctx, "decl", 0, "decl"); err != nil {
		return nil, err
	}
	var out []gogatt.Characteristic
	for _, s := range l.tree() {
		for _, c := range s.Characteristics {
			if c.Handle >= start && c.Handle <= end {
				c.Descriptors, c.EndHandle = nil, 0
				out = append(out, c)
			}
		}
	}
	if h := l.hook; h != nil {
		l.hook = nil
		h()
	}
	return out, nil
}

func (l *stepLink) Descriptors(ctx context.Context, start, end uint16) ([]gogatt.Descriptor, error) {
	if err := l.do(ctx, "desc", 0, fmt.Sprintf("desc %d-%d", start, end)); err != nil {
		return nil, err
	}
	var out []gogatt.Descriptor
	for _, s := range l.tree() {
		for _, c := range s.Characteristics {
			for _, d := range c.Descriptors {
				if d.Handle >= start && d.Handle <= end {
					out = append(out, d)
				}
			}
		}
	}
	return out, nil
}

// A Service Changed indication that arrives while the skeleton is being discovered: the stale
// skeleton is (rightly) not kept, but withDescriptors reads the generation only when it looks
// the descriptors up, i.e. after the Invalidate, so descriptors found over the STALE range are
// stored under the NEW generation, keyed by value handle. Every later subscription of that
// characteristic uses them until the next Service Changed.
func TestDeviceStepwiseStaleDescriptorsSurviveInvalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		newTree := func() []gogatt.Service {
			return []gogatt.Service{{UUID: svcHR, Handle: 1, EndHandle: 9, Characteristics: []gogatt.Characteristic{
				{UUID: chrHRM, Handle: 2, ValueHandle: 3, EndHandle: 5, Properties: gogatt.PropNotify,
					Descriptors: []gogatt.Descriptor{{UUID: gogatt.UUID16(0x2901), Handle: 4}, {UUID: gogatt.UUIDCCCD, Handle: 5}}},
				{UUID: chrDup, Handle: 6, ValueHandle: 7, EndHandle: 9, Properties: gogatt.PropRead | gogatt.PropNotify,
					Descriptors: []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: 9}}},
			}}}
		}
		var sl *stepLink
		dial := func(ctx context.Context, addr bt.Address, _ gogatt.ConnectOptions, sink Sink) (Link, error) {
			sl = &stepLink{fakeLink: newFakeLink(addr.String(), sink)}
			return sl, nil
		}
		w, err := Connect(t.Context(), fakeAddr, gogatt.ConnectOptions{}, Config{Dial: dial})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Disconnect()
		ls := curState(w)
		sl.hook = func() { sl.tree = newTree; ls.cache.Invalidate(0, 0) }
		_ = w.Subscribe(t.Context(), chrHRM, func(uint16, []byte) {}, gogatt.SubscribeOptions{}) // raced: may fail
		if err := w.Subscribe(t.Context(), chrHRM, func(uint16, []byte) {}, gogatt.SubscribeOptions{}); err != nil {
			t.Errorf("second Subscribe on the new database: %v (calls %v)", err, sl.calls())
		}
		svcs, err := w.Services(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		c, _ := gogatt.LookupCharacteristic(svcs, chrHRM)
		if h, ok := c.CCCD(); !ok || h != 5 {
			t.Errorf("Services: HRM descriptors %v, want CCCD at 5", c.Descriptors)
		}
	})
}

// Values that arrived on the old link before the loss and are still queued behind a slow
// handler are discarded when the reconnection finds the characteristic (subscribed by UUID) at
// another handle: apply() does reg.Remove(old) + reg.Add(new), which also resets the counters.
// The old wrapper kept one queue per subscription across moves; Connect's doc says "values
// keep their order across reconnections and SubscriptionStats count across them".
func TestDeviceMoveOnReconnectDiscardsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		moved := func() []gogatt.Service {
			s := linkTree()
			hr := &s[0].Characteristics[0]
			hr.Handle, hr.ValueHandle, hr.EndHandle = 0x22, 0x23, 0x24
			hr.Descriptors = []gogatt.Descriptor{{UUID: gogatt.UUIDCCCD, Handle: 0x24}}
			return s
		}
		dl := &linkDialer{setup: func(i int, l *fakeLink) {
			if i > 0 {
				l.tree = moved
			}
		}}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{AutoReconnect: true}, nil)
		defer w.Disconnect()
		release := make(chan struct{})
		var mu sync.Mutex
		var got []byte
		fn := func(h uint16, v []byte) {
			if v[0] == 1 {
				<-release
			}
			mu.Lock()
			got = append(got, v[0])
			mu.Unlock()
		}
		if err := w.Subscribe(t.Context(), chrHRM, fn, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		raw.notify(3, 1)
		raw.notify(3, 2)
		raw.notify(3, 3)
		synctest.Wait()
		raw.lose("gone")
		synctest.Wait()
		dl.last().notify(0x23, 4)
		synctest.Wait() // 4 is delivered while the handler is still blocked on 1: concurrent, reordered
		close(release)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(got) != "[1 2 3 4]" {
			t.Errorf("delivered %v, want [1 2 3 4]", got)
		}
		if st, _ := statsOf(w, 0x23); st.Received != 4 {
			t.Errorf("stats after move %+v, want Received 4", st)
		}
	})
}

// A subscription made by handle to one of two characteristics sharing a UUID: Unsubscribe(uuid)
// finds the record (and forgets it) but then resolves the UUID again, fails with
// AmbiguousUUIDError and never writes 0 to the CCCD it knows, so the peer keeps notifying.
func TestDeviceUnsubscribeByUUIDOfHandleSubscription(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := &linkDialer{}
		w, raw := mustConnect(t, dl, gogatt.ConnectOptions{}, nil)
		defer w.Disconnect()
		if err := w.SubscribeHandle(t.Context(), 6, func(uint16, []byte) {}, gogatt.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
		err := w.Unsubscribe(t.Context(), chrDup)
		if c := fmt.Sprint(raw.calls("cfg")); c != "[cfg 6 on cfg 6 off]" {
			t.Errorf("calls %s (err %v), want the CCCD of 6 cleared", c, err)
		}
	})
}
