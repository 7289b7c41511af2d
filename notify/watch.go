package notify

import (
	"fmt"
	"math"
	"strings"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/domain"
)

// WatchKey names a run's live watch message: a thread reply edited in place, one per
// attempt of the watch step.
func WatchKey(run domain.RunID, attempt int) string {
	if attempt <= 1 {
		return "run/" + run.String() + "/watch"
	}
	return fmt.Sprintf("run/%s/watch/%d", run, attempt)
}

// AlertKey names the alert of a breached watch.
func AlertKey(run domain.RunID, attempt int) string {
	return fmt.Sprintf("run/%s/alert/%d", run, attempt)
}

// ChartKey names a chart uploaded to the run's thread.
func ChartKey(run domain.RunID, moment, name string) string {
	return fmt.Sprintf("run/%s/chart/%s/%s", run, moment, name)
}

var resultIcons = map[string]string{"pass": "✅", "fail": "❌", "inconclusive": "❔"}

// WatchMessage renders the watch's state: each check's current value, threshold,
// baseline and trend, and how long the watch still runs.
func WatchMessage(v RunView, r domain.WatchReport) Message {
	run := v.Status.Run
	ids := blockIDs(fmt.Sprintf("watch-%s-%d", run.ID, r.At.UnixNano()))
	head := fmt.Sprintf("👀 *Watching %s on %s*", escape(fallback(run.To, "the new version")), escape(run.Cluster))
	switch {
	case r.Final && r.Breach != nil:
		head = fmt.Sprintf("🚨 *Watch of %s ended in a breach*", escape(run.Cluster))
	case r.Final:
		head = fmt.Sprintf("✅ *Watch of %s ended clean*", escape(run.Cluster))
	case !r.Ends.IsZero():
		head += fmt.Sprintf(" — until %s", utcTime(r.Ends))
	}
	blocks := []slack.Block{section(ids.id("head"), head)}
	var lines []string
	for _, c := range r.Checks {
		line := fmt.Sprintf("%s *%s*: %s %s — %s", resultIcons[c.Result], escapeHead(c.Name, 100), valueText(c.Value), c.Trend, escapeHead(c.Threshold, 200))
		if !math.IsNaN(c.Baseline) {
			line += fmt.Sprintf(" (baseline %s)", valueText(c.Baseline))
		}
		if c.Failures > 0 {
			line += fmt.Sprintf(", %d in a row", c.Failures)
		}
		if c.Error != "" {
			line += ": " + escapeHead(c.Error, 200)
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		lines = append(lines, "no checks")
	}
	// At most 10 sections of checks; the rest summed up.
	for i := 0; i < len(lines) && len(blocks) < 11; i += 5 {
		end := min(i+5, len(lines))
		blocks = append(blocks, section(ids.id(fmt.Sprintf("checks-%d", i)), strings.Join(lines[i:end], "\n")))
	}
	blocks = append(blocks, slack.NewContextBlock(ids.id("ctx"), md(fmt.Sprintf("last evaluated %s", utcTime(r.At)))))
	return Message{Text: cutText(fmt.Sprintf("Watch of %s: %s", run.Cluster, summaryOfChecks(r)), maxFallbackText), Blocks: blocks}
}

func summaryOfChecks(r domain.WatchReport) string {
	n := map[string]int{}
	for _, c := range r.Checks {
		n[c.Result]++
	}
	return fmt.Sprintf("%d passing, %d failing, %d inconclusive", n["pass"], n["fail"], n["inconclusive"])
}

func valueText(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v != 0 && math.Abs(v) < 0.01:
		return fmt.Sprintf("%.4f", v)
	case math.Abs(v) < 100:
		return fmt.Sprintf("%.3g", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// BreachStep is the watch step whose failure raised an alert that may still carry a Roll
// back button: failed (or reset for a resume) with a breach as its error. ok is false when
// the run has no such step.
func BreachStep(v RunView) (domain.StepRecord, bool) {
	r, ok := v.Status.Step(domain.StepWatch)
	breach := strings.HasPrefix(r.Error, "watch breach: ") || strings.HasPrefix(r.Error, "cannot see the metrics: ")
	return r, ok && breach && (r.Status == domain.StepFailed || r.Status == domain.StepPending)
}

// AlertSettled is the alert of a breach once the run has moved on (rolled back, resumed,
// aborted): what was breached and what the run is now, without the Roll back button,
// which would only be refused.
func AlertSettled(v RunView, watch domain.StepRecord) Message {
	run := v.Status.Run
	ids := blockIDs(fmt.Sprintf("alert-%s-r%d", run.ID, run.Revision))
	text := fmt.Sprintf("🚨 *Breach on %s after the upgrade to %s*: %s.\nRun %s is now %s %s.",
		escape(run.Cluster), escape(fallback(run.To, "the new version")), escapeHead(watch.Error, 1000),
		run.ID, stateIcon(run.State), run.State.Human())
	return Message{Text: cutText(fmt.Sprintf("Breach on %s: %s (run is now %s)", run.Cluster, watch.Error, run.State.Human()), maxFallbackText),
		Blocks: []slack.Block{section(ids.id("alert"), text)}}
}

// AlertReply renders a breach: which check, its value and threshold, the operators
// mentioned; with a Rollback button, or saying that the rollback has started (auto).
func AlertReply(v RunView, b *domain.BreachError, operators []string, auto bool) Message {
	run := v.Status.Run
	ids := blockIDs(fmt.Sprintf("alert-%s-r%d", run.ID, run.Revision))
	what := fmt.Sprintf("*%s* is %s (threshold %s)", escapeHead(b.Check, 150), escapeHead(b.Value, 300), escapeHead(b.Threshold, 300))
	if b.Blind {
		what = fmt.Sprintf("drawbridge *cannot see the metrics*: %s — %s", escapeHead(b.Check, 150), escapeHead(b.Value, 500))
	}
	text := fmt.Sprintf("🚨 *Breach on %s after the upgrade to %s*: %s.\n%s", escape(run.Cluster), escape(fallback(run.To, "the new version")), what, mentionList(operators, 1000))
	if auto {
		text += "\nauto_rollback is on: *the rollback has started*."
	} else {
		text += "\nRoll back to " + escape(fallback(run.From, "the old version")) + " with the button, or look and decide."
	}
	blocks := []slack.Block{section(ids.id("alert"), text)}
	if !auto {
		btn := slack.NewButtonBlockElement(ActionRollback, ButtonValue(run), plain("Roll back")).WithStyle(slack.StyleDanger).WithConfirm(rollbackConfirm(run))
		blocks = append(blocks, slack.NewActionBlock(ids.id("actions"), btn))
	}
	return Message{Text: cutText(fmt.Sprintf("Breach on %s: %s", run.Cluster, b.Error()), maxFallbackText), Blocks: blocks}
}
