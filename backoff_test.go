package gogatt

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// seeded returns a deterministic source for exponentialBackoff.
func seeded(seed uint64) func(int64) int64 {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).Int64N
}

// step is the un-jittered delay after the n-th failure: min(lo·2ⁿ⁻¹, hi).
func step(lo, hi time.Duration, n int) time.Duration {
	if k := n - 1; k < 63 && lo <= hi>>k {
		return lo << k
	}
	return hi
}

func TestExponentialBackoffBounds(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		lo, hi time.Duration
		jitter float64
	}{
		{"no jitter", 100 * ms, 5 * time.Second, 0},
		{"default jitter", 100 * ms, 5 * time.Second, DefaultReconnectJitter},
		{"equal jitter", 10 * ms, 250 * ms, 0.5},
		{"full jitter", 10 * ms, 250 * ms, 1},
		{"min equals max", 300 * ms, 300 * ms, 0.3},
		{"one nanosecond", 1, 1, 1},
		{"max is the largest duration", time.Second, math.MaxInt64, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := exponentialBackoff(tc.lo, tc.hi, tc.jitter, seeded(1))
			if d := b(0); d != 0 {
				t.Errorf("before the first attempt: %v, want 0 (at once)", d)
			}
			prevHi := time.Duration(0)
			for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 10, 20, 40, 63, 64, 100, 1 << 20, math.MaxInt} {
				hi := step(tc.lo, tc.hi, n)
				lo := hi - time.Duration(tc.jitter*float64(hi))
				if hi < prevHi || hi > tc.hi {
					t.Fatalf("step %d = %v: not monotone up to the cap %v (previous %v)", n, hi, tc.hi, prevHi)
				}
				prevHi = hi
				for range 50 {
					if d := b(n); d < max(lo, 0) || d > hi {
						t.Fatalf("after %d failures: %v outside [%v, %v]", n, d, lo, hi)
					}
				}
			}
			if tc.jitter == 0 {
				var got []time.Duration
				for n := range 9 {
					got = append(got, b(n))
				}
				want := []time.Duration{0, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms}
				if !slices.Equal(got, want) {
					t.Errorf("sequence %v, want %v", got, want)
				}
			}
		})
	}
}

// The jitter covers its whole range, uniformly: full jitter of a 1 s step averages 0.5 s and
// reaches both ends.
func TestExponentialBackoffJitterDistribution(t *testing.T) {
	b := exponentialBackoff(time.Second, time.Second, 1, seeded(7))
	var sum, lo, hi time.Duration = 0, time.Second, 0
	const draws = 20000
	for range draws {
		d := b(1)
		sum += d
		lo, hi = min(lo, d), max(hi, d)
	}
	if mean := sum / draws; mean < 480*time.Millisecond || mean > 520*time.Millisecond {
		t.Errorf("mean %v, want about 500ms", mean)
	}
	if lo > 10*time.Millisecond || hi < 990*time.Millisecond {
		t.Errorf("range [%v, %v], want about [0, 1s]", lo, hi)
	}
}

// Two Devices lost at the same moment do not retry in lockstep: their policies (different
// sources) give different sequences; the same source gives the same sequence.
func TestExponentialBackoffNoLockstep(t *testing.T) {
	seq := func(b Backoff) []time.Duration {
		var s []time.Duration
		for n := range 12 {
			s = append(s, b(n))
		}
		return s
	}
	lo, hi := DefaultReconnectMinDelay, DefaultReconnectMaxDelay
	a := seq(exponentialBackoff(lo, hi, DefaultReconnectJitter, seeded(1)))
	b := seq(exponentialBackoff(lo, hi, DefaultReconnectJitter, seeded(2)))
	if slices.Equal(a, b) {
		t.Errorf("two sources, one sequence: %v", a)
	}
	if again := seq(exponentialBackoff(lo, hi, DefaultReconnectJitter, seeded(1))); !slices.Equal(a, again) {
		t.Errorf("same seed, different sequences:\n%v\n%v", a, again)
	}
	for i := 1; i < len(a); i++ {
		if a[i] == b[i] {
			t.Errorf("after %d failures both wait %v", i, a[i])
		}
	}
	// The public constructor draws from math/rand/v2: the chance of two equal sequences of 11
	// delays with 20 % jitter at nanosecond resolution is below 10⁻⁸⁰.
	p, q := ExponentialBackoff(lo, hi, DefaultReconnectJitter), ExponentialBackoff(lo, hi, DefaultReconnectJitter)
	if x, y := seq(p), seq(q); slices.Equal(x, y) {
		t.Errorf("ExponentialBackoff twice, one sequence: %v", x)
	}
}

