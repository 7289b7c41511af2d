package promwatch

import (
	"context"
	"errors"
	"math"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
)

func TestAverage(t *testing.T) {
	nan := math.NaN()
	// An earlier run from t0+1s to t0+2s: with a 1 s rate window the points at 1, 2 and 3 s
	// are left out.
	run := []domain.Interval{{From: t0.Add(time.Second), To: t0.Add(2 * time.Second)}}
	for _, tt := range []struct {
		name string
		v    model.Value
		skip []domain.Interval
		want float64
		note string
	}{
		{"mean of the points", model.Matrix{series(t0, time.Second, 1, 2, 3, 6)}, nil, 3, ""},
		{"an earlier run left out", model.Matrix{series(t0, time.Second, 1, 50, 50, 50, 3)}, run, 2, ""},
		{"every point in an earlier run", model.Matrix{series(t0.Add(time.Second), time.Second, 50, 50)}, run, nan, "every point falls in an earlier run"},
		{"NaN and Inf points skipped", model.Matrix{series(t0, time.Second, 1, nan, 3, math.Inf(1))}, nil, 2, ""},
		{"only NaN", model.Matrix{series(t0, time.Second, nan, nan)}, nil, nan, "only NaN or infinite values (no traffic?)"},
		{"no series", model.Matrix{}, nil, nan, "no data"},
		{"nil", nil, nil, nan, "no data"},
		{"two series", model.Matrix{series(t0, time.Second, 1), series(t0, time.Second, 2)}, nil, nan, "2 series, want one (aggregate the query with sum, min or max)"},
		{"a scalar", &model.Scalar{Value: 1}, nil, nan, "the query returned a scalar, want an instant vector"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, note := average(tt.v, tt.skip, time.Second, nil)
			got := m.value
			if !same(got, tt.want) || note != tt.note {
				t.Errorf("average = %v %q, want %v %q", got, note, tt.want, tt.note)
			}
		})
	}
}

func TestBaselineNotes(t *testing.T) {
	t.Parallel()
	c := testCluster(time.Minute, 30*time.Second)
	c.Watch.Checks = []config.Check{
		{Name: "good", Query: `sum(good)`, Max: ptr(1.0)},
		{Name: "empty", Query: `sum(empty)`, Max: ptr(1.0)},
		{Name: "per node", Query: `two`, Max: ptr(1.0)},
		{Name: "broken", Query: `sum(`, Max: ptr(1.0)},
	}
	var ranges []v1.Range
	prom := &fakeProm{answer: func(q string, ts time.Time) (model.Value, error) {
		switch q {
		case "sum(good)":
			return vec(0.5), nil
		case "two":
			return vec(1, 2), nil
		case "sum(":
			return nil, &v1.Error{Type: v1.ErrBadData, Msg: "parse error"}
		}
		return model.Vector{}, nil
	}}
	w := &Watcher{Clock: &fakeClock{now: t0}, Lookback: 10 * time.Minute, Connect: func(string) (Querier, error) {
		return rangeSpy{prom, &ranges}, nil
	}}
	b, err := w.Baseline(t.Context(), c, "3.4.2")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Taken.Equal(t0) || b.Lookback != 10*time.Minute || len(b.Values) != 1 || b.Values["good"] != 0.5 {
		t.Errorf("baseline %+v", b)
	}
	for name, want := range map[string]string{
		"empty":    "no data in the 10m before 12:00:00 UTC",
		"per node": "series, want one",
		"broken":   "query error: bad_data: parse error",
	} {
		if !strings.Contains(b.Notes[name], want) {
			t.Errorf("note of %s %q, want %q", name, b.Notes[name], want)
		}
	}
	for _, r := range ranges {
		if !r.Start.Equal(t0.Add(-10*time.Minute)) || !r.End.Equal(t0) || r.Step != 30*time.Second {
			t.Errorf("range %+v, want the lookback every watch interval", r)
		}
	}

	// Prometheus unreachable: an error, not notes.
	refused := &url.Error{Op: "Post", URL: "http://prom/api/v1/query_range", Err: syscall.ECONNREFUSED}
	prom.answer = func(string, time.Time) (model.Value, error) { return nil, refused }
	if _, err := w.Baseline(t.Context(), c, "3.4.2"); err == nil || !strings.Contains(err.Error(), "Prometheus unreachable") {
		t.Errorf("Baseline with Prometheus down: %v", err)
	}
}

// rangeSpy records the ranges of range queries (the baseline runs them concurrently).
type rangeSpy struct {
	*fakeProm
	ranges *[]v1.Range
}

func (s rangeSpy) QueryRange(ctx context.Context, q string, r v1.Range, o ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	s.mu.Lock()
	*s.ranges = append(*s.ranges, r)
	s.mu.Unlock()
	return s.fakeProm.QueryRange(ctx, q, r, o...)
}

