package promwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/testsvc"
)

// The integration tests share one PostgreSQL; each has its own kongsim cluster and its own
// Prometheus (scraping every second, the cluster's targets labelled cluster=<name>), and
// they run in parallel.
var (
	sharedPG *testsvc.Postgres
	setupErr error
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	sharedPG, setupErr = testsvc.NewPostgres(context.Background())
	if setupErr == nil {
		defer sharedPG.Close()
	}
	return m.Run()
}

func services(tb testing.TB) {
	tb.Helper()
	if setupErr != nil {
		if testsvc.ShouldSkip(setupErr) {
			tb.Skipf("skipping: %v", setupErr)
		}
		tb.Fatal(setupErr)
	}
}

const (
	scrape   = time.Second
	interval = 2 * time.Second
	// rps is each node's request rate. kongsim's counters are whole numbers, so a 4 s
	// window of kongsim's default 50 req/s holds a handful of requests in the latency tail
	// and its p99 jumps by ±50%; 1000 req/s keeps the rounding out of the p99.
	rps = 1000
)

// env is a kongsim cluster scraped by its own Prometheus, with drawbridge's view of it.
type env struct {
	t       testing.TB
	kong    *kongtest.Cluster
	prom    *testsvc.Prometheus
	cluster *config.Cluster
	watcher *Watcher
}

type envOpts struct {
	name    string // the cluster label and name
	version string
	before  func(*kongtest.Cluster) // runs before Prometheus starts
}

func newEnv(tb testing.TB, o envOpts) *env {
	tb.Helper()
	services(tb)
	kc := kongtest.New(tb, kongtest.Options{Nodes: 3, PG: sharedPG, Version: o.version})
	kc.Set([]string{fmt.Sprintf("traffic.rps=%d", rps)})
	if o.before != nil {
		o.before(kc)
	}
	var targets []string
	for _, n := range kc.Nodes {
		u, err := url.Parse(n.StatusURL)
		if err != nil {
			tb.Fatal(err)
		}
		targets = append(targets, u.Host)
	}
	quoted, _ := json.Marshal(targets)
	prom := testsvc.StartPrometheus(tb, testsvc.PrometheusConfig{ScrapeInterval: scrape,
		ExtraScrapeConfigs: fmt.Sprintf("- job_name: kong\n  static_configs:\n  - targets: %s\n    labels:\n      cluster: %q\n", quoted, o.name)})
	c := &config.Cluster{Name: o.name, Nodes: kc.ConfigNodes(),
		Prometheus: config.Prometheus{URL: prom.URL(), Selector: fmt.Sprintf("cluster=%q", o.name)},
		Watch:      config.Watch{Duration: config.Duration(6 * time.Second), Interval: config.Duration(interval), FailureLimit: 2}}
	return &env{t: tb, kong: kc, prom: prom, cluster: c, watcher: &Watcher{Lookback: 6 * time.Second}}
}

// waitRate waits until Prometheus has read the cluster's whole request rate (3 nodes × rps,
// over full 4 s windows) for the last 6 s: the first rates after Prometheus starts cover
// only part of their window, and a 6 s baseline should not see them.
func (e *env) waitRate(counter string) {
	e.t.Helper()
	q := fmt.Sprintf(`count_over_time((sum(rate(%s{%s}[4s])) > %d)[6s:1s]) >= 6`, counter, e.cluster.Prometheus.Selector, 3*rps*8/10)
	ctx, cancel := context.WithTimeout(e.t.Context(), 45*time.Second)
	defer cancel()
	if _, err := e.prom.WaitForSeries(ctx, q); err != nil {
		e.t.Fatal(err)
	}
}

// upgrade does what the engine does between the gate and the watch, by hand: stop every
// node, install version on each, migrations up and finish, start every node. It returns
// the downtime.
func (e *env) upgrade(version string) (start, end time.Time) {
	e.t.Helper()
	start = time.Now()
	var wg sync.WaitGroup
	for _, n := range e.kong.Nodes {
		wg.Go(func() { e.kong.Run("kong", "quit", "-p", n.Prefix) })
	}
	wg.Wait()
	for _, n := range e.kong.Nodes {
		e.kong.Run("install", "-p", n.Prefix, "--version", version)
	}
	e.kong.Run("kong", "migrations", "up", "-c", e.kong.Nodes[0].Conf)
	e.kong.Run("kong", "migrations", "finish", "-c", e.kong.Nodes[0].Conf)
	for _, n := range e.kong.Nodes {
		wg.Go(func() { e.kong.Run("kong", "start", "-c", n.Conf) })
	}
	wg.Wait()
	e.kong.WantVersions(version)
	return start, time.Now()
}

