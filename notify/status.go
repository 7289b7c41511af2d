package notify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
)

// Button action IDs. The bot routes clicks by them; each button's value is
// "run=<id>;rev=<revision>" so that a click on an old version of the message
// can be told from a current one.
const (
	ActionApprove      = "approve"
	ActionReject       = "reject"
	ActionAbort        = "abort"
	ActionRollback     = "rollback"
	ActionDecommission = "decommission"
	ActionResume       = "resume"
)

// ButtonValue is the value of every button on a run's status message.
func ButtonValue(run domain.Run) string {
	return fmt.Sprintf("run=%s;rev=%d", run.ID, run.Revision)
}

// maxChecklistBlocks bounds the step checklist; fifteen steps take one.
const maxChecklistBlocks = 3

var stateIcons = map[domain.RunState]string{
	domain.StateScheduled:            "🗓️",
	domain.StatePreparing:            "⏳",
	domain.StateAwaitingApproval:     "✋",
	domain.StateRejected:             "🚫",
	domain.StateExpired:              "⌛",
	domain.StateStopping:             "🔧",
	domain.StateMigrating:            "🔧",
	domain.StateStarting:             "🔧",
	domain.StateWatching:             "👀",
	domain.StateAwaitingDecommission: "🧹",
	domain.StateSucceeded:            "✅",
	domain.StateFailedBeforeDowntime: "❌",
	domain.StateNeedsAttention:       "⚠️",
	domain.StateRollingBack:          "↩️",
	domain.StateRolledBack:           "↩️",
	domain.StateRollbackFailed:       "🔥",
	domain.StateAborted:              "⏹️",
}

func stateIcon(s domain.RunState) string {
	if i, ok := stateIcons[s]; ok {
		return i
	}
	return "•"
}

// StatusMessage renders the one status message of a run, which is edited in
// place as the run moves: the header, the facts, the step checklist, why it
// ended, and the buttons that fit its state.
func StatusMessage(v RunView) Message {
	run := v.Status.Run
	ids := blockIDs(fmt.Sprintf("status-%s-r%d", run.ID, run.Revision))
	before := []slack.Block{
		slack.NewHeaderBlock(plain(cutText(headerText(run), maxHeaderText)), slack.HeaderBlockOptionBlockID(ids.id("header"))),
		slack.NewSectionBlock(nil, statusFields(v), nil, slack.SectionBlockOptionBlockID(ids.id("facts"))),
	}
	if run.Reason != "" {
		before = append(before, section(ids.id("reason"), "*Why:* "+richHead(run.Reason, maxSectionText-8)))
	}
	if w := strings.Join(run.Facts.Warnings, "; "); w != "" && !run.State.Terminal() {
		before = append(before, section(ids.id("warning"), "⚠️ "+escapeHead(w, maxSectionText-3)))
	}
	before = append(before, divider(ids.id("divider")))
	var after []slack.Block
	if run.State == domain.StateAwaitingApproval {
		after = append(after, section(ids.id("gate"), gateText(v)))
	}
	if a := actions(v, ids.id("actions")); a != nil {
		after = append(after, a)
	}
	after = append(after, slack.NewContextBlock(ids.id("context"), md(fmt.Sprintf(
		"drawbridge run #%s · revision %d · updated %s", run.ID, run.Revision, utcTime(run.UpdatedAt)))))

	budget := min(maxChecklistBlocks, maxBlocks-len(before)-len(after))
	steps := packLines(ids, "steps", "*Steps*", checklist(v), budget)
	blocks := slices.Concat(before, steps, after)
	return Message{Text: statusText(v), Blocks: blocks}
}

func headerText(run domain.Run) string {
	from := run.From
	if from == "" {
		return fmt.Sprintf("%s: upgrade to Kong %s", run.Cluster, run.To)
	}
	return fmt.Sprintf("%s: Kong %s → %s", run.Cluster, from, run.To)
}

