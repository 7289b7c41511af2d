package kongdb

import (
	"testing"
	"testing/fstest"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// Every migration kongsim knows has up SQL, and teardown SQL exactly when some release gives it a
// teardown; no file names a migration kongsim does not know.
func TestEveryMigrationHasSQL(t *testing.T) {
	all, err := loadScripts()
	if err != nil {
		t.Fatal(err)
	}
	known := map[scriptKey]bool{}
	for _, sub := range facts.Default().All() {
		for _, m := range sub.Migrations {
			k := scriptKey{sub.Name, m.Name}
			known[k] = true
			s, ok := all[k]
			switch {
			case !ok:
				t.Errorf("%s %s: no sql/%s/%s.sql", sub.Name, m.Name, sub.Name, m.Name)
			case s.Up == "":
				t.Errorf("%s %s: no up SQL", sub.Name, m.Name)
			case (s.Teardown != "") != m.Teardown:
				t.Errorf("%s %s: teardown SQL %v, teardown in facts %v", sub.Name, m.Name, s.Teardown != "", m.Teardown)
			}
		}
	}
	for k := range all {
		if !known[k] {
			t.Errorf("sql/%s/%s.sql: not in kongsim's facts", k.subsystem, k.name)
		}
	}
}

func TestParseScript(t *testing.T) {
	for _, tc := range []struct {
		name, text, up, teardown string
		bad                      bool
	}{
		{name: "up only", text: "-- comment\n-- +up\nSELECT 1;\n", up: "SELECT 1;"},
		{name: "both", text: "-- +up\nA;\n\n-- +teardown\nB;\n", up: "A;", teardown: "B;"},
		{name: "no up", text: "-- +teardown\nB;\n", bad: true},
		{name: "empty up", text: "-- +up\n\n-- +teardown\nB;\n", bad: true},
		{name: "twice", text: "-- +up\nA;\n-- +up\nB;\n", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseScript(tc.text)
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v", err)
			}
			if !tc.bad && (s.Up != tc.up || s.Teardown != tc.teardown) {
				t.Errorf("got %+v", s)
			}
		})
	}
	if _, err := parseScripts(fstest.MapFS{"sql/core/x.txt": {Data: []byte("-- +up\nA;")}}); err == nil {
		t.Error("a non-.sql file is accepted")
	}
}
