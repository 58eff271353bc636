package gattkit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/gogatt/gogatt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRegistryOrderAndCopy(t *testing.T) {
	r := NewRegistry()
	defer r.Close()
	const n = 5000
	var mu sync.Mutex
	var got [][]byte
	done := make(chan struct{})
	r.Add(0x10, func(h uint16, v []byte) {
		if h != 0x10 {
			t.Errorf("handle = %#x", h)
		}
		mu.Lock()
		got = append(got, v)
		if len(got) == n {
			close(done)
		}
		mu.Unlock()
	}, gogatt.SubscribeOptions{})
	buf := make([]byte, 2)
	for i := range n {
		buf[0], buf[1] = byte(i), byte(i>>8)
		if !r.Dispatch(0x10, buf) {
			t.Fatal("Dispatch = false")
		}
		buf[0], buf[1] = 0xff, 0xff // the registry must have copied
	}
	<-done
	for i, v := range got {
		if int(v[0])|int(v[1])<<8 != i {
			t.Fatalf("value %d = %v: out of order or not copied", i, v)
		}
	}
	st, ok := r.Stats(0x10)
	if !ok || st.Received != n || st.Dropped != 0 {
		t.Errorf("stats = %+v, %v", st, ok)
	}
}

func TestRegistryDispatchNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		release := make(chan struct{})
		var got []int
		r.Add(1, func(_ uint16, v []byte) {
			<-release
			got = append(got, int(v[0]))
		}, gogatt.SubscribeOptions{})
		for i := range 100 {
			r.Dispatch(1, []byte{byte(i)})
		}
		synctest.Wait()
		st, _ := r.Stats(1)
		if st.Received != 100 || st.Delivered != 0 || st.Queued != 99 {
			t.Errorf("while blocked: %+v", st)
		}
		close(release)
		r.Close()
		if len(got) != 100 {
			t.Fatalf("delivered %d, want 100", len(got))
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("got[%d] = %d", i, v)
			}
		}
		st, _ = r.Stats(1)
		if st.Delivered != 100 || st.Queued != 0 {
			t.Errorf("after Close: %+v", st)
		}
		if r.Dispatch(1, []byte{1}) {
			t.Error("Dispatch after Close = true")
		}
	})
}

func TestRegistryQueueLimitDropsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		release := make(chan struct{})
		var got []int
		r.Add(7, func(_ uint16, v []byte) {
			<-release
			got = append(got, int(v[0]))
		}, gogatt.SubscribeOptions{QueueLimit: 3})
		r.Dispatch(7, []byte{0})
		synctest.Wait() // value 0 is now in the handler, not queued
		for i := 1; i <= 10; i++ {
			r.Dispatch(7, []byte{byte(i)})
		}
		st, _ := r.Stats(7)
		if st.Queued != 3 || st.Dropped != 7 || st.Received != 11 {
			t.Errorf("stats = %+v", st)
		}
		close(release)
		r.Close()
		if want := []int{0, 8, 9, 10}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("delivered %v, want %v", got, want)
		}
	})
}

func TestRegistryNoSubscriber(t *testing.T) {
	r := NewRegistry()
	defer r.Close()
	if r.Dispatch(3, []byte{1}) {
		t.Error("Dispatch without subscriber = true")
	}
	if r.Remove(3) {
		t.Error("Remove of nothing = true")
	}
	if _, ok := r.Stats(3); ok {
		t.Error("Stats of nothing ok")
	}
	if r.Has(3) {
		t.Error("Has = true")
	}
}

func TestRegistryRemoveDiscardsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		release := make(chan struct{})
		calls := 0
		r.Add(1, func(uint16, []byte) { <-release; calls++ }, gogatt.SubscribeOptions{})
		for range 5 {
			r.Dispatch(1, nil)
		}
		synctest.Wait()
		if !r.Remove(1) {
			t.Fatal("Remove = false")
		}
		close(release)
		r.Close()
		if calls != 1 {
			t.Errorf("handler called %d times after Remove, want 1 (the one in progress)", calls)
		}
		if len(r.Subscriptions()) != 0 {
			t.Error("subscription still listed")
		}
	})
}

