package bot_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// TestOtherTeamRefused: with slack.team set, a slash command or a click from another team
// (or from none) is refused over HTTP with a 403, and over Socket Mode acknowledged and
// dropped; each is audited as a denial and has no effect. The team's own requests go
// through on both transports.
func TestOtherTeamRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{nodes: 1, team: slackfake.TeamID, appToken: "xapp-1-A0DRAWBRIDGE-test"})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	if r := w.command("U0OPERATOR", channel, "start test 3.5.0"); r.status != 200 || !strings.Contains(r.text, "start test 3.5.0") {
		t.Fatalf("a command of the team answered %d %q", r.status, r.text)
	}
	w.waitRun(1, domain.StateAwaitingApproval)
	approve := w.waitButton("approve")

	// Over HTTP: an abort and an approval from elsewhere.
	for _, team := range []string{"T0OTHERTEAM", ""} {
		form := w.commandForm("U0OPERATOR", channel, "abort 1", newTriggerID())
		form.Set("team_id", team)
		if r := w.post("/slack/commands", form.Encode(), nil); r.status != http.StatusForbidden || !strings.Contains(r.text, "another Slack team") {
			t.Errorf("a command from team %q answered %d %q", team, r.status, r.text)
		}
	}
	click := w.clickPayload("T0OTHERTEAM", "U0APPROVER", "approve", approve, "")
	if r := w.post("/slack/interactions", url.Values{"payload": {click}}.Encode(), nil); r.status != http.StatusForbidden {
		t.Errorf("a click from another team answered %d %q", r.status, r.text)
	}

	// Over Socket Mode: the same, acknowledged with nothing.
	ack, err := w.slack.SocketRequest(ctx, "slash_commands", map[string]any{"command": "/kong-upgrade", "text": "abort 1",
		"channel_id": channel, "user_id": "U0OPERATOR", "team_id": "T0OTHERTEAM", "trigger_id": newTriggerID()})
	if err != nil || len(ack) != 0 {
		t.Errorf("a Socket Mode command from another team was acknowledged with %q (%v), want nothing", ack, err)
	}
	ack, err = w.slack.SocketRequest(ctx, "interactive", map[string]any{"type": "block_actions",
		"user": map[string]any{"id": "U0APPROVER"}, "team": map[string]any{"id": "T0OTHERTEAM"}, "channel": map[string]any{"id": channel},
		"actions": []map[string]any{{"action_id": "approve", "block_id": "actions", "value": approve, "action_ts": "1.2", "type": "button"}}})
	if err != nil || len(ack) != 0 {
		t.Errorf("a Socket Mode click from another team was acknowledged with %q (%v), want nothing", ack, err)
	}
	// The team's own command over Socket Mode is taken.
	ack, err = w.slack.SocketRequest(ctx, "slash_commands", map[string]any{"command": "/kong-upgrade", "text": "status 1",
		"channel_id": channel, "user_id": "U0OPERATOR", "team_id": slackfake.TeamID, "trigger_id": newTriggerID()})
	if err != nil || !strings.Contains(string(ack), "status 1") {
		t.Errorf("a Socket Mode command of the team was acknowledged with %q (%v)", ack, err)
	}

	w.stop() // Close lets every queued job finish: a refused request must have left no job
	w.start()
	if run, err := w.store.GetRun(t.Context(), 1); err != nil || run.State != domain.StateAwaitingApproval {
		t.Errorf("run 1 is %s (%v), want still awaiting approval", run.State, err)
	}
	if aps, err := w.store.Approvals(t.Context(), 1); err != nil || len(aps) != 0 {
		t.Errorf("approvals %+v (%v), want none", aps, err)
	}
	denials := 0
	for _, e := range w.allAudit() {
		if e.Action == "denied" && strings.Contains(e.Detail, "drawbridge takes requests from team "+slackfake.TeamID+" only") {
			denials++
		}
	}
	if denials != 5 {
		t.Errorf("%d denials for another team in the audit log, want 5: %+v", denials, w.allAudit())
	}
}
