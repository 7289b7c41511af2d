package pgdb

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kong"
)

// Schema reads Kong's schema_meta rows (key 'schema_meta') from the current schema, core
// first, then by subsystem. NeedsBootstrap is set when the table does not exist there, as
// Kong decides it.
func (db *DB) Schema(ctx context.Context) (kong.SchemaState, error) {
	var st kong.SchemaState
	err := db.do(func() error {
		return db.withConn(ctx, "", func(conn *pgx.Conn) error {
			var err error
			st, err = readSchema(ctx, conn)
			return err
		})
	}, "read schema_meta of %s", db.describe())
	return st, err
}

func readSchema(ctx context.Context, conn *pgx.Conn) (kong.SchemaState, error) {
	var exists bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables
	    WHERE table_schema = current_schema() AND table_name = 'schema_meta')`).Scan(&exists)
	if err != nil || !exists {
		return kong.SchemaState{NeedsBootstrap: !exists}, err
	}
	rows, err := conn.Query(ctx, `SELECT subsystem, COALESCE(last_executed, ''), executed, pending
	    FROM schema_meta WHERE key = 'schema_meta' ORDER BY subsystem <> 'core', subsystem`)
	if err != nil {
		return kong.SchemaState{}, err
	}
	subs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (kong.SubsystemState, error) {
		var s kong.SubsystemState
		err := row.Scan(&s.Subsystem, &s.LastExecuted, &s.Executed, &s.Pending)
		return s, err
	})
	return kong.SchemaState{Subsystems: subs}, err
}
