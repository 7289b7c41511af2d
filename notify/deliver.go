package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

// Clock is the Deliverer's time source; tests inject one that runs faster.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Deliverer drains the outbox into Slack. Run it once; Kick it when there is
// new work (Outbox.Kick).
//
// Guarantees:
//   - In order per run: a run's messages are sent in the order they were
//     enqueued; one that must wait (a retry time, a parent not yet posted)
//     holds back the later messages of its run only. Messages without a run
//     (run 0) are independent of each other.
//   - Retries: network errors, 5xx and a 429 without Retry-After are retried
//     after Backoff; a 429 with Retry-After pauses that Slack method for every
//     run until the time Slack asked for (its limits are per method and
//     workspace, and calling on after a 429 risks the app being disabled).
//   - Permanent errors (channel_not_found, not_in_channel, invalid_auth,
//     msg_too_long, …; see Classify) are logged, counted in
//     drawbridge_slack_delivery_errors_total{method,error}, and the message
//     becomes a dead letter: the run's next messages go on.
//   - A panic while sending one message (a bug) is logged with its stack and
//     counted (error "panic"), and the message becomes a dead letter: it is
//     not tried again, and the rest of the outbox goes on.
//   - Durable: everything is in bbolt before it is sent; a restart resumes.
//   - Never twice: a key's message is posted once (its ts is recorded with
//     CompleteOutbox); later messages of the key are chat.update calls; a
//     reply whose key has a ts is not sent again. An upsert whose key has no
//     ts yet (its post was a dead letter) is posted.
//   - Coalescing: an upsert directly followed, in its run, by another upsert
//     of the same key is skipped (only the newest version is sent), unless
//     an earlier attempt at it may have reached Slack.
//   - Threads: a reply waits until its parent's ts is known; if the parent
//     is neither posted nor pending in another run (it became a dead letter),
//     the reply becomes a dead letter too (parent_not_posted).
//
// What "never twice" cannot promise: Slack has no idempotency key for
// chat.postMessage, so a post whose answer is lost (a timeout, a cut
// connection, a 5xx, the process killed between Slack's answer and the
// CompleteOutbox write, which is made at once and is not cancelled by
// shutdown) may have reached Slack or not. Before posting such a message
// again, and before posting any run's first pending post after a start,
// the Deliverer asks Slack (Finder: the outbox key is embedded in the message
// metadata and looked up with conversations.history/replies). Without a
// Finder, or when the lookup is refused (missing history scope), or for file
// uploads and ephemeral messages, it posts again and the message may appear
// twice.
type Deliverer struct {
	Store   OutboxStore
	Slack   Slack
	Metrics prometheus.Registerer // nil: metrics are kept but not registered
	Log     *slog.Logger          // nil: discard
	Clock   Clock                 // nil: the real clock
	// Backoff is the wait before attempt+1 after a transient failure of
	// attempt (1, 2, …). Default: exponential from 1s to 5m, with jitter.
	Backoff func(attempt int) time.Duration
	// CallTimeout bounds each Slack call. Default 30s.
	CallTimeout time.Duration
	// GiveUpAfter makes a message still undelivered this long after it was
	// enqueued a dead letter ("expired"). Default 24h; negative: never.
	GiveUpAfter time.Duration

	once      sync.Once
	kick      chan struct{}
	m         deliveryMetrics
	cooldown  map[string]time.Time // Slack method → paused until, after a 429
	maybeSent map[uint64]bool      // posts that may have reached Slack unrecorded
}

// DefaultBackoff is exponential from 1s to 5m with equal jitter: attempt n
// waits between half and all of min(2^(n-1) s, 5m).
func DefaultBackoff(attempt int) time.Duration {
	d := min(time.Second<<min(max(attempt-1, 0), 10), 5*time.Minute)
	return d/2 + rand.N(d/2+1)
}

const (
	methodLookup         = "conversations.history"
	errParentNotPosted   = "parent_not_posted"
	errBadPayload        = "bad_payload"
	errExpired           = "expired"
	errPanic             = "panic"
	defaultCallTimeout   = 30 * time.Second
	defaultGiveUpAfter   = 24 * time.Hour
	storeErrorRetryDelay = time.Second
	idleRecheck          = time.Minute
)

type deliveryMetrics struct {
	delivered *prometheus.CounterVec
	errors    *prometheus.CounterVec
	pending   prometheus.Gauge
}

func (d *Deliverer) init() {
	d.once.Do(func() {
		d.kick = make(chan struct{}, 1)
		if d.Log == nil {
			d.Log = slog.New(slog.DiscardHandler)
		}
		if d.Clock == nil {
			d.Clock = realClock{}
		}
		if d.Backoff == nil {
			d.Backoff = DefaultBackoff
		}
		if d.CallTimeout <= 0 {
			d.CallTimeout = defaultCallTimeout
		}
		if d.GiveUpAfter == 0 {
			d.GiveUpAfter = defaultGiveUpAfter
		}
		d.cooldown = map[string]time.Time{}
		d.maybeSent = map[uint64]bool{}
		d.m = deliveryMetrics{
			delivered: register(d.Metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "drawbridge_slack_delivered_total",
				Help: "Slack Web API calls of the outbox that succeeded, by method.",
			}, []string{"method"})),
			errors: register(d.Metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "drawbridge_slack_delivery_errors_total",
				Help: "Failed Slack Web API calls of the outbox, by method and error code (see notify.Classify).",
			}, []string{"method", "error"})),
			pending: register(d.Metrics, prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "drawbridge_outbox_pending",
				Help: "Messages waiting in the Slack outbox.",
			})),
		}
	})
}

