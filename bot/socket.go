package bot

import (
	"context"
	"encoding/json"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
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
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		if b.otherTeam("socket mode", sc.TeamID, sc.UserID, commandWhat(sc)) {
			client.Ack(*evt.Request) // taken off Slack's queue, and dropped
			return
		}
		client.Ack(*evt.Request, replyPayload(b.clean(b.HandleCommand(sc))))
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		if b.otherTeam("socket mode", interactionTeam(cb), cb.User.ID, interactionWhat(cb)) {
			client.Ack(*evt.Request)
			return
		}
		client.Ack(*evt.Request, replyPayload(b.clean(b.HandleInteraction(cb))))
	default:
		if evt.Request != nil {
			client.Ack(*evt.Request)
		}
	}
}

// replyPayload is the ack payload of a reply: the JSON an HTTP response would carry.
func replyPayload(r Reply) any {
	if r.Text == "" {
		return nil
	}
	return json.RawMessage(r.json())
}
