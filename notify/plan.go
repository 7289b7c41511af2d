package notify

import (
	"fmt"
	"strings"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/units"
)

// PlanText writes a plan for a terminal or a Slack code block: preflight results, the
// databases earlier rollbacks kept, the steps, the migrations and what stays pending,
// breaking changes, the downtime to expect, and the verdict. note, when set, is printed
// among the checks.
func PlanText(p domain.PlanSummary, note string) string {
	var w strings.Builder
	fmt.Fprintf(&w, "plan: upgrade %s from %s to %s\n\npreflight\n", p.Cluster, orQ(p.From), p.To)
	for _, ch := range p.Checks {
		fmt.Fprintf(&w, "  %-8s %s: %s\n", ch.Verdict, ch.Name, ch.Detail)
	}
	if note != "" {
		fmt.Fprintf(&w, "  %-8s %s\n", "note", note)
	}
	planFailedDatabases(&w, p)
	fmt.Fprintf(&w, "\nsteps\n")
	for _, s := range p.Steps {
		line := fmt.Sprintf("  %2s  %s", stepNumber(s.Index), s.Title)
		if s.Note != "" {
			line = fmt.Sprintf("%-34s %s", line, s.Note)
		}
		fmt.Fprintln(&w, line)
	}
	if p.From != "" || len(p.Migrations) > 0 {
		fmt.Fprintf(&w, "\nmigrations\n  up runs %d: %s\n", len(p.Migrations), strings.Join(p.Migrations, ", "))
		fmt.Fprintf(&w, "  left pending for finish: %s\n", orNone(strings.Join(p.PendingAfterUp, ", ")))
		if p.Force {
			fmt.Fprintf(&w, "  new plugins %s: migrations run with -f\n", strings.Join(p.NewPlugins, ", "))
		}
	}
	if len(p.Breaking) > 0 {
		fmt.Fprintf(&w, "\nbreaking changes\n")
		for _, b := range p.Breaking {
			fmt.Fprintf(&w, "  %s (%s)\n", b.Line, b.Link)
			for _, c := range b.Changes {
				fmt.Fprintf(&w, "    - %s\n", c)
			}
		}
	}
	if p.Baseline != nil {
		fmt.Fprintf(&w, "\nwatch baseline (last %s)\n%s", units.Duration(p.Baseline.Lookback), words.Baseline(*p.Baseline))
	}
	if p.Prediction != nil && p.From != "" {
		fmt.Fprintf(&w, "\npredicted downtime %s\n  %s\n", predictionText(*p.Prediction), predictionBasis(*p.Prediction))
		if p.Rehearsed {
			fmt.Fprintf(&w, "  the rehearsal before the gate measures up and finish on a copy of this database\n")
		}
	}
	switch {
	case p.Chain && len(p.Hops) > 2:
		fmt.Fprintf(&w, "\nchain: %s in one downtime (one freeze, one backup, one approval, one stop of %s; each hop's up and finish in turn)\n", strings.Join(p.Hops, " → "), p.From)
	case !p.Guaranteed && len(p.Hops) > 2:
		fmt.Fprintf(&w, "\nguaranteed hops: %s (--chain runs them in one downtime)\n", strings.Join(p.Hops, " → "))
	}
	if p.Refused {
		fmt.Fprintf(&w, "\nrefused: %s\n", p.Reason)
		return w.String()
	}
	fmt.Fprintf(&w, "\nthe run could go ahead\n")
	return w.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
