package traffic

import (
	"math"
	"sort"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/sim"
)

// The Prometheus plugin's bucket sets (reference §5.2, §5.3); the node package owns the
// real ones, these are copies so the generator is tested on the layouts it serves.
var (
	upstreamBuckets = []float64{25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000}
	kongBuckets     = []float64{1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000}
	legacyBuckets   = []float64{1, 2, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 1000, 2000, 5000, 10000, 30000, 60000}
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestLatencyQuantileIsPinned(t *testing.T) {
	for _, tc := range []struct {
		name     string
		p50, p99 float64
		bounds   []float64
		exactP50 bool // the layout lets the median be pinned too
	}{
		{"default traffic, 3.x", 20, 120, upstreamBuckets, true},
		{"p99 inside the wide 250-400 bucket", 40, 320, upstreamBuckets, true},
		{"p99 just above a bound", 30, 251, upstreamBuckets, true},
		{"p99 on a bound", 30, 400, upstreamBuckets, true},
		{"slow upstream", 300, 2500, upstreamBuckets, true},
		{"bad release p99", 40, 900, upstreamBuckets, true},
		{"2.8 bucket set", 20, 120, legacyBuckets, true},
		{"2.8 bucket set, 250-300", 40, 320, legacyBuckets, true},
		{"median and p99 in one bucket", 260, 380, upstreamBuckets, false},
		{"kong latency", 2, 9, kongBuckets, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLatency(tc.p50, tc.p99, tc.bounds)
			q99, q50 := l.Quantile(0.99), l.Quantile(0.5)
			t.Logf("configured p50=%g p99=%g: interpolated p50=%.4f (%.3f%%) p99=%.4f (%.4f%%)",
				tc.p50, tc.p99, q50, 100*(q50-tc.p50)/tc.p50, q99, 100*(q99-tc.p99)/tc.p99)
			if math.Abs(q99-tc.p99) > 1e-9*tc.p99 {
				t.Errorf("Quantile(0.99) = %v, want %v", q99, tc.p99)
			}
			if tc.exactP50 && math.Abs(q50-tc.p50) > 1e-9*tc.p50 {
				t.Errorf("Quantile(0.5) = %v, want %v", q50, tc.p50)
			}
			cdf := l.CDFAtBounds()
			if !sort.Float64sAreSorted(cdf) || cdf[0] < 0 || cdf[len(cdf)-1] > 1 {
				t.Errorf("CDF at bounds not a CDF: %v", cdf)
			}
		})
	}
}

func TestLatencyOutOfRange(t *testing.T) {
	// Beyond the last bound histogram_quantile caps at that bound.
	if got := NewLatency(100, 90000, upstreamBuckets).Quantile(0.99); got != 60000 {
		t.Errorf("p99 90000 on buckets up to 60000: Quantile = %v, want 60000", got)
	}
	// Far under the first bound the best is close to it, never above it.
	if got := NewLatency(1, 5, upstreamBuckets).Quantile(0.99); got > 25 {
		t.Errorf("p99 5 ms with a first bound of 25: Quantile = %v, want <= 25", got)
	}
	// p99 not above p50: the median is taken as half the p99.
	if got := NewLatency(200, 100, upstreamBuckets).Quantile(0.99); math.Abs(got-100) > 1e-9 {
		t.Errorf("p50 > p99: Quantile(0.99) = %v, want 100", got)
	}
}

// histogramQuantile is Prometheus' histogram_quantile over the increase of a histogram.
func histogramQuantile(q float64, before, after Histogram) float64 {
	total := float64(after.Count - before.Count)
	rank := q * total
	prevBound, prevCount := 0.0, 0.0
	for i, b := range after.Bounds {
		c := float64(after.Counts[i] - before.Counts[i])
		if c >= rank {
			return prevBound + (b-prevBound)*(rank-prevCount)/(c-prevCount)
		}
		prevBound, prevCount = b, c
	}
	return after.Bounds[len(after.Bounds)-1]
}

