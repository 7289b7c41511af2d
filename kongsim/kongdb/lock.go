package kongdb

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"
)

// migrationsLock is MIGRATIONS_MUTEX_KEY.
const migrationsLock = "migrations"

// maxLockWaitStep is MAX_LOCK_WAIT_STEP: a waiting node polls the lock every 0.1 s, then
// three times less often each time, at most every 2 s.
const maxLockWaitStep = 2 * time.Second

type mutexOpts struct {
	ttl       time.Duration // the lock row's TTL, and how long a waiting node waits
	noWait    bool          // give up at once when another node holds the lock
	noCleanup bool          // leave the row when done (reset: the table is gone anyway)
	onWait    func()        // tests: called when the node starts waiting
}

// clusterMutex is DB:cluster_mutex: insert the lock row (deleting expired ones first) and
// run fn while holding it. It returns false, nil when another node holds the lock and
// either noWait is set or the other node released it while this one waited; and
// "[PostgreSQL error] timeout" when the wait outlasted the TTL.
func (db *DB) clusterMutex(ctx context.Context, key string, o mutexOpts, fn func() error) (bool, error) {
	owner := newUUID()
	got, err := db.insertLock(ctx, key, owner, o.ttl)
	if err != nil {
		return false, pgError(err, "failed to insert cluster lock: ")
	}
	if !got {
		if o.noWait {
			return false, nil
		}
		if o.onWait != nil {
			o.onWait()
		}
		return false, db.waitLock(ctx, key, o.ttl)
	}
	err = fn()
	if err != nil || !o.noCleanup {
		db.removeLock(ctx, key, owner)
	}
	return err == nil, err
}

// waitLock waits for another node's lock to go: nil when it did, the timeout error when
// ttl passed first.
func (db *DB) waitLock(ctx context.Context, key string, ttl time.Duration) error {
	step, elapsed := 100*time.Millisecond, time.Duration(0)
	for elapsed < ttl {
		t := time.NewTimer(step)
		select {
		case <-ctx.Done():
			t.Stop()
			return pgError(ctx.Err(), "failed to read cluster lock: ")
		case <-t.C:
		}
		elapsed += step
		if elapsed >= ttl {
			break
		}
		locked, err := db.readLock(ctx, key)
		if err != nil {
			return pgError(err, "failed to read cluster lock: ")
		}
		if !locked {
			return nil
		}
		step = min(step*3, maxLockWaitStep)
	}
	return &Error{Msg: "timeout"}
}

func (db *DB) insertLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	tx, err := db.conn.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer rollback(tx)
	if _, err := tx.Exec(ctx, `DELETE FROM locks
        WHERE ttl < CURRENT_TIMESTAMP AT TIME ZONE 'UTC'`); err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO locks (key, owner, ttl)
       VALUES ($1, $2, CURRENT_TIMESTAMP + make_interval(secs => $3))
  ON CONFLICT DO NOTHING`, key, owner, ttl.Seconds())
	if err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func (db *DB) readLock(ctx context.Context, key string) (bool, error) {
	var locked bool
	err := db.queryRow(ctx, `SELECT EXISTS (SELECT 1
  FROM locks
 WHERE key = $1
   AND ttl >= CURRENT_TIMESTAMP AT TIME ZONE 'UTC')`, key).Scan(&locked)
	return locked, err
}

// removeLock deletes our row; an error is ignored, as Kong ignores it (the row expires).
func (db *DB) removeLock(ctx context.Context, key, owner string) {
	ctx = context.WithoutCancel(ctx)
	if err := db.reconnect(ctx); err != nil {
		return // the lock expires with its ttl
	}
	_ = db.exec(ctx, `DELETE FROM locks WHERE key = $1 AND owner = $2`, key, owner)
}

// newUUID returns a random (version 4) UUID, as Kong's node id for the lock owner.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
