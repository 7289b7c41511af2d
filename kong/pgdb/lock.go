package pgdb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kong"
)

// MigrationLock reads Kong's migrations lock: the "migrations" row of the locks table
// (kong/db/init.lua cluster_mutex), held while its ttl is in the future. A database without
// a locks table holds no lock.
func (db *DB) MigrationLock(ctx context.Context) (kong.Lock, error) {
	var l kong.Lock
	err := db.do(func() error {
		return db.withConn(ctx, "", func(conn *pgx.Conn) error {
			var exists bool
			if err := conn.QueryRow(ctx, `SELECT to_regclass('locks') IS NOT NULL`).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return nil
			}
			var owner *string
			err := conn.QueryRow(ctx, `SELECT ttl > now(), owner, ttl FROM locks WHERE key = 'migrations'`).Scan(&l.Held, &owner, &l.Expires)
			if errors.Is(err, pgx.ErrNoRows) {
				l = kong.Lock{}
				return nil
			}
			if owner != nil {
				l.Owner = *owner
			}
			return err
		})
	}, "read Kong's migrations lock in %s", db.describe())
	return l, err
}

// MigrationLockHeld reports whether a "kong migrations" command holds Kong's lock.
func (db *DB) MigrationLockHeld(ctx context.Context) (bool, error) {
	l, err := db.MigrationLock(ctx)
	return l.Held, err
}
