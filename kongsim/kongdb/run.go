package kongdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/klog"
)

// runOpts are DB:run_migrations' options.
type runOpts struct {
	up, teardown bool
	// skipTeardown names the migrations (subsystem → name) whose teardown is not run: the
	// pending ones during "up -f".
	skipTeardown map[string]map[string]bool
	// failAt is the migration ("name" for core, "subsystem:name") whose up fails: the
	// MigrationFail fault.
	failAt string
	// finishFail is the migration whose teardown fails: the FinishFail fault.
	finishFail string
	// delay is how long each migration's transaction takes: the MigrationDelay fault.
	delay func(subsystem, name string) time.Duration
}

// runMigrations is DB:run_migrations: for each migration of list, in order, its up in its
// own transaction then recorded (pending when it has a teardown that is not run now), then
// its teardown, recorded as done. It prints Kong's progress lines and totals. An error
// leaves everything before the failing migration recorded.
func (db *DB) runMigrations(ctx context.Context, list []SubsystemMigrations, o runOpts, log *klog.Logger) error {
	n, pending := 0, 0
	for _, sub := range list {
		log.Info("migrating %s on database '%s'...", sub.Subsystem, db.name)
		for _, m := range sub.Migrations {
			script, ok := lookupScript(sub.Subsystem, m.Name)
			if !ok {
				return &Error{Msg: fmt.Sprintf("failed to load migration '%s': module '%s.%s' not found", m.Name, sub.Namespace, m.Name)}
			}
			log.Debugf("running migration: %s", m.Name)
			if o.up {
				up := script.Up
				if !m.Teardown && script.Teardown != "" {
					// This version's module has no teardown yet (acme's 003_350_to_360 before
					// 3.7, say): its up does the whole change.
					up += "\n" + script.Teardown
				}
				if err := db.runUp(ctx, sub.Subsystem, m.Name, up, o.failAt, o.sleep(sub.Subsystem, m.Name)); err != nil {
					return queryError(err, fmt.Sprintf("failed to run migration '%s' up: ", m.Name))
				}
				state := recordExecuted
				if m.Teardown {
					state = recordPending
					pending++
				}
				if err := db.record(ctx, sub.Subsystem, m.Name, state); err != nil {
					return err
				}
			}
			if o.teardown && m.Teardown && !o.skipTeardown[sub.Subsystem][m.Name] {
				stmts := append(o.sleep(sub.Subsystem, m.Name), script.Teardown)
				if matchesFault(o.finishFail, sub.Subsystem, m.Name) {
					stmts = append(stmts, raise(fmt.Sprintf("kongsim: simulated failure of migration %s:%s teardown (fault finish_fail)", sub.Subsystem, m.Name)))
				}
				if err := db.inTx(ctx, stmts...); err != nil {
					return queryError(err, fmt.Sprintf("failed to run migration '%s' teardown: ", m.Name))
				}
				if err := db.record(ctx, sub.Subsystem, m.Name, recordTeardown); err != nil {
					return err
				}
				pending = max(pending-1, 0)
			}
			word := "(executed)"
			if m.Teardown && !o.teardown {
				word = "(pending)"
			}
			log.Info("%s migrated up to: %s %s", sub.Subsystem, m.Name, word)
			n++
		}
	}
	plural := ""
	if n > 1 {
		plural = "s"
	}
	log.Info("%d migration%s processed", n, plural)
	if executed := n - pending; executed > 0 {
		log.Info("%d executed", executed)
	}
	if pending > 0 {
		log.Info("%d pending", pending)
	}
	return nil
}

// runUp runs one up in its own transaction (after the delay's sleep, if any). When the
// migration is failAt, the transaction fails after the up SQL ran inside it, so nothing of
// it stays.
func (db *DB) runUp(ctx context.Context, subsystem, name, sql, failAt string, before []string) error {
	stmts := append(before, sql)
	if matchesFault(failAt, subsystem, name) {
		stmts = append(stmts, raise(fmt.Sprintf("kongsim: simulated failure of migration %s:%s (fault migration_fail)", subsystem, name)))
	}
	return db.inTx(ctx, stmts...)
}

// raise is a statement that fails with msg, as a failing migration would.
func raise(msg string) string {
	return fmt.Sprintf("DO $$ BEGIN RAISE EXCEPTION %s; END $$", quoteLiteral(strings.ReplaceAll(msg, "%", "%%")))
}

// sleep is the statement the delay fault puts first in a migration's transaction: the
// database is busy that long, and a statement timeout shorter than it fails the migration.
func (o runOpts) sleep(subsystem, name string) []string {
	if o.delay == nil {
		return nil
	}
	d := o.delay(subsystem, name)
	if d <= 0 {
		return nil
	}
	return []string{fmt.Sprintf("SELECT pg_sleep(%.3f)", d.Seconds())}
}

// matchesFault reports whether fault ("name" for core, "subsystem:name") names the migration.
func matchesFault(fault, subsystem, name string) bool {
	if fault == "" {
		return false
	}
	sub, n, ok := strings.Cut(fault, ":")
	if !ok {
		sub, n = "core", fault
	}
	return sub == subsystem && n == name
}

// queryError is pgError for a statement: a statement that outlives the timeout is pgmoon's
// read timeout, "receive_message: failed to get type: timeout".
func queryError(err error, msg string) *Error {
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return &Error{Msg: msg + "receive_message: failed to get type: timeout", Err: err}
	}
	return pgError(err, msg)
}
