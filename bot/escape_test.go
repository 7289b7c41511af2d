package bot_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/domain"
)

// live are the forms Slack acts on (a mention, a broadcast, a channel link, a link) that
// people's text must never produce in drawbridge's messages.
var live = []string{"<@U0EVE", "<!subteam", "<!here", "<!everyone", "<!channel", "<#C0SECRET", "<https", "<@U0MALLORY"}

// liveIn returns the live forms in Slack text.
func liveIn(text string) []string {
	var found []string
	for _, l := range live {
		if strings.Contains(text, l) {
			found = append(found, l)
		}
	}
	return found
}

// slackText is a message's text and the text of its blocks (JSON as sent), as Slack reads
// them.
func slackText(t *testing.T, text, blocksJSON string) string {
	t.Helper()
	texts := []string{text}
	if blocksJSON != "" {
		var blocks any
		if err := json.Unmarshal([]byte(blocksJSON), &blocks); err != nil {
			t.Fatalf("blocks %s: %v", blocksJSON, err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				texts = append(texts, v)
			case []any:
				for _, e := range v {
					walk(e)
				}
			case map[string]any:
				for _, e := range v {
					walk(e)
				}
			}
		}
		walk(blocks)
	}
	return strings.Join(texts, "\n")
}

// checkNothingLive fails for every message, reply and ephemeral of the fake Slack that
// holds a live form.
func (w *world) checkNothingLive(t *testing.T) {
	t.Helper()
	for _, m := range w.slack.Messages(channel) {
		if l := liveIn(slackText(t, m.Text, m.BlocksJSON)); l != nil {
			t.Errorf("message %s holds %q:\n%s", metadataKey(m), l, m.BlocksJSON)
		}
		for _, r := range m.Replies {
			if l := liveIn(slackText(t, r.Text, r.BlocksJSON)); l != nil {
				t.Errorf("reply %s holds %q:\n%s", metadataKey(r), l, r.BlocksJSON)
			}
		}
	}
	for _, e := range w.slack.Ephemerals() {
		if l := liveIn(slackText(t, e.Text, e.BlocksJSON)); l != nil {
			t.Errorf("ephemeral to %s holds %q:\n%s", e.User, l, e.Text)
		}
	}
}

// TestRejectReasonMentionsNobody: an approver's reject reason pings nobody (no user, group,
// @here, @everyone, @channel, channel or link) in the status message, the summary, the
// replies to `status` and `audit`; the rejecter is still named.
func TestRejectReasonMentionsNobody(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{nodes: 1})
	w.command("U0OPERATOR", channel, "start test 3.5.0")
	w.waitRun(1, domain.StateAwaitingApproval)

	reason := "<@U0EVE1234> <!subteam^S0EVIL123|@ops> <!here> <!everyone> <!channel> <#C0SECRET1|secret> " +
		"<https://evil.example|click> blocked by U0MALLORY1"
	if r := w.command("U0APPROVER", channel, "reject 1 "+reason); len(liveIn(r.text)) > 0 {
		t.Errorf("the answer to reject holds %q: %s", liveIn(r.text), r.text)
	}
	run := w.waitRun(1, domain.StateRejected)
	if !strings.Contains(run.Reason, "<@U0EVE1234>") {
		t.Fatalf("the stored reason %q is not the reason as typed", run.Reason)
	}
	w.waitFor("the rejection on the status message and the summary", func() bool {
		m, ok := w.statusMessage()
		if !ok || !strings.Contains(m.Text, "rejected by <@U0APPROVER>") {
			return false
		}
		for _, r := range m.Replies {
			if metadataKey(r) == "run/1/summary" {
				return true
			}
		}
		return false
	})
	w.command("U0OPERATOR", channel, "status 1")
	w.ephemeralTo("U0OPERATOR", "*Run 1*")
	w.command("U0OPERATOR", channel, "audit 1")
	w.ephemeralTo("U0OPERATOR", "U0APPROVER reject")
	w.checkNothingLive(t)
}

// TestEchoedTextMentionsNobody: what a command echoes back (an unknown command, an
// argument that is not a run, a cluster that does not exist) mentions nobody.
func TestEchoedTextMentionsNobody(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{nodes: 1})
	for _, text := range []string{"<!channel>", "start <@U0EVE1234> 1.0", "abort <!here>", "list <#C0SECRET1|secret>", "status <!everyone>"} {
		if r := w.command("U0OPERATOR", channel, text); r.status != 200 || len(liveIn(r.text)) > 0 {
			t.Errorf("%q answered %d %q", text, r.status, r.text)
		}
	}
	w.ephemeralTo("U0OPERATOR", "is not in the configuration")
	w.ephemeralTo("U0OPERATOR", "is not a run number")
	w.ephemeralTo("U0OPERATOR", "no cluster")
	w.checkNothingLive(t)
}
