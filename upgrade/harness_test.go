package upgrade_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kong/pgdb"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/drawbridge/drawbridge/wire"
)

// The package's end-to-end tests share one PostgreSQL and one Prometheus server; each
// test gets its own database and its own kongsim cluster.
var (
	sharedPG   *testsvc.Postgres
	sharedProm *testsvc.Prometheus
	setupErr   error
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Getenv(helperEnv) != "" {
		return helperMain() // the kill test's engine process
	}
	ctx := context.Background()
	sharedPG, setupErr = testsvc.NewPostgres(ctx)
	if setupErr == nil {
		defer sharedPG.Close()
		sharedProm, setupErr = testsvc.NewPrometheus(ctx, testsvc.PrometheusConfig{})
		if setupErr == nil {
			defer sharedProm.Close()
		}
	}
	return m.Run()
}

func services(t testing.TB) {
	t.Helper()
	if setupErr != nil {
		if testsvc.ShouldSkip(setupErr) {
			t.Skipf("skipping: %v", setupErr)
		}
		t.Fatal(setupErr)
	}
}

// cluster is a kongsim cluster with drawbridge's configuration for it.
type cluster struct {
	*kongtest.Cluster
	t       testing.TB
	cfgPath string
	cfg     *config.Config
}

// clusterOpts shape a test cluster.
type clusterOpts struct {
	nodes        int
	version      string
	pg           *testsvc.Postgres // nil: the shared server
	autoRollback bool
	unverified   bool
	watch        time.Duration // default 1s
	parallelism  int           // default 10
	kongConf     map[string]string
	// prepare runs after the database is bootstrapped and seeded, before any node starts;
	// it starts the nodes itself.
	prepare func(kc *kongtest.Cluster)
	check   string // commands.check as YAML, e.g. [kongsim, plugins, …]
	// searchPath goes into drawbridge's database DSN (a cluster with pg_schema).
	searchPath string
	rehearsal  bool // the cluster rehearses Y's migrations on a copy
}

func newCluster(t testing.TB, o clusterOpts) *cluster {
	t.Helper()
	services(t)
	pg := o.pg
	if pg == nil {
		pg = sharedPG
	}
	kc := kongtest.New(t, kongtest.Options{Nodes: o.nodes, Version: o.version, PG: pg, Conf: o.kongConf, NoStart: o.prepare != nil})
	if o.prepare != nil {
		o.prepare(kc)
	}
	path, cfg := kc.WriteConfig(kongtest.ConfigOptions{PrometheusURL: sharedProm.URL(), AutoRollback: o.autoRollback,
		Unverified: o.unverified, Watch: o.watch, Parallelism: o.parallelism, Check: o.check, SearchPath: o.searchPath, Rehearsal: o.rehearsal})
	return &cluster{Cluster: kc, t: t, cfgPath: path, cfg: cfg}
}

// database opens the cluster's Kong database with drawbridge's adapter.
func (c *cluster) database() *pgdb.DB {
	c.t.Helper()
	db, err := pgdb.Open(context.Background(), c.cfg.Clusters[0].Database.DSN.Reveal(), pgdb.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	return db
}

// harness is an engine over a cluster, with the events it emitted.
type harness struct {
	t      testing.TB
	c      *cluster
	store  *storage.Store
	engine *upgrade.Engine
	mu     sync.Mutex
	events []domain.Event
	notify chan struct{}
}

func newHarness(t testing.TB, c *cluster, tweak func(*upgrade.Options)) *harness {
	t.Helper()
	store, err := storage.Open(c.cfg.StateFile, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, c.cfg, store, func(o *upgrade.Options) {
		*o = nodeWatch(*o)
		if tweak != nil {
			tweak(o)
		}
	})
	h.c = c
	return h
}

// startHarness runs an engine on cfg's clusters and store, with the real adapters (the
// Prometheus watch included) unless tweak changes them. The engine is closed, the state file
// checked and the store closed at cleanup.
func startHarness(t testing.TB, cfg *config.Config, store *storage.Store, tweak func(*upgrade.Options)) *harness {
	t.Helper()
	h := &harness{t: t, store: store, notify: make(chan struct{}, 1)}
	opts := wire.EngineOptions(cfg, store, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	opts.Sink = upgrade.SinkFunc(h.emit)
	if tweak != nil {
		tweak(&opts)
	}
	var err error
	if h.engine, err = upgrade.New(opts); err != nil {
		t.Fatal(err)
	}
	if err := h.engine.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.engine.Close()
		if err := store.Check(context.Background()); err != nil {
			t.Errorf("state file: %v", err)
		}
		store.Close()
	})
	return h
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func (h *harness) emit(e domain.Event) {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

// waitState waits until the run is in one of the states, failing on any terminal other
// state.
func (h *harness) waitState(id domain.RunID, timeout time.Duration, want ...domain.RunState) domain.Run {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		run, err := h.store.GetRun(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, w := range want {
			if run.State == w {
				return run
			}
		}
		if run.State.Terminal() || time.Now().After(deadline) {
			h.t.Fatalf("run %s is %s (%s), want %v\n%s", id, run.State, run.Reason, want, h.describe(id))
		}
		select {
		case <-h.notify:
		case <-time.After(100 * time.Millisecond): // also re-read the store now and then
		}
	}
}

// describe prints the run's steps for a failure message.
func (h *harness) describe(id domain.RunID) string {
	st, err := h.engine.Status(context.Background(), id)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, s := range st.Steps {
		fmt.Fprintf(&b, "  %-18s %-9s attempt %d %s\n", s.Name, s.Status, s.Attempt, s.Error)
		if s.OutputTail != "" {
			for _, l := range strings.Split(strings.TrimSpace(s.OutputTail), "\n") {
				fmt.Fprintf(&b, "      | %s\n", l)
			}
		}
	}
	return b.String()
}

func (h *harness) steps(id domain.RunID) map[string]domain.StepRecord {
	st, err := h.engine.Status(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]domain.StepRecord{}
	for _, s := range st.Steps {
		out[s.Name] = s
	}
	return out
}

// startToGate starts an upgrade of the test cluster to version, requested by U0OPERATOR,
// and waits until it awaits approval.
func (h *harness) startToGate(version string) domain.Run {
	h.t.Helper()
	run, err := h.engine.Start(h.t.Context(), upgrade.StartRequest{Cluster: "test", To: version, RequestedBy: "U0OPERATOR"})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.waitState(run.ID, long, domain.StateAwaitingApproval)
}

func (h *harness) audit(id domain.RunID) []storage.AuditEvent {
	evs, err := h.store.Audit(context.Background(), storage.AuditFilter{Run: id})
	if err != nil {
		h.t.Fatal(err)
	}
	return evs
}

// nodeWatch makes the engine watch node health instead of Prometheus: these tests are
// about the engine; the Prometheus watch has its own (promwatch, and bot's TestWatch*),
// and the shared Prometheus here scrapes nobody.
func nodeWatch(o upgrade.Options) upgrade.Options {
	o.Watcher, o.Baseliner, o.Series = nil, nil, nil
	return o
}