func statusText(v RunView) string {
	run := v.Status.Run
	t := fmt.Sprintf("%s Run #%s on %s (Kong %s): %s", stateIcon(run.State), run.ID, escape(run.Cluster),
		versions(run), run.State.Human())
	if run.State == domain.StateAwaitingApproval {
		t += ". Approval needed from " + approverText(v, 1000)
	} else if run.Reason != "" {
		t += ". " + richHead(firstLine(run.Reason), 500)
	}
	return cutText(t, maxFallbackText)
}

func statusFields(v RunView) []*slack.TextBlockObject {
	run := v.Status.Run
	var fields []*slack.TextBlockObject
	add := func(label, value string) {
		if len(fields) < maxFields {
			fields = append(fields, md(cutText("*"+label+"*\n"+value, maxFieldText)))
		}
	}
	state := stateIcon(run.State) + " " + run.State.Human()
	if !run.DowntimeStart.IsZero() && run.DowntimeEnd.IsZero() && !run.State.Terminal() {
		state += " (cluster down)"
	}
	add("State", state)
	add("Requested by", mention(run.RequestedBy))
	ver := versions(run)
	if run.ForceMigrations() {
		ver += " (migrations with -f)"
	}
	add("Versions", ver)
	if t := TicketText(v.Cluster, run.Ticket); t != "" {
		add("Change ticket", t)
	}
	if c := chainText(run); c != "" {
		add("Chain", c)
	}
	if w := windowText(run); w != "" {
		add("Window", w)
	}
	add("Run", "#"+run.ID.String())
	add("Started", startedText(v))
	add("Backup", backupText(run))
	if d := downtimeText(v); d != "" {
		add("Downtime", d)
	}
	if v.Cluster != nil && len(v.Cluster.Nodes) > 0 {
		add("Nodes", nodesText(v))
	}
	return fields
}

// TicketText is a run's change ticket as people read it: a link to the ticket when the
// cluster's change_ticket has a url, else the ticket; "" without one.
func TicketText(c *config.Cluster, ticket string) string {
	if ticket == "" {
		return ""
	}
	if c != nil {
		if u := c.ChangeTicket.Link(ticket); u != "" {
			return "<" + escape(u) + "|" + escape(ticket) + ">"
		}
	}
	return escape(ticket)
}