func TestGeneratorRatesAndQuantiles(t *testing.T) {
	tr := sim.Traffic{RPS: 137.5, ErrorRatio: 0.04, P50Ms: 40, P99Ms: 320, Seed: 7}
	routes := []Route{{"orders", "orders-api", "alice"}, {"orders", "orders-admin", ""}, {"users", "users-api", ""}}
	g := New(Config{Traffic: tr, Routes: routes, RequestBuckets: upstreamBuckets, KongBuckets: kongBuckets}, epoch)
	before := g.Snapshot(epoch)
	// Irregular steps, as scrapes arrive: 600 simulated seconds.
	now := epoch
	var prev Snapshot
	for i := 0; now.Before(epoch.Add(600 * time.Second)); i++ {
		now = now.Add(time.Duration(300+(i*7919)%1400) * time.Millisecond)
		snap := g.Snapshot(now)
		checkMonotone(t, prev, snap)
		prev = snap
	}
	after := g.Snapshot(now)
	elapsed := now.Sub(epoch).Seconds()

	var total, errors float64
	for _, s := range after.Series {
		for _, c := range s.Codes {
			total += float64(c.Count)
			if c.Code >= 500 {
				errors += float64(c.Count)
			}
		}
	}
	if rate := total / elapsed; math.Abs(rate-tr.RPS) > 0.001*tr.RPS {
		t.Errorf("request rate %.3f/s, want %.3f/s", rate, tr.RPS)
	}
	if ratio := errors / total; math.Abs(ratio-tr.ErrorRatio) > 0.001 {
		t.Errorf("5xx ratio %.4f, want %.4f", ratio, tr.ErrorRatio)
	}
	want := g.RequestLatency().Quantile(0.99)
	for i, s := range after.Series {
		got := histogramQuantile(0.99, before.Series[i].RequestLatency, s.RequestLatency)
		if math.Abs(got-want) > 0.01*want || math.Abs(got-tr.P99Ms) > 0.01*tr.P99Ms {
			t.Errorf("%s: histogram p99 %.2f, distribution %.2f, configured %g", s.Route.Route, got, want, tr.P99Ms)
		}
		if s.KongLatency.Count != s.RequestLatency.Count || s.UpstreamLatency.Count > s.RequestLatency.Count {
			t.Errorf("%s: counts request %d kong %d upstream %d", s.Route.Route, s.RequestLatency.Count, s.KongLatency.Count, s.UpstreamLatency.Count)
		}
		if s.IngressBytes == 0 || s.EgressBytes == 0 {
			t.Errorf("%s: no bandwidth", s.Route.Route)
		}
	}
	if after.Series[0].RequestLatency.Count <= after.Series[2].RequestLatency.Count {
		t.Errorf("first route should be the busiest: %d vs %d", after.Series[0].RequestLatency.Count, after.Series[2].RequestLatency.Count)
	}
	c := after.Connections
	if c.Active != c.Reading+c.Writing+c.Waiting || c.Writing < 1 || c.Accepted < c.Active {
		t.Errorf("connections inconsistent: %+v", c)
	}
}

func checkMonotone(t *testing.T, prev, cur Snapshot) {
	t.Helper()
	for i, s := range cur.Series {
		for _, h := range []Histogram{s.RequestLatency, s.UpstreamLatency, s.KongLatency} {
			for j := 1; j < len(h.Counts); j++ {
				if h.Counts[j] < h.Counts[j-1] {
					t.Fatalf("%s: buckets not cumulative: %v", s.Route.Route, h.Counts)
				}
			}
			if h.Counts[len(h.Counts)-1] > h.Count {
				t.Fatalf("%s: last bucket %d above count %d", s.Route.Route, h.Counts[len(h.Counts)-1], h.Count)
			}
		}
		if i >= len(prev.Series) {
			continue
		}
		p := prev.Series[i]
		if s.RequestLatency.Count < p.RequestLatency.Count || s.EgressBytes < p.EgressBytes {
			t.Fatalf("%s: counters went down", s.Route.Route)
		}
		for j := range s.RequestLatency.Counts {
			if s.RequestLatency.Counts[j] < p.RequestLatency.Counts[j] {
				t.Fatalf("%s: bucket %d went down", s.Route.Route, j)
			}
		}
	}
}

