package cli

import (
	"strings"
	"testing"
)

// TestRunImage: "kongsim run" is a throwaway container of another version: it migrates the
// database it is pointed at (-e KONG_PG_DATABASE) and leaves the node as it was, and --from
// brings the node's faults along.
func TestRunImage(t *testing.T) {
	nodes := newCluster(t, 1, "3.4.2")
	a := nodes[0]
	scratch := strings.ToLower(t.Name()) + "_copy"
	if _, err := pg.CreateDatabase(t.Context(), scratch); err != nil {
		t.Fatal(err)
	}
	must(t, kong(t, "migrations", "bootstrap", "-c", a.Conf), 0, "")
	image := func(version string, args ...string) result {
		return kongsim(t, append([]string{"run", "--version", version, "--from", a.Prefix, "-e", "KONG_PG_DATABASE=" + scratch, "--", "kong"}, args...)...)
	}
	must(t, image("3.4.2", "migrations", "bootstrap", "-c", a.Conf), 0, "Database is up-to-date")

	must(t, kongsim(t, "set", "-p", a.Prefix, "faults.migration_fail=021_340_to_350"), 0, "")
	r := image("3.5.0", "migrations", "up", "-c", a.Conf)
	if r.code != 1 || !strings.Contains(r.stderr, "failed to run migration '021_340_to_350' up") {
		t.Fatalf("the node's migration_fail did not hold in the container: %s", r)
	}
	must(t, kongsim(t, "set", "-p", a.Prefix, "faults.migration_fail="), 0, "")
	must(t, image("3.5.0", "migrations", "up", "-c", a.Conf), 0, "021_340_to_350 (executed)")
	must(t, image("3.5.0", "migrations", "finish", "-c", a.Conf), 0, "")
	if r := image("3.5.0", "migrations", "list", "-c", a.Conf); r.code != 0 {
		t.Fatalf("the copy is not up to date for 3.5.0: %s", r)
	}

	// The node still runs 3.4.2 on its own database, which nothing migrated.
	if v, err := a.pfx.Installed(); err != nil || v.String() != "3.4.2" {
		t.Fatalf("node's version after kongsim run: %v %v", v, err)
	}
	if r := kong(t, "migrations", "list", "-c", a.Conf); r.code != 0 {
		t.Fatalf("the node's database changed: %s", r)
	}
	if r := kong(t, "version", "-c", a.Conf); strings.TrimSpace(r.stdout) != "3.4.2" {
		t.Fatalf("kong version: %s", r)
	}

	for _, bad := range [][]string{
		{"run", "--", "kong", "version"},
		{"run", "--version", "3.5.0"},
		{"run", "--version", "3.5.0", "-e", "NOEQUALS", "--", "kong", "version"},
		{"run", "--version", "3.5.0", "--from", t.TempDir() + "/none", "--", "kong", "version"},
	} {
		if r := kongsim(t, bad...); r.code == 0 || !strings.Contains(r.stderr, "kongsim run:") {
			t.Errorf("%v: %s", bad, r)
		}
	}
}
