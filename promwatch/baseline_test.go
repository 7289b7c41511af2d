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
			got, note := average(tt.v, tt.skip, time.Second)
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
