package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/internal/slackfake"
	"github.com/drawbridge/drawbridge/storage"
)

// halfHour opens at 00:12 UTC for half an hour, reminding a minute ahead: room for a chain
// of two hops on a clock that advanceUntil moves.
const halfHour = `windows:
  - name: night
    cron: "12 0 * * *"
    duration: 30m
    timezone: UTC
    remind_before: 1m`

// TestScheduledChain: on a cluster on 3.4.2 bound to window night and requiring a change
// ticket, "schedule test 3.6.1 next" without --chain is refused naming the guaranteed hops
// and --chain, and schedules nothing; with --chain and a ticket the run is scheduled as the
// chain 3.4.2 → 3.5.0 → 3.6.1, approved ahead of the window, and at the opening it crosses
// the gate and migrates both hops in one downtime, every node on 3.6.1 inside the window.
// The thread says each hop migrated, the status message carries the ticket and the chain,
// and every audit event of the run carries the ticket.
func TestScheduledChain(t *testing.T) {
	t.Parallel()
	at := func(h, m, s int) time.Time { return time.Date(2026, 12, 2, h, m, s, 0, time.UTC) }
	clock := fakeclock.New(at(0, 11, 1)) // the reminder (00:11) is due at once
	w := newWorld(t, worldOpts{nodes: 2, clock: clock, top: halfHour, approvers: "[S0CHANGEMGR]", ttl: time.Hour,
		extra: "    windows: [night]\n    change_ticket: {required: true, pattern: '^CHG[0-9]{7}$', url: 'https://itsm.example.com/change/{{.Ticket}}'}"})
	const ticket = "CHG0012345"
	link := "<https://itsm.example.com/change/" + ticket + "|" + ticket + ">"

	w.command("U0OPERATOR", channel, "schedule test 3.6.1 next --ticket "+ticket)
	w.ephemeralTo("U0OPERATOR", "3.4.2 → 3.6.1 is not a path Kong guarantees; upgrade in guaranteed hops: 3.4.2 → 3.5.0 → 3.6.1 (--chain runs them in one downtime; or set allow_unverified_paths: true)")
	if runs, _ := w.store.ListRuns(t.Context(), storage.RunFilter{}); len(runs) != 0 {
		t.Fatalf("a refused schedule created runs: %+v", runs)
	}
	if scheds, _ := w.store.ListSchedules(t.Context()); len(scheds) != 0 {
		t.Fatalf("a refused schedule was stored: %+v", scheds)
	}

	w.command("U0OPERATOR", channel, "schedule test 3.6.1 next --chain --ticket "+ticket)
	w.ephemeralTo("U0OPERATOR", "Run 1 scheduled: test 3.4.2 → 3.6.1 at Wed 2026-12-02 00:12 UTC (window night)")
	scheduled, err := w.store.GetRun(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if !scheduled.Chain || scheduled.Ticket != ticket || scheduled.Window != "night" {
		t.Fatalf("scheduled run: chain %v ticket %q window %q", scheduled.Chain, scheduled.Ticket, scheduled.Window)
	}

	// The reminder prepares the run: its gate shows the chain, none of it migrated, and the
	// ticket.
	approve := w.waitButton("approve")
	w.waitStatus(1, "3.4.2 → 3.5.0 → 3.6.1")
	w.waitStatus(1, "0 of 2 hops migrated")
	w.waitStatus(1, link)
	clock.Set(at(0, 11, 2))
	w.click("U0APPROVER", "approve", approve, "")
	w.ephemeralTo("U0APPROVER", "The downtime starts when window night opens, 2026-12-02 00:12 UTC.")
	w.waitStatus(1, "Approved: the downtime starts when window night opens, 2026-12-02 00:12 UTC.")
	if run, _ := w.store.GetRun(t.Context(), 1); run.State != domain.StateAwaitingApproval || !run.DowntimeStart.IsZero() {
		t.Fatalf("approved ahead of the window, the run is %s (downtime %s)", run.State, run.DowntimeStart)
	}
	w.c.WantVersions("3.4.2")

	opening, closes := at(0, 12, 0), at(0, 42, 0)
	clock.Set(opening)
	w.waitThread(1, "00:12:00 UTC: the downtime starts, inside window night")
	advanceUntil(t, w, clock, 1, domain.StateAwaitingDecommission)
	w.c.WantVersions("3.6.1")
	run, _ := w.store.GetRun(t.Context(), 1)
	if !run.DowntimeStart.Equal(opening) || run.DowntimeEnd.IsZero() || run.DowntimeEnd.After(closes) {
		t.Errorf("downtime %s → %s, want it from the opening %s and over by the close %s", run.DowntimeStart, run.DowntimeEnd, opening, closes)
	}
	if n := w.c.CommandCount("stop"); n != 2 {
		t.Errorf("%d kong stop commands, want one per node: one downtime", n)
	}
	hops := []string{"Chain: hop 1 of 2 (3.4.2 → 3.5.0) migrated (up and finish checked in schema_meta).", "Chain: the last hop, to 3.6.1, migrated."}
	for _, h := range hops {
		w.waitThread(1, h)
	}
	if m, _ := w.statusOf(1); replyIndex(m, hops[0]) > replyIndex(m, hops[1]) {
		t.Errorf("the thread says the last hop migrated before the first")
	}
	w.waitStatus(1, "2 of 2 hops migrated")

	w.command("U0OPERATOR", channel, "decommission 1")
	run = w.waitRun(1, domain.StateSucceeded)
	if run.Ticket != ticket || run.Facts.HopsDone != 2 {
		t.Errorf("the run ended with ticket %q, %d hops done", run.Ticket, run.Facts.HopsDone)
	}
	w.waitStatus(1, link)

	actions := map[string]int{}
	actors := map[string]bool{}
	for _, e := range w.audit(1) {
		if e.Ticket != ticket {
			t.Errorf("event %d (%s by %s) carries ticket %q", e.Seq, e.Action, e.Actor, e.Ticket)
		}
		actions[e.Action]++
		actors[e.Actor] = true
	}
	for _, want := range []string{"schedule", "approve", "decommission"} {
		if actions[want] == 0 {
			t.Errorf("no %s event among the run's: %v", want, actions)
		}
	}
	if actions["hop_migrated"] != 2 {
		t.Errorf("%d hop_migrated events, want one per hop: %v", actions["hop_migrated"], actions)
	}
	for _, want := range []string{"U0OPERATOR", "U0APPROVER", "scheduler", "drawbridge"} {
		if !actors[want] {
			t.Errorf("no event by %s: %v", want, actors)
		}
	}
	if v, err := w.store.VerifyAudit(t.Context()); err != nil || len(v.Problems) > 0 {
		t.Fatalf("verify: %v %v", v.Problems, err)
	}
	if strings.Contains(w.logs.String(), "level=ERROR") {
		t.Errorf("drawbridge logged errors:\n%s", w.logs.String())
	}
}

// replyIndex is the place in m's thread of the first reply saying text (-1 if none).
func replyIndex(m slackfake.Message, text string) int {
	for i, r := range m.Replies {
		if says(r, text) {
			return i
		}
	}
	return -1
}
