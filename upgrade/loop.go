package upgrade

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drawbridge/drawbridge/storage"
)

// Run details the engine keeps (storage.Run.Details).
const (
	detailPendingOp   = "op"          // abort, rollback, resume, decommission: asked, not yet done
	detailOpActor     = "op.actor"    // who asked
	detailOpReason    = "op.reason"   // why (rollback on breach, …)
	detailFingerprint = "fingerprint" // JSON kong.Fingerprint taken at the freeze
	detailBackupPath  = "backup.path"
	detailBackupSHA   = "backup.sha256"
	detailBackupSize  = "backup.size"
	detailForce       = "force"
	detailFreezeDone  = "freeze.done"
	detailWatchStart  = "watch.started"
	detailWarning     = "warning"
	detailBaseline    = "baseline" // JSON Baseline taken before the gate
	// The nodes' plugins setting at preflight, comma-joined (kong.PluginsSetting):
	// schema_meta is judged by the plugins they load.
	detailPlugins      = "kong.plugins"
	detailControlPlane = "kong.control_plane" // "true": the nodes are hybrid control planes
)

// action is what decide tells the loop to do next.
type action struct {
	kind   actionKind
	step   StepID
	state  storage.RunState // for actTransition
	reason string
	until  time.Time // for actWait: wake up then at the latest (zero: only when poked)
}

type actionKind int

const (
	actDone actionKind = iota
	actWait
	actRun
	actRecover
	actTransition
	actResume  // a person asked to go on: the stopped step runs again
	actFailure // a failed step's consequence is not stored yet
)

// view is everything decide looks at: the stored run, its step records and approvals.
type view struct {
	run       storage.Run
	steps     map[StepID]storage.StepRecord
	approvals []storage.Approval
}

func (v view) status(id StepID) storage.StepStatus {
	if rec, ok := v.steps[id]; ok {
		return rec.Status
	}
	return storage.StepPending
}