// A handler may change the registry (as Device.Subscribe/Unsubscribe would) without deadlock.
func TestRegistryReentrantHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		var second []byte
		r.Add(1, func(h uint16, v []byte) {
			r.Add(2, func(_ uint16, v []byte) { second = v }, gogatt.SubscribeOptions{Indication: true})
			r.Remove(1)
			r.Dispatch(2, []byte("hi"))
			_ = r.Subscriptions()
			_, _ = r.Stats(2)
		}, gogatt.SubscribeOptions{})
		r.Dispatch(1, []byte{0})
		synctest.Wait()
		r.Close()
		if string(second) != "hi" {
			t.Errorf("second handler got %q", second)
		}
		subs := r.Subscriptions()
		if len(subs) != 1 || !subs[2].Indication {
			t.Errorf("subscriptions = %v", subs)
		}
	})
}

// Replacing a handler keeps the queue and its order.
func TestRegistryReplaceHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		release := make(chan struct{})
		var a, b []int
		r.Add(1, func(_ uint16, v []byte) { <-release; a = append(a, int(v[0])) }, gogatt.SubscribeOptions{})
		for i := range 3 {
			r.Dispatch(1, []byte{byte(i)})
		}
		synctest.Wait()
		r.Add(1, func(_ uint16, v []byte) { b = append(b, int(v[0])) }, gogatt.SubscribeOptions{})
		close(release)
		r.Close()
		if fmt.Sprint(a, b) != "[0] [1 2]" {
			t.Errorf("old handler %v, new handler %v", a, b)
		}
	})
}

func TestRegistryManySubscriptionsConcurrently(t *testing.T) {
	r := NewRegistry()
	const subs, n = 8, 2000
	var wg sync.WaitGroup
	last := make([]int, subs)
	for h := range subs {
		r.Add(uint16(h+1), func(h uint16, v []byte) {
			i := int(v[0]) | int(v[1])<<8
			if i != last[h-1] {
				t.Errorf("handle %d: got %d, want %d", h, i, last[h-1])
			}
			last[h-1]++
		}, gogatt.SubscribeOptions{})
	}
	for h := range subs {
		wg.Go(func() {
			for i := range n {
				r.Dispatch(uint16(h+1), []byte{byte(i), byte(i >> 8)})
			}
		})
	}
	wg.Wait()
	r.Close()
	for h := range subs {
		if last[h] != n {
			t.Errorf("handle %d delivered %d", h+1, last[h])
		}
		st, _ := r.Stats(uint16(h + 1))
		if st.Delivered != n {
			t.Errorf("handle %d stats %+v", h+1, st)
		}
	}
}

func TestRegistryCloseAsyncFromHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		var closed <-chan struct{}
		r.Add(1, func(uint16, []byte) { closed = r.CloseAsync() }, gogatt.SubscribeOptions{})
		r.Dispatch(1, nil)
		synctest.Wait()
		<-closed
		r.Close() // idempotent
	})
}

func BenchmarkRegistryDelivery(b *testing.B) {
	for _, size := range []int{20, 244} {
		b.Run(fmt.Sprintf("value=%dB", size), func(b *testing.B) {
			r := NewRegistry()
			var delivered int
			r.Add(0x2a, func(uint16, []byte) { delivered++ }, gogatt.SubscribeOptions{})
			v := make([]byte, size)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.Dispatch(0x2a, v)
			}
			r.Close() // wait for every handler call
			b.StopTimer()
			if delivered != b.N {
				b.Fatalf("delivered %d of %d", delivered, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
		})
	}
}

// BenchmarkRegistryDeliveryParallel dispatches to 8 subscriptions from parallel goroutines.
func BenchmarkRegistryDeliveryParallel(b *testing.B) {
	r := NewRegistry()
	const subs = 8
	var mu sync.Mutex
	next := 0
	for h := range subs {
		r.Add(uint16(h), func(uint16, []byte) {}, gogatt.SubscribeOptions{})
	}
	v := make([]byte, 20)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		h := uint16(next % subs)
		next++
		mu.Unlock()
		for pb.Next() {
			r.Dispatch(h, v)
		}
	})
	r.Close()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notifications/s")
}

