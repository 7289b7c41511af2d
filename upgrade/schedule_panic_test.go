package upgrade_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/nodecmd"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
)

// panicOnRun is the state store, except that reading one run panics while armed: a bug
// that hits one schedule.
type panicOnRun struct {
	*storage.Store
	run   domain.RunID
	armed atomic.Bool
}

func (p *panicOnRun) GetRun(ctx context.Context, id domain.RunID) (domain.Run, error) {
	if id == p.run && p.armed.Load() {
		panic("test: a bug while reading run " + id.String())
	}
	return p.Store.GetRun(ctx, id)
}

// noCluster is a cluster nobody can reach: a prepared run fails its preflight.
type noCluster struct{}

var errNoCluster = errors.New("test: no cluster here")

func (noCluster) Info(context.Context, config.Node) (kong.NodeInfo, error) {
	return kong.NodeInfo{}, errNoCluster
}
func (noCluster) Stopped(context.Context, config.Node) (bool, error) { return false, errNoCluster }
func (noCluster) WaitStopped(context.Context, config.Node, time.Duration) error {
	return errNoCluster
}
func (noCluster) WaitReady(context.Context, config.Node, string, time.Duration) (kong.NodeInfo, error) {
	return kong.NodeInfo{}, errNoCluster
}
func (noCluster) RunAll(_ context.Context, jobs []nodecmd.Job) []kong.CommandResult {
	return make([]kong.CommandResult, len(jobs))
}

// syncBuffer is a log destination the test reads while the engine writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSchedulerSurvivesAPanic: a panic while the scheduler handles one schedule is logged
// with its stack and that schedule is skipped this time; the other due schedule is
// prepared at once, and the skipped one a minute later, when the scheduler tries again.
func TestSchedulerSurvivesAPanic(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	clock := fakeclock.New(now)
	path := filepath.Join(t.TempDir(), "drawbridge.db")
	st, err := storage.Open(path, storage.Options{NoSync: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := &config.Config{StateFile: path,
		Access:   config.Access{RequiredApprovals: 1, ApprovalTimeout: config.Duration(time.Hour)},
		Clusters: []config.Cluster{{Name: "a", Nodes: []config.Node{{Name: "a-1"}}}, {Name: "b", Nodes: []config.Node{{Name: "b-1"}}}}}
	var ids []domain.RunID
	for _, cluster := range []string{"a", "b"} {
		opens := now.Add(2 * time.Hour)
		r, _, err := st.CreateScheduledRun(ctx,
			domain.Run{Cluster: cluster, From: "3.4.2", To: "3.5.0", State: domain.StateScheduled, RequestedBy: "U0OPERATOR", ScheduledFor: opens},
			storage.Schedule{Cluster: cluster, Version: "3.5.0", OpensAt: opens, ClosesAt: opens.Add(24 * time.Hour), RemindAt: now.Add(-time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	store := &panicOnRun{Store: st, run: ids[0]}
	store.armed.Store(true)
	var logs syncBuffer
	e, err := upgrade.New(upgrade.Options{Config: cfg, Store: store, Nodes: noCluster{},
		Commands: func(*config.Cluster, string) upgrade.Commands { return noCluster{} },
		OpenDB:   func(context.Context, *config.Cluster) (upgrade.Database, error) { return nil, errNoCluster },
		Clock:    clock, Log: slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), &logs), nil)), ShutdownGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	left := func(id domain.RunID) bool {
		r, err := st.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.State == domain.StateExpired {
			t.Fatalf("run %s expired: %s", id, r.Reason)
		}
		return r.State != domain.StateScheduled
	}
	poll := func(what string, cond func() bool, tick func()) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: gave up\nlogs:\n%s", what, logs.String())
			}
			if tick != nil {
				tick()
			}
			time.Sleep(10 * time.Millisecond) // polling the state file
		}
	}

	poll("the other schedule's run to prepare", func() bool { return left(ids[1]) }, nil)
	if left(ids[0]) {
		t.Fatal("the schedule whose handling panicked was acted on")
	}
	if l := logs.String(); !strings.Contains(l, "handling a schedule panicked") || !strings.Contains(l, "runtime/debug.Stack") {
		t.Errorf("the panic is not logged with its stack:\n%s", l)
	}
	store.armed.Store(false) // the bug is gone: the next try prepares it
	poll("the skipped schedule's run to prepare", func() bool { return left(ids[0]) }, func() { clock.Advance(10 * time.Second) })
}
