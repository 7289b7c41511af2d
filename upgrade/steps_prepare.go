package upgrade

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/storage"
)

// Steps 1–6: preparing, nothing changes on the cluster until the gate is crossed.

func (s *stepCtx) preflight(ctx context.Context) stepResult {
	y, err := catalog.ParseVersion(s.run.To)
	if err != nil {
		return stepResult{err: err}
	}
	p := s.e.preflight(ctx, s.c, y, s.run)
	for _, ch := range p.Checks {
		verdict := ch.Verdict()
		s.facts.Checks = append(s.facts.Checks, domain.CheckVerdict{Name: ch.Name, Verdict: verdict, Detail: ch.Detail})
		s.line(words.Verdict(verdict, ch.Name, ch.Detail))
	}
	if p.Refused {
		return s.fail("%s", p.Reason)
	}
	f := domain.Facts{Plugins: p.Plugins, ControlPlane: p.ControlPlane, NewPluginsNeedForce: p.Force}
	var warnings []string
	if !p.Path.Guaranteed && !p.Chain {
		warnings = append(warnings, words.PathNotGuaranteed(p.From, p.To, p.Path.Versions()))
	}
	if p.ControlPlane {
		warnings = append(warnings, controlPlaneWarning(y))
	}
	f.Warnings = warnings
	return stepResult{learned: func(r *domain.Run) {
		r.From = p.From // the version the nodes run
		r.Facts.Plugins, r.Facts.ControlPlane, r.Facts.Warnings = f.Plugins, f.ControlPlane, f.Warnings
		r.Facts.NewPluginsNeedForce = r.Facts.NewPluginsNeedForce || f.NewPluginsNeedForce
		if p.Chain && len(p.Hops) > 1 {
			r.Facts.Hops = p.Hops
		}
	}}
}

func (s *stepCtx) freeze(ctx context.Context) stepResult {
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	fp, err := db.Fingerprint(ctx)
	if err != nil {
		return s.fail("fingerprint the configuration: %w", err)
	}
	s.facts.Fingerprint, s.facts.Tables = fp.Hash, len(fp.Tables)
	if _, err := s.once(ctx, "freeze", s.c.Commands.Freeze, s.run.From); err != nil {
		return stepResult{err: err}
	}
	s.notice(words.FreezeOn(s.c.Name, s.run.ID))
	return stepResult{learned: func(r *domain.Run) { r.Facts.Freeze, r.Facts.Frozen = &fp, true }}
}

// frozen returns the fingerprint taken at the freeze.
func (s *stepCtx) frozen() (kong.Fingerprint, error) {
	if s.run.Facts.Freeze == nil {
		return kong.Fingerprint{}, errors.New("the run has no fingerprint from its freeze")
	}
	return *s.run.Facts.Freeze, nil
}

// unchanged compares the configuration with the freeze's fingerprint.
func (s *stepCtx) unchanged(ctx context.Context, db Database, when string) error {
	want, err := s.frozen()
	if err != nil {
		return err
	}
	now, err := db.Fingerprint(ctx)
	if err != nil {
		return fmt.Errorf("fingerprint the configuration %s: %w", when, err)
	}
	if !now.Equal(want) {
		return fmt.Errorf("Kong's configuration changed during the freeze (%s): %s", when, kong.DiffString(now.Diff(want)))
	}
	return nil
}

func (s *stepCtx) backupPath() string {
	return filepath.Join(s.e.opts.Config.BackupDir, s.c.Name, s.run.ID.String()+".dump")
}

func (s *stepCtx) backup(ctx context.Context) stepResult {
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	b, err := db.Backup(ctx, s.backupPath())
	if err != nil {
		return stepResult{err: err}
	}
	backup := domain.Backup{Path: b.Path, Size: b.Size, SHA256: b.SHA256}
	s.facts.Backup, s.facts.Took = &backup, ms(b.Duration)
	s.line(words.BackedUp(backup))
	if err := s.unchanged(ctx, db, "by the backup"); err != nil {
		return stepResult{err: err}
	}
	if _, err := s.once(ctx, "export", s.c.Commands.Export, s.run.From); err != nil {
		return stepResult{err: err}
	}
	return stepResult{learned: func(r *domain.Run) { r.Facts.Backup = &backup }}
}

