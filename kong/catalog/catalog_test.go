package catalog

import (
	"slices"
	"strings"
	"testing"
)

func TestCoreMigrationCounts(t *testing.T) {
	// The reference's counts of core migrations per version (kong.md 2.3).
	cases := map[string]int{
		"2.8.0": 14, "2.8.5": 14, "3.0.0": 15, "3.1.1": 16, "3.2.2": 17, "3.3.1": 18,
		"3.4.0": 19, "3.4.2": 19, "3.5.0": 20, "3.6.1": 21, "3.7.0": 22, "3.8.1": 22, "3.9.0": 23, "3.9.3": 23,
	}
	c := Default()
	for v, want := range cases {
		known := c.Known(MustParseVersion(v))
		if known[0].Name != "core" {
			t.Fatalf("%s: first subsystem is %s", v, known[0].Name)
		}
		if got := len(known[0].Migrations); got != want {
			t.Errorf("%s: %d core migrations, want %d", v, got, want)
		}
	}
}

func TestPendingAfterUp(t *testing.T) {
	// kong.md 2.3: what "up" leaves pending on the two paths Kong's own upgrade tests use.
	cases := []struct {
		from, to string
		want     []string
	}{
		{"3.4.2", "3.9.3", []string{"acme:003_350_to_360", "ai-proxy:001_360_to_370", "opentelemetry:001_331_to_332",
			"rate-limiting:006_350_to_360", "response-ratelimiting:001_350_to_360"}},
		{"3.4.2", "3.5.0", nil},
		{"3.8.0", "3.8.1", nil},
	}
	c := Default()
	for _, tc := range cases {
		var got []string
		for _, m := range c.Between(MustParseVersion(tc.from), MustParseVersion(tc.to)) {
			if m.Teardown {
				got = append(got, m.Subsystem+":"+m.Name)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s → %s pending %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	var core []string
	for _, m := range c.Between(MustParseVersion("2.8.5"), MustParseVersion("3.0.0")) {
		core = append(core, m.Subsystem+":"+m.Name)
	}
	for _, want := range []string{"core:016_280_to_300", "http-log:001_280_to_300", "acme:001_280_to_300"} {
		if !slices.Contains(core, want) {
			t.Errorf("2.8.5 → 3.0.0 lacks %s: %v", want, core)
		}
	}
	if got := c.Between(MustParseVersion("3.7.1"), MustParseVersion("3.8.1")); len(got) != 0 {
		t.Errorf("3.7 → 3.8 has migrations %v; Kong 3.8 added none", got)
	}
}

func TestReleases(t *testing.T) {
	c := Default()
	if got := len(c.Releases); got != 30 {
		t.Errorf("%d releases", got)
	}
	if c.Latest().Version.String() != "3.9.3" {
		t.Errorf("latest %s", c.Latest().Version)
	}
	for v, lts := range map[string]bool{"2.8.5": true, "3.4.2": true, "3.5.0": false, "3.9.3": false} {
		r, ok := c.Release(MustParseVersion(v))
		if !ok || r.LTS != lts {
			t.Errorf("%s: found %v, LTS %v, want %v", v, ok, r.LTS, lts)
		}
	}
	if _, ok := c.Release(MustParseVersion("3.4.3")); ok {
		t.Error("3.4.3 is Enterprise only, not an OSS release")
	}
	// Plugins sort by name after core, as Kong orders subsystems.
	var names []string
	for _, s := range c.Subsystems[1:] {
		names = append(names, s.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("plugin subsystems out of order: %v", names)
	}
}

func TestParseVersion(t *testing.T) {
	for _, bad := range []string{"", "3.4", "3.4.x", "3.4.2.1", "3.04.2", "-1.0.0"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	v, err := ParseVersion("v3.10.0")
	if err != nil || v != (Version{3, 10, 0}) || v.Line() != "3.10" {
		t.Errorf("v3.10.0 → %v, %v", v, err)
	}
	if !MustParseVersion("3.9.3").Less(MustParseVersion("3.10.0")) {
		t.Error("3.9.3 not before 3.10.0")
	}
}

func TestBreakingBetween(t *testing.T) {
	got := Default().BreakingBetween(MustParseVersion("3.4.2"), MustParseVersion("3.6.1"))
	if len(got) != 2 || got["3.5"] == nil || got["3.6"] == nil {
		t.Fatalf("3.4.2 → 3.6.1 breaking lines %v", got)
	}
	if !strings.Contains(strings.Join(got["3.6"], " "), "status_listen") {
		t.Errorf("3.6 changes %v", got["3.6"])
	}
}

func TestPath(t *testing.T) {
	cases := []struct {
		from, to   string
		guaranteed bool
		kind, hops string
		err        string
	}{
		{"3.4.0", "3.4.2", true, "patch", "3.4.0 → 3.4.2", ""},
		{"3.4.2", "3.5.0", true, "adjacent minor", "3.4.2 → 3.5.0", ""},
		{"3.7.1", "3.8.0", true, "adjacent minor", "3.7.1 → 3.8.0", ""},
		{"2.8.5", "3.0.2", true, "adjacent minor", "2.8.5 → 3.0.2", ""},
		{"2.8.5", "3.4.2", true, "adjacent LTS", "2.8.5 → 3.4.2", ""},
		{"3.4.2", "3.6.1", false, "unverified", "3.4.2 → 3.5.0 → 3.6.1", ""},
		{"2.8.5", "3.6.1", false, "unverified", "2.8.5 → 3.4.2 → 3.5.0 → 3.6.1", ""},
		{"3.0.0", "3.3.1", false, "unverified", "3.0.0 → 3.1.1 → 3.2.2 → 3.3.1", ""},
		{"3.4.2", "3.4.2", false, "", "", "already runs 3.4.2"},
		{"3.5.0", "3.4.2", false, "", "", "downgrade"},
		{"3.4.2", "3.10.0", false, "", "", "not an OSS release"},
	}
	for _, tc := range cases {
		t.Run(tc.from+"→"+tc.to, func(t *testing.T) {
			p, err := Default().Path(MustParseVersion(tc.from), MustParseVersion(tc.to))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Guaranteed != tc.guaranteed || p.Kind != tc.kind || strings.Join(p.Versions(), " → ") != tc.hops {
				t.Errorf("got %v %s %s, want %v %s %s", p.Guaranteed, p.Kind, strings.Join(p.Versions(), " → "), tc.guaranteed, tc.kind, tc.hops)
			}
		})
	}
}