func TestCheckSeriesNoKong(t *testing.T) {
	t.Parallel()
	prom := &fakeProm{answer: func(string, time.Time) (model.Value, error) { return model.Vector{}, nil }}
	w := &Watcher{Clock: &fakeClock{now: t0}, Connect: func(string) (Querier, error) { return prom, nil }}
	c := testCluster(time.Minute, 30*time.Second)
	c.Prometheus.URL = "http://admin:s3cret@prom:9090"
	rep, err := w.CheckSeries(t.Context(), c, "3.4.2")
	problems := rep.Problems
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], `no Kong series match {cluster="test"} in Prometheus http://admin:xxxxx@prom:9090`) {
		t.Errorf("CheckSeries: %v %q", err, problems)
	}

	// On 2.8 a missing family names no flag.
	prom.answer = func(q string, _ time.Time) (model.Value, error) {
		return model.Vector{{Metric: model.Metric{model.MetricNameLabel: "kong_datastore_reachable"}, Value: 3},
			{Metric: model.Metric{model.MetricNameLabel: "kong_http_status"}, Value: 3},
			{Metric: model.Metric{model.MetricNameLabel: "kong_upstream_target_health"}, Value: 3}}, nil
	}
	rep, err = w.CheckSeries(t.Context(), c, "2.8.5")
	problems = rep.Problems
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], "kong_latency_bucket has no series") || strings.Contains(problems[0], "_metrics") {
		t.Errorf("CheckSeries on 2.8: %v %q", err, problems)
	}

	prom.answer = func(string, time.Time) (model.Value, error) { return nil, errors.New("dial tcp: connection refused") }
	if _, err := w.CheckSeries(t.Context(), c, "3.4.2"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("CheckSeries with Prometheus down: %v", err)
	}
}

func TestMeasureScrape(t *testing.T) {
	w := &Watcher{}
	prom := &fakeProm{answer: func(string, time.Time) (model.Value, error) { return nil, nil }}
	if got := w.measureScrape(t.Context(), prom, `cluster="a"`, t0); got != time.Second {
		t.Errorf("measured %s, want the fake's 1s spacing", got)
	}
	if got := w.measureScrape(t.Context(), &emptyProm{}, `cluster="a"`, t0); got != DefaultScrapeInterval {
		t.Errorf("measured %s without samples, want the default", got)
	}
	w.ScrapeInterval = 15 * time.Second
	if win, scrape := w.window(t.Context(), prom, testCluster(time.Minute, 30*time.Second), t0); win != time.Minute || scrape != 15*time.Second {
		t.Errorf("window %s scrape %s, want 1m from a configured 15s scrape and 30s interval", win, scrape)
	}
}

type emptyProm struct{ fakeProm }