func (s *stepCtx) evaluate(ctx context.Context) stepResult {
	x, y, err := s.versions()
	if err != nil {
		return stepResult{err: err}
	}
	p := Plan{Plugins: s.plugins()}
	s.e.evaluate(ctx, &p, s.c, x, y)
	ev := &domain.Evaluation{Migrations: len(p.Migrations), PendingAfterUp: MigrationNames(p.PendingAfterUp),
		NewPlugins: p.NewPlugins, Force: p.Force || s.run.Force}
	s.facts.Evaluation = ev
	s.line(words.Evaluation(migrationIDs(p.Migrations), migrationIDs(p.PendingAfterUp), p.NewPlugins, p.Breaking))
	var lines []string
	for _, b := range p.Breaking {
		lines = append(lines, b.Line)
	}
	ev.BreakingLines = lines
	var baseline *domain.Baseline
	if s.e.opts.Baseliner != nil {
		b, err := s.e.opts.Baseliner.Baseline(ctx, watchCluster(s.c, s.controlPlane()), s.run.From, s.e.earlierRuns(ctx, s.c.Name, s.run.ID)...)
		if err != nil {
			return s.fail("take the watch's baseline: %w", err)
		}
		baseline = &b
		s.line(words.BaselineLines(b))
	}
	return stepResult{learned: func(r *domain.Run) {
		r.Facts.NewPluginsNeedForce = r.Facts.NewPluginsNeedForce || p.Force
		if baseline != nil {
			r.Facts.Baseline = baseline
		}
	}}
}

// earlierRuns are the spans in which earlier runs on cluster disturbed it, from their first
// stop until they ended (the newest 20 runs): the baseline leaves them out. A run still
// going counts until now.
func (e *Engine) earlierRuns(ctx context.Context, cluster string, current domain.RunID) []domain.Interval {
	runs, err := e.opts.Store.ListRuns(ctx, storage.RunFilter{Cluster: cluster, Limit: 20})
	if err != nil {
		e.opts.Log.Warn("list earlier runs for the baseline", "cluster", cluster, "err", err)
		return nil
	}
	var out []domain.Interval
	for _, r := range runs {
		if r.ID == current || r.DowntimeStart.IsZero() {
			continue
		}
		end := r.UpdatedAt
		if !r.State.Terminal() {
			end = e.opts.Clock.Now()
		}
		out = append(out, domain.Interval{From: r.DowntimeStart, To: end})
	}
	return out
}

// baseline is the run's stored baseline.
func (s *stepCtx) baseline() domain.Baseline {
	if b := s.run.Facts.Baseline; b != nil {
		return *b
	}
	return domain.Baseline{}
}

func (s *stepCtx) stage(ctx context.Context) stepResult {
	if len(s.c.Commands.Stage) == 0 && len(s.c.Commands.Check) == 0 {
		return stepResult{skipped: true, tail: words.NoCommand("stage or check")}
	}
	if _, err := s.commands(ctx, "stage", s.c.Commands.Stage, s.c.Nodes, s.run.To); err != nil {
		return stepResult{err: err}
	}
	// The check of Y (its custom plugins, its configuration) fails here, before any
	// downtime, rather than at the start of Y with every node down.
	if _, err := s.commands(ctx, "check", s.c.Commands.Check, s.c.Nodes, s.run.To); err != nil {
		return s.fail("the check of %s failed, so %s would not start: %w", s.run.To, s.run.To, err)
	}
	return stepResult{}
}

// gate opens the approval gate, or crosses it once enough approvals are in: the
// configuration is compared with the freeze's fingerprint first.
func (s *stepCtx) gate(ctx context.Context) stepResult {
	aps, err := s.e.opts.Store.Approvals(ctx, s.run.ID)
	if err != nil {
		return stepResult{err: err}
	}
	if countApprovals(aps) < s.e.opts.Config.Access.RequiredApprovals {
		if w := s.run.Facts.Warnings; len(w) > 0 {
			s.notice(words.GateWarnings(w))
		}
		s.facts.Gate = &domain.GateCrossing{}
		return stepResult{}
	}
	// Crossing. Approvals may have come long before (ahead of a window): what the
	// downtime relies on is checked again now: the nodes still run X, and Kong's
	// configuration is still the one frozen and backed up. (The window and blackouts were
	// checked by decide just before.)
	view, nodes := s.e.checkNodes(ctx, s.c)
	if !nodes.OK {
		return s.fail("%s", words.NodesChanged(nodes.Detail))
	}
	if x := view.X; x.String() != s.run.From {
		return s.fail("the nodes answer %s now, not %s as when the run was prepared", x, s.run.From)
	}
	if was := s.plugins(); was != nil && !slices.Equal(view.Plugins, was) {
		return s.fail("the nodes load %s now, not %s as when the run was prepared", words.Plugins(view.Plugins), words.Plugins(was))
	}
	s.line(nodes.Detail)
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	if err := s.unchanged(ctx, db, "at the approval gate"); err != nil {
		return stepResult{err: err}
	}
	s.line(words.Unchanged)
	var who []string
	for _, a := range aps {
		if a.Decision == domain.DecisionApprove {
			who = append(who, a.UserID)
		}
	}
	s.facts.Gate = &domain.GateCrossing{Crossed: true, When: s.e.opts.Clock.Now(), Window: s.run.Window, ApprovedBy: who}
	return stepResult{}
}
