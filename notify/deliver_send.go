package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/drawbridge/drawbridge/storage"
)

// Sending one outbox message: the Slack call its kind needs, and what its outcome means.

// one makes one attempt at message m.
func (d *Deliverer) one(ctx context.Context, m storage.OutboxMessage, next *storage.OutboxMessage, pending pendingIndex) (outcome, error) {
	now := d.Clock.Now()
	if m.NotBefore.After(now) {
		return outcome{until: m.NotBefore}, nil
	}
	var p payload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return d.settle(ctx, m, m.Method, storage.MessageRef{}, &Error{Class: Permanent, Code: errBadPayload, Err: err})
	}
	if d.GiveUpAfter > 0 && !m.EnqueuedAt.IsZero() && now.Sub(m.EnqueuedAt) > d.GiveUpAfter {
		return d.settle(ctx, m, m.Method, storage.MessageRef{}, &Error{Class: Permanent, Code: errExpired,
			Err: fmt.Errorf("not delivered within %s (last error: %s)", d.GiveUpAfter, m.LastError)})
	}
	switch p.Kind {
	case kindUpsert:
		return d.upsert(ctx, m, p, next, pending)
	case kindReply:
		return d.reply(ctx, m, p, pending)
	case kindEphemeral:
		return d.ephemeral(ctx, m, p)
	case kindUpload:
		return d.upload(ctx, m, p, pending)
	}
	return d.settle(ctx, m, m.Method, storage.MessageRef{}, &Error{Class: Permanent, Code: errBadPayload,
		Err: fmt.Errorf("unknown kind %q", p.Kind)})
}

func (d *Deliverer) upsert(ctx context.Context, m storage.OutboxMessage, p payload, next *storage.OutboxMessage, pending pendingIndex) (outcome, error) {
	// A version that may be on Slack already is not skipped: it is looked
	// up first, so that the newer one becomes an update of it.
	if next != nil && next.Key == m.Key && next.Key != "" && !d.maybeSent[m.Seq] {
		var np payload
		if json.Unmarshal(next.Payload, &np) == nil && np.Kind == kindUpsert {
			d.Log.Debug("skip a Slack message version that a newer one replaces", "run", m.Run.String(), "key", m.Key, "seq", m.Seq)
			return d.skip(ctx, m)
		}
	}
	msg, err := p.message()
	if err != nil {
		return d.settle(ctx, m, MethodPost, storage.MessageRef{}, &Error{Class: Permanent, Code: errBadPayload, Err: err})
	}
	ref, ok, err := d.Store.MessageRef(ctx, m.Key)
	if err != nil {
		return outcome{}, err
	}
	if !ok {
		// First version: posted in the channel, or in the thread of its parent.
		parent, o, ready, err := d.parent(ctx, m, p, pending)
		if !ready || err != nil {
			return o, err
		}
		return d.post(ctx, m, msg, parent.Channel, parent.TS)
	}
	if o, cooling := d.cooling(MethodUpdate); cooling {
		return o, nil
	}
	err = d.call(ctx, func(ctx context.Context) error { return d.Slack.UpdateMessage(ctx, ref.Channel, ref.TS, msg) })
	return d.settle(ctx, m, MethodUpdate, storage.MessageRef{}, err)
}

func (d *Deliverer) reply(ctx context.Context, m storage.OutboxMessage, p payload, pending pendingIndex) (outcome, error) {
	if _, ok, err := d.Store.MessageRef(ctx, m.Key); err != nil {
		return outcome{}, err
	} else if ok {
		return d.skip(ctx, m) // posted already
	}
	parent, o, ready, err := d.parent(ctx, m, p, pending)
	if !ready || err != nil {
		return o, err
	}
	msg, err := p.message()
	if err != nil {
		return d.settle(ctx, m, MethodPost, storage.MessageRef{}, &Error{Class: Permanent, Code: errBadPayload, Err: err})
	}
	return d.post(ctx, m, msg, parent.Channel, parent.TS)
}

