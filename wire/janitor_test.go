package wire

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/kong/pgdb"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// state is a state file and a backup directory on a fake clock: prod-eu's runs 1 (rolled
// back) and 2 (aborted), each with its archive; an idempotency key and a dead letter from t0.
type state struct {
	cfg   *config.Config
	clock *fakeclock.Clock
	store *storage.Store
}

func newState(t *testing.T, r config.Retention) *state {
	t.Helper()
	dir := t.TempDir()
	s := &state{clock: fakeclock.New(t0)}
	s.cfg = &config.Config{StateFile: filepath.Join(dir, "state.db"), BackupDir: filepath.Join(dir, "backups"),
		Slack:     config.Slack{BotToken: "xoxb-test", Command: "/kong-upgrade", Channel: "C0123456789", APIURL: "http://127.0.0.1:1/"},
		Access:    config.Access{Operators: []string{"U0OPERATOR"}, Approvers: []string{"U0APPROVER"}, RequiredApprovals: 1},
		Clusters:  []config.Cluster{{Name: "prod-eu"}},
		Retention: r}
	var err error
	if s.store, err = storage.Open(s.cfg.StateFile, storage.Options{NoSync: true, Now: s.clock.Now}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.store.Check(context.Background()); err != nil {
			t.Errorf("state file: %v", err)
		}
		s.store.Close()
	})
	ctx := t.Context()
	for _, st := range []domain.RunState{domain.StateRolledBack, domain.StateAborted} {
		run, err := s.store.CreateRun(ctx, domain.Run{Cluster: "prod-eu", To: "3.5.0", State: st})
		if err != nil {
			t.Fatal(err)
		}
		path := s.archive(run.ID)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("dump"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.store.ClaimKey(ctx, "action:old"); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	m, err := s.store.Enqueue(ctx, storage.OutboxMessage{Method: "chat.postMessage"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.FailOutbox(ctx, m.Seq, "channel_not_found"); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *state) archive(run domain.RunID) string {
	return filepath.Join(s.cfg.BackupDir, "prod-eu", run.String()+".dump")
}

func (s *state) exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	return err == nil
}

// poll waits until cond holds, checking every few milliseconds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after 30s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition
	}
}

