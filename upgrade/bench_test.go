package upgrade_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/upgrade"
)

// BenchmarkBotOverhead upgrades a kongsim cluster of 3 and of 50 nodes from 3.4.2 to
// 3.5.0 and reports the run's own measurements: the downtime (first stop issued → every
// node of Y ready), the commands' critical path, and drawbridge's overhead (the
// difference; goal: under 1 s). Each iteration sets up a fresh cluster, untimed.
func BenchmarkBotOverhead(b *testing.B) {
	for _, n := range []int{3, 50} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			var overhead, downtime, commands float64
			for range b.N {
				b.StopTimer()
				c := newCluster(b, clusterOpts{nodes: n, watch: time.Second, parallelism: n})
				h := newHarness(b, c, nil)
				b.StartTimer()
				run, err := h.engine.Start(b.Context(), upgrade.StartRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR"})
				if err != nil {
					b.Fatal(err)
				}
				h.waitState(run.ID, 5*time.Minute, domain.StateAwaitingApproval)
				if _, err := h.engine.Approve(b.Context(), run.ID, "U0APPROVER"); err != nil {
					b.Fatal(err)
				}
				done := h.waitState(run.ID, 5*time.Minute, domain.StateAwaitingDecommission)
				b.StopTimer()
				m := done.Facts.Measured
				overhead += m.Overhead.Seconds()
				downtime += m.Downtime.Seconds()
				commands += m.Commands.Seconds()
				h.engine.Close()
				c.KillNodes()
				b.StartTimer()
			}
			b.ReportMetric(overhead/float64(b.N), "overhead-s")
			b.ReportMetric(downtime/float64(b.N), "downtime-s")
			b.ReportMetric(commands/float64(b.N), "commands-s")
		})
	}
}