func TestSetTrafficCountsTheRateInForce(t *testing.T) {
	routes := []Route{{"svc", "r", ""}}
	g := New(Config{Traffic: sim.Traffic{RPS: 10, ErrorRatio: 0, P50Ms: 20, P99Ms: 120, Seed: 1},
		Routes: routes, RequestBuckets: upstreamBuckets, KongBuckets: kongBuckets}, epoch)
	g.SetTraffic(sim.Traffic{RPS: 100, ErrorRatio: 0.5, P50Ms: 20, P99Ms: 120, Seed: 1}, epoch.Add(10*time.Second))
	snap := g.Snapshot(epoch.Add(20 * time.Second))
	var total, errors uint64
	for _, c := range snap.Series[0].Codes {
		total += c.Count
		if c.Code >= 500 {
			errors += c.Count
		}
	}
	// 10 s at 10 rps, then 10 s at 100 rps with half 5xx; whole-number rounding per code.
	if total < 1100-8 || total > 1100 || errors < 500-3 || errors > 500 {
		t.Errorf("total %d (want 1100), 5xx %d (want 500)", total, errors)
	}
}

func TestRoutesRemovedKeepTheirSeries(t *testing.T) {
	g := New(Config{Traffic: sim.Traffic{RPS: 10, P50Ms: 20, P99Ms: 120, Seed: 1},
		Routes: []Route{{"a", "a1", ""}}, RequestBuckets: upstreamBuckets, KongBuckets: kongBuckets}, epoch)
	g.SetRoutes([]Route{{"b", "b1", ""}, {"b", "b1", ""}}, epoch.Add(10*time.Second))
	snap := g.Snapshot(epoch.Add(20 * time.Second))
	if len(snap.Series) != 2 {
		t.Fatalf("series %v", snap.Series)
	}
	if a, b := snap.Series[0].RequestLatency.Count, snap.Series[1].RequestLatency.Count; a < 99 || a > 100 || b < 99 || b > 100 {
		t.Errorf("a1 %d b1 %d, want 100 each", a, b)
	}
	if snap.Requests != 200 {
		t.Errorf("requests %d, want 200", snap.Requests)
	}
}

func TestEffective(t *testing.T) {
	base := sim.Traffic{RPS: 50, ErrorRatio: 0.002, P50Ms: 20, P99Ms: 120}
	v := facts.MustParseVersion("3.5.0")
	for _, tc := range []struct {
		name string
		bad  *sim.BadRelease
		want sim.Traffic
	}{
		{"no fault", nil, base},
		{"other version", &sim.BadRelease{Version: "3.4.2", ErrorRatio: 0.3, P99Ms: 900}, base},
		{"this version", &sim.BadRelease{Version: "3.5.0", ErrorRatio: 0.3, P99Ms: 900},
			sim.Traffic{RPS: 50, ErrorRatio: 0.3, P50Ms: 20, P99Ms: 900}},
		{"this version, p99 unchanged", &sim.BadRelease{Version: "3.5.0", ErrorRatio: 0.3},
			sim.Traffic{RPS: 50, ErrorRatio: 0.3, P50Ms: 20, P99Ms: 120}},
		{"garbage version", &sim.BadRelease{Version: "3.5", ErrorRatio: 0.3}, base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Effective(sim.File{Traffic: base, Faults: sim.Faults{BadRelease: tc.bad}}, v)
			if got != tc.want {
				t.Errorf("Effective = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSourceOf(t *testing.T) {
	for code, want := range map[int]string{200: "service", 404: "service", 500: "service", 502: "kong", 503: "service"} {
		if got := SourceOf(code); got != want {
			t.Errorf("SourceOf(%d) = %q, want %q", code, got, want)
		}
	}
}
