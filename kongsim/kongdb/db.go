package kongdb

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drawbridge/drawbridge/kongsim/kconf"
)

// DB is one connection to Kong's database, as the kong CLI holds one: the session's
// search_path is pg_schema (or the server's current schema, else public) and its time zone
// UTC. Every statement gets the pg_timeout (or --db-timeout) deadline, as Kong's socket
// timeout bounds every read. A DB is not safe for concurrent use.
type DB struct {
	conn    *pgx.Conn
	cfg     *pgx.ConnConfig // to reconnect after a statement timed out and closed conn
	timeout time.Duration
	schema  string // pg_schema, or the schema the server chose
	user    string // pg_user: owner of the schema reset recreates
	name    string // pg_database, for progress lines
}

// Open connects with c's pg_* settings. timeout bounds the connection and every later
// statement; 0 means pg_timeout. A failure reads like Kong's:
// "[PostgreSQL error] failed to retrieve PostgreSQL server_version_num: connection refused".
func Open(ctx context.Context, c *kconf.Conf, timeout time.Duration) (*DB, error) {
	if timeout <= 0 {
		timeout = time.Duration(c.PGTimeoutMS()) * time.Millisecond
	}
	const what = "failed to retrieve PostgreSQL server_version_num: "
	cfg, err := pgx.ParseConfig(c.DSN())
	if err != nil {
		return nil, &Error{Msg: what + err.Error(), Err: err}
	}
	cfg.ConnectTimeout = timeout
	// Describe every statement: reset drops the schema under cached plans.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, pgError(err, what)
	}
	db := &DB{conn: conn, cfg: cfg, timeout: timeout, schema: c.Get("pg_schema"), user: c.Get("pg_user"), name: c.Get("pg_database")}
	if err := db.init(ctx); err != nil {
		db.Close()
		return nil, pgError(err, what)
	}
	return db, nil
}

// init checks the server answers and sets the session as Kong's connector does.
func (db *DB) init(ctx context.Context) error {
	var version string
	if err := db.queryRow(ctx, "SHOW server_version_num").Scan(&version); err != nil {
		return err
	}
	if db.schema == "" {
		var cur *string
		if err := db.queryRow(ctx, "SELECT CURRENT_SCHEMA").Scan(&cur); err != nil {
			return err
		}
		db.schema = "public"
		if cur != nil {
			db.schema = *cur
		}
	}
	sql := fmt.Sprintf("SET SCHEMA %s;\nSET TIME ZONE 'UTC';", quoteLiteral(db.schema))
	return db.exec(ctx, sql)
}

// reconnect opens a new session when a failure (a timeout) closed the last one, as Kong's
// connector opens a new connection for its next query.
func (db *DB) reconnect(ctx context.Context) error {
	if !db.conn.IsClosed() {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, db.timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, db.cfg)
	if err != nil {
		return err
	}
	db.conn = conn
	return db.init(ctx)
}

// Close ends the session.
func (db *DB) Close() {
	if db == nil || db.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = db.conn.Close(ctx)
}

// Conn is the underlying connection, for callers that inspect the schema themselves.
func (db *DB) Conn() *pgx.Conn { return db.conn }

// Schema is the schema Kong's tables live in.
func (db *DB) Schema() string { return db.schema }

// Database is pg_database.
func (db *DB) Database() string { return db.name }

func (db *DB) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, db.timeout)
}

// exec runs sql (several statements when there are no args) within the timeout.
func (db *DB) exec(ctx context.Context, sql string, args ...any) error {
	_, err := db.execTag(ctx, sql, args...)
	return err
}

func (db *DB) execTag(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.conn.Exec(ctx, sql, args...)
}

type timedRow struct {
	row    pgx.Row
	cancel context.CancelFunc
}

func (r timedRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.row.Scan(dest...)
}

func (db *DB) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := db.opCtx(ctx)
	return timedRow{db.conn.QueryRow(ctx, sql, args...), cancel}
}

