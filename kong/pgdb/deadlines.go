package pgdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// sessionSettings gives drawbridge's sessions their deadlines: statement_timeout and
// lock_timeout unless the DSN sets them (as parameters or in options), and TCP keepalives
// with tcp_user_timeout unless the DSN sets keepalives or tcp_user_timeout.
func (db *DB) sessionSettings() {
	options := db.cfg.RuntimeParams["options"]
	set := func(name string, d time.Duration) {
		if d < 0 {
			return
		}
		if _, ok := db.cfg.RuntimeParams[name]; ok || strings.Contains(options, name) {
			return
		}
		db.cfg.RuntimeParams[name] = strconv.FormatInt(d.Milliseconds(), 10)
	}
	set("statement_timeout", db.opts.StatementTimeout)
	set("lock_timeout", db.opts.LockTimeout)
	if db.ownKeepalives() && db.opts.KeepaliveIdle > 0 {
		d := &net.Dialer{
			KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: db.opts.KeepaliveIdle, Interval: db.opts.KeepaliveIdle / 3, Count: 3},
			Control:         userTimeout(db.opts.UserTimeout),
		}
		db.cfg.DialFunc = d.DialContext
	}
}

// ownKeepalives reports whether drawbridge sets the keepalives: the DSN says nothing of them.
func (db *DB) ownKeepalives() bool {
	for _, k := range []string{"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout"} {
		if _, ok := db.params[k]; ok {
			return false
		}
	}
	return true
}

// toolKeepalives are the libpq parameters giving pg_dump and pg_restore the same keepalives.
func (db *DB) toolKeepalives() map[string]string {
	if !db.ownKeepalives() || db.opts.KeepaliveIdle <= 0 {
		return nil
	}
	idle := max(1, int(db.opts.KeepaliveIdle.Seconds()))
	return map[string]string{
		"keepalives": "1", "keepalives_idle": strconv.Itoa(idle), "keepalives_interval": strconv.Itoa(max(1, idle/3)),
		"keepalives_count": "3", "tcp_user_timeout": strconv.FormatInt(db.opts.UserTimeout.Milliseconds(), 10),
	}
}

// bounded runs op under ctx bounded by d; when the bound ran out, the error says so.
func bounded(ctx context.Context, d time.Duration, what string, op func(context.Context) error) error {
	timeout := fmt.Errorf("%w: %s took longer than %s", ErrTimeout, what, d)
	end := time.Now().Add(d)
	bctx, cancel := context.WithTimeoutCause(ctx, d, timeout)
	defer cancel()
	err := op(bctx)
	// A dial or a read times out on the deadline by its own timer, which can fire before
	// the context's: the bound is what ran out when the parent did not end and it is past.
	ranOut := errors.Is(context.Cause(bctx), ErrTimeout) || ctx.Err() == nil && !time.Now().Before(end)
	if err != nil && ranOut && !errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("%w (%w)", timeout, err)
	}
	return err
}

// ErrTimeout: an operation ran out of its bound (BackupTimeout, RestoreTimeout,
// FingerprintTimeout).
var ErrTimeout = errors.New("timed out")

// explainLock adds to a lock_timeout error (or pg_dump's failed LOCK TABLE under
// --lock-wait-timeout) who holds locks on Kong's tables: the relation, the mode, and the
// holding session (pid, user, application, state, since when, its query).
func (db *DB) explainLock(ctx context.Context, dbname string, err error) error {
	var te *ToolError
	if pgCode(err) != codeLockNotAvailable && !(errors.As(err, &te) && strings.Contains(te.Stderr, "LOCK TABLE")) {
		return err
	}
	lctx, cancel := cleanupContext(ctx)
	defer cancel()
	var held []string
	qerr := db.withConn(lctx, dbname, func(conn *pgx.Conn) error {
		rows, err := conn.Query(lctx, `SELECT c.relname, l.mode, a.pid, COALESCE(a.usename, ''), COALESCE(a.application_name, ''),
		        COALESCE(a.state, ''), COALESCE(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''),
		        left(regexp_replace(COALESCE(a.query, ''), '\s+', ' ', 'g'), 120)
		    FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		    LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		   WHERE l.granted AND l.pid <> pg_backend_pid() AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		     AND c.relnamespace = current_schema()::regnamespace
		     AND l.mode IN ('AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock', 'ShareUpdateExclusiveLock', 'RowExclusiveLock')
		   ORDER BY l.mode = 'AccessExclusiveLock' DESC, c.relname LIMIT 5`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var rel, mode, user, app, state, since, query string
			var pid int
			if err := rows.Scan(&rel, &mode, &pid, &user, &app, &state, &since, &query); err != nil {
				return err
			}
			h := fmt.Sprintf("table %s is locked (%s) by pid %d", rel, mode, pid)
			if user != "" {
				h += " of user " + user
			}
			if app != "" {
				h += fmt.Sprintf(" (application %q)", app)
			}
			if state != "" {
				h += ", " + state
			}
			if since != "" {
				h += ", in a transaction since " + since + " UTC"
			}
			if query != "" {
				h += fmt.Sprintf(", last query %q", query)
			}
			held = append(held, h)
		}
		return rows.Err()
	})
	if qerr != nil || len(held) == 0 {
		return fmt.Errorf("%w (waited lock_timeout %s for a lock on Kong's tables)", err, db.opts.LockTimeout)
	}
	return fmt.Errorf("%w: waited lock_timeout %s: %s", err, db.opts.LockTimeout, strings.Join(held, "; "))
}
