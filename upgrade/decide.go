package upgrade

import (
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

// decide is the pure heart of the engine: from a run's records and the time, what next.

// action is what decide tells the loop to do next.
type action struct {
	kind   actionKind
	step   domain.StepID
	state  domain.RunState // for actTransition
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
	run       domain.Run
	steps     map[domain.StepID]domain.StepRecord
	approvals []domain.Approval
}

func (v view) status(id domain.StepID) domain.StepStatus {
	if rec, ok := v.steps[id]; ok {
		return rec.Status
	}
	return domain.StepPending
}

// recorded reports whether step id has a record that is not pending.
func (v view) recorded(id domain.StepID) bool { return v.status(id) != domain.StepPending }

// decide is the pure heart of the engine: from the stored run and the time, what next.
func (e *Engine) decide(v view, now time.Time, recovering bool) action {
	run := v.run
	if run.State.Terminal() {
		return action{kind: actDone}
	}
	// Operations people asked for come first.
	op := run.Facts.Pending
	if op.Is(domain.OpAbort) {
		return action{kind: actTransition, state: domain.StateAborted, reason: words.AbortedBy(op.Actor)}
	}
	if run.State == domain.StateScheduled {
		return action{kind: actDone} // the scheduler's until it prepares
	}
	if op.Is(domain.OpRollback) {
		return action{kind: actTransition, state: domain.StateRollingBack, reason: op.Reason}
	}
	switch run.State {
	case domain.StateNeedsAttention, domain.StateRollbackFailed:
		if op.Is(domain.OpResume) {
			return action{kind: actResume}
		}
		return action{kind: actWait}
	case domain.StateRollingBack:
		for _, d := range rollbackSteps {
			switch v.status(d.ID) {
			case domain.StepSucceeded, domain.StepSkipped:
				continue
			case domain.StepRunning:
				if recovering {
					return action{kind: actRecover, step: d.ID}
				}
			case domain.StepFailed:
				return action{kind: actFailure, step: d.ID}
			}
			return action{kind: actRun, step: d.ID}
		}
		return action{kind: actTransition, state: domain.StateRolledBack, reason: words.RolledBack(run.From)}
	}
	for _, d := range forwardSteps {
		st := v.status(d.ID)
		if st == domain.StepSucceeded || st == domain.StepSkipped {
			continue
		}
		if st == domain.StepPending && domain.PassedOver(d.ID, v.recorded) {
			continue // a step added by a later release, which this run went past before it existed
		}
		switch d.ID {
		case domain.StepApproval:
			return e.decideGate(v, now)
		case domain.StepDecommission:
			if run.State != domain.StateAwaitingDecommission {
				return action{kind: actTransition, state: domain.StateAwaitingDecommission, reason: words.WatchClean}
			}
			if !op.Is(domain.OpDecommission) && !e.autoDecommission(run) {
				return action{kind: actWait}
			}
		}
		if st == domain.StepRunning && recovering {
			return action{kind: actRecover, step: d.ID}
		}
		if st == domain.StepFailed {
			// The failure was stored but not what follows from it (a crash in between).
			return action{kind: actFailure, step: d.ID}
		}
		return action{kind: actRun, step: d.ID}
	}
	return action{kind: actTransition, state: domain.StateSucceeded, reason: words.Upgraded(run.To)}
}

// decideGate handles the approval gate: approvals, rejection and the approval timeout.
func (e *Engine) decideGate(v view, now time.Time) action {
	rec, open := v.steps[domain.StepApproval]
	if !open || rec.Status != domain.StepRunning {
		return action{kind: actRun, step: domain.StepApproval} // open the gate
	}
	g := e.gateOf(v, now)
	switch {
	case g.Rejection != nil:
		return action{kind: actTransition, state: domain.StateRejected, reason: words.RejectedBy(g.Rejection.UserID, g.Rejection.Reason)}
	case g.Approved() && g.Until.IsZero() && !windowClosed(v.run, now):
		// Approved in time and the gate may be crossed: a late wake-up (drawbridge was
		// down at the opening) still crosses, unless the run's window has closed.
		return action{kind: actRun, step: domain.StepApproval}
	case !now.Before(g.Deadline):
		return action{kind: actTransition, state: domain.StateExpired, reason: g.Expiry}
	case g.Approvals < g.Required:
		return action{kind: actWait, until: g.Deadline}
	}
	return action{kind: actWait, until: minTime(g.Until, g.Deadline)}
}

// windowClosed reports whether a scheduled run's window has closed at now.
func windowClosed(run domain.Run, now time.Time) bool {
	closes, ok := windowCloses(run)
	return ok && !now.Before(closes)
}

// gateOf reads the gate of a run whose gate is open (step 6 running) at now.
func (e *Engine) gateOf(v view, now time.Time) domain.Gate {
	run := v.run
	g := domain.Gate{Approvals: countApprovals(v.approvals), Required: max(e.opts.Config.Access.RequiredApprovals, 1)}
	for _, a := range v.approvals {
		if a.Decision == domain.DecisionReject {
			g.Rejection = &a
			break
		}
	}
	timeout := e.opts.Config.Access.ApprovalTimeout
	g.Deadline = v.steps[domain.StepApproval].StartedAt.Add(timeout.D())
	x := words.Expiry{Timeout: timeout.String(), Deadline: g.Deadline, Window: run.Window, ScheduledFor: run.ScheduledFor, Approved: g.Approved()}
	if closes, ok := windowCloses(run); ok && (closes.Before(g.Deadline) || g.Approved()) {
		g.Deadline, x.Closes = closes, closes
	}
	if g.Approved() {
		if wait, why, ok := e.gateClosedUntil(run, now); ok {
			g.Until, g.Why = wait, why
			x.Until, x.Why = wait, why
		}
	}
	g.Expiry = words.ExpiryText(x)
	return g
}

func countApprovals(aps []domain.Approval) int {
	n := 0
	for _, a := range aps {
		if a.Decision == domain.DecisionApprove {
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
