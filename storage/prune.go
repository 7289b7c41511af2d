package storage

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/drawbridge/drawbridge/domain"
)

// PrunedRecords says what PruneRecords removed.
type PrunedRecords struct {
	Runs   map[string][]domain.RunID // by cluster
	Events int
}

// PruneRecords removes the records of runs that ended before olderThan — the run, its steps,
// approvals and audit events — in one transaction, and appends one audit event (about no
// run) that says what went: the runs per cluster, how many events, and each cluster's audit
// head before pruning (so the chain's evidence is kept in the log). Each cluster's head is
// recomputed over the events that remain, so that VerifyAudit goes on holding. A run that
// has not ended is never pruned.
func (s *Store) PruneRecords(ctx context.Context, olderThan time.Time) (PrunedRecords, error) {
	p := PrunedRecords{Runs: map[string][]domain.RunID{}}
	// Look first: a sweep that finds nothing writes nothing.
	var any bool
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRuns).ForEach(func(k, v []byte) error {
			r, err := getRun(tx, domain.RunID(keyU64Must(k)))
			if err == nil && r.State.Terminal() && r.UpdatedAt.Before(olderThan) {
				any = true
			}
			return err
		})
	})
	if err != nil || !any {
		return p, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		var old []domain.Run
		if err := tx.Bucket(bucketRuns).ForEach(func(k, v []byte) error {
			r, err := getRun(tx, domain.RunID(keyU64Must(k)))
			if err == nil && r.State.Terminal() && r.UpdatedAt.Before(olderThan) {
				old = append(old, r)
			}
			return err
		}); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		heads := map[string]string{}
		for _, r := range old {
			if _, ok := heads[r.Cluster]; !ok {
				heads[r.Cluster] = string(meta.Get(clusterHeadKey(r.Cluster)))
			}
			n, err := deleteRun(tx, r.ID)
			if err != nil {
				return fmt.Errorf("prune run %s: %w", r.ID, err)
			}
			p.Events += n
			p.Runs[r.Cluster] = append(p.Runs[r.Cluster], r.ID)
		}
		// The clusters' heads over what remains.
		events, err := auditAll(tx, AuditFilter{})
		if err != nil {
			return err
		}
		fresh := map[string]string{}
		for _, e := range events {
			if e.Hash != "" && e.Cluster != "" {
				fresh[e.Cluster] = chainHead(fresh[e.Cluster], e.Hash)
			}
		}
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(heads)) {
			if err := meta.Put(clusterHeadKey(c), []byte(fresh[c])); err != nil {
				return err
			}
			var ids []string
			for _, id := range p.Runs[c] {
				ids = append(ids, id.String())
			}
			parts = append(parts, fmt.Sprintf("%s: runs %s (audit head before %s)", c, strings.Join(ids, ", "), heads[c]))
		}
		_, err = s.appendAuditTx(tx, AuditEvent{Actor: "drawbridge", Action: "records_pruned",
			Detail: fmt.Sprintf("removed the records of runs that ended before %s (%d audit events): %s", olderThan.UTC().Format(time.RFC3339), p.Events, strings.Join(parts, "; "))})
		return err
	})
	if err != nil {
		return PrunedRecords{}, fmt.Errorf("prune records older than %s: %w", olderThan.Format(time.RFC3339), err)
	}
	return p, nil
}

// deleteRun removes a run and everything stored under it; it returns how many audit events
// went.
func deleteRun(tx *bolt.Tx, id domain.RunID) (int, error) {
	for _, b := range [][]byte{bucketSteps, bucketApprovals} {
		if err := deletePrefix(tx.Bucket(b), uint64(id)); err != nil {
			return 0, err
		}
	}
	audit, byRun := tx.Bucket(bucketAudit), tx.Bucket(bucketAuditByRun)
	var keys [][]byte
	c := byRun.Cursor()
	for k, _ := c.Seek(pairKey(uint64(id), 0)); k != nil; k, _ = c.Next() {
		run, seq, ok := keyPair(k)
		if !ok || run != uint64(id) {
			break
		}
		if err := audit.Delete(u64Key(seq)); err != nil {
			return 0, err
		}
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := byRun.Delete(k); err != nil {
			return 0, err
		}
	}
	if err := tx.Bucket(bucketMeta).Delete(runHeadKey(id)); err != nil {
		return 0, err
	}
	if err := tx.Bucket(bucketSchedules).Delete(u64Key(uint64(id))); err != nil {
		return 0, err
	}
	return len(keys), tx.Bucket(bucketRuns).Delete(u64Key(uint64(id)))
}

// deletePrefix deletes the (a, …) pair keys of a bucket.
func deletePrefix(b *bolt.Bucket, a uint64) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(pairKey(a, 0)); k != nil; k, _ = c.Next() {
		if x, _, ok := keyPair(k); !ok || x != a {
			break
		}
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func keyU64Must(k []byte) uint64 {
	n, _ := keyU64(k)
	return n
}
