package upgrade_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/drawbridge/drawbridge/wire"
)

// legacyDir holds a state file written by drawbridge before the run's facts were typed
// (storage schema version 2, Details maps), with dumps of the two Kong databases its live
// runs belong to. TestWriteLegacyState wrote it, with the code of that release.
const legacyDir = "testdata/state-v2"

// TestWriteLegacyState writes legacyDir. It ran once, at commit 0db9b8a (the last with
// Details maps), with DRAWBRIDGE_WRITE_LEGACY_STATE=1; it is kept to show how the file was
// made, and skips otherwise. Run today it would write today's format, which is not the
// point of the fixture: to write it again, check out that commit.
//
// The file holds runs in every state: on cluster "gate", one rejected, one rolled back,
// one aborted (all to 3.5.0), one succeeded (3.4.2 → 3.5.0) and one waiting at the gate
// (3.5.0 → 3.6.1); on cluster "watch", one in the middle of a one-hour watch
// (3.4.2 → 3.5.0); and, on
// clusters named "legacy-<state>", a copy of the rolled-back run's facts and steps in each
// remaining state. gate.dump and watch.dump are the two Kong databases at that moment.
func TestWriteLegacyState(t *testing.T) {
	if os.Getenv("DRAWBRIDGE_WRITE_LEGACY_STATE") == "" {
		t.Skip("wrote testdata/state-v2 at commit 0db9b8a; see the doc comment")
	}
	services(t)
	gate := kongtest.New(t, kongtest.Options{Nodes: 2, PG: sharedPG})
	watch := kongtest.New(t, kongtest.Options{Nodes: 2, PG: sharedPG})
	gateProm, watchProm := gate.StartPrometheus(t), watch.StartPrometheus(t)
	_, cfg := gate.WriteConfig(kongtest.ConfigOptions{Name: "gate", PrometheusURL: gateProm.URL(), Watch: 3 * time.Second, Extra: legacyChecks,
		Others: []kongtest.Other{{Name: "watch", Cluster: watch, PrometheusURL: watchProm.URL(), Watch: time.Hour}}})
	store, err := storage.Open(cfg.StateFile, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: store, notify: make(chan struct{}, 1)}
	opts := wire.EngineOptions(cfg, store, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	opts.Sink = upgrade.SinkFunc(h.emit)
	if h.engine, err = upgrade.New(opts); err != nil {
		t.Fatal(err)
	}
	if err := h.engine.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	start := func(cluster, to string) domain.RunID {
		t.Helper()
		run, err := h.engine.Start(ctx, upgrade.StartRequest{Cluster: cluster, To: to, RequestedBy: "U0OPERATOR"})
		if err != nil {
			t.Fatal(err)
		}
		h.waitState(run.ID, long, domain.StateAwaitingApproval)
		return run.ID
	}
	approve := func(id domain.RunID) {
		t.Helper()
		if _, err := h.engine.Approve(ctx, id, "U0APPROVER"); err != nil {
			t.Fatal(err)
		}
	}

	id := start("gate", "3.5.0")
	if _, err := h.engine.Reject(ctx, id, "U0APPROVER", "not this week"); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, long, domain.StateRejected)

	rolledBack := start("gate", "3.5.0")
	approve(rolledBack)
	h.waitState(rolledBack, long, domain.StateAwaitingDecommission)
	if _, err := h.engine.Rollback(ctx, rolledBack, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(rolledBack, long, domain.StateRolledBack)

	id = start("gate", "3.5.0")
	if _, err := h.engine.Abort(ctx, id, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, long, domain.StateAborted)

	id = start("gate", "3.5.0")
	approve(id)
	h.waitState(id, long, domain.StateAwaitingDecommission)
	if _, err := h.engine.Decommission(ctx, id, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(id, long, domain.StateSucceeded)

	id = start("watch", "3.5.0")
	approve(id)
	h.waitState(id, long, domain.StateWatching)
	t.Logf("watch run %s in its watch", id)

	atGate := start("gate", "3.6.1")
	t.Logf("gate run %s waiting at the gate", atGate)
	h.engine.Close()

	// The states the engine did not reach here: copies of the rolled-back run's facts and
	// steps, as the current store writes them.
	src, err := store.GetRun(ctx, rolledBack)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := store.Steps(ctx, rolledBack)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []domain.RunState{domain.StateScheduled, domain.StatePreparing, domain.StateExpired,
		domain.StateStopping, domain.StateMigrating, domain.StateStarting, domain.StateAwaitingDecommission,
		domain.StateFailedBeforeDowntime, domain.StateNeedsAttention,
		domain.StateRollingBack, domain.StateRollbackFailed} {
		r := src
		r.ID, r.Revision, r.Cluster, r.State = 0, 0, "legacy-"+string(st), domain.StatePreparing
		created, err := store.CreateRun(ctx, r, storage.AuditEvent{Actor: "fixture", Action: "copy", Detail: fmt.Sprintf("of run %s", rolledBack)})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			if err := store.PutStep(ctx, created.ID, s); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.UpdateRun(ctx, created.ID, func(r *domain.Run) error { r.State = st; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	out := os.Getenv("DRAWBRIDGE_WRITE_LEGACY_STATE_DIR")
	if out == "" {
		out = legacyDir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, cfg.StateFile, filepath.Join(out, "drawbridge.db"))
	for name, c := range map[string]*kongtest.Cluster{"gate": gate, "watch": watch} {
		cmd := exec.Command(filepath.Join(sharedPG.BinDir(), "pg_dump"), "-Fc", "-f", filepath.Join(out, name+".dump"), c.DSN())
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pg_dump %s: %v\n%s", name, err, b)
		}
	}
}

// legacyChecks are the fixture's watch checks: a baseline is taken (traffic), and a node
// restarting does not breach them.
const legacyChecks = `      checks:
        - name: datastore
          query: 'min(kong_datastore_reachable{ {{.Selector}} })'
          min: 1
        - name: traffic (req/s)
          query: 'sum(rate(kong_http_requests_total{ {{.Selector}} }[1m]))'
          min_ratio_to_baseline: 0.01`

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
