package kongdb

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Kong's own words (kong/cmd/utils/migrations.lua, kong/cmd/migrations.lua).
const (
	// NeedsBootstrapMessage is NEEDS_BOOTSTRAP_MSG: "kong migrations list" prints it (exit 3)
	// and "kong start" fails with it.
	NeedsBootstrapMessage = "Database needs bootstrapping or is older than Kong 1.0.\n\n" +
		"To start a new installation from scratch, run 'kong migrations bootstrap'.\n\n" +
		"To migrate from a version older than 1.0, migrated to Kong 1.5.0 first. \n" +
		"If you still have 'apis' entities, you can convert them to Routes and Services\n" +
		"using the 'kong migrations migrate-apis' command in Kong 1.5.0.\n\n"

	// NewMigrationsMessage is what "kong start" fails with when migrations are new.
	NewMigrationsMessage = "New migrations available; run 'kong migrations up' to proceed"

	// NotLeaderMessage is printed when another node holds the migrations lock.
	NotLeaderMessage = "aborted: another node is performing database changes"

	pendingOnUpMessage = "Database has pending migrations; run 'kong migrations finish'"
	notATTYMessage     = "not a tty: invoke 'reset' non-interactively with the --yes flag"
)

var (
	// ErrNeedsBootstrap: the database has no schema_meta table.
	ErrNeedsBootstrap = errors.New(NeedsBootstrapMessage)
	// ErrNewMigrations: the running version knows migrations the database has not run.
	ErrNewMigrations = errors.New(NewMigrationsMessage)
)

// Error is a database failure worded as Kong words it: "[PostgreSQL error] <Msg>".
type Error struct {
	Msg string
	Err error // the cause, for errors.Is and errors.As
}

func (e *Error) Error() string { return "[PostgreSQL error] " + e.Msg }

func (e *Error) Unwrap() error { return e.Err }

func pgError(err error, msg string) *Error {
	return &Error{Msg: msg + describe(err), Err: err}
}

// describe words a driver error the way pgmoon (Kong's PostgreSQL driver) reports it:
// server errors as "SEVERITY: message", socket errors as "timeout", "connection refused".
func describe(err error) string {
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &pgErr):
		sev := pgErr.SeverityUnlocalized
		if sev == "" {
			sev = pgErr.Severity
		}
		return sev + ": " + pgErr.Message
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "host not found"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	default:
		return err.Error()
	}
}