func TestConstantBackoff(t *testing.T) {
	b := ConstantBackoff(250 * time.Millisecond)
	var got []time.Duration
	for n := range 5 {
		got = append(got, b(n))
	}
	if want := []time.Duration{0, 250e6, 250e6, 250e6, 250e6}; !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

func TestExponentialBackoffPanics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi time.Duration
		jitter float64
	}{
		{"zero min", 0, time.Second, 0},
		{"negative min", -1, time.Second, 0},
		{"max below min", time.Second, time.Millisecond, 0},
		{"negative jitter", time.Millisecond, time.Second, -0.1},
		{"jitter above 1", time.Millisecond, time.Second, 1.1},
		{"NaN jitter", time.Millisecond, time.Second, math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			ExponentialBackoff(tc.lo, tc.hi, tc.jitter)
		})
	}
}

// The default policy is the one documented on ConnectOptions.ReconnectBackoff.
func TestReconnectPolicy(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		o      ConnectOptions
		lo, hi time.Duration // of the exponential steps
	}{
		{"defaults", ConnectOptions{}, 100 * ms, 5 * time.Second},
		{"min and max", ConnectOptions{ReconnectMinDelay: 50 * ms, ReconnectMaxDelay: 200 * ms}, 50 * ms, 200 * ms},
		{"only min", ConnectOptions{ReconnectMinDelay: 20 * ms}, 20 * ms, 5 * time.Second},
		{"only max", ConnectOptions{ReconnectMaxDelay: time.Second}, 100 * ms, time.Second},
		{"only min, above the default max", ConnectOptions{ReconnectMinDelay: 10 * time.Second}, 10 * time.Second, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.o.ReconnectPolicy()
			if d := b(0); d != 0 {
				t.Errorf("first attempt after %v, want at once", d)
			}
			jittered := false
			for n := 1; n <= 12; n++ {
				hi := step(tc.lo, tc.hi, n)
				lo := hi - time.Duration(0.2*float64(hi))
				for range 20 {
					d := b(n)
					if d < lo || d > hi {
						t.Fatalf("after %d failures: %v outside [%v, %v]", n, d, lo, hi)
					}
					jittered = jittered || d != hi
				}
			}
			if !jittered {
				t.Error("the default policy has no jitter")
			}
		})
	}
	own := ConstantBackoff(42 * ms)
	if d := (ConnectOptions{ReconnectBackoff: own}).ReconnectPolicy()(3); d != 42*ms {
		t.Errorf("ReconnectBackoff not used: %v", d)
	}
}

func TestConnectOptionsResolveReconnect(t *testing.T) {
	ms := time.Millisecond
	def := ConnParams{60, 76, 0, 100}
	for _, tc := range []struct {
		name string
		o    ConnectOptions
		err  string
	}{
		{"min and max", ConnectOptions{ReconnectMinDelay: 10 * ms, ReconnectMaxDelay: 10 * ms, ReconnectAttempts: 3}, ""},
		{"policy", ConnectOptions{ReconnectBackoff: ConstantBackoff(ms), ReconnectAttempts: 3}, ""},
		{"negative min", ConnectOptions{ReconnectMinDelay: -ms}, "negative ReconnectMinDelay"},
		{"negative max", ConnectOptions{ReconnectMaxDelay: -ms}, "ReconnectMaxDelay -1ms"},
		{"max below min", ConnectOptions{ReconnectMinDelay: time.Second, ReconnectMaxDelay: ms}, "ReconnectMaxDelay 1ms is below ReconnectMinDelay 1s"},
		{"negative attempts", ConnectOptions{ReconnectAttempts: -1}, "negative ReconnectAttempts -1"},
		{"policy and min", ConnectOptions{ReconnectBackoff: ConstantBackoff(ms), ReconnectMinDelay: ms}, "set one or the other"},
		{"policy and max", ConnectOptions{ReconnectBackoff: ConstantBackoff(ms), ReconnectMaxDelay: ms}, "set one or the other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.o.Resolve()
			want := def
			if tc.err != "" {
				want = ConnParams{}
			}
			checkResolve(t, got, err, want, tc.err)
		})
	}
}
