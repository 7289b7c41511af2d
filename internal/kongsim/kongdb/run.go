package kongdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/drawbridge/drawbridge/internal/kongsim/klog"
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
				if err := db.runUp(ctx, sub.Subsystem, m.Name, up, o.failAt); err != nil {
					return pgError(err, fmt.Sprintf("failed to run migration '%s' up: ", m.Name))
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
				if err := db.inTx(ctx, script.Teardown); err != nil {
					return pgError(err, fmt.Sprintf("failed to run migration '%s' teardown: ", m.Name))
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

// runUp runs one up in its own transaction. When the migration is failAt, the transaction
// fails after the up SQL ran inside it, so nothing of it stays.
func (db *DB) runUp(ctx context.Context, subsystem, name, sql, failAt string) error {
	stmts := []string{sql}
	if matchesFault(failAt, subsystem, name) {
		msg := fmt.Sprintf("kongsim: simulated failure of migration %s:%s (fault migration_fail)", subsystem, name)
		stmts = append(stmts, fmt.Sprintf("DO $$ BEGIN RAISE EXCEPTION %s; END $$", quoteLiteral(strings.ReplaceAll(msg, "%", "%%"))))
	}
	return db.inTx(ctx, stmts...)
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
