package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
)

// The bot's short answers: to a command it cannot take, a refusal, a problem. The bot
// decides which; these say it. Whatever they echo (a command, an argument, an error
// quoting one) is plain text and escaped here, so no answer can mention anyone or link.

// WrongCommandText answers a slash command that is not drawbridge's.
func WrongCommandText(want, got string) string {
	return fmt.Sprintf("drawbridge answers %s, not %s.", escape(want), escape(got))
}

// OutsideChannelText answers a command typed (or, with buttons, a click) outside the channel.
func OutsideChannelText(channel string, buttons bool) string {
	if buttons {
		return fmt.Sprintf("drawbridge's buttons work in <#%s> only.", channel)
	}
	return fmt.Sprintf("drawbridge takes commands in <#%s> only, where everyone sees what happens.", channel)
}

// ProblemText is a problem with what was asked, or what the engine refused: plain text,
// escaped (backticks still make code).
func ProblemText(problem string) string { return "⚠️ " + escape(problem) }

// BusyText answers when the bot's queue is full.
func BusyText(click bool) string {
	if click {
		return ProblemText("drawbridge is busy; click again in a moment.")
	}
	return ProblemText("drawbridge is busy; try again in a moment.")
}

// ClickNotRecordedText answers a click the bot could not record.
func ClickNotRecordedText() string {
	return ProblemText("drawbridge could not record the click; try again.")
}

// CommandNotRecordedText answers a slash command the bot could not record as taken.
func CommandNotRecordedText() string {
	return ProblemText("drawbridge could not record the command; try again.")
}

// NoTriggerText answers a slash command without a trigger_id: Slack sends one with every
// command, and without it a replay cannot be told apart.
func NoTriggerText() string {
	return ProblemText("drawbridge refused a slash command without a trigger_id (Slack sends one with every command); nothing was done.")
}

// QueuedText acknowledges a command at once: it is being done.
func QueuedText(slash, line string) string { return "⏳ `" + escape(slash+" "+line) + "`" }

// NotARunText answers a run argument that is not a run number.
func NotARunText(arg, usage string) string {
	return ProblemText(fmt.Sprintf("%q is not a run number\nusage: %s", arg, usage))
}

// NoRunText answers a run that does not exist.
func NoRunText(run domain.RunID, slash string) string {
	return ProblemText(fmt.Sprintf("There is no run %s. `%s list` shows the runs.", run, slash))
}

// DeniedWhy says why someone may not: "`abort` needs an operator", or for a click "Abort
// needs an operator", with what the access check could not do, if anything.
func DeniedWhy(command, role string, click bool, cause error) string {
	why := fmt.Sprintf("`%s` needs an %s", command, role)
	if click {
		why = fmt.Sprintf("%s needs an %s", strings.ToUpper(command[:1])+command[1:], role)
	}
	if cause != nil {
		why += " (" + cause.Error() + ")"
	}
	return why
}

// DeniedText answers a refusal for lack of a role; why is plain text (DeniedWhy).
func DeniedText(why string) string { return "🚫 " + escape(why) + "." }

// InternalErrorText answers a command whose handler failed unexpectedly (a panic).
func InternalErrorText(command string) string {
	return ProblemText("drawbridge hit an internal error while doing `" + command + "`; it is logged.")
}

// StaleNote explains a refused click on a message older than the run's latest change.
func StaleNote(now domain.RunState) string {
	return fmt.Sprintf(" (the button predates the run's latest change: it is now %s)", now.Human())
}

// HelpLine is one command in the help: its usage and what it does.
type HelpLine struct{ Usage, Help string }

// HelpText lists the commands.
func HelpText(slash string, lines []HelpLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* — Kong upgrades, approved in Slack\n", slash)
	for _, l := range lines {
		fmt.Fprintf(&b, "• `%s` — %s\n", escape(l.Usage), escape(l.Help))
	}
	return b.String()
}

// NodeAnswer is what one node answered, for `clusters`.
type NodeAnswer struct {
	Node, Version string
	Ready         bool
	Err           error
}

// ClusterNodesText is one cluster's line in `clusters`: each node with what it answers, or
// the number of nodes when they were not asked.
func ClusterNodesText(cluster string, nodes int, answers []NodeAnswer) string {
	if answers == nil {
		return fmt.Sprintf("*%s*: %d nodes\n", cluster, nodes)
	}
	parts := make([]string, len(answers))
	for i, a := range answers {
		switch {
		case a.Err != nil:
			parts[i] = a.Node + " does not answer"
		case !a.Ready:
			parts[i] = a.Node + " " + a.Version + " (not ready)"
		default:
			parts[i] = a.Node + " " + a.Version
		}
	}
	return fmt.Sprintf("*%s*: %s\n", cluster, strings.Join(parts, ", "))
}

// NoWindowsText is a cluster without windows in `windows`.
func NoWindowsText(cluster string) string {
	return fmt.Sprintf("*%s*: no maintenance windows (any time)\n", cluster)
}

// WindowText is a window's next openings in `windows`.
func WindowText(cluster, window string, opens []time.Time, loc *time.Location) string {
	parts := make([]string, len(opens))
	for i, t := range opens {
		parts[i] = When(t, loc)
	}
	return fmt.Sprintf("*%s* window *%s*: %s\n", cluster, window, strings.Join(parts, "; "))
}

// BlackoutText is a blackout still to come (or under way) in `windows`.
func BlackoutText(name string, from, to time.Time) string {
	return fmt.Sprintf("blackout *%s*: %s → %s\n", name, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
}
