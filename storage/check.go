package storage

import (
	"bytes"
	"fmt"

	"github.com/drawbridge/drawbridge/domain"
	bolt "go.etcd.io/bbolt"
)

// checkInvariants reports every violation of drawbridge's own invariants
// that bbolt's page check cannot see.
func checkInvariants(tx *bolt.Tx) []error {
	if err := checkLayout(tx); err != nil {
		return []error{err}
	}
	var errs []error
	errs = append(errs, checkFormats(tx)...)
	errs = append(errs, checkActive(tx)...)
	errs = append(errs, checkAuditIndex(tx)...)
	return errs
}

// checkFormats decodes the format field of every JSON record.
func checkFormats(tx *bolt.Tx) []error {
	var errs []error
	for _, name := range [][]byte{
		bucketRuns, bucketSteps, bucketApprovals, bucketAudit, bucketSchedules,
		bucketOutbox, bucketOutboxDead, bucketMessageRefs, bucketClaimedKeys,
	} {
		_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
			f := formatOnly{want: formatV1}
			if bytes.Equal(name, bucketRuns) || bytes.Equal(name, bucketSteps) {
				f.want = formatV2
			}
			if err := decode(fmt.Sprintf("%s record %x", name, k), v, &f); err != nil {
				errs = append(errs, err)
			}
			return nil
		})
	}
	return errs
}

// checkActive verifies that the active index lists exactly the non-terminal
// runs, each under its own cluster.
func checkActive(tx *bolt.Tx) []error {
	var errs []error
	indexed := map[domain.RunID]bool{}
	_ = tx.Bucket(bucketActive).ForEach(func(k, v []byte) error {
		n, ok := keyU64(v)
		if !ok {
			errs = append(errs, fmt.Errorf("active index entry %q is malformed: %x", k, v))
			return nil
		}
		id := domain.RunID(n)
		indexed[id] = true
		r, err := getRun(tx, id)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("active index names run %s for cluster %q: %w", id, k, err))
		case r.Cluster != string(k):
			errs = append(errs, fmt.Errorf("active index names run %s for cluster %q, but the run is on %q", id, k, r.Cluster))
		case r.State.Terminal():
			errs = append(errs, fmt.Errorf("active index names run %s for cluster %q, but the run is %s", id, k, r.State))
		}
		return nil
	})
	_ = tx.Bucket(bucketRuns).ForEach(func(k, v []byte) error {
		var rec runRecord
		if err := decode("run "+keyString(k), v, &rec); err != nil {
			return nil // reported by checkFormats or below
		}
		if !rec.State.Terminal() && !indexed[rec.ID] {
			errs = append(errs, fmt.Errorf("run %s of cluster %q is %s but missing from the active index", rec.ID, rec.Cluster, rec.State))
		}
		return nil
	})
	return errs
}

// checkAuditIndex verifies that audit_by_run holds exactly one entry for
// every audit event that names a run.
func checkAuditIndex(tx *bolt.Tx) []error {
	var errs []error
	audit := tx.Bucket(bucketAudit)
	idx := tx.Bucket(bucketAuditByRun)
	entries := 0
	_ = idx.ForEach(func(k, _ []byte) error {
		entries++
		run, seq, ok := keyPair(k)
		if !ok {
			errs = append(errs, fmt.Errorf("audit_by_run key %x is malformed", k))
			return nil
		}
		e, err := decodeAudit(u64Key(seq), audit.Get(u64Key(seq)))
		if err != nil || e.Run != domain.RunID(run) {
			errs = append(errs, fmt.Errorf("audit_by_run entry (run %d, seq %d) does not match the audit log", run, seq))
		}
		return nil
	})
	withRun := 0
	_ = audit.ForEach(func(k, v []byte) error {
		e, err := decodeAudit(k, v)
		if err != nil || e.Run == 0 {
			return nil
		}
		withRun++
		if idx.Get(pairKey(uint64(e.Run), e.Seq)) == nil {
			errs = append(errs, fmt.Errorf("audit event %d of run %s is missing from audit_by_run", e.Seq, e.Run))
		}
		return nil
	})
	if entries != withRun && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("audit_by_run has %d entries for %d events that name a run", entries, withRun))
	}
	return errs
}
