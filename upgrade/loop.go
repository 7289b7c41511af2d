package upgrade

import (
	"context"
	"errors"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/storage"
)

func (e *Engine) load(ctx context.Context, id domain.RunID) (view, error) {
	run, err := e.opts.Store.GetRun(ctx, id)
	if err != nil {
		return view{}, err
	}
	recs, err := e.opts.Store.Steps(ctx, id)
	if err != nil {
		return view{}, err
	}
	aps, err := e.opts.Store.Approvals(ctx, id)
	if err != nil {
		return view{}, err
	}
	v := view{run: run, steps: map[domain.StepID]domain.StepRecord{}, approvals: aps}
	for _, r := range recs {
		v.steps[domain.StepID(r.Index)] = r
	}
	return v, nil
}

// loop drives one run: load, decide, act, until the run ends or the engine closes.
// recovering is true for the first pass after the goroutine starts: a step found
// "running" then was interrupted by a crash or a shutdown.
func (e *Engine) loop(r *runner) {
	first := true
	for {
		if e.ctx.Err() != nil || e.draining.Load() {
			return
		}
		v, err := e.load(e.ctx, r.id)
		if err != nil {
			if e.ctx.Err() == nil {
				e.opts.Log.Error("load run", "run", r.id.String(), "err", err)
			}
			return
		}
		a := e.decide(v, e.opts.Clock.Now(), first)
		first = false
		switch a.kind {
		case actDone:
			return
		case actWait:
			var timer <-chan time.Time
			if !a.until.IsZero() {
				timer = e.opts.Clock.After(max(a.until.Sub(e.opts.Clock.Now()), 0))
			}
			select {
			case <-r.wake:
			case <-timer:
			case <-e.ctx.Done():
				return
			}
		case actTransition:
			e.finish(e.ctx, v.run.ID, a.state, a.reason)
		case actRecover:
			e.recoverStep(r, v, a.step)
		case actResume:
			e.resume(e.ctx, v)
		case actFailure:
			rec := v.steps[a.step]
			e.onFailure(e.ctx, v.run, defOf(a.step), errors.New(rec.Error), nil)
		case actRun:
			e.execute(r, v, a.step)
		}
	}
}

func (e *Engine) autoDecommission(run domain.Run) bool {
	c, err := e.cluster(run.Cluster)
	return err == nil && c.AutoDecommission
}

// resume puts the step a run stopped at back to pending and the run back in that step's
// state, so the loop runs it again.
func (e *Engine) resume(ctx context.Context, v view) {
	state := resumeState(v)
	resumed := ""
	var reset []domain.StepRecord
	for _, rec := range v.steps {
		if rec.Status != domain.StepFailed && rec.Status != domain.StepRunning {
			continue
		}
		resumed = rec.Name
		rec.Status = domain.StepPending
		reset = append(reset, rec)
	}
	var actor string
	if op := v.run.Facts.Pending; op != nil {
		actor = op.Actor
	}
	reason := words.ResumedBy(actor)
	switch resumed {
	case "":
	case "watch":
		reason += ": the watch starts again from now"
	default:
		reason += ": " + resumed + " runs again"
	}
	run, err := e.opts.Store.UpdateRunSteps(ctx, v.run.ID, func(r *domain.Run) error {
		r.State = state
		r.Facts.Pending = nil
		switch resumed {
		case "decommission":
			setOp(r, domain.OpDecommission, actor, "") // resuming it means running it
		case "watch":
			// A person who resumes a breached or blind watch asks to watch again: a new
			// watch from now, not the judgement of the old one repeated.
			r.Facts.WatchStarted = time.Time{}
		}
		return nil
	}, reset, auditEvent(actor, "resumed", reason))
	if err != nil {
		e.opts.Log.Error("resume run", "run", v.run.ID.String(), "err", err)
		return
	}
	e.emit(ctx, domain.Event{Kind: domain.EventStateChanged, Run: run, Message: reason})
}

// resumeState is the state a resumed run goes back to: that of its failed step.
func resumeState(v view) domain.RunState {
	for _, d := range forwardSteps {
		if st := v.status(d.ID); st == domain.StepFailed || st == domain.StepRunning {
			return d.State
		}
	}
	for _, d := range rollbackSteps {
		if st := v.status(d.ID); st == domain.StepFailed || st == domain.StepRunning {
			return domain.StateRollingBack
		}
	}
	return domain.StateNeedsAttention
}

