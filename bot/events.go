package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify"
)

// Emit turns the engine's events into messages: the run's status message (posted once,
// then updated in place), one thread reply per finished step, notices, the approvers'
// ping at the gate and the final summary. It implements upgrade.Sink; everything goes
// through the durable outbox, so Emit only renders and stores.
func (b *Bot) Emit(e domain.Event) {
	// Events come from the runs' goroutines and from commands (an approval); one at a
	// time, each rendered from the state it finds, the status message's last version
	// queued is the newest.
	b.emitMu.Lock()
	defer b.emitMu.Unlock()
	ctx := context.Background()
	v, err := b.view(ctx, e.Run.ID)
	if err != nil {
		b.opts.Log.Error("render run", "run", e.Run.ID.String(), "err", err)
		return
	}
	id := e.Run.ID
	status := notify.StatusKey(id)
	if e.Kind != domain.EventWatch && e.Kind != domain.EventCharts {
		if err := b.opts.Outbox.Upsert(ctx, id, status, notify.StatusMessage(v)); err != nil {
			b.opts.Log.Error("queue status message", "run", id.String(), "err", err)
		}
	}
	var key string
	var msg notify.Message
	switch e.Kind {
	case domain.EventStepFinished:
		key = notify.StepKey(id, *e.Step)
		msg = notify.StepReply(v, *e.Step)
	case domain.EventWatch:
		if err := b.opts.Outbox.UpsertReply(ctx, id, notify.WatchKey(id), status, notify.WatchMessage(v, *e.Report)); err != nil {
			b.opts.Log.Error("queue watch message", "run", id.String(), "err", err)
		}
		return
	case domain.EventCharts:
		for _, c := range e.Charts {
			f := notify.File{Name: c.Name, Title: c.Check, AltText: "chart of " + c.Check, Data: c.PNG}
			if err := b.opts.Outbox.Upload(ctx, id, notify.ChartKey(id, e.Moment, c.Name), status, f); err != nil {
				b.opts.Log.Error("queue chart", "run", id.String(), "chart", c.Name, "err", err)
			}
		}
		return
	case domain.EventAlert:
		watch, _ := v.Status.Step(domain.StepWatch) // alerts are named after the watch's attempt
		key = notify.AlertKey(id, watch.Attempt)
		msg = notify.AlertReply(v, e.Breach, b.opts.Config.Access.Operators, e.Auto)
	case domain.EventNotice:
		key = fmt.Sprintf("run/%s/notice/%d/%s", id, e.Run.Revision, shortHash(e.Message))
		msg = notify.NoticeReply(v, e.Message)
	case domain.EventDecision:
		if e.Decision != domain.DecisionApprove {
			return // a rejection ends the run: its summary says who and why
		}
		key = fmt.Sprintf("run/%s/decision/%s", id, e.Actor)
		msg = notify.NoticeReply(v, notify.DecisionText(v, e.Actor))
	case domain.EventStateChanged:
		b.settleAlert(ctx, v, status)
		switch {
		case e.Run.State == domain.StateAwaitingApproval:
			key = fmt.Sprintf("run/%s/gate/%d", id, e.Run.Revision)
			msg = notify.NoticeReply(v, b.gatePing(e.Run))
		case e.Run.State.Terminal():
			key = notify.SummaryKey(id)
			msg = notify.SummaryReply(v)
		case e.Message != "" && (e.Run.State == domain.StateNeedsAttention || e.Run.State == domain.StateRollingBack):
			key = fmt.Sprintf("run/%s/state/%d", id, e.Run.Revision)
			msg = notify.NoticeReply(v, fmt.Sprintf("*%s*: %s", e.Run.State.Human(), e.Message))
		}
	}
	if key == "" {
		return
	}
	if err := b.opts.Outbox.Reply(ctx, id, key, status, msg); err != nil {
		b.opts.Log.Error("queue thread reply", "run", id.String(), "key", key, "err", err)
	}
}

