package promwatch

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/drawbridge/drawbridge/config"
)

// A rate over a window that the series do not fill reads low. rate(x[w]) at t divides the
// increase between the first and last samples in (t-w, t] by w, after extrapolating to the
// window's ends; when the first sample is more than 1.1 average spacings after t-w (the
// series began inside the window, e.g. Prometheus started scraping a moment ago), it
// extrapolates by half a spacing only. Two samples 1 s apart at the end of a 4 s window read
// 1.5/4 to 2.5/4 of the true rate. So the baseline leaves out the points whose window began
// before the cluster's series existed, and CheckSeries waits, briefly, for a full window.

// reRange finds the ranges of a PromQL query: [4s], [1m], [5m:30s] (the range of a subquery).
var reRange = regexp.MustCompile(`\[\s*([0-9][0-9a-zA-Z]*)\s*(?::[^\]]*)?\]`)

// longestRange is the longest range selector or subquery range of a query; 0 when it has
// none (it reads no rate).
func longestRange(query string) time.Duration {
	var longest time.Duration
	for _, m := range reRange.FindAllStringSubmatch(query, -1) {
		if d, err := model.ParseDuration(m[1]); err == nil {
			longest = max(longest, time.Duration(d))
		}
	}
	return longest
}

// newTargets is a query for the number of a cluster's targets (job and instance) and metric
// names that have series now but had none window earlier: the targets whose rate windows
// are not yet filled. It has no value when every series is older than window (evaluated
// over a range, its points are the moments to leave out). A name counts from its target's
// first series of it: a status code's series that appears with its first response does not
// make the target new.
func newTargets(selector string, names []string, window time.Duration) string {
	sel := matchers(selector, `__name__=~"`+strings.Join(names, "|")+`"`)
	return fmt.Sprintf(`count(group by (job, instance, __name__) (%s) unless group by (job, instance, __name__) (%s offset %s))`,
		sel, sel, model.Duration(window))
}

// coverageQuery is newTargets for what a check reads (coverageNames), with the check's
// longest range; "" when the check reads no range.
func coverageQuery(ch Check, selector string) (query string, window time.Duration) {
	window = longestRange(ch.Query)
	if window <= 0 {
		return "", 0
	}
	return newTargets(selector, coverageNames(ch), window), window
}

// coverageNames are the metric names whose age tells whether a check's rate windows are
// full: its metric families, or up (the cluster's scrapes) when it names none.
func coverageNames(ch Check) []string {
	if len(ch.Families) > 0 {
		return ch.Families
	}
	return []string{"up"}
}

// waitFullWindow waits while some target of the cluster has series (up or one of names)
// younger than the rate window, polling every second (or scrape interval, if shorter), for
// at most one window and one scrape interval as first measured. The scrape interval is
// measured again at every poll: from a single sample per series it reads as the default
// (a minute), which sizes the first window and the bound generously. It reports whether it
// waited.
func (w *Watcher) waitFullWindow(ctx context.Context, q Querier, c *config.Cluster, names []string) bool {
	clk := w.clock()
	var deadline time.Time
	waited := false
	for {
		now := clk.Now()
		window, scrape := w.window(ctx, q, c, now)
		if deadline.IsZero() {
			deadline = now.Add(window + scrape)
		}
		out := w.query(ctx, q, newTargets(c.Prometheus.Selector, append([]string{"up"}, names...), window), now, 0)
		if vec, ok := out.Value.(model.Vector); out.Err != nil || !ok || len(vec) == 0 || !now.Before(deadline) {
			return waited
		}
		select {
		case <-ctx.Done():
			return waited
		case <-clk.After(min(scrape, time.Second, deadline.Sub(now))):
		}
		waited = true
	}
}
