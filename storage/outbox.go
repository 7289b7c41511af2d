package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	bolt "go.etcd.io/bbolt"
)

// OutboxMessage is a Slack call waiting to be made. Messages are delivered in
// Seq order; one that keeps failing moves to the dead letters.
type OutboxMessage struct {
	Seq        uint64          `json:"seq"`
	Run        domain.RunID    `json:"run,omitempty"`
	Method     string          `json:"method"`        // e.g. "chat.postMessage"
	Key        string          `json:"key,omitempty"` // names the Slack message for later updates
	Payload    json.RawMessage `json:"payload,omitempty"`
	Attempts   int             `json:"attempts"`
	NotBefore  time.Time       `json:"not_before,omitzero"`
	LastError  string          `json:"last_error,omitempty"`
	EnqueuedAt time.Time       `json:"enqueued_at"`
	// DeadAt is when FailOutbox gave up on it (zero for pending messages, and for dead
	// letters stored before drawbridge recorded it: their EnqueuedAt stands in).
	DeadAt time.Time `json:"dead_at,omitzero"`
}

// MessageRef locates a posted Slack message.
type MessageRef struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// Enqueue adds m to the outbox, assigning Seq (global order) and EnqueuedAt.
func (s *Store) Enqueue(ctx context.Context, m OutboxMessage) (OutboxMessage, error) {
	if m.Method == "" {
		return OutboxMessage{}, errors.New("enqueue message: method is empty")
	}
	if len(m.Key) > bolt.MaxKeySize {
		return OutboxMessage{}, fmt.Errorf("enqueue message: key is %d bytes, more than %d", len(m.Key), bolt.MaxKeySize)
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		m.Seq = seq
		m.EnqueuedAt = s.stamp()
		return putMessage(b, m)
	})
	if err != nil {
		return OutboxMessage{}, fmt.Errorf("enqueue %s message for run %s: %w", m.Method, m.Run, err)
	}
	return m, nil
}

// PendingOutbox returns up to limit (0 = all) undelivered messages in Seq
// order, including ones whose NotBefore has not come yet: the sender decides
// with its own clock, and must not overtake an earlier message of a thread.
func (s *Store) PendingOutbox(ctx context.Context, limit int) ([]OutboxMessage, error) {
	out, err := s.listMessages(ctx, bucketOutbox, limit)
	if err != nil {
		return nil, fmt.Errorf("list pending outbox: %w", err)
	}
	return out, nil
}

// DeadLetters returns up to limit (0 = all) messages that FailOutbox gave up
// on, in Seq order.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]OutboxMessage, error) {
	out, err := s.listMessages(ctx, bucketOutboxDead, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// CompleteOutbox removes delivered message seq from the outbox. If it has a
// Key and ref.TS is set, ref is stored under the Key unless one is stored
// already, so later updates find the message. An unknown or already
// completed seq is ErrNotFound.
func (s *Store) CompleteOutbox(ctx context.Context, seq uint64, ref MessageRef) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		m, err := getMessage(b, seq)
		if err != nil {
			return err
		}
		if err := b.Delete(u64Key(seq)); err != nil {
			return err
		}
		if m.Key == "" || ref.TS == "" {
			return nil
		}
		refs := tx.Bucket(bucketMessageRefs)
		if refs.Get([]byte(m.Key)) != nil {
			return nil // the first post of a key is the one later updates edit
		}
		v, err := encode(tx, "message ref", messageRefRecord{V: formatV1, MessageRef: ref})
		if err != nil {
			return err
		}
		return refs.Put([]byte(m.Key), v)
	})
	if err != nil {
		return fmt.Errorf("complete outbox message %d: %w", seq, err)
	}
	return nil
}

// RetryOutbox records a failed delivery of message seq: Attempts+1, the
// error, and the earliest time of the next attempt.
func (s *Store) RetryOutbox(ctx context.Context, seq uint64, notBefore time.Time, errText string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		m, err := getMessage(b, seq)
		if err != nil {
			return err
		}
		m.Attempts++
		m.NotBefore = notBefore
		m.LastError = errText
		return putMessage(b, m)
	})
	if err != nil {
		return fmt.Errorf("retry outbox message %d: %w", seq, err)
	}
	return nil
}

// FailOutbox gives up on message seq after a failed attempt (Attempts+1,
// LastError set) and moves it to the dead letters.
func (s *Store) FailOutbox(ctx context.Context, seq uint64, errText string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		m, err := getMessage(b, seq)
		if err != nil {
			return err
		}
		m.Attempts++
		m.LastError = errText
		m.DeadAt = s.stamp()
		if err := b.Delete(u64Key(seq)); err != nil {
			return err
		}
		return putMessage(tx.Bucket(bucketOutboxDead), m)
	})
	if err != nil {
		return fmt.Errorf("fail outbox message %d: %w", seq, err)
	}
	return nil
}

// PurgeDeadLetters forgets the dead letters that died before olderThan (by DeadAt, or
// EnqueuedAt for those stored without it) and returns how many. Like PurgeKeys it collects
// the keys first and deletes them afterwards.
func (s *Store) PurgeDeadLetters(ctx context.Context, olderThan time.Time) (int, error) {
	n, err := s.purge(ctx, bucketOutboxDead, func(k, v []byte) (bool, error) {
		var rec outboxRecord
		if err := decode("dead letter "+keyString(k), v, &rec); err != nil {
			return false, err
		}
		died := rec.DeadAt
		if died.IsZero() {
			died = rec.EnqueuedAt
		}
		return died.Before(olderThan), nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge dead letters older than %s: %w", olderThan.Format(time.RFC3339), err)
	}
	return n, nil
}

// MessageRef returns the Slack message stored under key by CompleteOutbox.
func (s *Store) MessageRef(ctx context.Context, key string) (MessageRef, bool, error) {
	var (
		ref MessageRef
		ok  bool
	)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if key == "" {
			return nil
		}
		v := tx.Bucket(bucketMessageRefs).Get([]byte(key))
		if v == nil {
			return nil
		}
		var rec messageRefRecord
		if err := decode("message ref", v, &rec); err != nil {
			return err
		}
		ref, ok = rec.MessageRef, true
		return nil
	})
	if err != nil {
		return MessageRef{}, false, fmt.Errorf("message ref %q: %w", key, err)
	}
	return ref, ok, nil
}

func (s *Store) listMessages(ctx context.Context, bucket []byte, limit int) ([]OutboxMessage, error) {
	if limit < 0 {
		return nil, fmt.Errorf("limit %d is negative", limit)
	}
	var out []OutboxMessage
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.First(); k != nil && !full(out, limit); k, v = c.Next() {
			var rec outboxRecord
			if err := decode("outbox message "+keyString(k), v, &rec); err != nil {
				return err
			}
			out = append(out, rec.OutboxMessage) // Payload was copied by Unmarshal
		}
		return nil
	})
	return out, err
}

func getMessage(b *bolt.Bucket, seq uint64) (OutboxMessage, error) {
	v := b.Get(u64Key(seq))
	if v == nil {
		return OutboxMessage{}, ErrNotFound
	}
	var rec outboxRecord
	if err := decode("outbox message", v, &rec); err != nil {
		return OutboxMessage{}, err
	}
	return rec.OutboxMessage, nil
}

func putMessage(b *bolt.Bucket, m OutboxMessage) error {
	v, err := encode(b.Tx(), "outbox message", outboxRecord{V: formatV1, OutboxMessage: m})
	if err != nil {
		return err
	}
	return b.Put(u64Key(m.Seq), v)
}
