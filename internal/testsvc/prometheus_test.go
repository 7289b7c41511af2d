package testsvc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// serveGauge starts an HTTP target on 127.0.0.1 that exposes one gauge in the text format and
// returns its host:port.
func serveGauge(t *testing.T, name string, value float64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprintf(w, "# HELP %s A probe for testsvc.\n# TYPE %s gauge\n%s %g\n", name, name, name, value)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPrometheusScrapesPausesAndDies(t *testing.T) {
	t.Parallel()
	target := serveGauge(t, "drawbridge_testsvc_probe", 42.5)
	prom := StartPrometheus(t, PrometheusConfig{ScrapeInterval: time.Second, Targets: []string{target}})
	ctx := t.Context()

	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	start := time.Now()
	samples, err := prom.WaitForSeries(wctx, `drawbridge_testsvc_probe`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first sample after %v", time.Since(start).Round(100*time.Millisecond))
	if len(samples) != 1 {
		t.Fatalf("got %d samples, want 1: %+v", len(samples), samples)
	}
	s := samples[0]
	if s.Value != 42.5 || s.Metric["job"] != PrometheusJob || s.Metric["instance"] != target {
		t.Errorf("sample = %+v, want value 42.5, job %q, instance %q", s, PrometheusJob, target)
	}

	if err := prom.Pause(); err != nil {
		t.Fatal(err)
	}
	qctx, qcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = prom.Query(qctx, `up`)
	qcancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("query on a paused server: %v, want context.DeadlineExceeded", err)
	}
	if err := prom.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, err := prom.Query(ctx, `up`); err != nil {
		t.Errorf("query after Resume: %v", err)
	}

	if _, err := prom.Query(ctx, `sum(`); err == nil || !strings.Contains(err.Error(), "bad_data") {
		t.Errorf("bad PromQL: %v, want a bad_data error", err)
	}

	if err := prom.Kill(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := prom.Query(ctx, `up`); err == nil {
		t.Error("query on a killed server succeeded")
	} else if d := time.Since(start); d > time.Second {
		t.Errorf("query on a killed server failed only after %v: %v", d, err)
	}
}

func TestPrometheusSetTargets(t *testing.T) {
	t.Parallel()
	first := serveGauge(t, "drawbridge_testsvc_first", 1)
	second := serveGauge(t, "drawbridge_testsvc_second", 2)
	prom := StartPrometheus(t, PrometheusConfig{Targets: []string{first}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	if err := prom.SetTargets(ctx, []string{second}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	samples, err := prom.WaitForSeries(ctx, `drawbridge_testsvc_second`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new target's first sample after %v", time.Since(start).Round(100*time.Millisecond))
	if samples[0].Value != 2 || samples[0].Metric["instance"] != second {
		t.Errorf("sample = %+v, want value 2 from %s", samples[0], second)
	}
	if err := prom.SetTargets(ctx, []string{"no-port"}); err == nil {
		t.Error("SetTargets with a target without a port succeeded")
	}
}

// TestPrometheusConfigIsValid checks rendered configs with promtool, which ships with the
// prometheus package.
func TestPrometheusConfigIsValid(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		skipOrFail(t, &MissingBinaryError{Binary: "promtool", Looked: "$PATH"})
	}
	for name, cfg := range map[string]PrometheusConfig{
		"defaults":   {},
		"targets":    {ScrapeInterval: 250 * time.Millisecond, Targets: []string{"127.0.0.1:1", "[::1]:2"}},
		"extra jobs": {ExtraScrapeConfigs: "- job_name: other\n  static_configs:\n  - targets: ['127.0.0.1:3']\n"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "prometheus.yml")
			if err := writeFileAtomic(path, cfg.withDefaults().yaml()); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(promtool, "check", "config", path).CombinedOutput(); err != nil {
				t.Errorf("promtool check config: %v\n%s\nconfig:\n%s", err, out, cfg.withDefaults().yaml())
			}
		})
	}
}

func TestToSamples(t *testing.T) {
	ts := model.TimeFromUnixNano(1700000000500000000)
	for _, tc := range []struct {
		name    string
		val     model.Value
		want    string
		wantErr string
	}{
		{"vector", model.Vector{{Metric: model.Metric{"__name__": "up"}, Value: 1, Timestamp: ts}}, "[{map[__name__:up] 1", ""},
		{"empty vector", model.Vector{}, "[]", ""},
		{"scalar", &model.Scalar{Value: 2.5, Timestamp: ts}, "[{map[] 2.5", ""},
		{"matrix", model.Matrix{}, "", "matrix not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toSamples(tc.val)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(fmt.Sprint(got), tc.want) {
				t.Errorf("got %+v, want prefix %s", got, tc.want)
			}
		})
	}
}
