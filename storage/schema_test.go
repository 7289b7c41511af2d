package storage

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite testdata/schema-v1.db (TestGenerateSchemaV1)")

const schemaV1Fixture = "testdata/schema-v1.db"

// TestGenerateSchemaV1 writes testdata/schema-v1.db as drawbridge schema
// version 1 wrote it: the v2 buckets without audit_by_run. It uses raw bbolt
// and literal JSON, not this package's encoders, so the fixture stays what
// version 1 stored. Run it with:
//
//	go test ./storage -run TestGenerateSchemaV1 -args -update
func TestGenerateSchemaV1(t *testing.T) {
	if !*update {
		t.Skip("run with -args -update to rewrite " + schemaV1Fixture)
	}
	tmp := filepath.Join(t.TempDir(), "schema-v1.db")
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	mustDo(t, err)
	err = db.Update(func(tx *bolt.Tx) error {
		buckets := map[string]*bolt.Bucket{}
		for _, name := range []string{"meta", "runs", "active", "steps", "approvals", "audit", "schedules", "outbox", "outbox_dead", "message_refs", "claimed_keys"} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			buckets[name] = b
		}
		puts := []struct {
			bucket string
			key    []byte
			value  string
		}{
			{"meta", []byte("schema_version"), "\x00\x00\x00\x00\x00\x00\x00\x01"},
			{"runs", u64Key(1), `{"v":1,"id":1,"cluster":"prod","from":"3.4.2","to":"3.9.1","state":"succeeded","requested_by":"U01","created_at":"2025-01-05T10:00:00Z","updated_at":"2025-01-05T11:00:00Z","downtime_start":"2025-01-05T10:30:00Z","downtime_end":"2025-01-05T10:31:10Z","current_step":14,"details":{"backup":"/var/lib/drawbridge/backups/1.dump"},"revision":9}`},
			{"runs", u64Key(2), `{"v":1,"id":2,"cluster":"staging","from":"3.4.2","to":"3.9.1","state":"awaiting_approval","requested_by":"scheduler","window":"sunday-night","scheduled_for":"2025-01-12T01:00:00Z","created_at":"2025-01-10T08:00:00Z","updated_at":"2025-01-11T08:00:00Z","current_step":5,"revision":4}`},
			{"active", []byte("staging"), "\x00\x00\x00\x00\x00\x00\x00\x02"},
			{"steps", pairKey(1, 0), `{"v":1,"index":0,"name":"preflight","status":"succeeded","attempt":1,"started_at":"2025-01-05T10:00:01Z","ended_at":"2025-01-05T10:00:02Z"}`},
			{"approvals", pairKey(1, 1), `{"v":1,"user_id":"U02","decision":"approve","at":"2025-01-05T10:20:00Z"}`},
			{"audit", u64Key(1), `{"v":1,"seq":1,"at":"2025-01-05T10:00:00Z","run":1,"actor":"U01","action":"start","detail":"prod 3.4.2 -> 3.9.1"}`},
			{"audit", u64Key(2), `{"v":1,"seq":2,"at":"2025-01-05T10:20:00Z","run":1,"actor":"U02","action":"approve"}`},
			{"audit", u64Key(3), `{"v":1,"seq":3,"at":"2025-01-06T09:00:00Z","actor":"scheduler","action":"windows-reloaded"}`},
			{"audit", u64Key(4), `{"v":1,"seq":4,"at":"2025-01-10T08:00:00Z","run":2,"actor":"scheduler","action":"schedule"}`},
			{"audit", u64Key(5), `{"v":1,"seq":5,"at":"2025-01-05T11:00:00Z","run":1,"actor":"drawbridge","action":"succeeded"}`},
			{"schedules", u64Key(2), `{"v":1,"run":2,"cluster":"staging","version":"3.9.1","window":"sunday-night","opens_at":"2025-01-12T01:00:00Z","closes_at":"2025-01-12T03:00:00Z","remind_at":"2025-01-11T13:00:00Z","created_by":"U01","created_at":"2025-01-10T08:00:00Z"}`},
			{"outbox", u64Key(3), `{"v":1,"seq":3,"run":2,"method":"chat.postMessage","key":"run-2-status","payload":{"text":"run 2 awaits approval"},"attempts":0,"enqueued_at":"2025-01-11T08:00:00Z"}`},
			{"message_refs", []byte("run-1-status"), `{"v":1,"channel":"C0UPGRADES","ts":"1736071200.000100"}`},
			{"claimed_keys", []byte("action:1736072400.1"), `{"v":1,"claimed_at":"2025-01-05T10:20:00Z"}`},
		}
		for _, p := range puts {
			if err := buckets[p.bucket].Put(p.key, []byte(p.value)); err != nil {
				return fmt.Errorf("%s: %w", p.bucket, err)
			}
		}
		for name, seq := range map[string]uint64{"runs": 2, "approvals": 1, "audit": 5, "outbox": 3} {
			if err := buckets[name].SetSequence(seq); err != nil {
				return err
			}
		}
		return nil
	})
	mustDo(t, err)
	mustDo(t, db.Close())
	mustDo(t, os.MkdirAll("testdata", 0o755))
	copyFile(t, tmp, schemaV1Fixture+".tmp")
	mustDo(t, os.Rename(schemaV1Fixture+".tmp", schemaV1Fixture))
	t.Logf("wrote %s", schemaV1Fixture)
}

