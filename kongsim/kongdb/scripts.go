package kongdb

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
)

// The SQL of every migration: sql/<subsystem>/<name>.sql, keyed by the subsystem
// and migration names. A file has an "-- +up" section and, for a migration with a teardown,
// a "-- +teardown" section; text before the first marker is commentary.
//
//go:embed sql
var sqlFiles embed.FS

// script is one migration's SQL.
type script struct {
	Up       string // run by bootstrap, up (and up -f, finish -f) in its own transaction
	Teardown string // run by finish (and bootstrap); "" when the migration has none
}

type scriptKey struct{ subsystem, name string }

var (
	scriptsOnce sync.Once
	scripts     map[scriptKey]script
	scriptsErr  error
)

// lookupScript returns the SQL of subsystem's migration name.
func lookupScript(subsystem, name string) (script, bool) {
	all, err := loadScripts()
	if err != nil {
		return script{}, false
	}
	s, ok := all[scriptKey{subsystem, name}]
	return s, ok
}

func loadScripts() (map[scriptKey]script, error) {
	scriptsOnce.Do(func() { scripts, scriptsErr = parseScripts(sqlFiles) })
	return scripts, scriptsErr
}

func parseScripts(fsys fs.FS) (map[scriptKey]script, error) {
	out := map[scriptKey]script{}
	err := fs.WalkDir(fsys, "sql", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if path.Ext(p) != ".sql" {
			return fmt.Errorf("%s: not a .sql file", p)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		s, err := parseScript(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		out[scriptKey{path.Base(path.Dir(p)), strings.TrimSuffix(path.Base(p), ".sql")}] = s
		return nil
	})
	return out, err
}

func parseScript(text string) (script, error) {
	var s script
	var cur *string
	seen := map[string]bool{}
	for line := range strings.Lines(text) {
		switch marker := strings.TrimSpace(line); marker {
		case "-- +up", "-- +teardown":
			if seen[marker] {
				return s, fmt.Errorf("%q twice", marker)
			}
			seen[marker] = true
			cur = &s.Up
			if marker == "-- +teardown" {
				cur = &s.Teardown
			}
			continue
		}
		if cur != nil {
			*cur += line
		}
	}
	s.Up, s.Teardown = strings.TrimSpace(s.Up), strings.TrimSpace(s.Teardown)
	if s.Up == "" {
		return s, fmt.Errorf("no -- +up section")
	}
	return s, nil
}
