package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/storage"
)

// TestScheduleWithTicket: on a cluster whose change_ticket is required and has a pattern,
// "schedule … --ticket" refuses a missing or malformed ticket with the form it wants and
// schedules nothing; with a well-formed one the scheduled run carries it, the gate's ping
// links it, and every audit event of the run (the scheduler's and drawbridge's as well as
// people's) carries it, from the schedule to the end of the upgrade.
func TestScheduleWithTicket(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 12, 2, 0, 11, 1, 0, time.UTC))
	w := newWorld(t, worldOpts{nodes: 2, clock: clock, top: everyThree, approvers: "[S0CHANGEMGR]", ttl: time.Hour,
		extra: "    windows: [w]\n    change_ticket: {required: true, pattern: '^CHG[0-9]{7}$', url: 'https://itsm.example.com/change/{{.Ticket}}'}"})

	for _, tc := range []struct {
		text, want string
		direct     bool // the command's answer (the line does not parse), not an ephemeral
	}{
		{"schedule test 3.5.0 next", "test requires a change ticket: add --ticket &lt;ticket&gt; matching ^CHG[0-9]{7}$", false},
		{"schedule test 3.5.0 next --ticket CHG12", `change ticket "CHG12" is not of the form test wants: ^CHG[0-9]{7}$`, false},
		{"schedule test 3.5.0 w --ticket=chg0012345", `change ticket "chg0012345" is not of the form test wants: ^CHG[0-9]{7}$`, false},
		{"schedule test 3.5.0 next --ticket CHG00123456", `change ticket "CHG00123456" is not of the form test wants: ^CHG[0-9]{7}$`, false},
		{"schedule test 3.5.0 next --ticket", "--ticket needs the ticket, e.g. --ticket CHG0012345", true},
	} {
		resp := w.command("U0OPERATOR", channel, tc.text)
		if !tc.direct {
			w.ephemeralTo("U0OPERATOR", tc.want)
		} else if !strings.Contains(resp.text, tc.want) {
			t.Errorf("%q answered %q, want %q", tc.text, resp.text, tc.want)
		}
	}
	if runs, _ := w.store.ListRuns(t.Context(), storage.RunFilter{}); len(runs) != 0 {
		t.Fatalf("refused schedules created runs: %+v", runs)
	}
	if scheds, _ := w.store.ListSchedules(t.Context()); len(scheds) != 0 {
		t.Fatalf("refused schedules were stored: %+v", scheds)
	}

	w.command("U0OPERATOR", channel, "schedule test 3.5.0 next --ticket CHG0012345")
	w.ephemeralTo("U0OPERATOR", "Run 1 scheduled: test 3.4.2 → 3.5.0 at Wed 2026-12-02 00:12 UTC (window w)")
	scheduled, err := w.store.GetRun(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if scheduled.Ticket != "CHG0012345" || scheduled.Window != "w" || scheduled.RequestedBy != "U0OPERATOR" {
		t.Fatalf("scheduled run: ticket %q window %q requested by %q", scheduled.Ticket, scheduled.Window, scheduled.RequestedBy)
	}

	// The reminder prepares the run (the scheduler's events); the gate's ping links the ticket.
	approve := w.waitButton("approve")
	w.waitThread(1, "Change ticket <https://itsm.example.com/change/CHG0012345|CHG0012345>.")
	w.waitStatus(1, "https://itsm.example.com/change/CHG0012345|CHG0012345")
	clock.Set(time.Date(2026, 12, 2, 0, 11, 2, 0, time.UTC))
	w.click("U0APPROVER", "approve", approve, "")
	clock.Set(time.Date(2026, 12, 2, 0, 12, 0, 0, time.UTC))
	advanceUntil(t, w, clock, 1, domain.StateAwaitingDecommission)
	w.command("U0OPERATOR", channel, "decommission 1")
	run := w.waitRun(1, domain.StateSucceeded)
	if run.Ticket != "CHG0012345" {
		t.Errorf("the run ended with ticket %q", run.Ticket)
	}
	w.c.WantVersions("3.5.0")

	events := w.audit(1)
	actors := map[string]bool{}
	actions := map[string]bool{}
	for _, e := range events {
		if e.Ticket != "CHG0012345" {
			t.Errorf("event %d (%s by %s) carries ticket %q", e.Seq, e.Action, e.Actor, e.Ticket)
		}
		if e.Hash != e.ComputeHash() {
			t.Errorf("event %d's hash does not cover what it says", e.Seq)
		}
		actors[e.Actor], actions[e.Action] = true, true
	}
	for _, want := range []string{"U0OPERATOR", "U0APPROVER", "scheduler"} {
		if !actors[want] {
			t.Errorf("no event by %s among the run's %d", want, len(events))
		}
	}
	for _, want := range []string{"schedule", "approve", "decommission"} {
		if !actions[want] {
			t.Errorf("no %s event among the run's %d: %v", want, len(events), actions)
		}
	}
	if v, err := w.store.VerifyAudit(t.Context()); err != nil || len(v.Problems) > 0 {
		t.Fatalf("verify: %v %v", v.Problems, err)
	}
}
