package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/testsvc"
)

// TestPlanCommand: "drawbridge plan" against a kongsim cluster prints the dry run and
// exits 0 when the run could go ahead, 2 when it is refused, with the hops.
func TestPlanCommand(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	c := kongtest.New(t, kongtest.Options{Nodes: 2, PG: pg})
	prom := c.StartPrometheus(t) // the watch's series must exist
	path, _ := c.WriteConfig(kongtest.ConfigOptions{PrometheusURL: prom.URL()})
	cases := []struct {
		version  string
		code     int
		contains []string
	}{
		{"3.5.0", 0, []string{"plan: upgrade test from 3.4.2 to 3.5.0", "ok       nodes answer: all 2 nodes answer 3.4.2",
			"ok       version path: 3.4.2 → 3.5.0: adjacent minor, guaranteed by Kong", "up runs 1: core:021_340_to_350",
			"ok       watch metrics: every series the watch's checks need is there",
			"3.5 (https://github.com/Kong/kong/blob/master/CHANGELOG.md#350)", "watch baseline (last 30m0s)", "the run could go ahead"}},
		{"3.6.1", exitRefused, []string{"FAIL     version path", "3.4.2 → 3.5.0 → 3.6.1", "refused: version path"}},
		{"3.4.0", exitRefused, []string{"downgrade"}},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			var out bytes.Buffer
			code := run(t.Context(), []string{"plan", "--config", path, "test", tc.version}, &out, &out)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out.String())
			}
			for _, s := range tc.contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
	c.WantVersions("3.4.2")
}
