// Package fakeclock is a clock for tests that moves only when told to: Now is what the
// test set, and After's channels fire when Advance (or Set) passes their deadline. The
// engine and the scheduler take it instead of the wall clock, so a test of a week's
// maintenance windows takes milliseconds.
package fakeclock

import (
	"sort"
	"sync"
	"time"
)

// Clock is a manual clock. The zero value is not usable; use New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	added   chan struct{} // signalled when a waiter is added
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// New returns a clock reading now.
func New(now time.Time) *Clock { return &Clock{now: now, added: make(chan struct{}, 1)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once it reaches now+d.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	select {
	case c.added <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves the clock forward by d, firing every timer it passes, in order.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never backwards), firing every timer it passes.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.now) {
		return
	}
	c.now = t
	sort.Slice(c.waiters, func(i, j int) bool { return c.waiters[i].at.Before(c.waiters[j].at) })
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// Waiters is how many timers are pending: a test can wait until the code under test is
// asleep on the clock before moving it.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}
