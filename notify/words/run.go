package words

import (
	"fmt"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/units"
)

// How runs end, wait and are refused: the reasons the engine stores with a run and the
// replies that refuse a command.

// Actor is how a run's reasons name who did something: a Slack user ID, "scheduler", or
// drawbridge itself ("").
func Actor(id string) string {
	if id == "" {
		return "drawbridge"
	}
	return id
}

// Upgraded is a succeeded run's reason.
func Upgraded(y string) string { return "upgraded to " + y }

// RolledBack is a rolled-back run's reason: every node answers x again.
func RolledBack(x string) string { return "rolled back: every node answers " + x }

// RejectedBy is a rejected run's reason (why may be "").
func RejectedBy(actor, why string) string {
	s := "rejected by " + Actor(actor)
	if why != "" {
		s += ": " + why
	}
	return s
}

// AbortedBeforePrepared: a scheduled run aborted before its preparation began.
func AbortedBeforePrepared(actor string) string {
	return "aborted by " + Actor(actor) + " before it was prepared"
}

// Unscheduled: a scheduled run withdrawn.
func Unscheduled(actor string) string { return "unscheduled by " + Actor(actor) }

// RequestedBy: a run was started.
func RequestedBy(actor string) string { return "requested by " + Actor(actor) }

// AbortedBy: a run was aborted before its downtime.
func AbortedBy(actor string) string { return "aborted by " + Actor(actor) }

// ResumedBy: a run needing attention was resumed.
func ResumedBy(actor string) string { return "resumed by " + Actor(actor) }

// RollbackRequested: a person asked for the rollback.
func RollbackRequested(actor string) string { return "rollback requested by " + Actor(actor) }

// ScheduledBy: a run was scheduled.
func ScheduledBy(actor string) string { return "scheduled by " + Actor(actor) }

// StepFailed is the reason of a run whose step failed (an error that already says the step
// failed is not said twice).
func StepFailed(step string, err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, step+" failed") {
		return msg
	}
	return fmt.Sprintf("%s failed: %v", step, err)
}

// Blind: the watch could not see the metrics, so a person decides.
func Blind(reason string) string {
	return reason + " (drawbridge cannot see the metrics, so it does not roll back by itself: Roll back or Resume)"
}

// AutoRollback is the reason of a rollback auto_rollback started.
func AutoRollback(reason string) string { return "auto_rollback: " + reason }

// InternalError: a run's goroutine panicked.
func InternalError(p any) string { return fmt.Sprintf("drawbridge hit an internal error: %v", p) }

// Interrupted: a step that is not safe to repeat was cut by a restart.
func Interrupted(step, why string) string {
	return fmt.Sprintf("%s was interrupted by a restart and is not safe to repeat (%s): check the cluster, then Resume or Roll back", step, why)
}

// InterruptedError is such a step's error.
func InterruptedError(why string) string { return "interrupted by a restart; " + why }

// FoundDone is the output of a step found done after a restart.
func FoundDone(why string) string { return "found done after drawbridge restarted: " + why }

// MissedWindow: drawbridge was down for the whole window of a scheduled run.
func MissedWindow(window string, opens, closes time.Time) string {
	return fmt.Sprintf("window %s (%s → %s) closed before the run could start: drawbridge was not running when it opened",
		window, opens.UTC().Format(time.RFC3339), closes.UTC().Format(time.RFC3339))
}

// Preparing: a scheduled run begins its preparation.
func Preparing(opens time.Time) string {
	return fmt.Sprintf("preparing for the window that opens at %s", opens.UTC().Format(time.RFC3339))
}

// Expiry is why a run at its gate expires, or would: the facts of its deadline.
type Expiry struct {
	Timeout  string    // the approval timeout, as configured ("2h")
	Deadline time.Time // when the approval timeout runs out
	// Closes is set when the run's window (or its scheduled time plus the timeout, with no
	// Window) ends before the approval timeout, or the run is approved.
	Closes       time.Time
	Window       string
	ScheduledFor time.Time
	Approved     bool
	// Until, Why: an approved run waits for Why ("window w opens") until Until; Until is
	// zero when nothing but drawbridge's absence kept it.
	Until time.Time
	Why   string
}