// chainText shows a chain's hops and where it is: "3.4.2 → 3.5.0 ✅ → 3.6.1 ⏳ → 3.7.1".
func chainText(run domain.Run) string {
	hops := run.ChainHops()
	if hops == nil {
		return ""
	}
	parts := []string{escape(run.From)}
	migrating := run.State == domain.StateMigrating
	for i, h := range hops {
		p := escape(h)
		switch {
		case i < run.Facts.HopsDone:
			p += " ✅"
		case i == run.Facts.HopsDone && migrating:
			p += " ⏳"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " → ") + fmt.Sprintf("\n%d of %d hops migrated", min(run.Facts.HopsDone, len(hops)), len(hops))
}

func windowText(run domain.Run) string {
	var parts []string
	if run.Window != "" {
		parts = append(parts, escapeHead(run.Window, 200))
	}
	if !run.ScheduledFor.IsZero() {
		parts = append(parts, utcTime(run.ScheduledFor))
	}
	return strings.Join(parts, " · ")
}

func startedText(v RunView) string {
	run := v.Status.Run
	t := utcTime(run.CreatedAt)
	switch {
	case run.State.Terminal():
		t += " · took " + duration(run.UpdatedAt.Sub(run.CreatedAt))
	}
	// No "running for": an edited Slack message is not re-rendered as time passes, so a
	// duration would be frozen at the last edit.
	return t
}

func backupText(run domain.Run) string {
	b := run.Facts.Backup
	if b == nil || b.Path == "" {
		return "not taken yet"
	}
	t := "`" + escapeHead(b.Path, 500) + "`"
	facts := []string{bytesText(b.Size)}
	if b.SHA256 != "" {
		facts = append(facts, "sha256 `"+escapeHead(b.SHA256, 80)+"`")
	}
	if len(facts) > 0 {
		t += "\n" + strings.Join(facts, " · ")
	}
	return t
}

func downtimeText(v RunView) string {
	run := v.Status.Run
	m := run.Facts.Measured
	switch {
	case run.DowntimeStart.IsZero():
		return ""
	case run.DowntimeEnd.IsZero() && !run.State.Terminal():
		return "down since " + run.DowntimeStart.UTC().Format("15:04:05") + " UTC"
	case m.Downtime > 0 && m.RollbackDowntime > 0:
		return measureText(m.Downtime) + " measured, and " + measureText(m.RollbackDowntime) + " for the rollback"
	case m.RollbackDowntime > 0:
		return measureText(m.RollbackDowntime) + " measured, until the rollback's start"
	case m.Downtime > 0:
		return measureText(m.Downtime) + " measured"
	case !run.DowntimeEnd.IsZero():
		return duration(run.DowntimeEnd.Sub(run.DowntimeStart))
	}
	return "began " + utcTime(run.DowntimeStart)
}

func nodesText(v RunView) string {
	nodes := v.Cluster.Nodes
	const show = 5
	var names []string
	for i, n := range nodes {
		if i == show {
			names = append(names, fmt.Sprintf("and %d more", len(nodes)-show))
			break
		}
		names = append(names, escapeHead(n.Name, 60))
	}
	return fmt.Sprintf("%d: %s", len(nodes), strings.Join(names, ", "))
}

// gateText is the section above the buttons at the approval gate: who is
// asked (mentioned, so they are notified) and how far the count is.
func gateText(v RunView) string {
	approved, rejected := decisions(v.Status.Approvals)
	t := fmt.Sprintf("*Approval needed* from %s\n%d of %d approvals", approverText(v, 1500), len(approved), v.required())

	if len(approved) > 0 {
		t += " · approved by " + mentionList(approved, 600)
	}
	if len(rejected) > 0 {
		t += "\nRejected by " + mentionList(rejected, 600)
	}
	run := v.Status.Run
	t += "\n*Rehearsal:* " + rehearsalText(run.Facts.Rehearsal)
	if p := run.Facts.Prediction; p != nil {
		t += "\n*Predicted downtime* " + escape(predictionText(*p)) + "\n_" + escape(predictionBasis(*p)) + "_"
	}
	if g := v.Status.Gate; g != nil && g.Approved() && !g.Until.IsZero() {
		if g.Until.Before(g.Deadline) {
			t += "\n⏰ Approved: the downtime starts when " + escape(g.Why) + ", " + utcTime(g.Until) + "."
		} else {
			t += "\n⏰ Approved, but " + escape(g.Why) + " only at " + utcTime(g.Until) + ", after the run expires (" + utcTime(g.Deadline) + ")."
		}
	}
	return cutText(t, maxSectionText)
}

// DecisionText says what an approval did, for the run's thread and for the approver: how
// many approvals are in, and when the downtime starts (now, at the window's opening), or
// that more are needed. It reads the run as it stood right after the decision.
func DecisionText(v RunView, user string) string {
	run := v.Status.Run
	approved, _ := decisions(v.Status.Approvals)
	t := fmt.Sprintf("👍 %s approved run #%s (%d of %d approvals)", mention(user), run.ID, len(approved), v.required())
	g := v.Status.Gate
	switch {
	case g == nil:
		return t + "."
	case !g.Approved():
		return t + fmt.Sprintf(". %d more needed before %s, or the run expires.", g.Required-g.Approvals, utcTime(g.Deadline))
	case !g.Until.IsZero() && !g.Until.Before(g.Deadline):
		return t + fmt.Sprintf(", but its downtime cannot start before it expires at %s: %s only at %s.", utcTime(g.Deadline), escape(g.Why), utcTime(g.Until))
	case !g.Until.IsZero():
		return t + fmt.Sprintf(". The downtime starts when %s, %s.", escape(g.Why), utcTime(g.Until))
	}
	return t + ": the downtime starts now."
}

func approverText(v RunView, max int) string {
	if len(v.Approvers) == 0 {
		return "an approver"
	}
	return mentionList(v.Approvers, max)
}

func decisions(aps []domain.Approval) (approved, rejected []string) {
	for _, a := range aps {
		switch a.Decision {
		case domain.DecisionApprove:
			approved = append(approved, a.UserID)
		case domain.DecisionReject:
			rejected = append(rejected, a.UserID)
		}
	}
	return approved, rejected
}

// actions is the buttons that fit the run's state, or nil.
func actions(v RunView, blockID string) *slack.ActionBlock {
	run := v.Status.Run
	value := ButtonValue(run)
	btn := func(id, text string) *slack.ButtonBlockElement {
		return slack.NewButtonBlockElement(id, value, plain(text))
	}
	approve := func() slack.BlockElement { return btn(ActionApprove, "Approve").WithStyle(slack.StylePrimary) }
	reject := func() slack.BlockElement { return btn(ActionReject, "Reject").WithStyle(slack.StyleDanger) }
	abort := func() slack.BlockElement { return btn(ActionAbort, "Abort") }
	resume := func() slack.BlockElement { return btn(ActionResume, "Resume") }
	decommission := func() slack.BlockElement {
		return btn(ActionDecommission, cutText("Decommission "+fallback(run.From, "old version"), maxButtonText)).WithStyle(slack.StylePrimary)
	}
	rollback := func() slack.BlockElement {
		return btn(ActionRollback, "Roll back").WithStyle(slack.StyleDanger).WithConfirm(rollbackConfirm(run))
	}
	var elems []slack.BlockElement
	switch run.State {
	case domain.StateScheduled, domain.StatePreparing:
		elems = append(elems, abort())
	case domain.StateAwaitingApproval:
		elems = append(elems, approve(), reject(), abort())
	case domain.StateStopping, domain.StateMigrating, domain.StateStarting, domain.StateWatching, domain.StateRollbackFailed:
		elems = append(elems, rollback())
	case domain.StateAwaitingDecommission:
		elems = append(elems, decommission(), rollback())
	case domain.StateNeedsAttention:
		elems = append(elems, resume())
		if run.DowntimeStart.IsZero() {
			elems = append(elems, abort()) // nothing changed yet: there is nothing to roll back
		} else {
			elems = append(elems, rollback())
		}
	}
	if len(elems) == 0 {
		return nil
	}
	return slack.NewActionBlock(blockID, elems...)
}

func rollbackConfirm(run domain.Run) *slack.ConfirmationBlockObject {
	from, to := fallback(run.From, "the old version"), fallback(run.To, "the new version")
	title := cutText("Roll back "+run.Cluster+"?", maxConfirmTitle)
	text := cutText(fmt.Sprintf("This stops Kong %s on every node of %s, restores the database from the backup taken before the upgrade, and starts Kong %s again. The cluster is down while it runs.",
		to, run.Cluster, from), maxConfirmText)
	return slack.NewConfirmationBlockObject(plain(title), plain(text), plain("Roll back"), plain("Cancel")).WithStyle(slack.StyleDanger)
}

func fallback(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// packLines puts lines into as few sections as fit Slack's 3000 characters,
// with title on the first, using at most budget blocks; what does not fit is
// counted on the last line.
func packLines(ids blockIDs, name, title string, lines []string, budget int) []slack.Block {
	if budget <= 0 || len(lines) == 0 {
		return nil
	}
	var (
		blocks []slack.Block
		cur    = title
	)
	flush := func() {
		blocks = append(blocks, section(ids.id(fmt.Sprintf("%s-%d", name, len(blocks)+1)), cur))
		cur = ""
	}
	for i, line := range lines {
		line = cutText(line, maxSectionText-len(title)-2)
		if cur != "" && runeLen(cur)+1+runeLen(line) > maxSectionText {
			if len(blocks) == budget-1 { // the last block: say what is left out
				more := fmt.Sprintf("\n… and %d more", len(lines)-i)
				cur = cutText(cur, maxSectionText-runeLen(more)) + more
				flush()
				return blocks
			}
			flush()
		}
		if cur != "" {
			cur += "\n"
		}
		cur += line
	}
	flush()
	return blocks
}

func runeLen(s string) int { return len([]rune(s)) }

func section(id, text string) *slack.SectionBlock {
	return slack.NewSectionBlock(md(cutText(text, maxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(id))
}

func divider(id string) *slack.DividerBlock {
	d := slack.NewDividerBlock()
	d.BlockID = id
	return d
}