// watch is one watch running in the background.
type watch struct {
	mu      sync.Mutex
	reports []domain.WatchReport
	charts  [][]domain.Chart
	started chan struct{} // closed when the watch has set up (its "watching …" progress)
	report  chan domain.WatchReport
	done    chan error
	finalAt time.Time // when the final report came: the breach decided
	doneAt  time.Time // when Watch returned (after the charts)
}

func (e *env) startWatch(req domain.WatchRequest) *watch {
	w := &watch{started: make(chan struct{}), report: make(chan domain.WatchReport, 100), done: make(chan error, 1)}
	var once sync.Once
	cluster := e.cluster
	req.Report = func(r domain.WatchReport) {
		w.mu.Lock()
		w.reports = append(w.reports, r)
		if r.Final {
			w.finalAt = time.Now()
		}
		w.mu.Unlock()
		w.report <- r
	}
	req.Charts = func(c []domain.Chart) {
		w.mu.Lock()
		w.charts = append(w.charts, c)
		w.mu.Unlock()
	}
	req.Progress = func(msg string) {
		e.t.Logf("progress: %s", msg)
		if strings.HasPrefix(msg, "watching ") {
			once.Do(func() { close(w.started) })
		}
	}
	go func() {
		err := e.watcher.Watch(e.t.Context(), cluster, req)
		w.mu.Lock()
		w.doneAt = time.Now()
		w.mu.Unlock()
		w.done <- err
	}()
	return w
}

func (w *watch) wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-w.done:
		return err
	case <-time.After(timeout):
		t.Fatalf("the watch did not end within %s", timeout)
		return nil
	}
}

// waitCleanReport waits for an interval in which every check passed.
func (w *watch) waitCleanReport(t testing.TB) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r := <-w.report:
			clean := true
			for _, c := range r.Checks {
				clean = clean && c.Result == "pass"
			}
			if clean {
				return
			}
			t.Logf("not clean yet: %s", describe(r))
		case <-deadline:
			t.Fatal("no clean interval within 20s")
		}
	}
}

func (w *watch) lastReport(t testing.TB) domain.WatchReport {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.reports) == 0 {
		t.Fatal("no report")
	}
	return w.reports[len(w.reports)-1]
}

func describe(r domain.WatchReport) string {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "\n  %-20s %-12s %-10s %s %s failures %d %s", c.Name, c.Result, FormatNumber(c.Value), c.Trend, c.Threshold, c.Failures, c.Error)
	}
	return b.String()
}

// checkCharts decodes one PNG per check of a report.
func checkCharts(t testing.TB, charts [][]domain.Chart, wantSeries bool) {
	t.Helper()
	if len(charts) != 1 {
		t.Fatalf("Charts called %d times, want once", len(charts))
	}
	if len(charts[0]) != 5 {
		t.Errorf("%d charts, want one per check (5)", len(charts[0]))
	}
	for _, c := range charts[0] {
		if tt, ok := t.(*testing.T); ok {
			decodePNG(tt, c.Name, c.PNG, wantSeries)
		}
	}
}

