package storage

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
)

// testClock is an injected clock that moves only when told to.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// newStore opens a fresh store in a temporary directory, with NoSync and the
// given clock (nil: a new testClock). Like bbolt's internal/btesting, it
// checks and closes the store when the test ends.
func newStore(t testing.TB, clock *testClock) *Store {
	t.Helper()
	if clock == nil {
		clock = newTestClock()
	}
	return openStore(t, filepath.Join(t.TempDir(), "drawbridge.db"), Options{NoSync: true, Now: clock.Now})
}

// openStore opens path and registers closeChecked for the end of the test.
func openStore(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { closeChecked(t, s) })
	return s
}

// closeChecked runs Check on s and closes it. A store the test already
// closed is left alone.
func closeChecked(t testing.TB, s *Store) {
	t.Helper()
	err := s.Check(context.Background())
	if errors.Is(err, ErrClosed) {
		return
	}
	if err != nil {
		t.Errorf("Check %s: %v", s.Path(), err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close %s: %v", s.Path(), err)
	}
}

// mustRun creates a run on cluster in state, failing the test on error.
func mustRun(t testing.TB, s *Store, cluster string, state domain.RunState) domain.Run {
	t.Helper()
	r, err := s.CreateRun(t.Context(), domain.Run{Cluster: cluster, From: "3.4.2", To: "3.9.1", State: state, RequestedBy: "U1"})
	if err != nil {
		t.Fatalf("CreateRun(%s, %s): %v", cluster, state, err)
	}
	return r
}

func wantErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one wrapping %v", err, target)
	}
}

// Child processes: the test binary re-executed with -test.run=TestHelperProcess.
const (
	helperModeEnv = "DRAWBRIDGE_STORAGE_HELPER"
	helperPathEnv = "DRAWBRIDGE_STORAGE_PATH"
	helperSeedEnv = "DRAWBRIDGE_STORAGE_SEED"
)

// helperCommand prepares a child process running TestHelperProcess in mode.
func helperCommand(t testing.TB, mode, path string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperModeEnv+"="+mode, helperPathEnv+"="+path)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}
