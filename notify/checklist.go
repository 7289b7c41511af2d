package notify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/drawbridge/drawbridge/domain"
)

// The status message's checklist: a line per step.

// checklist is one line per step: the forward steps always, rollback steps
// once a rollback is in the picture, and any other recorded step.
func checklist(v RunView) []string {
	run := v.Status.Run
	recs := map[int]domain.StepRecord{}
	var indexes []int
	for _, d := range domain.ForwardSteps {
		indexes = append(indexes, int(d.ID))
	}
	rollback := run.State == domain.StateRollingBack || run.State == domain.StateRolledBack || run.State == domain.StateRollbackFailed
	for _, r := range v.Status.Steps {
		recs[r.Index] = r
		if r.Index >= int(domain.StepRollbackStop) && r.Index <= int(domain.StepRollbackStart) {
			rollback = true
		}
	}
	if rollback {
		for _, d := range domain.RollbackSteps {
			indexes = append(indexes, int(d.ID))
		}
	}
	for _, r := range v.Status.Steps {
		if !slices.Contains(indexes, r.Index) {
			indexes = append(indexes, r.Index)
		}
	}
	slices.SortFunc(indexes, byPosition)
	lines := make([]string, 0, len(indexes))
	for _, i := range indexes {
		r, ok := recs[i]
		if !ok {
			r = domain.StepRecord{Index: i, Status: domain.StepPending}
			if domain.PassedOver(domain.StepID(i), func(id domain.StepID) bool { _, ok := recs[int(id)]; return ok }) {
				r.Status = domain.StepSkipped // a step added after this run went past it
			}
		}
		lines = append(lines, checkLine(v, r))
	}
	return lines
}

var stepIcons = map[domain.StepStatus]string{
	domain.StepSucceeded: "✅",
	domain.StepRunning:   "⏳",
	domain.StepFailed:    "❌",
	domain.StepSkipped:   "⏭",
	domain.StepPending:   "▫️",
}

// StepIcon is the emoji of a step's status, as the checklist shows it.
func StepIcon(s domain.StepStatus) string { return stepIcon(s) }

func stepIcon(s domain.StepStatus) string {
	if i, ok := stepIcons[s]; ok {
		return i
	}
	return "▫️"
}

func checkLine(v RunView, r domain.StepRecord) string {
	title := stepNumber(r.Index) + ". " + escapeHead(stepTitle(v.Status.Run, r.Index, r.Name), 100)
	var tail string
	switch r.Status {
	case domain.StepRunning:
		title = "*" + title + "*"
		if !r.StartedAt.IsZero() {
			tail = " — since " + r.StartedAt.UTC().Format("15:04:05") + " UTC"
		}
	case domain.StepSucceeded:
		tail = took(r)
	case domain.StepFailed:
		tail = " — failed"
		if d := took(r); d != "" {
			tail += " after" + strings.TrimPrefix(d, " —")
		}
		if r.Error != "" {
			tail += ": " + richHead(firstLine(r.Error), 150)
		}
	case domain.StepSkipped:
		tail = " — skipped"
	}
	if r.Attempt > 1 {
		tail += fmt.Sprintf(" (attempt %d)", r.Attempt)
	}
	return stepIcon(r.Status) + " " + title + tail
}

// took is " — 4.2s" for a step with both ends recorded, else "".
func took(r domain.StepRecord) string {
	if r.StartedAt.IsZero() || r.EndedAt.IsZero() {
		return ""
	}
	return " — " + duration(r.EndedAt.Sub(r.StartedAt))
}