// settleAlert takes the Roll back button off a breach's alert once the run has left
// "needs attention" (rolled back, resumed, aborted): clicked, it would only be refused.
// An automatic rollback's alert has no button to take off.
func (b *Bot) settleAlert(ctx context.Context, v notify.RunView, status string) {
	run := v.Status.Run
	if run.State == domain.StateNeedsAttention || (v.Cluster != nil && v.Cluster.Watch.AutoRollback) {
		return
	}
	watch, ok := notify.BreachStep(v)
	if !ok {
		return
	}
	if err := b.opts.Outbox.UpsertReply(ctx, run.ID, notify.AlertKey(run.ID, watch.Attempt), status, notify.AlertSettled(v, watch)); err != nil {
		b.opts.Log.Error("queue settled alert", "run", run.ID.String(), "err", err)
	}
}

func (b *Bot) view(ctx context.Context, id domain.RunID) (notify.RunView, error) {
	st, err := b.opts.Engine.Status(ctx, id)
	if err != nil {
		return notify.RunView{}, err
	}
	return b.runView(st), nil
}

// runView is what notify renders a run from.
func (b *Bot) runView(st domain.Status) notify.RunView {
	c, _ := b.opts.Config.Cluster(st.Run.Cluster)
	return notify.RunView{Status: st, Cluster: c, Approvers: b.opts.Config.Access.Approvers,
		Required: b.opts.Config.Access.RequiredApprovals}
}

// gatePing is a new message (mentions in an edited message notify nobody) asking the
// approvers.
func (b *Bot) gatePing(run domain.Run) string {
	var who []string
	for _, id := range b.opts.Config.Access.Approvers {
		who = append(who, notify.Mention(id))
	}
	text := fmt.Sprintf("Approval needed for run %s (%s %s → %s): %s — use the buttons above or `%s approve %s`.",
		run.ID, run.Cluster, run.From, run.To, strings.Join(who, " "), b.opts.Config.Slack.Command, run.ID)
	if bl := run.Facts.Baseline; bl != nil && len(bl.Values) > 0 {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(bl.Values)) {
			parts = append(parts, fmt.Sprintf("%s %.4g", name, bl.Values[name]))
		}
		text += fmt.Sprintf("\nWatch baseline (last %s): %s.", bl.Lookback, strings.Join(parts, ", "))
	}
	return text
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}

// textBlocks puts mrkdwn text into section blocks of at most 3000 characters.
func textBlocks(text string) []slack.Block {
	var out []slack.Block
	for _, chunk := range splitMrkdwn(text, 2900, 45) {
		out = append(out, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, chunk, false, false), nil, nil))
	}
	return out
}

// splitMrkdwn cuts text into at most maxChunks pieces of at most max runes, at line ends
// where it can, so that each piece renders on its own: a code block open at a cut is
// closed there and opened again in the next piece. What does not fit ends in "…".
func splitMrkdwn(text string, max, maxChunks int) []string {
	const fence = "```"
	var out []string
	var cur strings.Builder
	n, open := 0, false // runes in cur; a code block is open in cur
	flush := func() {
		s := cur.String()
		if open {
			s = strings.TrimSuffix(s, "\n") + "\n" + fence
		}
		out = append(out, s)
		cur.Reset()
		n = 0
		if open {
			cur.WriteString(fence + "\n")
			n = len(fence) + 1
		}
	}
	reserve := len(fence) + 1 // room to close a code block
	for _, line := range strings.SplitAfter(text, "\n") {
		for line != "" {
			room := max - reserve - n
			r := []rune(line)
			if len(r) <= room {
				cur.WriteString(line)
				n += len(r)
				open = open != (strings.Count(line, fence)%2 == 1)
				break
			}
			if n > len(fence)+1 || room <= 0 { // something besides a reopened fence: cut here
				flush()
				continue
			}
			// One line longer than a piece: cut it.
			part := string(r[:room])
			cur.WriteString(part)
			open = open != (strings.Count(part, fence)%2 == 1)
			line = string(r[room:])
			n += room
			flush()
		}
	}
	if cur.Len() > 0 && (len(out) == 0 || cur.String() != fence+"\n") {
		out = append(out, cur.String())
	}
	if len(out) > maxChunks {
		out = out[:maxChunks]
		last := []rune(out[maxChunks-1])
		out[maxChunks-1] = string(last[:min(len(last), max-reserve-1)]) + "…"
		if strings.Count(out[maxChunks-1], fence)%2 == 1 {
			out[maxChunks-1] += fence
		}
	}
	return out
}
