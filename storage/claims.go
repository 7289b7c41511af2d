package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ClaimKey claims an idempotency key (a Slack action, trigger or envelope
// ID): true the first time, false ever after, until PurgeKeys removes it. The
// claim time is stored with it. Claims made at the same moment share a commit
// (Slack's requests come in bursts and each waits for its claim).
func (s *Store) ClaimKey(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, errors.New("claim key: key is empty")
	}
	if len(key) > bolt.MaxKeySize {
		return false, fmt.Errorf("claim key: key is %d bytes, more than %d", len(key), bolt.MaxKeySize)
	}
	var claimed bool
	err := s.batch(ctx, func(tx *bolt.Tx) error {
		claimed = false // Batch may run this again
		b := tx.Bucket(bucketClaimedKeys)
		if b.Get([]byte(key)) != nil {
			return nil
		}
		v, err := encode(tx, "claim", claimRecord{V: formatV1, ClaimedAt: s.stamp()})
		if err != nil {
			return err
		}
		claimed = true
		return b.Put([]byte(key), v)
	})
	if err != nil {
		return false, fmt.Errorf("claim key %q: %w", key, err)
	}
	return claimed, nil
}

// PurgeKeys forgets keys claimed before olderThan and returns how many. It
// collects the keys first and deletes them afterwards: deleting while a
// cursor walks the bucket can skip keys.
func (s *Store) PurgeKeys(ctx context.Context, olderThan time.Time) (int, error) {
	n, err := s.purge(ctx, bucketClaimedKeys, func(k, v []byte) (bool, error) {
		var rec claimRecord
		if err := decode("claim", v, &rec); err != nil {
			return false, err
		}
		return rec.ClaimedAt.Before(olderThan), nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge keys claimed before %s: %w", olderThan.Format(time.RFC3339), err)
	}
	return n, nil
}

// purge deletes the records of bucket that old says are old, in one transaction, and says
// how many. It looks in a read transaction first and writes nothing when none is: a sweep
// that finds nothing leaves the state file as it was.
func (s *Store) purge(ctx context.Context, bucket []byte, old func(k, v []byte) (bool, error)) (int, error) {
	var keys [][]byte
	collect := func(tx *bolt.Tx) error {
		keys = keys[:0]
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			ok, err := old(k, v)
			if ok {
				keys = append(keys, append([]byte(nil), k...))
			}
			return err
		})
	}
	if err := s.view(ctx, collect); err != nil || len(keys) == 0 {
		return 0, err
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if err := collect(tx); err != nil {
			return err
		}
		b := tx.Bucket(bucket)
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(keys), nil
}
