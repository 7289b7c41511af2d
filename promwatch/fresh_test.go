package promwatch

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/internal/kongtest"
)

// TestBaselineFreshPrometheus takes baselines from a Prometheus that has just started
// scraping three kongsim nodes of 300 req/s each. Rates over a partly filled window read
// low (Prometheus extrapolates a series that starts inside the window by half a scrape
// interval only), so an average over the first points is well below 900 req/s. Every
// baseline must be within 5% of 900 or have no value and say why; one that leaves out most
// of its lookback says it is partial, and one taken before any full window waits for one.
func TestBaselineFreshPrometheus(t *testing.T) {
	t.Parallel()
	const perNode, truth = 300, 900.0
	e := newEnv(t, envOpts{name: "fresh", version: "3.4.2", before: func(kc *kongtest.Cluster) {
		kc.Set([]string{fmt.Sprintf("traffic.rps=%d", perNode)})
	}})
	e.watcher.Lookback = 24 * time.Second
	sel := e.cluster.Prometheus.Selector
	ctx := t.Context()
	// waitHistory polls until Prometheus has scraped every node for at least d.
	waitHistory := func(d time.Duration) {
		t.Helper()
		q := fmt.Sprintf(`count(count_over_time(kong_datastore_reachable{%s}[%s]) >= %d) == 3`, sel, d+2*scrape, int(d/scrape)+1)
		wctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
		defer cancel()
		if _, err := e.prom.WaitForSeries(wctx, q); err != nil {
			t.Fatal(err)
		}
	}
	take := func(stage string) (float64, bool, string) {
		t.Helper()
		b, err := e.watcher.Baseline(ctx, e.cluster, "3.4.2")
		if err != nil {
			t.Fatal(err)
		}
		v, ok := b.Values[CheckTraffic]
		note := b.Notes[CheckTraffic]
		t.Logf("%s: traffic baseline %v (value %v), note %q; all: %v %v", stage, v, ok, note, b.Values, b.Notes)
		if ok && math.Abs(v-truth) > 0.05*truth {
			t.Errorf("%s: traffic baseline %.0f req/s, want within 5%% of %.0f (note %q)", stage, v, truth, note)
		}
		if !ok && note == "" {
			t.Errorf("%s: no traffic baseline and no note saying why", stage)
		}
		return v, ok, note
	}

	// Right after the first rate: two samples of each series at most.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if _, err := e.prom.WaitForSeries(wctx, fmt.Sprintf(`sum(rate(kong_http_requests_total{%s}[4s]))`, sel)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if rep, err := e.watcher.CheckSeries(ctx, e.cluster, "3.4.2"); err != nil || len(rep.Problems) != 0 {
		t.Errorf("CheckSeries right after the first samples: %v %q", err, rep.Problems)
	}
	// No point has a full window yet: Baseline waits for one (4 s window, 1 s scrapes).
	start := time.Now()
	if _, ok, note := take("first samples"); !ok || !strings.HasPrefix(note, "partial: ") {
		t.Errorf("first samples: value %v, note %q, want a value marked partial", ok, note)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the baseline took %s, want at most a 4 s window and a 1 s scrape of waiting", d.Round(time.Millisecond))
	} else {
		t.Logf("first samples: the baseline took %s", d.Round(time.Millisecond))
	}

	// A few full windows, most of the 24 s lookback before the first scrape (partial until about 14 s).
	waitHistory(7 * time.Second)
	if _, ok, note := take("7s of samples"); !ok || !strings.HasPrefix(note, "partial: ") {
		t.Errorf("7s of samples: value %v, note %q, want a value marked partial", ok, note)
	}

	// The whole lookback has full windows: the normal case, no note.
	waitHistory(e.watcher.Lookback + 4*scrape + 2*time.Second)
	if _, ok, note := take("full lookback"); !ok || note != "" {
		t.Errorf("full lookback: value %v, note %q, want a value without a note", ok, note)
	}
}
