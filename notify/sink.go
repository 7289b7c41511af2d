package notify

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
)

// Queue is where the sink's messages go (Outbox implements it): it stores them and they
// are delivered durably.
type Queue interface {
	Upsert(ctx context.Context, run domain.RunID, key string, m Message) error
	Reply(ctx context.Context, run domain.RunID, key, threadKey string, m Message) error
	UpsertReply(ctx context.Context, run domain.RunID, key, threadKey string, m Message) error
	Upload(ctx context.Context, run domain.RunID, key, threadKey string, f File) error
}

// Sink turns the engine's events into messages: the run's status message (posted once,
// then updated in place), one thread reply per finished step, notices, the approvers' ping
// at the gate, the watch's live message, charts, alerts and the final summary. Each event
// is rendered from its own snapshot; everything goes through the queue, so Emit only
// renders and stores. It implements upgrade.Sink.
type Sink struct {
	Queue  Queue
	Config *config.Config
	Log    *slog.Logger

	// mu makes Emit one event at a time: events come from the runs' goroutines and from
	// commands (an approval), and the status message's last version queued is the newest.
	mu sync.Mutex
}

// View is what notify renders a run from: its records and the configuration around it.
func View(cfg *config.Config, st domain.Status) RunView {
	c, _ := cfg.Cluster(st.Run.Cluster)
	return RunView{Status: st, Cluster: c, Approvers: cfg.Access.Approvers, Required: cfg.Access.RequiredApprovals}
}

// Emit renders e and queues its messages.
func (s *Sink) Emit(e domain.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := context.Background()
	v := View(s.Config, e.Snapshot)
	id := e.Run.ID
	status := StatusKey(id)
	if e.Kind != domain.EventWatch && e.Kind != domain.EventCharts {
		if err := s.Queue.Upsert(ctx, id, status, StatusMessage(v)); err != nil {
			s.Log.Error("queue status message", "run", id.String(), "err", err)
		}
	}
	var key string
	var msg Message
	switch e.Kind {
	case domain.EventStepFinished:
		key = StepKey(id, *e.Step)
		msg = StepReply(v, *e.Step)
	case domain.EventWatch:
		// A watch resumed after a restart (a new attempt of its step) gets a message of its
		// own, below the "resuming" notice, rather than editing the one above it.
		attempt := 1
		if e.Step != nil {
			attempt = e.Step.Attempt
		}
		if err := s.Queue.UpsertReply(ctx, id, WatchKey(id, attempt), status, WatchMessage(v, *e.Report)); err != nil {
			s.Log.Error("queue watch message", "run", id.String(), "err", err)
		}
		return
	case domain.EventCharts:
		for _, c := range e.Charts {
			f := File{Name: c.Name, Title: c.Check, AltText: "chart of " + c.Check, Data: c.PNG}
			if err := s.Queue.Upload(ctx, id, ChartKey(id, e.Moment, c.Name), status, f); err != nil {
				s.Log.Error("queue chart", "run", id.String(), "chart", c.Name, "err", err)
			}
		}
		return
	case domain.EventAlert:
		watch, _ := v.Status.Step(domain.StepWatch) // alerts are named after the watch's attempt
		key = AlertKey(id, watch.Attempt)
		msg = AlertReply(v, e.Breach, s.Config.Access.Operators, e.Auto)
	case domain.EventNotice:
		key = NoticeKey(id, e.Run.Revision, e.Message)
		msg = NoticeReply(v, e.Message)
	case domain.EventDecision:
		if e.Decision != domain.DecisionApprove {
			return // a rejection ends the run: its summary says who and why
		}
		key = DecisionKey(id, e.Actor)
		msg = mrkdwnNotice(v, DecisionText(v, e.Actor))
	case domain.EventStateChanged:
		s.settleAlert(ctx, v, status)
		switch {
		case e.Run.State == domain.StateAwaitingApproval:
			key = GateKey(id, e.Run.Revision)
			msg = mrkdwnNotice(v, GatePing(s.Config, e.Run))
		case e.Run.State.Terminal():
			key = SummaryKey(id)
			msg = SummaryReply(v)
		case e.Message != "" && (e.Run.State == domain.StateNeedsAttention || e.Run.State == domain.StateRollingBack):
			key = StateKey(id, e.Run.Revision)
			msg = mrkdwnNotice(v, fmt.Sprintf("*%s*: %s", e.Run.State.Human(), richHead(strings.TrimSpace(e.Message), maxSectionText-100)))
		}
	}
	if key == "" {
		return
	}
	if err := s.Queue.Reply(ctx, id, key, status, msg); err != nil {
		s.Log.Error("queue thread reply", "run", id.String(), "key", key, "err", err)
	}
}

// settleAlert takes the Roll back button off a breach's alert once the run has left
// "needs attention" (rolled back, resumed, aborted): clicked, it would only be refused.
// An automatic rollback's alert has no button to take off.
func (s *Sink) settleAlert(ctx context.Context, v RunView, status string) {
	run := v.Status.Run
	if run.State == domain.StateNeedsAttention || (v.Cluster != nil && v.Cluster.Watch.AutoRollback) {
		return
	}
	watch, ok := BreachStep(v)
	if !ok {
		return
	}
	if err := s.Queue.UpsertReply(ctx, run.ID, AlertKey(run.ID, watch.Attempt), status, AlertSettled(v, watch)); err != nil {
		s.Log.Error("queue settled alert", "run", run.ID.String(), "err", err)
	}
}

// GatePing is a new message (mentions in an edited message notify nobody) asking the
// approvers: mrkdwn whose only mentions are theirs.
func GatePing(cfg *config.Config, run domain.Run) string {
	var who []string
	for _, id := range cfg.Access.Approvers {
		who = append(who, Mention(id))
	}
	text := fmt.Sprintf("Approval needed for run %s (%s %s → %s): %s — use the buttons above or `%s approve %s`.",
		run.ID, escape(run.Cluster), escape(run.From), escape(run.To), strings.Join(who, " "), cfg.Slack.Command, run.ID)
	if run.Ticket != "" {
		c, _ := cfg.Cluster(run.Cluster)
		text += " Change ticket " + TicketText(c, run.Ticket) + "."
	}
	if bl := run.Facts.Baseline; bl != nil && len(bl.Values) > 0 {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(bl.Values)) {
			parts = append(parts, fmt.Sprintf("%s %.4g", escape(name), bl.Values[name]))
		}
		text += fmt.Sprintf("\nWatch baseline (last %s): %s.", bl.Lookback, strings.Join(parts, ", "))
	}
	return text
}
