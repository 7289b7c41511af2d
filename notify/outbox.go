package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

// OutboxStore is the durable queue the outbox writes and the Deliverer
// drains; *storage.Store implements it.
type OutboxStore interface {
	Enqueue(ctx context.Context, m storage.OutboxMessage) (storage.OutboxMessage, error)
	PendingOutbox(ctx context.Context, limit int) ([]storage.OutboxMessage, error)
	CompleteOutbox(ctx context.Context, seq uint64, ref storage.MessageRef) error
	RetryOutbox(ctx context.Context, seq uint64, notBefore time.Time, errText string) error
	FailOutbox(ctx context.Context, seq uint64, errText string) error
	MessageRef(ctx context.Context, key string) (storage.MessageRef, bool, error)
}

var _ OutboxStore = (*storage.Store)(nil)

// Slack methods, as stored in OutboxMessage.Method and used as the method
// label of the delivery metrics. An upload (files upload v2: three calls) is
// "files.upload".
const (
	MethodPost      = "chat.postMessage"
	MethodUpdate    = "chat.update"
	MethodEphemeral = "chat.postEphemeral"
	MethodUpload    = "files.upload"
)

// What an outbox message asks for; the Deliverer decides the Slack call
// when it delivers (an upsert whose key has a ref is an update).
const (
	kindUpsert    = "upsert"
	kindReply     = "reply"
	kindEphemeral = "ephemeral"
	kindUpload    = "upload"
)

// payload is the stored form of an outbox message (OutboxMessage.Payload).
type payload struct {
	Kind      string          `json:"kind"`
	Channel   string          `json:"channel,omitempty"`
	ThreadKey string          `json:"thread_key,omitempty"`
	User      string          `json:"user,omitempty"`
	Text      string          `json:"text,omitempty"`
	Blocks    json.RawMessage `json:"blocks,omitempty"`
	File      *File           `json:"file,omitempty"`
}

func (p payload) message() (Message, error) {
	m := Message{Text: p.Text}
	if len(p.Blocks) == 0 {
		return m, nil
	}
	var b slack.Blocks
	if err := json.Unmarshal(p.Blocks, &b); err != nil {
		return m, fmt.Errorf("decode blocks: %w", err)
	}
	m.Blocks = b.BlockSet
	return m, nil
}

func newPayload(kind string, m Message) (payload, error) {
	p := payload{Kind: kind, Text: m.Text}
	if len(m.Blocks) > 0 {
		raw, err := json.Marshal(slack.Blocks{BlockSet: m.Blocks})
		if err != nil {
			return p, fmt.Errorf("encode blocks: %w", err)
		}
		p.Blocks = raw
	}
	return p, nil
}

// Outbox is the enqueue side of delivery: every Slack call that changes
// something is stored in bbolt first, then made by the Deliverer, in order
// per run. Its methods return once the message is stored; Kick (usually
// Deliverer.Kick) is then called so that delivery starts at once.
type Outbox struct {
	Store   OutboxStore
	Channel string // channel ID where runs are announced
	Kick    func()
}

// Upsert shows m as the message named key in the channel: posted the first
// time, edited in place (chat.update) afterwards. Keys name messages across
// restarts (see StatusKey).
func (o *Outbox) Upsert(ctx context.Context, run domain.RunID, key string, m Message) error {
	if key == "" || o.Channel == "" {
		return fmt.Errorf("upsert message for run %s: key %q and channel %q must be set", run, key, o.Channel)
	}
	method := MethodPost
	if _, ok, err := o.Store.MessageRef(ctx, key); err != nil {
		return fmt.Errorf("upsert %s: %w", key, err)
	} else if ok {
		method = MethodUpdate // a hint for people; the Deliverer decides again
	}
	return o.enqueue(ctx, run, method, key, kindUpsert, m, func(p *payload) { p.Channel = o.Channel })
}

// UpsertReply is Upsert for a message in the thread of the message named threadKey: posted
// there the first time (once its parent is posted), edited in place afterwards — the
// watch's live message.
func (o *Outbox) UpsertReply(ctx context.Context, run domain.RunID, key, threadKey string, m Message) error {
	if key == "" || threadKey == "" || o.Channel == "" {
		return fmt.Errorf("upsert reply for run %s: key %q, thread key %q and channel %q must be set", run, key, threadKey, o.Channel)
	}
	return o.enqueue(ctx, run, MethodPost, key, kindUpsert, m, func(p *payload) { p.Channel, p.ThreadKey = o.Channel, threadKey })
}

// Reply posts m once, as a thread reply under the message named threadKey,
// and names it key: a second Reply with the same key (an event delivered
// twice, a restart) posts nothing. The reply waits until its parent is posted.
func (o *Outbox) Reply(ctx context.Context, run domain.RunID, key, threadKey string, m Message) error {
	if key == "" || threadKey == "" {
		return fmt.Errorf("reply for run %s: key %q and thread key %q must be set", run, key, threadKey)
	}
	if _, ok, err := o.Store.MessageRef(ctx, key); err != nil {
		return fmt.Errorf("reply %s: %w", key, err)
	} else if ok {
		return nil // posted already
	}
	return o.enqueue(ctx, run, MethodPost, key, kindReply, m, func(p *payload) {
		p.Channel, p.ThreadKey = o.Channel, threadKey
	})
}

// Ephemeral shows m to one user in channel (chat.postEphemeral). It is not
// recorded: it cannot be edited, and Slack does not promise to deliver it.
func (o *Outbox) Ephemeral(ctx context.Context, run domain.RunID, channel, user string, m Message) error {
	if channel == "" || user == "" {
		return fmt.Errorf("ephemeral message for run %s: channel %q and user %q must be set", run, channel, user)
	}
	return o.enqueue(ctx, run, MethodEphemeral, "", kindEphemeral, m, func(p *payload) { p.Channel, p.User = channel, user })
}

// Upload shares f (a PNG chart) once under key, in the thread of the message
// named threadKey ("" for the channel itself), with files upload v2.
func (o *Outbox) Upload(ctx context.Context, run domain.RunID, key, threadKey string, f File) error {
	if key == "" || o.Channel == "" || f.Name == "" || len(f.Data) == 0 {
		return fmt.Errorf("upload for run %s: key, channel, file name and data must be set", run)
	}
	if _, ok, err := o.Store.MessageRef(ctx, key); err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	} else if ok {
		return nil
	}
	p := payload{Kind: kindUpload, Channel: o.Channel, ThreadKey: threadKey, File: &f}
	return o.store(ctx, run, MethodUpload, key, p)
}

func (o *Outbox) enqueue(ctx context.Context, run domain.RunID, method, key, kind string, m Message, fill func(*payload)) error {
	if err := CheckLimits(m); err != nil {
		return fmt.Errorf("%s for run %s (%s): Slack would refuse the message: %w", method, run, key, err)
	}
	p, err := newPayload(kind, m)
	if err != nil {
		return fmt.Errorf("%s for run %s (%s): %w", method, run, key, err)
	}
	fill(&p)
	return o.store(ctx, run, method, key, p)
}

func (o *Outbox) store(ctx context.Context, run domain.RunID, method, key string, p payload) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("%s for run %s (%s): %w", method, run, key, err)
	}
	if o.Store == nil {
		return errors.New("outbox has no store")
	}
	if _, err := o.Store.Enqueue(ctx, storage.OutboxMessage{Run: run, Method: method, Key: key, Payload: raw}); err != nil {
		return err
	}
	if o.Kick != nil {
		o.Kick()
	}
	return nil
}
