package kongdb

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/kconf"
	"github.com/drawbridge/drawbridge/kongsim/klog"
)

// One PostgreSQL server for the package. Most tests get their own schema (pg_schema) in a
// shared database, since creating a database costs a quarter of a second; tests of the
// default schema (public) get their own database.
var (
	pg       *testsvc.Postgres
	pgErr    error
	dbSerial atomic.Int64
	shared   struct {
		once sync.Once
		name string
		err  error
	}
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	pg, pgErr = testsvc.NewPostgres(ctx)
	cancel()
	code := m.Run()
	if pg != nil {
		if err := pg.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// newConf returns kong.conf values pointing at a schema nobody uses yet (pg_schema set,
// the schema itself not created) in the shared database.
func newConf(t *testing.T) *kconf.Conf {
	t.Helper()
	needPG(t)
	shared.once.Do(func() {
		shared.name = "kong_shared"
		_, shared.err = pg.CreateDatabase(context.Background(), shared.name)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return conf(shared.name, fmt.Sprintf("kong_%d", dbSerial.Add(1)))
}

// newDatabaseConf creates an empty database and points at its default schema.
func newDatabaseConf(t *testing.T) *kconf.Conf {
	t.Helper()
	needPG(t)
	name := fmt.Sprintf("kong_%d", dbSerial.Add(1))
	if _, err := pg.CreateDatabase(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	return conf(name, "")
}

func needPG(t *testing.T) {
	t.Helper()
	if pgErr != nil {
		if testsvc.ShouldSkip(pgErr) {
			t.Skipf("skipping: %v", pgErr)
		}
		t.Fatal(pgErr)
	}
}

func conf(database, schema string) *kconf.Conf {
	return &kconf.Conf{Values: map[string]string{
		"pg_host": pg.Host, "pg_port": strconv.Itoa(pg.Port), "pg_user": pg.User,
		"pg_database": database, "pg_timeout": "10000", "pg_schema": schema,
	}}
}

// open connects to the test database as Kong would.
func open(t *testing.T, c *kconf.Conf) *DB {
	t.Helper()
	db, err := Open(t.Context(), c, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// raw is a plain connection for assertions and for playing "another node".
func raw(t *testing.T, c *kconf.Conf) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func known(v string) []facts.Subsystem {
	return facts.Default().AllBundled(facts.MustParseVersion(v))
}

// result is one "kong migrations" run.
type result struct {
	code           int
	stdout, stderr string
}

// kong runs "kong migrations <sub>" as version v would.
func kong(t *testing.T, c *kconf.Conf, v, sub string, o Options) result {
	t.Helper()
	var out, errb bytes.Buffer
	lg := &klog.Logger{Stdout: &out, Stderr: &errb, Now: func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }}
	if o.Version == "" {
		o.Version = v
	}
	code := Migrations(t.Context(), sub, o, c, known(v), lg)
	return result{code, out.String(), errb.String()}
}

// must runs a command that has to succeed.
func must(t *testing.T, c *kconf.Conf, v, sub string, o Options) result {
	t.Helper()
	r := kong(t, c, v, sub, o)
	if r.code != 0 {
		t.Fatalf("%s migrations %s: exit %d\nstdout:\n%s\nstderr:\n%s", v, sub, r.code, r.stdout, r.stderr)
	}
	return r
}

// metaRows reads schema_meta as text: subsystem → "last|executed|pending", NULL as "NULL".
func metaRows(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT subsystem,
       COALESCE(last_executed, 'NULL'),
       COALESCE(array_to_string(executed, ',', '?'), 'NULL'),
       COALESCE(CASE WHEN cardinality(pending) = 0 THEN '{}' ELSE array_to_string(pending, ',') END, 'NULL')
  FROM schema_meta WHERE key = 'schema_meta'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var sub, last, ex, pend string
		if err := rows.Scan(&sub, &last, &ex, &pend); err != nil {
			t.Fatal(err)
		}
		out[sub] = last + "|" + ex + "|" + pend
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func hasColumn(t *testing.T, conn *pgx.Conn, table, column string) bool {
	t.Helper()
	var ok bool
	q := `SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = CURRENT_SCHEMA AND table_name = $1 AND column_name = $2)`
	if column == "" {
		q = `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = CURRENT_SCHEMA AND table_name = $1 AND $2 = '')`
	}
	if err := conn.QueryRow(t.Context(), q, table, column).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func listString(list []SubsystemMigrations) string {
	var b strings.Builder
	for _, s := range list {
		fmt.Fprintf(&b, "%s:%s;", s.Subsystem, strings.Join(s.Names(), ","))
	}
	return b.String()
}
