package config

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteSummary prints a one-screen overview of a valid configuration: Slack, access,
// windows with their next opening after now, blackouts and clusters. Secrets are never
// printed.
func (c *Config) WriteSummary(w io.Writer, now time.Time) error {
	mode := "HTTP, signed requests to " + c.Listen
	if c.Slack.SocketMode() {
		mode = "Socket Mode"
	}
	if c.Slack.Team != "" {
		mode += ", team " + c.Slack.Team + " only"
	}
	self := "no self-approval"
	if c.Access.AllowSelfApproval {
		self = "self-approval allowed"
	}
	fmt.Fprintf(w, "listen %s, state %s, backups %s\n", c.Listen, c.StateFile, c.BackupDir)
	fmt.Fprintf(w, "slack  %s in %s (%s)\n", c.Slack.Command, c.Slack.Channel, mode)
	backups := fmt.Sprintf("the last %d backups of each cluster", c.Retention.BackupsPerCluster)
	if c.Retention.BackupsPerCluster == 0 {
		backups = "every backup"
	}
	fmt.Fprintf(w, "retention idempotency keys %s, dead letters %s, %s\n", c.Retention.IdempotencyKeys, c.Retention.DeadLetters, backups)
	fmt.Fprintf(w, "access operators %s; approvers %s; %d approval(s) required, %s, timeout %s\n\n",
		strings.Join(c.Access.Operators, ", "), strings.Join(c.Access.Approvers, ", "), c.Access.RequiredApprovals, self, c.Access.ApprovalTimeout)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	if len(c.Windows) == 0 {
		p("windows\tnone: clusters may be upgraded at any time")
	} else {
		p("windows\tcron\topen for\tzone\tnext opening")
	}
	for i := range c.Windows {
		win := &c.Windows[i]
		next := "never"
		if o := win.Openings(now, 1); len(o) == 1 {
			next = fmt.Sprintf("%s (%s)", o[0].Format("Mon 2006-01-02 15:04 MST"), o[0].UTC().Format("15:04 UTC"))
		}
		p("  %s\t%s\t%s\t%s\t%s", win.Name, win.Cron, win.Duration, win.Timezone, next)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, b := range c.Blackouts {
		fmt.Fprintf(w, "blackout %s: %s → %s\n", b.Name, b.From.Format(time.RFC3339), b.To.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	p("clusters\tnodes\twindows\tparallelism\trehearsal\tprometheus\twatch")
	for i := range c.Clusters {
		cl := &c.Clusters[i]
		var nodes []string
		for _, n := range cl.Nodes {
			nodes = append(nodes, n.Name)
		}
		windows := "any time"
		if len(cl.Windows) > 0 {
			windows = strings.Join(cl.Windows, ", ")
		}
		checks := fmt.Sprintf("%d checks", len(cl.Watch.Checks))
		if len(cl.Watch.Checks) == 0 {
			checks = "built-in checks"
		}
		rehearsal := "none"
		switch {
		case cl.Rehearsal.Enabled() && cl.Rehearsal.DSN != "":
			rehearsal = "on another server"
		case cl.Rehearsal.Enabled():
			rehearsal = "on Kong's server"
		}
		p("  %s\t%d: %s\t%s\t%d\t%s\t%s\t%s every %s, %s", cl.Name, len(nodes), strings.Join(nodes, ", "), windows,
			cl.Parallelism, rehearsal, cl.Prometheus.URL, cl.Watch.Duration, cl.Watch.Interval, checks)
	}
	if len(c.MissingEnv) > 0 {
		p("")
		p("not set in this environment (their values were not checked):")
		for _, m := range c.MissingEnv {
			need := "serve needs it"
			switch {
			case m.Path == "slack.signing_secret":
				need = "needed unless slack.app_token is set"
			case optionalEnv(m.Path):
				need = "optional"
			}
			p("  %s\tfor %s (line %d)\t%s", m.Var, m.Path, m.Line, need)
		}
	}
	return tw.Flush()
}
