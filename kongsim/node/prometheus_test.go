package node

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kongsim/sim"
	"github.com/drawbridge/drawbridge/kongsim/traffic"
)

// TestPrometheusScrapesThreeNodes runs three nodes under a real Prometheus and checks what
// drawbridge's queries read: the request rate, the p99 latency, then the 5xx ratio and p99
// once the running version turns out to be a bad release.
func TestPrometheusScrapesThreeNodes(t *testing.T) {
	t.Parallel()
	const version = "3.4.2"
	// Counters are whole numbers, so a window's increase per series and bucket is off by up
	// to one request; at 1000 rps per node that is well under 1% of the p99 estimate.
	load := sim.Traffic{RPS: 1000, ErrorRatio: 0.01, P50Ms: 40, P99Ms: 320}
	bad := sim.BadRelease{Version: version, ErrorRatio: 0.3, P99Ms: 900}
	db := newKongDB(t, postgres(t), globalPrometheus(allFlags))
	var nodes []*testNode
	var targets []string
	for i := range 3 {
		tr := load
		tr.Seed = int64(i + 1)
		n := startNode(t, nodeOptions{version: version, db: &db, sim: &sim.File{Traffic: tr}})
		nodes = append(nodes, n)
		targets = append(targets, n.statusAddr)
	}
	start := time.Now()
	prom := testsvc.StartPrometheus(t, testsvc.PrometheusConfig{ScrapeInterval: time.Second, Targets: targets})

	const (
		rateQ  = `sum(rate(kong_http_requests_total[5s]))`
		p99Q   = `histogram_quantile(0.99, sum by (le) (rate(kong_request_latency_ms_bucket[5s])))`
		errorQ = `sum(rate(kong_http_requests_total{code=~"5.."}[5s])) / sum(rate(kong_http_requests_total[5s]))`
		nodesQ = `count(kong_node_info)`
	)
	query := func(q string) (float64, error) {
		s, err := prom.Query(t.Context(), q)
		if err != nil {
			return 0, err
		}
		if len(s) != 1 || math.IsNaN(s[0].Value) {
			return 0, fmt.Errorf("%s: %d samples %v", q, len(s), s)
		}
		return s[0].Value, nil
	}
	within := func(q string, want, tol float64) func() error {
		return func() error {
			got, err := query(q)
			if err != nil {
				return err
			}
			if math.Abs(got-want) > tol*want {
				return fmt.Errorf("%s = %.3f, want %.3f ±%.0f%%", q, got, want, 100*tol)
			}
			return nil
		}
	}

	// Measure once the 5 s window holds five scrapes of every node, so rate() does not
	// extrapolate from a partial window.
	eventually(t, 25*time.Second, "three nodes scraped for a full window", func() error {
		n, err := query(`count(count_over_time(kong_node_info[5s]) >= 5)`)
		if err == nil && n != 3 {
			err = fmt.Errorf("%v nodes with a full window", n)
		}
		return err
	})
	t.Logf("full window %.1fs after Prometheus started", time.Since(start).Seconds())
	eventually(t, 5*time.Second, "request rate", within(rateQ, 3*load.RPS, 0.10))
	rate, _ := query(rateQ)
	t.Logf("sum(rate(kong_http_requests_total[5s])) = %.2f, configured %.0f: error %+.2f%%", rate, 3*load.RPS, 100*(rate-3*load.RPS)/(3*load.RPS))

	wantP99 := traffic.NewLatency(load.P50Ms, load.P99Ms, upstreamLatencyBuckets).Quantile(0.99)
	eventually(t, 5*time.Second, "p99", within(p99Q, load.P99Ms, 0.10))
	p99, _ := query(p99Q)
	t.Logf("histogram_quantile(0.99) = %.2f ms; configured %.0f (error %+.2f%%); distribution's Quantile(0.99) %.4f (error %+.3f%%)",
		p99, load.P99Ms, 100*(p99-load.P99Ms)/load.P99Ms, wantP99, 100*(p99-wantP99)/wantP99)
	if math.Abs(p99-wantP99) > 0.05*wantP99 {
		t.Errorf("Prometheus p99 %.2f differs from the distribution's %.2f by more than 5%%", p99, wantP99)
	}
	ratio, err := query(errorQ)
	if err != nil || math.Abs(ratio-load.ErrorRatio) > 0.005 {
		t.Errorf("5xx ratio %v (%v), want %v", ratio, err, load.ErrorRatio)
	}

	flipped := time.Now()
	for _, n := range nodes {
		if err := sim.Update(string(n.prefix), func(f *sim.File) error { f.Faults.BadRelease = &bad; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "5xx ratio after the bad release", within(errorQ, bad.ErrorRatio, 0.10))
	t.Logf("5xx ratio within 10%% of %.2f %.1fs after the flip", bad.ErrorRatio, time.Since(flipped).Seconds())
	// Then measure once the window holds only samples scraped after the flip.
	eventually(t, 20*time.Second, "a window after the flip", func() error {
		oldest, err := query(`min(min_over_time(timestamp(kong_node_info)[5s:1s]))`)
		if err == nil && oldest < float64(flipped.Add(time.Second).UnixMilli())/1000 {
			err = fmt.Errorf("window starts %.1fs before the flip", float64(flipped.UnixMilli())/1000-oldest)
		}
		return err
	})
	eventually(t, 5*time.Second, "5xx ratio", within(errorQ, bad.ErrorRatio, 0.10))
	ratio, _ = query(errorQ)
	t.Logf("5xx ratio %.4f (bad release %.2f, error %+.2f%%)", ratio, bad.ErrorRatio, 100*(ratio-bad.ErrorRatio)/bad.ErrorRatio)
	eventually(t, 5*time.Second, "p99 after the bad release", within(p99Q, bad.P99Ms, 0.10))
	p99, _ = query(p99Q)
	t.Logf("p99 %.2f ms after the bad release (configured %.0f, error %+.2f%%)", p99, bad.P99Ms, 100*(p99-bad.P99Ms)/bad.P99Ms)
	if _, err := query(`sum(rate(kong_http_requests_total{code="502",source="kong"}[5s]))`); err != nil {
		t.Error(errors.Join(errors.New("no Kong-sourced 502s"), err))
	}
}
