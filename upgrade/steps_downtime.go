package upgrade

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/notify/words"
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
		s.line(words.AlreadyStopped(len(s.c.Nodes)-len(running), len(s.c.Nodes)))
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
	from, err := s.chain(ctx, db, x)
	if err != nil {
		return stepResult{err: err}
	}
	m := s.onKong(db, from, y)
	m.hopForce = len(s.run.ChainHops()) > 1
	t, res := s.converge(ctx, m, targetUp)
	s.facts.Commands += ms(t.up + t.finish)
	return res
}

// chain migrates a chain run through its hops before Y, each in turn on the node where the
// migrations run: that hop's version installed there, its up and finish run and checked.
// A hop whose migrations schema_meta already shows (a Resume) is passed over. Then Y is
// installed there again, and the version Y's own up starts from is returned (X for a run of
// one hop).
func (s *stepCtx) chain(ctx context.Context, db Database, x catalog.Version) (catalog.Version, error) {
	hops, err := s.hops()
	if err != nil || len(hops) < 2 {
		return x, err
	}
	from := x
	first := s.c.Nodes[:1]
	for i, h := range hops[:len(hops)-1] {
		st, err := db.Schema(ctx)
		if err != nil {
			return from, fmt.Errorf("read schema_meta: %w", err)
		}
		hop := words.Hop(i+1, len(hops), from.String(), h.String())
		if known := s.known(h); len(st.New(known)) == 0 && len(st.PendingOf(known)) == 0 {
			s.line(words.HopFoundDone(hop))
			from = h
			continue
		}
		if _, err := s.commands(ctx, "hop_install", s.c.Commands.Install, first, h.String()); err != nil {
			return from, fmt.Errorf("%s: install %s on %s: %w", hop, h, first[0].Name, err)
		}
		m := s.onKong(db, from, h)
		m.hopForce = true
		for _, target := range []migrationsTarget{targetUp, targetFinish} {
			t, res := s.converge(ctx, m, target)
			s.facts.Commands += ms(t.up + t.finish)
			if res.err != nil {
				return from, fmt.Errorf("%s: %w", hop, res.err)
			}
		}
		from = h
		s.hopDone(ctx, i+1, words.HopMigrated(hop))
	}
	if _, err := s.commands(ctx, "hop_install", s.c.Commands.Install, first, s.run.To); err != nil {
		return from, fmt.Errorf("install %s on %s again for its own migrations: %w", s.run.To, first[0].Name, err)
	}
	return from, nil
}

// hopDone records that a chain's hop is migrated and says so in the thread.
func (s *stepCtx) hopDone(ctx context.Context, done int, msg string) {
	run, err := s.e.opts.Store.UpdateRun(context.WithoutCancel(ctx), s.run.ID, func(r *domain.Run) error {
		r.Facts.HopsDone = max(r.Facts.HopsDone, done)
		return nil
	}, auditEvent("drawbridge", "hop_migrated", msg))
	if err != nil {
		s.e.opts.Log.Error("record a migrated hop", "run", s.run.ID.String(), "err", err)
		return
	}
	s.run = run
	s.notice(msg)
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
	s.line(words.LockHeld(l.Owner, l.Expires, s.c.CommandTimeout.String()))
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
	s.line(words.LockFree)
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
		s.line(words.NotYetRun(migrationIDs(missing)))
		return false, nil
	}
	if p := st.PendingOf(known); len(p) > 0 {
		s.line(words.PendingForFinish(p))
	}
	return true, nil
}

func (s *stepCtx) migrationsFinish(ctx context.Context) stepResult {
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	x, y, err := s.versions()
	if err != nil {
		return stepResult{err: err}
	}
	from := x
	if hops, err := s.hops(); err == nil && len(hops) > 1 {
		from = hops[len(hops)-2]
	}
	m := s.onKong(db, from, y)
	m.hopForce = len(s.run.ChainHops()) > 1
	t, res := s.converge(ctx, m, targetFinish)
	s.facts.Commands += ms(t.up + t.finish)
	if res.err == nil && len(s.run.ChainHops()) > 1 {
		s.hopDone(ctx, len(s.run.ChainHops()), words.LastHopMigrated(y.String()))
	}
	if res.err == nil {
		// The configuration as the migrations left it, for the change record (the freeze's
		// is the before).
		if fp, err := db.Fingerprint(ctx); err == nil {
			s.facts.Fingerprint, s.facts.Tables = fp.Hash, len(fp.Tables)
		} else {
			s.line(words.NoFingerprintAfter(err))
		}
	}
	return res
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
		s.line(words.AlreadyAnswering(len(s.c.Nodes)-len(todo), len(s.c.Nodes), version))
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
			r.Facts.Measured.Parts = m.Parts
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
	parts := domain.DowntimeParts{Start: startT}
	recs, err := s.e.opts.Store.Steps(ctx, s.run.ID)
	if err == nil {
		for _, r := range recs {
			if id := domain.StepID(r.Index); id >= domain.StepStop && id < domain.StepStart {
				commands += r.Facts.Commands
			}
			switch domain.StepID(r.Index) {
			case domain.StepStop:
				for _, sp := range r.Facts.Spans {
					switch sp.Action {
					case "stop":
						parts.Stop += sp.Span
					case "install":
						parts.Install += sp.Span
					}
				}
			case domain.StepMigrationsUp:
				parts.Up += r.Facts.Commands
				for _, sp := range r.Facts.Spans {
					if sp.Action == "hop_install" {
						parts.Install += sp.Span
						commands += sp.Span
					}
				}
			case domain.StepMigrationsFinish:
				parts.Finish += r.Facts.Commands
			}
		}
	}
	m := domain.Measurements{Downtime: ms(downtime), Commands: ms(commands)}
	m.Overhead = m.Downtime - m.Commands
	parts.Overhead = m.Downtime - (parts.Stop + parts.Install + parts.Up + parts.Finish + parts.Start)
	parts = roundParts(parts)
	m.Parts = &parts
	s.line(words.Downtime(m))
	return m, true
}
