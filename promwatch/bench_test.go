package promwatch

import (
	"errors"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
)

// BenchmarkDetectionLatency measures, with 1 s scrapes, a 2 s watch interval and
// failure_limit 2, the time from switching the bad-release fault on (20% 5xx on the running
// 3.5.0) to the watch's breach. The goal is two intervals and one scrape: 5 s.
//
// Reported per detection: s-to-visible (until the built-in 5xx query first reads above
// 0.01 in Prometheus), s-to-breach (until the final report carries the BreachError),
// s-visible-to-breach, and s-to-return (until Watch returns it, after the charts; ns/op
// measures the same).
func BenchmarkDetectionLatency(b *testing.B) {
	e := newEnv(b, envOpts{name: "bench", version: "3.5.0"})
	e.waitRate("kong_http_requests_total")
	base, err := e.watcher.Baseline(b.Context(), e.cluster, "3.5.0")
	if err != nil {
		b.Fatal(err)
	}
	e.cluster.Watch.Duration = config.Duration(10 * time.Minute)
	var visible, breach, returned time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		w := e.startWatch(domain.WatchRequest{Run: domain.Run{ID: 9, Cluster: e.cluster.Name, From: "3.5.0", To: "3.5.0"},
			From: "3.5.0", Version: "3.5.0", Started: time.Now(), Baseline: base})
		w.waitCleanReport(b)
		b.StartTimer()

		e.kong.Set([]string{"faults.bad_release.version=3.5.0", "faults.bad_release.error_ratio=0.2"})
		faultAt := time.Now()
		vis := e.waitVisible(b.Context(), faultAt)
		err := w.wait(b, 30*time.Second)
		b.StopTimer()
		var br *domain.BreachError
		if !errors.As(err, &br) || br.Check != Check5xxRatio {
			b.Fatalf("Watch: %v, want a breach of the 5xx ratio", err)
		}
		w.mu.Lock()
		visible += vis.Sub(faultAt)
		breach += w.finalAt.Sub(faultAt)
		returned += w.doneAt.Sub(faultAt)
		w.mu.Unlock()

		e.kong.Set([]string{"faults.bad_release="})
		e.waitHealthy()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(visible.Seconds()/n, "s-to-visible")
	b.ReportMetric(breach.Seconds()/n, "s-to-breach")
	b.ReportMetric((breach-visible).Seconds()/n, "s-visible-to-breach")
	b.ReportMetric(returned.Seconds()/n, "s-to-return")
}

// waitHealthy waits until the cluster's 5xx ratio is back under 0.01.
func (e *env) waitHealthy() {
	e.t.Helper()
	checks, _ := DefaultChecks("3.5.0", "", e.cluster.Prometheus.Selector, RateWindow(scrape, interval))
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if s, err := e.prom.Query(e.t.Context(), checks[0].Query+" < 0.01"); err == nil && len(s) > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatal("the 5xx ratio did not come back under 0.01")
}
