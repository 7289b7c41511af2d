package notify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
)

// detail is a step detail worth showing in its reply, in this order.
type detail struct {
	key, label string
	format     func(string) string
}

func codeText(s string) string    { return "`" + escapeHead(s, 300) + "`" }
func plainDetail(s string) string { return escapeHead(s, maxFieldText-100) }
func mentions(s string) string {
	var ids []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return mentionList(ids, maxFieldText-100)
}

var stepDetails = []detail{
	{"path", "Backup file", codeText},
	{"size", "Size", bytesText},
	{"sha256", "SHA-256", codeText},
	{"duration_s", "Took", secondsText},
	{"migrations", "Migrations", plainDetail},
	{"pending_after_up", "Left for finish", plainDetail},
	{"new_plugins", "New plugins", plainDetail},
	{"force", "Migrations run with -f", func(string) string { return "yes: new plugins need it" }},
	{"predicted_downtime_s", "Predicted downtime", secondsText},
	{"breaking_lines", "Breaking changes in", plainDetail},
	{"commands_s", "Commands took", secondsText},
	{"approved_by", "Approved by", mentions},
	{"crossed_at", "Crossed", plainDetail},
	{"method", "Restore method", plainDetail},
	{"failed_db", "Failed database kept as", codeText},
	{"fingerprint", "Fingerprint", codeText},
}

// runMeasures are the downtime measures the engine stores on the run when Y
// has started (step 10).
var runMeasures = []detail{
	{"measure.downtime_s", "Downtime", measureText},
	{"measure.commands_s", "Stop, migrations and start", measureText},
	{"measure.overhead_s", "drawbridge's share", measureText},
	{"measure.rollback_downtime_s", "Rollback downtime", measureText},
}

// StepReply renders the thread reply of one finished step: what ran, how it
// went and how long it took, the error, the details worth keeping, and the
// end of its output (cut to fit, with where the whole output is kept).
func StepReply(v RunView, step storage.StepRecord) Message {
	run := v.Status.Run
	ids := blockIDs(fmt.Sprintf("step-%s-%d-%d", run.ID, step.Index, step.Attempt))
	var blocks []slack.Block
	blocks = append(blocks, section(ids.id("result"), stepHeadline(run, step)))
	if step.Error != "" {
		blocks = append(blocks, section(ids.id("error"), "*Error:* "+richHead(step.Error, maxSectionText-10)))
	}
	if fields := detailFields(v, step); len(fields) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil, slack.SectionBlockOptionBlockID(ids.id("details"))))
	}
	if tail := strings.TrimSpace(step.OutputTail); tail != "" {
		text, cut := codeTail(tail, maxSectionText)
		blocks = append(blocks, section(ids.id("output"), text))
		if cut {
			blocks = append(blocks, slack.NewContextBlock(ids.id("output-note"), md(fmt.Sprintf(
				"Output cut to its end; whole output in runs/%s/ next to drawbridge's state file.", run.ID))))
		}
	}
	if next := nextText(run, step); next != "" {
		blocks = append(blocks, slack.NewContextBlock(ids.id("next"), md(next)))
	}
	return Message{Text: cutText(stepText(run, step), maxFallbackText), Blocks: blocks}
}

func stepHeadline(run storage.Run, step storage.StepRecord) string {
	t := fmt.Sprintf("%s *%s. %s* %s", stepIcon(step.Status), stepNumber(step.Index),
		escapeHead(stepTitle(run, step.Index, step.Name), 200), stepOutcome(step))
	if step.Attempt > 1 {
		t += fmt.Sprintf(" (attempt %d)", step.Attempt)
	}
	return t
}

func stepOutcome(step storage.StepRecord) string {
	d := strings.TrimPrefix(took(step), " — ")
	switch step.Status {
	case storage.StepSucceeded:
		if d == "" {
			return "succeeded"
		}
		return "succeeded in " + d
	case storage.StepFailed:
		if d == "" {
			return "failed"
		}
		return "failed after " + d
	case storage.StepSkipped:
		return "skipped"
	case storage.StepRunning:
		return "is running"
	}
	return string(step.Status)
}

func stepText(run storage.Run, step storage.StepRecord) string {
	t := fmt.Sprintf("%s %s run #%s, step %s %s %s", stepIcon(step.Status), escape(run.Cluster), run.ID,
		stepNumber(step.Index), escape(stepTitle(run, step.Index, step.Name)), stepOutcome(step))
	if step.Error != "" {
		t += ": " + richHead(firstLine(step.Error), 300)
	}
	return t
}

func detailFields(v RunView, step storage.StepRecord) []*slack.TextBlockObject {
	var fields []*slack.TextBlockObject
	add := func(d detail, value string) {
		if value == "" || len(fields) == maxFields {
			return
		}
		if d.key == "force" && value != "true" {
			return
		}
		fields = append(fields, md(cutText("*"+d.label+"*\n"+d.format(value), maxFieldText)))
	}
	for _, d := range stepDetails {
		add(d, step.Details[d.key])
	}
	if step.Index == int(upgrade.StepStart) || step.Index == int(upgrade.StepRollbackStart) {
		for _, d := range runMeasures {
			add(d, v.Status.Run.Details[d.key])
		}
	}
	return fields
}

