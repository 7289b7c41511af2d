package storage

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Bucket and key names. They are part of the file format: never rename one
// without a migration.
var (
	bucketMeta        = []byte("meta")
	bucketRuns        = []byte("runs")
	bucketActive      = []byte("active")
	bucketSteps       = []byte("steps")
	bucketApprovals   = []byte("approvals")
	bucketAudit       = []byte("audit")
	bucketAuditByRun  = []byte("audit_by_run")
	bucketSchedules   = []byte("schedules")
	bucketOutbox      = []byte("outbox")
	bucketOutboxDead  = []byte("outbox_dead")
	bucketMessageRefs = []byte("message_refs")
	bucketClaimedKeys = []byte("claimed_keys")

	keySchemaVersion = []byte("schema_version")
	keyPing          = []byte("ping")
)

// currentVersion is the schema version this code reads and writes. It is
// len(migrations); a test keeps the two in step.
const currentVersion = 3

// migrations[i] takes schema version i to i+1. There is no version 0, so
// migrations[0] is nil. Each migration runs in its own Update, which also
// bumps the stored version, so a crash leaves the file at one version or the
// next, never in between.
var migrations = []func(s *Store, tx *bolt.Tx) error{
	1: func(_ *Store, tx *bolt.Tx) error { return addAuditByRun(tx) },
	2: (*Store).typeFacts,
}

// currentBuckets lists every bucket of the current schema version. A fresh
// file is created with all of them, at currentVersion, in one Update.
var currentBuckets = [][]byte{
	bucketMeta, bucketRuns, bucketActive, bucketSteps, bucketApprovals,
	bucketAudit, bucketAuditByRun, bucketSchedules, bucketOutbox,
	bucketOutboxDead, bucketMessageRefs, bucketClaimedKeys,
}

// addAuditByRun (1→2) creates the per-run audit index from the audit log.
func addAuditByRun(tx *bolt.Tx) error {
	audit := tx.Bucket(bucketAudit)
	if audit == nil {
		return errors.New("bucket audit is missing")
	}
	idx, err := tx.CreateBucketIfNotExists(bucketAuditByRun)
	if err != nil {
		return fmt.Errorf("create bucket audit_by_run: %w", err)
	}
	return audit.ForEach(func(k, v []byte) error {
		seq, ok := keyU64(k)
		if !ok {
			return fmt.Errorf("audit key %x is not a sequence number", k)
		}
		var rec auditRecord
		if err := decode(fmt.Sprintf("audit event %d", seq), v, &rec); err != nil {
			return err
		}
		if rec.Run == 0 {
			return nil
		}
		// Writing to another bucket while iterating this one is safe.
		return idx.Put(pairKey(uint64(rec.Run), seq), []byte{})
	})
}

// migrate brings the file to currentVersion: it initialises an empty file, or
// runs the migrations from the stored version, or refuses a newer file.
func (s *Store) migrate() error {
	v, err := s.initSchema()
	if err != nil {
		return err
	}
	if v > currentVersion {
		return &newerSchemaError{path: s.path, have: v, max: currentVersion}
	}
	for ; v < currentVersion; v++ {
		if err := s.db.Update(func(tx *bolt.Tx) error { return s.migrateOne(tx, v) }); err != nil {
			return fmt.Errorf("migrate schema version %d to %d: %w", v, v+1, err)
		}
	}
	return s.db.View(checkLayout)
}

// initSchema returns the stored schema version, first creating the current
// layout if the file has no buckets at all.
func (s *Store) initSchema() (int, error) {
	var v int
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return nil
		}
		var err error
		v, err = readVersion(tx)
		return err
	})
	if err != nil || v != 0 {
		return v, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) != nil { // cannot happen while we hold the lock
			var err error
			v, err = readVersion(tx)
			return err
		}
		if err := requireEmpty(tx); err != nil {
			return err
		}
		for _, name := range currentBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		v = currentVersion
		return writeVersion(tx, v)
	})
	if err != nil {
		return 0, fmt.Errorf("initialise schema: %w", err)
	}
	return v, nil
}

// migrateOne runs migrations[from] and records version from+1.
func (s *Store) migrateOne(tx *bolt.Tx, from int) error {
	v, err := readVersion(tx)
	if err != nil {
		return err
	}
	if v != from {
		return fmt.Errorf("schema version is %d, expected %d", v, from)
	}
	if err := migrations[from](s, tx); err != nil {
		return err
	}
	return writeVersion(tx, from+1)
}

// requireEmpty refuses to initialise a bbolt file that holds someone else's
// buckets.
func requireEmpty(tx *bolt.Tx) error {
	var names []string
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		names = append(names, string(name))
		return nil
	})
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("not a drawbridge state file: it has buckets %q but no meta bucket", names)
	}
	return nil
}

// checkLayout verifies that every bucket of the current schema exists, so no
// method meets a nil bucket.
func checkLayout(tx *bolt.Tx) error {
	for _, name := range currentBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("state file is damaged: bucket %s is missing", name)
		}
	}
	return nil
}

func readVersion(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, errors.New("bucket meta is missing")
	}
	n, ok := keyU64(meta.Get(keySchemaVersion))
	if !ok || n == 0 || n > 1<<31 {
		return 0, fmt.Errorf("meta %s is malformed: %x", keySchemaVersion, meta.Get(keySchemaVersion))
	}
	return int(n), nil
}

func writeVersion(tx *bolt.Tx, v int) error {
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, u64Key(uint64(v)))
}