func (*emptyProm) Query(context.Context, string, time.Time, ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	return model.Matrix{}, nil, nil, nil
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"http://prom:9090":               "http://prom:9090",
		"https://u:p@prom:9090/x":        "https://u:xxxxx@prom:9090/x",
		"http://[::1:9090":               "(unparsable URL)",
		"http://user@prom.example/api/v": "http://user@prom.example/api/v",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBaselineYoungSeries leaves out the points whose rate window began before the series
// existed (the coverage query has a point there), says so when that is most of the lookback,
// and waits, at most one window and a scrape interval, when it is all of it.
func TestBaselineYoungSeries(t *testing.T) {
	t.Parallel()
	c := testCluster(time.Minute, 2*time.Second) // 1 s scrapes (the fake's): 4 s windows
	traffic := `sum(rate(kong_http_requests_total{cluster="test"}[4s]))`
	coverage := `count(group by (job, instance, __name__) ({cluster="test", __name__=~"kong_http_requests_total"}) unless group by (job, instance, __name__) ({cluster="test", __name__=~"kong_http_requests_total"} offset 4s))`
	badData := &v1.Error{Type: v1.ErrBadData, Msg: "unknown function"}
	for _, tt := range []struct {
		name   string
		began  time.Duration // the series' first sample, after t0 (the end of the 20 s lookback)
		covErr error
		want   float64
		note   string
		waited time.Duration
	}{
		{"old series", -time.Minute, nil, 900, "", 0},
		{"the first 3 of 11 points young", -19 * time.Second, nil, 900, "", 0},
		{"the first 8 of 11 points young", -9 * time.Second, nil, 900,
			"partial: only 6s of the 20s before 12:00:00 UTC had a full 4s rate window; the rest would read low", 0},
		{"every point young: waits for a full window", -time.Second, nil, 900,
			"partial: only 2s of the 20s before 12:00:03 UTC had a full 4s rate window; the rest would read low", 3 * time.Second},
		{"every point young for longer than the wait", time.Hour, nil, nan(),
			"no full 4s rate window in the 20s before 12:00:05 UTC: the series are newer, and a rate over a partly filled window reads low", 5 * time.Second},
		{"coverage unknown", -time.Minute, badData, 900, "could not tell whether its rate windows were full: query error: bad_data: unknown function", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			young := func(ts time.Time) bool { return ts.Add(-4 * time.Second).Before(t0.Add(tt.began)) }
			prom := &fakeProm{answer: func(q string, ts time.Time) (model.Value, error) {
				switch {
				case q == coverage && tt.covErr != nil:
					return nil, tt.covErr
				case strings.Contains(q, " unless ") && young(ts): // the coverage, or the wait's instant query
					return vec(3), nil
				case q == traffic && young(ts):
					return vec(300), nil // a rate over a partly filled window
				case q == traffic:
					return vec(900), nil
				}
				return model.Vector{}, nil
			}}
			clk := &fakeClock{now: t0}
			w := &Watcher{Clock: clk, Lookback: 20 * time.Second, Connect: func(string) (Querier, error) { return prom, nil }}
			b, err := w.Baseline(t.Context(), c, "3.4.2")
			if err != nil {
				t.Fatal(err)
			}
			got, ok := b.Values[CheckTraffic]
			if !ok {
				got = math.NaN()
			}
			if !same(got, tt.want) || b.Notes[CheckTraffic] != tt.note {
				t.Errorf("traffic baseline %v, note %q; want %v, %q", got, b.Notes[CheckTraffic], tt.want, tt.note)
			}
			if waited := clk.Now().Sub(t0); waited != tt.waited || !b.Taken.Equal(clk.Now()) {
				t.Errorf("waited %s, baseline taken at %s; want %s", waited, b.Taken, tt.waited)
			}
		})
	}
}

func TestLongestRange(t *testing.T) {
	for q, want := range map[string]time.Duration{
		`sum(rate(x[4s]))`:                           4 * time.Second,
		`rate(x[1m]) / rate(y[ 2m ])`:                2 * time.Minute,
		`max_over_time(rate(x[1m])[5m:30s])`:         5 * time.Minute,
		`sum(rate(x{code=~"[45].."}[1m30s]))`:        90 * time.Second,
		`min(kong_datastore_reachable{code=~"[5]"})`: 0,
		`sum(x)`: 0,
	} {
		if got := longestRange(q); got != want {
			t.Errorf("longestRange(%s) = %s, want %s", q, got, want)
		}
	}
}

// TestCheckSeriesWaitsForFullWindow: a family missing while the cluster's targets are younger
// than the rate window is asked for again once the window is full, within one window and a
// scrape interval; otherwise the report comes at once.
func TestCheckSeriesWaitsForFullWindow(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		youngFor    time.Duration // after t0, the targets' series are younger than the window
		presentFrom time.Duration // after t0, the latency family has series
		waited      time.Duration
		problems    int
	}{
		{"targets just scraped", 3 * time.Second, 2 * time.Second, 3 * time.Second, 0},
		{"targets young for ever: bounded", time.Hour, time.Hour, 5 * time.Second, 1}, // 4 s window + 1 s scrape
		{"old targets: no wait", 0, time.Hour, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := &fakeClock{now: t0}
			prom := &fakeProm{answer: func(q string, ts time.Time) (model.Value, error) {
				switch {
				case strings.Contains(q, " unless "):
					if ts.Before(t0.Add(tt.youngFor)) {
						return vec(3), nil
					}
					return model.Vector{}, nil
				case strings.HasPrefix(q, "count by (__name__)"):
					names := []model.LabelValue{"kong_datastore_reachable", "kong_http_requests_total", "kong_upstream_target_health"}
					if !ts.Before(t0.Add(tt.presentFrom)) {
						names = append(names, "kong_request_latency_ms_bucket")
					}
					var v model.Vector
					for _, n := range names {
						v = append(v, &model.Sample{Metric: model.Metric{model.MetricNameLabel: n}, Value: 3})
					}
					return v, nil
				}
				return model.Vector{}, nil
			}}
			rep, err := fakeWatcher(clk, prom).CheckSeries(t.Context(), testCluster(time.Minute, 2*time.Second), "3.4.2")
			if err != nil || len(rep.Problems) != tt.problems {
				t.Errorf("CheckSeries: %v %q, want %d problems", err, rep.Problems, tt.problems)
			}
			if got := clk.Now().Sub(t0); got != tt.waited {
				t.Errorf("waited %s, want %s", got, tt.waited)
			}
		})
	}
}
