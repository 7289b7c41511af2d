package facts

import (
	"strings"
	"testing"
)

func names(subs []Subsystem) map[string][]string {
	out := map[string][]string{}
	for _, s := range subs {
		for _, m := range s.Migrations {
			n := m.Name
			if m.Teardown {
				n += "+T"
			}
			out[s.Name] = append(out[s.Name], n)
		}
	}
	return out
}

// TestKnownFromKongsSource spot-checks facts read at Kong's tags, each against the file it
// came from (noted per case), so that a slip in kong.yaml shows here.
func TestKnownFromKongsSource(t *testing.T) {
	k := Default()
	cases := []struct {
		name    string
		version string
		loaded  []string // nil: every bundled plugin
		sub     string
		want    string // migration names, "+T" where the version's module has a teardown; "" absent
	}{
		// kong/db/migrations/core/init.lua at 3.4.2 ends with 020_330_to_340; 3.5.0 adds 021.
		{"core at 3.4.2", "3.4.2", nil, "core", "000_base 003_100_to_110 004_110_to_120 005_120_to_130+T 006_130_to_140 007_140_to_150 008_150_to_200+T 009_200_to_210+T 010_210_to_211 011_212_to_213 012_213_to_220+T 013_220_to_230 014_230_to_270 015_270_to_280 016_280_to_300+T 017_300_to_310 018_310_to_320 019_320_to_330 020_330_to_340"},
		// kong/plugins/jwt/migrations/003_200_to_210.lua returns operations.ws_migrate_plugin,
		// whose postgres table has a teardown.
		{"jwt's 003 has a teardown", "3.4.2", nil, "jwt", "000_base_jwt 002_130_to_140 003_200_to_210+T"},
		// kong/plugins/opentelemetry/migrations/init.lua appears at 3.6.1, not 3.6.0.
		{"opentelemetry absent at 3.6.0", "3.6.0", nil, "opentelemetry", ""},
		{"opentelemetry from 3.6.1", "3.6.1", nil, "opentelemetry", "001_331_to_332+T"},
		// acme's 003_350_to_360.lua got its teardown in 3.7.0 (Kong PR #12989, backported as
		// 7525cd491b): at 3.6.x up runs it whole.
		{"acme 003 without teardown in 3.6", "3.6.1", nil, "acme", "000_base_acme 001_280_to_300 002_320_to_330 003_350_to_360"},
		{"acme 003 with teardown from 3.7", "3.7.0", nil, "acme", "000_base_acme 001_280_to_300 002_320_to_330 003_350_to_360+T"},
		// state.lua only loads subsystems of loaded plugins.
		{"not loaded: no subsystem", "3.4.2", []string{"key-auth"}, "jwt", ""},
		{"loaded", "3.4.2", []string{"key-auth"}, "key-auth", "000_base_key_auth 002_130_to_140 003_200_to_210+T 004_320_to_330"},
		// An Enterprise build of 3.4 behaves as OSS 3.4.2 here.
		{"enterprise 3.4.3.12 as 3.4.2", "3.4.3.12", nil, "core", "000_base 003_100_to_110 004_110_to_120 005_120_to_130+T 006_130_to_140 007_140_to_150 008_150_to_200+T 009_200_to_210+T 010_210_to_211 011_212_to_213 012_213_to_220+T 013_220_to_230 014_230_to_270 015_270_to_280 016_280_to_300+T 017_300_to_310 018_310_to_320 019_320_to_330 020_330_to_340"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := MustParseVersion(tc.version)
			subs := k.AllBundled(v)
			if tc.loaded != nil {
				subs = k.Known(v, tc.loaded)
			}
			got := strings.Join(names(subs)[tc.sub], " ")
			if got != tc.want {
				t.Errorf("%s at %s:\n got %q\nwant %q", tc.sub, tc.version, got, tc.want)
			}
		})
	}
}

func TestBundled(t *testing.T) {
	k := Default()
	count := map[string]int{"2.8.0": 36, "3.0.0": 37, "3.4.2": 37, "3.6.0": 43, "3.8.0": 44, "3.9.3": 45} // kong/constants.lua
	for ver, n := range count {
		if got := len(k.Bundled(MustParseVersion(ver))); got != n {
			t.Errorf("%s bundles %d plugins, want %d", ver, got, n)
		}
	}
	prio := func(ver, name string) int {
		for _, p := range k.Bundled(MustParseVersion(ver)) {
			if p.Name == name {
				return p.Priority
			}
		}
		return -1 << 31
	}
	for _, c := range []struct {
		ver, name string
		want      int
	}{{"2.8.5", "jwt", 1005}, {"3.0.0", "jwt", 1450}, {"3.8.1", "correlation-id", 1}, {"3.9.0", "correlation-id", 100001}, {"3.4.2", "post-function", -1000}} {
		if got := prio(c.ver, c.name); got != c.want {
			t.Errorf("%s's priority in %s = %d, want %d", c.name, c.ver, got, c.want)
		}
	}
	if k.IsBundled(MustParseVersion("3.5.0"), "ai-proxy") || !k.IsBundled(MustParseVersion("3.6.0"), "ai-proxy") {
		t.Error("ai-proxy is bundled from 3.6.0")
	}
}

// TestSubsystemOrder: core first, then plugins by name, as load_subsystems sorts them.
func TestSubsystemOrder(t *testing.T) {
	subs := Default().AllBundled(MustParseVersion("3.9.3"))
	if subs[0].Name != "core" {
		t.Fatalf("first subsystem %s", subs[0].Name)
	}
	for i := 2; i < len(subs); i++ {
		if subs[i-1].Name >= subs[i].Name {
			t.Errorf("%s before %s", subs[i-1].Name, subs[i].Name)
		}
	}
}

func TestVersions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{{"3.4.2", "3.4.2", false}, {"v3.9.3", "3.9.3", false}, {"3.4.3.12", "3.4.3.12", false}, {"3.4", "", true}, {"3.04.1", "", true}, {"3.4.x", "", true}} {
		v, err := ParseVersion(tc.in)
		if (err != nil) != tc.err || (err == nil && v.String() != tc.want) {
			t.Errorf("ParseVersion(%q) = %v, %v", tc.in, v, err)
		}
	}
	k := Default()
	if !k.Installable(MustParseVersion("3.4.3.12")) || k.Installable(MustParseVersion("3.4.3")) || k.Installable(MustParseVersion("3.10.0.0")) {
		t.Error("Installable: 3.4.3.12 (Enterprise on the 3.4 line) yes; 3.4.3 (no such OSS tag) and 3.10.0.0 (no OSS line) no")
	}
	if got := k.Base(MustParseVersion("3.4.3.12")); got.String() != "3.4.2" {
		t.Errorf("Base(3.4.3.12) = %s", got)
	}
	if !MustParseVersion("3.4.2").Less(MustParseVersion("3.4.3.12")) || !MustParseVersion("3.4.3.12").Less(MustParseVersion("3.5.0")) {
		t.Error("3.4.2 < 3.4.3.12 < 3.5.0")
	}
}
