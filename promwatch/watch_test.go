package promwatch

import (
	"context"
	"errors"
	"math"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
)

// kongValues answers the built-in checks' queries with a healthy cluster's values, changed
// by bad from the time it returns true.
func kongValues(t0 time.Time, badAfter time.Duration, want3x bool) func(q string, ts time.Time) (model.Value, error) {
	return func(q string, ts time.Time) (model.Value, error) {
		if want3x && strings.Contains(q, "kong_http_status") || !want3x && strings.Contains(q, "kong_http_requests_total") {
			return model.Vector{}, nil // the other version's names have no series
		}
		bad := badAfter > 0 && !ts.Before(t0.Add(badAfter))
		switch {
		case strings.Contains(q, "kong_upstream_target_health"):
			return vec(0), nil
		case strings.Contains(q, `code=~"5.."`):
			if bad {
				return vec(0.2), nil
			}
			return vec(0.002), nil
		case strings.Contains(q, "histogram_quantile"):
			return vec(100), nil
		case strings.Contains(q, "kong_datastore_reachable"):
			return vec(1), nil
		case strings.Contains(q, "sum(rate("):
			return vec(150), nil
		}
		return model.Vector{}, nil
	}
}

type recorder struct {
	reports []domain.WatchReport
	charts  [][]domain.Chart
	msgs    []string
}

func (r *recorder) request(c *config.Cluster, started time.Time, base domain.Baseline) domain.WatchRequest {
	return domain.WatchRequest{
		Run:  domain.Run{ID: 7, Cluster: c.Name, From: "3.4.2", To: "3.5.0", DowntimeStart: started.Add(-5 * time.Second), DowntimeEnd: started},
		From: "3.4.2", Version: "3.5.0", Started: started, Baseline: base,
		Report:   func(w domain.WatchReport) { r.reports = append(r.reports, w) },
		Charts:   func(c []domain.Chart) { r.charts = append(r.charts, c) },
		Progress: func(m string) { r.msgs = append(r.msgs, m) },
	}
}

// noCharts is request without a Charts callback: the test does not look at them, and
// rendering is slow under the race detector.
func (r *recorder) noCharts(c *config.Cluster, started time.Time, base domain.Baseline) domain.WatchRequest {
	req := r.request(c, started, base)
	req.Charts = nil
	return req
}

