package kongdb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/kconf"
	"github.com/drawbridge/drawbridge/kongsim/klog"
)

// Options are the flags of "kong migrations", parsed by the CLI.
type Options struct {
	Force       bool          // -f, --force
	Yes         bool          // -y, --yes: reset does not prompt
	Quiet       bool          // -q, --quiet: no output (errors and status's JSON still print)
	DBTimeout   time.Duration // --db-timeout; 0: pg_timeout
	LockTimeout time.Duration // --lock-timeout; 0: 60 s
	FailAt      string        // sim fault migration_fail: "up" fails at this migration
	FinishFail  string        // sim fault finish_fail: "finish" fails in this teardown
	// Delay is how long a migration takes (sim fault migration_delay); nil: no delay.
	Delay func(subsystem, name string) time.Duration
	// LockRace is how long another node holds the migrations lock it takes just before up
	// or finish asks for it (sim fault lock_race); 0: no other node.
	LockRace time.Duration
	Version  string    // the running Kong version, for list's warning
	TTY      bool      // stdin is a terminal (reset refuses to prompt otherwise)
	Stdin    io.Reader // reset's answers; nil reads as end of input

	lockWait func() // tests: called when up starts waiting on another node's lock
}

// DefaultLockTimeout is --lock-timeout's default.
const DefaultLockTimeout = 60 * time.Second

// Subcommands returns the "kong migrations" subcommands version v has: status arrived in 3.0.
func Subcommands(v facts.Version) []string {
	subs := []string{"bootstrap", "up", "finish", "list", "reset"}
	if !v.Less(facts.MustParseVersion("3.0.0")) {
		subs = append(subs, "status")
	}
	return subs
}

type command func(m *migrator, ctx context.Context, st *State) (int, error)

var commands = map[string]command{
	"bootstrap": (*migrator).bootstrap,
	"up":        (*migrator).up,
	"finish":    (*migrator).finish,
	"list":      (*migrator).list,
	"reset":     (*migrator).reset,
	"status":    (*migrator).status,
}

// Migrations runs "kong migrations <sub>" end to end for the Kong version whose migrations
// are known: connect, read the schema state, take the cluster lock, run, print, and return
// the exit code (0, 3, 4 or 5 for list; 1 on any error, printed as Kong's "Error:" block).
func Migrations(ctx context.Context, sub string, opts Options, conf *kconf.Conf, known []facts.Subsystem, log *klog.Logger) int {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	lg := *log
	if opts.Quiet {
		lg.Level = klog.Quiet
	}
	cmd, ok := commands[sub]
	if v, err := facts.ParseVersion(opts.Version); ok && err == nil && !slices.Contains(Subcommands(v), sub) {
		ok = false
	}
	if !ok {
		fmt.Fprintf(log.Stderr, "No such command for migrations: %s\n", sub)
		return 1
	}
	if conf.DBLess() {
		return offline(sub, &migrator{opts: opts, known: known, log: &lg})
	}
	db, err := Open(ctx, conf, opts.DBTimeout)
	if err != nil {
		return lg.Fail(err)
	}
	defer db.Close()
	m := &migrator{db: db, opts: opts, known: known, log: &lg}
	st, err := m.state(ctx)
	if err != nil {
		return lg.Fail(err)
	}
	code, err := cmd(m, ctx, st)
	if err != nil {
		return lg.Fail(err)
	}
	return code
}

// migrator runs one subcommand: kong/cmd/migrations.lua and kong/cmd/utils/migrations.lua.
type migrator struct {
	db    *DB
	opts  Options
	known []facts.Subsystem
	log   *klog.Logger
}

func (m *migrator) state(ctx context.Context) (*State, error) {
	m.log.Debugf("loading subsystems migrations...")
	m.log.Verbose("retrieving database schema state...")
	st, err := m.db.State(ctx, m.known)
	if err != nil {
		return nil, err
	}
	m.log.Verbose("schema state retrieved")
	return st, nil
}

func (m *migrator) mutex(ctx context.Context, noWait, noCleanup bool, fn func() error) (bool, error) {
	o := mutexOpts{ttl: m.opts.LockTimeout, noWait: noWait, noCleanup: noCleanup, onWait: m.opts.lockWait}
	return m.db.clusterMutex(ctx, migrationsLock, o, fn)
}

// race is the lock_race fault: another node takes the migrations lock first.
func (m *migrator) race(ctx context.Context) error {
	if m.opts.LockRace <= 0 {
		return nil
	}
	if _, err := m.db.insertLock(ctx, migrationsLock, "kongsim-lock-race-"+newUUID(), m.opts.LockRace); err != nil {
		return pgError(err, "failed to insert cluster lock: ")
	}
	return nil
}

// Where kong/cmd/utils/migrations.lua asserts run_migrations inside its cluster_mutex
// callbacks (the same lines in every release 2.8.0 … 3.9.3), and where each callback starts.
const (
	lineBootstrap, fnBootstrap  = 41, 40
	lineUpForce, lineUp, fnUp   = 81, 104, 70
	lineFinishForce, lineFinish = 137, 149
	fnFinish                    = 133
	utilsFile                   = "/usr/local/share/lua/5.1/kong/cmd/utils/migrations.lua"
)

