package testsvc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a throwaway PostgreSQL cluster: its own data directory and Unix socket directory
// in a temporary directory, listening on 127.0.0.1 only. The user "postgres" is a superuser
// with trust authentication, so DSNs carry no password.
//
// fsync and full_page_writes are off, which loses data only if the machine crashes. Whatever
// was committed survives Kill and Restart: synchronous_commit stays on on purpose, because
// with it off a commit returns before its WAL leaves shared memory, and SIGKILL loses the last
// few hundred milliseconds of commits.
type Postgres struct {
	Host string // always "127.0.0.1"
	Port int    // kept by Restart
	User string // always "postgres"

	binDir  string
	dir     string // temporary directory, removed by Close (kept when persistent)
	keep    bool   // persistent: Close stops the server cleanly and keeps dir
	dataDir string
	sockDir string
	log     logFile
	cred    *syscall.Credential // nil unless we run as root

	mu     sync.Mutex
	proc   *process // the postmaster; nil before the first start
	closed bool
}

// postgresBinaries must all be in the chosen bin directory.
var postgresBinaries = []string{"initdb", "postgres"}

// StartPostgres starts a PostgreSQL cluster for one test and stops it at tb.Cleanup, logging the
// tail of its server log first if the test failed. A missing binary skips the test (fails it
// when CI=true).
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 60*time.Second)
	defer cancel()
	p, err := NewPostgres(ctx)
	if err != nil {
		skipOrFail(tb, err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("testsvc: postgres log tail (%s):\n%s", p.log, tail(p.log.since(0), 40))
		}
		if err := p.Close(); err != nil {
			tb.Errorf("testsvc: %v", err)
		}
	})
	return p
}

// NewPostgres starts a PostgreSQL cluster that the caller must Close, typically shared by a
// package's tests from TestMain. A missing binary gives a *MissingBinaryError; see ShouldSkip.
func NewPostgres(ctx context.Context) (*Postgres, error) {
	return newPostgres(ctx, freePort)
}

// newPostgres is NewPostgres with the port picker injected (tests make it return a busy port).
func newPostgres(ctx context.Context, pickPort func() (int, error)) (*Postgres, error) {
	binDir, err := findPostgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "drawbridge-pg-")
	if err != nil {
		return nil, fmt.Errorf("testsvc: postgres temp dir: %w", err)
	}
	p := &Postgres{
		Host:    "127.0.0.1",
		User:    "postgres",
		binDir:  binDir,
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		sockDir: filepath.Join(dir, "sock"),
		log:     logFile(filepath.Join(dir, "postgres.log")),
		cred:    cred,
	}
	if err := p.setup(ctx, pickPort); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// OpenPostgres runs a server whose data lives in dir (created and initialized the first
