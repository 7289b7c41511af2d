package upgrade_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/upgrade"
)

// BenchmarkPredictionError measures how far the downtime predicted at the gate is from the
// one measured, over ten kongsim upgrades of 3 to 20 nodes whose slow migration takes 0.5 s
// to 10 s. Each cluster first runs 3.4.2 → 3.5.0 (its history: how long its nodes take to
// stop, install and start), then 3.5.0 → 3.6.1 with core's 022_350_to_360 made slow
// (faults.migration_delay), rehearsed on a copy; the error of that second run is
// |predicted − measured| / measured (goal: within 20 %).
func BenchmarkPredictionError(b *testing.B) {
	cases := []struct {
		nodes int
		delay time.Duration
	}{{3, 500 * time.Millisecond}, {5, time.Second}, {8, 2 * time.Second}, {10, 3 * time.Second}, {12, 4 * time.Second},
		{15, 5 * time.Second}, {20, 6 * time.Second}, {3, 8 * time.Second}, {10, 10 * time.Second}, {20, time.Second}}
	for range b.N {
		var errs []float64
		for _, tc := range cases {
			b.StopTimer()
			c := newCluster(b, clusterOpts{nodes: tc.nodes, parallelism: tc.nodes, watch: time.Second, rehearsal: true})
			h := newHarness(b, c, nil)
			h.upgradeTo(upgrade.StartRequest{To: "3.5.0"})
			c.Set([]string{fmt.Sprintf("faults.migration_delay=core:022_350_to_360=%s", tc.delay)})
			b.StartTimer()
			run := h.upgradeTo(upgrade.StartRequest{To: "3.6.1"})
			b.StopTimer()
			p, m := run.Facts.Prediction, run.Facts.Measured
			if p == nil || m.Parts == nil || p.Migrations != "rehearsal" || p.Runs != 1 {
				b.Fatalf("prediction %+v, measured %+v", p, m)
			}
			e := (p.Total() - m.Downtime).Seconds() / m.Downtime.Seconds()
			errs = append(errs, max(e, -e))
			b.Logf("nodes %2d delay %5s: predicted %7s (up %s finish %s), measured %7s (up %s finish %s): %+.1f %%",
				tc.nodes, tc.delay, p.Total(), p.Up, p.Finish, m.Downtime, m.Parts.Up, m.Parts.Finish, 100*e)
			h.engine.Close()
			c.KillNodes()
			b.StartTimer()
		}
		slices.Sort(errs)
		b.ReportMetric(100*(errs[len(errs)/2-1]+errs[len(errs)/2])/2, "median-error-%")
		b.ReportMetric(100*errs[len(errs)-1], "worst-error-%")
	}
}

