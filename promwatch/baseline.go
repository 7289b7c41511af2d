package promwatch

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

// Baseline implements upgrade.Baseliner: every check of the cluster, with the metric names
// of version (X), averaged over Lookback ending now.
//
// Each check's query is evaluated with QueryRange every watch interval over the lookback
// (the values the watch would have read, interval by interval) and the finite points are
// averaged in Go: NaN points (no traffic at that moment) are skipped instead of spoiling the
// average, and "no data", "more than one series" and "only NaN" can be told apart. A check
// without a value gets a note saying why. The error is non-nil only when Prometheus cannot
// be asked at all.
//
// Points inside skip (earlier runs on the cluster), or within one rate window after one
// ends, are left out: a breach and a rollback five minutes ago are not the normal the new
// version is held to.
//
// So are the points whose rate window began before a target's series of the check existed
// (Prometheus had just started scraping it, or the family just appeared): such a rate reads
// low (see newTargets). When a check has no point left at all, Baseline waits for a full
// window (polling, at most one window and a scrape interval) and looks again. A check left
// with less than half of its lookback gets its value and a note that it is partial; one left
// with none gets no value and a note saying so.
func (w *Watcher) Baseline(ctx context.Context, c *config.Cluster, version string, skip ...domain.Interval) (domain.Baseline, error) {
	b, young, err := w.baseline(ctx, c, version, w.clock().Now(), skip)
	if err != nil || len(young) == 0 {
		return b, err
	}
	q, err := w.querier(c)
	if err != nil || !w.waitFullWindow(ctx, q, c, young) {
		return b, nil
	}
	b, _, err = w.baseline(ctx, c, version, w.clock().Now(), skip)
	return b, err
}

// baselineAt is the baseline over the lookback ending at end, as it is (no waiting).
func (w *Watcher) baselineAt(ctx context.Context, c *config.Cluster, version string, end time.Time, skip []domain.Interval) (domain.Baseline, error) {
	b, _, err := w.baseline(ctx, c, version, end, skip)
	return b, err
}

