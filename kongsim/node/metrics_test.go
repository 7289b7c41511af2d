package node

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/drawbridge/drawbridge/kongsim/sim"
)

// familySpec is what the reference says a family looks like.
type familySpec struct {
	typ     dto.MetricType
	labels  []string  // label names of every series (sorted), le excluded
	buckets []float64 // histograms only
}

var (
	gauge, counter, histogram = dto.MetricType_GAUGE, dto.MetricType_COUNTER, dto.MetricType_HISTOGRAM
	bucketsKong28             = []float64{1, 2, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000, 30000, 60000}
	bucketsKongLatency        = []float64{1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000} // from 3.8.1
	bucketsKongLatency30      = bucketsKongLatency[:15]                                                             // 3.0.0 … 3.8.0
	bucketsUpstream           = []float64{25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000}
)

func sorted(s ...string) []string { slices.Sort(s); return s }

// Families exported whatever the plugin flags (reference §5.1, §5.3).
func alwaysFamilies(v3 bool) map[string]familySpec {
	if !v3 {
		return map[string]familySpec{
			"kong_datastore_reachable":                {typ: gauge},
			"kong_nginx_metric_errors_total":          {typ: counter},
			"kong_nginx_http_current_connections":     {typ: gauge, labels: sorted("state")},
			"kong_memory_lua_shared_dict_bytes":       {typ: gauge, labels: sorted("shared_dict", "kong_subsystem")},
			"kong_memory_lua_shared_dict_total_bytes": {typ: gauge, labels: sorted("shared_dict", "kong_subsystem")},
			"kong_memory_workers_lua_vms_bytes":       {typ: gauge, labels: sorted("pid", "kong_subsystem")},
		}
	}
	return map[string]familySpec{
		"kong_datastore_reachable":                {typ: gauge},
		"kong_nginx_metric_errors_total":          {typ: counter},
		"kong_nginx_connections_total":            {typ: gauge, labels: sorted("node_id", "subsystem", "state")},
		"kong_nginx_requests_total":               {typ: gauge, labels: sorted("node_id", "subsystem")},
		"kong_nginx_timers":                       {typ: gauge, labels: sorted("state")},
		"kong_node_info":                          {typ: gauge, labels: sorted("node_id", "version")},
		"kong_memory_lua_shared_dict_bytes":       {typ: gauge, labels: sorted("node_id", "shared_dict", "kong_subsystem")},
		"kong_memory_lua_shared_dict_total_bytes": {typ: gauge, labels: sorted("node_id", "shared_dict", "kong_subsystem")},
		"kong_memory_workers_lua_vms_bytes":       {typ: gauge, labels: sorted("node_id", "pid", "kong_subsystem")},
	}
}

// gatedFamilies are the 3.x families behind the flags, with or without workspace, with
// kong_kong_latency_ms's buckets of the version.
func gatedFamilies(workspace bool, kongBuckets []float64) map[string]familySpec {
	ws := func(l ...string) []string {
		if workspace {
			l = append(l, "workspace")
		}
		return sorted(l...)
	}
	return map[string]familySpec{
		"kong_http_requests_total":    {typ: counter, labels: ws("service", "route", "code", "source", "consumer")},
		"kong_kong_latency_ms":        {typ: histogram, labels: ws("service", "route"), buckets: kongBuckets},
		"kong_upstream_latency_ms":    {typ: histogram, labels: ws("service", "route"), buckets: bucketsUpstream},
		"kong_request_latency_ms":     {typ: histogram, labels: ws("service", "route"), buckets: bucketsUpstream},
		"kong_bandwidth_bytes":        {typ: counter, labels: ws("service", "route", "direction", "consumer")},
		"kong_upstream_target_health": {typ: gauge, labels: sorted("upstream", "target", "address", "state", "subsystem")},
	}
}

var legacyGated = map[string]familySpec{
	"kong_http_status":            {typ: counter, labels: sorted("service", "route", "code")},
	"kong_latency":                {typ: histogram, labels: sorted("service", "route", "type"), buckets: bucketsKong28},
	"kong_bandwidth":              {typ: counter, labels: sorted("service", "route", "type")},
	"kong_upstream_target_health": {typ: gauge, labels: sorted("upstream", "target", "address", "state", "subsystem")},
}

