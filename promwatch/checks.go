package promwatch

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong/catalog"
)

// Check is one check resolved for a cluster and a Kong version: its rendered query and its
// thresholds. Absent thresholds are nil.
type Check struct {
	Name     string
	Query    string // the rendered PromQL
	Unit     string // shown after values: "ms", "req/s"; "" for ratios and custom checks
	Max      *float64
	Min      *float64
	MaxRatio *float64 // max_ratio_to_baseline
	MinRatio *float64 // min_ratio_to_baseline
	// Families are the metric names the query reads (for CheckSeries).
	Families []string
	// Custom is true for the cluster's own watch.checks.
	Custom bool
	// NoData says what to look at when the query returns no series: the family missing
	// for the selector, and the prometheus plugin flag that turns it on.
	NoData string
}

// Names of the built-in checks.
const (
	Check5xxRatio         = "5xx ratio"
	CheckP99Latency       = "p99 latency (ms)"
	CheckTraffic          = "traffic (req/s)"
	CheckDatastore        = "datastore reachable"
	CheckUnhealthyTargets = "unhealthy targets"
	CheckDataPlanes       = "data planes compatible"
)

// Thresholds of the built-in checks. The 5xx ratio has an absolute limit only: a ratio to
// a baseline of 0.1–0.5% is mostly Poisson noise at everyday traffic, and 1% is the line
// an operator would roll back at anyway (a cluster that normally runs near 1% 5xx needs its
// own watch.checks). Latency and traffic depend on the cluster, so they compare with the
// baseline: p99 may grow by half, traffic may not halve (a drop means clients give up or
// routes stopped matching). The database and upstream targets are absolute.
const (
	Default5xxMax          = 0.01 // at most 1% of the proxied requests answer 5xx
	DefaultP99MaxRatio     = 1.5  // p99 request latency at most 1.5× the baseline
	DefaultTrafficMinRatio = 0.5  // at least half the baseline's request rate
	DefaultDatastoreMin    = 1    // every node reaches the database
	DefaultUnhealthyMax    = 0    // no upstream target unhealthy (or with a DNS error)
)

// families names the metric families a Kong version exports for what the built-in checks read.
type families struct {
	requests      string // counter of proxied requests by status code
	latencyBucket string // request latency histogram buckets
	latencyExtra  string // extra matcher for the latency histogram (2.8: type="request")
}

func familiesFor(v catalog.Version) families {
	if v.Major < 3 {
		return families{requests: "kong_http_status", latencyBucket: "kong_latency_bucket", latencyExtra: `type="request"`}
	}
	return families{requests: "kong_http_requests_total", latencyBucket: "kong_request_latency_ms_bucket"}
}

// commonBounds keeps the request latency buckets that 2.8's kong_latency and 3.x's
// kong_request_latency_ms share (2.8 has no 250 or 700, 3.x none of 2.8's finer ones), in
// any padding ("25", "00025.0"). histogram_quantile interpolates linearly inside a bucket,
// so the same latencies read through (100, 200] on 2.8 and (100, 250] on 3.x give p99s up
// to 1.7× apart; on the shared bounds both versions read the same value.
const commonBounds = `le=~"0*(25|50|80|100|400|1000|2000|5000|10000|30000|60000)(\\.0*)?|\\+Inf"`

