package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/units"
)

// The bot's answers to commands, as pure functions of what the command found. Zone gives a
// window's time zone (UTC when unknown), so that times read in UTC and in the window's zone.
type Zone func(window string) *time.Location

// When writes a time in UTC and in a zone: "Sun 2026-11-29 01:00 UTC (02:00 CET)".
func When(t time.Time, loc *time.Location) string {
	s := t.UTC().Format("Mon 2006-01-02 15:04 UTC")
	if loc != nil && loc != time.UTC {
		s += " (" + t.In(loc).Format("15:04 MST") + ")"
	}
	return s
}

// scheduledFor says when a scheduled run's window opens ("" for a run not scheduled).
func scheduledFor(r domain.Run, zone Zone) string {
	if r.ScheduledFor.IsZero() {
		return ""
	}
	return " for " + When(r.ScheduledFor, zone(r.Window))
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// InProgressText lists the runs in progress or scheduled (`status` without a run).
func InProgressText(runs []domain.Run, zone Zone) string {
	var sb strings.Builder
	for _, r := range runs {
		if r.State.Active() || r.State == domain.StateScheduled {
			fmt.Fprintf(&sb, "• run %s: %s %s → %s, %s%s\n", r.ID, r.Cluster, orQ(r.From), r.To, r.State.Human(), scheduledFor(r, zone))
		}
	}
	if sb.Len() == 0 {
		return "No run is in progress."
	}
	return sb.String()
}

// RunText is one run with its steps (`status <run>`); its reason and errors are escaped,
// so command output in them can mention nobody.
func RunText(st domain.Status, zone Zone) string {
	var sb strings.Builder
	r := st.Run
	fmt.Fprintf(&sb, "*Run %s*: %s %s → %s, *%s*%s", r.ID, r.Cluster, orQ(r.From), r.To, r.State.Human(), scheduledFor(r, zone))
	if r.Reason != "" {
		fmt.Fprintf(&sb, " — %s", Escape(r.Reason))
	}
	sb.WriteString("\n")
	for _, s := range st.Steps {
		fmt.Fprintf(&sb, "%s %s", StepIcon(s.Status), domain.StepTitleFor(s.Index, r.From, r.To))
		if !s.EndedAt.IsZero() && !s.StartedAt.IsZero() {
			fmt.Fprintf(&sb, " (%s)", units.Duration(s.EndedAt.Sub(s.StartedAt)))
		}
		if s.Error != "" {
			fmt.Fprintf(&sb, ": %s", Escape(cutText(s.Error, 300)))
		}
		sb.WriteString("\n")
	}
	return cutText(sb.String(), 2900)
}

// RunListText lists recent runs (`list`).
func RunListText(runs []domain.Run, zone Zone) string {
	if len(runs) == 0 {
		return "No runs yet."
	}
	var sb strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&sb, "• run %s: %s %s → %s, %s%s, %s by %s\n", r.ID, r.Cluster, orQ(r.From), r.To, r.State.Human(),
			scheduledFor(r, zone), r.CreatedAt.UTC().Format("2006-01-02 15:04Z"), Mention(r.RequestedBy))
	}
	return sb.String()
}

// AuditText is a run's audit log as a code block (`audit <run>`).
func AuditText(evs []storage.AuditEvent) string {
	var sb strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&sb, "%s  %-10s %s %s\n", e.At.UTC().Format("2006-01-02 15:04:05Z"), e.Actor, e.Action, e.Detail)
	}
	return CodeBlock(sb.String())
}

// StartedText answers `start`.
func StartedText(r domain.Run) string {
	return fmt.Sprintf("Run %s started: %s to %s. Its status message is in the channel.", r.ID, r.Cluster, r.To)
}

// ScheduledText answers `schedule`: when the window opens and when approvers are asked.
func ScheduledText(r domain.Run, s storage.Schedule, zone Zone) string {
	where := ""
	if s.Window != "" {
		where = " (window " + s.Window + ")"
	}
	loc := zone(s.Window)
	return fmt.Sprintf("Run %s scheduled: %s %s → %s at %s%s. Approvers are asked from %s; the downtime starts at the opening once approved.",
		r.ID, r.Cluster, r.From, r.To, When(s.OpensAt, loc), where, When(s.RemindAt, loc))
}

// PlanReply is the plan as `plan` answers it: the verdict, then the plan's text.
func PlanReply(text string, refused bool, reason string) string {
	verdict := "✅ *The run could go ahead.*"
	if refused {
		verdict = "🚫 *Refused:* " + Escape(reason)
	}
	return verdict + "\n" + CodeBlock(text)
}