// run is DB:run_migrations asserted inside a cluster_mutex callback at utils line `line`
// (the callback starting at fn): a failure comes out as Kong's cluster_mutex reports it,
// "cluster_mutex callback threw an error: <file>:<line>: [PostgreSQL error] …" with the
// traceback xpcall appends (abbreviated).
func (m *migrator) run(ctx context.Context, list []SubsystemMigrations, o runOpts, line, fn int) error {
	if o.up && !o.teardown {
		o.delay = m.opts.Delay
	}
	if o.teardown && !o.up {
		o.delay, o.finishFail = m.opts.Delay, m.opts.FinishFail
	}
	err := m.db.runMigrations(ctx, list, o, m.log)
	if err == nil {
		return nil
	}
	return &Error{Err: err, Msg: fmt.Sprintf("cluster_mutex callback threw an error: %s:%d: %s\nstack traceback:\n\t[C]: in function 'assert'\n\t%s:%d: in function <%s:%d>\n\t[C]: in function 'xpcall'",
		utilsFile, line, err, utilsFile, line, utilsFile, fn)}
}

func (m *migrator) bootstrap(ctx context.Context, st *State) (int, error) {
	if m.opts.Force {
		if _, err := m.resetSchema(ctx, st); err != nil {
			return 1, err
		}
		var err error
		if st, err = m.state(ctx); err != nil {
			return 1, err
		}
	}
	if !st.NeedsBootstrap {
		m.log.Info("Database already bootstrapped")
		return 0, nil
	}
	m.log.Info("Bootstrapping database...")
	if err := m.schemaBootstrap(ctx); err != nil {
		return 1, err
	}
	ok, err := m.mutex(ctx, true, false, func() error {
		if err := m.run(ctx, st.New, runOpts{up: true, teardown: true}, lineBootstrap, fnBootstrap); err != nil {
			return err
		}
		m.log.Info("Database is up-to-date")
		return nil
	})
	return m.notLeader(ok, err)
}

func (m *migrator) schemaBootstrap(ctx context.Context) error {
	m.log.Verbose("creating 'schema_meta' table if not existing...")
	if err := m.db.createSchemaMeta(ctx); err != nil {
		return err
	}
	m.log.Verbose("successfully created 'schema_meta' table")
	m.log.Verbose("creating 'locks' table if not existing...")
	if err := m.db.setupLocks(ctx); err != nil {
		return err
	}
	m.log.Verbose("successfully created 'locks' table")
	return nil
}

// notLeader ends a command whose work ran under the lock: another node's lock is not an error.
func (m *migrator) notLeader(ok bool, err error) (int, error) {
	if err != nil {
		return 1, err
	}
	if !ok {
		m.log.Info("%s", NotLeaderMessage)
	}
	return 0, nil
}

func (m *migrator) up(ctx context.Context, st *State) (int, error) {
	if st.NeedsBootstrap {
		return 1, errors.New("Cannot run migrations: " + NeedsBootstrapMessage)
	}
	if !m.opts.Force && st.Pending != nil {
		return 1, errors.New(pendingOnUpMessage)
	}
	if err := m.race(ctx); err != nil {
		return 1, err
	}
	ok, err := m.mutex(ctx, false, false, func() error { return m.upLocked(ctx) })
	return m.notLeader(ok, err)
}

func (m *migrator) upLocked(ctx context.Context) error {
	st, err := m.state(ctx)
	if err != nil {
		return err
	}
	if !m.opts.Force && st.Pending != nil {
		return errors.New(pendingOnUpMessage)
	}
	if m.opts.Force && st.Executed != nil {
		m.log.Debugf("forcing re-execution of these migrations:\n%s", FormatMigrations(st.Executed))
		o := runOpts{up: true, teardown: true, skipTeardown: names(st.Pending), failAt: m.opts.FailAt}
		if err := m.run(ctx, st.Executed, o, lineUpForce, fnUp); err != nil {
			return err
		}
		if st, err = m.state(ctx); err != nil {
			return err
		}
		if st.Pending != nil {
			m.log.Info("\nDatabase has pending migrations; run 'kong migrations finish' when ready")
			return nil
		}
	}
	if st.New == nil {
		if !m.opts.Force {
			m.log.Info("Database is already up-to-date")
		}
		return nil
	}
	m.log.Debugf("migrations to run:\n%s", FormatMigrations(st.New))
	if err := m.run(ctx, st.New, runOpts{up: true, failAt: m.opts.FailAt}, lineUp, fnUp); err != nil {
		return err
	}
	if st, err = m.state(ctx); err != nil {
		return err
	}
	if st.Pending != nil {
		m.log.Info("\nDatabase has pending migrations; run 'kong migrations finish' when ready")
	}
	return nil
}

func names(list []SubsystemMigrations) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, s := range list {
		out[s.Subsystem] = map[string]bool{}
		for _, m := range s.Migrations {
			out[s.Subsystem][m.Name] = true
		}
	}
	return out
}

