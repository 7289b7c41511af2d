package upgrade

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/notify/words"
)

// What a migrations step brings schema_meta to.
type migrationsTarget int

const (
	targetUp     migrationsTarget = iota // every migration of Y executed or pending
	targetFinish                         // every migration of Y executed
)

// migration is one hop's kong migrations, from → to, on one database: Kong's own with the
// cluster's commands, or a rehearsal's copy with the rehearsal's.
type migration struct {
	db         Database
	from, to   catalog.Version
	up, finish config.Argv
	copy       *config.ScratchData // the rehearsal's copy; nil: Kong's database
	prefix     string              // action name prefix: "" or "rehearsal_"
	// hopForce (a chain's hops): up runs with -f when this hop brings a plugin new to this
	// database, as the run of this hop alone would; otherwise the run's -f decides.
	hopForce bool
}

// onKong is the hop x → y on Kong's database with the cluster's commands.
func (s *stepCtx) onKong(db Database, x, y catalog.Version) migration {
	return migration{db: db, from: x, to: y, up: s.c.Commands.MigrationsUp, finish: s.c.Commands.MigrationsFinish}
}

// took is what a hop's migrations commands took.
type took struct{ up, finish time.Duration }

// converge runs "kong migrations finish" and "up" until schema_meta holds what the step
// needs, deciding each time from schema_meta, never by repeating a command blindly: Kong
// refuses "up" while migrations are pending, so pending teardowns left by an interrupted or
// failed "up" are finished first, then "up" runs the rest. A database a person already
// brought there by hand needs no command. The first attempt of "finish" runs it as the
// runbook does, even with nothing pending.
func (s *stepCtx) converge(ctx context.Context, m migration, target migrationsTarget) (took, stepResult) {
	known := s.known(m.to)
	var t took
	ran := 0
	s.scratch = m.copy
	defer func() { s.scratch, s.migForce = nil, nil }()
	if m.hopForce {
		st, err := m.db.Schema(ctx)
		if err != nil {
			return t, s.fail("read schema_meta: %w", err)
		}
		f := s.run.Force || len(st.Rowless(known)) > 0
		s.migForce = &f
	}
	for round := 0; round < 4; round++ {
		st, err := m.db.Schema(ctx)
		if err != nil {
			return t, s.fail("read schema_meta: %w", err)
		}
		fresh, pending := st.New(known), st.PendingOf(known)
		cmd := ""
		switch {
		case len(fresh) > 0 && len(pending) > 0:
			cmd = "finish" // up would be refused: "Database has pending migrations"
		case len(fresh) > 0:
			cmd = "up"
		case target == targetFinish && (len(pending) > 0 || (round == 0 && s.attempt <= 1)):
			cmd = "finish"
		}
		if cmd == "" {
			if ran == 0 && s.attempt > 1 {
				s.line(words.NothingToRun(s.schemaText(st, m)))
			}
			return t, stepResult{}
		}
		if err := s.waitLock(ctx, m.db); err != nil {
			return t, stepResult{err: err}
		}
		action, argv := m.prefix+"migrations_up", m.up
		if cmd == "finish" {
			action, argv = m.prefix+"migrations_finish", m.finish
		}
		if ran > 0 || s.attempt > 1 {
			schema := s.schemaText(st, m)
			s.line(words.Running(schema, cmd))
			s.notice(words.Converging(schema, cmd))
		}
		mark := s.tail.Len()
		d, cmdErr := s.once(ctx, action, argv, m.to.String())
		if cmd == "up" {
			t.up += d
		} else {
			t.finish += d
		}
		ran++
		out := s.tail.String()[mark:]
		after, err := m.db.Schema(ctx)
		if err != nil {
			return t, s.fail("read schema_meta: %w", err)
		}
		if cmdErr != nil {
			return t, s.fail("kong migrations %s failed: %v%s; schema_meta: %s", cmd, cmdErr, timeoutHint(out, m.to), s.schemaText(after, m))
		}
		if fmt.Sprint(after.New(known), after.PendingOf(known)) == fmt.Sprint(fresh, pending) && len(fresh)+len(pending) > 0 {
			if strings.Contains(out, "another node is performing database changes") {
				return t, s.fail("kong migrations %s did nothing: another node held Kong's migrations lock (it printed \"aborted: another node is performing database changes\" and exited 0): someone or something else is migrating this database; find it, let it end, then Resume; schema_meta: %s", cmd, s.schemaText(after, m))
			}
			return t, s.fail("kong migrations %s exited 0 but schema_meta did not change: %s", cmd, s.schemaText(after, m))
		}
	}
	st, _ := m.db.Schema(ctx)
	return t, s.fail("schema_meta does not converge after four kong migrations commands: %s", s.schemaText(st, m))
}

// schemaText says where a hop's migrations stand: executed, pending (for finish) and still
// new.
func (s *stepCtx) schemaText(st kong.SchemaState, m migration) string {
	var executed, pending, fresh []catalog.Migration
	for _, mg := range catalog.Default().BetweenFor(m.from, m.to, s.plugins()) {
		row, _ := st.Subsystem(mg.Subsystem)
		switch {
		case slices.Contains(row.Executed, mg.Name):
			executed = append(executed, mg)
		case slices.Contains(row.Pending, mg.Name):
			pending = append(pending, mg)
		default:
			fresh = append(fresh, mg)
		}
	}
	return words.Schema(migrationIDs(executed), migrationIDs(pending), migrationIDs(fresh))
}

// timeoutHint explains a migrations command that timed out on Kong 3.7+, where pg_timeout
// (5 s by default) applies to every migration statement unless --db-timeout is given.
func timeoutHint(out string, y catalog.Version) string {
	if !strings.Contains(out, "timeout") {
		return ""
	}
	return words.TimeoutHint(!y.Less(catalog.MustParseVersion("3.7.0")) && !strings.Contains(out, "--db-timeout"))
}
