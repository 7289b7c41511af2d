package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/scrub"
	bolt "go.etcd.io/bbolt"
)

// AuditEvent is one entry of the append-only audit log: who did what, when.
//
// Events are chained: Hash is the SHA-256 of the event's fields and Prev, the Hash of the
// previous event of the same run (of the events about no run, for Run 0); the store keeps
// each run's head and, per cluster, a head over all its events (see VerifyAudit). Events
// written before chaining have no Hash.
type AuditEvent struct {
	Seq     uint64       `json:"seq"`
	At      time.Time    `json:"at"`
	Run     domain.RunID `json:"run,omitempty"`     // 0 = not about one run
	Cluster string       `json:"cluster,omitempty"` // the run's cluster, filled in by the store
	Ticket  string       `json:"ticket,omitempty"`  // the run's change ticket, filled in by the store
	Actor   string       `json:"actor"`             // Slack user ID, "scheduler", …
	Action  string       `json:"action"`
	Detail  string       `json:"detail,omitempty"`
	Prev    string       `json:"prev,omitempty"`
	Hash    string       `json:"hash,omitempty"`
}

// ComputeHash is the event's hash over its fields and Prev (not Hash itself).
func (e AuditEvent) ComputeHash() string {
	h := sha256.New()
	fmt.Fprintf(h, "drawbridge-audit-v1\x00%d\x00%s\x00%d\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s",
		e.Seq, e.At.UTC().Format(time.RFC3339Nano), e.Run, e.Cluster, e.Ticket, e.Actor, e.Action, e.Detail, e.Prev)
	return hex.EncodeToString(h.Sum(nil))
}

// chainHead is the next head of a cluster's chain: the previous head and an event's hash.
func chainHead(prev, hash string) string {
	h := sha256.Sum256([]byte(prev + "\x00" + hash))
	return hex.EncodeToString(h[:])
}

func runHeadKey(run domain.RunID) []byte { return []byte(fmt.Sprintf("audit_head/run/%d", run)) }
func clusterHeadKey(c string) []byte     { return []byte("audit_head/cluster/" + c) }

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
	e.At = e.At.UTC().Round(0)
	if e.Run != 0 {
		if r, err := getRun(tx, e.Run); err == nil {
			e.Cluster, e.Ticket = r.Cluster, r.Ticket
		}
	}
	// The hash covers what is stored: the fields as the store's scrubber leaves them.
	if sc, ok := scrubbers.Load(tx.DB()); ok {
		sc := sc.(*scrub.Scrubber)
		e.Actor, e.Detail, e.Ticket = sc.String(e.Actor), sc.String(e.Detail), sc.String(e.Ticket)
	}
	meta := tx.Bucket(bucketMeta)
	e.Prev = string(meta.Get(runHeadKey(e.Run)))
	e.Hash = e.ComputeHash()
	if err := meta.Put(runHeadKey(e.Run), []byte(e.Hash)); err != nil {
		return e, err
	}
	if e.Cluster != "" {
		head := chainHead(string(meta.Get(clusterHeadKey(e.Cluster))), e.Hash)
		if err := meta.Put(clusterHeadKey(e.Cluster), []byte(head)); err != nil {
			return e, err
		}
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
