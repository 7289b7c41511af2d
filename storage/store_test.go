package storage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

func TestMigrationsMatchCurrentVersion(t *testing.T) {
	if len(migrations) != currentVersion {
		t.Fatalf("len(migrations) = %d, currentVersion = %d", len(migrations), currentVersion)
	}
	if migrations[0] != nil {
		t.Error("migrations[0] is set, but there is no schema version 0")
	}
	for v := 1; v < currentVersion; v++ {
		if migrations[v] == nil {
			t.Errorf("migrations[%d] (version %d to %d) is nil", v, v, v+1)
		}
	}
}

func TestOpenCreatesDirectoryAndFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "drawbridge.db")
	s := openStore(t, path, Options{NoSync: true})

	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode = %o, want 700", perm)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v, mode %v; want mode 0600", err, fi.Mode())
	}
	v, err := s.SchemaVersion(t.Context())
	if err != nil || v != currentVersion {
		t.Errorf("SchemaVersion() = %d, %v; want %d", v, err, currentVersion)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string) // writes the file to refuse
		opts    Options
		is      error
		wantMsg []string
	}{
		{
			name:    "negative lock timeout",
			prepare: func(*testing.T, string) {},
			opts:    Options{LockTimeout: -time.Second},
			wantMsg: []string{"lock timeout -1s is negative"},
		},
		{
			name: "newer schema",
			prepare: func(t *testing.T, path string) {
				writeRawBolt(t, path, func(tx *bolt.Tx) error {
					meta, err := tx.CreateBucket(bucketMeta)
					if err != nil {
						return err
					}
					return meta.Put(keySchemaVersion, u64Key(99))
				})
			},
			is:      ErrNewerSchema,
			wantMsg: []string{"has schema version 99", "understands up to 3", "upgrade drawbridge"},
		},
		{
			name: "someone else's bbolt file",
			prepare: func(t *testing.T, path string) {
				writeRawBolt(t, path, func(tx *bolt.Tx) error {
					_, err := tx.CreateBucket([]byte("pulls"))
					return err
				})
			},
			wantMsg: []string{"not a drawbridge state file", "pulls"},
		},
		{
			name: "not a bbolt file",
			prepare: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte(strings.Repeat("not bbolt\n", 2000)), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantMsg: []string{"open state file"},
		},
		{
			name: "malformed schema version",
			prepare: func(t *testing.T, path string) {
				writeRawBolt(t, path, func(tx *bolt.Tx) error {
					meta, err := tx.CreateBucket(bucketMeta)
					if err != nil {
						return err
					}
					return meta.Put(keySchemaVersion, []byte("2"))
				})
			},
			wantMsg: []string{"schema_version is malformed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "drawbridge.db")
			tt.prepare(t, path)
			s, err := Open(path, tt.opts)
			if err == nil {
				closeChecked(t, s)
				t.Fatal("Open succeeded, want an error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			// A refused file must have been closed again: its lock is free.
			if db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 100 * time.Millisecond}); err == nil {
				db.Close()
			} else if errors.Is(err, bolterrors.ErrTimeout) {
				t.Error("the refused file is still locked")
			}
		})
	}
}

// writeRawBolt creates a bbolt file at path with fn's contents.
func writeRawBolt(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestOpenLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "drawbridge.db")
	child := helperCommand(t, "hold", path)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	child.Stderr = &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // tells the child to close its store and exit
		if err := child.Wait(); err != nil {
			t.Errorf("child: %v; stderr:\n%s", err, stderr.String())
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("child said %q (%v), want ready; stderr:\n%s", line, err, stderr.String())
	}

	start := time.Now()
	s, err := Open(path, Options{NoSync: true})
	elapsed := time.Since(start)
	if err == nil {
		closeChecked(t, s)
		t.Fatal("Open of a locked file succeeded")
	}
	t.Logf("Open failed after %s: %v", elapsed, err)
	wantErrIs(t, err, ErrLocked)
	for _, m := range []string{path, "another drawbridge"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not contain %q", err, m)
		}
	}
	if elapsed > 1500*time.Millisecond {
		t.Errorf("Open took %s to fail, want at most 1.5s", elapsed)
	}
}