func (e *Engine) load(ctx context.Context, id storage.RunID) (view, error) {
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
	v := view{run: run, steps: map[StepID]storage.StepRecord{}, approvals: aps}
	for _, r := range recs {
		v.steps[StepID(r.Index)] = r
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

// decide is the pure heart of the engine: from the stored run and the time, what next.
func (e *Engine) decide(v view, now time.Time, recovering bool) action {
	run := v.run
	if run.State.Terminal() {
		return action{kind: actDone}
	}
	// Operations people asked for come first.
	switch run.Details[detailPendingOp] {
	case "abort":
		return action{kind: actTransition, state: storage.StateAborted, reason: "aborted by " + actorName(run.Details[detailOpActor])}
	}
	if run.State == storage.StateScheduled {
		return action{kind: actDone} // the scheduler's until it prepares
	}
	switch run.Details[detailPendingOp] {
	case "rollback":
		return action{kind: actTransition, state: storage.StateRollingBack, reason: run.Details[detailOpReason]}
	}
	switch run.State {
	case storage.StateNeedsAttention, storage.StateRollbackFailed:
		if run.Details[detailPendingOp] == "resume" {
			return action{kind: actResume}
		}
		return action{kind: actWait}
	case storage.StateRollingBack:
		for _, d := range rollbackSteps {
			switch v.status(d.id) {
			case storage.StepSucceeded, storage.StepSkipped:
				continue
			case storage.StepRunning:
				if recovering {
					return action{kind: actRecover, step: d.id}
				}
			case storage.StepFailed:
				return action{kind: actFailure, step: d.id}
			}
			return action{kind: actRun, step: d.id}
		}
		return action{kind: actTransition, state: storage.StateRolledBack, reason: "rolled back: every node answers " + run.From}
	}
	for _, d := range forwardSteps {
		st := v.status(d.id)
		if st == storage.StepSucceeded || st == storage.StepSkipped {
			continue
		}
		switch d.id {
		case StepApproval:
			return e.decideGate(v, now)
		case StepDecommission:
			if run.State != storage.StateAwaitingDecommission {
				return action{kind: actTransition, state: storage.StateAwaitingDecommission, reason: "the watch ended clean"}
			}
			if run.Details[detailPendingOp] != "decommission" && !e.autoDecommission(run) {
				return action{kind: actWait}
			}
		}
		if st == storage.StepRunning && recovering {
			return action{kind: actRecover, step: d.id}
		}
		if st == storage.StepFailed {
			// The failure was stored but not what follows from it (a crash in between).
			return action{kind: actFailure, step: d.id}
		}
		return action{kind: actRun, step: d.id}
	}
	return action{kind: actTransition, state: storage.StateSucceeded, reason: "upgraded to " + run.To}
}

// decideGate handles the approval gate: approvals, rejection and the approval timeout.
func (e *Engine) decideGate(v view, now time.Time) action {
	rec, open := v.steps[StepApproval]
	if !open || rec.Status != storage.StepRunning {
		return action{kind: actRun, step: StepApproval} // open the gate
	}
	g := e.gateOf(v, now)
	switch {
	case g.Rejection != nil:
		reason := "rejected by " + actorName(g.Rejection.UserID)
		if g.Rejection.Reason != "" {
			reason += ": " + g.Rejection.Reason
		}
		return action{kind: actTransition, state: storage.StateRejected, reason: reason}
	case g.Approved() && g.Until.IsZero() && !windowClosed(v.run, now):
		// Approved in time and the gate may be crossed: a late wake-up (drawbridge was
		// down at the opening) still crosses, unless the run's window has closed.
		return action{kind: actRun, step: StepApproval}
	case !now.Before(g.Deadline):
		return action{kind: actTransition, state: storage.StateExpired, reason: g.Expiry}
	case g.Approvals < g.Required:
		return action{kind: actWait, until: g.Deadline}
	}
	return action{kind: actWait, until: minTime(g.Until, g.Deadline)}
}

// windowClosed reports whether a scheduled run's window has closed at now.
func windowClosed(run storage.Run, now time.Time) bool {
	closes, ok := windowCloses(run)
	return ok && !now.Before(closes)
}

// Gate is where a run waiting at its approval gate stands.
type Gate struct {
	Approvals, Required int
	Rejection           *storage.Approval // the first rejection, which ends the run
	// Deadline is when the run expires unless the gate is crossed: the approval timeout
	// after the gate opened, or its window's close when that comes first. Expiry says
	// which, as the run's reason would.
	Deadline time.Time
	Expiry   string
	// Until is set when the approvals are in but the gate stays closed: it may be crossed
	// then, when Why ("window nightly opens", "blackout freeze ends") has happened.
	Until time.Time
	Why   string
}

// Approved reports whether enough approvals are in.
func (g Gate) Approved() bool { return g.Approvals >= g.Required && g.Rejection == nil }

// gateOf reads the gate of a run whose gate is open (step 6 running) at now.
func (e *Engine) gateOf(v view, now time.Time) Gate {
	run := v.run
	g := Gate{Approvals: countApprovals(v.approvals), Required: max(e.opts.Config.Access.RequiredApprovals, 1)}
	for _, a := range v.approvals {
		if a.Decision == storage.DecisionReject {
			g.Rejection = &a
			break
		}
	}
	timeout := e.opts.Config.Access.ApprovalTimeout
	g.Deadline = v.steps[StepApproval].StartedAt.Add(timeout.D())
	g.Expiry = fmt.Sprintf("no approval within %s", timeout)
	ranOut := fmt.Sprintf("the approval timeout (%s) ran out at %s", timeout, g.Deadline.UTC().Format(time.RFC3339))
	if closes, ok := windowCloses(run); ok && (closes.Before(g.Deadline) || g.Approved()) {
		g.Deadline = closes
		if run.Window != "" {
			ranOut = fmt.Sprintf("window %s closed at %s", run.Window, closes.UTC().Format(time.RFC3339))
		} else {
			ranOut = fmt.Sprintf("the time it was scheduled for (%s) was %s past at %s", run.ScheduledFor.UTC().Format(time.RFC3339), timeout, closes.UTC().Format(time.RFC3339))
		}
		g.Expiry = ranOut + " before the run was approved"
	}
	if g.Approved() {
		g.Expiry = "approved, but the downtime could not start before the deadline: " + ranOut
		if wait, why, ok := e.gateClosedUntil(run, now); ok {
			g.Until, g.Why = wait, why
			g.Expiry += fmt.Sprintf(", and %s only at %s", why, wait.UTC().Format(time.RFC3339))
		} else {
			g.Expiry += " (drawbridge was not running)"
		}
	}
	return g
}

func countApprovals(aps []storage.Approval) int {
	n := 0
	for _, a := range aps {
		if a.Decision == storage.DecisionApprove {
			n++
		}
	}
	return n
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func (e *Engine) autoDecommission(run storage.Run) bool {
	c, err := e.cluster(run.Cluster)
	return err == nil && c.AutoDecommission
}

// resume puts the step a run stopped at back to pending and the run back in that step's
// state, so the loop runs it again.
func (e *Engine) resume(ctx context.Context, v view) {
	state := resumeState(v)
	resumed := ""
	for _, rec := range v.steps {
		if rec.Status != storage.StepFailed && rec.Status != storage.StepRunning {
			continue
		}
		resumed = rec.Name
		rec.Status = storage.StepPending
		if err := e.opts.Store.PutStep(ctx, v.run.ID, rec); err != nil {
			e.opts.Log.Error("reset step to resume", "run", v.run.ID.String(), "err", err)
			return
		}
	}
	actor := v.run.Details[detailOpActor]
	reason := "resumed by " + actorName(actor)
	if resumed != "" {
		reason += ": " + resumed + " runs again"
	}
	run, err := e.opts.Store.UpdateRun(ctx, v.run.ID, func(r *storage.Run) error {
		r.State = state
		delete(r.Details, detailPendingOp)
		delete(r.Details, detailOpActor)
		if resumed == "decommission" {
			setOp(r, "decommission", actor, "") // resuming it means running it
		}
		return nil
	}, auditEvent(actor, "resumed", reason))
	if err != nil {
		e.opts.Log.Error("resume run", "run", v.run.ID.String(), "err", err)
		return
	}
	e.opts.Sink.Emit(Event{Kind: EventStateChanged, Run: run, Message: reason})
}

// resumeState is the state a resumed run goes back to: that of its failed step.
func resumeState(v view) storage.RunState {
	for _, d := range forwardSteps {
		if st := v.status(d.id); st == storage.StepFailed || st == storage.StepRunning {
			return d.state
		}
	}
	for _, d := range rollbackSteps {
		if st := v.status(d.id); st == storage.StepFailed || st == storage.StepRunning {
			return storage.StateRollingBack
		}
	}
	return storage.StateNeedsAttention
}

func actorName(id string) string {
	if id == "" {
		return "drawbridge"
	}
	return id
}

// execute runs one step: persist "running", act, persist the result.
func (e *Engine) execute(r *runner, v view, id StepID) {
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
		e.opts.Log.Error("record step start", "run", v.run.ID.String(), "step", d.name, "err", err)
		return
	}
	res := e.runStep(ctx, run, rec, d)
	e.end(ctx, run, rec, d, res, context.Cause(ctx))
}

// stepResult is what a step function returns.
type stepResult struct {
	err     error
	tail    string
	details map[string]string
	skipped bool
	// runDetails are merged into the run's details when the step succeeds.
	runDetails map[string]string
	// downtimeEnd, when set, is stored as the run's DowntimeEnd.
	downtimeEnd time.Time
}

// begin stores the step as running (and the run's state) before anything is done.
func (e *Engine) begin(ctx context.Context, v view, d stepDef) (storage.Run, storage.StepRecord, error) {
	now := e.opts.Clock.Now()
	rec := v.steps[d.id]
	if d.id == StepApproval && rec.Status == storage.StepRunning {
		return v.run, rec, nil // crossing a gate opened earlier: its opening time stays
	}
	rec.Index, rec.Name = int(d.id), d.name
	rec.Status, rec.Attempt, rec.StartedAt, rec.EndedAt = storage.StepRunning, rec.Attempt+1, now, time.Time{}
	rec.Error, rec.OutputTail = "", ""
	db := context.WithoutCancel(ctx)
	if err := e.opts.Store.PutStep(db, v.run.ID, rec); err != nil {
		return storage.Run{}, rec, err
	}
	prev := v.run.State
	run, err := e.opts.Store.UpdateRun(db, v.run.ID, func(r *storage.Run) error {
		r.State, r.CurrentStep = d.state, int(d.id)
		if r.Details[detailPendingOp] == "resume" {
			delete(r.Details, detailPendingOp)
			delete(r.Details, detailOpActor)
		}
		if d.id == StepStop && r.DowntimeStart.IsZero() {
			r.DowntimeStart = now // the first stop is issued right after this is stored
		}
		return nil
	}, auditEvent("drawbridge", "step_started", fmt.Sprintf("%s (attempt %d)", d.name, rec.Attempt)))
	if err != nil {
		return run, rec, err
	}
	if prev != run.State {
		e.opts.Sink.Emit(Event{Kind: EventStateChanged, Run: run})
	}
	e.opts.Sink.Emit(Event{Kind: EventStepStarted, Run: run, Step: &rec})
	return run, rec, nil
}

// end stores the step's result and what follows from it.
func (e *Engine) end(ctx context.Context, run storage.Run, rec storage.StepRecord, d stepDef, res stepResult, cause error) {
	db := context.WithoutCancel(ctx)
	if errors.Is(cause, errShutdown) && res.err != nil {
		// Leave the record "running": the next start checks and resumes it.
		e.opts.Log.Info("step interrupted by shutdown", "run", run.ID.String(), "step", d.name)
		return
	}
	if d.id == StepApproval && res.err == nil && !res.skipped && res.details["crossed"] != "true" {
		return // the gate opened and waits for approvals
	}
	rec.EndedAt = e.opts.Clock.Now()
	rec.OutputTail = res.tail
	rec.Details = res.details
	switch {
	case res.err != nil:
		rec.Status, rec.Error = storage.StepFailed, res.err.Error()
	case res.skipped:
		rec.Status = storage.StepSkipped
	default:
		rec.Status = storage.StepSucceeded
	}
	// What the step found goes into the run before the step is marked done: a crash in
	// between leaves the step "running", and it is repeated or checked at the next start.
	if res.err == nil && (len(res.runDetails) > 0 || !res.downtimeEnd.IsZero()) {
		updated, err := e.opts.Store.UpdateRun(db, run.ID, func(r *storage.Run) error {
			if r.Details == nil {
				r.Details = map[string]string{}
			}
			for k, v := range res.runDetails {
				if k == "from" {
					r.From = v // preflight found the version the nodes run
					continue
				}
				r.Details[k] = v
			}
			if !res.downtimeEnd.IsZero() {
				r.DowntimeEnd = res.downtimeEnd
			}
			return nil
		})
		if err != nil {
			e.opts.Log.Error("record step details", "run", run.ID.String(), "step", d.name, "err", err)
			return
		}
		run = updated
	}
	if err := e.opts.Store.PutStep(db, run.ID, rec, auditEvent("drawbridge", "step_"+string(rec.Status), d.name+errSuffix(res.err))); err != nil {
		e.opts.Log.Error("record step result", "run", run.ID.String(), "step", d.name, "err", err)
		return
	}
	e.opts.Sink.Emit(Event{Kind: EventStepFinished, Run: run, Step: &rec})
	if res.err != nil {
		e.onFailure(db, run, d, res.err, cause)
	}
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// onFailure decides what a failed step means for the run (issue: before the gate → X
// untouched, "failed before downtime"; after it → needs attention, or rollback when
// auto_rollback is on; in a rollback → "rollback failed").
func (e *Engine) onFailure(ctx context.Context, run storage.Run, d stepDef, err, cause error) {
	switch {
	case errors.Is(cause, errAbortAsked), errors.Is(cause, errRollbackAsked):
		return // the pending operation takes over
	case d.state == storage.StateRollingBack:
		e.finish(ctx, run.ID, storage.StateRollbackFailed, fmt.Sprintf("%s failed: %v", d.title, err))
	case run.DowntimeStart.IsZero():
		e.finish(ctx, run.ID, storage.StateFailedBeforeDowntime, fmt.Sprintf("%s failed: %v", d.title, err))
	default:
		c, cerr := e.cluster(run.Cluster)
		reason := fmt.Sprintf("%s failed: %v", d.title, err)
		var breach *BreachError
		if blind := errors.As(err, &breach) && breach.Blind || d.id == StepWatch && e.stepDetail(ctx, run.ID, StepWatch, "blind") == "true"; blind {
			// Not seeing the metrics is no evidence the new version is bad: a person decides.
			e.attention(ctx, run.ID, reason+" (drawbridge cannot see the metrics, so it does not roll back by itself: Roll back or Resume)")
			return
		}
		if cerr == nil && c.Watch.AutoRollback {
			e.requestRollback(ctx, run.ID, "drawbridge", "auto_rollback: "+reason)
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
func (e *Engine) attention(ctx context.Context, id storage.RunID, reason string) {
	e.setState(ctx, id, storage.StateNeedsAttention, reason)
}

// setState stores a state with its reason and emits the change.
func (e *Engine) setState(ctx context.Context, id storage.RunID, st storage.RunState, reason string) (storage.Run, bool) {
	run, err := e.opts.Store.UpdateRun(ctx, id, func(r *storage.Run) error {
		r.State, r.Reason = st, reason
		if st.Terminal() || st == storage.StateRollingBack || st == storage.StateNeedsAttention {
			for _, k := range []string{detailPendingOp, detailOpActor, detailOpReason} {
				if st != storage.StateRollingBack || k != detailOpReason {
					delete(r.Details, k)
				}
			}
		}
		return nil
	}, auditEvent("drawbridge", "state_"+string(st), reason))
	if err != nil {
		e.opts.Log.Error("store run state", "run", id.String(), "state", string(st), "err", err)
		return run, false
	}
	e.opts.Sink.Emit(Event{Kind: EventStateChanged, Run: run, Message: reason})
	return run, true
}

// auditEvent is the record of a change, stored in the change's own transaction.
func auditEvent(actor, action, detail string) storage.AuditEvent {
	return storage.AuditEvent{Actor: actorName(actor), Action: action, Detail: detail}
}

// stepDetail reads one detail of a run's step record ("" when absent).
func (e *Engine) stepDetail(ctx context.Context, id storage.RunID, step StepID, key string) string {
	recs, err := e.opts.Store.Steps(ctx, id)
	if err != nil {
		return ""
	}
	for _, r := range recs {
		if r.Index == int(step) {
			return r.Details[key]
		}
	}
	return ""
}