// inTx runs sql in one transaction: BEGIN; sql; [extra;] COMMIT, rolled back on error.
func (db *DB) inTx(ctx context.Context, sql ...string) error {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	tx, err := db.conn.Begin(ctx)
	if err != nil {
		return err
	}
	for _, s := range sql {
		if _, err := tx.Exec(ctx, s); err != nil {
			rollback(tx)
			return err
		}
	}
	return tx.Commit(ctx)
}

// rollback ends a failed transaction; its own error is dropped, the statement's is the one
// to report (and a broken connection fails the next statement anyway).
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// createSchemaMeta is the first half of connector.lua's schema_bootstrap: the schema itself,
// then schema_meta.
func (db *DB) createSchemaMeta(ctx context.Context) error {
	sql := fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS %s;
CREATE TABLE IF NOT EXISTS schema_meta (
  key            TEXT,
  subsystem      TEXT,
  last_executed  TEXT,
  executed       TEXT[],
  pending        TEXT[],

  PRIMARY KEY (key, subsystem)
);`, quoteIdent(db.schema))
	if err := db.exec(ctx, sql); err != nil {
		return pgError(err, "failed to bootstrap database: ")
	}
	return nil
}

// setupLocks is connector.lua's setup_locks.
func (db *DB) setupLocks(ctx context.Context) error {
	err := db.inTx(ctx, `CREATE TABLE IF NOT EXISTS locks (
  key    TEXT PRIMARY KEY,
  owner  TEXT,
  ttl    TIMESTAMP WITH TIME ZONE
);
CREATE INDEX IF NOT EXISTS locks_ttl_idx ON locks (ttl);`)
	if err != nil {
		return pgError(err, "failed to bootstrap database: ")
	}
	return nil
}

// schemaReset is connector.lua's schema_reset: the schema is dropped and recreated empty.
func (db *DB) schemaReset(ctx context.Context) error {
	s, u := quoteIdent(db.schema), quoteIdent(db.user)
	err := db.inTx(ctx, fmt.Sprintf(`DROP SCHEMA IF EXISTS %s CASCADE;
CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION %s;
GRANT ALL ON SCHEMA %s TO %s;`, s, s, u, s, u))
	if err != nil {
		return pgError(err, "")
	}
	return nil
}

type recordState int

const (
	recordExecuted recordState = iota
	recordPending
	recordTeardown
)

// record is connector.lua's record_migration, statement for statement.
func (db *DB) record(ctx context.Context, subsystem, name string, state recordState) error {
	var sql string
	switch state {
	case recordExecuted:
		sql = `INSERT INTO schema_meta (key, subsystem, last_executed, executed)
     VALUES ('schema_meta', $1, $2, ARRAY[$2::text])
ON CONFLICT (key, subsystem) DO UPDATE
        SET last_executed = EXCLUDED.last_executed,
            executed = ARRAY_APPEND(COALESCE(schema_meta.executed, ARRAY[]::TEXT[]), $2::text)`
	case recordPending:
		sql = `INSERT INTO schema_meta (key, subsystem, pending)
     VALUES ('schema_meta', $1, ARRAY[$2::text])
ON CONFLICT (key, subsystem) DO UPDATE
        SET pending = ARRAY_APPEND(schema_meta.pending, $2::text)`
	case recordTeardown:
		sql = `INSERT INTO schema_meta (key, subsystem, last_executed, executed)
     VALUES ('schema_meta', $1, $2, ARRAY[$2::text])
ON CONFLICT (key, subsystem) DO UPDATE
        SET last_executed = EXCLUDED.last_executed,
            executed = ARRAY_APPEND(COALESCE(schema_meta.executed, ARRAY[]::TEXT[]), $2::text),
            pending = ARRAY_REMOVE(COALESCE(schema_meta.pending, ARRAY[]::TEXT[]), $2::text)`
	}
	if err := db.exec(ctx, sql, subsystem, name); err != nil {
		return pgError(err, fmt.Sprintf("failed to record migration '%s': ", name))
	}
	return nil
}
