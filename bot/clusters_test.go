package bot_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/testsvc"
)

// TestClustersPeopleRunInSlack: what a person in the channel sees when a cluster differs
// from a plain 3.4.2 one in the ways Kong users report: each refusal or failure says what
// Kong did in Kong's terms, and the buttons offered fit what is left to do.
func TestClustersPeopleRunInSlack(t *testing.T) {
	t.Parallel()
	customX := func(c *kongtest.Cluster) {
		for _, n := range c.Nodes {
			c.Run("install", "-p", n.Prefix, "--plugin", "custom-x@3.4.2")
			c.Run("kong", "start", "-c", n.Conf)
		}
	}
	cases := []struct {
		name string
		opts func(t *testing.T) worldOpts
		// play drives the run from "start test 3.5.0" on and checks what the channel shows.
		play func(t *testing.T, w *world)
	}{
		{
			name: "nodes load different plugins",
			opts: func(*testing.T) worldOpts {
				return worldOpts{nodeConf: map[int]map[string]string{1: {"plugins": "key-auth,rate-limiting,prometheus"}}}
			},
			play: func(t *testing.T, w *world) {
				w.waitStatus(1, "nodes load different plugins (plugins in kong.conf)")
				w.waitStatus(1, "kong-2 loads key-auth, prometheus, rate-limiting")
				w.waitRun(1, domain.StateFailedBeforeDowntime)
				w.c.WantVersions("3.4.2")
			},
		},
		{
			name: "Kong Enterprise",
			opts: func(*testing.T) worldOpts { return worldOpts{version: "3.4.3.12"} },
			play: func(t *testing.T, w *world) {
				w.waitStatus(1, "runs Kong Enterprise 3.4.3.12")
				w.waitStatus(1, "drawbridge upgrades Kong OSS only")
				w.waitRun(1, domain.StateFailedBeforeDowntime)
			},
		},
		{
			name: "another node takes the migrations lock",
			opts: func(*testing.T) worldOpts { return worldOpts{} },
			play: func(t *testing.T, w *world) {
				approve := w.waitButton("approve")
				w.c.Set([]string{"faults.lock_race=2s"}, 0)
				w.click("U0APPROVER", "approve", approve, "")
				w.waitRun(1, domain.StateNeedsAttention)
				w.waitThread(1, "another node held Kong's migrations lock")
				w.waitStatus(1, "find it, let it end, then Resume")
				resume := w.waitButton("resume")
				w.c.Set([]string{"faults.lock_race="}, 0)
				w.click("U0OPERATOR", "resume", resume, "")
				w.waitRun(1, domain.StateAwaitingDecommission)
				w.c.WantVersions("3.5.0")
			},
		},
		{
			name: "a custom plugin missing on Y",
			opts: func(*testing.T) worldOpts {
				return worldOpts{kongConf: map[string]string{"plugins": "bundled,custom-x"}, prepare: customX}
			},
			play: func(t *testing.T, w *world) {
				w.click("U0APPROVER", "approve", w.waitButton("approve"), "")
				w.waitRun(1, domain.StateNeedsAttention)
				w.waitThread(1, "custom-x plugin is enabled but not installed")
				rollback := w.waitButton("rollback")
				w.click("U0OPERATOR", "rollback", rollback, "")
				w.waitRun(1, domain.StateRolledBack)
				w.c.WantVersions("3.4.2")
			},
		},
		{
			name: "hybrid control planes",
			opts: func(t *testing.T) worldOpts {
				cp := func() map[string]string {
					return map[string]string{"role": "control_plane", "cluster_listen": fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))}
				}
				return worldOpts{nodeConf: map[int]map[string]string{0: cp(), 1: cp()}, promWatch: true, watch: 8 * time.Second, interval: 2 * time.Second}
			},
			play: func(t *testing.T, w *world) {
				approve := w.waitButton("approve")
				w.waitStatus(1, "the nodes are control planes: their data planes are not upgraded by this run")
				w.click("U0APPROVER", "approve", approve, "")
				w.waitThread(1, "data planes compatible")
				w.waitRun(1, domain.StateAwaitingDecommission)
				w.c.WantVersions("3.5.0")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.opts(t))
			if r := w.command("U0OPERATOR", channel, "start test 3.5.0"); r.status != 200 {
				t.Fatalf("start: %d %s", r.status, r.text)
			}
			tc.play(t, w)
		})
	}
}
