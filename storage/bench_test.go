package storage

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/drawbridge/drawbridge/domain"
)

// BenchmarkAppendAudit appends one event per op with fsync on: the real cost
// of every state change.
func BenchmarkAppendAudit(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "drawbridge.db"), Options{})
	ctx := b.Context()
	e := AuditEvent{Run: 1, Actor: "U01ABCDEF", Action: "approve", Detail: "approved run 1 for prod 3.4.2 → 3.9.1"}
	for b.Loop() {
		if _, err := s.AppendAudit(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListNewestRuns lists the newest 50 of 10,000 runs.
func BenchmarkListNewestRuns(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "drawbridge.db"), Options{NoSync: true})
	ctx := b.Context()
	for i := range 10_000 {
		r := domain.Run{
			Cluster: fmt.Sprintf("cluster-%d", i%20), From: "3.4.2", To: "3.9.1", State: domain.StateSucceeded,
			RequestedBy: "U01ABCDEF", Window: "sunday-night", CurrentStep: 14, Reason: "verified 3.9.1 on every node",
			Facts: domain.Facts{Backup: &domain.Backup{Path: fmt.Sprintf("/var/lib/drawbridge/backups/%d.dump", i), Size: 1 << 20, SHA256: "9f86d081884c7d659a2feaa0c55ad015"}},
		}
		if _, err := s.CreateRun(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		runs, err := s.ListRuns(ctx, RunFilter{Limit: 50})
		if err != nil || len(runs) != 50 {
			b.Fatalf("ListRuns = %d runs, %v", len(runs), err)
		}
	}
}
