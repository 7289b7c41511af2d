package pgdb

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
)

// The databases rollbacks keep: Restore's rename method keeps the damaged database as
// <name>_failed_<suffix>, and drawbridge's rollbacks use the run number as the suffix. They
// stay until a person drops them; these are the only databases besides Restore's and the
// rehearsals' own that this package drops.

// FailedDatabases lists the databases rollbacks of this database kept on its server: those
// named <name>_failed_<run number>, in run order, each with pg_database_size (-1 when the
// role may neither connect to it nor read all statistics).
func (db *DB) FailedDatabases(ctx context.Context) ([]kong.FailedDatabase, error) {
	var out []kong.FailedDatabase
	err := db.do(func() error {
		m, err := db.connectMaintenance(ctx)
		if err != nil {
			return err
		}
		defer closeConn(m)
		out, err = listFailed(ctx, m, db.Name())
		return classify(ctx, err)
	}, "list the databases rollbacks of %q kept", db.Name())
	return out, err
}

func listFailed(ctx context.Context, m *pgx.Conn, name string) ([]kong.FailedDatabase, error) {
	// starts_with, not LIKE: "_" in a database name is no wildcard here.
	rows, err := m.Query(ctx, `SELECT d.datname,
	        CASE WHEN has_database_privilege(d.oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'MEMBER')
	             THEN pg_database_size(d.oid) END
	    FROM pg_database d WHERE starts_with(d.datname, $1)`, domain.FailedDatabasePrefix(name))
	if err != nil {
		return nil, err
	}
	var out []kong.FailedDatabase
	var dbname string
	var size *int64
	_, err = pgx.ForEachRow(rows, []any{&dbname, &size}, func() error {
		run, ok := domain.FailedDatabaseRun(name, dbname)
		if !ok {
			return nil // <name>_failed_ followed by something a rollback of ours never writes
		}
		f := kong.FailedDatabase{Name: dbname, Size: -1, Run: run}
		if size != nil {
			f.Size = *size
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b kong.FailedDatabase) int { return cmp.Compare(a.Run, b.Run) })
	return out, nil
}

// DropFailed drops a database a rollback of this database kept, ending its sessions (WITH
// (FORCE) on PostgreSQL 13 and later); it reports whether there was one. It refuses with
// ErrRefused every name but <name>_failed_<run number>, so neither Kong's database nor any
// other can be dropped through it.
func (db *DB) DropFailed(ctx context.Context, name string) (bool, error) {
	return db.dropNamed(ctx, name, func() error {
		if _, ok := domain.FailedDatabaseRun(db.Name(), name); !ok {
			return fmt.Errorf("%w: %q is not a database a rollback of %q kept (%s)", ErrRefused, name, db.Name(), domain.FailedDatabasePrefix(db.Name())+"<run>")
		}
		return nil
	})
}
