package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Decision is an approver's answer at the gate. It is stored as its string.
type Decision string

// Decisions.
const (
	DecisionApprove Decision = "approve"
	DecisionReject  Decision = "reject"
)

// Valid reports whether d is one of the known decisions.
func (d Decision) Valid() bool { return d == DecisionApprove || d == DecisionReject }

// Approval is one user's decision on a run.
type Approval struct {
	UserID   string    `json:"user_id"`
	Decision Decision  `json:"decision"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
}

// AddApproval records a's decision on run, stamping At if it is zero. Each
// user decides at most once per run: a second decision from the same user
// fails with ErrDuplicate and changes nothing. The run must exist. The audit
// events, if any, are appended to the run's log in the same transaction.
func (s *Store) AddApproval(ctx context.Context, run RunID, a Approval, audit ...AuditEvent) error {
	if err := s.addApproval(ctx, run, a, audit); err != nil {
		return fmt.Errorf("add %s decision by %s on run %s: %w", a.Decision, a.UserID, run, err)
	}
	return nil
}

func (s *Store) addApproval(ctx context.Context, run RunID, a Approval, audit []AuditEvent) error {
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
		v, err := encode("approval", approvalRecord{V: formatV1, Approval: a})
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
func (s *Store) Approvals(ctx context.Context, run RunID) ([]Approval, error) {
	var out []Approval
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

func approvalsOf(b *bolt.Bucket, run RunID) ([]Approval, error) {
	var out []Approval
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
