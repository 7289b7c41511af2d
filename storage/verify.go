package storage

import (
	"context"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/drawbridge/drawbridge/domain"
)

// AuditVerdict is what VerifyAudit found: how much it checked and, in log order, every place
// the chain does not hold (none: intact).
type AuditVerdict struct {
	Events, Chained, Runs, Clusters int
	Problems                        []string
}

// VerifyAudit recomputes the audit log's hash chains: every chained event's hash from its
// fields, each event's Prev against the hash of the run's previous event, each run's stored
// head against its last event, and each cluster's head over all its events. An altered event
// fails its own hash; a missing one breaks the next event's Prev, or the run's head when it
// was the last; a rewritten tail shows in the cluster's head.
func (s *Store) VerifyAudit(ctx context.Context) (AuditVerdict, error) {
	var v AuditVerdict
	err := s.view(ctx, func(tx *bolt.Tx) error {
		events, err := auditAll(tx, AuditFilter{})
		if err != nil {
			return err
		}
		v = verifyChain(events, func(k []byte) string { return string(tx.Bucket(bucketMeta).Get(k)) })
		return nil
	})
	if err != nil {
		return v, fmt.Errorf("verify the audit log: %w", err)
	}
	return v, nil
}

// verifyChain checks events (in log order) against the stored heads.
func verifyChain(events []AuditEvent, head func(key []byte) string) AuditVerdict {
	v := AuditVerdict{Events: len(events)}
	last := map[domain.RunID]AuditEvent{}
	clusters := map[string]string{}
	problem := func(format string, args ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, args...)) }
	for _, e := range events {
		prev, seen := last[e.Run]
		if e.Hash == "" {
			if seen && prev.Hash != "" {
				problem("event %d (run %s, %s by %s) has no hash, after chained events of its run: it was altered", e.Seq, e.Run, e.Action, e.Actor)
			}
			continue // written before chaining
		}
		v.Chained++
		if got := e.ComputeHash(); got != e.Hash {
			problem("event %d (run %s, %s by %s at %s) was altered: its content does not hash to its recorded hash", e.Seq, e.Run, e.Action, e.Actor, e.At.UTC().Format("2006-01-02 15:04:05"))
		}
		want := ""
		if seen {
			want = prev.Hash
		}
		if e.Prev != want {
			if seen {
				problem("event %d (run %s, %s) does not follow event %d: an event between them is missing or event %d was altered", e.Seq, e.Run, e.Action, prev.Seq, prev.Seq)
			} else {
				problem("event %d (run %s, %s) follows an event that is missing", e.Seq, e.Run, e.Action)
			}
		}
		last[e.Run] = e
		if e.Cluster != "" {
			clusters[e.Cluster] = chainHead(clusters[e.Cluster], e.Hash)
		}
	}
	for _, run := range slices.Sorted(maps.Keys(last)) {
		e := last[run]
		if e.Hash == "" {
			continue
		}
		v.Runs++
		if h := head(runHeadKey(run)); h != e.Hash {
			problem("run %s's last events are missing: its last event is %d, but the recorded head is not that event's hash", run, e.Seq)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(clusters)) {
		h := clusters[c]
		v.Clusters++
		if stored := head(clusterHeadKey(c)); stored != h {
			problem("cluster %s's events do not add up to its recorded head: events of its runs are missing or were rewritten", c)
		}
	}
	return v
}
