package upgrade

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/catalog"
)

// Steps 7–10: the downtime.

// stopNodes stops the nodes that still answer, then waits until every node has stopped.
func (s *stepCtx) stopNodes(ctx context.Context, version string) (time.Duration, error) {
	var running []config.Node
	for _, n := range s.c.Nodes {
		if stopped, err := s.e.opts.Nodes.Stopped(ctx, n); err != nil || !stopped {
			running = append(running, n) // answering, hung or unclear: stop it
		}
	}
	if len(running) < len(s.c.Nodes) {
		fmt.Fprintf(&s.tail, "%d of %d nodes were stopped already\n", len(s.c.Nodes)-len(running), len(s.c.Nodes))
	}
	slowest, failed, err := s.commandsPerNode(ctx, "stop", s.c.Commands.Stop, running, version)
	if err != nil {
		return slowest, err
	}
	return slowest, s.settle(ctx, failed, func(ctx context.Context, n config.Node) error {
		return s.e.opts.Nodes.WaitStopped(ctx, n, s.e.opts.PollInterval)
	})
}

// eachNode runs fn for every node at once, bounded by the command timeout.
func (s *stepCtx) eachNode(ctx context.Context, fn func(context.Context, config.Node) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.c.CommandTimeout.D())
	defer cancel()
	errs := make([]error, len(s.c.Nodes))
	var wg sync.WaitGroup
	for i, n := range s.c.Nodes {
		wg.Go(func() {
			if err := fn(ctx, n); err != nil {
				errs[i] = fmt.Errorf("%s: %w", n.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *stepCtx) stopX(ctx context.Context) stepResult {
	stopT, err := s.stopNodes(ctx, s.run.From)
	if err != nil {
		return stepResult{err: err}
	}
	installT, err := s.commands(ctx, "install", s.c.Commands.Install, s.c.Nodes, s.run.To)
	if err != nil {
		return stepResult{err: err}
	}
	s.facts.Commands = ms(stopT + installT)
	return stepResult{}
}

func (s *stepCtx) migrationsUp(ctx context.Context) stepResult {
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	x, y, err := s.versions()
	if err != nil {
		return stepResult{err: err}
	}
	st, err := db.Schema(ctx)
	if err != nil {
		return s.fail("read schema_meta: %w", err)
	}
	// Until a migration of Y has run, Kong's configuration must still be the one frozen
	// and backed up; after a part of them ran (a Resume), the migrations have changed it.
	if s.untouched(st, x, y) {
		if err := s.unchanged(ctx, db, "before the migrations"); err != nil {
			return stepResult{err: err}
		}
	}
	return s.converge(ctx, db, targetUp)
}

// untouched reports whether schema_meta shows none of Y's new migrations run.
func (s *stepCtx) untouched(st kong.SchemaState, x, y catalog.Version) bool {
	for _, m := range catalog.Default().BetweenFor(x, y, s.plugins()) {
		if row, ok := st.Subsystem(m.Subsystem); ok && (slices.Contains(row.Executed, m.Name) || slices.Contains(row.Pending, m.Name)) {
			return false
		}
	}
	return true
}

// What a migrations step brings schema_meta to.
type migrationsTarget int

const (
	targetUp     migrationsTarget = iota // every migration of Y executed or pending
	targetFinish                         // every migration of Y executed
)

// converge runs "kong migrations finish" and "up" until schema_meta holds what the step
// needs, deciding each time from schema_meta, never by repeating a command blindly: Kong
// refuses "up" while migrations are pending, so pending teardowns left by an interrupted or
// failed "up" are finished first, then "up" runs the rest. A database a person already
// brought there by hand needs no command. The first attempt of "finish" runs it as the
// runbook does, even with nothing pending.
func (s *stepCtx) converge(ctx context.Context, db Database, target migrationsTarget) stepResult {
	_, y, err := s.versions()
	if err != nil {
		return stepResult{err: err}
	}
	known := s.known(y)
	var total time.Duration
	ran := 0
	for round := 0; round < 4; round++ {
		st, err := db.Schema(ctx)
		if err != nil {
			return s.fail("read schema_meta: %w", err)
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
				fmt.Fprintf(&s.tail, "schema_meta already holds what this step does (%s): nothing to run\n", s.schemaText(st))
			}
			s.facts.Commands = ms(total)
			return stepResult{}
		}
		if err := s.waitLock(ctx, db); err != nil {
			return stepResult{err: err}
		}
		action, argv := "migrations_up", s.c.Commands.MigrationsUp
		if cmd == "finish" {
			action, argv = "migrations_finish", s.c.Commands.MigrationsFinish
		}
		if ran > 0 || s.attempt > 1 {
			fmt.Fprintf(&s.tail, "schema_meta: %s: running kong migrations %s\n", s.schemaText(st), cmd)
		}
		mark := s.tail.Len()
		t, cmdErr := s.once(ctx, action, argv, s.run.To)
		total += t
		ran++
		out := s.tail.String()[mark:]
		after, err := db.Schema(ctx)
		if err != nil {
			return s.fail("read schema_meta: %w", err)
		}
		if cmdErr != nil {
			return s.fail("kong migrations %s failed: %v%s; schema_meta: %s", cmd, cmdErr, timeoutHint(out, y), s.schemaText(after))
		}
		if fmt.Sprint(after.New(known), after.PendingOf(known)) == fmt.Sprint(fresh, pending) && len(fresh)+len(pending) > 0 {
			if strings.Contains(out, "another node is performing database changes") {
				return s.fail("kong migrations %s did nothing: another node held Kong's migrations lock (it printed \"aborted: another node is performing database changes\" and exited 0): someone or something else is migrating this database; find it, let it end, then Resume; schema_meta: %s", cmd, s.schemaText(after))
			}
			return s.fail("kong migrations %s exited 0 but schema_meta did not change: %s", cmd, s.schemaText(after))
		}
	}
	st, _ := db.Schema(ctx)
	return s.fail("schema_meta does not converge after four kong migrations commands: %s", s.schemaText(st))
}

// schemaText says where Y's migrations stand: executed, pending (for finish) and still new.
func (s *stepCtx) schemaText(st kong.SchemaState) string {
	x, y, err := s.versions()
	if err != nil {
		return err.Error()
	}
	var executed, pending, fresh []catalog.Migration
	for _, m := range catalog.Default().BetweenFor(x, y, s.plugins()) {
		row, _ := st.Subsystem(m.Subsystem)
		switch {
		case slices.Contains(row.Executed, m.Name):
			executed = append(executed, m)
		case slices.Contains(row.Pending, m.Name):
			pending = append(pending, m)
		default:
			fresh = append(fresh, m)
		}
	}
	list := func(ms []catalog.Migration) string {
		if len(ms) == 0 {
			return "none"
		}
		return MigrationNames(ms)
	}
	return fmt.Sprintf("executed %s; pending %s; still new %s", list(executed), list(pending), list(fresh))
}

// timeoutHint explains a migrations command that timed out on Kong 3.7+, where pg_timeout
// (5 s by default) applies to every migration statement unless --db-timeout is given.
func timeoutHint(out string, y catalog.Version) string {
	if !strings.Contains(out, "timeout") {
		return ""
	}
	hint := " (a timeout"
	if !y.Less(catalog.MustParseVersion("3.7.0")) && !strings.Contains(out, "--db-timeout") {
		hint += ": from 3.7 Kong applies pg_timeout, 5 s by default, to every migration statement unless the command passes --db-timeout; add --db-timeout 600 (seconds) to the migrations commands"
	}
	return hint + ")"
}

// waitLock waits, within the command timeout, while another kong migrations command holds
// Kong's migrations lock: started meanwhile, "up" would wait and "finish" would do nothing.
func (s *stepCtx) waitLock(ctx context.Context, db Database) error {
	l, err := db.MigrationLock(ctx)
	if err != nil {
		return fmt.Errorf("read Kong's migrations lock: %w", err)
	}
	if !l.Held {
		return nil
	}
	fmt.Fprintf(&s.tail, "Kong's migrations lock is held by node %s until %s: waiting (at most %s)\n", l.Owner, l.Expires.UTC().Format(time.RFC3339), s.c.CommandTimeout)
	wctx, cancel := context.WithTimeout(ctx, s.c.CommandTimeout.D())
	defer cancel()
	for l.Held {
		select {
		case <-wctx.Done():
			return fmt.Errorf("Kong's migrations lock (table locks, key migrations) is held by node %s until %s: another kong migrations command is working on %s's database; drawbridge waited %s",
				l.Owner, l.Expires.UTC().Format(time.RFC3339), s.c.Name, s.c.CommandTimeout)
		case <-s.e.opts.Clock.After(s.e.opts.PollInterval):
		}
		if l, err = db.MigrationLock(ctx); err != nil {
			return fmt.Errorf("read Kong's migrations lock: %w", err)
		}
	}
	fmt.Fprintf(&s.tail, "Kong's migrations lock is free\n")
	return nil
}

// upDone checks schema_meta: every migration Y ships is executed or pending.
func (s *stepCtx) upDone(ctx context.Context, db Database) (bool, error) {
	_, y, err := s.versions()
	if err != nil {
		return false, err
	}
	st, err := db.Schema(ctx)
	if err != nil {
		return false, fmt.Errorf("read schema_meta: %w", err)
	}
	known := s.known(y)
	missing := st.New(known)
	if len(missing) > 0 {
		fmt.Fprintf(&s.tail, "schema_meta: not yet run: %s\n", MigrationNames(missing))
		return false, nil
	}
	if p := st.PendingOf(known); len(p) > 0 {
		fmt.Fprintf(&s.tail, "schema_meta: pending for finish: %s\n", strings.Join(p, ", "))
	}
	return true, nil
}

func (s *stepCtx) migrationsFinish(ctx context.Context) stepResult {
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	return s.converge(ctx, db, targetFinish)
}

// finishDone checks schema_meta: nothing new and nothing pending.
func (s *stepCtx) finishDone(ctx context.Context, db Database) (bool, error) {
	up, err := s.upDone(ctx, db)
	if err != nil || !up {
		return false, err
	}
	st, err := db.Schema(ctx)
	if err != nil {
		return false, fmt.Errorf("read schema_meta: %w", err)
	}
	_, y, err := s.versions()
	if err != nil {
		return false, err
	}
	return len(st.PendingOf(s.known(y))) == 0, nil
}

// startNodes starts the nodes that do not yet answer version and waits until every node
// answers it, ready. It returns the slowest start command and when the last node was ready.
func (s *stepCtx) startNodes(ctx context.Context, version string) (time.Duration, time.Time, error) {
	var todo []config.Node
	for _, n := range s.c.Nodes {
		info, err := s.e.opts.Nodes.Info(ctx, n)
		if err != nil || info.Version != version || !info.Ready {
			todo = append(todo, n)
		}
	}
	if len(todo) < len(s.c.Nodes) {
		fmt.Fprintf(&s.tail, "%d of %d nodes answered %s already\n", len(s.c.Nodes)-len(todo), len(s.c.Nodes), version)
	}
	slowest, failed, err := s.commandsPerNode(ctx, "start", s.c.Commands.Start, todo, version)
	if err != nil {
		return slowest, time.Time{}, err
	}
	var mu sync.Mutex
	var last time.Time
	err = s.settle(ctx, failed, func(ctx context.Context, n config.Node) error {
		if _, err := s.e.opts.Nodes.WaitReady(ctx, n, version, s.e.opts.PollInterval); err != nil {
			return err
		}
		now := s.e.opts.Clock.Now()
		mu.Lock()
		if now.After(last) {
			last = now
		}
		mu.Unlock()
		return nil
	})
	return slowest, last, err
}

func (s *stepCtx) startY(ctx context.Context) stepResult {
	t, ready, err := s.startNodes(ctx, s.run.To)
	if err != nil {
		return stepResult{err: err}
	}
	s.facts.Commands = ms(t)
	m, ok := s.measure(ctx, ready, t)
	return stepResult{downtimeEnd: ready, learned: func(r *domain.Run) {
		if ok {
			r.Facts.Measured.Downtime, r.Facts.Measured.Commands, r.Facts.Measured.Overhead = m.Downtime, m.Commands, m.Overhead
		}
	}}
}

// measure stores the downtime, the commands' critical path and drawbridge's overhead.
func (s *stepCtx) measure(ctx context.Context, end time.Time, startT time.Duration) (domain.Measurements, bool) {
	if s.run.DowntimeStart.IsZero() || end.IsZero() {
		return domain.Measurements{}, false
	}
	downtime := end.Sub(s.run.DowntimeStart)
	commands := startT
	recs, err := s.e.opts.Store.Steps(ctx, s.run.ID)
	if err == nil {
		for _, r := range recs {
			if domain.StepID(r.Index) >= domain.StepStop && domain.StepID(r.Index) < domain.StepStart {
				commands += r.Facts.Commands
			}
		}
	}
	m := domain.Measurements{Downtime: ms(downtime), Commands: ms(commands)}
	m.Overhead = m.Downtime - m.Commands
	fmt.Fprintf(&s.tail, "downtime %s: commands %s, drawbridge %s\n", m.Downtime, m.Commands, m.Overhead)
	return m, true
}
