package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kongsim/prefix"
)

var (
	kongsimBin string
	pg         *testsvc.Postgres
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kongsim-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kongsimBin = filepath.Join(dir, "kongsim")
	build := exec.Command("go", "build", "-o", kongsimBin, "../../cmd/kongsim")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kongsim:", err)
		return 1
	}
	pg, err = testsvc.NewPostgres(context.Background())
	if err != nil {
		if testsvc.ShouldSkip(err) {
			fmt.Fprintln(os.Stderr, "skipping kongsim CLI tests:", err)
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Close()
	return m.Run()
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// kong runs the simulated kong CLI in-process, as the kong binary would run it.
func kong(t *testing.T, args ...string) result {
	t.Helper()
	return kongsim(t, append([]string{"kong"}, args...)...)
}

func kongsim(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: cleanEnviron(), Executable: kongsimBin}
	code := Main(t.Context(), env, "kongsim", args)
	return result{out.String(), errb.String(), code}
}

// cleanEnviron drops KONG_* and PG* variables of the machine so tests see only their own.
func cleanEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KONG_") && !strings.HasPrefix(kv, "PG") {
			out = append(out, kv)
		}
	}
	return out
}

// testNode is one node laid out by "kongsim cluster init" on a database of the test's own.
type testNode struct {
	ClusterNode
	pfx prefix.Prefix
}

func newCluster(t *testing.T, n int, version string) []testNode {
	t.Helper()
	db := strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if _, err := pg.CreateDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := kongsim(t, "cluster", "init", "--dir", dir, "--nodes", fmt.Sprint(n), "--version", version,
		"--pg-host", pg.Host, "--pg-port", fmt.Sprint(pg.Port), "--pg-user", pg.User, "--pg-database", db)
	if r.code != 0 {
		t.Fatalf("cluster init: %s", r)
	}
	b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c Cluster
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	var nodes []testNode
	for _, cn := range c.Nodes {
		nd := testNode{ClusterNode: cn, pfx: prefix.Prefix(cn.Prefix)}
		nodes = append(nodes, nd)
		t.Cleanup(func() { killNode(nd.pfx) })
	}
	return nodes
}

// killNode ends a node a test left running.
func killNode(p prefix.Prefix) {
	if pid, alive := p.PID(); alive {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func must(t *testing.T, r result, code int, stdout string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout, stdout) {
		t.Fatalf("want exit %d and stdout containing %q; got %s", code, stdout, r)
	}
}

func getJSON(t *testing.T, url string, into any) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("GET %s: %v in %q", url, err, b)
		}
	}
	return resp.StatusCode
}

// waitStopped polls until the node's process is gone and its admin port can be bound again.
func waitStopped(t *testing.T, n testNode) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, alive := n.pfx.PID()
		if !alive {
			l, err := net.Listen("tcp", strings.TrimPrefix(n.AdminURL, "http://"))
			if err == nil {
				l.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not stop and free its port", n.Name)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition
	}
}

func TestUsageAndErrors(t *testing.T) {
	empty := t.TempDir()
	installed := t.TempDir()
	if r := kongsim(t, "install", "-p", installed, "--version", "3.4.2"); r.code != 0 {
		t.Fatal(r)
	}
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no command", []string{"kong"}, 1, "", "Usage: kong COMMAND [OPTIONS]"},
		{"unknown command", []string{"kong", "deploy"}, 1, "", "No such command: deploy"},
		{"migrations without subcommand", []string{"kong", "migrations"}, 1, "", "Usage: kong migrations COMMAND [OPTIONS]"},
		{"unknown migrations subcommand", []string{"kong", "migrations", "rollback", "-p", installed}, 1, "", "No such command for migrations: rollback"},
		{"version", []string{"kong", "version", "-p", installed}, 0, "3.4.2\n", ""},
		{"version -a", []string{"kong", "version", "-a", "-p", installed}, 0, "Kong: 3.4.2\nngx_lua: ", ""},
		{"version of an empty prefix", []string{"kong", "version", "-p", empty}, 1, "", "Error: no Kong version installed in " + empty},
		{"health of a missing prefix", []string{"kong", "health", "-p", "/nonexistent/kong"}, 1, "", "Error: no such prefix: /nonexistent/kong"},
		{"health of a stopped node", []string{"kong", "health", "-p", installed}, 1, "", "Error: Kong is not running at " + installed},
		{"stop of a never started node", []string{"kong", "stop", "-p", installed}, 1, "", "Error: no file at: " + installed + "/.kong_env"},
		{"error block", []string{"kong", "stop", "-p", installed}, 1, "", "\n\n  Run with --v (verbose) or --vv (debug) for more details\n"},
		{"install of an unknown version", []string{"install", "-p", empty, "--version", "3.4.3"}, 1, "", "3.4.3 is not a Kong release kongsim knows (OSS 2.8.0 … 3.9.3, or an Enterprise build of those lines such as 3.4.3.12)"},
		{"set of an unknown key", []string{"set", "-p", empty, "faults.explode=true"}, 1, "", "unknown key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := kongsim(t, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("want exit %d, stdout %q, stderr %q; got %s", tc.code, tc.stdout, tc.stderr, r)
			}
		})
	}
}