// execute runs one step: persist "running", act, persist the result.
func (e *Engine) execute(r *runner, v view, id domain.StepID) {
	d := defOf(id)
	ctx, cancel := context.WithCancelCause(e.ctx)
	r.mu.Lock()
	r.cancelStep, r.current = cancel, id
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.cancelStep, r.current = nil, 0
		r.mu.Unlock()
		cancel(nil)
	}()

	run, rec, err := e.begin(ctx, v, d)
	if err != nil {
		e.opts.Log.Error("record step start", "run", v.run.ID.String(), "step", d.Name, "err", err)
		return
	}
	res := e.runStep(ctx, run, rec, d)
	e.end(ctx, run, rec, d, res, context.Cause(ctx))
}

// stepResult is what a step function returns.
type stepResult struct {
	err     error
	tail    string
	facts   domain.StepFacts // set by runStep from what the step recorded as it went
	skipped bool
	// learned writes what the step found into the run's facts when the step succeeds.
	learned func(*domain.Run)
	// downtimeEnd, when set, is stored as the run's DowntimeEnd.
	downtimeEnd time.Time
}

// begin stores the step as running (and the run's state) before anything is done.
func (e *Engine) begin(ctx context.Context, v view, d stepDef) (domain.Run, domain.StepRecord, error) {
	now := e.opts.Clock.Now()
	rec := v.steps[d.ID]
	if d.ID == domain.StepApproval && rec.Status == domain.StepRunning {
		return v.run, rec, nil // crossing a gate opened earlier: its opening time stays
	}
	rec.Index, rec.Name = int(d.ID), d.Name
	rec.Status, rec.Attempt, rec.StartedAt, rec.EndedAt = domain.StepRunning, rec.Attempt+1, now, time.Time{}
	rec.Error, rec.OutputTail = "", ""
	db := context.WithoutCancel(ctx)
	prev := v.run.State
	run, err := e.opts.Store.UpdateRunSteps(db, v.run.ID, func(r *domain.Run) error {
		r.State, r.CurrentStep = d.State, int(d.ID)
		if r.Facts.Pending.Is(domain.OpResume) {
			r.Facts.Pending = nil
		}
		if d.ID == domain.StepStop && r.DowntimeStart.IsZero() {
			r.DowntimeStart = now // the first stop is issued right after this is stored
		}
		return nil
	}, []domain.StepRecord{rec}, auditEvent("drawbridge", "step_started", words.AuditStepStarted(d.Name, rec.Attempt)))
	if err != nil {
		return run, rec, err
	}
	if prev != run.State {
		e.emit(ctx, domain.Event{Kind: domain.EventStateChanged, Run: run})
	}
	e.emit(ctx, domain.Event{Kind: domain.EventStepStarted, Run: run, Step: &rec})
	return run, rec, nil
}

// end stores the step's result and what follows from it.
func (e *Engine) end(ctx context.Context, run domain.Run, rec domain.StepRecord, d stepDef, res stepResult, cause error) {
	db := context.WithoutCancel(ctx)
	if errors.Is(cause, errShutdown) && res.err != nil {
		// Leave the record "running": the next start checks and resumes it.
		e.opts.Log.Info("step interrupted by shutdown", "run", run.ID.String(), "step", d.Name)
		return
	}
	if d.ID == domain.StepApproval && res.err == nil && !res.skipped && (res.facts.Gate == nil || !res.facts.Gate.Crossed) {
		return // the gate opened and waits for approvals
	}
	rec.EndedAt = e.opts.Clock.Now()
	rec.OutputTail = res.tail
	rec.Facts = res.facts
	switch {
	case res.err != nil:
		rec.Status, rec.Error = domain.StepFailed, res.err.Error()
	case res.skipped:
		rec.Status = domain.StepSkipped
	default:
		rec.Status = domain.StepSucceeded
	}
	// What the step found goes into the run with the step's result, in one transaction: a
	// crash leaves the step either "running" (repeated or checked at the next start) or
	// done with its facts.
	updated, err := e.opts.Store.UpdateRunSteps(db, run.ID, func(r *domain.Run) error {
		if res.err != nil {
			return nil
		}
		if res.learned != nil {
			res.learned(r)
		}
		if !res.downtimeEnd.IsZero() {
			r.DowntimeEnd = res.downtimeEnd
		}
		return nil
	}, []domain.StepRecord{rec}, auditEvent("drawbridge", "step_"+string(rec.Status), words.AuditStepEnded(d.Name, res.err)))
	if err != nil {
		e.opts.Log.Error("record step result", "run", run.ID.String(), "step", d.Name, "err", err)
		return
	}
	run = updated
	e.emit(ctx, domain.Event{Kind: domain.EventStepFinished, Run: run, Step: &rec})
	if res.err != nil {
		e.onFailure(db, run, d, res.err, cause)
	}
}