// time, reused afterwards) on port: the demo's database, kept across runs. Close stops it
// cleanly and keeps dir. As root, dir must be reachable by the postgres user.
func OpenPostgres(ctx context.Context, dir string, port int) (*Postgres, error) {
	binDir, err := findPostgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("testsvc: postgres dir: %w", err)
	}
	p := &Postgres{
		Host: "127.0.0.1", User: "postgres", binDir: binDir, dir: dir, keep: true,
		dataDir: filepath.Join(dir, "data"), sockDir: filepath.Join(dir, "sock"),
		log: logFile(filepath.Join(dir, "postgres.log")), cred: cred,
	}
	if err := os.MkdirAll(p.sockDir, 0o700); err != nil {
		return nil, fmt.Errorf("testsvc: postgres socket dir: %w", err)
	}
	if cred != nil {
		for _, d := range []string{dir, p.sockDir} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("testsvc: give %s to the postgres user: %w", d, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(p.dataDir, "PG_VERSION")); err != nil {
		if err := p.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if err := removeStalePID(filepath.Join(p.dataDir, "postmaster.pid")); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Port = port
	if err := p.startLocked(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// DSN is the connection URL of database on this server.
func (p *Postgres) DSN(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(p.User),
		Host:     net.JoinHostPort(p.Host, strconv.Itoa(p.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates an empty database and returns its DSN, so tests sharing one server
// each get their own database.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("testsvc: create database %q: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("testsvc: create database %q: %w", name, err)
	}
	return p.DSN(name), nil
}

// BinDir is the directory of the server's binaries, where pg_dump, pg_restore and psql of the
// same major version live.
func (p *Postgres) BinDir() string { return p.binDir }

// LogPath is the server's log file (its output from every start, appended across Restart).
func (p *Postgres) LogPath() string { return string(p.log) }

// Kill simulates a crash: SIGKILL to the postmaster and all its backends, then waits until they
// are gone. Open connections fail at once and new ones are refused. Killing a server that is
// not running is a no-op.
func (p *Postgres) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return nil
	}
	return p.killLocked()
}

// Pause simulates a hung server: SIGSTOP to the postmaster and then to all its backends. New
// connections are accepted by the kernel but never answered, and queries hang until Resume.
func (p *Postgres) Pause() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return errors.New("testsvc: pause postgres: not running")
	}
	// Stop the postmaster first, so no backend is forked after we list them.
	if err := stopAndWait(p.proc.pid()); err != nil {
		return fmt.Errorf("testsvc: pause postgres: %w", err)
	}
	for _, pid := range childPIDs(p.proc.pid()) {
		if err := stopAndWait(pid); err != nil {
			return fmt.Errorf("testsvc: pause postgres: %w", err)
		}
	}
	return nil
}

// Resume continues a paused server (SIGCONT to the backends and the postmaster).
func (p *Postgres) Resume() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return errors.New("testsvc: resume postgres: not running")
	}
	p.contLocked()
	return nil
}

// Stop shuts the server down cleanly (fast shutdown: sessions are disconnected, a checkpoint is
// written) and keeps the data directory for Restart.
func (p *Postgres) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return nil
	}
	p.contLocked()
	if err := p.proc.signal(syscall.SIGINT); err != nil {
		return fmt.Errorf("testsvc: stop postgres: %w", err)
	}
	if !p.proc.wait(15 * time.Second) {
		return errors.Join(errors.New("testsvc: stop postgres: still running after 15s, killed"), p.killLocked())
	}
	return nil
}

// Restart starts the server again on the same data directory and port after Kill or Stop (after
// Kill it runs crash recovery) and waits until it answers queries. It fails if the server is
// running or if another process took the port meanwhile.
func (p *Postgres) Restart(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return errors.New("testsvc: restart postgres: closed")
	case p.runningLocked():
		return errors.New("testsvc: restart postgres: still running; Kill or Stop it first")
	}
	return p.startLocked(ctx)
}

// Close stops the server (immediate shutdown, since the data is thrown away), kills whatever
// remains, and removes the temporary directory. It is safe to call more than once.
func (p *Postgres) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	if p.keep && p.runningLocked() {
		p.contLocked()
		// A clean (fast) shutdown: the data stays consistent for the next run.
		if err := p.proc.signal(syscall.SIGINT); err != nil {
			errs = append(errs, err)
		}
		if !p.proc.wait(30 * time.Second) {
			errs = append(errs, p.killLocked())
		}
		return errors.Join(errs...)
	}
	if p.runningLocked() {
		p.contLocked()
		if err := p.proc.signal(syscall.SIGQUIT); err != nil {
			errs = append(errs, err)
		}
		if !p.proc.wait(5 * time.Second) {
			errs = append(errs, p.killLocked())
		}
	}
	if err := os.RemoveAll(p.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testsvc: close postgres: %w", err)
	}
	return nil
}

