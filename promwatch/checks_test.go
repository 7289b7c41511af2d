package promwatch

import (
	"slices"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/config"
)

func TestDefaultChecks(t *testing.T) {
	sel := `cluster="prod-eu"`
	tests := []struct {
		version, baseline string
		want              map[string]string
	}{
		{"3.4.2", "", map[string]string{
			Check5xxRatio:         `(sum(rate(kong_http_requests_total{cluster="prod-eu", code=~"5.."}[1m])) or vector(0)) / sum(rate(kong_http_requests_total{cluster="prod-eu"}[1m]))`,
			CheckP99Latency:       `histogram_quantile(0.99, sum by (le) (rate(kong_request_latency_ms_bucket{cluster="prod-eu"}[1m])))`,
			CheckTraffic:          `sum(rate(kong_http_requests_total{cluster="prod-eu"}[1m]))`,
			CheckDatastore:        `min(kong_datastore_reachable{cluster="prod-eu"})`,
			CheckUnhealthyTargets: `sum(max by (upstream, target) (kong_upstream_target_health{cluster="prod-eu", state=~"unhealthy|dns_error"})) or on() (0 * min(kong_datastore_reachable{cluster="prod-eu"}))`,
		}},
		{"3.5.0", "3.4.2", map[string]string{
			CheckP99Latency: `histogram_quantile(0.99, sum by (le) (rate(kong_request_latency_ms_bucket{cluster="prod-eu"}[1m])))`,
		}},
		{"3.4.2", "2.8.5", map[string]string{ // compared with 2.8: the buckets both have
			Check5xxRatio:   `(sum(rate(kong_http_requests_total{cluster="prod-eu", code=~"5.."}[1m])) or vector(0)) / sum(rate(kong_http_requests_total{cluster="prod-eu"}[1m]))`,
			CheckP99Latency: `histogram_quantile(0.99, sum by (le) (rate(kong_request_latency_ms_bucket{cluster="prod-eu", le=~"0*(25|50|80|100|400|1000|2000|5000|10000|30000|60000)(\\.0*)?|\\+Inf"}[1m])))`,
		}},
		{"2.8.5", "", map[string]string{
			Check5xxRatio:   `(sum(rate(kong_http_status{cluster="prod-eu", code=~"5.."}[1m])) or vector(0)) / sum(rate(kong_http_status{cluster="prod-eu"}[1m]))`,
			CheckP99Latency: `histogram_quantile(0.99, sum by (le) (rate(kong_latency_bucket{cluster="prod-eu", type="request", le=~"0*(25|50|80|100|400|1000|2000|5000|10000|30000|60000)(\\.0*)?|\\+Inf"}[1m])))`,
			CheckTraffic:    `sum(rate(kong_http_status{cluster="prod-eu"}[1m]))`,
			CheckDatastore:  `min(kong_datastore_reachable{cluster="prod-eu"})`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.version+" against "+tt.baseline, func(t *testing.T) {
			checks, err := DefaultChecks(tt.version, tt.baseline, sel, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ch := range checks {
				names = append(names, ch.Name)
				if want, ok := tt.want[ch.Name]; ok && ch.Query != want {
					t.Errorf("%s:\n got %s\nwant %s", ch.Name, ch.Query, want)
				}
				if ch.Custom || len(ch.Families) == 0 {
					t.Errorf("%s: custom %v families %v", ch.Name, ch.Custom, ch.Families)
				}
			}
			if want := []string{Check5xxRatio, CheckP99Latency, CheckTraffic, CheckDatastore, CheckUnhealthyTargets}; !slices.Equal(names, want) {
				t.Errorf("checks %v, want %v", names, want)
			}
			th := map[string]string{}
			for _, ch := range checks {
				th[ch.Name] = joinThresholds(ch)
			}
			want := map[string]string{Check5xxRatio: "max 0.01", CheckP99Latency: "max 1.5× baseline (no baseline)",
				CheckTraffic: "min 0.5× baseline (no baseline)", CheckDatastore: "min 1", CheckUnhealthyTargets: "max 0"}
			for k, v := range want {
				if th[k] != v {
					t.Errorf("%s thresholds %q, want %q", k, th[k], v)
				}
			}
		})
	}
	if _, err := DefaultChecks("three", "", sel, time.Minute); err == nil {
		t.Error("a bad version gave no error")
	}
	if _, err := DefaultChecks("3.4.2", "three", sel, time.Minute); err == nil {
		t.Error("a bad baseline version gave no error")
	}
	checks, _ := DefaultChecks("3.4.2", "", "", 4*time.Second)
	if got := checks[2].Query; got != `sum(rate(kong_http_requests_total{}[4s]))` {
		t.Errorf("no selector: %s", got)
	}
	checks, _ = DefaultChecks("3.4.2", "", `{cluster="a",}`, 90*time.Second)
	if got := checks[2].Query; got != `sum(rate(kong_http_requests_total{cluster="a"}[1m30s]))` {
		t.Errorf("braced selector: %s", got)
	}
}

func joinThresholds(ch Check) string {
	out := ""
	for i, s := range thresholds(ch, nan()) {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

func TestChecksCustom(t *testing.T) {
	c := &config.Cluster{Name: "prod", Prometheus: config.Prometheus{Selector: `cluster="prod"`},
		Watch: config.Watch{Checks: []config.Check{
			{Name: "bandwidth", Query: `sum(rate(kong_bandwidth_bytes{ {{.Selector}} }[1m])) + sum(rate(kong_bandwidth_bytes{ {{.Selector}} }[5m]))`, Max: ptr(1e9)},
			{Name: "errors", Query: `sum(rate(my_errors{cluster="{{.Cluster}}"}[1m]))`, MaxRatioToBaseline: ptr(2.0)},
		}}}
	checks, err := Checks(c, "3.4.2", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 2 || !checks[0].Custom {
		t.Fatalf("checks %+v", checks)
	}
	if want := `sum(rate(kong_bandwidth_bytes{ cluster="prod" }[1m])) + sum(rate(kong_bandwidth_bytes{ cluster="prod" }[5m]))`; checks[0].Query != want {
		t.Errorf("query %s, want %s", checks[0].Query, want)
	}
	if !slices.Equal(checks[0].Families, []string{"kong_bandwidth_bytes"}) || len(checks[1].Families) != 0 {
		t.Errorf("families %v %v", checks[0].Families, checks[1].Families)
	}
	if checks[1].Query != `sum(rate(my_errors{cluster="prod"}[1m]))` || *checks[1].MaxRatio != 2 {
		t.Errorf("second check %+v", checks[1])
	}
	c.Watch.Checks = []config.Check{{Name: "bad", Query: `{{.Nope}}`}}
	if _, err := Checks(c, "3.4.2", "", time.Minute); err == nil {
		t.Error("a query that does not render gave no error")
	}
}

func TestRateWindow(t *testing.T) {
	for _, tt := range []struct {
		scrape, interval, want time.Duration
	}{
		{time.Second, 2 * time.Second, 4 * time.Second},
		{time.Second, time.Second, 4 * time.Second},
		{time.Second, 250 * time.Millisecond, 4 * time.Second},
		{1500 * time.Millisecond, 100 * time.Millisecond, 6 * time.Second},
		{1100 * time.Millisecond, 100 * time.Millisecond, 5 * time.Second},
		{15 * time.Second, 30 * time.Second, time.Minute},
		{30 * time.Second, 30 * time.Second, 2 * time.Minute},
		{time.Minute, 30 * time.Second, 4 * time.Minute},
	} {
		if got := RateWindow(tt.scrape, tt.interval); got != tt.want {
			t.Errorf("RateWindow(%s, %s) = %s, want %s", tt.scrape, tt.interval, got, tt.want)
		}
	}
}

func TestFlagFor(t *testing.T) {
	for name, want := range map[string]string{
		"kong_http_requests_total":       "status_code_metrics",
		"kong_request_latency_ms_bucket": "latency_metrics",
		"kong_kong_latency_ms_count":     "latency_metrics",
		"kong_upstream_latency_ms_sum":   "latency_metrics",
		"kong_bandwidth_bytes":           "bandwidth_metrics",
		"kong_upstream_target_health":    "upstream_health_metrics",
		"kong_ai_llm_tokens_total":       "ai_metrics",
		"kong_datastore_reachable":       "",
		"kong_http_status":               "",
	} {
		if got := flagFor(name); got != want {
			t.Errorf("flagFor(%s) = %q, want %q", name, got, want)
		}
	}
}

func TestMissingFamily(t *testing.T) {
	got := missingFamily("kong_http_requests_total", `{cluster="a"}`, []string{`"5xx ratio"`, `"traffic (req/s)"`}, true)
	want := `kong_http_requests_total has no series for {cluster="a"} (needed by "5xx ratio", "traffic (req/s)"): turn on status_code_metrics in the prometheus plugin's config (off by default since Kong 3.0)`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := missingFamily("kong_http_status", `{}`, []string{`"x"`}, false); !contains(got, "is the prometheus plugin enabled") {
		t.Errorf("2.8: %s", got)
	}
}

func TestChartFile(t *testing.T) {
	for in, want := range map[string]string{
		"5xx ratio": "5xx-ratio.png", "p99 latency (ms)": "p99-latency-ms.png", "traffic (req/s)": "traffic-req-s.png",
		"  ": "check.png", "Überlast": "berlast.png",
	} {
		if got := ChartFile(in); got != want {
			t.Errorf("ChartFile(%q) = %q, want %q", in, got, want)
		}
	}
}