func (m *migrator) finish(ctx context.Context, st *State) (int, error) {
	if st.NeedsBootstrap {
		return 1, errors.New("Cannot run migrations: " + NeedsBootstrapMessage)
	}
	if err := m.race(ctx); err != nil {
		return 1, err
	}
	ok, err := m.mutex(ctx, true, false, func() error { return m.finishLocked(ctx) })
	return m.notLeader(ok, err)
}

func (m *migrator) finishLocked(ctx context.Context) error {
	st, err := m.state(ctx)
	if err != nil {
		return err
	}
	if m.opts.Force && st.Executed != nil {
		if err := m.run(ctx, st.Executed, runOpts{up: true, teardown: true}, lineFinishForce, fnFinish); err != nil {
			return err
		}
		if st, err = m.state(ctx); err != nil {
			return err
		}
	}
	if st.Pending != nil {
		m.log.Debugf("pending migrations to finish:\n%s", FormatMigrations(st.Pending))
		if err := m.run(ctx, st.Pending, runOpts{teardown: true}, lineFinish, fnFinish); err != nil {
			return err
		}
		if st, err = m.state(ctx); err != nil {
			return err
		}
	}
	if st.New != nil {
		m.log.Info("\nNew migrations available; run 'kong migrations up' to proceed")
		return nil
	}
	if !m.opts.Force && st.Pending == nil {
		m.log.Info("No pending migrations to finish")
	}
	return nil
}

func (m *migrator) reset(ctx context.Context, st *State) (int, error) {
	if !m.opts.Yes {
		if !m.opts.TTY {
			return 1, errors.New(notATTYMessage)
		}
		if !st.NeedsBootstrap && !m.confirm("Are you sure? This operation is irreversible.") {
			m.log.Info("cancelled")
			return 0, nil
		}
	}
	outcome, err := m.resetSchema(ctx, st)
	if err != nil || outcome != resetDone {
		return 1, err // not bootstrapped, or aborted by another node's lock: os.exit(1)
	}
	return 0, nil
}

type resetOutcome int

const (
	resetDone resetOutcome = iota
	notBootstrapped
	resetAborted // another node holds the lock
)

// resetSchema is migrations_utils.reset.
func (m *migrator) resetSchema(ctx context.Context, st *State) (resetOutcome, error) {
	if st.NeedsBootstrap {
		m.log.Info("Database not bootstrapped, nothing to reset")
		return notBootstrapped, nil
	}
	reset := func() error {
		m.log.Info("Resetting database...")
		if err := m.db.schemaReset(ctx); err != nil {
			return err
		}
		m.log.Info("Database successfully reset")
		return nil
	}
	ok, err := m.mutex(ctx, true, true, reset)
	if err != nil {
		// no locks table, say: reset anyway
		m.log.Errorf("%s - retrying without cluster lock", err)
		if err := reset(); err != nil {
			return resetDone, err
		}
		return resetDone, nil
	}
	if !ok {
		m.log.Info("%s", NotLeaderMessage)
		return resetAborted, nil
	}
	return resetDone, nil
}

// confirm is confirm_prompt: up to three prompts on stdout, answered on stdin.
func (m *migrator) confirm(q string) bool {
	answers := map[string]bool{"y": true, "Y": true, "yes": true, "YES": true, "n": false, "N": false, "no": false, "NO": false}
	in := bufio.NewReader(eofReader{m.opts.Stdin})
	for range 3 {
		fmt.Fprintf(m.log.Stdout, "> %s [y/n] ", q)
		line, _ := in.ReadString('\n')
		line = trimEOL(line)
		if a, ok := answers[line]; ok {
			return a
		}
	}
	return false
}

func trimEOL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

type eofReader struct{ r io.Reader }

func (e eofReader) Read(p []byte) (int, error) {
	if e.r == nil {
		return 0, io.EOF
	}
	return e.r.Read(p)
}

// offline is "kong migrations" with database = off: Kong's off connector reports every
// migration it knows as executed and ignores the lock, so each command succeeds doing
// nothing (kong/db/strategies/off/connector.lua).
func offline(sub string, m *migrator) int {
	st := &State{}
	for _, s := range m.known {
		st.Executed = append(st.Executed, SubsystemMigrations{Subsystem: s.Name, Namespace: s.Namespace, Migrations: s.Migrations})
	}
	switch sub {
	case "list":
		code, _ := m.list(context.Background(), st)
		return code
	case "status":
		code, _ := m.status(context.Background(), st)
		return code
	case "bootstrap":
		m.log.Info("Database already bootstrapped")
	case "up":
		m.log.Info("Database is already up-to-date")
	case "finish":
		m.log.Info("No pending migrations to finish")
	case "reset":
		if !m.opts.Yes {
			if !m.opts.TTY {
				return m.log.Fail(errors.New(notATTYMessage))
			}
			if !m.confirm("Are you sure? This operation is irreversible.") {
				m.log.Info("cancelled")
				return 0
			}
		}
		m.log.Info("Resetting database...")
		m.log.Info("Database successfully reset")
	}
	return 0
}
