package bot_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// TestGroupMembersTrustedForABoundedTime: while usergroups.users.list fails, an operator
// group's members as Slack last told them still count, for half an hour after that; then
// access through the group fails closed, the refusal naming the problem; once Slack answers
// again the group counts again.
func TestGroupMembersTrustedForABoundedTime(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	clock := fakeclock.New(time.Now())
	w := newWorld(t, worldOpts{nodes: 1, operators: "[S0CHANGEMGR]", clock: clock, fault: func(c slackfake.Call) slackfake.Fault {
		if down.Load() && c.Method == "usergroups.users.list" {
			return slackfake.Fault{Status: 503}
		}
		return slackfake.Fault{}
	}})
	// plan needs an operator; U0APPROVER is one through the group.
	plan := func() string {
		t.Helper()
		before := len(w.ephemeralsTo("U0APPROVER"))
		w.command("U0APPROVER", channel, "plan test 3.5.0")
		var last string
		w.waitFor("the answer to plan", func() bool {
			got := w.ephemeralsTo("U0APPROVER")
			if len(got) > before {
				last = got[len(got)-1]
				return true
			}
			return false
		})
		return last
	}
	allowed := func(answer string) bool { return !strings.Contains(answer, "needs an operator") }

	if a := plan(); !allowed(a) {
		t.Fatalf("a member of the group was refused while Slack answers: %s", a)
	}
	down.Store(true)
	clock.Advance(10 * time.Minute) // past the cache's 5 minutes: Slack is asked, and fails
	if a := plan(); !allowed(a) {
		t.Errorf("10 minutes into the outage the last known members no longer count: %s", a)
	}
	clock.Advance(21 * time.Minute) // 31 minutes since Slack last told the members
	a := plan()
	if allowed(a) || !strings.Contains(a, "S0CHANGEMGR") || !strings.Contains(a, "no longer trusted") || !strings.Contains(a, "usergroups.users.list") {
		t.Errorf("31 minutes into the outage, plan answered %q; want a refusal naming the group and the failing call", a)
	}
	down.Store(false)
	if a := plan(); !allowed(a) {
		t.Errorf("once Slack answers again, the member is still refused: %s", a)
	}
	denied := 0
	for _, e := range w.allAudit() {
		if e.Action == "denied" && strings.Contains(e.Detail, "no longer trusted") {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("%d denials for untrusted group members in the audit log, want 1", denied)
	}
}

// ephemeralsTo is the text of every ephemeral message to user, in order.
func (w *world) ephemeralsTo(user string) []string {
	var out []string
	for _, e := range w.slack.Ephemerals() {
		if e.User == user {
			out = append(out, e.Text)
		}
	}
	return out
}
