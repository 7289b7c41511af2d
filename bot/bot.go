package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/changerecord"
	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/notify"
	"github.com/drawbridge/drawbridge/scrub"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
)

// Engine is what the bot asks of the upgrade engine.
type Engine interface {
	Plan(ctx context.Context, cluster, to string, opts ...upgrade.PlanOption) (upgrade.Plan, error)
	Start(ctx context.Context, req upgrade.StartRequest) (domain.Run, error)
	Schedule(ctx context.Context, req upgrade.ScheduleRequest) (domain.Run, storage.Schedule, error)
	Unschedule(ctx context.Context, id domain.RunID, user string) (domain.Run, error)
	NextOpenings(cluster, window string, now time.Time, n int) ([]upgrade.Opening, error)
	Approve(ctx context.Context, id domain.RunID, user string, opts ...upgrade.DecisionOption) (domain.Status, error)
	Reject(ctx context.Context, id domain.RunID, user, reason string, opts ...upgrade.DecisionOption) (domain.Status, error)
	Abort(ctx context.Context, id domain.RunID, user string) (domain.Run, error)
	Rollback(ctx context.Context, id domain.RunID, user string) (domain.Run, error)
	Resume(ctx context.Context, id domain.RunID, user string) (domain.Run, error)
	Decommission(ctx context.Context, id domain.RunID, user string) (domain.Run, error)
	Status(ctx context.Context, id domain.RunID) (domain.Status, error)
	List(ctx context.Context, f storage.RunFilter) ([]domain.Run, error)
	FailedDatabases(ctx context.Context, cluster string) ([]domain.FailedDatabase, error)
	DropFailedDatabase(ctx context.Context, cluster, name string) (domain.FailedDatabase, error)
}

// Store is the bot's part of the state file: idempotency keys and the audit log.
type Store interface {
	ClaimKey(ctx context.Context, key string) (bool, error)
	AppendAudit(ctx context.Context, e storage.AuditEvent) (storage.AuditEvent, error)
	Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
}

// Outbox is where the bot's messages go; it delivers them durably.
type Outbox interface {
	Upsert(ctx context.Context, run domain.RunID, key string, m notify.Message) error
	Reply(ctx context.Context, run domain.RunID, key, threadKey string, m notify.Message) error
	UpsertReply(ctx context.Context, run domain.RunID, key, threadKey string, m notify.Message) error
	Upload(ctx context.Context, run domain.RunID, key, threadKey string, f notify.File) error
	Ephemeral(ctx context.Context, run domain.RunID, channel, user string, m notify.Message) error
}

// Nodes asks a node what it answers (for "clusters").
type Nodes interface {
	Info(ctx context.Context, n config.Node) (kong.NodeInfo, error)
}

// Options assemble a Bot.
type Options struct {
	Config *config.Config
	Engine Engine
	Store  Store
	// Records reads a run's change record for "audit <run>" to attach it; nil: not attached.
	Records changerecord.Source
	Outbox  Outbox
	Access  *Access
	Nodes   Nodes
	Log     *slog.Logger
	Now     func() time.Time
	Workers int // jobs run at once; default 8
	Queue   int // jobs waiting at most; default 1000
}

// Bot is drawbridge in Slack: it answers slash commands and button clicks at once,
// queues the work, and turns the engine's events into messages.
type Bot struct {
	opts  Options
	jobs  chan job
	wg    sync.WaitGroup
	stop  context.CancelFunc
	ctx   context.Context
	close sync.Once
	// secrets scrubs the configuration's secrets from the replies Slack gets directly (the
	// outbox's messages are scrubbed by the store).
	secrets *scrub.Scrubber
}

// job is queued work: done outside the request, never inside it.
type job struct {
	name string
	user string
	run  func(ctx context.Context)
}

// New builds a Bot; Start runs its workers.
func New(opts Options) (*Bot, error) {
	switch {
	case opts.Config == nil, opts.Engine == nil, opts.Store == nil, opts.Outbox == nil, opts.Access == nil:
		return nil, errors.New("bot: Config, Engine, Store, Outbox and Access are required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Queue <= 0 {
		opts.Queue = 1000
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Bot{opts: opts, jobs: make(chan job, opts.Queue), ctx: ctx, stop: stop, secrets: scrub.New(opts.Config.Secrets()...)}, nil
}

// clean is a reply without the configuration's secrets (an error may quote them).
func (b *Bot) clean(r Reply) Reply {
	r.Text = b.secrets.String(r.Text)
	return r
}

// Start runs the workers until Close.
func (b *Bot) Start() {
	for range b.opts.Workers {
		b.wg.Go(func() {
			for j := range b.jobs {
				b.runJob(j)
			}
		})
	}
}

// Close stops taking work, lets queued jobs finish, and returns.
func (b *Bot) Close() {
	b.close.Do(func() {
		close(b.jobs)
		b.wg.Wait()
		b.stop()
	})
}

// enqueue queues a job; false when the queue is full (Slack still gets its answer).
func (b *Bot) enqueue(j job) (ok bool) {
	defer func() {
		if recover() != nil { // closed: shutting down
			ok = false
		}
	}()
	select {
	case b.jobs <- j:
		return true
	default:
		return false
	}
}

func (b *Bot) runJob(j job) {
	defer func() {
		if p := recover(); p != nil {
			b.opts.Log.Error("job panicked", "job", j.name, "user", j.user, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			b.tell(context.Background(), 0, j.user, notify.InternalErrorText(j.name))
		}
	}()
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	j.run(ctx)
}

// tell sends an ephemeral message to a user in the channel.
func (b *Bot) tell(ctx context.Context, run domain.RunID, user, text string) {
	if err := b.opts.Outbox.Ephemeral(ctx, run, b.opts.Config.Slack.Channel, user, notify.Message{Text: text, Blocks: textBlocks(text)}); err != nil {
		b.opts.Log.Error("queue ephemeral reply", "user", user, "err", err)
	}
}

func (b *Bot) audit(ctx context.Context, run domain.RunID, user, action, detail string) {
	if _, err := b.opts.Store.AppendAudit(ctx, storage.AuditEvent{Run: run, Actor: user, Action: action, Detail: detail}); err != nil {
		b.opts.Log.Error("append audit event", "action", action, "err", err)
	}
}