func TestOpenSchemaV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "drawbridge.db")
	copyFile(t, schemaV1Fixture, path)
	clock := newTestClock()
	s := openStore(t, path, Options{NoSync: true, Now: clock.Now})
	ctx := t.Context()

	v, err := s.SchemaVersion(ctx)
	if err != nil || v != 3 {
		t.Fatalf("SchemaVersion after migration = %d, %v; want 3", v, err)
	}
	events, err := s.Audit(ctx, AuditFilter{Run: 1})
	mustDo(t, err)
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%d %s %s", e.Seq, e.Actor, e.Action))
	}
	// Version 3 types the runs' details; "backup" was never one drawbridge wrote, so it is
	// kept in the run's audit log rather than lost.
	assertEqual(t, "run 1 audit after migration", got, []string{"1 U01 start", "2 U02 approve", "5 drawbridge succeeded", "6 drawbridge migrate"})
	if d := events[3].Detail; !strings.Contains(d, "backup=/var/lib/drawbridge/backups/1.dump") {
		t.Errorf("migrate event = %q, want the detail it could not type", d)
	}
	events, err = s.Audit(ctx, AuditFilter{Run: 2})
	mustDo(t, err)
	if len(events) != 1 || events[0].Seq != 4 {
		t.Errorf("run 2 audit = %+v, want event 4", events)
	}

	// The old records read as they are and the store keeps going from them.
	run, err := s.GetRun(ctx, 1)
	mustDo(t, err)
	if run.State != domain.StateSucceeded || run.Revision != 9 || run.DowntimeEnd.IsZero() {
		t.Errorf("run 1 = %+v", run)
	}
	if active, ok, err := s.ActiveRun(ctx, "staging"); !ok || err != nil || active.ID != 2 {
		t.Errorf("ActiveRun(staging) = %d, %v, %v; want 2", active.ID, ok, err)
	}
	next := mustRun(t, s, "prod", domain.StateScheduled)
	if next.ID != 3 {
		t.Errorf("new run ID = %d, want 3 (after the file's runs)", next.ID)
	}
	e, err := s.AppendAudit(ctx, AuditEvent{Run: 1, Actor: "U09", Action: "note"})
	mustDo(t, err)
	if e.Seq != 7 {
		t.Errorf("new audit seq = %d, want 7", e.Seq)
	}
	if ok, _ := s.ClaimKey(ctx, "action:1736072400.1"); ok {
		t.Error("a key claimed in v1 could be claimed again")
	}
	if ref, ok, _ := s.MessageRef(ctx, "run-1-status"); !ok || ref.TS != "1736071200.000100" {
		t.Errorf("MessageRef(run-1-status) = %+v, %v", ref, ok)
	}
	pending, err := s.PendingOutbox(ctx, 0)
	mustDo(t, err)
	if len(pending) != 1 || string(pending[0].Payload) != `{"text":"run 2 awaits approval"}` {
		t.Errorf("pending outbox = %+v", pending)
	}
	mustDo(t, s.Check(ctx))
	closeChecked(t, s)

	// Reopening does not migrate again.
	s = openStore(t, path, Options{NoSync: true})
	events, err = s.Audit(ctx, AuditFilter{Run: 1})
	mustDo(t, err)
	if len(events) != 5 {
		t.Errorf("run 1 has %d audit events after reopen, want 5", len(events))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	mustDo(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	mustDo(t, err)
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	mustDo(t, dst.Close())
}