func TestValuesSurviveReopen(t *testing.T) {
	clock := newTestClock()
	path := filepath.Join(t.TempDir(), "drawbridge.db")
	opts := Options{Now: clock.Now} // fsync on: this is the real configuration
	ctx := t.Context()

	s := openStore(t, path, opts)
	run, err := s.CreateRun(ctx, domain.Run{
		Cluster: "prod", From: "3.4.2", To: "3.9.1", State: domain.StateAwaitingApproval, Force: true,
		RequestedBy: "U1", Window: "sunday", ScheduledFor: clock.Now().Add(time.Hour),
		Facts: domain.Facts{Backup: &domain.Backup{Path: "/var/backups/kong.dump", Size: 12 << 20, SHA256: "ab"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	step := domain.StepRecord{Index: 3, Name: "backup", Status: domain.StepSucceeded, Attempt: 1, StartedAt: clock.Now(), EndedAt: clock.Now().Add(time.Minute), OutputTail: "ok", Facts: domain.StepFacts{Backup: &domain.Backup{Path: "/var/backups/kong.dump", Size: 12 << 20}, Took: time.Second}}
	approval := domain.Approval{UserID: "U2", Decision: domain.DecisionApprove, Reason: "lgtm", At: clock.Now()}
	sched := Schedule{Run: run.ID, Cluster: "prod", Version: "3.9.1", Window: "sunday", OpensAt: clock.Now().Add(time.Hour), ClosesAt: clock.Now().Add(3 * time.Hour), RemindAt: clock.Now().Add(30 * time.Minute), CreatedBy: "U1", CreatedAt: clock.Now()}
	mustDo(t, s.PutStep(ctx, run.ID, step))
	mustDo(t, s.AddApproval(ctx, run.ID, approval))
	mustDo(t, s.PutSchedule(ctx, sched))
	ev, err := s.AppendAudit(ctx, AuditEvent{Run: run.ID, Actor: "U2", Action: "approve", Detail: "lgtm"})
	mustDo(t, err)
	posted, err := s.Enqueue(ctx, OutboxMessage{Run: run.ID, Method: "chat.postMessage", Key: "status-1", Payload: json.RawMessage(`{"text":"hi"}`)})
	mustDo(t, err)
	mustDo(t, s.CompleteOutbox(ctx, posted.Seq, MessageRef{Channel: "C1", TS: "1.2"}))
	pending, err := s.Enqueue(ctx, OutboxMessage{Run: run.ID, Method: "chat.update", Key: "status-1", Payload: json.RawMessage(`{"text":"update"}`)})
	mustDo(t, err)
	dead, err := s.Enqueue(ctx, OutboxMessage{Method: "chat.postMessage", Payload: json.RawMessage(`[1,2]`)})
	mustDo(t, err)
	mustDo(t, s.FailOutbox(ctx, dead.Seq, "channel_not_found"))
	if ok, err := s.ClaimKey(ctx, "action-1"); !ok || err != nil {
		t.Fatalf("ClaimKey = %v, %v", ok, err)
	}
	closeChecked(t, s)

	s = openStore(t, path, opts)
	got, err := s.GetRun(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "run", got, run)
	steps, err := s.Steps(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "steps", steps, []domain.StepRecord{step})
	approvals, err := s.Approvals(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "approvals", approvals, []domain.Approval{approval})
	gotSched, err := s.GetSchedule(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "schedule", gotSched, sched)
	events, err := s.Audit(ctx, AuditFilter{Run: run.ID})
	mustDo(t, err)
	assertEqual(t, "audit", events, []AuditEvent{ev})
	out, err := s.PendingOutbox(ctx, 0)
	mustDo(t, err)
	assertEqual(t, "pending outbox", out, []OutboxMessage{pending})
	dl, err := s.DeadLetters(ctx, 0)
	mustDo(t, err)
	dead.Attempts, dead.LastError, dead.DeadAt = 1, "channel_not_found", clock.Now()
	assertEqual(t, "dead letters", dl, []OutboxMessage{dead})
	ref, ok, err := s.MessageRef(ctx, "status-1")
	if !ok || err != nil || ref != (MessageRef{Channel: "C1", TS: "1.2"}) {
		t.Errorf("MessageRef = %+v, %v, %v", ref, ok, err)
	}
	if ok, err := s.ClaimKey(ctx, "action-1"); ok || err != nil {
		t.Errorf("ClaimKey after reopen = %v, %v; want false", ok, err)
	}
	if active, ok, err := s.ActiveRun(ctx, "prod"); !ok || err != nil || active.ID != run.ID {
		t.Errorf("ActiveRun after reopen = %v, %v, %v", active.ID, ok, err)
	}
}

func TestClosedStore(t *testing.T) {
	s := newStore(t, nil)
	run := mustRun(t, s, "prod", domain.StateScheduled)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	ctx := t.Context()
	calls := map[string]func() error{
		"Ping":          func() error { return s.Ping(ctx) },
		"Check":         func() error { return s.Check(ctx) },
		"SchemaVersion": func() error { _, err := s.SchemaVersion(ctx); return err },
		"CreateRun": func() error {
			_, err := s.CreateRun(ctx, domain.Run{Cluster: "x", State: domain.StateScheduled})
			return err
		},
		"GetRun": func() error { _, err := s.GetRun(ctx, run.ID); return err },
		"UpdateRun": func() error {
			_, err := s.UpdateRun(ctx, run.ID, func(*domain.Run) error { return nil })
			return err
		},
		"ListRuns":  func() error { _, err := s.ListRuns(ctx, RunFilter{}); return err },
		"ActiveRun": func() error { _, _, err := s.ActiveRun(ctx, "prod"); return err },
		"PutStep":   func() error { return s.PutStep(ctx, run.ID, domain.StepRecord{Status: domain.StepPending}) },
		"Steps":     func() error { _, err := s.Steps(ctx, run.ID); return err },
		"AddApproval": func() error {
			return s.AddApproval(ctx, run.ID, domain.Approval{UserID: "U", Decision: domain.DecisionApprove})
		},
		"Approvals":   func() error { _, err := s.Approvals(ctx, run.ID); return err },
		"AppendAudit": func() error { _, err := s.AppendAudit(ctx, AuditEvent{Action: "x"}); return err },
		"Audit":       func() error { _, err := s.Audit(ctx, AuditFilter{}); return err },
		"PutSchedule": func() error {
			return s.PutSchedule(ctx, Schedule{Run: run.ID, OpensAt: time.Now()})
		},
		"GetSchedule":    func() error { _, err := s.GetSchedule(ctx, run.ID); return err },
		"DeleteSchedule": func() error { return s.DeleteSchedule(ctx, run.ID) },
		"ListSchedules":  func() error { _, err := s.ListSchedules(ctx); return err },
		"Enqueue":        func() error { _, err := s.Enqueue(ctx, OutboxMessage{Method: "m"}); return err },
		"PendingOutbox":  func() error { _, err := s.PendingOutbox(ctx, 0); return err },
		"CompleteOutbox": func() error { return s.CompleteOutbox(ctx, 1, MessageRef{}) },
		"RetryOutbox":    func() error { return s.RetryOutbox(ctx, 1, time.Time{}, "") },
		"FailOutbox":     func() error { return s.FailOutbox(ctx, 1, "") },
		"DeadLetters":    func() error { _, err := s.DeadLetters(ctx, 0); return err },
		"MessageRef":     func() error { _, _, err := s.MessageRef(ctx, "k"); return err },
		"ClaimKey":       func() error { _, err := s.ClaimKey(ctx, "k"); return err },
		"PurgeKeys":      func() error { _, err := s.PurgeKeys(ctx, time.Now()); return err },
		"PurgeDeadLetters": func() error {
			_, err := s.PurgeDeadLetters(ctx, time.Now())
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { wantErrIs(t, call(), ErrClosed) })
	}
}

func TestCanceledContextWritesNothing(t *testing.T) {
	s := newStore(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.CreateRun(ctx, domain.Run{Cluster: "prod", State: domain.StateScheduled}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateRun = %v, want context.Canceled", err)
	}
	if _, err := s.AppendAudit(ctx, AuditEvent{Action: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("AppendAudit = %v, want context.Canceled", err)
	}
	runs, err := s.ListRuns(t.Context(), RunFilter{})
	if err != nil || len(runs) != 0 {
		t.Errorf("ListRuns = %v, %v; want nothing", runs, err)
	}
}

func TestCheckFindsBrokenInvariants(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(tx *bolt.Tx) error
		want    string
	}{
		{
			name:    "active run missing from index",
			corrupt: func(tx *bolt.Tx) error { return tx.Bucket(bucketActive).Delete([]byte("prod")) },
			want:    "missing from the active index",
		},
		{
			name:    "index names another cluster's run",
			corrupt: func(tx *bolt.Tx) error { return tx.Bucket(bucketActive).Put([]byte("staging"), u64Key(1)) },
			want:    `names run 1 for cluster "staging", but the run is on "prod"`,
		},
		{
			name:    "index names a terminal run",
			corrupt: func(tx *bolt.Tx) error { return tx.Bucket(bucketActive).Put([]byte("prod2"), u64Key(2)) },
			want:    `names run 2 for cluster "prod2", but the run is succeeded`,
		},
		{
			name:    "audit event missing from per-run index",
			corrupt: func(tx *bolt.Tx) error { return tx.Bucket(bucketAuditByRun).Delete(pairKey(1, 1)) },
			want:    "missing from audit_by_run",
		},
		{
			name:    "unknown record format",
			corrupt: func(tx *bolt.Tx) error { return tx.Bucket(bucketSteps).Put(pairKey(1, 9), []byte(`{"v":7}`)) },
			want:    "record format v7 is not supported",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, nil)
			mustRun(t, s, "prod", domain.StateWatching)
			mustRun(t, s, "prod2", domain.StateSucceeded)
			if _, err := s.AppendAudit(t.Context(), AuditEvent{Run: 1, Actor: "U1", Action: "start"}); err != nil {
				t.Fatal(err)
			}
			if err := s.Check(t.Context()); err != nil {
				t.Fatalf("Check before breaking: %v", err)
			}
			if err := s.db.Update(tt.corrupt); err != nil {
				t.Fatal(err)
			}
			err := s.Check(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check = %v, want an error containing %q", err, tt.want)
			}
			if err := s.Close(); err != nil { // skip the cleanup's Check
				t.Fatal(err)
			}
		})
	}
}

func TestUnknownRecordFormatIsAnError(t *testing.T) {
	s := newStore(t, nil)
	run := mustRun(t, s, "prod", domain.StateSucceeded)
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuns).Put(u64Key(uint64(run.ID)), []byte(`{"v":3,"id":1,"cluster":"prod","state":"succeeded"}`))
	})
	mustDo(t, err)
	_, err = s.GetRun(t.Context(), run.ID)
	if err == nil || !strings.Contains(err.Error(), "record format v3 is not supported") {
		t.Errorf("GetRun = %v, want a record format error", err)
	}
	mustDo(t, s.Close())
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func assertEqual[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}
