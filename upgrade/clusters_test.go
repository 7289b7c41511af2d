package upgrade_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/storage"
)

// commandLog is kongsim's log of kong commands on node i.
func (c *cluster) commandLog(i int) string {
	b, _ := os.ReadFile(filepath.Join(c.Nodes[i].Prefix, "logs", "kongsim-commands.log"))
	return string(b)
}

// TestLoadedPluginsAndForce: a cluster loading an explicit plugins list is upgraded 3.6.1 →
// 3.7.1. Only the loaded plugins' migrations are planned and checked; ai-proxy, loaded and
// new to the database in 3.7, makes "up" run with -f; "finish" runs plain although its
// command template has {{if .Force}}-f{{end}} too.
func TestLoadedPluginsAndForce(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 2, version: "3.6.1", kongConf: map[string]string{"plugins": "key-auth,rate-limiting,prometheus,ai-proxy"}})
	h := newHarness(t, c, nil)
	run := h.startToGate("3.7.1")
	steps := h.steps(run.ID)
	if d := steps["preflight"].Details["check.nodes answer"]; !strings.Contains(d, "they load ai-proxy, key-auth, prometheus, rate-limiting") {
		t.Errorf("preflight: %q", d)
	}
	ev := steps["evaluate"]
	if ev.Details["new_plugins"] != "ai-proxy" || ev.Details["force"] != "true" {
		t.Errorf("evaluate: new plugins %q, force %q; want ai-proxy, true", ev.Details["new_plugins"], ev.Details["force"])
	}
	if !strings.Contains(ev.OutputTail, "migrations up runs 2 migrations: core:023_360_to_370, ai-proxy:001_360_to_370") {
		t.Errorf("evaluate output:\n%s", ev.OutputTail)
	}
	if _, err := h.engine.Approve(t.Context(), run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, storage.StateAwaitingDecommission)
	c.WantVersions("3.7.1")
	var up, finish string
	for _, l := range strings.Split(c.commandLog(0), "\n") {
		switch {
		case strings.Contains(l, "kong migrations up"):
			up = l
		case strings.Contains(l, "kong migrations finish"):
			finish = l
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(up), " -f") {
		t.Errorf("migrations up without -f: %q", up)
	}
	if finish == "" || strings.Contains(finish, " -f") {
		t.Errorf("migrations finish: %q, want it run plain", finish)
	}
	if _, err := h.engine.Decommission(t.Context(), run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, storage.StateSucceeded)
}
