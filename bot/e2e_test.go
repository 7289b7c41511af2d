package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/slackfake"
	"github.com/drawbridge/drawbridge/storage"
)

// TestWholeRunFromSlack: "/kong-upgrade start" → Approve click (by a member of an approver
// group) → watch → Decommission click → succeeded, with one status message edited in place
// and one thread reply per step.
func TestWholeRunFromSlack(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{approvers: "[S0CHANGEMGR]"})

	r := w.command("U0OPERATOR", channel, "start test 3.5.0")
	if r.status != 200 || !strings.Contains(r.text, "start test 3.5.0") {
		t.Fatalf("start answered %d %q", r.status, r.text)
	}
	w.ephemeralTo("U0OPERATOR", "Run 1 started")
	approve := w.waitButton("approve")
	w.waitFor("the approvers' ping in the thread", func() bool {
		m, _ := w.statusMessage()
		for _, rep := range m.Replies {
			if strings.Contains(rep.Text, "Approval needed") && strings.Contains(rep.Text, "<!subteam^S0CHANGEMGR>") {
				return true
			}
		}
		return false
	})
	if r := w.click("U0APPROVER", "approve", approve, ""); r.status != 200 {
		t.Fatalf("approve click answered %d %q", r.status, r.text)
	}
	decommission := w.waitButton("decommission")
	w.c.WantVersions("3.5.0")
	w.click("U0OPERATOR", "decommission", decommission, "")
	run := w.waitRun(1, domain.StateSucceeded)
	w.waitFor("the summary reply", func() bool {
		m, _ := w.statusMessage()
		for _, rep := range m.Replies {
			if metadataKey(rep) == "run/1/summary" {
				return true
			}
		}
		return false
	})

	// One status message, edited in place; one reply per finished step.
	var top []slackfake.Message
	for _, m := range w.slack.Messages(channel) {
		top = append(top, m)
	}
	if len(top) != 1 {
		t.Fatalf("%d top-level messages, want the one status message", len(top))
	}
	status := top[0]
	if status.Edits < 5 {
		t.Errorf("status message edited %d times", status.Edits)
	}
	if !strings.Contains(status.Text, "succeeded") {
		t.Errorf("final status text %q", status.Text)
	}
	steps, err := w.store.Steps(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	perKey := map[string]int{}
	for _, rep := range status.Replies {
		perKey[metadataKey(rep)]++
	}
	for _, s := range steps {
		key := "run/1/step/" + itoa(s.Index) + "/" + itoa(s.Attempt)
		if perKey[key] != 1 {
			t.Errorf("step %s has %d thread replies, want 1", s.Name, perKey[key])
		}
	}
	if len(steps) != len(domain.ForwardSteps) {
		t.Errorf("%d step records", len(steps))
	}
	for k, n := range perKey {
		if n != 1 {
			t.Errorf("reply %s posted %d times", k, n)
		}
	}
	for _, c := range w.slack.CallsTo("chat.postMessage") {
		if c.OK() && c.Params.Get("thread_ts") == "" && c.Params.Get("channel") != channel {
			t.Errorf("posted to %s", c.Params.Get("channel"))
		}
	}
	// The audit log has the people's decisions.
	var actions []string
	for _, e := range w.audit(run.ID) {
		actions = append(actions, e.Actor+":"+e.Action)
	}
	joined := strings.Join(actions, " ")
	for _, want := range []string{"U0OPERATOR:start", "U0APPROVER:click", "U0APPROVER:approve", "U0OPERATOR:decommission"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %s: %s", want, joined)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestRefusals: every negative case is refused with its reason and leaves no trace but
// an audit entry.
func TestRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{nodes: 1, operators: "[U0OPERATOR, U0SELFISH]", approvers: "[U0APPROVER, U0APPROVE2, U0SELFISH]", required: 2})

	t.Run("forged signature", func(t *testing.T) {
		r := w.post("/slack/commands", "command=%2Fkong-upgrade&text=start+test+3.5.0&channel_id="+channel+"&user_id=U0OPERATOR",
			func(h http.Header) { h.Set("X-Slack-Signature", "v0=00"+strings.Repeat("ab", 31)) })
		if r.status != http.StatusUnauthorized || !strings.Contains(r.text, "signature does not match") {
			t.Errorf("answered %d %q", r.status, r.text)
		}
	})
	t.Run("stale timestamp", func(t *testing.T) {
		body := "command=%2Fkong-upgrade&text=help&channel_id=" + channel + "&user_id=U0OPERATOR"
		r := w.post("/slack/commands", body, func(h http.Header) { sign(h, body, time.Now().Add(-6*time.Minute)) })
		if r.status != http.StatusUnauthorized || !strings.Contains(r.text, "five-minute") {
			t.Errorf("answered %d %q", r.status, r.text)
		}
	})
	t.Run("wrong channel", func(t *testing.T) {
		r := w.command("U0OPERATOR", "C0OTHERCHAN", "start test 3.5.0")
		if r.status != 200 || !strings.Contains(r.text, "takes commands in <#"+channel+"> only") {
			t.Errorf("answered %d %q", r.status, r.text)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		r := w.command("U0OPERATOR", channel, "start test")
		if !strings.Contains(r.text, "start needs &lt;cluster&gt; &lt;version&gt;") || !strings.Contains(r.text, "usage: /kong-upgrade start") {
			t.Errorf("answered %q", r.text)
		}
	})
	t.Run("non-operator start", func(t *testing.T) {
		w.command("U0NOBODY", channel, "start test 3.5.0")
		w.ephemeralTo("U0NOBODY", "`start` needs an operator")
	})
	t.Run("no such run", func(t *testing.T) {
		w.command("U0OPERATOR", channel, "audit 7")
		w.ephemeralTo("U0OPERATOR", "There is no run 7.")
		if evs := w.audit(7); len(evs) != 0 {
			t.Errorf("a command about a missing run wrote to its audit log: %+v", evs)
		}
	})
	t.Run("a refused plan leads with its verdict", func(t *testing.T) {
		w.command("U0OPERATOR", channel, "plan test 3.9.3")
		w.ephemeralTo("U0OPERATOR", "🚫 *Refused:* version path:")
		for _, e := range w.slack.Ephemerals() {
			if e.User != "U0OPERATOR" || !strings.Contains(e.Text, "Refused:") {
				continue
			}
			blocks, err := e.Blocks()
			if err != nil {
				t.Fatal(err)
			}
			for i, b := range blocks {
				sec, ok := b.(*slack.SectionBlock)
				if !ok || sec.Text == nil {
					t.Fatalf("block %d is %T", i, b)
				}
				if n := strings.Count(sec.Text.Text, "```"); n%2 != 0 {
					t.Errorf("block %d leaves a code block open:\n%s", i, sec.Text.Text)
				}
			}
		}
	})
	if runs, _ := w.store.ListRuns(t.Context(), storage.RunFilter{}); len(runs) != 0 {
		t.Fatalf("refused commands created runs: %+v", runs)
	}
	denials := 0
	for _, e := range w.allAudit() {
		if e.Action == "denied" {
			denials++
		}
	}
	if denials != 2 { // the wrong channel and the non-operator
		t.Errorf("%d denials in the audit log, want 2", denials)
	}

	// A run for the click cases, requested by someone who is also an approver.
	w.command("U0SELFISH", channel, "start test 3.5.0")
	approve := w.waitButton("approve")
	t.Run("unauthorized approver", func(t *testing.T) {
		w.click("U0OPERATOR", "approve", approve, "")
		w.ephemeralTo("U0OPERATOR", "Approve needs an approver")
	})
	t.Run("self-approval", func(t *testing.T) {
		w.click("U0SELFISH", "approve", approve, "")
		w.ephemeralTo("U0SELFISH", "four-eyes")
	})
	t.Run("double click and two approvers", func(t *testing.T) {
		ts := "1700000000.000001"
		w.click("U0APPROVER", "approve", approve, ts)
		w.click("U0APPROVER", "approve", approve, ts) // Slack's retry of the same click
		w.poll("one approval recorded", func() bool {
			n := 0
			for _, e := range w.audit(1) {
				if e.Actor == "U0APPROVER" && e.Action == "approve" {
					n++
				}
			}
			return n == 1
		})
		w.click("U0APPROVER", "approve", approve, "") // a second, separate click
		w.ephemeralTo("U0APPROVER", "already decided")
		if run, _ := w.store.GetRun(t.Context(), 1); run.State != domain.StateAwaitingApproval {
			t.Fatalf("one of two approvals moved the run to %s", run.State)
		}
		w.click("U0APPROVE2", "approve", approve, "")
		w.waitRun(1, domain.StateAwaitingDecommission)
	})
	t.Run("stale button on a finished run", func(t *testing.T) {
		w.command("U0OPERATOR", channel, "decommission 1")
		w.waitRun(1, domain.StateSucceeded)
		w.click("U0OPERATOR", "rollback", approve, "")
		w.ephemeralTo("U0OPERATOR", "has ended")
	})
}

// TestRateLimitStormAndRestart: 30% of Slack calls answer 429 (Retry-After 1) and
// drawbridge restarts in the middle of a run: every message is delivered exactly once, in
// order.
func TestRateLimitStormAndRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{nodes: 1, fault: slackfake.Sometimes(0.3, 7, slackfake.RateLimited(1))})
	w.command("U0OPERATOR", channel, "start test 3.5.0")
	w.waitRun(1, domain.StateAwaitingApproval)
	w.command("U0APPROVER", channel, "approve 1")
	w.waitRun(1, domain.StateWatching)

	w.stop() // a restart, with messages still in the outbox
	w.start()
	w.waitRun(1, domain.StateAwaitingDecommission)
	w.command("U0OPERATOR", channel, "decommission 1")
	w.waitRun(1, domain.StateSucceeded)
	w.poll("an empty outbox", func() bool {
		pending, err := w.store.PendingOutbox(t.Context(), 0)
		return err == nil && len(pending) == 0
	})

	if dead, _ := w.store.DeadLetters(t.Context(), 0); len(dead) != 0 {
		t.Errorf("%d dead letters: %+v", len(dead), dead)
	}
	limited := 0
	for _, c := range w.slack.Calls() {
		if c.Status == 429 {
			limited++
		}
	}
	if limited < 5 {
		t.Errorf("only %d calls were rate limited; the storm did not happen", limited)
	}
	msgs := w.slack.Messages(channel)
	if len(msgs) != 1 {
		t.Fatalf("%d top-level messages, want one status message", len(msgs))
	}
	seen := map[string]int{}
	lastStep := 0
	for _, rep := range msgs[0].Replies {
		key := metadataKey(rep)
		seen[key]++
		var idx, attempt int
		if _, err := fmt.Sscanf(key, "run/1/step/%d/%d", &idx, &attempt); err == nil {
			if pos := domain.Position(idx); pos < lastStep {
				t.Errorf("step %d's reply came after step %d's", idx, lastStep)
			} else {
				lastStep = pos
			}
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s posted %d times", k, n)
		}
	}
	steps, _ := w.store.Steps(t.Context(), 1)
	for _, s := range steps {
		if seen["run/1/step/"+itoa(s.Index)+"/"+itoa(s.Attempt)] != 1 {
			t.Errorf("step %s (attempt %d) has no reply", s.Name, s.Attempt)
		}
	}
	if seen["run/1/summary"] != 1 {
		t.Error("no summary")
	}
}

