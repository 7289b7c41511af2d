package storage

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClaimKey(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	for i, want := range []bool{true, false, false} {
		got, err := s.ClaimKey(ctx, "action:1700000000.1")
		if err != nil || got != want {
			t.Errorf("claim #%d = %v, %v; want %v", i+1, got, err, want)
		}
	}
	if got, err := s.ClaimKey(ctx, "action:1700000000.2"); err != nil || !got {
		t.Errorf("claim of another key = %v, %v; want true", got, err)
	}
	if _, err := s.ClaimKey(ctx, ""); err == nil {
		t.Error("ClaimKey(\"\") succeeded")
	}
}

func TestClaimKeyConcurrently(t *testing.T) {
	s := newStore(t, nil)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			ok, err := s.ClaimKey(t.Context(), "envelope-1")
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d goroutines claimed one key, want 1", n)
	}
}

func TestPurgeKeys(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	start := clock.Now()
	// 1,000 old keys (enough to span many pages) and 10 recent ones.
	claimAll(t, s, "old-%04d", 1000)
	clock.Advance(time.Hour)
	for i := range 10 {
		if ok, err := s.ClaimKey(ctx, fmt.Sprintf("new-%d", i)); !ok || err != nil {
			t.Fatalf("claim new-%d = %v, %v", i, ok, err)
		}
	}
	n, err := s.PurgeKeys(ctx, start.Add(time.Minute))
	if err != nil || n != 1000 {
		t.Fatalf("PurgeKeys = %d, %v; want 1000", n, err)
	}
	claimAll(t, s, "old-%04d", 1000) // purged: claimable again
	for i := range 10 {
		if ok, _ := s.ClaimKey(ctx, fmt.Sprintf("new-%d", i)); ok {
			t.Errorf("new-%d was purged", i)
		}
	}
	if n, err := s.PurgeKeys(ctx, start); n != 0 || err != nil {
		t.Errorf("PurgeKeys(nothing older) = %d, %v", n, err)
	}
}

// claimAll claims n keys (format with 0…n-1) at once, as a burst of Slack requests would,
// and fails unless every claim is the first.
func claimAll(t *testing.T, s *Store, format string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf(format, i)
			if ok, err := s.ClaimKey(t.Context(), key); !ok || err != nil {
				t.Errorf("claim %s = %v, %v; want true", key, ok, err)
			}
		})
	}
	wg.Wait()
}
