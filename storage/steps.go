package storage

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StepStatus is the state of one step of a run. It is stored as its string.
type StepStatus string

// Step statuses.
const (
	StepPending   StepStatus = "pending"
	StepRunning   StepStatus = "running"
	StepSucceeded StepStatus = "succeeded"
	StepFailed    StepStatus = "failed"
	StepSkipped   StepStatus = "skipped"
)

// Valid reports whether s is one of the known statuses.
func (s StepStatus) Valid() bool {
	switch s {
	case StepPending, StepRunning, StepSucceeded, StepFailed, StepSkipped:
		return true
	}
	return false
}

// StepRecord is what happened in one step of a run.
type StepRecord struct {
	Index      int               `json:"index"`
	Name       string            `json:"name"`
	Status     StepStatus        `json:"status"`
	Attempt    int               `json:"attempt"`
	StartedAt  time.Time         `json:"started_at,omitzero"`
	EndedAt    time.Time         `json:"ended_at,omitzero"`
	OutputTail string            `json:"output_tail,omitempty"`
	Error      string            `json:"error,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}

// PutStep inserts or replaces the record of step rec.Index of run. The run
// must exist (ErrNotFound otherwise). The audit events, if any, are appended to the
// run's log in the same transaction.
func (s *Store) PutStep(ctx context.Context, run RunID, rec StepRecord, audit ...AuditEvent) error {
	err := s.putStep(ctx, run, rec, audit)
	if err != nil {
		return fmt.Errorf("put step %d of run %s: %w", rec.Index, run, err)
	}
	return nil
}

func (s *Store) putStep(ctx context.Context, run RunID, rec StepRecord, audit []AuditEvent) error {
	if rec.Index < 0 {
		return fmt.Errorf("index %d is negative", rec.Index)
	}
	if !rec.Status.Valid() {
		return fmt.Errorf("status %q is not a step status", rec.Status)
	}
	if err := validAudit(audit...); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		if err := runExists(tx, run); err != nil {
			return err
		}
		b, err := encode("step", stepRecord{V: formatV1, StepRecord: rec})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketSteps).Put(pairKey(uint64(run), uint64(rec.Index)), b); err != nil {
			return err
		}
		return s.auditFor(tx, run, audit)
	})
}

// Steps returns the step records of run ordered by Index. A run without
// steps, or that does not exist, has none.
func (s *Store) Steps(ctx context.Context, run RunID) ([]StepRecord, error) {
	var out []StepRecord
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
func scanRun(b *bolt.Bucket, run RunID, fn func(n uint64, v []byte) error) error {
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