// ExpiryText is the reason an expired run ends with.
func ExpiryText(x Expiry) string {
	ranOut := fmt.Sprintf("the approval timeout (%s) ran out at %s", x.Timeout, x.Deadline.UTC().Format(time.RFC3339))
	s := fmt.Sprintf("no approval within %s", x.Timeout)
	if !x.Closes.IsZero() {
		if x.Window != "" {
			ranOut = fmt.Sprintf("window %s closed at %s", x.Window, x.Closes.UTC().Format(time.RFC3339))
		} else {
			ranOut = fmt.Sprintf("the time it was scheduled for (%s) was %s past at %s", x.ScheduledFor.UTC().Format(time.RFC3339), x.Timeout, x.Closes.UTC().Format(time.RFC3339))
		}
		s = ranOut + " before the run was approved"
	}
	if x.Approved {
		s = "approved, but the downtime could not start before the deadline: " + ranOut
		if !x.Until.IsZero() {
			s += fmt.Sprintf(", and %s only at %s", x.Why, x.Until.UTC().Format(time.RFC3339))
		} else {
			s += " (drawbridge was not running)"
		}
	}
	return s
}

// WindowOpens and BlackoutEnds say what an approved gate waits for.
func WindowOpens(window string) string { return "window " + window + " opens" }

// BlackoutEnds: the gate waits for a blackout to end.
func BlackoutEnds(name string) string { return "blackout " + name + " ends" }

// ScheduledTime: the gate waits for the time a run was scheduled for.
const ScheduledTime = "the time it was scheduled for comes"

// AnyWindowOpens: the gate waits for one of the cluster's windows.
func AnyWindowOpens(cluster string) string { return "a window of " + cluster + " opens" }

// Refusals of a command, as "cannot <verb> run N: <why>".

// Cannot is a refused command.
func Cannot(verb string, run domain.RunID, why string) string {
	return fmt.Sprintf("cannot %s run %s: %s", verb, run, why)
}

// NotAtGate: the run is not waiting for approval.
func NotAtGate(st domain.RunState) string {
	return fmt.Sprintf("it is %s, not awaiting approval", st.Human())
}

// Ended: the run has ended.
func Ended(st domain.RunState) string { return "it has already ended (" + st.Human() + ")" }