// TestSocketMode: with an app token, commands and clicks arrive over Socket Mode and go
// through the same handlers; the ack carries the same answer an HTTP response would.
func TestSocketMode(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{nodes: 1, appToken: "xapp-1-A0DRAWBRIDGE-test"})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	ack, err := w.slack.SocketRequest(ctx, "slash_commands", map[string]any{
		"command": "/kong-upgrade", "text": "start test", "channel_id": channel, "user_id": "U0OPERATOR", "trigger_id": newTriggerID()})
	if err != nil {
		t.Fatal(err)
	}
	var reply struct{ Text string }
	if err := json.Unmarshal(ack, &reply); err != nil || !strings.Contains(reply.Text, "start needs &lt;cluster&gt; &lt;version&gt;") {
		t.Errorf("ack of a bad command: %s (%v)", ack, err)
	}
	start := map[string]any{"command": "/kong-upgrade", "text": "start test 3.5.0", "channel_id": channel, "user_id": "U0OPERATOR", "trigger_id": newTriggerID()}
	if _, err := w.slack.SocketRequest(ctx, "slash_commands", start); err != nil {
		t.Fatal(err)
	}
	// The same command again (its trigger_id taken): an empty ack, nothing queued.
	if ack, err := w.slack.SocketRequest(ctx, "slash_commands", start); err != nil || len(ack) != 0 {
		t.Errorf("ack of a command sent twice: %q (%v), want none", ack, err)
	}
	// A command without a trigger_id is refused, saying why.
	delete(start, "trigger_id")
	if ack, err := w.slack.SocketRequest(ctx, "slash_commands", start); err != nil || !strings.Contains(string(ack), "without a trigger_id") {
		t.Errorf("ack of a command without trigger_id: %s (%v)", ack, err)
	}
	approve := w.waitButton("approve")
	if _, err := w.slack.SocketRequest(ctx, "interactive", map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U0APPROVER"}, "channel": map[string]any{"id": channel},
		"actions": []map[string]any{{"action_id": "approve", "block_id": "actions", "value": approve, "action_ts": "1.2", "type": "button"}}}); err != nil {
		t.Fatal(err)
	}
	w.poll("the approval", func() bool {
		run, err := w.store.GetRun(t.Context(), 1)
		return err == nil && run.State != domain.StateAwaitingApproval
	})
	if evs := w.audit(1); !strings.Contains(fmt.Sprint(evs), "approve") {
		t.Errorf("no approval in the audit log: %+v\nephemerals: %+v", evs, w.slack.Ephemerals())
	}
}