func merge(ms ...map[string]familySpec) map[string]familySpec {
	out := map[string]familySpec{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func only(m map[string]familySpec, names ...string) map[string]familySpec {
	out := map[string]familySpec{}
	for _, n := range names {
		out[n] = m[n]
	}
	return out
}

// Fast traffic, so every route has requests within a few milliseconds.
var busy = &sim.File{Traffic: sim.Traffic{RPS: 2000, ErrorRatio: 0.05, P50Ms: 30, P99Ms: 300, Seed: 3}}

func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	pg := postgres(t)
	routeScoped := `INSERT INTO plugins (id, created_at, name, config, enabled, route_id, ws_id)
		VALUES (gen_random_uuid(), now(), 'prometheus', '{"status_code_metrics": true}', true,
		        (SELECT id FROM routes WHERE name = 'users-api'), (SELECT id FROM workspaces))`
	for _, tc := range []struct {
		name    string
		version string
		sql     []string
		want    map[string]familySpec
		lines   []string // exact lines (label order included) that must appear, as prefixes
		check   func(t *testing.T, fams map[string]*dto.MetricFamily)
	}{
		{
			name: "2.8.5", version: "2.8.5", sql: []string{globalPrometheus(`{"per_consumer": false}`)},
			want: merge(alwaysFamilies(false), legacyGated),
			lines: []string{
				`kong_http_status{service="orders",route="orders-api",code="200"} `,
				`kong_latency_bucket{service="orders",route="orders-api",type="request",le="25"} `,
				`kong_latency_bucket{service="orders",route="orders-api",type="kong",le="+Inf"} `,
				`kong_bandwidth{service="orders",route="orders-api",type="egress"} `,
				`kong_nginx_http_current_connections{state="active"} `,
				`kong_upstream_target_health{upstream="orders.internal",target="10.1.0.5:8080",address="10.1.0.5:8080",state="healthchecks_off",subsystem="http"} 1`,
			},
		},
		{
			name: "2.8.5 per consumer", version: "2.8.5", sql: []string{globalPrometheus(`{"per_consumer": true}`)},
			want: merge(alwaysFamilies(false), legacyGated, map[string]familySpec{
				"kong_http_consumer_status": {typ: counter, labels: sorted("service", "route", "code", "consumer")}}),
			lines: []string{`kong_http_consumer_status{service="orders",route="orders-api",code="200",consumer="alice"} `},
		},
		{
			name: "2.8.5 without the plugin", version: "2.8.5",
			want: alwaysFamilies(false),
		},
		{
			name: "3.4.2 all flags", version: "3.4.2", sql: []string{globalPrometheus(allFlags)},
			want: merge(alwaysFamilies(true), gatedFamilies(false, bucketsKongLatency30)),
			lines: []string{
				`kong_http_requests_total{service="orders",route="orders-api",code="200",source="service",consumer=""} `,
				`kong_http_requests_total{service="orders",route="orders-api",code="502",source="kong",consumer=""} `,
				`kong_request_latency_ms_bucket{service="orders",route="orders-api",le="25"} `,
				`kong_kong_latency_ms_bucket{service="orders",route="orders-api",le="1"} `,
				`kong_bandwidth_bytes{service="users",route="users-api",direction="ingress",consumer=""} `,
				`kong_datastore_reachable 1`,
				`kong_nginx_metric_errors_total 0`,
				`kong_node_info{node_id="`,
				`kong_nginx_timers{state="pending"} `,
			},
		},
		{
			name: "3.4.2 flags off", version: "3.4.2", sql: []string{globalPrometheus(`{}`)},
			want: alwaysFamilies(true),
		},
		{
			// Upgraded from 2.8: the plugin keeps 2.8's config (no migration adds the flags),
			// so 3.x exports no request, latency, bandwidth or target-health family.
			name: "3.4.2 with 2.8's config, after an upgrade", version: "3.4.2", sql: []string{globalPrometheus(`{"per_consumer": false}`)},
			want: alwaysFamilies(true),
		},
		{
			name: "3.4.2 only status codes, per consumer", version: "3.4.2",
			sql:   []string{globalPrometheus(`{"status_code_metrics": true, "per_consumer": true}`)},
			want:  merge(alwaysFamilies(true), only(gatedFamilies(false, bucketsKongLatency30), "kong_http_requests_total")),
			lines: []string{`kong_http_requests_total{service="orders",route="orders-api",code="200",source="service",consumer="alice"} `},
		},
		{
			name: "3.4.2 plugin on one route", version: "3.4.2", sql: []string{routeScoped},
			want: merge(alwaysFamilies(true), only(gatedFamilies(false, bucketsKongLatency30), "kong_http_requests_total")),
			check: func(t *testing.T, fams map[string]*dto.MetricFamily) {
				for _, m := range fams["kong_http_requests_total"].GetMetric() {
					if r := labelValue(m, "route"); r != "users-api" {
						t.Errorf("kong_http_requests_total has route %q; only users-api has the plugin", r)
					}
				}
			},
		},
		{
			name: "3.4.2 disabled plugin", version: "3.4.2",
			sql:  []string{strings.Replace(globalPrometheus(allFlags), "', true,", "', false,", 1)},
			want: alwaysFamilies(true),
		},
		{
			name: "3.7.0 all flags", version: "3.7.0", sql: []string{globalPrometheus(allFlags)},
			want: merge(alwaysFamilies(true), gatedFamilies(true, bucketsKongLatency30)),
			lines: []string{
				`kong_http_requests_total{service="orders",route="orders-api",code="200",source="service",workspace="default",consumer=""} `,
				`kong_request_latency_ms_bucket{service="orders",route="orders-api",workspace="default",le="400"} `,
				`kong_bandwidth_bytes{service="orders",route="orders-api",direction="egress",workspace="default",consumer=""} `,
				`kong_node_info{node_id="`,
			},
		},
		{
			name: "3.8.1 all flags: two more Kong latency buckets", version: "3.8.1", sql: []string{globalPrometheus(allFlags)},
			want:  merge(alwaysFamilies(true), gatedFamilies(true, bucketsKongLatency)),
			lines: []string{`kong_kong_latency_ms_bucket{service="orders",route="orders-api",workspace="default",le="6000"} `},
		},
		{
			name: "3.7.0 without the plugin", version: "3.7.0",
			want: alwaysFamilies(true),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newKongDB(t, pg, tc.sql...)
			n := startNode(t, nodeOptions{version: tc.version, db: &db, sim: busy})
			// Wait until every route has had traffic: 2000 rps, the quietest route gets > 15%.
			var body []byte
			eventually(t, 10*time.Second, "traffic on every route", func() error {
				body = scrape(t, n.admin)
				if got := requestsTotal(t, body); got < 1000 {
					return fmt.Errorf("%v requests so far", got)
				}
				return nil
			})
			for _, base := range []string{n.admin, n.status} {
				body := scrape(t, base)
				fams := parse(t, body)
				checkFamilies(t, fams, tc.want)
				for _, line := range tc.lines {
					if !containsLine(string(body), line) {
						t.Errorf("%s/metrics has no line starting %q", base, line)
					}
				}
				if tc.check != nil {
					tc.check(t, fams)
				}
				if node := fams["kong_node_info"]; node != nil {
					m := node.GetMetric()[0]
					if labelValue(m, "node_id") != n.nodeID || labelValue(m, "version") != tc.version || m.GetGauge().GetValue() != 1 {
						t.Errorf("kong_node_info = %v", m)
					}
				}
			}
		})
	}
}