// AlreadyDecided: the user has approved or rejected the run already (mine is their
// decision, nil when it cannot be read); gate is where the gate stands (nil: unknown).
func AlreadyDecided(mine *domain.Approval, gate *domain.Gate) string {
	why := "you have already decided on it"
	if mine != nil {
		verb := map[domain.Decision]string{domain.DecisionApprove: "approved", domain.DecisionReject: "rejected"}[mine.Decision]
		why = fmt.Sprintf("you have already decided on it (%s at %s)", verb, mine.At.UTC().Format("15:04:05 UTC"))
	}
	if gate != nil && gate.Approved() && !gate.Until.IsZero() {
		why += fmt.Sprintf("; it is approved, and its downtime starts when %s (%s)", gate.Why, gate.Until.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return why
}

// Summary is a run's last line: how it ended, its downtime and what it was made of.
func Summary(run domain.Run, st domain.RunState, reason string) string {
	var b strings.Builder
	switch st {
	case domain.StateSucceeded:
		fmt.Fprintf(&b, "%s upgraded from %s to %s", run.Cluster, run.From, run.To)
	case domain.StateRolledBack:
		fmt.Fprintf(&b, "%s rolled back to %s", run.Cluster, run.From)
	}
	m := run.Facts.Measured
	if m.Downtime > 0 {
		fmt.Fprintf(&b, "; downtime %s (commands %s, drawbridge %s)", units.Measured(m.Downtime), units.Measured(m.Commands), units.Measured(m.Overhead))
	}
	if d := m.RollbackDowntime; d > 0 && st == domain.StateRolledBack {
		if m.Downtime > 0 {
			fmt.Fprintf(&b, " and %s more during the rollback", units.Measured(d))
		} else {
			fmt.Fprintf(&b, "; downtime %s, from the upgrade's stop until %s answered again", units.Measured(d), run.From)
		}
	}
	// The reason says what the line already says (and "; freeze lifted" after it).
	if !strings.HasPrefix(reason, Upgraded(run.To)) && !strings.HasPrefix(reason, RolledBack(run.From)) {
		fmt.Fprintf(&b, "; %s", reason)
	}
	return b.String()
}

// The details of the audit log's events (the actor and action are fields of their own).

// AuditStart: a run was started.
func AuditStart(cluster, y string, chain bool, ticket string) string {
	s := fmt.Sprintf("upgrade %s to %s", cluster, y)
	if chain {
		s += " (chain of guaranteed hops)"
	}
	if ticket != "" {
		s += ", change ticket " + ticket
	}
	return s
}

// AuditSchedule: a run was scheduled into window ("" for a time of its own), for ticket
// ("" for none).
func AuditSchedule(cluster, y string, opens time.Time, window string, prepare time.Time, ticket string) string {
	where := "window " + window
	if window == "" {
		where = "a time of its own"
	}
	s := fmt.Sprintf("upgrade %s to %s at %s (%s), preparing at %s", cluster, y, opens.UTC().Format(time.RFC3339), where, prepare.UTC().Format(time.RFC3339))
	if ticket != "" {
		s += ", change ticket " + ticket
	}
	return s
}

// AuditPrepare: the scheduler begins a scheduled run's preparation.
func AuditPrepare(window string, opens time.Time) string {
	return fmt.Sprintf("window %s opens at %s", window, opens.UTC().Format(time.RFC3339))
}

// AuditStepStarted: a step began.
func AuditStepStarted(step string, attempt int) string {
	return fmt.Sprintf("%s (attempt %d)", step, attempt)
}

// AuditStepEnded: a step ended (err nil when it succeeded).
func AuditStepEnded(step string, err error) string {
	if err == nil {
		return step
	}
	return step + ": " + err.Error()
}

// AuditRecovered: a step found done after a restart.
func AuditRecovered(step, why string) string { return step + ": " + why }

// WatchClean is the reason a run moves on to decommission.
const WatchClean = "the watch ended clean"

// Why a step cut by a restart is, or is not, found done (Interrupted, FoundDone).
const (
	NoWayToCheck  = "there is no way to check its effect"
	MutexHeld     = "a kong migrations command still holds Kong's cluster mutex"
	EffectShown   = "schema_meta shows its effect"
	effectMissing = "schema_meta does not show its effect"
)

// EffectMissing: schema_meta does not show a step's effect (what it shows).
func EffectMissing(shows string) string { return effectMissing + ": " + shows }

// NoLock: Kong's migrations lock could not be read.
func NoLock(err error) string { return "cannot read Kong's migrations lock: " + err.Error() }

// Kept says which databases a cluster's rollbacks kept (size < 0: unknown), for a refusal.
func Kept(list []domain.FailedDatabase) string {
	if len(list) == 0 {
		return "its rollbacks kept none"
	}
	names := make([]string, len(list))
	for i, f := range list {
		names[i] = f.Name
		if f.Size >= 0 {
			names[i] += " (" + units.Bytes(f.Size) + ")"
		}
	}
	return "its rollbacks kept " + strings.Join(names, ", ")
}

// Acted is the bot's answer to a command the engine took: reject, abort, rollback,
// resume or decommission.
func Acted(command string, run domain.RunID) string {
	switch command {
	case "reject":
		return fmt.Sprintf("Rejected run %s.", run)
	case "abort":
		return fmt.Sprintf("Aborting run %s.", run)
	case "rollback":
		return fmt.Sprintf("Rolling back run %s.", run)
	case "resume":
		return fmt.Sprintf("Resuming run %s.", run)
	case "decommission":
		return fmt.Sprintf("Decommissioning for run %s.", run)
	}
	return fmt.Sprintf("Done: %s run %s.", command, run)
}

// RejectedWithButton is the reason of a rejection given with the button.
const RejectedWithButton = "rejected with the button"

// Eligible says, in an audit detail, what made a user eligible for a role: a member of
// via (a user group), or named (via is the user).
func Eligible(role, via, user string) string {
	switch {
	case via != "" && via != user:
		return fmt.Sprintf(" (%s as a member of %s)", role, via)
	case via != "":
		return fmt.Sprintf(" (%s by name)", role)
	}
	return ""
}

// AuditClick: a button click taken (rev: the message's revision the click was made on).
func AuditClick(command string, rev uint64, eligible string) string {
	return fmt.Sprintf("%s (message revision %d)%s", command, rev, eligible)
}

// AuditButtonDenied: a denied click's subject.
func AuditButtonDenied(command string) string { return "button " + command }

// AuditDenied: a denied request, and why.
func AuditDenied(what, why string) string { return what + ": " + why }

// AuditOutsideChannel: a slash command from another channel.
func AuditOutsideChannel(command, text, channel string) string {
	return fmt.Sprintf("%s %s: outside <#%s>", command, text, channel)
}

// AuditOtherTeam: a request from another Slack workspace.
func AuditOtherTeam(what, team, want string) string {
	return fmt.Sprintf("%s from team %q; drawbridge takes requests from team %s only", what, team, want)
}

// AuditDropped: a kept database was dropped (size < 0: unknown).
func AuditDropped(database string, size int64, cluster string) string {
	if size >= 0 {
		return fmt.Sprintf("%s (%s) on %s", database, units.Bytes(size), cluster)
	}
	return database + " on " + cluster
}

// RecordFile names a run's change record file and its title (schema: the record's
// schema name).
func RecordFile(run domain.RunID, schema string) (name, title string) {
	return fmt.Sprintf("run-%s-change-record.jsonl", run), fmt.Sprintf("Change record of run %s (%s)", run, schema)
}
