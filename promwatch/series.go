package promwatch

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/notify/words"
)

// CheckSeries implements upgrade.SeriesChecker: before the gate, on X, it asks Prometheus
// which of the metric families the checks read have series for the cluster (one
// count by (__name__) query) and names the prometheus plugin flag that turns on each missing
// 3.x family (status_code_metrics, latency_metrics, bandwidth_metrics,
// upstream_health_metrics). A custom check whose query returns no series is named too. The
// error is non-nil only when Prometheus cannot be asked.
//
// When something is missing while Prometheus has scraped the cluster (or some of the
// families) for less than one rate window, e.g. right after it started, it waits for a full
// window (polling, at most one window and a scrape interval) and asks again: a rate needs
// two samples in its window before it has a series.
func (w *Watcher) CheckSeries(ctx context.Context, c *config.Cluster, version string) (domain.SeriesReport, error) {
	q, err := w.querier(c)
	if err != nil {
		return domain.SeriesReport{}, err
	}
	rep, fams, err := w.seriesReport(ctx, q, c, version)
	if err != nil || len(rep.Problems) == 0 || !w.waitFullWindow(ctx, q, c, fams) {
		return rep, err
	}
	rep, _, err = w.seriesReport(ctx, q, c, version)
	return rep, err
}

// seriesReport is one look at the series of the checks, with the families they read.
func (w *Watcher) seriesReport(ctx context.Context, q Querier, c *config.Cluster, version string) (domain.SeriesReport, []string, error) {
	var rep domain.SeriesReport
	now := w.clock().Now()
	window, _ := w.window(ctx, q, c, now)
	checks, err := Checks(c, version, version, window)
	if err != nil {
		return rep, nil, fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	v3 := true
	if v, err := catalog.ParseVersion(version); err == nil {
		v3 = v.Major >= 3
	}
	var fams []string
	users := map[string][]string{}
	for _, ch := range checks {
		for _, f := range ch.Families {
			if users[f] == nil {
				fams = append(fams, f)
			}
			users[f] = append(users[f], fmt.Sprintf("%q", ch.Name))
		}
	}
	var problems []string
	sel := matchers(c.Prometheus.Selector)
	if len(fams) > 0 {
		names := append(slices.Clone(fams), "kong_datastore_reachable")
		expr := fmt.Sprintf(`count by (__name__) (%s)`, matchers(c.Prometheus.Selector, `__name__=~"`+strings.Join(names, "|")+`"`))
		out := w.query(ctx, q, expr, now, 0)
		if out.Err != nil {
			return rep, fams, fmt.Errorf("series of cluster %q: prometheus %s: %s", c.Name, redact(c.Prometheus.URL), DescribeError(out.Err))
		}
		present := map[string]bool{}
		if vec, ok := out.Value.(model.Vector); ok {
			for _, s := range vec {
				present[string(s.Metric[model.MetricNameLabel])] = true
			}
		}
		if len(present) == 0 {
			problems = append(problems, words.NoKongSeries(sel, redact(c.Prometheus.URL)))
		} else {
			for _, f := range fams {
				switch {
				case present[f]:
				case f == "kong_upstream_target_health":
					// The family exists only with upstream targets and the flag on; the
					// check reads 0 without it.
					rep.NotApplicable = append(rep.NotApplicable, words.NoUpstreams(users[f], f, v3))
				case f == "kong_data_plane_version_compatible":
					rep.NotApplicable = append(rep.NotApplicable, words.NoDataPlanes(users[f]))
				default:
					problems = append(problems, missingFamily(f, sel, users[f], v3))
				}
			}
		}
	}
	for _, ch := range checks {
		if !ch.Custom {
			continue
		}
		out := w.query(ctx, q, ch.Query, now, 0)
		switch {
		case out.Err != nil && unreachable(out.Err):
			return rep, fams, fmt.Errorf("series of cluster %q: prometheus %s: %s", c.Name, redact(c.Prometheus.URL), DescribeError(out.Err))
		case out.Err != nil:
			problems = append(problems, words.CheckProblem(ch.Name, DescribeError(out.Err)))
		default:
			if _, n, err := single(out.Value); err != nil {
				problems = append(problems, words.CheckProblem(ch.Name, err.Error()))
			} else if n == 0 {
				problems = append(problems, words.CheckProblem(ch.Name, words.NoSeriesFor(ch.Query)))
			}
		}
	}
	rep.Problems = problems
	return rep, fams, nil
}

// missingFamily says that a family has no series, who needs it, and what turns it on.
func missingFamily(f, sel string, users []string, v3 bool) string {
	return words.MissingFamily(f, sel, users, flagFor(f), v3)
}
