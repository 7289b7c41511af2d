package pgdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// database is one pg_database row, as much as Restore needs of it.
type database struct {
	exists      bool
	owner       string
	ownerMember bool // the current role is a member of the owner (or is it)
	allowConn   bool
	encoding    string
	row         map[string]any // the whole row as JSON: locale columns differ between versions
}

// restoreState is what Restore finds before it starts.
type restoreState struct {
	target, restore, failed database
	superuser, createDB     bool
}

// canRename: the rename method needs CREATE DATABASE with the target's owner and
// ALTER DATABASE … RENAME of the target.
func (s restoreState) canRename() bool {
	return s.superuser || (s.createDB && s.target.ownerMember)
}

func readRestoreState(ctx context.Context, m *pgx.Conn, names restoreNames) (restoreState, error) {
	var st restoreState
	err := m.QueryRow(ctx, `SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user`).Scan(&st.superuser, &st.createDB)
	if err != nil {
		return st, fmt.Errorf("read the current role: %w", err)
	}
	for _, d := range []struct {
		name string
		into *database
	}{{names.target, &st.target}, {names.restore, &st.restore}, {names.failed, &st.failed}} {
		if *d.into, err = lookupDatabase(ctx, m, d.name); err != nil {
			return st, err
		}
	}
	return st, nil
}

// lookupDatabase reads one pg_database row (exists false when there is none).
func lookupDatabase(ctx context.Context, m *pgx.Conn, name string) (database, error) {
	var d database
	var rowJSON []byte
	err := m.QueryRow(ctx, `SELECT pg_get_userbyid(d.datdba), pg_has_role(d.datdba, 'MEMBER'), d.datallowconn,
	        pg_encoding_to_char(d.encoding), to_jsonb(d)
	    FROM pg_database d WHERE d.datname = $1`, name).
		Scan(&d.owner, &d.ownerMember, &d.allowConn, &d.encoding, &rowJSON)
	if errors.Is(err, pgx.ErrNoRows) {
		return database{}, nil
	}
	if err != nil {
		return database{}, fmt.Errorf("look up database %q: %w", name, err)
	}
	d.exists = true
	if err := json.Unmarshal(rowJSON, &d.row); err != nil {
		return database{}, fmt.Errorf("look up database %q: %w", name, err)
	}
	return d, nil
}

// createLike creates an empty database name from template0 with like's owner, encoding and
// locale, then gives it like's settings, privileges and connection limit.
func createLike(ctx context.Context, m *pgx.Conn, name string, like database) error {
	q := "CREATE DATABASE " + ident(name) + " OWNER " + ident(like.owner) + " TEMPLATE template0 ENCODING " + literal(like.encoding)
	for _, col := range []struct{ column, option string }{{"datcollate", "LC_COLLATE"}, {"datctype", "LC_CTYPE"}} {
		if v, ok := like.row[col.column].(string); ok && v != "" {
			q += " " + col.option + " " + literal(v)
		}
	}
	q += localeProvider(like.row)
	if _, err := m.Exec(ctx, q); err != nil {
		return err
	}
	if err := copyDatabaseSettings(ctx, m, name, like); err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		_ = dropDatabase(cctx, m, name, true)
		return err
	}
	return nil
}

// localeProvider gives CREATE DATABASE the ICU or builtin locale of a PostgreSQL 15+ row.
func localeProvider(row map[string]any) string {
	locale, _ := row["datlocale"].(string) // 17+
	if locale == "" {
		locale, _ = row["daticulocale"].(string) // 15, 16
	}
	switch row["datlocprovider"] {
	case "i":
		q := " LOCALE_PROVIDER icu ICU_LOCALE " + literal(locale)
		if rules, ok := row["daticurules"].(string); ok && rules != "" {
			q += " ICU_RULES " + literal(rules)
		}
		return q
	case "b":
		return " LOCALE_PROVIDER builtin BUILTIN_LOCALE " + literal(locale)
	}
	return ""
}

// copyDatabaseSettings gives database name the per-database settings (ALTER DATABASE … SET),
// privileges and connection limit of like, which pg_dump does not carry.
func copyDatabaseSettings(ctx context.Context, m *pgx.Conn, name string, like database) error {
	from, _ := like.row["datname"].(string)
	return pgx.BeginFunc(ctx, m, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT unnest(s.setconfig) FROM pg_db_role_setting s
		    JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0`, from)
		if err != nil {
			return err
		}
		settings, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, kv := range settings {
			k, v, _ := strings.Cut(kv, "=")
			// set_config takes the value as stored; FROM CURRENT stores it back unchanged.
			if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", k, v); err != nil {
				return fmt.Errorf("copy setting %s: %w", k, err)
			}
			if _, err := tx.Exec(ctx, "ALTER DATABASE "+ident(name)+" SET "+settingName(k)+" FROM CURRENT"); err != nil {
				return fmt.Errorf("copy setting %s: %w", k, err)
			}
		}
		if err := copyDatabaseACL(ctx, tx, from, name); err != nil {
			return err
		}
		if limit, ok := like.row["datconnlimit"].(float64); ok && limit >= 0 {
			if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s CONNECTION LIMIT %d", ident(name), int(limit))); err != nil {
				return fmt.Errorf("copy the connection limit: %w", err)
			}
		}
		return nil
	})
}

// copyDatabaseACL replaces name's default privileges by from's explicit ones, if it has any.
func copyDatabaseACL(ctx context.Context, tx pgx.Tx, from, name string) error {
	rows, err := tx.Query(ctx, `SELECT CASE WHEN a.grantee = 0 THEN '' ELSE pg_get_userbyid(a.grantee) END,
	        a.privilege_type, a.is_grantable
	    FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1`, from)
	if err != nil {
		return err
	}
	grants, err := pgx.CollectRows(rows, pgx.RowToStructByPos[grant])
	if err != nil || len(grants) == 0 {
		return err
	}
	q := []string{"REVOKE ALL ON DATABASE " + ident(name) + " FROM PUBLIC"}
	for _, g := range grants {
		q = append(q, g.sql("DATABASE "+ident(name)))
	}
	for _, s := range q {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("copy privileges: %w", err)
		}
	}
	return nil
}

// grant is one aclexplode row: grantee "" is PUBLIC.
type grant struct {
	Grantee   string
	Privilege string
	Grantable bool
}

func (g grant) sql(on string) string {
	to := "PUBLIC"
	if g.Grantee != "" {
		to = ident(g.Grantee)
	}
	s := "GRANT " + g.Privilege + " ON " + on + " TO " + to
	if g.Grantable {
		s += " WITH GRANT OPTION"
	}
	return s
}

// settingName quotes a setting's name part by part ("kong.x" is a custom setting).
func settingName(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = ident(p)
	}
	return strings.Join(parts, ".")
}

// literal quotes a string constant (standard_conforming_strings is on since PostgreSQL 9.1).
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