// DefaultChecks are the built-in checks for Kong's Prometheus plugin, with the metric names
// of version (2.8: kong_http_status, kong_latency_bucket{type="request"}; 3.x:
// kong_http_requests_total, kong_request_latency_ms_bucket), every selector restricted by
// selector, and rates over window. baseline is the version the values are compared with
// ("": version itself): when either is 2.x the p99 reads only the latency buckets both
// versions have.
func DefaultChecks(version, baseline, selector string, window time.Duration) ([]Check, error) {
	v, err := catalog.ParseVersion(version)
	if err != nil {
		return nil, err
	}
	b := v
	if baseline != "" {
		if b, err = catalog.ParseVersion(baseline); err != nil {
			return nil, fmt.Errorf("baseline %w", err)
		}
	}
	f := familiesFor(v)
	w := model.Duration(window).String()
	sel := func(name string, extra ...string) string { return name + matchers(selector, extra...) }
	latency := nonEmpty(f.latencyExtra)
	if v.Major < 3 || b.Major < 3 {
		latency = append(latency, commonBounds)
	}
	const health = "kong_upstream_target_health"
	return []Check{
		{
			Name: Check5xxRatio,
			// "or vector(0)": Kong creates a code's series at its first response, so a
			// cluster that served no 5xx since it started has no 5xx series at all.
			Query: fmt.Sprintf(`(sum(rate(%s[%s])) or vector(0)) / sum(rate(%s[%s]))`,
				sel(f.requests, `code=~"5.."`), w, sel(f.requests), w),
			Max:      ptr(Default5xxMax),
			Families: []string{f.requests},
		},
		{
			Name: CheckP99Latency,
			Query: fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(%s[%s])))`,
				sel(f.latencyBucket, latency...), w),
			Unit:     "ms",
			MaxRatio: ptr(DefaultP99MaxRatio),
			Families: []string{f.latencyBucket},
		},
		{
			Name:     CheckTraffic,
			Query:    fmt.Sprintf(`sum(rate(%s[%s]))`, sel(f.requests), w),
			Unit:     "req/s",
			MinRatio: ptr(DefaultTrafficMinRatio),
			Families: []string{f.requests},
		},
		{
			Name:     CheckDatastore,
			Query:    fmt.Sprintf(`min(%s)`, sel("kong_datastore_reachable")),
			Min:      ptr(float64(DefaultDatastoreMin)),
			Families: []string{"kong_datastore_reachable"},
		},
		{
			Name: CheckUnhealthyTargets,
			// Distinct targets unhealthy (or failing DNS) on any node. A cluster without
			// upstream targets has no such family: that reads 0 as long as Kong itself is
			// seen; CheckSeries names the family when it is missing.
			Query: fmt.Sprintf(`sum(max by (upstream, target) (%s)) or on() (0 * min(%s))`,
				sel(health, `state=~"unhealthy|dns_error"`), sel("kong_datastore_reachable")),
			Max:      ptr(float64(DefaultUnhealthyMax)),
			Families: []string{health},
		},
	}, nil
}

// Checks resolves a cluster's checks for a Kong version, to be compared with a baseline
// taken on baseline ("": the same version): its watch.checks rendered with its selector, or
// the built-in DefaultChecks when it names none.
func Checks(c *config.Cluster, version, baseline string, window time.Duration) ([]Check, error) {
	checks, err := checksFor(c, version, baseline, window)
	if err != nil {
		return nil, err
	}
	v3 := true
	if v, err := catalog.ParseVersion(version); err == nil {
		v3 = v.Major >= 3
	}
	for i := range checks {
		if fams := checks[i].Families; len(fams) > 0 {
			checks[i].NoData = missingFamily(fams[0], matchers(c.Prometheus.Selector), []string{fmt.Sprintf("%q", checks[i].Name)}, v3)
		}
	}
	return checks, nil
}

func checksFor(c *config.Cluster, version, baseline string, window time.Duration) ([]Check, error) {
	if len(c.Watch.Checks) == 0 && c.ControlPlane {
		return ControlPlaneChecks(c.Prometheus.Selector), nil
	}
	if len(c.Watch.Checks) == 0 {
		return DefaultChecks(version, baseline, c.Prometheus.Selector, window)
	}
	out := make([]Check, 0, len(c.Watch.Checks))
	for i := range c.Watch.Checks {
		ch := &c.Watch.Checks[i]
		q, err := ch.Render(config.QueryData{Selector: c.Prometheus.Selector, Cluster: c.Name, Window: model.Duration(window).String()})
		if err != nil {
			return nil, fmt.Errorf("check %q: %w", ch.Name, err)
		}
		out = append(out, Check{Name: ch.Name, Query: q, Max: ch.Max, Min: ch.Min,
			MaxRatio: ch.MaxRatioToBaseline, MinRatio: ch.MinRatioToBaseline,
			Families: kongFamilies(q), Custom: true})
	}
	return out, nil
}

// ControlPlaneChecks are the built-in checks of hybrid control planes, which proxy no
// traffic: every node reaches the database, and every data plane is still one the control
// planes accept (kong_data_plane_version_compatible; a cluster without data planes reads 1).
func ControlPlaneChecks(selector string) []Check {
	sel := func(name string, extra ...string) string { return name + matchers(selector, extra...) }
	return []Check{
		{
			Name:     CheckDatastore,
			Query:    fmt.Sprintf(`min(%s)`, sel("kong_datastore_reachable")),
			Min:      ptr(float64(DefaultDatastoreMin)),
			Families: []string{"kong_datastore_reachable"},
		},
		{
			Name:     CheckDataPlanes,
			Query:    fmt.Sprintf(`min(%s) or on() (0 * min(%s) + 1)`, sel("kong_data_plane_version_compatible"), sel("kong_datastore_reachable")),
			Min:      ptr(1.0),
			Families: []string{"kong_data_plane_version_compatible"},
		},
	}
}

// RateWindow is the range of the built-in checks' rate(): four scrapes (so that a rate
// always has enough samples, even with one missed scrape) and two watch intervals (so that
// consecutive evaluations overlap and no request goes unseen), whichever is longer, rounded
// up to a whole second. 1 s scrapes and 2 s intervals give 4s; 30 s scrapes and 30 s
// intervals give 2m; 15 s scrapes and 30 s intervals give 1m.
func RateWindow(scrape, interval time.Duration) time.Duration {
	w := max(4*scrape, 2*interval)
	return (w + time.Second - 1).Truncate(time.Second)
}

// matchers renders {selector, extra…}, dropping empty parts.
func matchers(selector string, extra ...string) string {
	var parts []string
	if s := strings.TrimSpace(strings.Trim(strings.TrimSpace(selector), "{}")); s != "" {
		parts = append(parts, strings.TrimSuffix(s, ","))
	}
	parts = append(parts, extra...)
	return "{" + strings.Join(parts, ", ") + "}"
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

var reKongName = regexp.MustCompile(`\bkong_[a-zA-Z0-9_]+`)

// kongFamilies are the kong_* metric names a query reads.
func kongFamilies(q string) []string {
	names := reKongName.FindAllString(q, -1)
	slices.Sort(names)
	return slices.Compact(names)
}

// flagFor is the prometheus plugin flag (3.0+) that turns on a metric family; "" when the
// family is always exported.
func flagFor(name string) string {
	switch {
	case name == "kong_http_requests_total", name == "kong_stream_sessions_total":
		return "status_code_metrics"
	case hasAnyPrefix(name, "kong_kong_latency_ms", "kong_upstream_latency_ms", "kong_request_latency_ms", "kong_session_duration_ms"):
		return "latency_metrics"
	case name == "kong_bandwidth_bytes":
		return "bandwidth_metrics"
	case name == "kong_upstream_target_health":
		return "upstream_health_metrics"
	case strings.HasPrefix(name, "kong_ai_"):
		return "ai_metrics"
	}
	return ""
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}

func ptr(f float64) *float64 { return &f }
