package bot

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/drawbridge/drawbridge/notify"
)

// Command is a parsed slash command: "/kong-upgrade start prod-eu 3.5.0 --force".
type Command struct {
	Name  string   // help, clusters, plan, start, …
	Args  []string // positional arguments
	Force bool     // --force (start, schedule)
	Chain bool     // --chain (start, schedule, plan)
	// Ticket is --ticket <ticket> (start, schedule): the change ticket.
	Ticket string
}

// spec is one subcommand's grammar.
type spec struct {
	name     string
	args     string // usage of the arguments
	min, max int    // positional arguments; max -1: the rest is one free-text argument
	force    bool   // accepts --force
	chain    bool   // accepts --chain
	ticket   bool   // accepts --ticket <ticket>
	help     string
	operator bool // needs an operator
	approver bool // needs an approver
	run      bool // its first argument is a run (resolved, and the run must exist)
	// button: a button on the status message does it too. A click is answered only when
	// answerClick is set (approve: when the downtime starts); otherwise the status message
	// shows what the click did.
	button, answerClick bool
}

// role is who may do it.
func (s spec) role() Role {
	switch {
	case s.operator:
		return RoleOperator
	case s.approver:
		return RoleApprover
	}
	return RoleAnyone
}

var specs = []spec{
	{name: "help", max: 0, help: "this list"},
	{name: "clusters", max: 0, help: "each cluster with the version its nodes answer now"},
	{name: "plan", args: "<cluster> <version> [--chain]", min: 2, max: 2, chain: true, help: "dry run: preflight, steps, migrations, breaking changes, predicted downtime", operator: true},
	{name: "start", args: "<cluster> <version> [--force] [--chain] [--ticket CHG…]", min: 2, max: 2, force: true, chain: true, ticket: true, help: "upgrade now (after approval); --force runs the migrations with -f; --chain goes through every guaranteed hop to the version in one downtime", operator: true},
	{name: "schedule", args: "<cluster> <version> [next|<window>|<RFC 3339 time>] [--force] [--chain] [--ticket CHG…]", min: 2, max: 3, force: true, chain: true, ticket: true, help: "upgrade in a maintenance window; approvers are asked ahead of it", operator: true},
	{name: "unschedule", args: "<run>", min: 1, max: 1, help: "cancel a scheduled run", operator: true, run: true},
	{name: "windows", args: "[cluster]", max: 1, help: "the next three openings of each window, in UTC and the window's zone"},
	{name: "status", args: "[run|cluster]", max: 1, help: "a run's state and steps; a cluster's active run and the databases its rollbacks kept; or every active and scheduled run, and every kept database"},
	{name: "list", args: "[cluster]", max: 1, help: "recent runs"},
	{name: "approve", args: "<run>", min: 1, max: 1, help: "approve a run waiting at the gate", approver: true, run: true, button: true, answerClick: true},
	{name: "reject", args: "<run> [reason]", min: 1, max: -1, help: "reject a run waiting at the gate", approver: true, run: true, button: true},
	{name: "abort", args: "<run>", min: 1, max: 1, help: "stop a run before its downtime", operator: true, run: true, button: true},
	{name: "rollback", args: "<run>", min: 1, max: 1, help: "restore X: stop Y, restore the database, start X", operator: true, run: true, button: true},
	{name: "resume", args: "<run>", min: 1, max: 1, help: "go on with a run that needs attention", operator: true, run: true, button: true},
	{name: "decommission", args: "<run>", min: 1, max: 1, help: "decommission X after a clean watch", operator: true, run: true, button: true},
	{name: "drop-failed", args: "<cluster> <database>", min: 2, max: 2, help: "drop a database a rollback kept (`status` lists them) once its run has ended", operator: true},
	{name: "audit", args: "<run>", min: 1, max: 1, help: "who did what, when", run: true},
}

func specOf(name string) (spec, bool) {
	for _, s := range specs {
		if s.name == name {
			return s, true
		}
	}
	return spec{}, false
}

// UsageError is bad command input: what was wrong and the usage line.
type UsageError struct {
	Problem string
	Usage   string
}

