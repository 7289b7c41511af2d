package upgrade

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

// Steps 11–12, the rollback, and what ends a run.

func (s *stepCtx) watch(ctx context.Context) stepResult {
	started := s.e.opts.Clock.Now()
	if t := s.run.Facts.WatchStarted; !t.IsZero() {
		started = t
	} else {
		if _, err := s.e.opts.Store.UpdateRun(context.WithoutCancel(ctx), s.run.ID, func(r *domain.Run) error {
			r.Facts.WatchStarted = started
			return nil
		}); err != nil {
			return stepResult{err: err}
		}
	}
	err := s.e.opts.Watcher.Watch(ctx, watchCluster(s.c, s.controlPlane()), domain.WatchRequest{
		Run: s.run, From: s.run.From, Version: s.run.To, Started: started, Baseline: s.baseline(),
		Report: func(r domain.WatchReport) {
			s.facts.Readings = readings(r)
			// The step's attempt names the watch message: a resumed watch gets its own.
			step := &domain.StepRecord{Index: int(domain.StepWatch), Name: "watch", Attempt: s.attempt, Status: domain.StepRunning}
			s.e.emit(ctx, domain.Event{Kind: domain.EventWatch, Run: s.run, Report: &r, Step: step})
		},
		Charts: func(cs []domain.Chart) {
			moment := "end"
			if ctx.Err() == nil && s.breached {
				moment = "breach"
			}
			s.e.emit(ctx, domain.Event{Kind: domain.EventCharts, Run: s.run, Charts: cs, Moment: moment})
		},
		Progress: func(msg string) { s.notice(msg) },
	})
	var breach *domain.BreachError
	if errors.As(err, &breach) {
		s.breached = true
		if breach.Blind {
			s.facts.Blind = true // not rolled back by itself: a person decides
		}
		s.e.emit(ctx, domain.Event{Kind: domain.EventAlert, Run: s.run, Breach: breach, Auto: s.c.Watch.AutoRollback && !breach.Blind, Message: breach.Error()})
	}
	if err != nil {
		return stepResult{err: err}
	}
	return stepResult{tail: words.WatchedClean(s.c.Name, s.c.Watch.Duration.String())}
}

func (s *stepCtx) decommission(ctx context.Context) stepResult {
	if len(s.c.Commands.Decommission) == 0 {
		return stepResult{tail: words.NoCommand("decommission")}
	}
	if _, err := s.commands(ctx, "decommission", s.c.Commands.Decommission, s.c.Nodes, s.run.From); err != nil {
		return stepResult{err: err}
	}
	return stepResult{}
}

// --- rollback ---

func (s *stepCtx) rollbackStop(ctx context.Context) stepResult {
	t, err := s.stopNodes(ctx, s.run.To)
	if err != nil {
		return stepResult{err: err}
	}
	s.facts.Commands = ms(t)
	return stepResult{}
}

func (s *stepCtx) rollbackRestore(ctx context.Context) stepResult {
	if s.run.Facts.Backup == nil || s.run.Facts.Backup.Path == "" {
		return s.fail("the run has no backup to restore")
	}
	path, sha := s.run.Facts.Backup.Path, s.run.Facts.Backup.SHA256
	want, err := s.frozen()
	if err != nil {
		return stepResult{err: err}
	}
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	if err := db.VerifyBackup(ctx, path, sha); err != nil {
		db.Close()
		return s.fail("backup %s: %w", path, err)
	}
	db.Close() // the restore needs no session of ours on the database
	db, err = s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	r, err := db.Restore(ctx, path, want, s.run.ID.String())
	if err != nil {
		return s.fail("restore %s: %w", path, err)
	}
	s.facts.Restore = &domain.Restored{Method: r.Method, FailedDB: r.FailedDB}
	s.facts.Took, s.facts.Fingerprint = ms(r.Duration), r.Fingerprint.Hash
	s.line(words.Restored(path, string(r.Method), r.Duration, r.FailedDB))
	// schema_meta must be X's again.
	check, err := s.e.opts.OpenDB(ctx, s.c)
	if err != nil {
		return stepResult{err: err}
	}
	defer check.Close()
	st, err := check.Schema(ctx)
	if err != nil {
		return s.fail("read schema_meta after the restore: %w", err)
	}
	x, _, err := s.versions()
	if err != nil {
		return stepResult{err: err}
	}
	if n, p := st.New(s.known(x)), st.PendingOf(s.known(x)); len(n) > 0 || len(p) > 0 {
		return s.fail("after the restore, schema_meta is not %s's: new %s, pending %s", x, MigrationNames(n), strings.Join(p, ", "))
	}
	return stepResult{}
}

func (s *stepCtx) rollbackStart(ctx context.Context) stepResult {
	installT, err := s.commands(ctx, "install", s.c.Commands.Install, s.c.Nodes, s.run.From)
	if err != nil {
		return stepResult{err: err}
	}
	startT, ready, err := s.startNodes(ctx, s.run.From)
	if err != nil {
		return stepResult{err: err}
	}
	s.facts.Commands = ms(installT + startT)
	// The rollback's downtime: from its stop of Y (or, when Y never answered, from the
	// upgrade's stop of X) until X answered again.
	if began := s.rollbackDownSince(ctx); !began.IsZero() && ready.After(began) {
		down := ms(ready.Sub(began))
		s.line(words.RollbackDowntime(down))
		return stepResult{learned: func(r *domain.Run) { r.Facts.Measured.RollbackDowntime = down }}
	}
	return stepResult{}
}

// rollbackDownSince is when the outage the rollback ends began.
func (s *stepCtx) rollbackDownSince(ctx context.Context) time.Time {
	if s.run.DowntimeEnd.IsZero() {
		return s.run.DowntimeStart // Y never answered: one outage since the upgrade's stop
	}
	recs, err := s.e.opts.Store.Steps(ctx, s.run.ID)
	if err != nil {
		return time.Time{}
	}
	for _, r := range recs {
		if domain.StepID(r.Index) == domain.StepRollbackStop {
			return r.StartedAt
		}
	}
	return time.Time{}
}

// unfreeze runs the unfreeze command and announces the end of the freeze.
func (e *Engine) unfreeze(ctx context.Context, run domain.Run) string {
	c, err := e.cluster(run.Cluster)
	if err != nil {
		return ""
	}
	s := &stepCtx{e: e, run: run, c: c}
	if _, err := s.once(ctx, "unfreeze", c.Commands.Unfreeze, run.From); err != nil {
		e.opts.Log.Error("unfreeze", "run", run.ID.String(), "err", err)
		return words.UnfreezeFailed(err)
	}
	s.notice(words.FreezeLifted(c.Name))
	return words.Unfrozen
}

// readings are a watch report's checks as the change record keeps them.
func readings(r domain.WatchReport) []domain.Reading {
	out := make([]domain.Reading, 0, len(r.Checks))
	for _, c := range r.Checks {
		rd := domain.Reading{Check: c.Name, Result: c.Result, Threshold: c.Threshold, Error: c.Error}
		if !math.IsNaN(c.Value) && !math.IsInf(c.Value, 0) {
			rd.Value = strconv.FormatFloat(c.Value, 'g', 6, 64)
		}
		out = append(out, rd)
	}
	return out
}
