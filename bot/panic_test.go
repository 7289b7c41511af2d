package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/bot"
	"github.com/drawbridge/drawbridge/domain"
)

// panicOnClaim is the bot's store, except that claiming one key panics: a bug in the
// handling of one request.
type panicOnClaim struct {
	bot.Store
	key string
}

func (p panicOnClaim) ClaimKey(ctx context.Context, key string) (bool, error) {
	if key == p.key {
		panic("test: a bug while claiming " + key)
	}
	return p.Store.ClaimKey(ctx, key)
}

// TestSocketModeSurvivesAPanic: a panic while handling one Socket Mode envelope is logged
// with its stack, the envelope is acknowledged (its user told), and the next envelope is
// served: drawbridge stays up.
func TestSocketModeSurvivesAPanic(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{nodes: 1, appToken: "xapp-1-A0DRAWBRIDGE-test", bot: func(o *bot.Options) {
		o.Store = panicOnClaim{Store: o.Store, key: "command:boom"}
	}})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	command := func(trigger string) string {
		t.Helper()
		ack, err := w.slack.SocketRequest(ctx, "slash_commands", map[string]any{"command": "/kong-upgrade", "text": "start test 3.5.0",
			"channel_id": channel, "user_id": "U0OPERATOR", "trigger_id": trigger})
		if err != nil {
			t.Fatalf("no ack: %v\nlogs:\n%s", err, w.logs)
		}
		return string(ack)
	}
	if ack := command("boom"); !strings.Contains(ack, "internal error") {
		t.Errorf("the envelope whose handler panicked was acknowledged with %q, want the user told", ack)
	}
	if logs := w.logs.String(); !strings.Contains(logs, "handler panicked") || !strings.Contains(logs, "runtime/debug.Stack") {
		t.Errorf("the panic is not logged with its stack:\n%s", logs)
	}
	if ack := command(newTriggerID()); !strings.Contains(ack, "start test 3.5.0") {
		t.Errorf("the next envelope was acknowledged with %q", ack)
	}
	w.waitRun(1, domain.StateAwaitingApproval)
	select {
	case err := <-w.app.Errors():
		t.Errorf("a part of drawbridge stopped: %v", err)
	default:
	}
}