// onFailure decides what a failed step means for the run (issue: before the gate → X
// untouched, "failed before downtime"; after it → needs attention, or rollback when
// auto_rollback is on; in a rollback → "rollback failed").
func (e *Engine) onFailure(ctx context.Context, run domain.Run, d stepDef, err, cause error) {
	switch {
	case errors.Is(cause, errAbortAsked), errors.Is(cause, errRollbackAsked):
		return // the pending operation takes over
	case d.State == domain.StateRollingBack:
		e.finish(ctx, run.ID, domain.StateRollbackFailed, words.StepFailed(d.Title, err))
	case run.DowntimeStart.IsZero():
		e.finish(ctx, run.ID, domain.StateFailedBeforeDowntime, words.StepFailed(d.Title, err))
	default:
		c, cerr := e.cluster(run.Cluster)
		reason := words.StepFailed(d.Title, err)
		var breach *domain.BreachError
		if blind := errors.As(err, &breach) && breach.Blind || d.ID == domain.StepWatch && e.stepFacts(ctx, run.ID, domain.StepWatch).Blind; blind {
			// Not seeing the metrics is no evidence the new version is bad: a person decides.
			e.attention(ctx, run.ID, words.Blind(reason))
			return
		}
		if cerr == nil && c.Watch.AutoRollback {
			e.requestRollback(ctx, run.ID, "drawbridge", words.AutoRollback(reason))
			return
		}
		e.attention(ctx, run.ID, reason)
	}
}

var (
	errAbortAsked    = errors.New("abort asked")
	errRollbackAsked = errors.New("rollback asked")
)

// attention moves a run to "needs attention".
func (e *Engine) attention(ctx context.Context, id domain.RunID, reason string) {
	e.setState(ctx, id, domain.StateNeedsAttention, reason)
}

// setState stores a state with its reason and emits the change.
func (e *Engine) setState(ctx context.Context, id domain.RunID, st domain.RunState, reason string) (domain.Run, bool) {
	return e.setStateSteps(ctx, id, st, reason, nil)
}

// setStateSteps is setState that also stores step records in the same transaction.
func (e *Engine) setStateSteps(ctx context.Context, id domain.RunID, st domain.RunState, reason string, steps []domain.StepRecord) (domain.Run, bool) {
	run, err := e.opts.Store.UpdateRunSteps(ctx, id, func(r *domain.Run) error {
		r.State, r.Reason = st, reason
		if st.Terminal() || st == domain.StateRollingBack || st == domain.StateNeedsAttention {
			r.Facts.Pending = nil
		}
		return nil
	}, steps, auditEvent("drawbridge", "state_"+string(st), reason))
	if err != nil {
		e.opts.Log.Error("store run state", "run", id.String(), "state", string(st), "err", err)
		return run, false
	}
	e.emit(ctx, domain.Event{Kind: domain.EventStateChanged, Run: run, Message: reason})
	return run, true
}

// auditEvent is the record of a change, stored in the change's own transaction.
func auditEvent(actor, action, detail string) storage.AuditEvent {
	return storage.AuditEvent{Actor: words.Actor(actor), Action: action, Detail: detail}
}

// stepFacts reads the facts of a run's step record (zero when absent).
func (e *Engine) stepFacts(ctx context.Context, id domain.RunID, step domain.StepID) domain.StepFacts {
	recs, err := e.opts.Store.Steps(ctx, id)
	if err != nil {
		return domain.StepFacts{}
	}
	for _, r := range recs {
		if r.Index == int(step) {
			return r.Facts
		}
	}
	return domain.StepFacts{}
}
