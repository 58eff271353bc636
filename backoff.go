package gogatt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of the reconnection backoff (see ConnectOptions.AutoReconnect).
const (
	DefaultReconnectMinDelay = 100 * time.Millisecond
	DefaultReconnectMaxDelay = 5 * time.Second
	// DefaultReconnectJitter is the jitter of the default policy: each delay is drawn uniformly
	// from the top 20 % of its exponential step, so that Devices that lost their links together
	// (an adapter reset) do not dial again in lockstep.
	DefaultReconnectJitter = 0.2
)

// Backoff is a reconnection policy, as paho.golang's autopaho expresses one: it returns how long
// to wait before a reconnection attempt, given the number of attempts that have failed since
// the link was lost — 0 before the first attempt, 1 before the second, and so on. A result of
// zero or less means at once.
//
// A Device calls its policy on a goroutine of the library's, never under a library lock and
// never concurrently with itself for the same Device; a policy shared by several Devices is
// called concurrently and must then be safe for that (those of ExponentialBackoff and
// ConstantBackoff are).
type Backoff func(failures int) time.Duration

// ExponentialBackoff returns a policy that dials at once after a loss, then waits
// d(n) = min(minDelay·2ⁿ⁻¹, maxDelay) after the n-th failed attempt, with jitter: the delay is
// drawn uniformly from [(1−jitter)·d(n), d(n)]. So no delay exceeds maxDelay nor falls below
// (1−jitter)·minDelay. Jitter 0 gives the plain doubling sequence; 1 is "full jitter" (uniform in
// [0, d(n)]) and 0.5 "equal jitter" (half fixed, half random), as named in "Exponential Backoff
// And Jitter" (AWS Architecture Blog, 2015). Any jitter above 0 keeps Devices that lost their
// links at the same moment from retrying in lockstep.
//
// The random numbers come from math/rand/v2's top-level functions (safe for concurrent use),
// so the policy holds no state and may be shared. ExponentialBackoff panics when minDelay is
// not positive, maxDelay is below minDelay or jitter is outside [0, 1].
func ExponentialBackoff(minDelay, maxDelay time.Duration, jitter float64) Backoff {
	return exponentialBackoff(minDelay, maxDelay, jitter, rand.Int64N)
}

// exponentialBackoff is ExponentialBackoff with the source of randomness given: int64n returns
// a uniform number in [0, n).
func exponentialBackoff(minDelay, maxDelay time.Duration, jitter float64, int64n func(n int64) int64) Backoff {
	if err := checkBackoff(minDelay, maxDelay, jitter); err != nil {
		panic("gogatt: ExponentialBackoff: " + err.Error())
	}
	return func(failures int) time.Duration {
		if failures <= 0 {
			return 0
		}
		d := minDelay
		for i := 1; i < failures && d < maxDelay; i++ {
			if d > maxDelay/2 {
				d = maxDelay
			} else {
				d = min(2*d, maxDelay)
			}
		}
		spread := time.Duration(jitter * float64(d))
		if spread <= 0 {
			return d
		}
		// float64(d) may round above d; keep d−spread ≥ 0 and spread+1 from overflowing.
		spread = min(spread, d, math.MaxInt64-1)
		return d - time.Duration(int64n(int64(spread)+1))
	}
}

// checkBackoff validates the parameters of an exponential backoff.
func checkBackoff(minDelay, maxDelay time.Duration, jitter float64) error {
	switch {
	case minDelay <= 0:
		return fmt.Errorf("minimum delay %v is not positive", minDelay)
	case maxDelay < minDelay:
		return fmt.Errorf("maximum delay %v is below minimum delay %v", maxDelay, minDelay)
	case !(jitter >= 0 && jitter <= 1): // also rejects NaN
		return fmt.Errorf("jitter %v is outside [0, 1]", jitter)
	}
	return nil
}

// ConstantBackoff returns a policy that dials at once after a loss, then waits d after every
// failed attempt. Without jitter, Devices that lost their links together retry together; prefer
// ExponentialBackoff with jitter when one program reconnects many Devices.
func ConstantBackoff(d time.Duration) Backoff {
	return func(failures int) time.Duration {
		if failures <= 0 {
			return 0
		}
		return d
	}
}

// ReconnectPolicy returns o.ReconnectBackoff or, when that is nil, the default policy:
// ExponentialBackoff(ReconnectMinDelay, ReconnectMaxDelay, DefaultReconnectJitter), where a zero
// ReconnectMinDelay means DefaultReconnectMinDelay, a zero ReconnectMaxDelay means
// DefaultReconnectMaxDelay, and a maximum below the minimum is raised to it.
func (o ConnectOptions) ReconnectPolicy() Backoff {
	if o.ReconnectBackoff != nil {
		return o.ReconnectBackoff
	}
	lo, hi := o.ReconnectMinDelay, o.ReconnectMaxDelay
	if lo <= 0 {
		lo = DefaultReconnectMinDelay
	}
	if hi <= 0 {
		hi = DefaultReconnectMaxDelay
	}
	return ExponentialBackoff(lo, max(hi, lo), DefaultReconnectJitter)
}

// checkReconnect validates the reconnection options (see Resolve).
func (o ConnectOptions) checkReconnect() error {
	switch {
	case o.ReconnectMinDelay < 0 || o.ReconnectMaxDelay < 0:
		return fmt.Errorf("%w: negative ReconnectMinDelay %v or ReconnectMaxDelay %v", ErrInvalidParameter, o.ReconnectMinDelay, o.ReconnectMaxDelay)
	case o.ReconnectMinDelay > 0 && o.ReconnectMaxDelay > 0 && o.ReconnectMaxDelay < o.ReconnectMinDelay:
		return fmt.Errorf("%w: ReconnectMaxDelay %v is below ReconnectMinDelay %v", ErrInvalidParameter, o.ReconnectMaxDelay, o.ReconnectMinDelay)
	case o.ReconnectAttempts < 0:
		return fmt.Errorf("%w: negative ReconnectAttempts %d", ErrInvalidParameter, o.ReconnectAttempts)
	case o.ReconnectBackoff != nil && (o.ReconnectMinDelay != 0 || o.ReconnectMaxDelay != 0):
		return fmt.Errorf("%w: ReconnectBackoff replaces ReconnectMinDelay and ReconnectMaxDelay; set one or the other", ErrInvalidParameter)
	}
	return nil
}
