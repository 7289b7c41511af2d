package storage

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOutbox(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	var msgs []OutboxMessage
	for i, key := range []string{"status-1", "", "status-1", "thread-1"} {
		m, err := s.Enqueue(ctx, OutboxMessage{Run: 1, Method: "chat.postMessage", Key: key, Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		mustDo(t, err)
		if m.Seq != uint64(i+1) || !m.EnqueuedAt.Equal(clock.Now()) {
			t.Errorf("Enqueue = seq %d at %v, want %d at %v", m.Seq, m.EnqueuedAt, i+1, clock.Now())
		}
		msgs = append(msgs, m)
		clock.Advance(time.Second)
	}
	pending := func() []OutboxMessage {
		t.Helper()
		got, err := s.PendingOutbox(ctx, 0)
		mustDo(t, err)
		return got
	}
	assertEqual(t, "pending in seq order", pending(), msgs)
	got, err := s.PendingOutbox(ctx, 2)
	mustDo(t, err)
	assertEqual(t, "pending with limit", got, msgs[:2])

	// Delivered: the first message with a key stores its ref.
	mustDo(t, s.CompleteOutbox(ctx, 1, MessageRef{Channel: "C1", TS: "100.1"}))
	wantErrIs(t, s.CompleteOutbox(ctx, 1, MessageRef{Channel: "C1", TS: "100.1"}), ErrNotFound)
	wantErrIs(t, s.CompleteOutbox(ctx, 99, MessageRef{}), ErrNotFound)
	// A later message with the same key does not replace the ref.
	mustDo(t, s.CompleteOutbox(ctx, 3, MessageRef{Channel: "C1", TS: "200.2"}))
	// No TS (e.g. chat.update answered without one): no ref.
	mustDo(t, s.CompleteOutbox(ctx, 2, MessageRef{}))
	ref, ok, err := s.MessageRef(ctx, "status-1")
	if err != nil || !ok || ref != (MessageRef{Channel: "C1", TS: "100.1"}) {
		t.Errorf("MessageRef(status-1) = %+v, %v, %v; want C1/100.1", ref, ok, err)
	}
	for _, key := range []string{"", "thread-1", "nope"} {
		if _, ok, err := s.MessageRef(ctx, key); ok || err != nil {
			t.Errorf("MessageRef(%q) = found %v, %v; want none", key, ok, err)
		}
	}
	assertEqual(t, "pending after completions", pending(), msgs[3:])

	// Rate limited: retry later.
	later := clock.Now().Add(30 * time.Second)
	mustDo(t, s.RetryOutbox(ctx, 4, later, "ratelimited"))
	mustDo(t, s.RetryOutbox(ctx, 4, later.Add(time.Minute), "ratelimited again"))
	retried := msgs[3]
	retried.Attempts, retried.NotBefore, retried.LastError = 2, later.Add(time.Minute), "ratelimited again"
	assertEqual(t, "pending after retries", pending(), []OutboxMessage{retried})
	wantErrIs(t, s.RetryOutbox(ctx, 1, later, "x"), ErrNotFound)

	// Given up: dead letter.
	mustDo(t, s.FailOutbox(ctx, 4, "channel_not_found"))
	wantErrIs(t, s.FailOutbox(ctx, 4, "again"), ErrNotFound)
	wantErrIs(t, s.CompleteOutbox(ctx, 4, MessageRef{}), ErrNotFound)
	if got := pending(); len(got) != 0 {
		t.Errorf("pending after FailOutbox = %+v, want none", got)
	}
	dead := retried
	dead.Attempts, dead.LastError, dead.DeadAt = 3, "channel_not_found", clock.Now()
	dl, err := s.DeadLetters(ctx, 0)
	mustDo(t, err)
	assertEqual(t, "dead letters", dl, []OutboxMessage{dead})
}

// TestPurgeDeadLetters: dead letters are forgotten by the time they died (the time they
// were enqueued for those stored before that was recorded); pending messages stay.
func TestPurgeDeadLetters(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	start := clock.Now()
	var seqs []uint64
	for range 4 {
		m, err := s.Enqueue(ctx, OutboxMessage{Run: 1, Method: "chat.postMessage"})
		mustDo(t, err)
		seqs = append(seqs, m.Seq)
	}
	mustDo(t, s.FailOutbox(ctx, seqs[0], "channel_not_found")) // dies at once
	// A dead letter of an older drawbridge: no DeadAt.
	mustDo(t, s.update(ctx, func(tx *bolt.Tx) error {
		m, err := getMessage(tx.Bucket(bucketOutbox), seqs[1])
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketOutbox).Delete(u64Key(m.Seq)); err != nil {
			return err
		}
		return putMessage(tx.Bucket(bucketOutboxDead), m)
	}))
	clock.Advance(10 * time.Hour)
	mustDo(t, s.FailOutbox(ctx, seqs[2], "invalid_blocks")) // enqueued long ago, died just now

	n, err := s.PurgeDeadLetters(ctx, start.Add(5*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PurgeDeadLetters = %d, %v; want 2", n, err)
	}
	dl, err := s.DeadLetters(ctx, 0)
	mustDo(t, err)
	if len(dl) != 1 || dl[0].Seq != seqs[2] || !dl[0].DeadAt.Equal(clock.Now()) {
		t.Errorf("dead letters after the purge: %+v; want message %d, dead at %v", dl, seqs[2], clock.Now())
	}
	pending, err := s.PendingOutbox(ctx, 0)
	mustDo(t, err)
	if len(pending) != 1 || pending[0].Seq != seqs[3] {
		t.Errorf("pending after the purge: %+v; want message %d", pending, seqs[3])
	}
	if n, err := s.PurgeDeadLetters(ctx, start.Add(5*time.Hour)); n != 0 || err != nil {
		t.Errorf("PurgeDeadLetters again = %d, %v; want 0", n, err)
	}
}

func TestOutboxRefusals(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	tests := []struct {
		name string
		m    OutboxMessage
		want string
	}{
		{"no method", OutboxMessage{Payload: json.RawMessage(`{}`)}, "method is empty"},
		{"invalid payload", OutboxMessage{Method: "chat.postMessage", Payload: json.RawMessage(`{`)}, "encode outbox message"},
		{"key too long", OutboxMessage{Method: "chat.postMessage", Key: strings.Repeat("k", 40000)}, "key is 40000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Enqueue(ctx, tt.m); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Enqueue = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := s.PendingOutbox(ctx, -1); err == nil {
		t.Error("PendingOutbox(-1) succeeded")
	}
	if got, _ := s.PendingOutbox(ctx, 0); len(got) != 0 {
		t.Errorf("refused messages were stored: %+v", got)
	}
}

// The payload must not point into bbolt's memory map: after Close unmaps the
// file, reading it would crash the process.
func TestOutboxPayloadOutlivesTransaction(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	payload := `{"blocks":[` + strings.Repeat(`{"type":"divider"},`, 500) + `{"type":"divider"}]}`
	_, err := s.Enqueue(ctx, OutboxMessage{Method: "chat.postMessage", Payload: json.RawMessage(payload)})
	mustDo(t, err)
	got, err := s.PendingOutbox(ctx, 0)
	mustDo(t, err)
	mustDo(t, s.Close())
	if string(got[0].Payload) != payload {
		t.Errorf("payload after Close differs: %d bytes, want %d", len(got[0].Payload), len(payload))
	}
}
