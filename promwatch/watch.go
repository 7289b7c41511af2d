package promwatch

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

// Watch implements upgrade.Watcher: every watch.interval from req.Started until
// req.Started + watch.duration it evaluates every check of req.Version (Y) at once and
// counts the results (Tally): watch.failure_limit consecutive failing intervals of one check
// return a *domain.BreachError, as many inconclusive ones (no data, NaN, query errors,
// Prometheus unreachable) a Blind one. It returns nil when the watch ends clean and ctx's
// cause when interrupted.
//
// Ticks are Started + k × interval, and the last one is at the end, where every check's
// last reading must be a pass (Tally.End). After a restart the ticks drawbridge missed are
// judged first from Prometheus's history (instant queries at those times), then the watch
// goes on live: the time drawbridge was down is judged like any other. Ratio
// thresholds compare with req.Baseline; when the request has none (Taken is zero) and the
// run has a downtime start, the baseline is taken on From over the lookback before the
// downtime. During the warm-up (the rate window, at most half the watch) a check that
// returns no series is reported inconclusive but not counted: the new version's series need
// a few scrapes before rate() has two samples.
//
// Report is called after every interval and once more, Final, at the end; Charts with one
// PNG per check on a breach and at the end.
func (w *Watcher) Watch(ctx context.Context, c *config.Cluster, req domain.WatchRequest) error {
	clk := w.clock()
	progress := func(msg string) {
		if req.Progress != nil {
			req.Progress(msg)
		}
	}
	interval := c.Watch.Interval.D()
	if interval <= 0 {
		return fmt.Errorf("cluster %q: watch.interval is %s", c.Name, c.Watch.Interval)
	}
	end := req.Started.Add(c.Watch.Duration.D())
	now := clk.Now()
	q, err := w.querier(c)
	if err != nil {
		return err
	}
	window, scrape := w.window(ctx, q, c, now)
	from := req.From
	if from == "" {
		from = req.Run.From
	}
	checks, err := Checks(c, req.Version, from, window)
	if err != nil {
		return fmt.Errorf("cluster %q: %w", c.Name, err)
	}
	base := w.watchBaseline(ctx, c, req, from, progress)
	warmEnd := req.Started.Add(min(window, c.Watch.Duration.D()/2))

	tally := Tally{Limit: c.Watch.FailureLimit}
	prev := map[string]float64{}
	// judge evaluates every check at one tick (now, or a past one from Prometheus's
	// history) and counts it; done is true when the watch is over, err its verdict.
	judge := func(at time.Time) (done bool, err error) {
		ms := w.measureAll(ctx, q, checks, base, prev, at, interval)
		if ctx.Err() != nil {
			return true, context.Cause(ctx)
		}
		warming := at.Before(warmEnd)
		if warming {
			for i := range ms {
				if ms[i].NoData {
					ms[i].Error = words.WarmingUp(warmEnd)
				}
			}
		}
		breach := tally.Add(ms, warming)
		rep := domain.WatchReport{At: at, Ends: end}
		for _, m := range ms {
			rep.Checks = append(rep.Checks, m.Report(tally.Failures(m.Check)))
			prev[m.Check] = m.Value
		}
		if req.Report != nil {
			req.Report(rep)
		}
		if breach == nil && at.Before(end) {
			return false, nil
		}
		if breach == nil {
			breach = tally.End(ms) // the last readings must pass
		}
		rep.Final, rep.Breach = true, breach
		if req.Report != nil {
			req.Report(rep)
		}
		if req.Charts != nil {
			req.Charts(w.charts(ctx, q, c, checks, req, base, clk.Now()))
		}
		if breach != nil {
			return true, breach
		}
		return true, nil
	}

	// After a restart, the ticks drawbridge missed — also the whole watch when it ended
	// while drawbridge was down — are judged from Prometheus's history first, in order.
	if missed := pastTicks(req.Started, interval, end, now); len(missed) > 0 {
		progress(words.ResumingWatch(c.Name, len(missed), req.Started, max(end.Sub(now), 0)))
		for _, at := range missed {
			if done, err := judge(at); done {
				return err
			}
		}
	}
	progress(words.Watching(len(checks), redact(c.Prometheus.URL), interval.String(), end, window, scrape))
	for tick := nextTick(req.Started, interval, end, now); ; tick = nextTick(req.Started, interval, end, clk.Now()) {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-clk.After(tick.Sub(clk.Now())):
		}
		if done, err := judge(clk.Now()); done {
			return err
		}
	}
}

// pastTicks are the ticks Started + k × interval (k ≥ 1) not after now, capped at end
// (included when it has passed): what a watch resumed at now has not judged.
func pastTicks(started time.Time, interval time.Duration, end, now time.Time) []time.Time {
	var out []time.Time
	for t := started.Add(interval); !t.After(now); t = t.Add(interval) {
		if !t.Before(end) {
			return append(out, end)
		}
		out = append(out, t)
	}
	return out
}

// nextTick is the first Started + k × interval after now (k ≥ 1), and never after end.
func nextTick(started time.Time, interval time.Duration, end, now time.Time) time.Time {
	k := int64(0)
	if now.After(started) {
		k = int64(now.Sub(started) / interval)
	}
	t := started.Add(time.Duration(k+1) * interval)
	if t.After(end) {
		return end
	}
	return t
}

// watchBaseline is the request's baseline, or one taken on From before the downtime.
func (w *Watcher) watchBaseline(ctx context.Context, c *config.Cluster, req domain.WatchRequest, from string, progress func(string)) domain.Baseline {
	if !req.Baseline.Taken.IsZero() {
		return req.Baseline
	}
	if from == "" || req.Run.DowntimeStart.IsZero() {
		return req.Baseline
	}
	b, err := w.baselineAt(ctx, c, from, req.Run.DowntimeStart, nil)
	if err != nil {
		progress(words.NoBaseline(err))
		return req.Baseline
	}
	progress(words.BaselineTaken(from, b.Lookback))
	return b
}

// measureAll evaluates every check at once, each query bounded by the interval.
func (w *Watcher) measureAll(ctx context.Context, q Querier, checks []Check, base domain.Baseline, prev map[string]float64, at time.Time, interval time.Duration) []Measurement {
	ms := make([]Measurement, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() {
			out := w.query(ctx, q, ch.Query, at, interval)
			ms[i] = Measure(ch, out, lookup(base.Values, ch.Name), lookup(prev, ch.Name))
			ms[i].At = at
		})
	}
	wg.Wait()
	return ms
}

func lookup(m map[string]float64, k string) float64 {
	if v, ok := m[k]; ok {
		return v
	}
	return math.NaN()
}