// register registers c, or returns the collector registered before under
// the same name (a second Deliverer on the same registry, e.g. after a
// restart in tests).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
	}
	return c
}

// Kick says there is new work. It never blocks.
func (d *Deliverer) Kick() {
	d.init()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends (then it returns nil), or until the store is
// closed (then it returns the error).
func (d *Deliverer) Run(ctx context.Context) error {
	d.init()
	if d.Store == nil || d.Slack == nil {
		return errors.New("deliverer needs a store and a Slack client")
	}
	startup := true // the first pending post of each run may be on Slack already
	for {
		wake, progress, err := d.pass(ctx, startup)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, storage.ErrClosed):
			return fmt.Errorf("deliver Slack messages: %w", err)
		case err != nil:
			d.Log.Error("deliver Slack messages", "err", err)
			wake = d.Clock.Now().Add(storeErrorRetryDelay)
		default:
			startup = false
		}
		if progress {
			continue // a message is gone: a reply may now find its parent
		}
		var timer <-chan time.Time
		if !wake.IsZero() {
			timer = d.Clock.After(max(wake.Sub(d.Clock.Now()), 0))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.kick:
		case <-timer:
		}
	}
}

// lane is what must be delivered in order: a run, or a single message
// without one.
type lane struct {
	run domain.RunID
	seq uint64
}

func laneOf(m storage.OutboxMessage) lane {
	if m.Run != 0 {
		return lane{run: m.Run}
	}
	return lane{seq: m.Seq}
}

// outcome of one attempt at one message.
type outcome struct {
	removed bool      // delivered, skipped or dead-lettered: gone from the outbox
	until   time.Time // if not removed: the lane waits until then (zero: until a change)
}

// pass tries every due message once, in Seq order, skipping the rest of a
// lane once a message of it waits. It returns the earliest time a waiting
// message is due, and whether any message left the outbox.
func (d *Deliverer) pass(ctx context.Context, startup bool) (wake time.Time, progress bool, err error) {
	msgs, err := d.Store.PendingOutbox(ctx, 0)
	if err != nil {
		return time.Time{}, false, err
	}
	pendingKeys := pendingIndex{}
	for _, m := range msgs {
		pendingKeys.add(m, 1)
	}
	left := len(msgs)
	defer func() { d.m.pending.Set(float64(left)) }()
	next := nextInLane(msgs)
	waiting, seen := map[lane]bool{}, map[lane]bool{}
	for i, m := range msgs {
		ln := laneOf(m)
		if waiting[ln] {
			continue
		}
		if ctx.Err() != nil {
			return wake, progress, nil
		}
		if startup && !seen[ln] {
			d.maybeSent[m.Seq] = true
		}
		seen[ln] = true
		out, err := d.attempt(ctx, m, next[i], pendingKeys)
		if err != nil {
			return wake, progress, err
		}
		if out.removed {
			left--
			progress = true
			pendingKeys.add(m, -1)
			delete(d.maybeSent, m.Seq)
			continue
		}
		waiting[ln] = true
		if !out.until.IsZero() && (wake.IsZero() || out.until.Before(wake)) {
			wake = out.until
		}
	}
	if left > 0 && wake.IsZero() && !progress {
		// Nothing is due at a known time, yet messages wait (for a parent in
		// another run): look again now and then, so that none waits forever.
		wake = d.Clock.Now().Add(idleRecheck)
	}
	return wake, progress, nil
}

// attempt is one with a guard: a panic while sending one message (a bug in a renderer's
// output, in the Slack client) is logged with its stack and counted, and the message
// becomes a dead letter ("panic"), so that it is not tried forever and the rest of the
// outbox goes on.
func (d *Deliverer) attempt(ctx context.Context, m storage.OutboxMessage, next *storage.OutboxMessage, pending pendingIndex) (out outcome, err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		d.Log.Error("sending a Slack message panicked; it is kept as a dead letter", "run", m.Run.String(), "seq", m.Seq, "key", m.Key,
			"method", m.Method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		d.m.errors.WithLabelValues(m.Method, errPanic).Inc()
		if ferr := d.Store.FailOutbox(context.WithoutCancel(ctx), m.Seq, fmt.Sprintf("%s: %v", errPanic, p)); ferr != nil && !errors.Is(ferr, storage.ErrNotFound) {
			out, err = outcome{}, ferr
			return
		}
		out, err = outcome{removed: true}, nil
	}()
	return d.one(ctx, m, next, pending)
}

// pendingIndex counts the pending messages of each key, per lane.
type pendingIndex map[string]map[lane]int

func (p pendingIndex) add(m storage.OutboxMessage, n int) {
	if m.Key == "" {
		return
	}
	if p[m.Key] == nil {
		p[m.Key] = map[lane]int{}
	}
	p[m.Key][laneOf(m)] += n
}

// elsewhere reports whether a message of key is pending in a lane other than
// own. One pending in own lane comes after the message asking (earlier ones
// are gone, or the lane would be waiting), so it cannot come first.
func (p pendingIndex) elsewhere(key string, own lane) bool {
	for ln, n := range p[key] {
		if ln != own && n > 0 {
			return true
		}
	}
	return false
}

// nextInLane returns, for each message, the next message of its lane (nil
// for the last).
func nextInLane(msgs []storage.OutboxMessage) []*storage.OutboxMessage {
	next := make([]*storage.OutboxMessage, len(msgs))
	after := map[lane]*storage.OutboxMessage{}
	for i := len(msgs) - 1; i >= 0; i-- {
		ln := laneOf(msgs[i])
		next[i], after[ln] = after[ln], &msgs[i]
	}
	return next
}
