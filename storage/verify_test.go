package storage

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/drawbridge/drawbridge/domain"
)

// TestAuditChain: the audit log verifies as written; editing one event, or deleting one, in
// a copy of the state file makes verify name that event.
func TestAuditChain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := range 2 {
		run, err := s.CreateRun(ctx, domain.Run{Cluster: "prod", To: "3.5.0", State: domain.StatePreparing, Ticket: "CHG0000001"},
			AuditEvent{Actor: "U1", Action: "start"})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"approve", "step_started", "step_succeeded"} {
			if _, err := s.AppendAudit(ctx, AuditEvent{Run: run.ID, Actor: "U2", Action: a, Detail: "run " + run.ID.String()}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.AppendAudit(ctx, AuditEvent{Actor: "U9", Action: "denied", Detail: "outside the channel"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateRun(ctx, run.ID, func(r *domain.Run) error { r.State = domain.StateAborted; return nil }, AuditEvent{Actor: "U1", Action: "abort"}); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	evs, _ := s.Audit(ctx, AuditFilter{Run: 1})
	if len(evs) != 5 || evs[0].Ticket != "CHG0000001" || evs[0].Cluster != "prod" || evs[1].Prev != evs[0].Hash {
		t.Fatalf("events of run 1: %+v", evs)
	}
	v, err := s.VerifyAudit(ctx)
	if err != nil || len(v.Problems) != 0 || v.Chained != 12 || v.Runs != 3 || v.Clusters != 1 {
		t.Fatalf("verify the intact log: %+v %v", v, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		edit func(b *bolt.Bucket) error
		want string
	}{
		{"an edited detail", func(b *bolt.Bucket) error { return rewrite(b, 3, func(e *AuditEvent) { e.Detail = "nothing to see" }) }, "event 3 (run 1, step_started by U2"},
		{"a deleted event", func(b *bolt.Bucket) error { return b.Delete(u64Key(3)) }, "event 4 (run 1, step_succeeded) does not follow event 2"},
		{"the last event deleted", func(b *bolt.Bucket) error { return b.Delete(u64Key(12)) }, "run 2's last events are missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := filepath.Join(t.TempDir(), "copy.db")
			copyState(t, path, cp)
			db, err := bolt.Open(cp, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error { return tc.edit(tx.Bucket(bucketAudit)) }); err != nil {
				t.Fatal(err)
			}
			db.Close()
			s, err := Open(cp, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			v, err := s.VerifyAudit(t.Context())
			if err != nil || len(v.Problems) == 0 || !strings.Contains(v.Problems[0], tc.want) {
				t.Fatalf("verify: %q %v, want the first problem to name %q", v.Problems, err, tc.want)
			}
		})
	}
}

// rewrite changes the stored event seq as someone editing the file would.
func rewrite(b *bolt.Bucket, seq uint64, fn func(*AuditEvent)) error {
	var rec auditRecord
	if err := json.Unmarshal(b.Get(u64Key(seq)), &rec); err != nil {
		return err
	}
	fn(&rec.AuditEvent)
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Put(u64Key(seq), v)
}

func copyState(t *testing.T, from, to string) {
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
