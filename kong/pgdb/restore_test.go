package pgdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kong"
)

// before is a database's state before an upgrade, with its backup.
type before struct {
	fp     kong.Fingerprint
	schema kong.SchemaState
	backup kong.Backup
}

func snapshot(t *testing.T, db *DB) before {
	t.Helper()
	var b before
	var err error
	if b.fp, err = db.Fingerprint(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b.schema, err = db.Schema(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b.backup, err = db.Backup(t.Context(), filepath.Join(t.TempDir(), "before.dump")); err != nil {
		t.Fatal(err)
	}
	return b
}

// upgradeDamage is what a failed upgrade leaves: toVersion's "migrations up" (new
// columns and tables, pending migrations, rewritten rows) and a configuration change.
func upgradeDamage(t *testing.T, k kongTarget) {
	t.Helper()
	migrate(t, k, "up", toVersion)
	superExec(t, k.Database, `UPDATE `+k.table("services")+` SET host = 'changed.internal' WHERE name = 'svc-004'`)
}

func fingerprint(t *testing.T, db *DB) kong.Fingerprint {
	t.Helper()
	fp, err := db.Fingerprint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func schema(t *testing.T, db *DB) kong.SchemaState {
	t.Helper()
	s, err := db.Schema(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// databaseSettings describes what pg_dump does not carry and Restore copies: per-database
// settings, privileges, connection limit, owner, locale.
func databaseSettings(t *testing.T, name string) string {
	t.Helper()
	var out string
	err := superConn(t, "postgres").QueryRow(t.Context(), `SELECT concat_ws(' | ',
	        (SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setdatabase = d.oid AND setrole = 0),
	        datacl::text, datconnlimit, pg_get_userbyid(datdba), datcollate, datctype, pg_encoding_to_char(encoding))
	    FROM pg_database d WHERE datname = $1`, name).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// createDBRole owns its database and may create databases, but is no superuser.
const createDBRole = "kong_owner"

func newCreateDBOwnedKongDB(t testing.TB) (name, dsn string) {
	t.Helper()
	k := newRoleOwnedDB(t, createDBRole, "CREATEDB", "")
	return k.Database, k.dsn()
}

func TestRestoreRename(t *testing.T) {
	for _, c := range []struct {
		name  string
		newDB func(testing.TB) (string, string)
		user  string
		extra string // a setting only a superuser may copy
	}{
		{"superuser", newKongDB, pg.User, "ALTER DATABASE %s SET kong.custom = 'x y'"},
		{"owner with CREATEDB", newCreateDBOwnedKongDB, createDBRole, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			name, dsn := c.newDB(t)
			superExec(t, "postgres", `DO $$ BEGIN
			    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kong_reader') THEN CREATE ROLE kong_reader; END IF;
			END $$`)
			for _, q := range []string{
				"ALTER DATABASE %s SET statement_timeout = '45s'",
				`ALTER DATABASE %s SET search_path = "$user", public`,
				"REVOKE ALL ON DATABASE %s FROM PUBLIC",
				"GRANT CONNECT ON DATABASE %s TO kong_reader",
				"ALTER DATABASE %s CONNECTION LIMIT 40",
				c.extra,
			} {
				if q == "" {
					continue
				}
				superExec(t, "postgres", fmt.Sprintf(q, ident(name)))
			}
			settings := databaseSettings(t, name)
			db := open(t, dsn)
			was := snapshot(t, db)
			upgradeDamage(t, kongTarget{Database: name, User: c.user})
			damaged := fingerprint(t, db)
			if damaged.Equal(was.fp) || len(schema(t, db).Pending()) == 0 {
				t.Fatal("the upgrade damaged nothing")
			}
			// A Kong node still connected, in a transaction: the swap terminates it.
			node, err := pgx.Connect(t.Context(), withUser(pg.DSN(name), c.user, ""))
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close(context.Background())
			if _, err := node.Exec(t.Context(), "BEGIN; SELECT count(*) FROM services"); err != nil {
				t.Fatal(err)
			}

			res, err := db.Restore(t.Context(), was.backup.Path, was.fp, "r1")
			if err != nil {
				t.Fatal(err)
			}
			failed := name + "_failed_r1"
			if res.Method != MethodRename || res.FailedDB != failed || !res.Fingerprint.Equal(was.fp) || res.Duration <= 0 {
				t.Errorf("Restore = %+v", res)
			}
			if got := fingerprint(t, db); !got.Equal(was.fp) {
				t.Errorf("restored fingerprint differs: %s", kong.DiffString(got.Diff(was.fp)))
			}
			if got := schema(t, db); !reflect.DeepEqual(got, was.schema) {
				t.Errorf("restored schema_meta %+v, want %+v", got, was.schema)
			}
			if got := databaseSettings(t, name); got != settings {
				t.Errorf("restored database's settings\n%s\nwant\n%s", got, settings)
			}
			if _, err := node.Exec(t.Context(), "SELECT 1"); err == nil {
				t.Error("the node's session on the old database survived the swap")
			}
			forensic := open(t, withUser(pg.DSN(failed), c.user, ""))
			if got := fingerprint(t, forensic); !got.Equal(damaged) {
				t.Errorf("%s does not hold the damaged state: %s", failed, kong.DiffString(got.Diff(damaged)))
			}
			if len(schema(t, forensic).Pending()) == 0 {
				t.Errorf("%s lost the upgrade's pending migrations", failed)
			}
			if databaseExists(t, name+"_restore_r1") {
				t.Error("the restore database is left behind")
			}

			again, err := db.Restore(t.Context(), was.backup.Path, was.fp, "r1")
			if err != nil {
				t.Fatalf("repeating a finished Restore: %v", err)
			}
			if again.Method != MethodRename || again.FailedDB != failed || !again.Fingerprint.Equal(was.fp) {
				t.Errorf("repeated Restore = %+v", again)
			}
			if got := fingerprint(t, forensic); !got.Equal(damaged) {
				t.Error("repeating Restore touched the failed database")
			}
		})
	}
}

// A Restore that crashed after creating (and partly filling) the restore database, with the
// target still closed to connections, is redone.
func TestRestoreRecoversFromCrash(t *testing.T) {
	name, dsn := newKongDB(t)
	db := open(t, dsn)
	was := snapshot(t, db)
	upgradeDamage(t, kongTarget{Database: name, User: pg.User})

	leftover := name + "_restore_c1"
	superExec(t, "postgres", "CREATE DATABASE "+ident(leftover)+" TEMPLATE template0")
	out, err := exec.Command(filepath.Join(pg.BinDir(), "pg_restore"), "--section=pre-data", "--dbname="+pg.DSN(leftover), was.backup.Path).CombinedOutput()
	if err != nil {
		t.Fatalf("partial restore: %v\n%s", err, out)
	}
	superExec(t, "postgres", "ALTER DATABASE "+ident(name)+" WITH ALLOW_CONNECTIONS false")
	superConn(t, leftover) // a session on the leftover, too

	res, err := db.Restore(t.Context(), was.backup.Path, was.fp, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != MethodRename || !res.Fingerprint.Equal(was.fp) {
		t.Errorf("Restore = %+v", res)
	}
	if got := fingerprint(t, db); !got.Equal(was.fp) {
		t.Errorf("restored fingerprint differs: %s", kong.DiffString(got.Diff(was.fp)))
	}
	if !databaseExists(t, name+"_failed_c1") || databaseExists(t, leftover) {
		t.Error("want the failed database kept and the leftover gone")
	}
	if err := open(t, pg.DSN(name+"_failed_c1")).Ping(t.Context()); err != nil {
		t.Errorf("the failed database does not accept connections: %v", err)
	}
}

// inPlaceRole is a role without CREATEDB that owns its database, as managed PostgreSQL
// services hand out.
const inPlaceRole = "kong_app"

func newInPlaceKongDB(t testing.TB) (name, dsn string) {
	t.Helper()
	k := newRoleOwnedDB(t, inPlaceRole, "", "")
	return k.Database, k.dsn()
}

// newRoleOwnedDB creates a database owned by role (created with the attributes if missing),
// bootstrapped in schema ("" = public) and seeded by that role.
func newRoleOwnedDB(t testing.TB, role, attributes, schema string) kongTarget {
	t.Helper()
	needPG(t)
	superExec(t, "postgres", fmt.Sprintf(`DO $$ BEGIN
	    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s) THEN CREATE ROLE %s LOGIN %s; END IF;
	END $$`, literal(role), ident(role), attributes))
	k := kongTarget{Database: "kong_" + itoa(int(dbSerial.Add(1))), User: role, Schema: schema}
	superExec(t, "postgres", "CREATE DATABASE "+ident(k.Database)+" OWNER "+ident(role))
	migrate(t, k, "bootstrap", fromVersion)
	seed(t, k, seedSize)
	return k
}

func TestRestoreInPlace(t *testing.T) {
	for _, schemaName := range []string{"", "kong"} {
		t.Run("schema "+cmp.Or(schemaName, "public"), func(t *testing.T) {
			k := newRoleOwnedDB(t, inPlaceRole, "", schemaName)
			db := open(t, k.dsn())
			acl := schemaACLs(t, k.Database)
			was := snapshot(t, db)
			if was.schema.NeedsBootstrap || len(was.fp.Tables) < 20 {
				t.Fatalf("Kong's tables not found in schema %q", schemaName)
			}
			upgradeDamage(t, k)
			// A Kong node, same role, in a transaction holding a lock on services: terminated.
			node, err := pgx.Connect(t.Context(), k.dsn())
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close(context.Background())
			if _, err := node.Exec(t.Context(), "BEGIN; SELECT count(*) FROM services"); err != nil {
				t.Fatal(err)
			}

			res, err := db.Restore(t.Context(), was.backup.Path, was.fp, "p1")
			if err != nil {
				t.Fatal(err)
			}
			if res.Method != MethodInPlace || res.FailedDB != "" || !res.Fingerprint.Equal(was.fp) {
				t.Errorf("Restore = %+v", res)
			}
			if got := fingerprint(t, db); !got.Equal(was.fp) {
				t.Errorf("restored fingerprint differs: %s", kong.DiffString(got.Diff(was.fp)))
			}
			if got := schema(t, db); !reflect.DeepEqual(got, was.schema) {
				t.Errorf("restored schema_meta %+v, want %+v", got, was.schema)
			}
			var owner string
			err = superConn(t, k.Database).QueryRow(t.Context(), `SELECT tableowner FROM pg_tables WHERE tablename = 'services'`).Scan(&owner)
			if err != nil || owner != inPlaceRole {
				t.Errorf("services owned by %q (%v)", owner, err)
			}
			if got := schemaACLs(t, k.Database); got != acl {
				t.Errorf("schemas' owners and privileges %s, want %s", got, acl)
			}
			if _, err := node.Exec(t.Context(), "SELECT 1"); err == nil {
				t.Error("the node's session survived the restore")
			}
			if databaseExists(t, k.Database+"_restore_p1") || databaseExists(t, k.Database+"_failed_p1") {
				t.Error("in place created databases")
			}
			again, err := db.Restore(t.Context(), was.backup.Path, was.fp, "p1")
			if err != nil || again.Method != MethodInPlace || !again.Fingerprint.Equal(was.fp) {
				t.Errorf("repeated Restore = %+v, %v", again, err)
			}
		})
	}
}

// schemaACLs lists the database's schemas with owner and privileges.
func schemaACLs(t *testing.T, database string) string {
	t.Helper()
	var out string
	err := superConn(t, database).QueryRow(t.Context(), `SELECT string_agg(nspname || ' ' || pg_get_userbyid(nspowner) || ' ' || COALESCE(nspacl::text, '-'), '; ' ORDER BY nspname)
	    FROM pg_namespace WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'`).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// With a wrong want, or an archive cut short, neither method changes the database.
func TestRestoreLeavesDatabaseUntouched(t *testing.T) {
	for _, m := range []struct {
		name  string
		newDB func(testing.TB) (string, string)
		user  string
	}{
		{"rename", newKongDB, pg.User},
		{"in place", newInPlaceKongDB, inPlaceRole},
	} {
		t.Run(m.name, func(t *testing.T) {
			name, dsn := m.newDB(t)
			db := open(t, dsn)
			was := snapshot(t, db)
			upgradeDamage(t, kongTarget{Database: name, User: m.user})
			damaged := fingerprint(t, db)

			t.Run("wrong fingerprint", func(t *testing.T) {
				wrong := kong.Fingerprint{Tables: map[string]kong.TableSum{}}
				for table, sum := range was.fp.Tables {
					wrong.Tables[table] = sum
				}
				wrong.Tables["services"] = kong.TableSum{Rows: 21, Hash: strings.Repeat("a", 64)}
				wrong.Tables["consumers"] = kong.TableSum{Rows: 50, Hash: strings.Repeat("b", 64)}
				wrong.Hash = overallHash(wrong.Tables)
				_, err := db.Restore(t.Context(), was.backup.Path, wrong, "m1")
				var mm *MismatchError
				if !errors.Is(err, ErrMismatch) || !errors.As(err, &mm) {
					t.Fatalf("Restore: %v, want a *MismatchError", err)
				}
				t.Logf("error: %v", err)
				if got := tableNames(mm.Diffs); !reflect.DeepEqual(got, []string{"consumers", "services"}) {
					t.Errorf("differing tables %v, want [consumers services]", got)
				}
				if !strings.Contains(err.Error(), "services (21 → 20 rows)") || !strings.Contains(err.Error(), "consumers (50 rows, contents changed)") {
					t.Errorf("error text: %v", err)
				}
			})
			t.Run("archive cut short", func(t *testing.T) {
				good, err := os.ReadFile(was.backup.Path)
				if err != nil {
					t.Fatal(err)
				}
				_, err = db.Restore(t.Context(), writeFile(t, good[:len(good)-64]), was.fp, "m1")
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Restore: %v, want ErrCorrupt", err)
				}
				t.Logf("error: %v", err)
			})

			if got := fingerprint(t, db); !got.Equal(damaged) {
				t.Errorf("the database changed: %s", kong.DiffString(got.Diff(damaged)))
			}
			if len(schema(t, db).Pending()) == 0 {
				t.Error("the database lost its pending migrations")
			}
			for _, other := range []string{name + "_restore_m1", name + "_failed_m1"} {
				if databaseExists(t, other) {
					t.Errorf("%s exists", other)
				}
			}
		})
	}
}

func TestRestoreArguments(t *testing.T) {
	_, dsn := newKongDB(t)
	db := open(t, dsn)
	fp := fingerprint(t, db)
	archive := filepath.Join(t.TempDir(), "none.dump")
	for _, c := range []struct {
		name    string
		archive string
		want    kong.Fingerprint
		suffix  string
		errText string
	}{
		{"bad suffix", archive, fp, "x; DROP", "suffix"},
		{"long suffix", archive, fp, strings.Repeat("s", 60), "longer than"},
		{"no fingerprint", archive, kong.Fingerprint{}, "s1", "no wanted fingerprint"},
		{"no archive", archive, fp, "s1", "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := db.Restore(context.Background(), c.archive, c.want, c.suffix)
			if err == nil || !strings.Contains(err.Error(), c.errText) {
				t.Errorf("Restore: %v, want an error mentioning %q", err, c.errText)
			}
		})
	}
}

// A session of a role the restoring role may not terminate blocks the swap: ErrInUse, the
// database is left as it was, accepting connections.
func TestRestoreBlockedBySession(t *testing.T) {
	name, dsn := newCreateDBOwnedKongDB(t)
	db := open(t, dsn)
	was := snapshot(t, db)
	upgradeDamage(t, kongTarget{Database: name, User: createDBRole})
	damaged := fingerprint(t, db)
	superConn(t, name) // a superuser's session

	_, err := db.Restore(t.Context(), was.backup.Path, was.fp, "s1")
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), pg.User) {
		t.Fatalf("Restore: %v, want ErrInUse naming %s", err, pg.User)
	}
	if got := fingerprint(t, db); !got.Equal(damaged) {
		t.Errorf("the database changed: %s", kong.DiffString(got.Diff(damaged)))
	}
	for _, other := range []string{name + "_restore_s1", name + "_failed_s1"} {
		if databaseExists(t, other) {
			t.Errorf("%s exists", other)
		}
	}
}
