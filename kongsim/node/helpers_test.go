package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
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
	"github.com/drawbridge/drawbridge/kongsim/prefix"
	"github.com/drawbridge/drawbridge/kongsim/sim"
)

// The package's tests share one PostgreSQL server; each test gets its own database.
var (
	sharedPG    *testsvc.Postgres
	sharedPGErr error
)

func TestMain(m *testing.M) {
	refreshInterval = 300 * time.Millisecond
	simWatchInterval = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	sharedPG, sharedPGErr = testsvc.NewPostgres(ctx)
	cancel()
	code := m.Run()
	if sharedPG != nil {
		if err := sharedPG.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// postgres returns the shared server, skipping (or failing, in CI) when it could not start.
func postgres(t *testing.T) *testsvc.Postgres {
	t.Helper()
	if sharedPGErr != nil {
		if testsvc.ShouldSkip(sharedPGErr) {
			t.Skipf("skipping: %v", sharedPGErr)
		}
		t.Fatalf("shared postgres: %v", sharedPGErr)
	}
	return sharedPG
}

// kongEntities are services, routes, consumers, an upstream with two targets.
const kongEntities = `
INSERT INTO services (id, created_at, name, protocol, host, port, ws_id)
  SELECT gen_random_uuid(), now(), s.name, 'http', s.host, 80, (SELECT id FROM workspaces)
  FROM (VALUES ('orders', 'orders.internal'), ('users', 'users.internal')) AS s (name, host);
INSERT INTO routes (id, created_at, name, service_id, protocols, paths, ws_id)
  SELECT gen_random_uuid(), now(), r.name, (SELECT id FROM services WHERE name = r.service),
         '{http,https}', ARRAY['/' || r.name], (SELECT id FROM workspaces)
  FROM (VALUES ('orders-api', 'orders'), ('orders-admin', 'orders'), ('users-api', 'users')) AS r (name, service);
INSERT INTO consumers (id, created_at, username, ws_id) VALUES (gen_random_uuid(), now(), 'alice', (SELECT id FROM workspaces));
INSERT INTO upstreams (id, created_at, name, slots, healthchecks, algorithm, ws_id)
  VALUES (gen_random_uuid(), now(), 'orders.internal', 10000,
          '{"active": {"healthy": {"interval": 0}, "unhealthy": {"interval": 0}}, "passive": {"healthy": {"successes": 0}, "unhealthy": {"http_failures": 0, "tcp_failures": 0, "timeouts": 0}}}',
          'round-robin', (SELECT id FROM workspaces));
INSERT INTO targets (id, created_at, upstream_id, target, weight, ws_id)
  SELECT gen_random_uuid(), now(), (SELECT id FROM upstreams), t, 100, (SELECT id FROM workspaces)
  FROM unnest(ARRAY['10.1.0.5:8080', 'orders-b.internal:8080']) AS t;
INSERT INTO plugins (id, created_at, name, config, enabled, ws_id)
  VALUES (gen_random_uuid(), now(), 'key-auth', '{"key_names": ["apikey"]}', true, (SELECT id FROM workspaces));
`

// kongDB is a database of the shared server with Kong's tables.
type kongDB struct {
	pg   *testsvc.Postgres
	name string
	dsn  string
}

var dbCounter atomic.Int64

// newKongDB creates a database with the schema and the entities, then runs extra SQL.
func newKongDB(t *testing.T, pg *testsvc.Postgres, extraSQL ...string) kongDB {
	t.Helper()
	name := fmt.Sprintf("kong_%s_%d", strings.ToLower(regexp.MustCompile(`\W+`).ReplaceAllString(t.Name(), "_")), dbCounter.Add(1))
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	dsn, err := pg.CreateDatabase(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	db := kongDB{pg: pg, name: name, dsn: dsn}
	db.bootstrap(t)
	db.exec(t, kongEntities)
	for _, s := range extraSQL {
		db.exec(t, s)
	}
	return db
}

// bootstrap gives the database Kong's schema with kongdb's "kong migrations bootstrap".
func (db kongDB) bootstrap(t *testing.T) {
	t.Helper()
	conf := &kconf.Conf{Values: kconf.Defaults(facts.Default().Latest().Version)}
	conf.Values["pg_host"], conf.Values["pg_port"] = db.pg.Host, strconv.Itoa(db.pg.Port)
	conf.Values["pg_user"], conf.Values["pg_database"] = db.pg.User, db.name
	var out strings.Builder
	log := &klog.Logger{Stdout: &out, Stderr: &out}
	if code := kongdb.Migrations(t.Context(), "bootstrap", kongdb.Options{}, conf, facts.Default().AllBundled(facts.Default().Latest().Version), log); code != 0 {
		t.Fatalf("bootstrap: exit %d\n%s", code, out.String())
	}
}

func (db kongDB) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
}

// globalPrometheus is SQL adding an enabled global prometheus plugin with this config.
func globalPrometheus(config string) string {
	return fmt.Sprintf(`INSERT INTO plugins (id, created_at, name, config, enabled, ws_id)
		VALUES (gen_random_uuid(), now(), 'prometheus', '%s', true, (SELECT id FROM workspaces))`, config)
}

const allFlags = `{"per_consumer": false, "status_code_metrics": true, "latency_metrics": true, "bandwidth_metrics": true, "upstream_health_metrics": true}`

// freeAddr returns a loopback address with a port nobody listens on right now.
// freeAddr is a loopback address nobody listens on, below the ephemeral port range (an
// ephemeral one could become an outgoing connection's source port before the node binds it).
func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(testsvc.FreePort(t))
}

// logRecorder is an slog handler that keeps every record's level and message.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
	return nil
}