// BenchmarkRehearsalVsRestore compares the time the rehearsal adds before the gate (copy
// the backup into a scratch database, Y's migrations there, drop it) with a plain
// createdb + pg_restore of the same archive (goal: at most 1.2×), on a cluster seeded with
// 2,000 services, 8,000 routes and 20,000 consumers.
func BenchmarkRehearsalVsRestore(b *testing.B) {
	services(b)
	kc := kongtest.New(b, kongtest.Options{Nodes: 1, PG: sharedPG, Services: 2000, Routes: 4, Consumers: 20000})
	path, cfg := kc.WriteConfig(kongtest.ConfigOptions{PrometheusURL: sharedProm.URL(), Rehearsal: true})
	c := &cluster{Cluster: kc, t: b, cfgPath: path, cfg: cfg}
	h := newHarness(b, c, nil)
	var rehearsal, plain time.Duration
	for i := range b.N {
		run, err := h.engine.Start(b.Context(), upgrade.StartRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR"})
		if err != nil {
			b.Fatal(err)
		}
		run = h.waitState(run.ID, 5*time.Minute, domain.StateAwaitingApproval)
		rec := h.steps(run.ID)["rehearsal"]
		rehearsal += rec.EndedAt.Sub(rec.StartedAt)
		if i == 0 {
			b.Logf("rehearsal output:\n%s", rec.OutputTail)
		}
		plain += plainRestore(b, run.Facts.Backup.Path, fmt.Sprintf("plain_%d", i))
		if _, err := h.engine.Abort(b.Context(), run.ID, "U0OPERATOR"); err != nil {
			b.Fatal(err)
		}
		h.waitState(run.ID, time.Minute, domain.StateAborted)
	}
	b.ReportMetric(rehearsal.Seconds()/float64(b.N), "rehearsal-s")
	b.ReportMetric(plain.Seconds()/float64(b.N), "pg_restore-s")
	b.ReportMetric(rehearsal.Seconds()/plain.Seconds(), "ratio")
}

// plainRestore is what a person would run: createdb, then pg_restore of the archive into
// it; the database is dropped afterwards, untimed.
func plainRestore(b *testing.B, archive, name string) time.Duration {
	b.Helper()
	bin := sharedPG.BinDir()
	conn := fmt.Sprintf("host=%s port=%d user=%s", sharedPG.Host, sharedPG.Port, sharedPG.User)
	start := time.Now()
	for _, argv := range [][]string{
		{filepath.Join(bin, "createdb"), "--maintenance-db=" + conn + " dbname=postgres", "-h", sharedPG.Host, "-p", fmt.Sprint(sharedPG.Port), "-U", sharedPG.User, name},
		{filepath.Join(bin, "pg_restore"), "--exit-on-error", "--dbname=" + conn + " dbname=" + name, archive},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	took := time.Since(start)
	if out, err := exec.CommandContext(context.Background(), filepath.Join(bin, "dropdb"), "-h", sharedPG.Host, "-p", fmt.Sprint(sharedPG.Port), "-U", sharedPG.User, name).CombinedOutput(); err != nil {
		b.Fatalf("dropdb: %v\n%s", err, out)
	}
	return took
}

// BenchmarkChainDowntime compares the downtime of 3.4.2 → 3.7.1 as one chain with the
// downtimes of the three runs 3.4.2 → 3.5.0 → 3.6.1 → 3.7.1, on clusters of 5 nodes whose
// one slow migration per hop takes 2 s: nodes that start at once, and nodes that take 3 s
// to start (a real Kong loading a large configuration).
func BenchmarkChainDowntime(b *testing.B) {
	const slow = "faults.migration_delay=core:021_340_to_350=2s,core:022_350_to_360=2s,core:023_360_to_370=2s"
	for _, tc := range []struct{ name, start string }{{"start=0s", "faults.start_delay=0s"}, {"start=3s", "faults.start_delay=3s"}} {
		b.Run(tc.name, func(b *testing.B) {
			var chain, separate time.Duration
			for range b.N {
				b.StopTimer()
				c := newCluster(b, clusterOpts{nodes: 5, parallelism: 5, watch: time.Second})
				c.Set([]string{slow, tc.start})
				h := newHarness(b, c, nil)
				b.StartTimer()
				run := h.upgradeTo(upgrade.StartRequest{To: "3.7.1", Chain: true})
				b.StopTimer()
				chain += run.Facts.Measured.Downtime

				c2 := newCluster(b, clusterOpts{nodes: 5, parallelism: 5, watch: time.Second})
				c2.Set([]string{slow, tc.start})
				h2 := newHarness(b, c2, nil)
				b.StartTimer()
				for _, v := range chainHops {
					separate += h2.upgradeTo(upgrade.StartRequest{To: v}).Facts.Measured.Downtime
				}
				b.StopTimer()
				h.engine.Close()
				h2.engine.Close()
				c.KillNodes()
				c2.KillNodes()
				b.StartTimer()
			}
			b.ReportMetric(chain.Seconds()/float64(b.N), "chain-downtime-s")
			b.ReportMetric(separate.Seconds()/float64(b.N), "three-runs-downtime-s")
			b.ReportMetric(chain.Seconds()/separate.Seconds(), "ratio")
		})
	}
}