// baseline is the baseline over the lookback ending at end, with the metric names read by
// the checks that had no full rate window at all (their families, or up).
func (w *Watcher) baseline(ctx context.Context, c *config.Cluster, version string, end time.Time, skip []domain.Interval) (b domain.Baseline, young []string, err error) {
	lb := w.lookback(c)
	b = domain.Baseline{Taken: end, Lookback: lb, Values: map[string]float64{}, Notes: map[string]string{}}
	for _, iv := range skip {
		if iv.To.After(end.Add(-lb)) && iv.From.Before(end) {
			b.Skipped = append(b.Skipped, iv)
		}
	}
	q, err := w.querier(c)
	if err != nil {
		return b, nil, err
	}
	window, _ := w.window(ctx, q, c, end)
	checks, err := Checks(c, version, version, window)
	if err != nil {
		return b, nil, fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	r := v1.Range{Start: end.Add(-lb), End: end, Step: max(c.Watch.Interval.D(), lb/1000, time.Second)}
	answers, covers := w.rangeAnswers(ctx, q, c, checks, r)
	eligible := 0 // points of the lookback outside skip
	for t := r.Start; !t.After(r.End); t = t.Add(r.Step) {
		if !inSkipped(t, b.Skipped, window) {
			eligible++
		}
	}
	for i, ch := range checks {
		a, cov := answers[i], covers[i]
		if cov != nil && cov.err != nil && unreachable(cov.err) {
			a.err = cov.err
		}
		if a.err != nil {
			if unreachable(a.err) {
				return b, nil, fmt.Errorf("baseline of cluster %q: prometheus %s: %s", c.Name, redact(c.Prometheus.URL), DescribeError(a.err))
			}
			b.Notes[ch.Name] = DescribeError(a.err)
			continue
		}
		var youngAt map[model.Time]bool
		if cov != nil && cov.err == nil {
			youngAt = cov.times()
		}
		m, why := average(a.v, b.Skipped, window, youngAt)
		if why == "" {
			b.Values[ch.Name] = m.value
		}
		if note := baselineNote(ch, cov, m, why, eligible, r, c.Prometheus.Selector); note != "" {
			b.Notes[ch.Name] = note
		}
		if m.n == 0 && m.young > 0 {
			young = append(young, coverageNames(ch)...)
		}
	}
	return b, young, nil
}

// baselineNote is the note of a check's baseline: why it has no value (why, from average),
// or that its value is partial, read from less than half of the lookback (eligible points)
// because the rest had no full rate window, or that its rate windows could not be checked;
// "" for none.
func baselineNote(ch Check, cov *answer, m mean, why string, eligible int, r v1.Range, selector string) string {
	lb := r.End.Sub(r.Start)
	span := words.Span(lb, r.End)
	_, cw := coverageQuery(ch, selector)
	switch {
	case m.n == 0 && m.young > 0:
		return words.NoFullWindow(cw, span)
	case why != "":
		return words.InSpan(why, span)
	case cov != nil && cov.err != nil:
		return words.CoverageUnknown(DescribeError(cov.err))
	case m.young > 0 && 2*m.n < eligible:
		return words.PartialBaseline(min(time.Duration(m.n)*r.Step, lb), span, cw)
	}
	return ""
}

// answer is what a range query returned.
type answer struct {
	v   model.Value
	err error
}

// times are the timestamps of the points of a range query's answer.
func (a *answer) times() map[model.Time]bool {
	ts := map[model.Time]bool{}
	if m, ok := a.v.(model.Matrix); ok {
		for _, s := range m {
			for _, p := range s.Values {
				ts[p.Timestamp] = true
			}
		}
	}
	return ts
}

// rangeAnswers runs every check's query over r, and each distinct coverageQuery of the
// checks, all at once. covers[i] is nil for a check that reads no range.
func (w *Watcher) rangeAnswers(ctx context.Context, q Querier, c *config.Cluster, checks []Check, r v1.Range) (answers []answer, covers []*answer) {
	answers, covers = make([]answer, len(checks)), make([]*answer, len(checks))
	byQuery := map[string]*answer{}
	var wg sync.WaitGroup
	run := func(expr string, a *answer) {
		wg.Go(func() { a.v, a.err = w.queryRange(ctx, q, expr, r) })
	}
	for i, ch := range checks {
		run(ch.Query, &answers[i])
		expr, _ := coverageQuery(ch, c.Prometheus.Selector)
		if expr == "" {
			continue
		}
		if byQuery[expr] == nil {
			byQuery[expr] = &answer{}
			run(expr, byQuery[expr])
		}
		covers[i] = byQuery[expr]
	}
	wg.Wait()
	return answers, covers
}

// mean is a check's baseline: the mean of n points, after young points were left out.
type mean struct {
	value float64
	n     int
	young int // finite points left out because their rate window was not full
}

// average is the mean of the finite points of a range query's one series, or a note saying
// why there is none. Points at the times in young (their rate window began before the
// series existed) are left out.
func average(v model.Value, skip []domain.Interval, window time.Duration, young map[model.Time]bool) (mean, string) {
	none := mean{value: math.NaN()}
	m, ok := v.(model.Matrix)
	switch {
	case !ok && v != nil:
		return none, words.WrongType(v.Type().String())
	case len(m) == 0:
		return none, words.NoData
	case len(m) > 1:
		return none, words.ManySeries(len(m))
	}
	res, sum, skipped := none, 0.0, 0
	for _, p := range m[0].Values {
		f := float64(p.Value)
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
		case inSkipped(p.Timestamp.Time(), skip, window):
			skipped++
		case young[p.Timestamp]:
			res.young++
		default:
			sum += f
			res.n++
		}
	}
	switch {
	case res.n > 0:
		res.value = sum / float64(res.n)
		return res, ""
	case res.young > 0:
		return res, words.NoFullPoint
	case skipped > 0:
		return res, words.AllInEarlierRuns
	}
	return res, words.OnlyNaN
}

// inSkipped reports whether t falls in one of skip, or within window after one ends (a rate
// at t still reads the samples of the window before it).
func inSkipped(t time.Time, skip []domain.Interval, window time.Duration) bool {
	for _, iv := range skip {
		if !t.Before(iv.From) && !t.After(iv.To.Add(window)) {
			return true
		}
	}
	return false
}