func TestStartStopLifecycle(t *testing.T) {
	n := newCluster(t, 1, "3.4.2")[0]
	must(t, kong(t, "migrations", "bootstrap", "-c", n.Conf), 0, "Database is up-to-date")
	must(t, kong(t, "start", "-c", n.Conf), 0, "Kong started")

	var root struct {
		Version string
		NodeID  string `json:"node_id"`
	}
	if code := getJSON(t, n.AdminURL+"/", &root); code != 200 || root.Version != "3.4.2" || root.NodeID == "" {
		t.Fatalf("GET / = %d %+v", code, root)
	}
	must(t, kong(t, "health", "-p", n.Prefix), 0, "nginx.......running\n\nKong is healthy at "+n.Prefix)
	if r := kong(t, "start", "-c", n.Conf); r.code != 1 || !strings.Contains(r.stderr, "Error: Kong is already running in "+n.Prefix) {
		t.Fatalf("second start: %s", r)
	}
	must(t, kong(t, "stop", "-p", n.Prefix), 0, "Kong stopped")
	waitStopped(t, n)
	if r := kong(t, "stop", "-p", n.Prefix); r.code != 1 || !strings.Contains(r.stderr, "nginx not running in prefix: "+n.Prefix) {
		t.Fatalf("stop of a stopped node: %s", r)
	}
	// A restarted traditional node gets a new node_id, as Kong's does.
	must(t, kong(t, "start", "-c", n.Conf), 0, "Kong started")
	var again struct {
		NodeID string `json:"node_id"`
	}
	getJSON(t, n.AdminURL+"/", &again)
	if again.NodeID == root.NodeID {
		t.Errorf("node_id %s survived a restart", root.NodeID)
	}
	must(t, kong(t, "quit", "-p", n.Prefix), 0, "Kong stopped (gracefully)")
	waitStopped(t, n)
}

func TestStartChecksTheDatabase(t *testing.T) {
	n := newCluster(t, 1, "3.4.2")[0]
	if r := kong(t, "start", "-c", n.Conf); r.code != 1 || !strings.Contains(r.stderr, "Database needs bootstrapping or is older than Kong 1.0") {
		t.Fatalf("start on an empty database: %s", r)
	}
	must(t, kong(t, "migrations", "bootstrap", "-c", n.Conf), 0, "")
	if r := kongsim(t, "install", "-p", n.Prefix, "--version", "3.6.1"); r.code != 0 {
		t.Fatal(r)
	}
	r := kong(t, "start", "-c", n.Conf)
	want := "Error: /usr/local/share/lua/5.1/kong/cmd/utils/migrations.lua:20: New migrations available; run 'kong migrations up' to proceed"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("start with new migrations: want %q; got %s", want, r)
	}
	if _, alive := n.pfx.PID(); alive {
		t.Fatal("a refused start left a node running")
	}
	// 3.4 → 3.6 leaves teardowns pending: Kong starts, saying so.
	must(t, kong(t, "migrations", "up", "-c", n.Conf), 0, "Database has pending migrations; run 'kong migrations finish' when ready")
	r = kong(t, "start", "-c", n.Conf)
	if r.code != 0 || !strings.Contains(r.stdout, "Database has pending migrations:") || !strings.Contains(r.stdout, "Kong started") {
		t.Fatalf("start with pending migrations: %s", r)
	}
	var root struct{ Version string }
	if getJSON(t, n.AdminURL+"/", &root); root.Version != "3.6.1" {
		t.Errorf("node answers %s", root.Version)
	}
}

