package bot_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
)

// restartNode quits node i (kong quit waits until it has stopped), installs version when one
// is given, appends conf to its kong.conf and starts it again.
func (w *world) restartNode(i int, version string, conf map[string]string) {
	w.t.Helper()
	n := w.c.Nodes[i]
	w.c.Run("kong", "quit", "-p", n.Prefix)
	if version != "" {
		w.c.Run("install", "-p", n.Prefix, "--version", version)
	}
	w.c.AppendConf(i, conf)
	w.c.Run("kong", "start", "-c", n.Conf)
}

// TestNodesChangedBeforeTheWindow: a run approved ahead of its window; between the approval
// and the opening the nodes change. At the opening the gate checks them again: the run fails
// before downtime saying what changed, and nothing is stopped.
func TestNodesChangedBeforeTheWindow(t *testing.T) {
	t.Parallel()
	loads := map[string]string{"plugins": "key-auth,rate-limiting,cors,correlation-id,prometheus"}
	tests := []struct {
		name     string
		change   func(w *world)
		reason   string
		versions []string
	}{
		{"a node stopped", func(w *world) {
			w.c.Run("kong", "quit", "-p", w.c.Nodes[1].Prefix)
		}, "the nodes are not as they were when the run was prepared: kong-2: ", []string{"3.4.2", "down"}},
		{"a node restarted on another version", func(w *world) {
			w.restartNode(1, "3.4.1", nil)
		}, "the nodes are not as they were when the run was prepared: nodes answer different versions: 3.4.1 on kong-2; 3.4.2 on kong-1",
			[]string{"3.4.2", "3.4.1"}},
		{"every node restarted on another version", func(w *world) {
			w.restartNode(0, "3.4.1", nil)
			w.restartNode(1, "3.4.1", nil)
		}, "the nodes answer 3.4.1 now, not 3.4.2 as when the run was prepared", []string{"3.4.1", "3.4.1"}},
		{"every node's plugins changed", func(w *world) {
			w.restartNode(0, "", loads)
			w.restartNode(1, "", loads)
		}, "the nodes load correlation-id, cors, key-auth, prometheus, rate-limiting now, not every bundled plugin as when the run was prepared",
			[]string{"3.4.2", "3.4.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := fakeclock.New(time.Date(2026, 12, 2, 0, 11, 1, 0, time.UTC))
			w := aheadWorld(t, clock)
			w.command("U0OPERATOR", channel, "schedule test 3.5.0 next")
			approve := w.waitButton("approve")
			w.waitThread(1, "Approval needed for run 1")
			clock.Set(time.Date(2026, 12, 2, 0, 11, 2, 0, time.UTC))
			w.click("U0APPROVER", "approve", approve, "")
			w.ephemeralTo("U0APPROVER", "The downtime starts when window w opens, 2026-12-02 00:12 UTC.")

			tt.change(w)
			clock.Set(time.Date(2026, 12, 2, 0, 12, 0, 0, time.UTC))
			run := w.waitRun(1, domain.StateFailedBeforeDowntime)
			if !strings.Contains(run.Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", run.Reason, tt.reason)
			}
			if !run.DowntimeStart.IsZero() {
				t.Errorf("the downtime started at %s", run.DowntimeStart)
			}
			w.waitStatus(1, "failed before downtime")
			w.waitStatus(1, tt.reason)
			if got := w.c.CommandCount("stop"); got != 0 {
				t.Errorf("%d kong stop commands ran", got)
			}
			if got := w.c.Versions(); !slices.Equal(got, tt.versions) {
				t.Errorf("the nodes answer %v, want %v as the change left them", got, tt.versions)
			}
		})
	}
}
