package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/drawbridge/drawbridge/notify"
)

// RunSocketMode receives slash commands and interactions over Socket Mode (when
// slack.app_token is set) and answers them through the same handlers as HTTP: the ack
// carries the same reply an HTTP response would. It returns when ctx ends.
func (b *Bot) RunSocketMode(ctx context.Context, api *slack.Client) error {
	client := socketmode.New(api)
	errc := make(chan error, 1)
	go func() { errc <- client.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case evt, ok := <-client.Events:
			if !ok {
				return nil
			}
			b.socketEvent(client, evt)
		}
	}
}

func (b *Bot) socketEvent(client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.opts.Log.Info("socket mode connecting")
	case socketmode.EventTypeConnected:
		b.opts.Log.Info("socket mode connected")
	case socketmode.EventTypeConnectionError:
		b.opts.Log.Warn("socket mode connection error", "err", evt.Data)
	case socketmode.EventTypeInvalidAuth:
		b.opts.Log.Error("socket mode: the app-level token was refused (invalid_auth)")
	}
	if evt.Request == nil {
		return
	}
	if err := client.Ack(*evt.Request, b.socketAnswer(evt)...); err != nil {
		b.opts.Log.Error("acknowledge a Socket Mode envelope", "type", string(evt.Type), "envelope", evt.Request.EnvelopeID, "err", err)
	}
}

// socketAnswer handles one envelope and returns the payload of its ack (none: a bare
// ack). A panic while handling it is logged with its stack and the envelope is
// acknowledged and dropped (a slash command's user is told), so Slack does not send it
// again and the next envelope is served.
func (b *Bot) socketAnswer(evt socketmode.Event) (payload []any) {
	what := string(evt.Type)
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		b.opts.Log.Error("a Socket Mode envelope's handler panicked; the envelope is acknowledged and dropped",
			"type", string(evt.Type), "envelope", evt.Request.EnvelopeID, "request", what, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		payload = nil
		if evt.Type == socketmode.EventTypeSlashCommand {
			payload = []any{replyPayload(Reply{Text: notify.InternalErrorText(what)})}
		}
	}()
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			return nil
		}
		what = commandWhat(sc)
		if b.otherTeam("socket mode", sc.TeamID, sc.UserID, what) {
			return nil // taken off Slack's queue, and dropped
		}
		return []any{replyPayload(b.clean(b.HandleCommand(sc)))}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			return nil
		}
		what = interactionWhat(cb)
		if b.otherTeam("socket mode", interactionTeam(cb), cb.User.ID, what) {
			return nil
		}
		return []any{replyPayload(b.clean(b.HandleInteraction(cb)))}
	}
	return nil
}

// replyPayload is the ack payload of a reply: the JSON an HTTP response would carry.
func replyPayload(r Reply) any {
	if r.Text == "" {
		return nil
	}
	return json.RawMessage(r.json())
}
