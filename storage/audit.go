package storage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	bolt "go.etcd.io/bbolt"
)

// AuditEvent is one entry of the append-only audit log: who did what, when.
type AuditEvent struct {
	Seq    uint64       `json:"seq"`
	At     time.Time    `json:"at"`
	Run    domain.RunID `json:"run,omitempty"` // 0 = not about one run
	Actor  string       `json:"actor"`         // Slack user ID, "scheduler", …
	Action string       `json:"action"`
	Detail string       `json:"detail,omitempty"`
}

// AuditFilter selects audit events.
type AuditFilter struct {
	Run      domain.RunID // 0 = all events
	AfterSeq uint64       // only events with a larger Seq
	Limit    int          // 0 = all
}

// AppendAudit appends e to the audit log, assigning Seq (global and
// increasing) and At if it is zero. There is no way to change or delete an
// event. A change that must not happen without its audit event passes the
// event to the method making the change (UpdateRun, PutStep, AddApproval,
// CreateRun), which writes both in one transaction.
func (s *Store) AppendAudit(ctx context.Context, e AuditEvent) (AuditEvent, error) {
	if err := validAudit(e); err != nil {
		return AuditEvent{}, fmt.Errorf("append audit event: %w", err)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		var err error
		e, err = s.appendAuditTx(tx, e)
		return err
	})
	if err != nil {
		return AuditEvent{}, fmt.Errorf("append audit event %q by %s: %w", e.Action, e.Actor, err)
	}
	return e, nil
}

func validAudit(events ...AuditEvent) error {
	for _, e := range events {
		if e.Action == "" {
			return errors.New("audit event's action is empty")
		}
	}
	return nil
}

// appendAuditTx appends e inside tx.
func (s *Store) appendAuditTx(tx *bolt.Tx, e AuditEvent) (AuditEvent, error) {
	b := tx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return e, err
	}
	e.Seq = seq
	if e.At.IsZero() {
		e.At = s.stamp()
	}
	v, err := encode(tx, "audit event", auditRecord{V: formatV1, AuditEvent: e})
	if err != nil {
		return e, err
	}
	if err := b.Put(u64Key(seq), v); err != nil {
		return e, err
	}
	if e.Run == 0 {
		return e, nil
	}
	return e, tx.Bucket(bucketAuditByRun).Put(pairKey(uint64(e.Run), seq), []byte{})
}

// auditFor appends events to the log of run inside tx: their Run is set to run.
func (s *Store) auditFor(tx *bolt.Tx, run domain.RunID, events []AuditEvent) error {
	for _, e := range events {
		e.Run = run
		if _, err := s.appendAuditTx(tx, e); err != nil {
			return fmt.Errorf("audit event %q: %w", e.Action, err)
		}
	}
	return nil
}

// Audit returns the events matching f, oldest first. With f.Run set it reads
// the per-run index instead of scanning the whole log.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("read audit log: limit %d is negative", f.Limit)
	}
	var out []AuditEvent
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if f.AfterSeq == math.MaxUint64 {
			return nil
		}
		var err error
		if f.Run != 0 {
			out, err = auditOfRun(tx, f)
		} else {
			out, err = auditAll(tx, f)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

func auditAll(tx *bolt.Tx, f AuditFilter) ([]AuditEvent, error) {
	var out []AuditEvent
	c := tx.Bucket(bucketAudit).Cursor()
	for k, v := c.Seek(u64Key(f.AfterSeq + 1)); k != nil && !full(out, f.Limit); k, v = c.Next() {
		e, err := decodeAudit(k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func auditOfRun(tx *bolt.Tx, f AuditFilter) ([]AuditEvent, error) {
	var out []AuditEvent
	audit := tx.Bucket(bucketAudit)
	c := tx.Bucket(bucketAuditByRun).Cursor()
	for k, _ := c.Seek(pairKey(uint64(f.Run), f.AfterSeq+1)); k != nil && !full(out, f.Limit); k, _ = c.Next() {
		run, seq, ok := keyPair(k)
		if !ok {
			return nil, fmt.Errorf("audit_by_run key %x is not a (run, seq) pair", k)
		}
		if run != uint64(f.Run) {
			break
		}
		key := u64Key(seq)
		v := audit.Get(key)
		if v == nil {
			return nil, fmt.Errorf("audit_by_run names event %d, which is missing", seq)
		}
		e, err := decodeAudit(key, v)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func decodeAudit(k, v []byte) (AuditEvent, error) {
	var rec auditRecord
	if err := decode("audit event "+keyString(k), v, &rec); err != nil {
		return AuditEvent{}, err
	}
	return rec.AuditEvent, nil
}

// full reports whether out has reached limit (0 = no limit).
func full[T any](out []T, limit int) bool { return limit > 0 && len(out) >= limit }