func TestFaults(t *testing.T) {
	nodes := newCluster(t, 2, "3.4.2")
	a, b := nodes[0], nodes[1]
	must(t, kong(t, "migrations", "bootstrap", "-c", a.Conf), 0, "")

	t.Run("start fails", func(t *testing.T) {
		must(t, kongsim(t, "set", "-p", a.Prefix, "faults.start_fail=nginx: [emerg] bind() failed (98: Address already in use)"), 0, "")
		r := kong(t, "start", "-c", a.Conf)
		if r.code != 1 || !strings.Contains(r.stderr, "Error: nginx: [emerg] bind() failed") {
			t.Fatalf("%s", r)
		}
		if _, alive := a.pfx.PID(); alive {
			t.Fatal("failed start left a node")
		}
		must(t, kongsim(t, "set", "-p", a.Prefix, "faults.start_fail="), 0, "")
	})
	t.Run("start takes N seconds", func(t *testing.T) {
		must(t, kongsim(t, "set", "-p", b.Prefix, "faults.start_delay=1500ms"), 0, "")
		start := time.Now()
		must(t, kong(t, "start", "-c", b.Conf), 0, "Kong started")
		if d := time.Since(start); d < 1500*time.Millisecond {
			t.Errorf("start took %s with a 1.5s start_delay", d)
		}
		must(t, kong(t, "stop", "-p", b.Prefix), 0, "Kong stopped")
		waitStopped(t, b)
	})
	t.Run("node ignores stop until quit --timeout", func(t *testing.T) {
		must(t, kong(t, "start", "-c", a.Conf), 0, "Kong started")
		must(t, kongsim(t, "set", "-p", a.Prefix, "faults.ignore_stop=true", "faults.admin_hang=true"), 0, "")
		waitFaultSeen(t, a)
		// A request that hangs keeps the graceful quit from finishing within its timeout.
		conn, err := net.Dial("tcp", strings.TrimPrefix(a.AdminURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: kong\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		must(t, kong(t, "stop", "-p", a.Prefix), 0, "Kong stopped")
		if code := getJSON(t, a.StatusURL+"/status", nil); code != 200 {
			t.Fatalf("node stopped although it ignores TERM (status %d)", code)
		}
		start := time.Now()
		must(t, kong(t, "quit", "-p", a.Prefix, "--timeout", "1"), 0, "Timeout, Kong stopped forcefully")
		if d := time.Since(start); d < time.Second {
			t.Errorf("quit returned after %s, before its 1s timeout", d)
		}
		waitStopped(t, a)
		must(t, kongsim(t, "set", "-p", a.Prefix, "faults.ignore_stop=", "faults.admin_hang="), 0, "")
	})
	t.Run("migrations up fails at a migration", func(t *testing.T) {
		must(t, kongsim(t, "install", "-p", a.Prefix, "--version", "3.6.1"), 0, "")
		must(t, kongsim(t, "set", "-p", a.Prefix, "faults.migration_fail=022_350_to_360"), 0, "")
		r := kong(t, "migrations", "up", "-c", a.Conf)
		if r.code != 1 || !strings.Contains(r.stderr, "migrations.lua:104: [PostgreSQL error] failed to run migration '022_350_to_360' up") {
			t.Fatalf("%s", r)
		}
		if !strings.Contains(r.stdout, "core migrated up to: 021_340_to_350 (executed)") {
			t.Errorf("the migration before the failing one was not run: %s", r)
		}
		must(t, kongsim(t, "set", "-p", a.Prefix, "faults.migration_fail="), 0, "")
		if r := kong(t, "migrations", "list", "-c", a.Conf); r.code != 5 {
			t.Errorf("list after a failed up: %s", r)
		}
		must(t, kong(t, "migrations", "up", "-c", a.Conf), 0, "022_350_to_360 (executed)")
	})
}

// waitFaultSeen polls until the node applies admin_hang (the sim file is re-read on change).
func waitFaultSeen(t *testing.T, n testNode) {
	t.Helper()
	c := &http.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.Get(n.AdminURL + "/")
		if err != nil {
			return // the Admin API hangs now
		}
		resp.Body.Close()
		time.Sleep(20 * time.Millisecond) // polling a condition
	}
	t.Fatal("admin_hang fault never took effect")
}
