package upgrade

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText prints the plan for a terminal or a Slack code block: preflight results, the
// steps, the migrations and what stays pending, breaking changes, the downtime to expect,
// and the verdict. note, when set, is printed among the checks.
func (p Plan) WriteText(w io.Writer, note string) {
	from := p.From
	if from == "" {
		from = "?"
	}
	fmt.Fprintf(w, "plan: upgrade %s from %s to %s\n\npreflight\n", p.Cluster, from, p.To)
	for _, ch := range p.Checks {
		fmt.Fprintf(w, "  %-8s %s: %s\n", ch.Verdict(), ch.Name, ch.Detail)
	}
	if note != "" {
		fmt.Fprintf(w, "  %-8s %s\n", "note", note)
	}
	fmt.Fprintf(w, "\nsteps\n")
	for _, s := range p.Steps {
		line := fmt.Sprintf("  %2d  %s", s.Index, s.Title)
		if s.Note != "" {
			line = fmt.Sprintf("%-34s %s", line, s.Note)
		}
		fmt.Fprintln(w, line)
	}
	if p.From != "" || len(p.Migrations) > 0 {
		fmt.Fprintf(w, "\nmigrations\n  up runs %d: %s\n", len(p.Migrations), MigrationNames(p.Migrations))
		fmt.Fprintf(w, "  left pending for finish: %s\n", orNone(MigrationNames(p.PendingAfterUp)))
		if p.Force {
			fmt.Fprintf(w, "  new plugins %s: migrations run with -f\n", strings.Join(p.NewPlugins, ", "))
		}
	}
	if len(p.Breaking) > 0 {
		fmt.Fprintf(w, "\nbreaking changes\n")
		for _, b := range p.Breaking {
			fmt.Fprintf(w, "  %s (%s)\n", b.Line, b.Link)
			for _, c := range b.Changes {
				fmt.Fprintf(w, "    - %s\n", c)
			}
		}
	}
	if p.Baseline != nil {
		fmt.Fprintf(w, "\nwatch baseline (last %s)\n%s", p.Baseline.Lookback, baselineText(*p.Baseline))
	}
	if p.PredictedDowntime > 0 {
		fmt.Fprintf(w, "\npredicted downtime: %s (average of earlier runs)\n", p.PredictedDowntime.Round(100*time.Millisecond))
	} else if p.From != "" {
		fmt.Fprintf(w, "\npredicted downtime: no earlier run on %s to go by\n", p.Cluster)
	}
	if !p.Path.Guaranteed && len(p.Path.Hops) > 2 {
		fmt.Fprintf(w, "\nguaranteed hops: %s\n", p.Path.HopsString())
	}
	if p.Refused {
		fmt.Fprintf(w, "\nrefused: %s\n", p.Reason)
		return
	}
	fmt.Fprintf(w, "\nthe run could go ahead\n")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