// setup initializes the cluster and starts it on a free port, retrying on a new port when
// another process bound the chosen one first.
func (p *Postgres) setup(ctx context.Context, pickPort func() (int, error)) error {
	if err := os.Mkdir(p.sockDir, 0o700); err != nil {
		return fmt.Errorf("testsvc: postgres socket dir: %w", err)
	}
	if p.cred != nil {
		for _, d := range []string{p.dir, p.sockDir} {
			if err := os.Chown(d, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
				return fmt.Errorf("testsvc: give %s to the postgres user: %w", d, err)
			}
		}
	}
	if err := p.initdb(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for attempt := 1; ; attempt++ {
		port, err := pickPort()
		if err != nil {
			return err
		}
		p.Port = port
		err = p.startLocked(ctx)
		if err == nil || !errors.Is(err, ErrAddrInUse) || attempt == maxStartAttempts {
			return err
		}
	}
}

func (p *Postgres) initdb(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, filepath.Join(p.binDir, "initdb"),
		"-D", p.dataDir, "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "--no-sync")
	cmd.Dir = p.dir
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = sysProcAttr(p.cred)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testsvc: initdb: %w; output:\n%s", err, tail(string(out), 30))
	}
	return nil
}

// startLocked starts the postmaster on p.Port and waits until it answers SELECT on our data
// directory. On failure the process is killed.
func (p *Postgres) startLocked(ctx context.Context) error {
	offset := p.log.size()
	logw, err := p.log.open()
	if err != nil {
		return fmt.Errorf("testsvc: postgres log: %w", err)
	}
	defer logw.Close() // the child has its own descriptor
	args := []string{"-D", p.dataDir, "-p", strconv.Itoa(p.Port), "-k", p.sockDir, "-c", "listen_addresses=" + p.Host}
	if !p.keep {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off") // throwaway data
	}
	cmd := exec.Command(filepath.Join(p.binDir, "postgres"), args...)
	cmd.Dir = p.dir
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = sysProcAttr(p.cred)
	proc, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("testsvc: start postgres: %w", err)
	}
	p.proc = proc
	if err := p.waitReady(ctx, offset); err != nil {
		return errors.Join(err, p.killLocked())
	}
	return nil
}

// waitReady polls a real connection until SELECT works, for at most 30 s (or ctx's deadline).
// It checks the answer comes from our data directory, not from a server that took our port.
func (p *Postgres) waitReady(ctx context.Context, logOffset int64) error {
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	ctx, cancelOnExit := p.proc.untilExit(ctx)
	defer cancelOnExit()
	stop := func() error {
		if p.proc.exited() {
			return exitError("postgres", p.proc, p.log.since(logOffset))
		}
		return nil
	}
	err := poll(ctx, 50*time.Millisecond, stop, p.checkOurs)
	if err != nil && !p.proc.exited() {
		err = fmt.Errorf("testsvc: postgres on port %d not ready: %w; log tail:\n%s", p.Port, err, tail(p.log.since(logOffset), 30))
	}
	return err
}

func (p *Postgres) checkOurs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var dataDir string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dataDir); err != nil {
		return err
	}
	if filepath.Clean(dataDir) != p.dataDir {
		return fmt.Errorf("port %d is served by another cluster (%s)", p.Port, dataDir)
	}
	return nil
}

func (p *Postgres) runningLocked() bool { return p.proc != nil && !p.proc.exited() }

// killLocked SIGKILLs the postmaster and its backends and waits until all are gone. The
// backends are killed too, because a surviving one would keep the shared memory attached and
// Restart would refuse to start.
func (p *Postgres) killLocked() error {
	pm := p.proc
	if pm == nil || pm.exited() {
		return nil
	}
	_ = stopAndWait(pm.pid()) // no new backends from here on
	children := childPIDs(pm.pid())
	for _, pid := range children {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := pm.kill(); err != nil {
		return fmt.Errorf("testsvc: kill postgres: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range children {
		for alive(pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("testsvc: kill postgres: backend %d still alive after SIGKILL", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// contLocked sends SIGCONT to the backends, then to the postmaster. Harmless when not paused.
func (p *Postgres) contLocked() {
	for _, pid := range childPIDs(p.proc.pid()) {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	_ = p.proc.signal(syscall.SIGCONT)
}