// syncBuffer is a log destination the janitor's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestJanitor: the sweep at start forgets the idempotency keys older than their retention
// and deletes (and audits) the backup archives beyond the newest; an hour later the next
// sweep forgets the dead letter that has grown old meanwhile; it stops with its context.
func TestJanitor(t *testing.T) {
	s := newState(t, config.Retention{IdempotencyKeys: config.Duration(24 * time.Hour),
		DeadLetters: config.Duration(25*time.Hour + 30*time.Minute), BackupsPerCluster: 1})
	eng, err := upgrade.New(EngineOptions(s.cfg, s.store, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	s.clock.Set(t0.Add(25 * time.Hour))
	if ok, err := s.store.ClaimKey(t.Context(), "action:new"); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	var logs syncBuffer
	j := &janitor{store: s.store, backups: eng, retention: s.cfg.Retention, clock: s.clock,
		log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		j.run(ctx)
	}()

	poll(t, "the janitor asleep after its first sweep", func() bool { return s.clock.Waiters() == 1 })
	if ok, err := s.store.ClaimKey(t.Context(), "action:old"); !ok || err != nil {
		t.Errorf("the key claimed 25h ago is still claimed (%v, %v): a retention of 24h forgets it", ok, err)
	}
	if ok, _ := s.store.ClaimKey(t.Context(), "action:new"); ok {
		t.Error("the key claimed just now was forgotten")
	}
	if s.exists(t, s.archive(1)) || !s.exists(t, s.archive(2)) {
		t.Errorf("after keeping 1 archive: run 1's exists %v, run 2's %v; want only run 2's", s.exists(t, s.archive(1)), s.exists(t, s.archive(2)))
	}
	evs, err := s.store.Audit(t.Context(), storage.AuditFilter{Run: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Action != "backup_deleted" || evs[0].Actor != "drawbridge" || !strings.Contains(evs[0].Detail, s.archive(1)) {
		t.Errorf("run 1's audit: %+v; want the archive's deletion", evs)
	}
	if !strings.Contains(logs.String(), "deleted a backup archive") || !strings.Contains(logs.String(), "keys=1") {
		t.Errorf("the log does not say what the sweep did:\n%s", logs.String())
	}
	if dl, _ := s.store.DeadLetters(t.Context(), 0); len(dl) != 1 {
		t.Fatalf("%d dead letters after the first sweep, want the one 25h old (retention 25h30m)", len(dl))
	}

	s.clock.Advance(janitorEvery)
	poll(t, "the janitor's second sweep", func() bool {
		dl, err := s.store.DeadLetters(t.Context(), 0)
		return err == nil && len(dl) == 0
	})
	poll(t, "the janitor asleep again", func() bool { return s.clock.Waiters() == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the janitor did not stop with its context")
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the janitor logged errors:\n%s", logs.String())
	}
}

// TestJanitorZeroRetention: a retention left at zero (a Config built in code, without the
// file's defaults) keeps everything of its kind.
func TestJanitorZeroRetention(t *testing.T) {
	s := newState(t, config.Retention{})
	eng, err := upgrade.New(EngineOptions(s.cfg, s.store, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	s.clock.Advance(1000 * time.Hour)
	j := &janitor{store: s.store, backups: eng, retention: s.cfg.Retention, clock: s.clock, log: slog.New(slog.DiscardHandler)}
	j.sweep(t.Context())
	if ok, _ := s.store.ClaimKey(t.Context(), "action:old"); ok {
		t.Error("a key was forgotten")
	}
	if dl, _ := s.store.DeadLetters(t.Context(), 0); len(dl) != 1 {
		t.Error("the dead letter was forgotten")
	}
	if !s.exists(t, s.archive(1)) || !s.exists(t, s.archive(2)) {
		t.Error("an archive was deleted")
	}
}

// TestAppRunsJanitor: the App starts the janitor with the configured retention, and Close
// stops it.
func TestAppRunsJanitor(t *testing.T) {
	s := newState(t, config.Retention{IdempotencyKeys: config.Duration(24 * time.Hour), DeadLetters: config.Duration(720 * time.Hour), BackupsPerCluster: 1})
	app, err := NewApp(s.cfg, s.store, nil, AppOptions{Engine: func(o *upgrade.Options) { o.Clock = s.clock }})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	poll(t, "run 1's archive deleted", func() bool { return !s.exists(t, s.archive(1)) })
	closed := make(chan struct{})
	go func() {
		app.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	if !s.exists(t, s.archive(2)) {
		t.Error("the newest archive was deleted")
	}
}

// TestJanitorPrunesRecords: with retention.records the sweep prunes the change records of
// runs that ended before it, says so in the audit log, and the chain still verifies.
func TestJanitorPrunesRecords(t *testing.T) {
	s := newState(t, config.Retention{Records: config.Duration(24 * time.Hour)})
	eng, err := upgrade.New(EngineOptions(s.cfg, s.store, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	s.clock.Set(t0.Add(25 * time.Hour))
	j := &janitor{store: s.store, backups: eng, retention: s.cfg.Retention, clock: s.clock, log: slog.New(slog.DiscardHandler)}
	j.sweep(t.Context())
	if runs, err := s.store.ListRuns(t.Context(), storage.RunFilter{}); err != nil || len(runs) != 0 {
		t.Fatalf("runs after pruning: %d %v", len(runs), err)
	}
	evs, err := s.store.Audit(t.Context(), storage.AuditFilter{})
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Action != "records_pruned" || !strings.Contains(evs[len(evs)-1].Detail, "prod-eu: runs 1, 2") {
		t.Fatalf("audit after pruning: %+v %v", evs, err)
	}
	if v, err := s.store.VerifyAudit(t.Context()); err != nil || len(v.Problems) > 0 {
		t.Fatalf("verify: %v %v", v.Problems, err)
	}
}

// TestAppClearsLeftoverPassfiles: a killed drawbridge can leave a PGPASSFILE (a database
// password in clear) under the state directory; the next start removes it before anything
// else, and leaves other files alone.
func TestAppClearsLeftoverPassfiles(t *testing.T) {
	s := newState(t, config.Retention{})
	dir := PassfileDir(s.cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, strings.Replace(pgdb.PassfilePattern, "*", "12345", 1))
	other := filepath.Join(dir, "notes.txt")
	for _, f := range []string{left, other} {
		if err := os.WriteFile(f, []byte("*:*:*:kong:pw-of-kong\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	app, err := NewApp(s.cfg, s.store, nil, AppOptions{Engine: func(o *upgrade.Options) { o.Clock = s.clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the leftover password file %s is still there after the start: %v", left, err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("the start removed another file: %v", err)
	}
}
