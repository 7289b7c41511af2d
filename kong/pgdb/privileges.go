package pgdb

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kong"
)

// Access is what a Kong database user may do in Kong's schema.
//
// kong migrations creates tables (CREATE on the schema) and alters Kong's existing ones
// (which takes owning them, or being a member of their owner's role). PostgreSQL 15 no longer
// grants CREATE on the public schema to every user, so a database created by an
// administrator and handed to Kong may let the nodes run and the migrations fail.
func (db *DB) Access(ctx context.Context, user string) (kong.Access, error) {
	a := kong.Access{User: user}
	err := db.do(func() error {
		return db.withConn(ctx, "", func(conn *pgx.Conn) error {
			if err := conn.QueryRow(ctx, `SELECT current_database(), current_schema()`).Scan(&a.Database, &a.Schema); err != nil {
				return err
			}
			var exists bool
			if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, user).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				a.Problems = append(a.Problems, fmt.Sprintf("%s is not a role of the database server", user))
				return nil
			}
			if err := conn.QueryRow(ctx, `SELECT has_schema_privilege($1, current_schema(), 'CREATE')`, user).Scan(&a.Create); err != nil {
				return err
			}
			if !a.Create {
				a.Problems = append(a.Problems, fmt.Sprintf("%s may not create in schema %s of database %s (PostgreSQL 15 no longer grants CREATE on public to every user): GRANT CREATE ON SCHEMA %s TO %s",
					user, a.Schema, a.Database, sqlName(a.Schema), sqlName(user)))
			}
			rows, err := conn.Query(ctx, `SELECT c.relname, r.rolname FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.oid = c.relowner
 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT pg_has_role($1, c.relowner, 'USAGE')
 ORDER BY c.relname`, user)
			if err != nil {
				return err
			}
			owners := map[string][]string{}
			for rows.Next() {
				var table, owner string
				if err := rows.Scan(&table, &owner); err != nil {
					rows.Close()
					return err
				}
				owners[owner] = append(owners[owner], table)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, owner := range slices.Sorted(func(yield func(string) bool) {
				for o := range owners {
					if !yield(o) {
						return
					}
				}
			}) {
				tables := owners[owner]
				shown := tables
				if len(shown) > 5 {
					shown = append(slices.Clone(shown[:5]), fmt.Sprintf("and %d more", len(tables)-5))
				}
				a.Problems = append(a.Problems, fmt.Sprintf("%s does not own %d of Kong's tables (%s, owned by %s), which the migrations alter: GRANT %s TO %s (or make %s their owner)",
					user, len(tables), strings.Join(shown, ", "), owner, sqlName(owner), sqlName(user), user))
			}
			return nil
		})
	}, "check what %s may do in %s", user, db.describe())
	return a, err
}

// sqlName writes a role or schema name as a person types it: bare when it is a plain lower-case
// name, quoted otherwise.
func sqlName(name string) string {
	plain := name != ""
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			plain = false
		}
	}
	if plain {
		return name
	}
	return pgx.Identifier{name}.Sanitize()
}
