package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	bolt "go.etcd.io/bbolt"
)

// AddApproval records a's decision on run, stamping At if it is zero. Each
// user decides at most once per run: a second decision from the same user
// fails with ErrDuplicate and changes nothing. The run must exist. The audit
// events, if any, are appended to the run's log in the same transaction.
func (s *Store) AddApproval(ctx context.Context, run domain.RunID, a domain.Approval, audit ...AuditEvent) error {
	if err := s.addApproval(ctx, run, a, audit); err != nil {
		return fmt.Errorf("add %s decision by %s on run %s: %w", a.Decision, a.UserID, run, err)
	}
	return nil
}

func (s *Store) addApproval(ctx context.Context, run domain.RunID, a domain.Approval, audit []AuditEvent) error {
	if a.UserID == "" {
		return errors.New("user ID is empty")
	}
	if !a.Decision.Valid() {
		return fmt.Errorf("decision %q is not approve or reject", a.Decision)
	}
	if err := validAudit(audit...); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		if err := runExists(tx, run); err != nil {
			return err
		}
		b := tx.Bucket(bucketApprovals)
		prev, err := approvalsOf(b, run)
		if err != nil {
			return err
		}
		for _, p := range prev {
			if p.UserID == a.UserID {
				return fmt.Errorf("%w: the user already decided %s at %s", ErrDuplicate, p.Decision, p.At.Format(time.RFC3339))
			}
		}
		if a.At.IsZero() {
			a.At = s.stamp()
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		v, err := encode(tx, "approval", approvalRecord{V: formatV1, Approval: a})
		if err != nil {
			return err
		}
		if err := b.Put(pairKey(uint64(run), seq), v); err != nil {
			return err
		}
		return s.auditFor(tx, run, audit)
	})
}

// Approvals returns the decisions on run in arrival order.
func (s *Store) Approvals(ctx context.Context, run domain.RunID) ([]domain.Approval, error) {
	var out []domain.Approval
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = approvalsOf(tx.Bucket(bucketApprovals), run)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("approvals of run %s: %w", run, err)
	}
	return out, nil
}

func approvalsOf(b *bolt.Bucket, run domain.RunID) ([]domain.Approval, error) {
	var out []domain.Approval
	err := scanRun(b, run, func(seq uint64, v []byte) error {
		var rec approvalRecord
		if err := decode(fmt.Sprintf("approval %d", seq), v, &rec); err != nil {
			return err
		}
		out = append(out, rec.Approval)
		return nil
	})
	return out, err
}
