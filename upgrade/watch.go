package upgrade

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

// NodeWatcher is the watch when no metric checks are wired in: every interval until the
// watch's duration has passed, every node must answer the new version, ready, with its
// database reachable. failure_limit consecutive failing intervals make a breach, and so
// does a failing last reading. It resumes from the stored start time after a restart, and
// takes at least one reading, also when the watch ended while drawbridge was down (the
// nodes' past cannot be read back).
type NodeWatcher struct {
	Nodes Nodes
	Clock Clock
}

// Watch implements Watcher.
func (w *NodeWatcher) Watch(ctx context.Context, c *config.Cluster, req domain.WatchRequest) error {
	end := req.Started.Add(c.Watch.Duration.D())
	failures := 0
	for {
		now := w.Clock.Now()
		var bad []string
		for _, n := range c.Nodes {
			ictx, cancel := context.WithTimeout(ctx, min(c.Watch.Interval.D(), 5*time.Second))
			info, err := w.Nodes.Info(ictx, n)
			cancel()
			switch {
			case err != nil:
				bad = append(bad, words.NodeFailed(n.Name, err))
			case info.Version != req.Version:
				bad = append(bad, words.NodeAnswers(n.Name, info.Version))
			case !info.Ready:
				bad = append(bad, words.NodeNotReady(n.Name))
			}
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		last := !now.Before(end)
		var breach *domain.BreachError
		if len(bad) > 0 {
			failures++
			if failures >= c.Watch.FailureLimit || last {
				// The last reading must pass: at the end there is no later interval to wait for.
				breach = &domain.BreachError{Check: "nodes healthy", Value: strings.Join(bad, "; "),
					Threshold: words.NodesHealthyBreach(req.Version, failures)}
			}
		} else {
			failures = 0
		}
		if req.Report != nil {
			check := domain.CheckReport{Name: "nodes healthy", Result: "pass", Value: float64(len(c.Nodes) - len(bad)),
				Threshold: words.NodesHealthyThreshold(len(c.Nodes), req.Version), Baseline: math.NaN(), Failures: failures}
			if len(bad) > 0 {
				check.Result, check.Error = "fail", strings.Join(bad, "; ")
			}
			req.Report(domain.WatchReport{At: now, Ends: end, Checks: []domain.CheckReport{check}, Final: last || breach != nil, Breach: breach})
		}
		if breach != nil {
			return breach
		}
		if last {
			return nil // at least one reading, and the last one passed
		}
		wait := min(c.Watch.Interval.D(), end.Sub(now))
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-w.Clock.After(wait):
		}
	}
}