// nextText says what comes after a step: the next step when it succeeded,
// the run's state when it did not.
func nextText(run storage.Run, step storage.StepRecord) string {
	if step.Status == storage.StepFailed {
		if run.State == upgrade.StepState(step.Index) {
			return "" // the failure's consequence (needs attention, rollback…) follows in its own reply
		}
		return fmt.Sprintf("Run is now %s %s.", stateIcon(run.State), upgrade.HumanState(run.State))
	}
	next := step.Index + 1
	if step.Index == int(upgrade.StepDecommission) || step.Index == int(upgrade.StepRollbackStart) || upgrade.StepTitle(next) == "" {
		return ""
	}
	return "Next: " + stepNumber(next) + ". " + escapeHead(stepTitle(run, next, ""), 200)
}

// NoticeReply renders a notice in the run's thread: a warning, the freeze,
// a breach, a reminder.
func NoticeReply(v RunView, text string) Message {
	run := v.Status.Run
	ids := blockIDs(fmt.Sprintf("notice-%s-r%d", run.ID, run.Revision))
	body := richHead(strings.TrimSpace(text), maxSectionText-3)
	if body == "" {
		body = "(empty notice)"
	}
	return Message{
		Text:   cutText(fmt.Sprintf("%s run #%s: %s", escape(run.Cluster), run.ID, body), maxFallbackText),
		Blocks: []slack.Block{section(ids.id("notice"), "📣 "+body)},
	}
}

// SummaryReply renders the final reply of a run: how it ended, the measured
// downtime split into what the commands took and what drawbridge added, and
// every step's timing.
func SummaryReply(v RunView) Message {
	run := v.Status.Run
	ids := blockIDs(fmt.Sprintf("summary-%s-r%d", run.ID, run.Revision))
	head := fmt.Sprintf("%s *Run #%s on %s %s* (Kong %s)", stateIcon(run.State), run.ID, escapeHead(run.Cluster, 200),
		upgrade.HumanState(run.State), versions(run))
	if run.Reason != "" {
		head += "\n" + richHead(run.Reason, 2000)
	}
	blocks := []slack.Block{section(ids.id("head"), head)}
	var fields []*slack.TextBlockObject
	for _, d := range runMeasures {
		if val := run.Details[d.key]; val != "" {
			fields = append(fields, md(cutText("*"+d.label+"*\n"+d.format(val), maxFieldText)))
		}
	}
	if len(fields) == 0 && !run.DowntimeStart.IsZero() && !run.DowntimeEnd.IsZero() {
		fields = append(fields, md("*Downtime*\n"+duration(run.DowntimeEnd.Sub(run.DowntimeStart))))
	}
	if len(fields) == 0 {
		fields = append(fields, md("*Downtime*\nnone: the cluster was not stopped"))
	}
	fields = append(fields, md("*Run took*\n"+duration(run.UpdatedAt.Sub(run.CreatedAt))))
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil, slack.SectionBlockOptionBlockID(ids.id("measures"))))
	blocks = append(blocks, timingBlocks(ids, v, min(maxTimingBlocks, maxBlocks-len(blocks)))...)
	return Message{Text: cutText(summaryText(v), maxFallbackText), Blocks: blocks}
}

func summaryText(v RunView) string {
	run := v.Status.Run
	t := fmt.Sprintf("%s Run #%s on %s %s", stateIcon(run.State), run.ID, escape(run.Cluster), upgrade.HumanState(run.State))
	if d := run.Details["measure.downtime_s"]; d != "" {
		t += fmt.Sprintf("; downtime %s (commands %s, drawbridge %s)", measureText(d),
			measureText(run.Details["measure.commands_s"]), measureText(run.Details["measure.overhead_s"]))
	}
	if d := run.Details["measure.rollback_downtime_s"]; d != "" {
		t += "; rollback downtime " + measureText(d)
	}
	return t
}

// maxTimingBlocks bounds the timing table; fifteen steps take one.
const maxTimingBlocks = 3

// timingBlocks is a table of every recorded step's status and duration, in
// code blocks so the columns line up, split to fit.
func timingBlocks(ids blockIDs, v RunView, budget int) []slack.Block {
	steps := slices.Clone(v.Status.Steps)
	slices.SortFunc(steps, func(a, b storage.StepRecord) int { return a.Index - b.Index })
	if len(steps) == 0 || budget <= 0 {
		return nil
	}
	var rows []string
	for _, s := range steps {
		d := strings.TrimPrefix(took(s), " — ")
		if d == "" {
			d = "-"
		}
		title := []rune(strings.ReplaceAll(stepTitle(v.Status.Run, s.Index, s.Name), "`", "'"))
		if len(title) > 34 {
			title = append(title[:33], '…')
		}
		row := fmt.Sprintf("%-4s %-34s %-9s %8s", stepNumber(s.Index), string(title), s.Status, d)
		if s.Attempt > 1 {
			row += fmt.Sprintf("  attempt %d", s.Attempt)
		}
		rows = append(rows, escape(row))
	}
	const fence = 8 // "```\n" + "\n```"
	var (
		blocks []slack.Block
		cur    []string
		size   int
	)
	flush := func(last string) {
		body := strings.Join(cur, "\n")
		if last != "" {
			body += "\n" + last
		}
		blocks = append(blocks, section(ids.id(fmt.Sprintf("timing-%d", len(blocks)+1)), codeBlock(body)))
		cur, size = nil, 0
	}
	for i, row := range rows {
		if size+runeLen(row)+1 > maxSectionText-fence-40 && len(cur) > 0 {
			if len(blocks) == budget-1 {
				flush(fmt.Sprintf("… and %d more steps", len(rows)-i))
				return blocks
			}
			flush("")
		}
		cur = append(cur, row)
		size += runeLen(row) + 1
	}
	flush("")
	return blocks
}
