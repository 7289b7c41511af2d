package demo

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/drawbridge/drawbridge/internal/console"
	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// ConsoleOptions shape the console on its own (drawbridge-demo console): the demo's Slack,
// its Web API and its page on one address, for a drawbridge that runs elsewhere (the lab).
// Nothing else is started: no kongsim, no PostgreSQL, no Prometheus.
type ConsoleOptions struct {
	Listen        string         // the page and the Web API; default 127.0.0.1:8090
	Drawbridge    string         // drawbridge's HTTP address: POST /slack/commands, /slack/interactions
	SigningSecret string         // drawbridge's slack.signing_secret: commands and clicks are signed with it
	BotToken      string         // drawbridge's slack.bot_token: the one token the Web API accepts
	Channel       string         // drawbridge's slack.channel
	Command       string         // drawbridge's slack.command; default /kong-upgrade
	Users         []console.User // who the page can act as (drawbridge's access names their IDs)
	Hints         []string       // "What to try", in mrkdwn; default: one line about help
	Data          string         // the channel is kept in Data/console.json across restarts; empty: in memory only
	Log           *slog.Logger
	// Ready is called with the page's URL and the Web API's (drawbridge's slack.api_url, as
	// reached on this machine) once the console serves.
	Ready func(page, api string)
}

// RunConsole serves the console until ctx ends, then saves its channel (with Data set).
func RunConsole(ctx context.Context, o ConsoleOptions) error {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8090"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if len(o.Hints) == 0 {
		cmd := o.Command
		if cmd == "" {
			cmd = "/kong-upgrade"
		}
		o.Hints = []string{fmt.Sprintf("Type `%s help`: drawbridge answers with what it can do.", cmd)}
	}
	if o.BotToken == "" || o.SigningSecret == "" {
		return fmt.Errorf("console: the bot token and the signing secret are required (drawbridge's slack.bot_token and slack.signing_secret)")
	}
	fake := slackfake.New(slackfake.Options{Token: o.BotToken, Channels: []string{o.Channel}})
	defer fake.Close()
	if o.Data != "" {
		if err := os.MkdirAll(o.Data, 0o755); err != nil {
			return err
		}
		release, err := lockData(o.Data)
		if err != nil {
			return err
		}
		defer release()
		path := filepath.Join(o.Data, "console.json")
		if err := fake.LoadFile(path); err != nil {
			return fmt.Errorf("the console's earlier messages: %w (move the file away to start empty)", err)
		}
		defer func() {
			if err := fake.SaveFile(path); err != nil {
				o.Log.Error("save the console's messages", "file", path, "err", err)
			}
		}()
	}
	con, err := console.Start(ctx, console.Options{
		Slack: fake, SlackAPI: true, Channel: o.Channel, Command: o.Command, SigningSecret: o.SigningSecret,
		DrawbridgeURL: o.Drawbridge, Users: o.Users, Hints: o.Hints, Listen: o.Listen, Log: o.Log,
	})
	if err != nil {
		return portHint(err, 0, "-listen")
	}
	defer con.Close()
	if o.Ready != nil {
		o.Ready(con.URL(), con.SlackAPIURL())
	}
	<-ctx.Done()
	return nil
}
