package bot_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// everyThree is the window of the report that found approvals ahead of a window lost: it
// opens every three minutes for two, and reminds a minute ahead.
const everyThree = `windows:
  - name: w
    cron: "*/3 * * * *"
    duration: 2m
    timezone: UTC
    remind_before: 1m
blackouts:
  - name: freeze
    from: 2026-12-02T00:13:30Z
    to: 2026-12-02T02:00:00Z`

// aheadWorld is a two-node cluster bound to window w, approvers a user group, on a fake
// clock at 00:11:01 UTC (the next opening is 00:12, the reminder is due at once).
func aheadWorld(t *testing.T, clock *fakeclock.Clock) *world {
	return newWorld(t, worldOpts{nodes: 2, clock: clock, top: everyThree, extra: "    windows: [w]", approvers: "[S0CHANGEMGR]", ttl: time.Hour})
}

// statusOf is run id's status message.
func (w *world) statusOf(id domain.RunID) (slackfake.Message, bool) {
	for _, m := range w.slack.Messages(channel) {
		if metadataKey(m) == fmt.Sprintf("run/%s/status", id) {
			return m, true
		}
	}
	return slackfake.Message{}, false
}

// waitThread waits until run id's thread has a reply containing text and returns it.
func (w *world) waitThread(id domain.RunID, text string) slackfake.Message {
	w.t.Helper()
	var found slackfake.Message
	w.waitFor(fmt.Sprintf("a reply in run %s's thread saying %q", id, text), func() bool {
		m, _ := w.statusOf(id)
		for _, r := range m.Replies {
			if says(r, text) {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// waitStatus waits until run id's status message contains text (in its blocks).
func (w *world) waitStatus(id domain.RunID, text string) slackfake.Message {
	w.t.Helper()
	var found slackfake.Message
	w.waitFor(fmt.Sprintf("run %s's status message saying %q", id, text), func() bool {
		m, ok := w.statusOf(id)
		found = m
		return ok && says(m, text)
	})
	return found
}

// says reports whether a message's text or blocks contain text (blocks as JSON, where
// "<" is written \u003c).
func says(m slackfake.Message, text string) bool {
	escaped, _ := json.Marshal(text)
	return strings.Contains(m.Text, text) || strings.Contains(m.BlocksJSON, text) ||
		strings.Contains(m.BlocksJSON, strings.Trim(string(escaped), `"`))
}

// TestApprovedAheadOfTheWindow is the report's flow on a clock the test moves: schedule at
// 00:11:01, the reminder at once, Approve clicked at 00:11:02 by a member of the approver
// group. The status message shows the approval and when the downtime starts, the approver
// is told, and at the opening (00:12:00) the run goes ahead: every node on 3.5.0 inside the
// window.
func TestApprovedAheadOfTheWindow(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 12, 2, 0, 11, 1, 0, time.UTC))
	w := aheadWorld(t, clock)

	w.command("U0OPERATOR", channel, "schedule test 3.5.0 next")
	w.ephemeralTo("U0OPERATOR", "Run 1 scheduled: test 3.4.2 → 3.5.0 at Wed 2026-12-02 00:12 UTC (window w)")
	approve := w.waitButton("approve")
	w.waitThread(1, "Approval needed for run 1")

	clock.Set(time.Date(2026, 12, 2, 0, 11, 2, 0, time.UTC))
	w.click("U0APPROVER", "approve", approve, "")
	w.ephemeralTo("U0APPROVER", "The downtime starts when window w opens, 2026-12-02 00:12 UTC.")
	w.waitStatus(1, "Approved: the downtime starts when window w opens, 2026-12-02 00:12 UTC.")
	w.waitStatus(1, "1 of 1 approvals · approved by <@U0APPROVER>")
	w.waitThread(1, "<@U0APPROVER> approved run #1 (1 of 1 approvals). The downtime starts when window w opens")
	if run, _ := w.store.GetRun(t.Context(), 1); run.State != domain.StateAwaitingApproval || !run.DowntimeStart.IsZero() {
		t.Fatalf("approved ahead of the window, the run is %s (downtime %s)", run.State, run.DowntimeStart)
	}
	// A second approve says what the first did, instead of a bare refusal.
	w.command("U0APPROVER", channel, "approve 1")
	w.ephemeralTo("U0APPROVER", "you have already decided on it (approved at 00:11:02 UTC); it is approved, and its downtime starts when window w opens")
	w.c.WantVersions("3.4.2")

	opening := time.Date(2026, 12, 2, 0, 12, 0, 0, time.UTC)
	clock.Set(opening)
	w.poll("the downtime", func() bool {
		run, _ := w.store.GetRun(t.Context(), 1)
		return !run.DowntimeStart.IsZero()
	})
	run, _ := w.store.GetRun(t.Context(), 1)
	if !run.DowntimeStart.Equal(opening) {
		t.Errorf("downtime started at %s, want the opening %s", run.DowntimeStart, opening)
	}
	gate := w.waitThread(1, "00:12:00 UTC: the downtime starts, inside window w")
	if !strings.Contains(gate.BlocksJSON, "7. approval gate* succeeded") || !strings.Contains(gate.BlocksJSON, `\u003c@U0APPROVER\u003e`) {
		t.Errorf("the gate's reply does not show the crossing and the approver: %s", gate.BlocksJSON)
	}
	advanceUntil(t, w, clock, 1, domain.StateAwaitingDecommission)
	w.c.WantVersions("3.5.0")
	if run, _ := w.store.GetRun(t.Context(), 1); run.DowntimeEnd.After(opening.Add(2 * time.Minute)) {
		t.Errorf("the downtime ended at %s, after the window closed", run.DowntimeEnd)
	}
	w.command("U0OPERATOR", channel, "decommission 1")
	w.waitRun(1, domain.StateSucceeded)
}

// TestScheduledGateWakeUps: each thing that moves a scheduled run at its gate, on the fake
// clock: an approval after the opening goes ahead at once; none expires the run when the
// window closes; the approval timeout expires it when it comes first; a blackout keeps an
// approved run waiting; and the changes people make without the run's goroutine being due
// (reject, abort, unschedule) take effect at once, not at the next due time.
func TestScheduledGateWakeUps(t *testing.T) {
	t.Parallel()
	at := func(h, m, s int) time.Time { return time.Date(2026, 12, 2, h, m, s, 0, time.UTC) }

	t.Run("approved after the opening", func(t *testing.T) {
		t.Parallel()
		clock := fakeclock.New(at(0, 11, 1))
		w := aheadWorld(t, clock)
		w.command("U0OPERATOR", channel, "schedule test 3.5.0 next")
		approve := w.waitButton("approve")
		clock.Set(at(0, 12, 30))
		w.click("U0APPROVER", "approve", approve, "")
		w.ephemeralTo("U0APPROVER", "(1 of 1 approvals): the downtime starts now.")
		w.poll("the downtime", func() bool {
			run, _ := w.store.GetRun(t.Context(), 1)
			return !run.DowntimeStart.IsZero()
		})
		if run, _ := w.store.GetRun(t.Context(), 1); !run.DowntimeStart.Equal(at(0, 12, 30)) {
			t.Errorf("downtime started at %s, want at the approval", run.DowntimeStart)
		}
		advanceUntil(t, w, clock, 1, domain.StateAwaitingDecommission)
		w.c.WantVersions("3.5.0")
	})

	t.Run("no approval: expired when the window closes", func(t *testing.T) {
		t.Parallel()
		clock := fakeclock.New(at(0, 11, 1))
		w := aheadWorld(t, clock)
		w.command("U0OPERATOR", channel, "schedule test 3.5.0 next")
		w.waitRun(1, domain.StateAwaitingApproval)
		clock.Set(at(0, 13, 59))
		if run, _ := w.store.GetRun(t.Context(), 1); run.State != domain.StateAwaitingApproval {
			t.Fatalf("before the close the run is %s", run.State)
		}
		clock.Set(at(0, 14, 0))
		run := w.waitRun(1, domain.StateExpired)
		if want := "window w closed at 2026-12-02T00:14:00Z before the run was approved"; !strings.Contains(run.Reason, want) {
			t.Errorf("reason %q lacks %q", run.Reason, want)
		}
		w.waitThread(1, "window w closed at 2026-12-02T00:14:00Z")
		w.c.WantVersions("3.4.2")
	})

	t.Run("the approval timeout comes first", func(t *testing.T) {
		t.Parallel()
		clock := fakeclock.New(at(0, 11, 1))
		w := newWorld(t, worldOpts{nodes: 1, clock: clock, top: everyThree, extra: "    windows: [w]", ttl: 30 * time.Second})
		w.command("U0OPERATOR", channel, "schedule test 3.5.0 next")
		w.waitRun(1, domain.StateAwaitingApproval) // the gate opened at 00:11:01
		clock.Set(at(0, 11, 30))
		if run, _ := w.store.GetRun(t.Context(), 1); run.State != domain.StateAwaitingApproval {
			t.Fatalf("before the timeout the run is %s", run.State)
		}
		clock.Set(at(0, 11, 31))
		run := w.waitRun(1, domain.StateExpired)
		if !strings.Contains(run.Reason, "no approval within 30s") {
			t.Errorf("reason %q", run.Reason)
		}
	})

	t.Run("approved in a blackout that lasts past the window: expires, saying so", func(t *testing.T) {
		t.Parallel()
		clock := fakeclock.New(at(0, 11, 1))
		w := aheadWorld(t, clock)
		w.command("U0OPERATOR", channel, "schedule test 3.5.0 next")
		approve := w.waitButton("approve")
		clock.Set(at(0, 13, 40)) // blackout freeze began at 00:13:30
		w.click("U0APPROVER", "approve", approve, "")
		w.ephemeralTo("U0APPROVER", "but its downtime cannot start before it expires at 2026-12-02 00:14 UTC: blackout freeze ends only at 2026-12-02 02:00 UTC.")
		w.waitStatus(1, "Approved, but blackout freeze ends only at 2026-12-02 02:00 UTC, after the run expires")
		clock.Set(at(0, 14, 0))
		run := w.waitRun(1, domain.StateExpired)
		if want := "approved, but the downtime could not start before the deadline: window w closed at 2026-12-02T00:14:00Z, and blackout freeze ends only at 2026-12-02T02:00:00Z"; !strings.Contains(run.Reason, want) {
			t.Errorf("reason %q lacks %q", run.Reason, want)
		}
		w.c.WantVersions("3.4.2")
	})

	// Changes recorded while the run waits for its window.
	cases := []struct {
		name      string
		required  int
		act       func(w *world, approve string)
		state     domain.RunState
		reason    string
		scheduled bool // acted on before the reminder, while the run is only scheduled
	}{
		{"rejected ahead", 2, func(w *world, approve string) {
			w.click("U0APPROVE2", "reject", approve, "")
		}, domain.StateRejected, "rejected by U0APPROVE2", false},
		{"rejected after another approved ahead", 2, func(w *world, approve string) {
			w.click("U0APPROVER", "approve", approve, "")
			w.ephemeralTo("U0APPROVER", "(1 of 2 approvals). 1 more needed before")
			w.command("U0APPROVE2", channel, "reject 1 not tonight")
		}, domain.StateRejected, "rejected by U0APPROVE2: not tonight", false},
		{"aborted while approved ahead", 1, func(w *world, approve string) {
			w.click("U0APPROVER", "approve", approve, "")
			w.ephemeralTo("U0APPROVER", "The downtime starts when window w opens")
			w.command("U0OPERATOR", channel, "abort 1")
		}, domain.StateAborted, "aborted by U0OPERATOR", false},
		{"unscheduled at the gate", 1, func(w *world, _ string) {
			w.command("U0OPERATOR", channel, "unschedule 1")
		}, domain.StateAborted, "aborted by U0OPERATOR", false},
		{"unscheduled before the reminder", 1, func(w *world, _ string) {
			w.command("U0OPERATOR", channel, "unschedule 1")
		}, domain.StateAborted, "unscheduled by U0OPERATOR", true},
		{"aborted before the reminder", 1, func(w *world, _ string) {
			w.command("U0OPERATOR", channel, "abort 1")
		}, domain.StateAborted, "aborted by U0OPERATOR before it was prepared", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := at(0, 11, 1) // the reminder is due at once
			if tc.scheduled {
				start = at(0, 6, 30) // next opening 00:09, reminder 00:08
			}
			clock := fakeclock.New(start)
			w := newWorld(t, worldOpts{nodes: 1, clock: clock, top: everyThree, extra: "    windows: [w]", approvers: "[S0CHANGEMGR]", required: tc.required, ttl: time.Hour})
			w.command("U0OPERATOR", channel, "schedule test 3.5.0 next")
			approve := ""
			if tc.scheduled {
				w.ephemeralTo("U0OPERATOR", "Run 1 scheduled")
				if run, _ := w.store.GetRun(t.Context(), 1); run.State != domain.StateScheduled {
					t.Fatalf("the run is %s before its reminder", run.State)
				}
			} else {
				approve = w.waitButton("approve")
			}
			tc.act(w, approve)
			// Nothing else moves the clock: the change takes effect by itself, now.
			run := w.waitRun(1, tc.state)
			if !strings.HasPrefix(run.Reason, tc.reason) {
				t.Errorf("reason %q, want it to start with %q", run.Reason, tc.reason)
			}
			w.waitStatus(1, string(tc.state))
			// Past the reminder, the opening and the close: nothing more happens to it.
			clock.Set(at(0, 30, 0))
			if run, _ := w.store.GetRun(t.Context(), 1); run.State != tc.state || !run.DowntimeStart.IsZero() {
				t.Errorf("later the run is %s (downtime %s)", run.State, run.DowntimeStart)
			}
			if sch, _ := w.store.ListSchedules(t.Context()); len(sch) != 0 {
				t.Errorf("schedules left: %+v", sch)
			}
			w.c.WantVersions("3.4.2")
		})
	}
}
