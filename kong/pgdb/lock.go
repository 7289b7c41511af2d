package pgdb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// MigrationLockHeld reports whether a "kong migrations" command holds Kong's cluster mutex:
// the "migrations" row of the locks table with a ttl in the future (kong/db/init.lua
// cluster_mutex). A database without a locks table holds no lock.
func (db *DB) MigrationLockHeld(ctx context.Context) (bool, error) {
	var held bool
	err := db.do(func() error {
		return db.withConn(ctx, "", func(conn *pgx.Conn) error {
			var exists bool
			if err := conn.QueryRow(ctx, `SELECT to_regclass('locks') IS NOT NULL`).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return nil
			}
			err := conn.QueryRow(ctx, `SELECT ttl > now() FROM locks WHERE key = 'migrations'`).Scan(&held)
			if errors.Is(err, pgx.ErrNoRows) {
				held = false
				return nil
			}
			return err
		})
	}, "read Kong's migrations lock in %s", db.describe())
	return held, err
}
