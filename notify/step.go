package notify

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

func codeText(s string) string     { return "`" + escapeHead(s, 300) + "`" }
func plainDetail(s string) string  { return escapeHead(s, maxFieldText-100) }
func mentions(ids []string) string { return mentionList(ids, maxFieldText-100) }

// field is one labelled value of a reply's fields.
type field struct{ label, value string }

// stepFields are a step's facts worth showing in its reply, in this order.
func stepFields(f domain.StepFacts) []field {
	var out []field
	add := func(label, value string) {
		if value != "" {
			out = append(out, field{label, value})
		}
	}
	if b := f.Backup; b != nil {
		add("Backup file", codeText(b.Path))
		add("Size", bytesText(b.Size))
		if b.SHA256 != "" {
			add("SHA-256", codeText(b.SHA256))
		}
	}
	if f.Took > 0 {
		add("Took", duration(f.Took))
	}
	if ev := f.Evaluation; ev != nil {
		add("Migrations", strconv.Itoa(ev.Migrations))
		add("Left for finish", plainDetail(ev.PendingAfterUp))
		add("New plugins", plainDetail(strings.Join(ev.NewPlugins, ", ")))
		if ev.Force {
			add("Migrations run with -f", "yes: new plugins need it")
		}
		if ev.PredictedDowntime > 0 {
			add("Predicted downtime", duration(ev.PredictedDowntime))
		}
		add("Breaking changes in", plainDetail(strings.Join(ev.BreakingLines, ", ")))
	}
	if f.Commands > 0 {
		add("Commands took", duration(f.Commands))
	}
	if r := f.Rehearsal; r != nil {
		add("Rehearsed on", codeText(r.Database)+" (dropped)")
		add("Restore, up, finish", fmt.Sprintf("%s · %s · %s", duration(r.Restore), duration(r.Up), duration(r.Finish)))
	}
	if p := f.Prediction; p != nil {
		add("Predicted downtime", plainDetail(predictionText(*p)))
		add("Prediction from", plainDetail(predictionBasis(*p)))
	}
	if g := f.Gate; g != nil {
		if len(g.ApprovedBy) > 0 {
			add("Approved by", mentions(g.ApprovedBy))
		}
		if !g.When.IsZero() {
			add("Crossed", plainDetail(words.Crossed(g.When, g.Window)))
		} else if g.At != "" {
			add("Crossed", plainDetail(g.At))
		}
	}
	if r := f.Restore; r != nil {
		add("Restore method", plainDetail(r.Method))
		if r.FailedDB != "" {
			add("Failed database kept as", codeText(r.FailedDB))
		}
	}
	if f.Fingerprint != "" {
		add("Fingerprint", codeText(f.Fingerprint))
	}
	return out
}

// measureFields are the downtime measures the engine stores on the run when Y (or, in a
// rollback, X) has started.
func measureFields(m domain.Measurements) []field {
	var out []field
	if m.Downtime > 0 {
		out = append(out, field{"Downtime", measureText(m.Downtime)},
			field{"Stop, migrations and start", measureText(m.Commands)},
			field{"drawbridge's share", measureText(m.Overhead)})
	}
	if m.RollbackDowntime > 0 {
		out = append(out, field{"Rollback downtime", measureText(m.RollbackDowntime)})
	}
	return out
}

// StepReply renders the thread reply of one finished step: what ran, how it
// went and how long it took, the error, the details worth keeping, and the
// end of its output (cut to fit, with where the whole output is kept).
func StepReply(v RunView, step domain.StepRecord) Message {
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
		if said := unseen(step.Facts.Said, text); cut && len(said) > 0 {
			// drawbridge's own lines the cut left out: what it decided and found.
			blocks = append(blocks, section(ids.id("said"), "*drawbridge said, above the end of the output:*\n"+codeHead(said, maxSectionText-60)))
		}
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

// codeHead is lines as a code block of at most limit characters: the first lines, each cut
// to a share of the room, and an ellipsis for those left out.
func codeHead(lines []string, limit int) string {
	per := limit / max(1, min(len(lines), 8))
	room := limit - len("```\n\n```") - len("\n…")
	var out []string
	for _, l := range lines {
		l = escapeHead(strings.ReplaceAll(l, "```", "``\u200b`"), per)
		if room -= utf8.RuneCountInString(l) + 1; room < 0 {
			out = append(out, ellipsis)
			break
		}
		out = append(out, l)
	}
	return codeBlock(strings.Join(out, "\n"))
}

// unseen are the lines not in shown (an escaped code block).
func unseen(lines []string, shown string) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(shown, escape(l)) {
			out = append(out, l)
		}
	}
	return out
}

func stepHeadline(run domain.Run, step domain.StepRecord) string {
	t := fmt.Sprintf("%s *%s. %s* %s", stepIcon(step.Status), stepNumber(step.Index),
		escapeHead(stepTitle(run, step.Index, step.Name), 200), stepOutcome(step))
	if step.Attempt > 1 {
		t += fmt.Sprintf(" (attempt %d)", step.Attempt)
	}
	return t
}