func (e *UsageError) Error() string {
	if e.Usage == "" {
		return e.Problem
	}
	return e.Problem + "\nusage: " + e.Usage
}

func usage(slash string, s spec) string {
	u := slash + " " + s.name
	if s.args != "" {
		u += " " + s.args
	}
	return u
}

// Parse reads the text after the slash command.
func Parse(slash, text string) (Command, error) {
	words, err := Split(text)
	if err != nil {
		return Command{}, &UsageError{Problem: err.Error(), Usage: slash + " help"}
	}
	if len(words) == 0 {
		return Command{Name: "help"}, nil
	}
	name := strings.ToLower(words[0])
	s, ok := specOf(name)
	if !ok {
		return Command{}, &UsageError{Problem: fmt.Sprintf("unknown command %q", truncate(words[0], 40)), Usage: slash + " help"}
	}
	cmd := Command{Name: name}
	rest := words[1:]
	for i := 0; i < len(rest); i++ {
		w := rest[i]
		switch {
		case w == "--force" && s.force:
			cmd.Force = true
		case w == "--chain" && s.chain:
			cmd.Chain = true
		case (w == "--ticket" || strings.HasPrefix(w, "--ticket=")) && s.ticket:
			v, inline := strings.CutPrefix(w, "--ticket=")
			if !inline {
				if i+1 >= len(rest) || strings.HasPrefix(rest[i+1], "--") {
					return Command{}, &UsageError{Problem: "--ticket needs the ticket, e.g. --ticket CHG0012345", Usage: usage(slash, s)}
				}
				i++
				v = rest[i]
			}
			cmd.Ticket = v
		case strings.HasPrefix(w, "--") && s.max != -1:
			return Command{}, &UsageError{Problem: fmt.Sprintf("unknown option %q", truncate(w, 40)), Usage: usage(slash, s)}
		default:
			cmd.Args = append(cmd.Args, w)
		}
	}
	switch {
	case len(cmd.Args) < s.min:
		return Command{}, &UsageError{Problem: fmt.Sprintf("%s needs %s", name, s.args), Usage: usage(slash, s)}
	case s.max >= 0 && len(cmd.Args) > s.max:
		return Command{}, &UsageError{Problem: fmt.Sprintf("%s takes %s; %q is one too many", name, argsOrNothing(s), truncate(cmd.Args[s.max], 40)), Usage: usage(slash, s)}
	case s.max == -1 && len(cmd.Args) > s.min:
		// The free text after the fixed arguments is one argument: the reason.
		cmd.Args = append(cmd.Args[:s.min], strings.Join(cmd.Args[s.min:], " "))
	}
	return cmd, nil
}

func argsOrNothing(s spec) string {
	if s.args == "" {
		return "no arguments"
	}
	return s.args
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// errUnterminated is a quote that does not end.
var errUnterminated = errors.New("a quote is not closed")

// Split cuts text into words as a shell would for plain words and quotes: "double" and
// 'single' quotes group words, and so do the curly quotes Slack's clients put in when they
// "smarten" what people type (“…” and ‘…’). Backslash escapes the next character. No
// expansion of any kind happens: words are data, never commands.
func Split(text string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var closing rune // the quote that closes the current quoted part, 0 outside quotes
	runes := []rune(text)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case closing != 0:
			if r == closing {
				closing = 0
				continue
			}
			if r == '\\' && closing == '"' && i+1 < len(runes) {
				i++
				r = runes[i]
			}
			cur.WriteRune(r)
		case r == '\\':
			if i+1 < len(runes) {
				i++
				cur.WriteRune(runes[i])
			}
			inWord = true
		case r == '"' || r == '\'' || r == '“' || r == '‘' || r == '”':
			closing = map[rune]rune{'"': '"', '\'': '\'', '“': '”', '‘': '’', '”': '”'}[r]
			inWord = true
		case unicode.IsSpace(r):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if closing != 0 {
		return nil, errUnterminated
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// HelpText lists every command with its usage.
func HelpText(slash string) string {
	lines := make([]notify.HelpLine, len(specs))
	for i, s := range specs {
		lines[i] = notify.HelpLine{Usage: usage(slash, s), Help: s.help}
	}
	return notify.HelpText(slash, lines)
}
