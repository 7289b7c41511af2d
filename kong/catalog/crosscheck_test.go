package catalog

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// The engine's catalog and kongsim's facts are written separately, each from Kong's source,
// so that a mistake in one is caught by the other: every test of drawbridge runs against
// kongsim, and a belief the two shared could never fail a test. crossCheck compares them
// release by release and names every entry they disagree on.

// crossCheck returns one line per disagreement between the catalog and kongsim's facts.
func crossCheck(c *Catalog, k *facts.Kong) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	var cv, kv []string
	for _, r := range c.Releases {
		cv = append(cv, r.Version.String())
	}
	for _, r := range k.Releases {
		kv = append(kv, r.Version.String())
	}
	for _, v := range cv {
		if !slices.Contains(kv, v) {
			add("release %s: in the catalog, not in kongsim's facts", v)
		}
	}
	for _, v := range kv {
		if !slices.Contains(cv, v) {
			add("release %s: in kongsim's facts, not in the catalog", v)
		}
	}
	for _, r := range c.Releases {
		fv, err := facts.ParseVersion(r.Version.String())
		if err != nil {
			add("release %s: kongsim cannot read it: %v", r.Version, err)
			continue
		}
		kr, ok := k.Release(fv)
		if !ok {
			continue
		}
		if !kr.Date.Equal(r.Date) {
			add("release %s: date %s in the catalog, %s in kongsim's facts", r.Version, r.Date.Format("2006-01-02"), kr.Date.Format("2006-01-02"))
		}
		if kr.LTS != r.LTS {
			add("release %s: LTS %v in the catalog, %v in kongsim's facts", r.Version, r.LTS, kr.LTS)
		}
		out = append(out, compareKnown(r.Version.String(), c.Known(r.Version), k.AllBundled(fv))...)
	}
	return out
}

// compareKnown compares what one release runs per subsystem: names in order, teardowns.
func compareKnown(v string, cat []Subsystem, sim []facts.Subsystem) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(v+": "+format, args...)) }
	type mig struct {
		name     string
		teardown bool
	}
	cs, ks := map[string][]mig{}, map[string][]mig{}
	var corder, korder []string
	for _, s := range cat {
		corder = append(corder, s.Name)
		for _, m := range s.Migrations {
			cs[s.Name] = append(cs[s.Name], mig{m.Name, m.Teardown})
		}
	}
	for _, s := range sim {
		korder = append(korder, s.Name)
		for _, m := range s.Migrations {
			ks[s.Name] = append(ks[s.Name], mig{m.Name, m.Teardown})
		}
	}
	for _, s := range corder {
		if _, ok := ks[s]; !ok {
			add("subsystem %s: the catalog has it, kongsim's facts do not", s)
		}
	}
	for _, s := range korder {
		if _, ok := cs[s]; !ok {
			add("subsystem %s: kongsim's facts have it, the catalog does not", s)
		}
	}
	if slices.Equal(slices.DeleteFunc(slices.Clone(corder), func(s string) bool { return ks[s] == nil }),
		slices.DeleteFunc(slices.Clone(korder), func(s string) bool { return cs[s] == nil })) == false {
		add("subsystem order: catalog %s, kongsim %s", strings.Join(corder, ","), strings.Join(korder, ","))
	}
	for _, s := range corder {
		km, ok := ks[s]
		if !ok {
			continue
		}
		cm := cs[s]
		find := func(list []mig, name string) (int, mig) {
			for i, m := range list {
				if m.name == name {
					return i, m
				}
			}
			return -1, mig{}
		}
		for i, m := range cm {
			j, o := find(km, m.name)
			switch {
			case j < 0:
				add("%s:%s: in the catalog, not in kongsim's facts", s, m.name)
			case j != i:
				add("%s:%s: position %d in the catalog, %d in kongsim's facts", s, m.name, i+1, j+1)
			case o.teardown != m.teardown:
				add("%s:%s: teardown %v in the catalog, %v in kongsim's facts", s, m.name, m.teardown, o.teardown)
			}
		}
		for _, m := range km {
			if j, _ := find(cm, m.name); j < 0 {
				add("%s:%s: in kongsim's facts, not in the catalog", s, m.name)
			}
		}
	}
	return out
}

// TestCatalogAgreesWithKongsim: the two data sets agree on every release and migration.
func TestCatalogAgreesWithKongsim(t *testing.T) {
	for _, d := range crossCheck(Default(), facts.Default()) {
		t.Errorf("the catalog and kongsim disagree: %s (find out which one Kong's source agrees with)", d)
	}
}

// TestCrossCheckSeesOneChange: changing one entry in either data set is reported, naming it.
func TestCrossCheckSeesOneChange(t *testing.T) {
	simYAML, err := facts.Raw()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		catalog    func(string) string // edits catalog.yaml
		facts      func(string) string // edits kongsim's kong.yaml
		wantInDiff string
	}{
		{"a teardown dropped from the catalog", func(s string) string {
			return strings.Replace(s, "{name: 016_280_to_300, since: 3.0.0, teardown: true}", "{name: 016_280_to_300, since: 3.0.0}", 1)
		}, nil, "3.4.2: core:016_280_to_300: teardown false in the catalog, true in kongsim's facts"},
		{"a migration dropped from kongsim", nil, func(s string) string {
			return strings.Replace(s, "    - {name: 021_340_to_350, since: 3.5.0}\n", "", 1)
		}, "3.5.0: core:021_340_to_350: in the catalog, not in kongsim's facts"},
		{"a migration moved to another release in kongsim", nil, func(s string) string {
			return strings.Replace(s, "{name: 004_320_to_330, since: 3.3.0}", "{name: 004_320_to_330, since: 3.4.0}", 1)
		}, "3.3.0: key-auth:004_320_to_330: in the catalog, not in kongsim's facts"},
		{"a release date changed in the catalog", func(s string) string {
			return strings.Replace(s, "{version: 3.5.0, date: 2023-11-08}", "{version: 3.5.0, date: 2023-11-09}", 1)
		}, nil, "release 3.5.0: date 2023-11-09 in the catalog, 2023-11-08 in kongsim's facts"},
		{"a plugin subsystem kongsim does not know", func(s string) string {
			return strings.Replace(s, "  session:\n", "  zz-custom:\n    - {name: 000_base_zz, since: 3.9.0}\n  session:\n", 1)
		}, nil, "3.9.0: subsystem zz-custom: the catalog has it, kongsim's facts do not"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			catText, simText := string(data), string(simYAML)
			if tc.catalog != nil {
				if catText = tc.catalog(catText); catText == string(data) {
					t.Fatal("the edit did not apply to catalog.yaml")
				}
			}
			if tc.facts != nil {
				if simText = tc.facts(simText); simText == string(simYAML) {
					t.Fatal("the edit did not apply to kongsim's kong.yaml")
				}
			}
			c, err := parse([]byte(catText))
			if err != nil {
				t.Fatal(err)
			}
			k, err := facts.Parse([]byte(simText))
			if err != nil {
				t.Fatal(err)
			}
			diff := crossCheck(c, k)
			if !slices.Contains(diff, tc.wantInDiff) {
				t.Errorf("the cross-check missed the change; want %q in:\n%s", tc.wantInDiff, strings.Join(diff, "\n"))
			}
		})
	}
}
