package pgdb

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options configure a DB.
type Options struct {
	BinDir         string        // where pg_dump and pg_restore are; "" = PATH, then the newest /usr/lib/postgresql/*/bin
	ConnectTimeout time.Duration // default 5s
	// Compression is pg_dump's --compress (zlib) level, 1 (fastest) to 9; default 1. On
	// Kong's configuration level 1 gives archives about 6% larger than pg_dump's default
	// (6) in about half the dump time, and the backup is on an upgrade's critical path.
	Compression int
	// RestoreJobs is pg_restore's --jobs for the rename method's restore into a fresh
	// database; default 1. More helps large databases on servers with CPUs to spare.
	RestoreJobs int
	// Now is the clock for Backup.Duration and Restore.Duration; default time.Now.
	// Fingerprint.At comes from the database server.
	Now func() time.Time

	// StatementTimeout and LockTimeout are set on drawbridge's own sessions (statement_timeout,
	// lock_timeout) unless the DSN sets them; default 60s and 10s, negative: not set. pg_dump
	// gets LockTimeout as --lock-wait-timeout.
	StatementTimeout, LockTimeout time.Duration
	// BackupTimeout, RestoreTimeout and FingerprintTimeout bound those operations whatever
	// the caller's context; default 30m, 30m and 5m.
	BackupTimeout, RestoreTimeout, FingerprintTimeout time.Duration
	// KeepaliveIdle and UserTimeout are the TCP keepalive idle time and tcp_user_timeout of
	// every connection, drawbridge's and pg_dump's/pg_restore's, unless the DSN sets
	// keepalives or tcp_user_timeout: a server that vanishes without a word is noticed in
	// about UserTimeout instead of the kernel's two hours. Default 15s and 60s.
	KeepaliveIdle, UserTimeout time.Duration
	// PassfileDir is where the temporary PGPASSFILEs of pg_dump and pg_restore are written
	// (created 0700); "" = the system's temporary directory.
	PassfileDir string
}

// DefaultConnectTimeout is Options.ConnectTimeout's default.
const DefaultConnectTimeout = 5 * time.Second

func (o Options) withDefaults() (Options, error) {
	switch {
	case o.ConnectTimeout < 0:
		return o, fmt.Errorf("ConnectTimeout is %s, want 0 (default %s) or more", o.ConnectTimeout, DefaultConnectTimeout)
	case o.Compression < 0 || o.Compression > 9:
		return o, fmt.Errorf("Compression is %d, want 1 to 9 (0: default 1)", o.Compression)
	case o.RestoreJobs < 0:
		return o, fmt.Errorf("RestoreJobs is %d, want 0 (default 1) or more", o.RestoreJobs)
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Compression == 0 {
		o.Compression = 1
	}
	if o.RestoreJobs == 0 {
		o.RestoreJobs = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&o.StatementTimeout, 60 * time.Second}, {&o.LockTimeout, 10 * time.Second}, {&o.BackupTimeout, 30 * time.Minute},
		{&o.RestoreTimeout, 30 * time.Minute}, {&o.FingerprintTimeout, 5 * time.Minute}, {&o.KeepaliveIdle, 15 * time.Second},
		{&o.UserTimeout, 60 * time.Second}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	return o, nil
}

// DB is Kong's database: a parsed DSN from which every operation opens its own connection.
// It is safe for concurrent use.
type DB struct {
	cfg    *pgx.ConnConfig   // never used directly: connect copies it
	params map[string]string // the DSN's parameters, for pg_dump and pg_restore
	opts   Options
	tools  *tools
	closed atomic.Bool
}

// Open parses the DSN (a postgres:// URL or key=value pairs) and checks that it can
// connect. Its errors never contain the password nor the DSN.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open kong database: %w", err)
	}
	cfg, params, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open kong database: %w", err)
	}
	cfg.ConnectTimeout = opts.ConnectTimeout
	db := &DB{cfg: cfg, params: params, opts: opts, tools: &tools{binDir: opts.BinDir}}
	db.sessionSettings()
	if err := db.ping(ctx); err != nil {
		return nil, db.scrub(fmt.Errorf("open %s: %w", db.describe(), err))
	}
	return db, nil
}

// Close marks the DB closed; later calls fail with ErrClosed. It holds no connection.
func (db *DB) Close() { db.closed.Store(true) }

// Name is the database's name.
func (db *DB) Name() string { return db.cfg.Database }

// describe names the database and server for error messages: `database "kong" on host:port`.
func (db *DB) describe() string {
	return fmt.Sprintf("database %q on %s:%d", db.cfg.Database, db.cfg.Host, db.cfg.Port)
}

// Ping checks that the database accepts a connection and answers, within ConnectTimeout.
func (db *DB) Ping(ctx context.Context) error {
	return db.do(func() error { return db.ping(ctx) }, "ping %s", db.describe())
}

func (db *DB) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, db.opts.ConnectTimeout)
	defer cancel()
	conn, err := db.connect(ctx, "")
	if err != nil {
		return err
	}
	defer closeConn(conn)
	return classify(ctx, conn.Ping(ctx))
}

// Size is pg_database_size of the database, in bytes.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var size int64
	err := db.do(func() error {
		return db.withConn(ctx, "", func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size)
		})
	}, "size of %s", db.describe())
	return size, err
}

// do runs op unless the DB is closed, wrapping its error with what was being done and
// scrubbing the password from it.
func (db *DB) do(op func() error, format string, args ...any) error {
	err := ErrClosed
	if !db.closed.Load() {
		err = op()
	}
	if err == nil {
		return nil
	}
	return db.scrub(fmt.Errorf(format+": %w", append(args, err)...))
}

func (db *DB) scrub(err error) error { return scrub(err, db.cfg.Password) }

// connect opens a connection to dbname ("" = the DSN's database), classifying a failure.
func (db *DB) connect(ctx context.Context, dbname string) (*pgx.Conn, error) {
	cfg := db.cfg.Copy()
	if dbname != "" {
		cfg.Database = dbname
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classify(ctx, err)
	}
	return conn, nil
}

// withConn runs fn on a fresh connection to dbname, classifying its error.
func (db *DB) withConn(ctx context.Context, dbname string, fn func(*pgx.Conn) error) error {
	conn, err := db.connect(ctx, dbname)
	if err != nil {
		return err
	}
	defer closeConn(conn)
	return classify(ctx, fn(conn))
}

// closeConn closes a connection, bounded in time even if the caller's context ended.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// maintenanceDBs are where database-level commands run: never the database they change.
var maintenanceDBs = []string{"postgres", "template1"}

// connectMaintenance connects to the postgres database, or template1 when postgres does
// not exist or refuses us (or is Kong's database itself).
func (db *DB) connectMaintenance(ctx context.Context) (*pgx.Conn, error) {
	var errs []error
	for _, name := range maintenanceDBs {
		if name == db.Name() {
			continue
		}
		conn, err := db.connect(ctx, name)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, ErrRefused) {
			break
		}
	}
	return nil, fmt.Errorf("connect to a maintenance database: %w", errors.Join(errs...))
}