// scrape fetches /metrics and checks its Content-Type.
func scrape(t *testing.T, base string) []byte {
	t.Helper()
	code, ct, body := get(t, base+"/metrics")
	if code != http.StatusOK || ct != "text/plain; charset=UTF-8" {
		t.Fatalf("GET %s/metrics = %d, Content-Type %q", base, code, ct)
	}
	return body
}

func parse(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	return fams
}

// requestsTotal is the node's request count, from the family its version has.
func requestsTotal(t *testing.T, body []byte) float64 {
	fams := parse(t, body)
	if f := fams["kong_nginx_requests_total"]; f != nil {
		return f.GetMetric()[0].GetGauge().GetValue()
	}
	for _, m := range fams["kong_nginx_http_current_connections"].GetMetric() {
		if labelValue(m, "state") == "total" {
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// checkFamilies compares the exposition with the reference: exactly the wanted families,
// each with its type, label names and buckets.
func checkFamilies(t *testing.T, fams map[string]*dto.MetricFamily, want map[string]familySpec) {
	t.Helper()
	var got, wantNames []string
	for n := range fams {
		got = append(got, n)
	}
	for n := range want {
		wantNames = append(wantNames, n)
	}
	sort.Strings(got)
	sort.Strings(wantNames)
	if !reflect.DeepEqual(got, wantNames) {
		t.Errorf("families\n got %v\nwant %v", got, wantNames)
	}
	for name, spec := range want {
		f := fams[name]
		if f == nil {
			continue
		}
		if f.GetType() != spec.typ {
			t.Errorf("%s: type %v, want %v", name, f.GetType(), spec.typ)
		}
		for _, m := range f.GetMetric() {
			var names []string
			for _, l := range m.GetLabel() {
				names = append(names, l.GetName())
			}
			sort.Strings(names)
			if !slices.Equal(names, spec.labels) {
				t.Errorf("%s: labels %v, want %v", name, names, spec.labels)
				break
			}
			if spec.typ == histogram {
				var bounds []float64
				for _, b := range m.GetHistogram().GetBucket() {
					bounds = append(bounds, b.GetUpperBound())
				}
				if !slices.Equal(bounds, append(slices.Clone(spec.buckets), math.Inf(1))) {
					t.Errorf("%s: buckets %v, want %v", name, bounds, spec.buckets)
					break
				}
			}
		}
	}
}

// containsLine reports whether some line of body starts with prefix.
func containsLine(body, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "\n")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

func TestExpositionFormat(t *testing.T) {
	e := newExposition()
	f := e.family("x_total", "counter", "A help\\text\nwith newline")
	f.add("", 1, "a", `quo"te`, "b", "back\\slash\nnl")
	f.add("", 2, "a", `quo"te`, "b", "back\\slash\nnl") // merged
	e.family("empty", "gauge", "never written")
	got := string(e.bytes())
	want := "# HELP x_total A help\\\\text\\nwith newline\n# TYPE x_total counter\n" +
		`x_total{a="quo\"te",b="back\\slash\nnl"} 3` + "\n"
	if got != want {
		t.Errorf("exposition\n got %q\nwant %q", got, want)
	}
	for v, want := range map[float64]string{25: "25", 0.5: "0.5", 1e6: "1000000", 123456789012: "123456789012"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
	if got := strconv.Quote(formatValue(60000)); got != `"60000"` {
		t.Errorf("le 60000 printed %s", got)
	}
}
