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
func (w *Watcher) Baseline(ctx context.Context, c *config.Cluster, version string, skip ...domain.Interval) (domain.Baseline, error) {
	return w.baselineAt(ctx, c, version, w.clock().Now(), skip)
}

func (w *Watcher) baselineAt(ctx context.Context, c *config.Cluster, version string, end time.Time, skip []domain.Interval) (domain.Baseline, error) {
	lb := w.lookback(c)
	b := domain.Baseline{Taken: end, Lookback: lb, Values: map[string]float64{}, Notes: map[string]string{}}
	for _, iv := range skip {
		if iv.To.After(end.Add(-lb)) && iv.From.Before(end) {
			b.Skipped = append(b.Skipped, iv)
		}
	}
	q, err := w.querier(c)
	if err != nil {
		return b, err
	}
	window, _ := w.window(ctx, q, c, end)
	checks, err := Checks(c, version, version, window)
	if err != nil {
		return b, fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	r := v1.Range{Start: end.Add(-lb), End: end, Step: max(c.Watch.Interval.D(), lb/1000, time.Second)}
	type answer struct {
		v   model.Value
		err error
	}
	answers := make([]answer, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() {
			v, err := w.queryRange(ctx, q, ch.Query, r)
			answers[i] = answer{v, err}
		})
	}
	wg.Wait()
	for i, ch := range checks {
		a := answers[i]
		if a.err != nil {
			if unreachable(a.err) {
				return b, fmt.Errorf("baseline of cluster %q: prometheus %s: %s", c.Name, redact(c.Prometheus.URL), DescribeError(a.err))
			}
			b.Notes[ch.Name] = DescribeError(a.err)
			continue
		}
		v, note := average(a.v, b.Skipped, window)
		if note != "" {
			b.Notes[ch.Name] = fmt.Sprintf("%s in the %s before %s", note, model.Duration(lb), end.UTC().Format(time.TimeOnly+" MST"))
			continue
		}
		b.Values[ch.Name] = v
	}
	return b, nil
}

// average is the mean of the finite points of a range query's one series, or a note saying
// why there is none.
func average(v model.Value, skip []domain.Interval, window time.Duration) (float64, string) {
	m, ok := v.(model.Matrix)
	switch {
	case !ok && v != nil:
		return math.NaN(), fmt.Sprintf("the query returned a %s, want an instant vector", v.Type())
	case len(m) == 0:
		return math.NaN(), "no data"
	case len(m) > 1:
		return math.NaN(), fmt.Sprintf("%d series, want one (aggregate the query with sum, min or max)", len(m))
	}
	sum, n, skipped := 0.0, 0, 0
	for _, p := range m[0].Values {
		f := float64(p.Value)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		if inSkipped(p.Timestamp.Time(), skip, window) {
			skipped++
			continue
		}
		sum += f
		n++
	}
	if n == 0 && skipped > 0 {
		return math.NaN(), "every point falls in an earlier run"
	}
	if n == 0 {
		return math.NaN(), "only NaN or infinite values (no traffic?)"
	}
	return sum / float64(n), ""
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
