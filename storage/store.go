package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/drawbridge/drawbridge/scrub"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options configures Open. The zero value is ready to use.
type Options struct {
	// LockTimeout is how long Open waits for the file lock held by another
	// process before failing with ErrLocked. Default 1s.
	LockTimeout time.Duration
	// NoSync skips fsync on commit. For tests and benchmarks only: a crash
	// can lose committed writes.
	NoSync bool
	// Now stamps CreatedAt, UpdatedAt, At and similar fields, and times Ping's
	// retries. Default time.Now.
	Now func() time.Time

	// Secrets are values never to be stored (Slack tokens, database passwords): every
	// record is scrubbed of them as it is written (see package scrub).
	Secrets []string

	// openFile opens the file bbolt reads and writes (default os.OpenFile): tests
	// reach the file through it to make writes fail as a full disk does.
	openFile func(name string, flag int, perm os.FileMode) (*os.File, error)
}

const defaultLockTimeout = time.Second

func (o Options) withDefaults() (Options, error) {
	if o.LockTimeout < 0 {
		return o, fmt.Errorf("lock timeout %s is negative", o.LockTimeout)
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = defaultLockTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Store is drawbridge's state file. It is safe for concurrent use.
type Store struct {
	db     *bolt.DB
	path   string
	now    func() time.Time
	closed atomic.Bool
	// writeFailed is the last write transaction's failure to begin or commit (a full
	// disk, an I/O error), nil once a write has committed since: what Ping reports.
	writeFailed atomic.Pointer[writeFailure]
}

// writeFailure is a write transaction that bbolt could not begin or commit, and when
// (on the Store's clock) it failed or Ping last retried.
type writeFailure struct {
	err error
	at  time.Time
}

// pingRetry is how often, at most, Ping writes to find out whether the state file
// takes writes again after one failed.
const pingRetry = 5 * time.Second

// Open opens the state file at path, creating it (and its directory, mode
// 0700) if missing, and brings its schema to the current version. It fails
// with ErrLocked if another process holds the file for longer than
// opts.LockTimeout, and with ErrNewerSchema if a newer drawbridge wrote it.
func Open(path string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open state file %s: create directory: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, NoSync: opts.NoSync, OpenFile: opts.openFile})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open state file %s: %w (another drawbridge may be running with this state file)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	db.MaxBatchDelay = batchDelay
	s := &Store{db: db, path: path, now: opts.Now}
	if sc := scrub.New(opts.Secrets...); len(opts.Secrets) > 0 {
		scrubbers.Store(db, sc)
	}
	if err := s.migrate(); err != nil {
		_ = db.Close() // the migration error is the one worth reporting
		var newer *newerSchemaError
		if errors.As(err, &newer) {
			return nil, err
		}
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	return s, nil
}

// Close closes the state file, waiting for running transactions. Methods
// called afterwards fail with ErrClosed; closing twice is a no-op.
func (s *Store) Close() error {
	s.closed.Store(true)
	scrubbers.Delete(s.db)
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state file %s: %w", s.path, err)
	}
	return nil
}

// Path returns the state file's path.
func (s *Store) Path() string { return s.path }

// Ping proves the file can do its work without writing to it, so that a probe may
// call it as often as it likes: the Store is open, the file's meta bucket reads back
// the schema version this code writes, and the last write transaction committed.
// After a write failed, Ping reports that failure until a write commits again; to
// find out, it writes a timestamp to the meta bucket itself, at most once per
// pingRetry. It backs /readyz.
func (s *Store) Ping(ctx context.Context) error {
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v, err := readVersion(tx)
		if err != nil {
			return err
		}
		if v != currentVersion {
			return fmt.Errorf("schema version %d, want %d", v, currentVersion)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ping state file %s: %w", s.path, err)
	}
	f := s.writeFailed.Load()
	if f == nil {
		return nil
	}
	now := s.now()
	if now.Sub(f.at) < pingRetry || !s.writeFailed.CompareAndSwap(f, &writeFailure{err: f.err, at: now}) {
		return fmt.Errorf("ping state file %s: the last write failed: %w", s.path, f.err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b, err := s.stamp().MarshalBinary()
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyPing, b)
	})
	if err != nil {
		return fmt.Errorf("ping state file %s: writes fail: %w", s.path, err)
	}
	return nil
}

// Check verifies the file's page structure (bbolt's tx.Check) and
// drawbridge's own invariants: every record decodes, the active index and
// the non-terminal runs agree, and the per-run audit index matches the audit
// log. All problems found are joined into the returned error.
func (s *Store) Check(ctx context.Context) error {
	var errs []error
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		errs = append(errs, checkInvariants(tx)...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("check state file %s: %w", s.path, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("check state file %s: %w", s.path, err)
	}
	return nil
}

// SchemaVersion returns the file's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Now is the time on the Store's clock (Options.Now) as it stamps records: what a caller
// measures a record's age against.
func (s *Store) Now() time.Time { return s.stamp() }

// stamp is the current time as stored: UTC, without a monotonic reading.
func (s *Store) stamp() time.Time { return s.now().UTC().Round(0) }

// view runs fn in a read transaction after checking ctx and the Store.
func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	return closedErr(s.db.View(fn))
}

// update runs fn in one write transaction after checking ctx and the Store.
// fn must be free of side effects outside the transaction.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	var fnErr error
	err := s.db.Update(func(tx *bolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	s.noteWrite(err, fnErr)
	return closedErr(err)
}

// batchDelay is how long a batch waits for more writers before it commits. Short: the
// writers of a burst arrive while the previous commit syncs and join the next batch
// anyway, and a lone claim should not wait bbolt's default 10ms.
const batchDelay = time.Millisecond

// batch is update through bbolt's Batch: writers at the same moment share one commit (one
// fsync), so a burst of small writes (claims of Slack requests) does not queue for the
// disk one by one. fn may run more than once: it must set its results afresh each time.
func (s *Store) batch(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	var fnErr error
	err := s.db.Batch(func(tx *bolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	s.noteWrite(err, fnErr)
	return closedErr(err)
}

// noteWrite records for Ping how a write transaction ended: committed, or failed
// to begin or commit (err is bbolt's, not fn's). A transaction fn refused tells
// nothing about the file, nor does one that raced Close.
func (s *Store) noteWrite(err, fnErr error) {
	switch {
	case err == nil:
		if s.writeFailed.Load() != nil {
			s.writeFailed.Store(nil)
		}
	case fnErr == nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		s.writeFailed.Store(&writeFailure{err: err, at: s.now()})
	}
}

func (s *Store) ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// closedErr turns bbolt's "database not open" (a Close that raced the
// closed flag) into ErrClosed.
func closedErr(err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