func (r *logRecorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// nodeOptions describe a test node.
type nodeOptions struct {
	version string
	db      *kongDB   // nil: a database nobody listens on
	sim     *sim.File // written before start; nil: defaults
	conf    map[string]string
}

// testNode is a node running in the test.
type testNode struct {
	admin, status string // base URLs
	adminAddr     string
	statusAddr    string
	prefix        prefix.Prefix
	version       facts.Version
	nodeID        string
	sigs          chan os.Signal
	done          chan error // receives Run's result
	logs          *logRecorder
	cancel        context.CancelFunc
}

// startNode runs a node and waits until it is ready; the test's cleanup stops it.
func startNode(t *testing.T, o nodeOptions) *testNode {
	t.Helper()
	n, err := launchNode(t, o)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func launchNode(t *testing.T, o nodeOptions) (*testNode, error) {
	t.Helper()
	v := facts.MustParseVersion(o.version)
	p := prefix.Prefix(t.TempDir())
	if err := p.Prepare(); err != nil {
		t.Fatal(err)
	}
	if o.sim != nil {
		if err := sim.Save(string(p), *o.sim); err != nil {
			t.Fatal(err)
		}
	}
	n := &testNode{
		adminAddr: freeAddr(t), statusAddr: freeAddr(t), prefix: p, version: v,
		nodeID: fmt.Sprintf("6a7c0f2e-8d3b-4c1a-9e5f-%012d", dbCounter.Add(1)),
		sigs:   make(chan os.Signal, 4), done: make(chan error, 1), logs: &logRecorder{},
	}
	n.admin, n.status = "http://"+n.adminAddr, "http://"+n.statusAddr
	values := kconf.Defaults(v)
	values["prefix"] = string(p)
	values["admin_listen"] = n.adminAddr + " reuseport backlog=16384, 127.0.0.1:1 http2 ssl reuseport backlog=16384"
	values["status_listen"] = n.statusAddr
	values["pg_password"] = "s3cret"
	values["pg_user"] = "postgres"
	values["pg_timeout"] = "1000"
	if o.db != nil {
		values["pg_host"] = o.db.pg.Host
		values["pg_port"] = strconv.Itoa(o.db.pg.Port)
		values["pg_database"] = o.db.name
	} else {
		values["pg_port"] = strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	}
	for k, val := range o.conf {
		values[k] = val
	}
	if o.conf["status_listen"] == "off" {
		n.status, n.statusAddr = "", ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	ready := make(chan struct{})
	cfg := Config{Conf: &kconf.Conf{Values: values}, Prefix: p, Version: v, NodeID: n.nodeID,
		Hostname: "kongsim-test", Log: slog.New(n.logs)}
	go func() { n.done <- Run(ctx, cfg, n.sigs, func() { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			t.Errorf("node %s did not stop within 10s of its context ending", n.admin)
		}
		if t.Failed() {
			t.Logf("node %s log:\n%s", n.admin, n.logs.text())
		}
	})
	select {
	case <-ready:
		return n, nil
	case err := <-n.done:
		n.done <- err // for the cleanup
		return nil, err
	case <-time.After(15 * time.Second):
		return nil, errors.New("node not ready within 15s")
	}
}

// stopped waits for Run to return and gives its result.
func (n *testNode) stopped(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-n.done:
		n.done <- err // for the cleanup
		return err
	case <-time.After(within):
		t.Fatalf("node did not stop within %v", within)
		return nil
	}
}

// running reports whether Run has not returned.
func (n *testNode) running() bool {
	select {
	case err := <-n.done:
		n.done <- err
		return false
	default:
		return true
	}
}

func (n *testNode) setFaults(t *testing.T, fn func(*sim.Faults)) {
	t.Helper()
	if err := sim.Update(string(n.prefix), func(f *sim.File) error { fn(&f.Faults); return nil }); err != nil {
		t.Fatal(err)
	}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// get fetches a URL and returns status, Content-Type and body.
func get(t *testing.T, url string) (int, string, []byte) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// getJSON fetches a URL and decodes its JSON object.
func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	code, ct, b := get(t, url)
	if ct != "application/json; charset=utf-8" {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
	return code, m
}

// eventually polls cond every 50 ms until it returns nil, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, d, err)
		}
		<-tick.C
	}
}

// dig follows keys into nested JSON objects.
func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[k]
	}
	return cur
}
