package slackfake

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Fault is how the fake answers one call instead of (or before) answering it
// normally. The zero Fault answers normally.
type Fault struct {
	// Delay holds the answer back this long (or until the request or the
	// server ends). With no other field set the call is then answered normally.
	Delay time.Duration
	// Status answers with this HTTP status instead of 200: 429 with the body
	// {"ok":false,"error":"ratelimited"}, anything else with an HTML body as
	// Slack's front ends do for 5xx.
	Status int
	// RetryAfter is sent as the Retry-After header (seconds) with a 429 when
	// it is above zero. A 429 without it is what Slack sends when a workspace
	// has used up its message limit.
	RetryAfter int
	// Error answers HTTP 200 {"ok":false,"error":Error}, e.g. "channel_not_found".
	Error string
}

// IsZero reports whether f answers the call normally, without delay.
func (f Fault) IsZero() bool { return f == Fault{} }

// fails reports whether f replaces the normal answer.
func (f Fault) fails() bool { return f.Status != 0 || f.Error != "" }

// FaultFunc decides, per call, which Fault to inject. It sees the call's
// method, parameters, sequence number and time; it may be called from many
// goroutines at once and must not call the Server's methods that take its
// lock (all readers do).
type FaultFunc func(Call) Fault

// RateLimited is a 429 with Retry-After in seconds (0: without the header).
func RateLimited(retryAfter int) Fault { return Fault{Status: 429, RetryAfter: retryAfter} }

// Sometimes injects f into the given fraction (0…1) of the calls to methods
// (every method when none are named), drawn from a generator seeded with seed
// so that a failing test can be repeated. It is safe for concurrent use.
func Sometimes(fraction float64, seed uint64, f Fault, methods ...string) FaultFunc {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	return func(c Call) Fault {
		if len(methods) > 0 && !slices.Contains(methods, c.Method) {
			return Fault{}
		}
		mu.Lock()
		hit := rng.Float64() < fraction
		mu.Unlock()
		if hit {
			return f
		}
		return Fault{}
	}
}

// Chain asks each FaultFunc in turn and injects the first non-zero Fault.
func Chain(fs ...FaultFunc) FaultFunc {
	return func(c Call) Fault {
		for _, f := range fs {
			if f == nil {
				continue
			}
			if got := f(c); !got.IsZero() {
				return got
			}
		}
		return Fault{}
	}
}