func stepOutcome(step domain.StepRecord) string {
	d := strings.TrimPrefix(took(step), " — ")
	switch step.Status {
	case domain.StepSucceeded:
		if d == "" {
			return "succeeded"
		}
		return "succeeded in " + d
	case domain.StepFailed:
		if d == "" {
			return "failed"
		}
		return "failed after " + d
	case domain.StepSkipped:
		return "skipped"
	case domain.StepRunning:
		return "is running"
	}
	return string(step.Status)
}

func stepText(run domain.Run, step domain.StepRecord) string {
	t := fmt.Sprintf("%s %s run #%s, step %s %s %s", stepIcon(step.Status), escape(run.Cluster), run.ID,
		stepNumber(step.Index), escape(stepTitle(run, step.Index, step.Name)), stepOutcome(step))
	if step.Error != "" {
		t += ": " + richHead(firstLine(step.Error), 300)
	}
	return t
}

func detailFields(v RunView, step domain.StepRecord) []*slack.TextBlockObject {
	all := stepFields(step.Facts)
	if step.Index == int(domain.StepStart) || step.Index == int(domain.StepRollbackStart) {
		all = append(all, measureFields(v.Status.Run.Facts.Measured)...)
	}
	var fields []*slack.TextBlockObject
	for _, f := range all {
		if len(fields) == maxFields {
			break
		}
		fields = append(fields, md(cutText("*"+f.label+"*\n"+f.value, maxFieldText)))
	}
	return fields
}

// nextText says what comes after a step: the next step when it succeeded,
// the run's state when it did not.
func nextText(run domain.Run, step domain.StepRecord) string {
	if step.Status == domain.StepFailed {
		if run.State == domain.StepState(step.Index) {
			return "" // the failure's consequence (needs attention, rollback…) follows in its own reply
		}
		return fmt.Sprintf("Run is now %s %s.", stateIcon(run.State), run.State.Human())
	}
	next, ok := domain.NextStep(step.Index)
	if !ok {
		return ""
	}
	return "Next: " + stepNumber(int(next.ID)) + ". " + escapeHead(stepTitle(run, int(next.ID), ""), 200)
}

// NoticeReply renders a notice of the engine in the run's thread: a warning, the
// freeze, a breach, a reminder. Its text is the engine's, escaped (richHead).
func NoticeReply(v RunView, text string) Message {
	return mrkdwnNotice(v, richHead(strings.TrimSpace(text), maxSectionText-3))
}

// mrkdwnNotice renders a notice whose body is mrkdwn drawbridge wrote itself, mentions
// included (the approvers' ping, an approval): it is cut, not escaped.
func mrkdwnNotice(v RunView, body string) Message {
	run := v.Status.Run
	ids := blockIDs(fmt.Sprintf("notice-%s-r%d", run.ID, run.Revision))
	body = cutText(strings.TrimSpace(body), maxSectionText-3)
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
		run.State.Human(), versions(run))
	if t := TicketText(v.Cluster, run.Ticket); t != "" {
		head += " · change ticket " + t
	}
	if run.Reason != "" {
		head += "\n" + richHead(run.Reason, 2000)
	}
	blocks := []slack.Block{section(ids.id("head"), head)}
	var fields []*slack.TextBlockObject
	for _, f := range measureFields(run.Facts.Measured) {
		fields = append(fields, md(cutText("*"+f.label+"*\n"+f.value, maxFieldText)))
	}
	if len(fields) == 0 && !run.DowntimeStart.IsZero() && !run.DowntimeEnd.IsZero() {
		fields = append(fields, md("*Downtime*\n"+duration(run.DowntimeEnd.Sub(run.DowntimeStart))))
	}
	if len(fields) == 0 {
		fields = append(fields, md("*Downtime*\nnone: the cluster was not stopped"))
	}
	fields = append(fields, md("*Run took*\n"+duration(run.UpdatedAt.Sub(run.CreatedAt))))
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil, slack.SectionBlockOptionBlockID(ids.id("measures"))))
	if p, m := run.Facts.Prediction, run.Facts.Measured; p != nil && m.Parts != nil && m.Downtime > 0 {
		blocks = append(blocks, section(ids.id("prediction"), fmt.Sprintf("*Predicted against measured* (off by %s)\n```%s```",
			predictionError(*p, m.Downtime), predictedAgainstMeasured(*p, *m.Parts, m.Downtime))))
	}
	blocks = append(blocks, timingBlocks(ids, v, min(maxTimingBlocks, maxBlocks-len(blocks)))...)
	return Message{Text: cutText(summaryText(v), maxFallbackText), Blocks: blocks}
}

func summaryText(v RunView) string {
	run := v.Status.Run
	t := fmt.Sprintf("%s Run #%s on %s %s", stateIcon(run.State), run.ID, escape(run.Cluster), run.State.Human())
	if m := run.Facts.Measured; m.Downtime > 0 {
		t += fmt.Sprintf("; downtime %s (commands %s, drawbridge %s)", measureText(m.Downtime),
			measureText(m.Commands), measureText(m.Overhead))
	}
	if p, m := run.Facts.Prediction, run.Facts.Measured; p != nil && m.Downtime > 0 {
		t += "; predicted " + duration(p.Total())
	}
	if d := run.Facts.Measured.RollbackDowntime; d > 0 {
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
	slices.SortFunc(steps, func(a, b domain.StepRecord) int { return byPosition(a.Index, b.Index) })
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