func testCluster(duration, interval time.Duration) *config.Cluster {
	return &config.Cluster{Name: "test", Prometheus: config.Prometheus{URL: "http://prom.invalid", Selector: `cluster="test"`},
		Watch: config.Watch{Duration: config.Duration(duration), Interval: config.Duration(interval), FailureLimit: 2}}
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func healthyBaseline() domain.Baseline {
	return domain.Baseline{Taken: t0.Add(-time.Minute), Lookback: 30 * time.Minute,
		Values: map[string]float64{Check5xxRatio: 0.002, CheckP99Latency: 100, CheckTraffic: 150, CheckDatastore: 1, CheckUnhealthyTargets: 0}}
}

func fakeWatcher(clk *fakeClock, prom *fakeProm) *Watcher {
	return &Watcher{Clock: clk, Connect: func(string) (Querier, error) { return prom, nil }}
}

func TestWatchClean(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	prom := &fakeProm{answer: kongValues(t0, 0, true)}
	var r recorder
	c := testCluster(10*time.Second, 2*time.Second)
	err := fakeWatcher(clk, prom).Watch(t.Context(), c, r.request(c, t0, healthyBaseline()))
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if len(r.reports) != 6 {
		t.Fatalf("%d reports, want 5 intervals and a final one", len(r.reports))
	}
	for i, rep := range r.reports[:5] {
		if want := t0.Add(time.Duration(i+1) * 2 * time.Second); !rep.At.Equal(want) || rep.Final || !rep.Ends.Equal(t0.Add(10*time.Second)) {
			t.Errorf("report %d at %s final %v ends %s, want at %s", i, rep.At, rep.Final, rep.Ends, want)
		}
		if len(rep.Checks) != 5 {
			t.Fatalf("report %d has %d checks", i, len(rep.Checks))
		}
		for _, c := range rep.Checks {
			if c.Result != "pass" || c.Failures != 0 || c.Query == "" || math.IsNaN(c.Value) || math.IsNaN(c.Baseline) {
				t.Errorf("report %d: %+v", i, c)
			}
			if i > 0 && c.Trend != "→" {
				t.Errorf("report %d: trend %q, want →", i, c.Trend)
			}
		}
	}
	last := r.reports[5]
	if !last.Final || last.Breach != nil {
		t.Errorf("final report %+v", last)
	}
	if got := r.reports[0].Checks[1].Threshold; got != "max 1.5× baseline (150 ms)" {
		t.Errorf("p99 threshold %q", got)
	}
	if len(r.charts) != 1 || len(r.charts[0]) != 5 {
		t.Fatalf("charts %d calls", len(r.charts))
	}
	for _, c := range r.charts[0] {
		if c.Name != ChartFile(c.Check) {
			t.Errorf("chart %q named %q", c.Check, c.Name)
		}
		decodePNG(t, c.Name, c.PNG, true)
	}
	if len(r.msgs) == 0 || !strings.Contains(r.msgs[len(r.msgs)-1], "rate window 4s, scrape interval 1s") {
		t.Errorf("progress %q", r.msgs)
	}
}

func TestWatchResumes(t *testing.T) {
	t.Parallel()
	started := t0.Add(-7 * time.Second)
	clk := &fakeClock{now: t0}
	prom := &fakeProm{answer: kongValues(started, 0, true)}
	var r recorder
	c := testCluster(10*time.Second, 2*time.Second)
	if err := fakeWatcher(clk, prom).Watch(t.Context(), c, r.noCharts(c, started, healthyBaseline())); err != nil {
		t.Fatal(err)
	}
	// The three ticks drawbridge missed (2s, 4s, 6s) are judged from history, then the
	// two left (8s, 10s) live, then the final report.
	want := []time.Time{started.Add(2 * time.Second), started.Add(4 * time.Second), started.Add(6 * time.Second),
		started.Add(8 * time.Second), started.Add(10 * time.Second), started.Add(10 * time.Second)}
	if got := reportTimes(r.reports); !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("reports at %v, want %v", got, want)
	}
	if !strings.Contains(strings.Join(r.msgs, "\n"), "resuming the watch of test: judging the 3 intervals since") {
		t.Errorf("progress %q", r.msgs)
	}

	// A watch whose end passed while drawbridge was down is judged whole from history.
	r = recorder{}
	long := t0.Add(-time.Minute)
	clk = &fakeClock{now: t0}
	prom = &fakeProm{answer: kongValues(long, 0, true)}
	if err := fakeWatcher(clk, prom).Watch(t.Context(), c, r.noCharts(c, long, healthyBaseline())); err != nil {
		t.Fatal(err)
	}
	if len(r.reports) != 6 || !r.reports[5].Final || !r.reports[4].At.Equal(long.Add(10*time.Second)) {
		t.Errorf("a watch that ended while drawbridge was down: reports at %v", reportTimes(r.reports))
	}
	if !clk.Now().Equal(t0) {
		t.Errorf("the past was judged by waiting: clock at %s", clk.Now())
	}
}

// TestWatchJudgesEveryReading: a watch ends clean only when every check's last reading
// passed, and the time drawbridge was down is judged like any other.
func TestWatchJudgesEveryReading(t *testing.T) {
	t.Parallel()
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:9/api/v1/query", Err: syscall.ECONNREFUSED}
	healthy := kongValues(t0, 0, true)
	cases := []struct {
		name    string
		started time.Time
		answer  func(q string, ts time.Time) (model.Value, error)
		blind   bool
		check   string
	}{
		{"Prometheus unreachable at the last reading", t0, func(q string, ts time.Time) (model.Value, error) {
			if !ts.Before(t0.Add(10 * time.Second)) {
				return nil, refused
			}
			return healthy(q, ts)
		}, true, Check5xxRatio},
		{"5xx over the threshold at the last reading only", t0, kongValues(t0, 10*time.Second, true), false, Check5xxRatio},
		{"Prometheus unreachable for the whole watch, which ended while drawbridge was down", t0.Add(-time.Minute),
			func(string, time.Time) (model.Value, error) { return nil, refused }, true, Check5xxRatio},
		{"5xx over the threshold while drawbridge was down", t0.Add(-9 * time.Second), func(q string, ts time.Time) (model.Value, error) {
			if ts.Before(t0.Add(-4*time.Second)) && strings.Contains(q, `code=~"5.."`) {
				return vec(0.3), nil // at 2s and 4s of the watch, before the restart at 9s
			}
			return healthy(q, ts)
		}, false, Check5xxRatio},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &fakeClock{now: t0}
			var r recorder
			c := testCluster(10*time.Second, 2*time.Second)
			err := fakeWatcher(clk, &fakeProm{answer: tc.answer}).Watch(t.Context(), c, r.noCharts(c, tc.started, healthyBaseline()))
			var br *domain.BreachError
			if !errors.As(err, &br) || br.Blind != tc.blind || br.Check != tc.check {
				t.Fatalf("Watch: %v (%+v), want a breach of %s (blind %v)", err, br, tc.check, tc.blind)
			}
			if last := r.reports[len(r.reports)-1]; !last.Final || last.Breach != br {
				t.Errorf("final report %+v", last)
			}
		})
	}
}