// parent finds the ts of the message a reply or upload goes under. When it
// is not known yet, ready is false and o says what became of m: it waits
// while the parent is pending, and is a dead letter otherwise.
func (d *Deliverer) parent(ctx context.Context, m storage.OutboxMessage, p payload, pending pendingIndex) (ref storage.MessageRef, o outcome, ready bool, err error) {
	if p.ThreadKey == "" {
		return storage.MessageRef{Channel: p.Channel}, outcome{}, true, nil
	}
	ref, ok, err := d.Store.MessageRef(ctx, p.ThreadKey)
	switch {
	case err != nil:
		return ref, outcome{}, false, err
	case ok:
		return ref, outcome{}, true, nil
	case pending.elsewhere(p.ThreadKey, laneOf(m)):
		return ref, outcome{}, false, nil // waits until the parent is delivered
	}
	o, err = d.settle(ctx, m, m.Method, storage.MessageRef{}, &Error{Class: Permanent, Code: errParentNotPosted,
		Err: fmt.Errorf("the message %q this one belongs under was never posted", p.ThreadKey)})
	return ref, o, false, err
}

// post posts a message once: when an earlier attempt may have reached Slack,
// it looks for it first.
func (d *Deliverer) post(ctx context.Context, m storage.OutboxMessage, msg Message, channel, threadTS string) (outcome, error) {
	if o, cooling := d.cooling(MethodPost); cooling {
		return o, nil
	}
	if f, ok := d.Slack.(Finder); ok && d.maybeSent[m.Seq] && m.Key != "" {
		if o, cooling := d.cooling(methodLookup); cooling {
			return o, nil
		}
		var (
			ts    string
			found bool
		)
		err := d.call(ctx, func(ctx context.Context) (err error) {
			ts, found, err = f.FindPosted(ctx, channel, threadTS, m.Key)
			return err
		})
		switch e := Classify(err); {
		case e != nil && e.Class != Permanent:
			return d.settle(ctx, m, methodLookup, storage.MessageRef{}, err)
		case e != nil:
			d.m.errors.WithLabelValues(methodLookup, e.Code).Inc()
			d.Log.Warn("cannot look for an earlier post of a Slack message; posting it, it may appear twice",
				"run", m.Run.String(), "key", m.Key, "code", e.Code, "err", err)
		case found:
			d.Log.Info("Slack message was posted before the answer was lost; not posting it again",
				"run", m.Run.String(), "key", m.Key, "ts", ts)
			return d.settle(ctx, m, MethodPost, storage.MessageRef{Channel: channel, TS: ts}, nil)
		}
	}
	msg.Key = m.Key
	var ts string
	err := d.call(ctx, func(ctx context.Context) (err error) {
		ts, err = d.Slack.PostMessage(ctx, channel, threadTS, msg)
		return err
	})
	return d.settle(ctx, m, MethodPost, storage.MessageRef{Channel: channel, TS: ts}, err)
}

func (d *Deliverer) ephemeral(ctx context.Context, m storage.OutboxMessage, p payload) (outcome, error) {
	msg, err := p.message()
	if err != nil {
		return d.settle(ctx, m, MethodEphemeral, storage.MessageRef{}, &Error{Class: Permanent, Code: errBadPayload, Err: err})
	}
	if o, cooling := d.cooling(MethodEphemeral); cooling {
		return o, nil
	}
	err = d.call(ctx, func(ctx context.Context) error { return d.Slack.PostEphemeral(ctx, p.Channel, p.User, msg) })
	return d.settle(ctx, m, MethodEphemeral, storage.MessageRef{}, err)
}