// TestWatchKongUpgrade is one cluster's timeline: series check and baseline on 3.4.2, an
// upgrade to 3.5.0 watched clean, the bad-release fault detected.
func TestWatchKongUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{name: "timeline", version: "3.4.2"})
	e.waitRate("kong_http_requests_total")
	ctx := t.Context()

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if _, err := e.prom.WaitForSeries(wctx, fmt.Sprintf(`count(kong_node_info{version="3.4.2",%s}) == %d`, e.cluster.Prometheus.Selector, len(e.kong.Nodes))); err != nil {
		t.Fatal(err) // Prometheus has scraped every 3.4.2 node
	}
	cancel()
	rep, err := e.watcher.CheckSeries(ctx, e.cluster, "3.4.2")
	problems := rep.Problems
	if err != nil || len(problems) != 0 {
		t.Fatalf("CheckSeries: %v %q", err, problems)
	}
	base, err := e.watcher.Baseline(ctx, e.cluster, "3.4.2")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline %v notes %v", base.Values, base.Notes)
	within := func(name string, lo, hi float64) {
		if v, ok := base.Values[name]; !ok || v < lo || v > hi {
			t.Errorf("baseline %s = %v (%v), want within [%v, %v]; notes %q", name, v, ok, lo, hi, base.Notes[name])
		}
	}
	within(Check5xxRatio, 0, 0.01)   // kongsim's default traffic: 0.2% 5xx
	within(CheckTraffic, 2400, 3300) // 3 nodes × 1000 req/s
	within(CheckP99Latency, 80, 250) // p99 120 ms, read through the buckets
	within(CheckDatastore, 1, 1)
	within(CheckUnhealthyTargets, 0, 0)
	if base.Lookback != 6*time.Second || len(base.Notes) != 0 {
		t.Errorf("lookback %s, notes %v", base.Lookback, base.Notes)
	}

	downStart, downEnd := e.upgrade("3.5.0")
	run := domain.Run{ID: 1, Cluster: e.cluster.Name, From: "3.4.2", To: "3.5.0", DowntimeStart: downStart, DowntimeEnd: downEnd}
	req := domain.WatchRequest{Run: run, From: "3.4.2", Version: "3.5.0", Baseline: base}

	t.Run("healthy upgrade passes", func(t *testing.T) {
		req := req
		req.Started = time.Now()
		e.cluster.Watch.Duration = config.Duration(6 * time.Second)
		w := e.startWatch(req)
		if err := w.wait(t, 30*time.Second); err != nil {
			t.Fatalf("Watch: %v%s", err, describe(w.lastReport(t)))
		}
		last := w.lastReport(t)
		if !last.Final || last.Breach != nil {
			t.Errorf("last report %+v", last)
		}
		for _, c := range last.Checks {
			if c.Result != "pass" {
				t.Errorf("final %s", describe(last))
				break
			}
		}
		if n := len(w.reports); n != 4 {
			t.Errorf("%d reports, want 3 intervals of 2s in 6s and a final one", n)
		}
		checkCharts(t, w.charts, true)
	})

	t.Run("bad release detected within two intervals", func(t *testing.T) {
		req := req
		req.Started = time.Now()
		e.cluster.Watch.Duration = config.Duration(time.Minute)
		w := e.startWatch(req)
		w.waitCleanReport(t)
		e.kong.Set([]string{"faults.bad_release.version=3.5.0", "faults.bad_release.error_ratio=0.2"})
		faultAt := time.Now()
		visible := e.waitVisible(ctx, faultAt)
		err := w.wait(t, 30*time.Second)
		var br *domain.BreachError
		if !errors.As(err, &br) {
			t.Fatalf("Watch: %v, want a breach", err)
		}
		w.mu.Lock()
		breachAt, doneAt := w.finalAt, w.doneAt
		w.mu.Unlock()
		t.Logf("breach %v: fault visible %s after it was set, breach %s after it was visible, Watch returned %s later (charts)", br,
			visible.Sub(faultAt).Round(time.Millisecond), breachAt.Sub(visible).Round(time.Millisecond), doneAt.Sub(breachAt).Round(time.Millisecond))
		if br.Check != Check5xxRatio || br.Blind || br.Threshold != "max 0.01" {
			t.Errorf("breach %+v, want the 5xx ratio above max 0.01", br)
		}
		if v, err := strconv.ParseFloat(br.Value, 64); err != nil || v <= 0.01 {
			t.Errorf("breach value %q", br.Value)
		}
		if d := breachAt.Sub(visible); d > 2*interval+500*time.Millisecond {
			t.Errorf("breach %s after the fault was visible, want within two intervals (%s)", d, 2*interval)
		}
		last := w.lastReport(t)
		if !last.Final || last.Breach != br {
			t.Errorf("last report %+v", last)
		}
		checkCharts(t, w.charts, true)
	})

}