func reportTimes(rs []domain.WatchReport) []time.Time {
	var out []time.Time
	for _, r := range rs {
		out = append(out, r.At)
	}
	return out
}

func TestWatchBreach(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	prom := &fakeProm{answer: kongValues(t0, 5*time.Second, true)} // bad from the third tick (6s)
	var r recorder
	c := testCluster(time.Minute, 2*time.Second)
	err := fakeWatcher(clk, prom).Watch(t.Context(), c, r.request(c, t0, healthyBaseline()))
	var br *domain.BreachError
	if !errors.As(err, &br) {
		t.Fatalf("Watch: %v, want a breach", err)
	}
	if br.Check != Check5xxRatio || br.Value != "0.2" || br.Threshold != "max 0.01" || br.Blind {
		t.Errorf("breach %+v", br)
	}
	if !clk.Now().Equal(t0.Add(8 * time.Second)) {
		t.Errorf("breach at %s, want at the fourth tick", clk.Now().Sub(t0))
	}
	last := r.reports[len(r.reports)-1]
	if !last.Final || last.Breach != br || last.Checks[0].Failures != 2 || last.Checks[0].Result != "fail" || last.Checks[0].Trend != "→" {
		t.Errorf("final report %+v, checks %+v", last, last.Checks[0])
	}
	if got := r.reports[2].Checks[0]; got.Failures != 1 || got.Trend != "↑" {
		t.Errorf("first failing interval %+v", got)
	}
	if len(r.charts) != 1 || len(r.charts[0]) != 5 {
		t.Fatalf("charts: %d calls", len(r.charts))
	}
}

func TestWatchBlind(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:9/api/v1/query", Err: syscall.ECONNREFUSED}
	prom := &fakeProm{answer: func(q string, ts time.Time) (model.Value, error) {
		if ts.After(t0.Add(3 * time.Second)) {
			return nil, refused
		}
		return kongValues(t0, 0, true)(q, ts)
	}}
	var r recorder
	c := testCluster(time.Minute, 2*time.Second)
	err := fakeWatcher(clk, prom).Watch(t.Context(), c, r.request(c, t0, healthyBaseline()))
	var br *domain.BreachError
	if !errors.As(err, &br) || !br.Blind {
		t.Fatalf("Watch: %v, want a blind breach", err)
	}
	if br.Check != Check5xxRatio || !strings.Contains(br.Value, "Prometheus unreachable") || !strings.Contains(br.Error(), "cannot see the metrics") {
		t.Errorf("breach %+v", br)
	}
	if !clk.Now().Equal(t0.Add(6 * time.Second)) {
		t.Errorf("breach at %s, want 6s", clk.Now().Sub(t0))
	}
	if len(r.charts) != 1 || len(r.charts[0]) != 5 {
		t.Fatalf("charts: %v", len(r.charts))
	}
	for _, c := range r.charts[0] {
		decodePNG(t, c.Name, c.PNG, false) // no series, but a chart saying why
	}
}

func TestWatchWithoutBaseline(t *testing.T) {
	t.Parallel()
	// No baseline at all (no downtime start to take one from): the ratio checks cannot be
	// judged, which is never a pass.
	clk := &fakeClock{now: t0}
	prom := &fakeProm{answer: kongValues(t0, 0, true)}
	var r recorder
	c := testCluster(time.Minute, 2*time.Second)
	req := r.noCharts(c, t0, domain.Baseline{})
	req.Run.DowntimeStart = time.Time{}
	err := fakeWatcher(clk, prom).Watch(t.Context(), c, req)
	var br *domain.BreachError
	if !errors.As(err, &br) || !br.Blind || br.Check != CheckP99Latency || !strings.Contains(br.Value, "no baseline value") {
		t.Fatalf("Watch: %v, want a blind breach of the p99 check", err)
	}
	if got := r.reports[0].Checks[0]; got.Result != "pass" {
		t.Errorf("the absolute 5xx check %+v, want pass", got)
	}
}

