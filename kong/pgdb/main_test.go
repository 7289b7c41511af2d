package pgdb

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
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
	"github.com/drawbridge/drawbridge/kongsim/kongdb"
)

// One PostgreSQL server for the package; each test gets its own database, copied from a
// template that is bootstrapped at fromVersion and seeded once.
var (
	pg       *testsvc.Postgres
	pgErr    error
	dbSerial atomic.Int64
	seeded   struct {
		once sync.Once
		err  error
	}
)

const (
	fromVersion  = "3.4.2" // the version the test databases run
	toVersion    = "3.9.1" // the upgrade that damages them
	templateName = "kong_seeded_template"
)

var seedSize = kongdb.SeedOptions{Services: 20, RoutesPerService: 3, PluginsPerService: 2, Consumers: 50, Upstreams: 5, TargetsPerUpstream: 3, Prometheus: true}

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

func needPG(tb testing.TB) {
	tb.Helper()
	if pgErr != nil {
		if testsvc.ShouldSkip(pgErr) {
			tb.Skipf("skipping: %v", pgErr)
		}
		tb.Fatal(pgErr)
	}
}

// kongTarget is where a simulated Kong keeps its data: pg_database, pg_user, pg_schema.
type kongTarget struct {
	Database, User, Schema string // Schema "" = the server's default (public)
}

// conf is kong.conf pointing at the target.
func (k kongTarget) conf() *kconf.Conf {
	v := facts.MustParseVersion(fromVersion)
	c := &kconf.Conf{Values: kconf.Defaults(v)}
	c.Values["pg_host"] = pg.Host
	c.Values["pg_port"] = strconv.Itoa(pg.Port)
	c.Values["pg_user"] = k.User
	c.Values["pg_database"] = k.Database
	c.Values["pg_schema"] = k.Schema
	return c
}

// dsn is the target's DSN for pgdb: the schema goes into search_path, as Kong sets it.
func (k kongTarget) dsn() string {
	dsn := withUser(pg.DSN(k.Database), k.User, "")
	if k.Schema != "" {
		dsn += "&search_path=" + url.QueryEscape(k.Schema)
	}
	return dsn
}

// table is a table of Kong's schema, quoted.
func (k kongTarget) table(name string) string {
	return pgx.Identifier{cmp.Or(k.Schema, "public"), name}.Sanitize()
}

// migrate runs "kong migrations <sub>" of version on the target.
func migrate(tb testing.TB, k kongTarget, sub, version string) {
	tb.Helper()
	if err := migrateErr(k, sub, version); err != nil {
		tb.Fatal(err)
	}
}

func migrateErr(k kongTarget, sub, version string) error {
	var stderr strings.Builder
	lg := &klog.Logger{Stdout: io.Discard, Stderr: &stderr}
	known := facts.Default().AllBundled(facts.MustParseVersion(version))
	if code := kongdb.Migrations(context.Background(), sub, kongdb.Options{}, k.conf(), known, lg); code != 0 {
		return fmt.Errorf("kong %s migrations %s on %s: exit %d: %s", version, sub, k.Database, code, stderr.String())
	}
	return nil
}

// seed fills a bootstrapped target with configuration.
func seed(tb testing.TB, k kongTarget, o kongdb.SeedOptions) {
	tb.Helper()
	if err := seedErr(k, o); err != nil {
		tb.Fatal(err)
	}
}

func seedErr(k kongTarget, o kongdb.SeedOptions) error {
	kdb, err := kongdb.Open(context.Background(), k.conf(), 0)
	if err != nil {
		return err
	}
	defer kdb.Close()
	_, err = kongdb.Seed(context.Background(), kdb, o)
	return err
}

// newKongDB creates a database bootstrapped at fromVersion and seeded, owned by postgres.
func newKongDB(tb testing.TB) (name, dsn string) {
	tb.Helper()
	needPG(tb)
	seeded.once.Do(func() {
		if _, seeded.err = pg.CreateDatabase(context.Background(), templateName); seeded.err != nil {
			return
		}
		k := kongTarget{Database: templateName, User: pg.User}
		if seeded.err = migrateErr(k, "bootstrap", fromVersion); seeded.err != nil {
			return
		}
		seeded.err = seedErr(k, seedSize)
	})
	if seeded.err != nil {
		tb.Fatal(seeded.err)
	}
	name = fmt.Sprintf("kong_%d", dbSerial.Add(1))
	superExec(tb, "postgres", "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(templateName))
	return name, pg.DSN(name)
}

// newEmptyDB creates an empty database.
func newEmptyDB(tb testing.TB) (name, dsn string) {
	tb.Helper()
	needPG(tb)
	name = fmt.Sprintf("kong_%d", dbSerial.Add(1))
	dsn, err := pg.CreateDatabase(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return name, dsn
}

// superConn is a superuser connection to database, closed when the test ends.
func superConn(tb testing.TB, database string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), pg.DSN(database))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// superExec runs SQL as the superuser on database.
func superExec(tb testing.TB, database, sql string, args ...any) {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), pg.DSN(database))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// databaseExists reports whether a database of that name exists.
func databaseExists(tb testing.TB, name string) bool {
	tb.Helper()
	var ok bool
	conn := superConn(tb, "postgres")
	if err := conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		tb.Fatal(err)
	}
	return ok
}

// open opens the database through pgdb with the server's own pg_dump and pg_restore.
func open(tb testing.TB, dsn string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), dsn, Options{BinDir: pg.BinDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(db.Close)
	return db
}

// withUser returns dsn with another user and password.
func withUser(dsn, user, password string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	if password == "" {
		u.User = url.User(user)
	} else {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

// portOf is the port of host:port.
func portOf(tb testing.TB, hostport string) uint16 {
	tb.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		tb.Fatal(err)
	}
	return uint16(n)
}

func pgxConnect(ctx context.Context, dsn string) (*pgx.Conn, error) { return pgx.Connect(ctx, dsn) }
