package kongdb

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/kconf"
	"github.com/drawbridge/drawbridge/kongsim/klog"
)

const runWithV = "\n\n  Run with --v (verbose) or --vv (debug) for more details\n"

// setups put a fresh database in a migration state.
var setups = map[string]func(t *testing.T, c *kconf.Conf){
	"empty": func(*testing.T, *kconf.Conf) {},
	"2.8.5 bootstrapped": func(t *testing.T, c *kconf.Conf) {
		must(t, c, "2.8.5", "bootstrap", Options{})
	},
	"3.4.2 up from 2.8.5": func(t *testing.T, c *kconf.Conf) {
		must(t, c, "2.8.5", "bootstrap", Options{})
		must(t, c, "3.4.2", "up", Options{})
	},
	"3.4.2 finished from 2.8.5": func(t *testing.T, c *kconf.Conf) {
		must(t, c, "2.8.5", "bootstrap", Options{})
		must(t, c, "3.4.2", "up", Options{})
		must(t, c, "3.4.2", "finish", Options{})
	},
}

func setup(t *testing.T, name string) *kconf.Conf {
	t.Helper()
	c := newConf(t)
	setups[name](t, c)
	return c
}

func TestList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, setup, version string
		code                 int
		stdoutHas            []string
		stdoutEnds, stderr   string
	}{
		{name: "needs bootstrap", setup: "empty", version: "3.4.2", code: 3,
			stdoutEnds: NeedsBootstrapMessage + "\n"},
		{name: "up to date", setup: "2.8.5 bootstrapped", version: "2.8.5", code: 0,
			stdoutHas:  []string{"Executed migrations:\n                 core: 000_base, 003_100_to_110, "},
			stdoutEnds: "              session: 000_base_session, 001_add_ttl_index\n"},
		{name: "new migrations", setup: "2.8.5 bootstrapped", version: "3.4.2", code: 5,
			stdoutHas:  []string{"\n\nNew migrations available:\n         core: 016_280_to_300, 017_300_to_310, 018_310_to_320, 019_320_to_330, 020_330_to_340\n         acme: 001_280_to_300, 002_320_to_330\n     http-log: 001_280_to_300\n"},
			stdoutEnds: "      session: 002_320_to_330\n\nRun 'kong migrations up' to proceed\n"},
		{name: "pending", setup: "3.4.2 up from 2.8.5", version: "3.4.2", code: 4,
			stdoutEnds: "\n\nPending migrations:\n         core: 016_280_to_300\n     http-log: 001_280_to_300\npost-function: 001_280_to_300\n pre-function: 001_280_to_300\n\nRun 'kong migrations finish' when ready\n"},
		{name: "pending and new", setup: "3.4.2 up from 2.8.5", version: "3.5.0", code: 4,
			stdoutEnds: "\n\nPending migrations:\n         core: 016_280_to_300\n     http-log: 001_280_to_300\npost-function: 001_280_to_300\n pre-function: 001_280_to_300\n\nNew migrations available:\ncore: 021_340_to_350\n\n\nRun 'kong migrations finish' when ready to complete pending migrations (PostgreSQL database will be incompatible with the previous Kong version)\n",
			stderr:     "2025/01/02 03:04:05 [warn] Database has pending migrations from a previous upgrade, and new migrations from this upgrade (version 3.5.0)\n"},
		{name: "finished", setup: "3.4.2 finished from 2.8.5", version: "3.4.2", code: 0,
			stdoutHas: []string{"core: 000_base, 003_100_to_110, 004_110_to_120, 005_120_to_130, 006_130_to_140, 007_140_to_150, 008_150_to_200, 009_200_to_210, 010_210_to_211, 011_212_to_213, 012_213_to_220, 013_220_to_230, 014_230_to_270, 015_270_to_280, 016_280_to_300, 017_300_to_310, 018_310_to_320, 019_320_to_330, 020_330_to_340\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := setup(t, tc.setup)
			r := kong(t, c, tc.version, "list", Options{})
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			if !strings.HasSuffix(r.stdout, tc.stdoutEnds) {
				t.Errorf("stdout does not end with\n%s\ngot\n%s", tc.stdoutEnds, r.stdout)
			}
			for _, s := range tc.stdoutHas {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			if r.stderr != tc.stderr {
				t.Errorf("stderr = %q, want %q", r.stderr, tc.stderr)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setup, version string
		keys           []string
	}{
		{"empty", "3.4.2", []string{"needs_bootstrap", "new_migrations"}},
		{"2.8.5 bootstrapped", "2.8.5", nil}, // status does not exist in 2.8
		{"2.8.5 bootstrapped", "3.4.2", []string{"needs_bootstrap", "executed_migrations", "new_migrations"}},
		{"3.4.2 up from 2.8.5", "3.4.2", []string{"needs_bootstrap", "executed_migrations", "pending_migrations"}},
		{"3.4.2 up from 2.8.5", "3.5.0", []string{"needs_bootstrap", "executed_migrations", "pending_migrations", "new_migrations"}},
		{"3.4.2 finished from 2.8.5", "3.4.2", []string{"needs_bootstrap", "executed_migrations"}},
	} {
		t.Run(tc.setup+" at "+tc.version, func(t *testing.T) {
			t.Parallel()
			c := setup(t, tc.setup)
			r := kong(t, c, tc.version, "status", Options{Quiet: true})
			if tc.keys == nil {
				if r.code != 1 || r.stdout != "" || r.stderr != "No such command for migrations: status\n" {
					t.Errorf("2.8 status: %+v", r)
				}
				return
			}
			if r.code != 0 || r.stderr != "" || strings.Count(r.stdout, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q, stdout %q", r.code, r.stderr, r.stdout)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.keys) {
				t.Errorf("keys %v, want %v", keysOf(got), tc.keys)
			}
			for _, k := range tc.keys {
				if _, ok := got[k]; !ok {
					t.Errorf("no %q in %s", k, r.stdout)
				}
			}
			if string(got["needs_bootstrap"]) != strconv.FormatBool(tc.setup == "empty") {
				t.Errorf("needs_bootstrap = %s", got["needs_bootstrap"])
			}
			var lists []struct {
				Subsystem, Namespace string
				Migrations           []string
			}
			if err := json.Unmarshal(got[tc.keys[len(tc.keys)-1]], &lists); err != nil || len(lists) == 0 {
				t.Fatalf("%s: %v %s", tc.keys[len(tc.keys)-1], err, r.stdout)
			}
			for _, l := range lists {
				want := "kong.plugins." + l.Subsystem + ".migrations"
				if l.Subsystem == "core" {
					want = "kong.db.migrations.core"
				}
				if l.Namespace != want || len(l.Migrations) == 0 {
					t.Errorf("entry %+v", l)
				}
			}
		})
	}
}

func countKnown(v string) int {
	n := 0
	for _, s := range known(v) {
		n += len(s.Migrations)
	}
	return n
}

func keysOf(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBootstrap(t *testing.T) {
	t.Parallel()
	t.Run("fresh, then twice, then forced", func(t *testing.T) {
		t.Parallel()
		c := newDatabaseConf(t)
		r := must(t, c, "3.4.2", "bootstrap", Options{})
		db := c.Get("pg_database")
		if want := "Bootstrapping database...\nmigrating core on database '" + db + "'...\ncore migrated up to: 000_base (executed)\n"; !strings.HasPrefix(r.stdout, want) {
			t.Errorf("stdout starts\n%s", r.stdout[:min(len(r.stdout), 300)])
		}
		n := strings.Count(r.stdout, " migrated up to: ")
		if want := strconv.Itoa(n) + " migrations processed\n" + strconv.Itoa(n) + " executed\nDatabase is up-to-date\n"; !strings.HasSuffix(r.stdout, want) || n != countKnown("3.4.2") {
			t.Errorf("%d migrations; stdout ends\n%s", n, r.stdout[max(0, len(r.stdout)-200):])
		}
		if strings.Contains(r.stdout, "(pending)") || r.stderr != "" {
			t.Errorf("bootstrap left something pending or wrote stderr: %q", r.stderr)
		}
		if r := must(t, c, "3.4.2", "bootstrap", Options{}); r.stdout != "Database already bootstrapped\n" {
			t.Errorf("second bootstrap: %q", r.stdout)
		}
		r = must(t, c, "3.4.2", "bootstrap", Options{Force: true})
		if !strings.HasPrefix(r.stdout, "Resetting database...\nDatabase successfully reset\nBootstrapping database...\nmigrating core") ||
			!strings.HasSuffix(r.stdout, "\nDatabase is up-to-date\n") {
			t.Errorf("bootstrap -f:\n%s", r.stdout)
		}
	})
	t.Run("forced on an empty database", func(t *testing.T) {
		t.Parallel()
		r := must(t, newConf(t), "2.8.5", "bootstrap", Options{Force: true})
		if !strings.HasPrefix(r.stdout, "Database not bootstrapped, nothing to reset\nBootstrapping database...\n") {
			t.Errorf("bootstrap -f on empty:\n%s", r.stdout)
		}
	})
}

func TestUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, setup, version string
		opts                 Options
		code                 int
		stdout, stderr       string
		stdoutEnds           string
	}{
		{name: "not bootstrapped", setup: "empty", version: "3.4.2", code: 1,
			stderr: "Error: Cannot run migrations: " + NeedsBootstrapMessage + runWithV},
		{name: "nothing new", setup: "2.8.5 bootstrapped", version: "2.8.5",
			stdout: "Database is already up-to-date\n"},
		{name: "pending without -f", setup: "3.4.2 up from 2.8.5", version: "3.4.2", code: 1,
			stderr: "Error: Database has pending migrations; run 'kong migrations finish'" + runWithV},
		{name: "pending and new without -f", setup: "3.4.2 up from 2.8.5", version: "3.5.0", code: 1,
			stderr: "Error: Database has pending migrations; run 'kong migrations finish'" + runWithV},
		{name: "pending with -f re-runs executed and stops", setup: "3.4.2 up from 2.8.5", version: "3.5.0",
			opts:       Options{Force: true},
			stdoutEnds: " executed\n\nDatabase has pending migrations; run 'kong migrations finish' when ready\n"},
		{name: "leaves pending", setup: "2.8.5 bootstrapped", version: "3.4.2",
			stdoutEnds: "15 migrations processed\n11 executed\n4 pending\n\nDatabase has pending migrations; run 'kong migrations finish' when ready\n"},
		{name: "executed only", setup: "3.4.2 finished from 2.8.5", version: "3.5.0",
			stdout: "migrating core on database 'DB'...\ncore migrated up to: 021_340_to_350 (executed)\n1 migration processed\n1 executed\n"},
		{name: "-q", setup: "2.8.5 bootstrapped", version: "3.4.2", opts: Options{Quiet: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := setup(t, tc.setup)
			r := kong(t, c, tc.version, "up", tc.opts)
			stdout := strings.ReplaceAll(r.stdout, c.Get("pg_database"), "DB")
			if r.code != tc.code || r.stderr != tc.stderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", r.code, r.stderr, tc.code, tc.stderr)
			}
			if tc.stdoutEnds != "" {
				if !strings.HasSuffix(stdout, tc.stdoutEnds) {
					t.Errorf("stdout does not end with %q:\n%s", tc.stdoutEnds, stdout)
				}
			} else if stdout != tc.stdout {
				t.Errorf("stdout\n%s\nwant\n%s", stdout, tc.stdout)
			}
		})
	}
}

// "up -f" on an up-to-date database re-runs everything and prints the same both times.
func TestUpForceIsReentrant(t *testing.T) {
	t.Parallel()
	c := setup(t, "3.4.2 finished from 2.8.5")
	first := must(t, c, "3.4.2", "up", Options{Force: true})
	second := must(t, c, "3.4.2", "up", Options{Force: true})
	if first.stdout != second.stdout || first.stderr != "" || second.stderr != "" {
		t.Errorf("up -f twice differs:\n%s\n---\n%s", first.stdout, second.stdout)
	}
	if strings.Contains(first.stdout, "up-to-date") || !strings.Contains(first.stdout, "core migrated up to: 016_280_to_300 (executed)") {
		t.Errorf("up -f:\n%s", first.stdout)
	}
	if r := kong(t, c, "3.4.2", "list", Options{}); r.code != 0 {
		t.Errorf("list after up -f: exit %d\n%s", r.code, r.stdout)
	}
	// Kong appends on every run: executed now holds each name three times.
	var n int
	if err := raw(t, c).QueryRow(t.Context(), `SELECT cardinality(array_positions(executed, '000_base')) FROM schema_meta WHERE subsystem = 'core'`).Scan(&n); err != nil || n != 3 {
		t.Errorf("000_base recorded %d times (%v), want 3", n, err)
	}
}

func TestFinish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, setup, version string
		opts                 Options
		code                 int
		stdout, stderr       string
	}{
		{name: "not bootstrapped", setup: "empty", version: "3.4.2", code: 1,
			stderr: "Error: Cannot run migrations: " + NeedsBootstrapMessage + runWithV},
		{name: "nothing pending", setup: "2.8.5 bootstrapped", version: "2.8.5",
			stdout: "No pending migrations to finish\n"},
		{name: "finishes pending", setup: "3.4.2 up from 2.8.5", version: "3.4.2",
			stdout: "migrating core on database 'DB'...\ncore migrated up to: 016_280_to_300 (executed)\nmigrating http-log on database 'DB'...\nhttp-log migrated up to: 001_280_to_300 (executed)\nmigrating post-function on database 'DB'...\npost-function migrated up to: 001_280_to_300 (executed)\nmigrating pre-function on database 'DB'...\npre-function migrated up to: 001_280_to_300 (executed)\n4 migrations processed\n4 executed\nNo pending migrations to finish\n"},
		{name: "finishes pending, new left", setup: "3.4.2 up from 2.8.5", version: "3.5.0",
			stdout: "migrating core on database 'DB'...\ncore migrated up to: 016_280_to_300 (executed)\nmigrating http-log on database 'DB'...\nhttp-log migrated up to: 001_280_to_300 (executed)\nmigrating post-function on database 'DB'...\npost-function migrated up to: 001_280_to_300 (executed)\nmigrating pre-function on database 'DB'...\npre-function migrated up to: 001_280_to_300 (executed)\n4 migrations processed\n4 executed\n\nNew migrations available; run 'kong migrations up' to proceed\n"},
		{name: "only new", setup: "2.8.5 bootstrapped", version: "3.4.2",
			stdout: "\nNew migrations available; run 'kong migrations up' to proceed\n"},
		{name: "-q", setup: "3.4.2 up from 2.8.5", version: "3.4.2", opts: Options{Quiet: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := setup(t, tc.setup)
			r := kong(t, c, tc.version, "finish", tc.opts)
			stdout := strings.ReplaceAll(r.stdout, c.Get("pg_database"), "DB")
			if r.code != tc.code || r.stderr != tc.stderr || stdout != tc.stdout {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d\nstdout:\n%s\nstderr:\n%s", r.code, stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	const prompt = "> Are you sure? This operation is irreversible. [y/n] "
	for _, tc := range []struct {
		name, setup    string
		opts           Options
		code           int
		stdout, stderr string
		dropLocks      bool
		stillThere     bool
	}{
		{name: "not a tty", setup: "2.8.5 bootstrapped", code: 1, stillThere: true,
			stderr: "Error: not a tty: invoke 'reset' non-interactively with the --yes flag" + runWithV},
		{name: "tty, yes", setup: "2.8.5 bootstrapped", opts: Options{TTY: true, Stdin: strings.NewReader("y\n")},
			stdout: prompt + "Resetting database...\nDatabase successfully reset\n"},
		{name: "tty, no", setup: "2.8.5 bootstrapped", opts: Options{TTY: true, Stdin: strings.NewReader("no\n")},
			stdout: prompt + "cancelled\n", stillThere: true},
		{name: "tty, three wrong answers", setup: "2.8.5 bootstrapped", opts: Options{TTY: true, Stdin: strings.NewReader("maybe\nsure\nok\nyes\n")},
			stdout: prompt + prompt + prompt + "cancelled\n", stillThere: true},
		{name: "tty, end of input", setup: "2.8.5 bootstrapped", opts: Options{TTY: true},
			stdout: prompt + prompt + prompt + "cancelled\n", stillThere: true},
		{name: "--yes", setup: "3.4.2 up from 2.8.5", opts: Options{Yes: true},
			stdout: "Resetting database...\nDatabase successfully reset\n"},
		{name: "--yes -q", setup: "2.8.5 bootstrapped", opts: Options{Yes: true, Quiet: true}},
		{name: "not bootstrapped", setup: "empty", opts: Options{Yes: true}, code: 1,
			stdout: "Database not bootstrapped, nothing to reset\n"},
		{name: "not bootstrapped, tty: no prompt", setup: "empty", opts: Options{TTY: true, Stdin: strings.NewReader("y\n")}, code: 1,
			stdout: "Database not bootstrapped, nothing to reset\n"},
		{name: "locks table dropped", setup: "2.8.5 bootstrapped", opts: Options{Yes: true}, dropLocks: true,
			stdout: "Resetting database...\nDatabase successfully reset\n",
			stderr: "2025/01/02 03:04:05 [error] [PostgreSQL error] failed to insert cluster lock: ERROR: relation \"locks\" does not exist - retrying without cluster lock\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := setup(t, tc.setup)
			conn := raw(t, c)
			if tc.dropLocks {
				if _, err := conn.Exec(t.Context(), "DROP TABLE locks"); err != nil {
					t.Fatal(err)
				}
			}
			r := kong(t, c, "2.8.5", "reset", tc.opts)
			if r.code != tc.code || r.stdout != tc.stdout || r.stderr != tc.stderr {
				t.Errorf("exit %d\nstdout: %q\nstderr: %q\nwant %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
			}
			if got := hasColumn(t, conn, "schema_meta", ""); tc.setup != "empty" && got != tc.stillThere {
				t.Errorf("schema_meta exists: %v, want %v", got, tc.stillThere)
			}
			if !tc.stillThere && tc.setup != "empty" && hasColumn(t, conn, "services", "") {
				t.Error("reset left the services table")
			}
		})
	}
}

func TestQuietBootstrapAndList(t *testing.T) {
	t.Parallel()
	c := newConf(t)
	for _, step := range []struct {
		v, sub string
		code   int
	}{{"3.4.2", "list", 3}, {"2.8.5", "bootstrap", 0}, {"3.4.2", "up", 0}, {"3.4.2", "list", 4}, {"3.4.2", "finish", 0}, {"3.4.2", "list", 0}} {
		r := kong(t, c, step.v, step.sub, Options{Quiet: true})
		if r.code != step.code || r.stdout != "" || r.stderr != "" {
			t.Errorf("%s %s -q: exit %d (want %d), stdout %q, stderr %q", step.v, step.sub, r.code, step.code, r.stdout, r.stderr)
		}
	}
}

func TestBadSubcommand(t *testing.T) {
	t.Parallel()
	c := newConf(t)
	r := kong(t, c, "3.4.2", "invalid", Options{})
	if r.code != 1 || r.stdout != "" || r.stderr != "No such command for migrations: invalid\n" {
		t.Errorf("%+v", r)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close() // nothing listens there now
	c := &kconf.Conf{Values: map[string]string{"pg_host": "127.0.0.1", "pg_port": port, "pg_user": "kong", "pg_database": "kong", "pg_timeout": "2000"}}
	for _, sub := range []string{"list", "bootstrap", "up", "finish", "status", "reset"} {
		r := kong(t, c, "3.4.2", sub, Options{Yes: true, Quiet: true})
		want := "Error: [PostgreSQL error] failed to retrieve PostgreSQL server_version_num: connection refused" + runWithV
		if r.code != 1 || r.stdout != "" || r.stderr != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", sub, r.code, r.stdout, r.stderr)
		}
	}

	// A server that accepts connections and never answers: --db-timeout bounds the wait.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		for {
			conn, err := hung.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c.Values["pg_port"] = strconv.Itoa(hung.Addr().(*net.TCPAddr).Port)
	r := kong(t, c, "3.4.2", "list", Options{DBTimeout: 200 * time.Millisecond})
	if want := "Error: [PostgreSQL error] failed to retrieve PostgreSQL server_version_num: timeout" + runWithV; r.code != 1 || r.stderr != want {
		t.Errorf("hung server: exit %d, stderr %q", r.code, r.stderr)
	}

	if pgErr == nil {
		c := newConf(t)
		c.Values["pg_database"] = "no_such_db"
		r := kong(t, c, "3.4.2", "list", Options{})
		if want := "Error: [PostgreSQL error] failed to retrieve PostgreSQL server_version_num: FATAL: database \"no_such_db\" does not exist" + runWithV; r.code != 1 || r.stderr != want {
			t.Errorf("missing database: exit %d, stderr %q", r.code, r.stderr)
		}
	}
}

func TestVerbose(t *testing.T) {
	t.Parallel()
	c := newDatabaseConf(t)
	must(t, c, "3.4.2", "bootstrap", Options{})
	var out, errb strings.Builder
	lg := &klog.Logger{Stdout: &out, Stderr: &errb, Level: klog.Debug}
	code := Migrations(t.Context(), "up", Options{Version: "3.4.2"}, c, known("3.4.2"), lg)
	for _, want := range []string{"[verbose] retrieving database schema state...\n", "[verbose] schema state retrieved\n", "[debug] loading subsystems migrations...\n", "[info] Database is already up-to-date\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--vv output lacks %q:\n%s", want, out.String())
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}
}

// "finish -f" re-runs every executed migration (up and teardown), then finishes pending
// ones, and says nothing else; twice in a row it prints the same.
func TestFinishForce(t *testing.T) {
	t.Parallel()
	c := setup(t, "3.4.2 up from 2.8.5")
	first := must(t, c, "3.4.2", "finish", Options{Force: true})
	n := countKnown("3.4.2")
	executedFirst := n - 4 // the four pending ones are finished by the second run_migrations
	if want := strconv.Itoa(executedFirst) + " migrations processed\n" + strconv.Itoa(executedFirst) + " executed\nmigrating core on database '" + c.Get("pg_database") + "'...\ncore migrated up to: 016_280_to_300 (executed)\n"; !strings.Contains(first.stdout, want) ||
		!strings.HasSuffix(first.stdout, "4 migrations processed\n4 executed\n") {
		t.Errorf("finish -f:\n%s", first.stdout)
	}
	second := must(t, c, "3.4.2", "finish", Options{Force: true})
	third := must(t, c, "3.4.2", "finish", Options{Force: true})
	if second.stdout != third.stdout || !strings.HasSuffix(second.stdout, strconv.Itoa(n)+" migrations processed\n"+strconv.Itoa(n)+" executed\n") {
		t.Errorf("finish -f again:\n%s\n---\n%s", second.stdout, third.stdout)
	}
	if r := kong(t, c, "3.4.2", "list", Options{}); r.code != 0 {
		t.Errorf("list: %d", r.code)
	}
}