func TestWatchBaselineBeforeDowntime(t *testing.T) {
	t.Parallel()
	// No baseline in the request: it is taken on From (2.8.5, with 2.8's names) over the
	// lookback before the downtime, and the 3.x watch compares with it.
	clk := &fakeClock{now: t0}
	answer3x, answer28 := kongValues(t0, 0, true), kongValues(t0, 0, false)
	prom := &fakeProm{answer: func(q string, ts time.Time) (model.Value, error) {
		if ts.Before(t0.Add(-5 * time.Second)) {
			return answer28(q, ts)
		}
		return answer3x(q, ts)
	}}
	var r recorder
	c := testCluster(6*time.Second, 2*time.Second)
	req := r.noCharts(c, t0, domain.Baseline{})
	req.From, req.Run.From = "2.8.5", "2.8.5"
	if err := fakeWatcher(clk, prom).Watch(t.Context(), c, req); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.reports[0].Checks {
		if c.Result != "pass" || math.IsNaN(c.Baseline) {
			t.Errorf("%+v", c)
		}
	}
	if !strings.Contains(strings.Join(r.msgs, "\n"), "baseline taken on 2.8.5") {
		t.Errorf("progress %q", r.msgs)
	}
}

func TestWatchWarmUp(t *testing.T) {
	t.Parallel()
	// The new version's series appear only after 5s: no data before is not counted during
	// the warm-up (the 4s rate window), but is after it.
	clk := &fakeClock{now: t0}
	healthy := kongValues(t0, 0, true)
	prom := &fakeProm{answer: func(q string, ts time.Time) (model.Value, error) {
		if ts.Before(t0.Add(5*time.Second)) && strings.Contains(q, "rate(") {
			return model.Vector{}, nil
		}
		return healthy(q, ts)
	}}
	var r recorder
	c := testCluster(20*time.Second, time.Second)
	if err := fakeWatcher(clk, prom).Watch(t.Context(), c, r.noCharts(c, t0, healthyBaseline())); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	first := r.reports[0].Checks[0]
	if first.Result != "inconclusive" || first.Failures != 0 || !strings.Contains(first.Error, "warming up") {
		t.Errorf("first interval %+v", first)
	}
	// After the warm-up, no data counts.
	clk = &fakeClock{now: t0}
	prom = &fakeProm{answer: func(q string, ts time.Time) (model.Value, error) {
		if strings.Contains(q, "rate(") {
			return model.Vector{}, nil
		}
		return healthy(q, ts)
	}}
	r = recorder{}
	c = testCluster(20*time.Second, time.Second)
	err := fakeWatcher(clk, prom).Watch(t.Context(), c, r.noCharts(c, t0, healthyBaseline()))
	var br *domain.BreachError
	if !errors.As(err, &br) || !br.Blind || !clk.Now().Equal(t0.Add(5*time.Second)) {
		t.Fatalf("Watch: %v at %s, want a blind breach at 5s (warm-up 4s, then two intervals)", err, clk.Now().Sub(t0))
	}
}

func TestWatchCanceled(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: t0}
	ctx, cancel := context.WithCancelCause(t.Context())
	stop := errors.New("shutting down")
	prom := &fakeProm{answer: func(q string, ts time.Time) (model.Value, error) {
		if ts.After(t0.Add(3 * time.Second)) {
			cancel(stop)
		}
		return kongValues(t0, 0, true)(q, ts)
	}}
	var r recorder
	c := testCluster(time.Minute, 2*time.Second)
	err := fakeWatcher(clk, prom).Watch(ctx, c, r.noCharts(c, t0, healthyBaseline()))
	if !errors.Is(err, stop) {
		t.Fatalf("Watch: %v, want the context's cause", err)
	}
	for _, rep := range r.reports {
		if rep.Final {
			t.Error("an interrupted watch sent a final report")
		}
	}
}

func TestNextTick(t *testing.T) {
	s, i, end := t0, 2*time.Second, t0.Add(9*time.Second)
	for _, tt := range []struct {
		now, want time.Duration
	}{
		{-time.Second, 2 * time.Second}, {0, 2 * time.Second}, {time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second},
		{7 * time.Second, 8 * time.Second}, {8500 * time.Millisecond, 9 * time.Second}, {9 * time.Second, 9 * time.Second},
	} {
		if got := nextTick(s, i, end, t0.Add(tt.now)); !got.Equal(t0.Add(tt.want)) {
			t.Errorf("nextTick at %s = %s, want %s", tt.now, got.Sub(t0), tt.want)
		}
	}
}