// waitVisible polls Prometheus until the cluster's 5xx ratio (the built-in query) is above
// 0.01 and returns when it first was.
func (e *env) waitVisible(ctx context.Context, since time.Time) time.Time {
	e.t.Helper()
	checks, _ := DefaultChecks("3.5.0", "", e.cluster.Prometheus.Selector, RateWindow(scrape, interval))
	for time.Since(since) < 20*time.Second {
		s, err := e.prom.Query(ctx, checks[0].Query+" > 0.01")
		if err == nil && len(s) > 0 {
			return time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatal("the fault never showed in Prometheus")
	return time.Time{}
}

// TestWatchFrom28 takes the baseline on Kong 2.8.5 (kong_http_status, kong_latency) and
// watches 3.4.2 (kong_http_requests_total, kong_request_latency_ms) against it; then
// Prometheus is killed during a watch.
func TestWatchFrom28(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{name: "legacy", version: "2.8.5"})
	e.waitRate("kong_http_status")
	ctx := t.Context()
	if rep, err := e.watcher.CheckSeries(ctx, e.cluster, "2.8.5"); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("CheckSeries: %v %q", err, rep.Problems)
	}
	base, err := e.watcher.Baseline(ctx, e.cluster, "2.8.5")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline on 2.8.5: %v %v", base.Values, base.Notes)
	if len(base.Values) != 5 {
		t.Fatalf("baseline %v, notes %v", base.Values, base.Notes)
	}
	downStart, downEnd := e.upgrade("3.4.2")
	// Kong keeps 2.8's prometheus config (per_consumer only) through the upgrade: 3.4.2
	// exports no request or latency family until the 3.x flags are on, and the series check
	// names the flags. The operator turns them on, as Kong's 3.0 upgrade notes ask.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if _, err := e.prom.WaitForSeries(wctx, fmt.Sprintf(`count(kong_node_info{version="3.4.2",%s}) == %d`, e.cluster.Prometheus.Selector, len(e.kong.Nodes))); err != nil {
		t.Fatal(err) // Prometheus has scraped every 3.4.2 node
	}
	cancel()
	rep, err := e.watcher.CheckSeries(ctx, e.cluster, "3.4.2")
	problems := rep.Problems
	if err != nil || !strings.Contains(strings.Join(problems, "\n"), "status_code_metrics") {
		t.Errorf("CheckSeries on 3.4.2 with 2.8's plugin config: %v %q, want the missing flag named", err, problems)
	}
	conn, err := pgx.Connect(ctx, e.kong.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE plugins SET config = config || '{"status_code_metrics": true, "latency_metrics": true, "bandwidth_metrics": true, "upstream_health_metrics": true}'::jsonb WHERE name = 'prometheus'`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	e.waitRate("kong_http_requests_total")
	w := e.startWatch(domain.WatchRequest{
		Run:  domain.Run{ID: 2, Cluster: e.cluster.Name, From: "2.8.5", To: "3.4.2", DowntimeStart: downStart, DowntimeEnd: downEnd},
		From: "2.8.5", Version: "3.4.2", Started: time.Now(), Baseline: base,
	})
	if err := w.wait(t, 30*time.Second); err != nil {
		t.Fatalf("Watch: %v%s", err, describe(w.lastReport(t)))
	}
	last := w.lastReport(t)
	t.Logf("final report:%s", describe(last))
	for _, c := range last.Checks {
		if c.Result != "pass" {
			t.Errorf("%s is %s", c.Name, c.Result)
		}
		if strings.Contains(c.Query, "kong_http_status") || strings.Contains(c.Query, "kong_latency_bucket") {
			t.Errorf("%s reads a 2.8 name on 3.4.2: %s", c.Name, c.Query)
		}
	}
	if got := last.Checks[1]; got.Name != CheckP99Latency || got.Baseline != base.Values[CheckP99Latency] {
		t.Errorf("p99 %+v, want compared with the 2.8 baseline %v", got, base.Values[CheckP99Latency])
	}

	// This cluster's Prometheus dies during the next watch (it is here rather than in
	// TestWatchKongUpgrade, to run in parallel with it).
	req := domain.WatchRequest{Run: domain.Run{ID: 3, Cluster: e.cluster.Name, From: "2.8.5", To: "3.4.2"},
		From: "2.8.5", Version: "3.4.2", Baseline: base}
	e.cluster.Watch.Duration = config.Duration(time.Minute)
	t.Run("prometheus killed: blind, never clean", func(t *testing.T) {
		req := req
		req.Started = time.Now()
		w := e.startWatch(req)
		<-w.started
		if err := e.prom.Kill(); err != nil {
			t.Fatal(err)
		}
		err := w.wait(t, 30*time.Second)
		var br *domain.BreachError
		if !errors.As(err, &br) || !br.Blind {
			t.Fatalf("Watch: %v, want a blind breach", err)
		}
		if !strings.Contains(br.Value, "Prometheus unreachable") {
			t.Errorf("breach %+v", br)
		}
		checkCharts(t, w.charts, false)
	})
}

// TestCheckSeriesFlagsOff turns off the prometheus plugin's status code and latency
// metrics: CheckSeries names both flags, the baseline has notes instead of values.
func TestCheckSeriesFlagsOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{name: "flags", version: "3.4.2", before: func(kc *kongtest.Cluster) {
		conn, err := pgx.Connect(t.Context(), kc.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(t.Context(), `UPDATE plugins SET config = config || '{"status_code_metrics": false, "latency_metrics": false}' WHERE name = 'prometheus'`); err != nil {
			t.Fatal(err)
		}
		waitMetricsGone(t, kc, "kong_http_requests_total", "kong_request_latency_ms_bucket")
	}})
	if _, err := e.prom.WaitForSeries(t.Context(), `kong_upstream_target_health{cluster="flags"}`); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if _, err := e.prom.WaitForSeries(wctx, fmt.Sprintf(`count(kong_node_info{version="3.4.2",%s}) == %d`, e.cluster.Prometheus.Selector, len(e.kong.Nodes))); err != nil {
		t.Fatal(err) // Prometheus has scraped every 3.4.2 node
	}
	cancel()
	rep, err := e.watcher.CheckSeries(ctx, e.cluster, "3.4.2")
	problems := rep.Problems
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	t.Logf("problems:\n%s", all)
	if len(problems) != 2 || !strings.Contains(problems[0], "kong_http_requests_total has no series") ||
		!strings.Contains(problems[0], "status_code_metrics") || !strings.Contains(problems[0], `"5xx ratio", "traffic (req/s)"`) ||
		!strings.Contains(problems[1], "kong_request_latency_ms_bucket") || !strings.Contains(problems[1], "latency_metrics") {
		t.Errorf("problems %q, want status_code_metrics and latency_metrics named", problems)
	}

	base, err := e.watcher.Baseline(ctx, e.cluster, "3.4.2")
	if err != nil {
		t.Fatal(err)
	}
	if len(base.Values) != 2 || !strings.HasPrefix(base.Notes[CheckP99Latency], "no data in the 6s") {
		t.Errorf("baseline %v, notes %q", base.Values, base.Notes)
	}

	// Custom checks: a family the flags gate, and a query that finds nothing.
	e.cluster.Watch.Checks = []config.Check{
		{Name: "errors", Query: `sum(rate(kong_http_requests_total{ {{.Selector}}, code=~"5.." }[1m]))`, Max: ptr(1.0)},
		{Name: "memory", Query: `max(kong_memory_lua_shared_dict_bytes{ {{.Selector}} })`, Max: ptr(1e9)},
		{Name: "nothing", Query: `sum(no_such_metric{ {{.Selector}} })`, Max: ptr(1.0)},
	}
	rep, err = e.watcher.CheckSeries(ctx, e.cluster, "3.4.2")
	problems = rep.Problems
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("problems:\n%s", strings.Join(problems, "\n"))
	if len(problems) != 3 || !strings.Contains(problems[0], "status_code_metrics") ||
		!strings.Contains(problems[1], `check "errors": its query returned no series`) ||
		!strings.Contains(problems[2], `check "nothing": its query returned no series`) {
		t.Errorf("problems %q", problems)
	}
}

// waitMetricsGone polls each node's /metrics until none of the names is exported.
func waitMetricsGone(t *testing.T, kc *kongtest.Cluster, names ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, n := range kc.Nodes {
		for {
			resp, err := http.Get(n.StatusURL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			gone := true
			for _, name := range names {
				gone = gone && !strings.Contains(string(body), "\n"+name)
			}
			if gone {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s still exports %v", n.Name, names)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestCheckSeriesWithoutUpstreams: a cluster whose nodes export no upstream health (the
// flag off, or no upstream targets) has nothing to fail that check on: it is reported as
// not applicable, not as a problem that would refuse the upgrade.
func TestCheckSeriesWithoutUpstreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{name: "noupstreams", version: "3.4.2", before: func(kc *kongtest.Cluster) {
		conn, err := pgx.Connect(t.Context(), kc.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(t.Context(), `UPDATE plugins SET config = config || '{"upstream_health_metrics": false}' WHERE name = 'prometheus'`); err != nil {
			t.Fatal(err)
		}
		waitMetricsGone(t, kc, "kong_upstream_target_health")
	}})
	ctx := t.Context()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := e.prom.WaitForSeries(wctx, fmt.Sprintf(`count(kong_node_info{version="3.4.2",%s}) == %d`, e.cluster.Prometheus.Selector, len(e.kong.Nodes))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prom.WaitForSeries(wctx, fmt.Sprintf(`kong_http_requests_total{%s}`, e.cluster.Prometheus.Selector)); err != nil {
		t.Fatal(err)
	}
	rep, err := e.watcher.CheckSeries(ctx, e.cluster, "3.4.2")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("problems %q, want none: upstream health without upstreams is not a problem", rep.Problems)
	}
	want := fmt.Sprintf("%q (no kong_upstream_target_health: the cluster has no upstream targets, or upstream_health_metrics is off)", CheckUnhealthyTargets)
	if len(rep.NotApplicable) != 1 || rep.NotApplicable[0] != want {
		t.Errorf("not applicable %q, want [%s]", rep.NotApplicable, want)
	}
}
