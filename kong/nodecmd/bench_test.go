package nodecmd

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkStopStartNodes is the stop and start phases of an upgrade: one RunAll of N
// "stop" jobs, then one of N "start" jobs, each a real process that takes 1s
// (/bin/sleep 1). With Parallelism N the ideal is 2s per op; the goal is each phase
// within 10% of its slowest command. Metrics:
//
//	stop-s, start-s  each phase's wall time
//	ideal-s          the wall time with no overhead: 2 phases × ⌈N/P⌉ × 1s
//	overhead-%       wall time per op over ideal
//	phase-over-%     the worst phase's wall time over its slowest command's own
//	                 duration (reported when every command runs at once, P ≥ N)
func BenchmarkStopStartNodes(b *testing.B) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		b.Skip("no sleep program:", err)
	}
	for _, tc := range []struct{ nodes, parallelism int }{{1, 1}, {10, 10}, {50, 50}, {200, 200}, {50, 10}} {
		b.Run(fmt.Sprintf("nodes=%d/parallelism=%d", tc.nodes, tc.parallelism), func(b *testing.B) {
			r := &Runner{OutputDir: b.TempDir(), Parallelism: tc.parallelism, Timeout: time.Minute}
			stop, start := make([]Job, tc.nodes), make([]Job, tc.nodes)
			for i := range tc.nodes {
				node := fmt.Sprintf("kong-%d", i+1)
				stop[i] = Job{Action: "stop", Node: node, Argv: []string{sleep, "1"}}
				start[i] = Job{Action: "start", Node: node, Argv: []string{sleep, "1"}}
			}
			waves := (tc.nodes + tc.parallelism - 1) / tc.parallelism
			ideal := time.Duration(2*waves) * time.Second
			var worstPhase float64
			var walls [2]time.Duration
			for b.Loop() {
				for i, jobs := range [][]Job{stop, start} {
					wall, over := phase(b, r, jobs)
					walls[i] += wall
					worstPhase = max(worstPhase, over)
				}
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(walls[0].Seconds()/float64(b.N), "stop-s")
			b.ReportMetric(walls[1].Seconds()/float64(b.N), "start-s")
			b.ReportMetric(ideal.Seconds(), "ideal-s")
			b.ReportMetric(100*(perOp.Seconds()-ideal.Seconds())/ideal.Seconds(), "overhead-%")
			if tc.parallelism >= tc.nodes {
				b.ReportMetric(100*worstPhase, "phase-over-%")
			}
		})
	}
}

// phase runs one RunAll and returns its wall time and how much longer, as a fraction, it
// took than its slowest command.
func phase(b *testing.B, r *Runner, jobs []Job) (time.Duration, float64) {
	start := time.Now()
	results := r.RunAll(context.Background(), jobs)
	wall := time.Since(start)
	var slowest time.Duration
	for _, res := range results {
		if res.Err != nil {
			b.Fatal(res.Err)
		}
		slowest = max(slowest, res.Duration)
	}
	return wall, wall.Seconds()/slowest.Seconds() - 1
}