// Stop ends delivery at once — from outside or from the blocked handler itself: the queued
// values are discarded and counted, nothing is accepted any more, no handler call starts after
// it returns, and the call in progress finishes.
func TestRegistryStop(t *testing.T) {
	for _, inside := range []bool{false, true} {
		t.Run(fmt.Sprintf("fromHandler=%v", inside), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := NewRegistry()
				backlog, release := make(chan struct{}), make(chan struct{})
				stopped := make(chan struct{})
				calls := 0
				r.Add(1, func(uint16, []byte) {
					if calls++; calls > 1 {
						return
					}
					<-backlog
					if inside {
						r.Stop()
						close(stopped)
					}
					<-release
				}, gogatt.SubscribeOptions{})
				for i := range 10 {
					r.Dispatch(1, []byte{byte(i)})
				}
				synctest.Wait()
				close(backlog)
				if inside {
					<-stopped
				} else {
					r.Stop()
				}
				select {
				case <-r.CloseAsync():
				default:
					t.Error("CloseAsync's channel still open after Stop")
				}
				if st, _ := r.Stats(1); st.Received != 10 || st.Queued != 0 || st.Discarded != 9 || st.Delivered != 0 {
					t.Errorf("after Stop, one call running: %+v", st)
				}
				if r.Dispatch(1, []byte{10}) {
					t.Error("Dispatch after Stop = true")
				}
				close(release)
				synctest.Wait()
				if calls != 1 {
					t.Errorf("handler called %d times, want 1", calls)
				}
				if st, _ := r.Stats(1); st.Received != 10 || st.Delivered != 1 || st.Discarded != 9 {
					t.Errorf("after the running call: %+v", st)
				}
				r.Stop() // idempotent
				r.Close()
			})
		})
	}
}

// After a loss (CloseAsync) the queued values keep being delivered; a later Stop discards the
// rest.
func TestRegistryStopAfterCloseAsync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		step := make(chan struct{})
		var got []int
		r.Add(1, func(_ uint16, v []byte) {
			<-step
			got = append(got, int(v[0]))
		}, gogatt.SubscribeOptions{})
		for i := range 5 {
			r.Dispatch(1, []byte{byte(i)})
		}
		drained := r.CloseAsync()
		step <- struct{}{}
		step <- struct{}{} // two values delivered after the loss; the third call is waiting
		synctest.Wait()
		select {
		case <-drained:
			t.Fatal("drained with values queued")
		default:
		}
		r.Stop()
		<-drained
		close(step)
		synctest.Wait()
		if fmt.Sprint(got) != "[0 1 2]" {
			t.Errorf("delivered %v", got)
		}
		if st, _ := r.Stats(1); st.Delivered != 3 || st.Discarded != 2 {
			t.Errorf("stats %+v", st)
		}
	})
}

// A Group's Stop ends every member registry, including one still draining after a loss; a
// registry made afterwards starts stopped; registries leave the group once their delivery ends.
func TestGroupStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Group
		release := make(chan struct{})
		var calls atomic.Int32 // two registries: two delivery goroutines
		block := func(uint16, []byte) { calls.Add(1); <-release }
		live, lost, idle := g.NewRegistry(), g.NewRegistry(), g.NewRegistry()
		live.Add(1, block, gogatt.SubscribeOptions{})
		lost.Add(1, block, gogatt.SubscribeOptions{})
		for range 3 {
			live.Dispatch(1, nil)
			lost.Dispatch(1, nil)
		}
		lost.CloseAsync()
		<-idle.CloseAsync() // nothing to drain: it leaves the group at once
		synctest.Wait()
		if len(g.members) != 2 {
			t.Errorf("%d members, want 2", len(g.members))
		}
		g.Stop()
		for _, r := range []*Registry{live, lost} {
			if st, _ := r.Stats(1); st.Queued != 0 || st.Discarded != 2 {
				t.Errorf("after group Stop: %+v", st)
			}
		}
		if late := g.NewRegistry(); late.Dispatch(1, nil) || len(g.members) != 0 {
			t.Error("a registry made after the group's Stop accepts values or joined")
		}
		close(release)
		synctest.Wait()
		if c := calls.Load(); c != 2 {
			t.Errorf("handler calls %d, want 2 (one per registry, running at Stop)", c)
		}
		g.Stop() // idempotent
	})
}
