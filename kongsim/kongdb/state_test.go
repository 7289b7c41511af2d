package kongdb

import (
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

func TestDeriveState(t *testing.T) {
	sub := func(name string, migs ...string) facts.Subsystem {
		s := facts.Subsystem{Name: name, Namespace: "kong.plugins." + name + ".migrations"}
		for _, m := range migs {
			s.Migrations = append(s.Migrations, facts.Migration{Subsystem: name, Name: m})
		}
		return s
	}
	core := sub("core", "000_base", "001_x", "002_y", "003_z")
	acl := sub("acl", "000_base_acl")
	for _, tc := range []struct {
		name                              string
		rows                              map[string]metaRow
		bootstrap                         bool
		executed, pending, fresh, missing string
		upToDate                          bool
	}{
		{name: "no schema_meta", rows: nil, bootstrap: true,
			fresh: "core:000_base,001_x,002_y,003_z;acl:000_base_acl;"},
		{name: "bootstrapped, no rows", rows: map[string]metaRow{},
			fresh: "core:000_base,001_x,002_y,003_z;acl:000_base_acl;"},
		{name: "all executed", upToDate: true, rows: map[string]metaRow{
			"core": {LastExecuted: "003_z", Executed: []string{"000_base", "001_x", "002_y", "003_z"}},
			"acl":  {LastExecuted: "000_base_acl", Executed: []string{"000_base_acl"}}},
			executed: "core:000_base,001_x,002_y,003_z;acl:000_base_acl;"},
		{name: "pending keeps last_executed, later ones new", rows: map[string]metaRow{
			"core": {LastExecuted: "001_x", Executed: []string{"000_base", "001_x"}, Pending: []string{"002_y"}},
			"acl":  {LastExecuted: "000_base_acl", Executed: []string{"000_base_acl"}}},
			executed: "core:000_base,001_x;acl:000_base_acl;", pending: "core:002_y;", fresh: "core:003_z;"},
		{name: "up left pending only", upToDate: true, rows: map[string]metaRow{
			"core": {LastExecuted: "003_z", Executed: []string{"000_base", "001_x", "003_z"}, Pending: []string{"002_y"}},
			"acl":  {LastExecuted: "000_base_acl", Executed: []string{"000_base_acl"}}},
			executed: "core:000_base,001_x,003_z;acl:000_base_acl;", pending: "core:002_y;"},
		// state.lua sets n only on reaching last_executed: a gap before it is new.
		{name: "a gap before last_executed is new", rows: map[string]metaRow{
			"core": {LastExecuted: "003_z", Executed: []string{"000_base", "002_y", "003_z"}},
			"acl":  {LastExecuted: "000_base_acl", Executed: []string{"000_base_acl"}}},
			executed: "core:000_base,002_y,003_z;acl:000_base_acl;", fresh: "core:001_x;"},
		// Only last_executed's own migration, absent from both arrays, is missing.
		{name: "missing: last_executed itself absent", rows: map[string]metaRow{
			"core": {LastExecuted: "002_y", Executed: []string{"000_base", "001_x"}},
			"acl":  {LastExecuted: "000_base_acl", Executed: []string{"000_base_acl"}}},
			executed: "core:000_base,001_x;acl:000_base_acl;", missing: "core:002_y;", fresh: "core:003_z;"},
		{name: "rows and names the version does not know are ignored", upToDate: true, rows: map[string]metaRow{
			"core":     {LastExecuted: "009_future", Executed: []string{"000_base", "001_x", "002_y", "003_z", "009_future"}},
			"acl":      {LastExecuted: "000_base_acl", Executed: []string{"000_base_acl"}},
			"ai-proxy": {Pending: []string{"001_360_to_370"}}},
			executed: "core:000_base,001_x,002_y,003_z;acl:000_base_acl;"},
		{name: "subsystem without a row is all new", rows: map[string]metaRow{
			"core": {LastExecuted: "003_z", Executed: []string{"000_base", "001_x", "002_y", "003_z"}}},
			executed: "core:000_base,001_x,002_y,003_z;", fresh: "acl:000_base_acl;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := deriveState([]facts.Subsystem{core, acl}, tc.rows)
			if st.NeedsBootstrap != tc.bootstrap {
				t.Errorf("NeedsBootstrap = %v", st.NeedsBootstrap)
			}
			for _, c := range []struct{ what, got, want string }{
				{"executed", listString(st.Executed), tc.executed}, {"pending", listString(st.Pending), tc.pending},
				{"new", listString(st.New), tc.fresh}, {"missing", listString(st.Missing), tc.missing},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			if tc.upToDate != st.UpToDate() {
				t.Errorf("UpToDate = %v", st.UpToDate())
			}
		})
	}
}

func TestFormatMigrations(t *testing.T) {
	list := []SubsystemMigrations{
		{Subsystem: "core", Migrations: []facts.Migration{{Name: "000_base"}, {Name: "003_100_to_110"}}},
		{Subsystem: "rate-limiting", Migrations: []facts.Migration{{Name: "000_base_rate_limiting"}}},
	}
	want := "         core: 000_base, 003_100_to_110\nrate-limiting: 000_base_rate_limiting"
	if got := FormatMigrations(list); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestStatusJSON(t *testing.T) {
	st := deriveState(known("3.4.2"), nil)
	got := string(StatusJSON(st))
	if !strings.HasPrefix(got, `{"needs_bootstrap":true,"new_migrations":[{"subsystem":"core","namespace":"kong.db.migrations.core","migrations":["000_base",`) {
		t.Errorf("status JSON: %s", got)
	}
	for _, absent := range []string{"executed_migrations", "pending_migrations", "missing_migrations"} {
		if strings.Contains(got, absent) {
			t.Errorf("%s present though empty: %s", absent, got)
		}
	}
}

func TestMatchesFault(t *testing.T) {
	for _, tc := range []struct {
		fault, sub, name string
		want             bool
	}{
		{"016_280_to_300", "core", "016_280_to_300", true},
		{"core:016_280_to_300", "core", "016_280_to_300", true},
		{"http-log:001_280_to_300", "http-log", "001_280_to_300", true},
		{"001_280_to_300", "http-log", "001_280_to_300", false},
		{"acme:001_280_to_300", "http-log", "001_280_to_300", false},
		{"", "core", "000_base", false},
	} {
		if got := matchesFault(tc.fault, tc.sub, tc.name); got != tc.want {
			t.Errorf("matchesFault(%q, %s, %s) = %v", tc.fault, tc.sub, tc.name, got)
		}
	}
}
