package upgrade

import (
	"context"
	"fmt"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/storage"
)

// The rehearsal (between stage and the gate): Y's migrations on a scratch copy of the
// database restored from the verified backup, while X keeps serving; then the downtime's
// prediction.

func (s *stepCtx) rehearse(ctx context.Context) stepResult {
	if !s.c.Rehearsal.Enabled() {
		p := s.e.predict(ctx, s.c, s.run.ID, nil, len(s.run.ChainHops()))
		s.facts.Prediction = &p
		s.line(words.NotRehearsed)
		s.line(words.Prediction(p))
		return stepResult{skipped: true, tail: s.tail.String(), learned: func(r *domain.Run) { r.Facts.Prediction = &p }}
	}
	rh, err := s.rehearseOnCopy(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	s.facts.Rehearsal = &rh
	p := s.e.predict(ctx, s.c, s.run.ID, &rh, len(s.run.ChainHops()))
	s.facts.Prediction = &p
	s.line(words.Prediction(p))
	return stepResult{learned: func(r *domain.Run) { r.Facts.Rehearsal, r.Facts.Prediction = &rh, &p }}
}

// rehearseOnCopy restores the backup into the run's scratch database, runs Y's migrations
// there as the real steps will (loaded plugins, -f, Kong's lock, schema_meta checked after
// each command) and drops the copy, whatever happened.
func (s *stepCtx) rehearseOnCopy(ctx context.Context) (domain.Rehearsal, error) {
	var rh domain.Rehearsal
	b := s.run.Facts.Backup
	if b == nil || b.Path == "" {
		return rh, fmt.Errorf("the run has no backup to rehearse on")
	}
	x, y, err := s.versions()
	if err != nil {
		return rh, err
	}
	if s.e.opts.OpenScratch == nil {
		return rh, fmt.Errorf("this drawbridge cannot open a rehearsal's database")
	}
	srv, err := s.e.opts.OpenScratch(ctx, s.c)
	if err != nil {
		return rh, fmt.Errorf("open the rehearsal's database server: %w", err)
	}
	defer srv.Close()
	name, err := srv.Name(s.run.ID)
	if err != nil {
		return rh, err
	}
	rh.Database = name
	defer s.dropCopy(ctx, srv, name)
	cp, err := srv.Restore(ctx, b.Path, s.run.ID)
	if err != nil {
		return rh, fmt.Errorf("copy the backup into %s: %w", name, err)
	}
	rh.Restore = ms(cp.Duration)
	s.line(words.CopyRestored(b.Path, name, cp.Host, cp.Port, rh.Restore))
	db := srv.Copy(name)
	defer db.Close()
	m := migration{db: db, from: x, to: y, up: s.c.Rehearsal.MigrationsUp, finish: s.c.Rehearsal.MigrationsFinish, prefix: "rehearsal_",
		copy: &config.ScratchData{Database: cp.Database, Host: cp.Host, Port: fmt.Sprint(cp.Port), User: cp.User}}
	attempt := s.attempt
	s.attempt = 1 // a fresh copy each time: run as a first attempt
	defer func() { s.attempt = attempt }()
	hops, err := s.hops()
	if err != nil {
		return rh, err
	}
	m.hopForce = len(hops) > 1
	for i, h := range hops {
		m.to = h
		ht := domain.HopTimes{Version: h.String()}
		for _, target := range []migrationsTarget{targetUp, targetFinish} {
			t, res := s.converge(ctx, m, target)
			ht.Up, ht.Finish = ht.Up+ms(t.up), ht.Finish+ms(t.finish)
			if res.err != nil {
				where := ""
				if len(hops) > 1 {
					where = " at " + words.Hop(i+1, len(hops), m.from.String(), h.String())
				}
				return rh, fmt.Errorf("the rehearsal on a copy of the database failed%s, before any downtime (X was not touched): %w", where, res.err)
			}
		}
		rh.Up, rh.Finish = rh.Up+ht.Up, rh.Finish+ht.Finish
		if len(hops) > 1 {
			rh.Hops = append(rh.Hops, ht)
			s.line(words.RehearsedHop(i+1, len(hops), h.String(), ht.Up, ht.Finish))
		}
		m.from = h
	}
	st, err := db.Schema(ctx)
	if err != nil {
		return rh, fmt.Errorf("read the copy's schema_meta: %w", err)
	}
	known := s.known(y)
	if n, p := st.New(known), st.PendingOf(known); len(n) > 0 || len(p) > 0 {
		return rh, fmt.Errorf("after the rehearsal the copy's schema_meta still has new %s and pending %v", MigrationNames(n), p)
	}
	s.facts.Commands = ms(rh.Up + rh.Finish)
	s.line(words.Rehearsed(rh.Up, rh.Finish, y.String()))
	return rh, nil
}

// dropCopy drops the scratch database, also when ctx has ended (a failure, an abort).
func (s *stepCtx) dropCopy(ctx context.Context, srv Scratch, name string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if _, err := srv.Drop(cctx, name); err != nil {
		s.line(words.CopyNotDropped(name, err))
		s.e.opts.Log.Error("drop the rehearsal's scratch database", "run", s.run.ID.String(), "database", name, "err", err)
		return
	}
	s.line(words.CopyDropped(name))
}

// dropLeftCopy drops the scratch database a killed or interrupted rehearsal left, when a
// run ends without its rehearsal having finished.
func (e *Engine) dropLeftCopy(ctx context.Context, run domain.Run) {
	c, err := e.cluster(run.Cluster)
	if err != nil || !c.Rehearsal.Enabled() || e.opts.OpenScratch == nil {
		return
	}
	srv, err := e.opts.OpenScratch(ctx, c)
	if err != nil {
		e.opts.Log.Warn("open the rehearsal's server to drop a leftover copy", "run", run.ID.String(), "err", err)
		return
	}
	defer srv.Close()
	name, err := srv.Name(run.ID)
	if err != nil {
		return
	}
	if dropped, err := srv.Drop(ctx, name); err != nil {
		e.opts.Log.Error("drop a leftover scratch database", "run", run.ID.String(), "database", name, "err", err)
	} else if dropped {
		e.opts.Log.Info("dropped a leftover scratch database", "run", run.ID.String(), "database", name)
	}
}

// Defaults of the prediction for a cluster with no earlier run to learn from.
const (
	defaultStop     = 10 * time.Second
	defaultInstall  = 30 * time.Second
	defaultUp       = 30 * time.Second
	defaultFinish   = 10 * time.Second
	defaultStart    = 20 * time.Second
	defaultOverhead = 5 * time.Second
)

// predict is the downtime expected for a run: up and finish from the rehearsal when there
// was one; the rest (and the migrations without a rehearsal) from the average of this
// cluster's latest successful runs that measured their parts, or the defaults above.
//
// A chain of hops > 1 installs each hop's version, then Y again, on the node where the
// migrations run: k more installs of one node; without a rehearsal its migrations are
// taken as k times a single hop's.
func (e *Engine) predict(ctx context.Context, c *config.Cluster, current domain.RunID, rh *domain.Rehearsal, hops int) domain.Prediction {
	p := domain.Prediction{DowntimeParts: domain.DowntimeParts{Stop: defaultStop, Install: defaultInstall, Up: defaultUp,
		Finish: defaultFinish, Start: defaultStart, Overhead: defaultOverhead}, Migrations: "default", Nodes: "default"}
	if len(c.Commands.Install) == 0 {
		p.Install = 0
	}
	runs, err := e.opts.Store.ListRuns(ctx, storage.RunFilter{Cluster: c.Name, States: []domain.RunState{domain.StateSucceeded}, Limit: 20})
	if err != nil {
		e.opts.Log.Warn("list earlier runs for the prediction", "cluster", c.Name, "err", err)
	}
	var sum domain.DowntimeParts
	for _, r := range runs {
		parts := r.Facts.Measured.Parts
		if r.ID == current || parts == nil {
			continue
		}
		sum.Stop, sum.Install, sum.Up = sum.Stop+parts.Stop, sum.Install+parts.Install, sum.Up+parts.Up
		sum.Finish, sum.Start, sum.Overhead = sum.Finish+parts.Finish, sum.Start+parts.Start, sum.Overhead+parts.Overhead
		if p.Runs++; p.Runs == 5 {
			break
		}
	}
	if n := time.Duration(p.Runs); n > 0 {
		p.Stop, p.Install, p.Start, p.Overhead = sum.Stop/n, sum.Install/n, sum.Start/n, sum.Overhead/n
		p.Up, p.Finish = sum.Up/n, sum.Finish/n
		p.Nodes, p.Migrations = "earlier runs", "earlier runs"
	}
	if hops > 1 {
		k := time.Duration(hops)
		p.Install *= 1 + k
		p.Up = p.Up*k + p.Finish*(k-1)
	}
	if rh != nil {
		p.Up, p.Finish, p.Migrations = rh.Up, rh.Finish, "rehearsal"
		if n := len(rh.Hops); n > 1 {
			// The up step runs every hop's up and the finish of each hop before Y's.
			p.Up, p.Finish = 0, rh.Hops[n-1].Finish
			for i, h := range rh.Hops {
				p.Up += h.Up
				if i < n-1 {
					p.Up += h.Finish
				}
			}
		}
	}
	p.DowntimeParts = roundParts(p.DowntimeParts)
	return p
}

func roundParts(d domain.DowntimeParts) domain.DowntimeParts {
	return domain.DowntimeParts{Stop: ms(d.Stop), Install: ms(d.Install), Up: ms(d.Up), Finish: ms(d.Finish), Start: ms(d.Start), Overhead: ms(d.Overhead)}
}
