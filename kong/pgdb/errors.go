package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/drawbridge/drawbridge/kong"
)

// Sentinel errors. Errors returned by a DB wrap one of them when the failure could be
// classified; test with errors.Is.
var (
	// ErrUnreachable: PostgreSQL could not be reached or went away (connection refused or
	// reset, timeout, server shutting down or starting up, too many connections). Retrying
	// later may help.
	ErrUnreachable = errors.New("database unreachable")
	// ErrRefused: PostgreSQL answered but refused: authentication failed, the database does
	// not exist or accepts no connections, or the role lacks a privilege. Retrying will not
	// help until someone fixes it.
	ErrRefused = errors.New("database refused the request")
	// ErrCorrupt: a backup archive cannot be read whole, or its bytes do not match the
	// recorded sha256.
	ErrCorrupt = errors.New("backup archive corrupt")
	// ErrMismatch: a restored database does not have the wanted fingerprint; the original
	// was left untouched. The error is a *MismatchError.
	ErrMismatch = errors.New("fingerprint mismatch")
	// ErrInUse: the database still had sessions after we tried to end them (sessions of
	// roles we may not terminate), or their locks outlasted the lock timeout.
	ErrInUse = errors.New("database in use by other sessions")
	// ErrBadDSN: the DSN could not be parsed.
	ErrBadDSN = errors.New("invalid DSN (want a postgres:// URL or key=value pairs)")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("closed")
)

// SQLSTATE codes this package looks at.
const (
	codeInsufficientPrivilege = "42501"
	codeInvalidCatalogName    = "3D000" // database does not exist
	codeObjectInUse           = "55006"
	codeLockNotAvailable      = "55P03"
	codeNotInPrerequisite     = "55000" // e.g. database is not accepting connections
	codeTooManyConnections    = "53300"
	codeAdminShutdown         = "57P01"
	codeCrashShutdown         = "57P02"
	codeCannotConnectNow      = "57P03"
	codeDuplicateDatabase     = "42P04"
	codeUniqueViolation       = "23505"
)

// ToolError is pg_dump or pg_restore exiting with an error.
type ToolError struct {
	Tool     string // "pg_dump" or "pg_restore"
	ExitCode int    // -1 when it was killed by a signal
	Stderr   string // the tail of its standard error, lines joined with "; "
}

func (e *ToolError) Error() string {
	status := fmt.Sprintf("exited %d", e.ExitCode)
	if e.ExitCode < 0 {
		status = "was killed"
	}
	if e.Stderr == "" {
		return e.Tool + " " + status
	}
	return e.Tool + " " + status + ": " + e.Stderr
}

// MismatchError is a restored database whose fingerprint differs from the wanted one. It
// matches ErrMismatch under errors.Is.
type MismatchError struct {
	Database string           // the database that was checked
	Diffs    []kong.TableDiff // the tables that differ, by name
	Want     string           // the wanted Hash
	Got      string           // the restored database's Hash
}

func (e *MismatchError) Error() string {
	what := kong.DiffString(e.Diffs)
	if what == "" {
		what = fmt.Sprintf("hash %.12s, want %.12s", e.Got, e.Want)
	}
	return fmt.Sprintf("restored database %q differs from the wanted fingerprint (wanted → restored): %s", e.Database, what)
}

func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// classified attaches a sentinel to an error without changing its text.
type classified struct {
	kind error
	err  error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.kind, e.err} }

// classify attaches ErrUnreachable, ErrRefused or ErrInUse to err when it is one of those.
// An error caused by the caller's context ending is left alone: the caller knows why.
func classify(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	if kind := kindOf(err); kind != nil && !errors.Is(err, kind) {
		return &classified{kind: kind, err: err}
	}
	return err
}

// kindOf is the sentinel for a pgx error, or nil.
func kindOf(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "28"), pe.Code == codeInvalidCatalogName, pe.Code == codeInsufficientPrivilege:
			return ErrRefused
		case pe.Code == codeNotInPrerequisite && isConnectError(err):
			return ErrRefused
		case pe.Code == codeTooManyConnections, pe.Code == codeAdminShutdown, pe.Code == codeCrashShutdown,
			pe.Code == codeCannotConnectNow:
			return ErrUnreachable
		case pe.Code == codeObjectInUse, pe.Code == codeLockNotAvailable:
			return ErrInUse
		}
		return nil
	}
	if isConnectError(err) || isNetwork(err) {
		return ErrUnreachable
	}
	return nil
}

func isConnectError(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// isNetwork reports errors of the connection itself: the server went away or did not answer.
func isNetwork(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || pgconn.Timeout(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// scrubbed hides a secret in an error's text while keeping it for errors.Is and errors.As.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// minSecretLen: shorter passwords are not searched for in error texts (they would match
// ordinary words, and are not secrets worth the name).
const minSecretLen = 4

// scrub replaces every occurrence of secret in err's text by "******".
func scrub(err error, secret string) error {
	if err == nil || len(secret) < minSecretLen {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, secret) {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(msg, secret, "******"), err: err}
}
