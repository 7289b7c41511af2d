package upgrade

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

// runStep performs one step against the real world and says how it went.
func (e *Engine) runStep(ctx context.Context, run domain.Run, rec domain.StepRecord, d stepDef) stepResult {
	c, err := e.cluster(run.Cluster)
	if err != nil {
		return stepResult{err: err}
	}
	s := &stepCtx{e: e, run: run, c: c, attempt: rec.Attempt}
	var res stepResult
	if impl, ok := stepImpls[d.ID]; ok {
		res = impl.run(s, ctx)
	} else {
		res = stepResult{err: fmt.Errorf("unknown step %d", d.ID)}
	}
	res.facts = s.facts
	if res.tail == "" {
		res.tail = s.tail.String()
	}
	if cause := context.Cause(ctx); res.err != nil && cause != nil && !errors.Is(res.err, cause) {
		res.err = fmt.Errorf("%w (interrupted: %v)", res.err, cause)
	}
	return res
}

// recoverStep decides about a step found running after a restart.
func (e *Engine) recoverStep(r *runner, v view, id domain.StepID) {
	d := defOf(id)
	if d.Repeatable {
		e.opts.Log.Info("repeating an interrupted step", "run", v.run.ID.String(), "step", d.Name)
		e.execute(r, v, id)
		return
	}
	ctx := e.ctx
	done, why := e.checkDone(ctx, v.run, id)
	rec := v.steps[id]
	if done {
		rec.Status, rec.EndedAt = domain.StepSucceeded, e.opts.Clock.Now()
		rec.OutputTail = words.FoundDone(why)
		if err := e.opts.Store.PutStep(ctx, v.run.ID, rec, auditEvent("drawbridge", "step_recovered", words.AuditRecovered(d.Name, why))); err != nil {
			e.opts.Log.Error("record recovered step", "run", v.run.ID.String(), "err", err)
			return
		}
		e.emit(ctx, domain.Event{Kind: domain.EventStepFinished, Run: v.run, Step: &rec})
		return
	}
	rec.Status, rec.EndedAt = domain.StepFailed, e.opts.Clock.Now()
	rec.Error = words.InterruptedError(why)
	e.setStateSteps(ctx, v.run.ID, domain.StateNeedsAttention,
		words.Interrupted(d.Title, why),
		[]domain.StepRecord{rec})
}

// checkDone asks the real world whether a non-repeatable step's effect holds.
func (e *Engine) checkDone(ctx context.Context, run domain.Run, id domain.StepID) (bool, string) {
	c, err := e.cluster(run.Cluster)
	if err != nil {
		return false, err.Error()
	}
	s := &stepCtx{e: e, run: run, c: c}
	check := stepImpls[id].check
	if check == nil {
		return false, words.NoWayToCheck
	}
	db, err := s.openDB(ctx)
	if err != nil {
		return false, err.Error()
	}
	defer db.Close()
	// A migrations command started before the crash may still be running (it is not
	// drawbridge's child any more): wait until it releases Kong's cluster mutex.
	wctx, cancel := context.WithTimeout(ctx, c.CommandTimeout.D())
	defer cancel()
	for {
		l, err := db.MigrationLock(wctx)
		if err != nil {
			return false, words.NoLock(err)
		}
		if !l.Held {
			break
		}
		select {
		case <-wctx.Done():
			return false, words.MutexHeld
		case <-e.opts.Clock.After(e.opts.PollInterval):
		}
	}
	done, err := check(s, ctx, db)
	switch {
	case err != nil:
		return false, err.Error()
	case done:
		return true, words.EffectShown
	default:
		return false, words.EffectMissing(strings.TrimSpace(s.tail.String()))
	}
}
