package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify"
)

// HandleInteraction answers a button click at once and queues the work. A click Slack
// delivers twice (same action_ts) is acted on once.
func (b *Bot) HandleInteraction(cb slack.InteractionCallback) Reply {
	if cb.Type != slack.InteractionTypeBlockActions {
		return Reply{} // drawbridge sends no other interactive surfaces
	}
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	ctx := context.Background()
	if channel != b.opts.Config.Slack.Channel {
		b.audit(ctx, 0, cb.User.ID, "denied", "button outside <#"+b.opts.Config.Slack.Channel+">")
		return Reply{Text: notify.OutsideChannelText(b.opts.Config.Slack.Channel, true)}
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if a == nil {
			continue
		}
		if s, known := specOf(a.ActionID); !known || !s.button {
			continue
		}
		run, rev, err := ParseButtonValue(a.Value)
		if err != nil {
			return Reply{Text: notify.ProblemText(err.Error())}
		}
		key := fmt.Sprintf("click:%s:%s:%s", cb.User.ID, a.ActionID, a.ActionTs)
		first, err := b.opts.Store.ClaimKey(ctx, key)
		if err != nil {
			b.opts.Log.Error("claim click", "key", key, "err", err)
			return Reply{Text: notify.ClickNotRecordedText()}
		}
		if !first {
			return Reply{} // Slack's retry of a click already handled
		}
		user, action := cb.User.ID, a.ActionID
		ok := b.enqueue(job{name: action + " " + run.String(), user: user, run: func(ctx context.Context) {
			b.execute(ctx, call{user: user, cmd: Command{Name: action}, run: run, click: true, rev: rev})
		}})
		if !ok {
			return Reply{Text: notify.BusyText(true)}
		}
	}
	return Reply{}
}

// staleNote explains a refused click on an old message.
func staleNote(ctx context.Context, e Engine, run domain.RunID, rev uint64) string {
	st, err := e.Status(ctx, run)
	if err != nil || st.Run.Revision == rev {
		return ""
	}
	return notify.StaleNote(st.Run.State)
}

// ParseButtonValue reads the value notify.ButtonValue puts on buttons: run=<id>;rev=<n>.
func ParseButtonValue(v string) (domain.RunID, uint64, error) {
	var run domain.RunID
	var rev uint64
	for _, part := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(part, "=")
		switch k {
		case "run":
			id, err := domain.ParseRunID(val)
			if err != nil {
				return 0, 0, fmt.Errorf("the button carries no run (%q)", truncate(v, 60))
			}
			run = id
		case "rev":
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("the button carries a bad revision (%q)", truncate(v, 60))
			}
			rev = n
		}
	}
	if run == 0 {
		return 0, 0, fmt.Errorf("the button carries no run (%q)", truncate(v, 60))
	}
	return run, rev, nil
}
