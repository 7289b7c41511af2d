package storage

import (
	"context"
	"fmt"

	"github.com/drawbridge/drawbridge/domain"
	bolt "go.etcd.io/bbolt"
)

// PutStep inserts or replaces the record of step rec.Index of run. The run
// must exist (ErrNotFound otherwise). The audit events, if any, are appended to the
// run's log in the same transaction.
func (s *Store) PutStep(ctx context.Context, run domain.RunID, rec domain.StepRecord, audit ...AuditEvent) error {
	err := s.putStep(ctx, run, rec, audit)
	if err != nil {
		return fmt.Errorf("put step %d of run %s: %w", rec.Index, run, err)
	}
	return nil
}

func (s *Store) putStep(ctx context.Context, run domain.RunID, rec domain.StepRecord, audit []AuditEvent) error {
	if err := validStep(rec); err != nil {
		return err
	}
	if err := validAudit(audit...); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		if err := runExists(tx, run); err != nil {
			return err
		}
		if err := putStepTx(tx, run, rec); err != nil {
			return err
		}
		return s.auditFor(tx, run, audit)
	})
}

func validStep(rec domain.StepRecord) error {
	if rec.Index < 0 {
		return fmt.Errorf("index %d is negative", rec.Index)
	}
	if !rec.Status.Valid() {
		return fmt.Errorf("status %q is not a step status", rec.Status)
	}
	return nil
}

// putStepTx stores rec as run's record of step rec.Index inside tx.
func putStepTx(tx *bolt.Tx, run domain.RunID, rec domain.StepRecord) error {
	b, err := encode(tx, "step", stepRecord{V: formatV2, StepRecord: rec})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketSteps).Put(pairKey(uint64(run), uint64(rec.Index)), b)
}

// Steps returns the step records of run ordered by Index. A run without
// steps, or that does not exist, has none.
func (s *Store) Steps(ctx context.Context, run domain.RunID) ([]domain.StepRecord, error) {
	var out []domain.StepRecord
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return scanRun(tx.Bucket(bucketSteps), run, func(idx uint64, v []byte) error {
			var rec stepRecord
			if err := decode(fmt.Sprintf("step %d", idx), v, &rec); err != nil {
				return err
			}
			out = append(out, rec.StepRecord)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("steps of run %s: %w", run, err)
	}
	return out, nil
}

// scanRun calls fn, in key order, for every pairKey(run, n) entry of b.
func scanRun(b *bolt.Bucket, run domain.RunID, fn func(n uint64, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(pairKey(uint64(run), 0)); k != nil; k, v = c.Next() {
		r, n, ok := keyPair(k)
		if !ok {
			return fmt.Errorf("bucket key %x is not a (run, number) pair", k)
		}
		if r != uint64(run) {
			return nil
		}
		if err := fn(n, v); err != nil {
			return err
		}
	}
	return nil
}
