package kongdb

import (
	"context"
	"fmt"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// startErrPrefix is the file:line Kong's error() adds in check_state; "kong start" keeps it
// in its "Error:" line (reference section 1.5).
const startErrPrefix = "/usr/local/share/lua/5.1/kong/cmd/utils/migrations.lua:%d: "

// StartCheck is what "kong start" logs about the schema before it starts nginx (InspectStart).
type StartCheck struct {
	State *State
	// Info holds messages to log at info (stdout), one log call each, possibly several
	// lines: "Database has pending migrations:\n<list>".
	Info []string
	// Warn holds messages to log as [warn] (stderr): "Database is missing some
	// migrations:\n<list>".
	Warn []string
}

// CheckStart is kong start's check of the schema (check_state and start.lua) for the
// migrations the starting version knows. A database that needs bootstrapping or has new
// migrations is an error wrapping ErrNeedsBootstrap or ErrNewMigrations, worded as Kong's
// start prints it. Pending migrations do not stop the start: the result holds the messages
// Kong logs at info ("Database has pending migrations:" and the list), one log call each.
// InspectStart also gives the [warn] for missing migrations.
func CheckStart(ctx context.Context, db *DB, known []facts.Subsystem) ([]string, error) {
	c, err := InspectStart(ctx, db, known)
	return c.Info, err
}

// InspectStart is CheckStart with the state and the warnings as well.
func InspectStart(ctx context.Context, db *DB, known []facts.Subsystem) (StartCheck, error) {
	st, err := db.State(ctx, known)
	if err != nil {
		return StartCheck{}, err
	}
	c := StartCheck{State: st}
	switch {
	case st.NeedsBootstrap:
		return c, fmt.Errorf(startErrPrefix+"%w", 16, ErrNeedsBootstrap)
	case st.New != nil:
		return c, fmt.Errorf(startErrPrefix+"%w", 20, ErrNewMigrations)
	}
	if st.Missing != nil {
		c.Warn = []string{"Database is missing some migrations:\n" + FormatMigrations(st.Missing)}
	}
	if st.Pending != nil {
		c.Info = []string{"Database has pending migrations:\n" + FormatMigrations(st.Pending)}
	}
	return c, nil
}

// PluginsInUse returns the names of the plugins table's rows in Kong's iteration order
// (by primary key), each name once: what PluginsIterator.new walks at init.
func PluginsInUse(ctx context.Context, db *DB) ([]string, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	rows, err := db.conn.Query(ctx, `SELECT name FROM plugins ORDER BY id`)
	if err != nil {
		return nil, pgError(err, "failed to read plugins: ")
	}
	defer rows.Close()
	var out []string
	seen := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out, rows.Err()
}
