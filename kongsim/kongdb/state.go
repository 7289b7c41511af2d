package kongdb

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// SubsystemMigrations is one subsystem's share of a state list, in Kong's order.
type SubsystemMigrations struct {
	Subsystem  string
	Namespace  string
	Migrations []facts.Migration
}

// Names returns the migration names.
func (s SubsystemMigrations) Names() []string {
	out := make([]string, len(s.Migrations))
	for i, m := range s.Migrations {
		out[i] = m.Name
	}
	return out
}

// State is the schema state as kong/db/migrations/state.lua derives it, for the migrations
// the running version knows. Each list holds only subsystems with at least one migration in
// it; an empty list is nil.
type State struct {
	NeedsBootstrap bool
	Executed       []SubsystemMigrations
	Pending        []SubsystemMigrations
	New            []SubsystemMigrations
	Missing        []SubsystemMigrations
}

// UpToDate is State:is_up_to_date(): bootstrapped and nothing new. Pending migrations do not
// count: Kong starts with them.
func (s *State) UpToDate() bool { return !s.NeedsBootstrap && len(s.New) == 0 }

// FormatMigrations renders a state list as Kong prints it (Migrations_mt.__tostring): one
// line per subsystem, the name right-aligned to the longest in the list, then ": " and the
// migration names joined by ", ". Lines are joined by "\n", with no trailing newline.
func FormatMigrations(list []SubsystemMigrations) string {
	width := 0
	for _, s := range list {
		width = max(width, len(s.Subsystem))
	}
	lines := make([]string, len(list))
	for i, s := range list {
		lines[i] = fmt.Sprintf("%*s: %s", width, s.Subsystem, strings.Join(s.Names(), ", "))
	}
	return strings.Join(lines, "\n")
}

// metaRow is one schema_meta row.
type metaRow struct {
	LastExecuted string // "" when NULL
	Executed     []string
	Pending      []string
}

// deriveState is state.lua's State.load after the query: rows == nil means no schema_meta
// table. Rows for subsystems or names that known lacks are ignored, so an older Kong against
// a database migrated by a newer one is up to date.
//
// A name in neither array is "new", wherever it stands, as kong/db/migrations/state.lua
// decides: its loop only learns where last_executed is when it reaches it, so a gap before
// it is new (and "up" runs it), not missing. Only last_executed's own migration, when it is
// in neither array, is "missing".
func deriveState(known []facts.Subsystem, rows map[string]metaRow) *State {
	st := &State{NeedsBootstrap: rows == nil}
	for _, sub := range known {
		var executed, pending, missing, fresh []facts.Migration
		row, ok := rows[sub.Name]
		n := -1 // state.lua's n: the index after last_executed, once reached
		for i, m := range sub.Migrations {
			if !ok {
				fresh = append(fresh, m)
				continue
			}
			if m.Name == row.LastExecuted {
				n = i + 1
			}
			switch {
			case slices.Contains(row.Executed, m.Name):
				executed = append(executed, m)
			case slices.Contains(row.Pending, m.Name):
				pending = append(pending, m)
			case n < 0 || i >= n:
				fresh = append(fresh, m)
			default:
				missing = append(missing, m)
			}
		}
		add := func(list *[]SubsystemMigrations, ms []facts.Migration) {
			if len(ms) > 0 {
				*list = append(*list, SubsystemMigrations{Subsystem: sub.Name, Namespace: sub.Namespace, Migrations: ms})
			}
		}
		add(&st.Executed, executed)
		add(&st.Pending, pending)
		add(&st.New, fresh)
		add(&st.Missing, missing)
	}
	return st
}

// State reads schema_meta and derives the state for the migrations known (the running
// version's facts.Known).
func (db *DB) State(ctx context.Context, known []facts.Subsystem) (*State, error) {
	rows, err := db.schemaMeta(ctx)
	if err != nil {
		return nil, err
	}
	return deriveState(known, rows), nil
}

// schemaMeta returns the rows keyed by subsystem, or nil when the table does not exist.
func (db *DB) schemaMeta(ctx context.Context) (map[string]metaRow, error) {
	bootstrapped, err := db.hasTable(ctx, "schema_meta")
	if err != nil {
		return nil, pgError(err, "failed to check schema state: ")
	}
	if !bootstrapped {
		return nil, nil
	}
	qctx, cancel := db.opCtx(ctx)
	defer cancel()
	rs, err := db.conn.Query(qctx, `SELECT subsystem, last_executed, executed, pending
  FROM schema_meta
 WHERE key = 'schema_meta'`)
	if err != nil {
		return nil, pgError(err, "failed to check schema state: ")
	}
	defer rs.Close()
	out := map[string]metaRow{}
	for rs.Next() {
		var sub string
		var last *string
		var r metaRow
		if err := rs.Scan(&sub, &last, &r.Executed, &r.Pending); err != nil {
			return nil, pgError(err, "failed to check schema state: ")
		}
		if last != nil {
			r.LastExecuted = *last
		}
		out[sub] = r
	}
	if err := rs.Err(); err != nil {
		return nil, pgError(err, "failed to check schema state: ")
	}
	return out, nil
}

// hasTable reports whether the current schema has the table, looking where Kong looks
// (information_schema.tables, table_schema = CURRENT_SCHEMA).
func (db *DB) hasTable(ctx context.Context, name string) (bool, error) {
	var found bool
	err := db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
                WHERE table_schema = CURRENT_SCHEMA AND table_name = $1)`, name).Scan(&found)
	return found, err
}
