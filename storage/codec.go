package storage

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/scrub"
	bolt "go.etcd.io/bbolt"
)

// Every stored JSON value carries its record format as "v", so a later drawbridge can
// recognise old records. Runs and step records are at format 2 (typed facts, schema
// version 3); every other record is at format 1.
const (
	formatV1 = 1
	formatV2 = 2
)

// u64Key encodes n big-endian, so byte order is numeric order.
func u64Key(n uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, n)
	return k
}

// pairKey encodes (a, b) as 16 big-endian bytes: all keys of one a are
// contiguous and ordered by b.
func pairKey(a, b uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], b)
	return k
}

// keyU64 decodes a u64Key; ok is false if k is not 8 bytes long.
func keyU64(k []byte) (n uint64, ok bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// keyPair decodes a pairKey; ok is false if k is not 16 bytes long.
func keyPair(k []byte) (a, b uint64, ok bool) {
	if len(k) != 16 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:]), true
}

// Stored forms: the public struct with the format field in front of it.
type (
	runRecord struct {
		V int `json:"v"`
		domain.Run
	}
	stepRecord struct {
		V int `json:"v"`
		domain.StepRecord
	}
	approvalRecord struct {
		V int `json:"v"`
		domain.Approval
	}
	auditRecord struct {
		V int `json:"v"`
		AuditEvent
	}
	scheduleRecord struct {
		V int `json:"v"`
		Schedule
	}
	outboxRecord struct {
		V int `json:"v"`
		OutboxMessage
	}
	messageRefRecord struct {
		V int `json:"v"`
		MessageRef
	}
	claimRecord struct {
		V         int       `json:"v"`
		ClaimedAt time.Time `json:"claimed_at"`
	}
)

// stored is a record in its stored form: the format it has, and the one this code writes.
type stored interface {
	format() int
	current() int
}

func (*runRecord) current() int        { return formatV2 }
func (*stepRecord) current() int       { return formatV2 }
func (*approvalRecord) current() int   { return formatV1 }
func (*auditRecord) current() int      { return formatV1 }
func (*scheduleRecord) current() int   { return formatV1 }
func (*outboxRecord) current() int     { return formatV1 }
func (*messageRefRecord) current() int { return formatV1 }
func (*claimRecord) current() int      { return formatV1 }
func (r *formatOnly) current() int     { return r.want }

func (r *runRecord) format() int        { return r.V }
func (r *stepRecord) format() int       { return r.V }
func (r *approvalRecord) format() int   { return r.V }
func (r *auditRecord) format() int      { return r.V }
func (r *scheduleRecord) format() int   { return r.V }
func (r *outboxRecord) format() int     { return r.V }
func (r *messageRefRecord) format() int { return r.V }
func (r *claimRecord) format() int      { return r.V }
func (r *formatOnly) format() int       { return r.V }

// formatOnly reads just the format field of any stored record.
type formatOnly struct {
	V    int `json:"v"`
	want int // the format expected of its bucket
}

// scrubbers are the open stores' scrubbers (Options.Secrets), by their bbolt database.
var scrubbers sync.Map // *bolt.DB → *scrub.Scrubber

// encode marshals a record to be stored in tx, scrubbed of the store's secrets; what names
// it in the error.
func encode(tx *bolt.Tx, what string, rec any) ([]byte, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	if sc, ok := scrubbers.Load(tx.DB()); ok {
		b = sc.(*scrub.Scrubber).Bytes(b)
	}
	return b, nil
}

// decode unmarshals a stored record and checks its format. It must be called
// inside the transaction that read v: the decoded value shares no memory with
// v, so it stays valid after the transaction ends.
func decode(what string, v []byte, rec stored) error {
	if err := json.Unmarshal(v, rec); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	if f, want := rec.format(), rec.current(); f != want {
		return fmt.Errorf("decode %s: record format v%d is not supported (want v%d)", what, f, want)
	}
	return nil
}