func (d *Deliverer) upload(ctx context.Context, m storage.OutboxMessage, p payload, pending pendingIndex) (outcome, error) {
	if _, ok, err := d.Store.MessageRef(ctx, m.Key); err != nil {
		return outcome{}, err
	} else if ok {
		return d.skip(ctx, m)
	}
	if p.File == nil {
		return d.settle(ctx, m, MethodUpload, storage.MessageRef{}, &Error{Class: Permanent, Code: errBadPayload, Err: errors.New("no file")})
	}
	parent, o, ready, err := d.parent(ctx, m, p, pending)
	if !ready || err != nil {
		return o, err
	}
	if o, cooling := d.cooling(MethodUpload); cooling {
		return o, nil
	}
	var id string
	err = d.call(ctx, func(ctx context.Context) (err error) {
		id, err = d.Slack.UploadFile(ctx, parent.Channel, parent.TS, *p.File)
		return err
	})
	// The file's ID is recorded under the key ("file:F…"), so it is shared once.
	return d.settle(ctx, m, MethodUpload, storage.MessageRef{Channel: parent.Channel, TS: "file:" + id}, err)
}

// cooling holds back calls of a method that Slack rate limited.
func (d *Deliverer) cooling(method string) (outcome, bool) {
	if until := d.cooldown[method]; until.After(d.Clock.Now()) {
		return outcome{until: until}, true
	}
	return outcome{}, false
}

func (d *Deliverer) call(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d.CallTimeout)
	defer cancel()
	return f(ctx)
}

// skip removes a message that needs no call.
func (d *Deliverer) skip(ctx context.Context, m storage.OutboxMessage) (outcome, error) {
	if err := d.Store.CompleteOutbox(context.WithoutCancel(ctx), m.Seq, storage.MessageRef{}); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return outcome{}, err
	}
	return outcome{removed: true}, nil
}

// settle records the result of a call to method for message m: delivered
// (with the ref to keep under m's key), retried later, or a dead letter.
// The records are written even when ctx is being cancelled: Slack has
// answered, and forgetting it is what would post twice.
func (d *Deliverer) settle(ctx context.Context, m storage.OutboxMessage, method string, ref storage.MessageRef, callErr error) (outcome, error) {
	store := context.WithoutCancel(ctx)
	isPost := method == MethodPost || method == methodLookup
	log := d.Log.With("run", m.Run.String(), "seq", m.Seq, "key", m.Key, "method", method)
	if callErr == nil {
		if err := d.Store.CompleteOutbox(store, m.Seq, ref); err != nil && !errors.Is(err, storage.ErrNotFound) {
			if isPost {
				d.maybeSent[m.Seq] = true // Slack has it; our record does not
			}
			return outcome{}, err
		}
		d.m.delivered.WithLabelValues(method).Inc()
		return outcome{removed: true}, nil
	}
	e := Classify(callErr)
	if ctx.Err() != nil {
		if isPost {
			d.maybeSent[m.Seq] = true // stopping mid-call: the post may be on Slack
		}
		return outcome{}, nil
	}
	d.m.errors.WithLabelValues(method, e.Code).Inc()
	if isPost && e.MaybeSent {
		d.maybeSent[m.Seq] = true
	}
	now := d.Clock.Now()
	switch e.Class {
	case Permanent:
		log.Error("Slack refused a message; it is kept as a dead letter", "code", e.Code, "err", callErr)
		if err := d.Store.FailOutbox(store, m.Seq, e.Code+": "+callErr.Error()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return outcome{}, err
		}
		return outcome{removed: true}, nil
	case RateLimited:
		until := now.Add(e.RetryAfter)
		if d.cooldown[method].Before(until) {
			d.cooldown[method] = until
		}
		log.Warn("Slack rate limited a call; waiting as asked", "retry_after", e.RetryAfter)
		return d.retry(store, m, until, e)
	}
	until := now.Add(d.Backoff(m.Attempts + 1))
	log.Warn("Slack call failed; retrying later", "code", e.Code, "attempt", m.Attempts+1, "retry_at", until, "err", callErr)
	return d.retry(store, m, until, e)
}

func (d *Deliverer) retry(ctx context.Context, m storage.OutboxMessage, until time.Time, e *Error) (outcome, error) {
	if err := d.Store.RetryOutbox(ctx, m.Seq, until, e.Code+": "+e.Err.Error()); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return outcome{}, err
	}
	return outcome{until: until}, nil
}
