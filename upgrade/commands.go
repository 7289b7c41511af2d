package upgrade

import (
	"context"
	"errors"
	"fmt"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/storage"
)

// IllegalError is a command the run's state does not allow, with a reason people read.
type IllegalError struct {
	Run    domain.RunID
	State  domain.RunState
	Action string
	Why    string
}

func (e *IllegalError) Error() string {
	return words.Cannot(e.Action, e.Run, e.Why)
}

// ErrIllegal matches every IllegalError with errors.Is.
var ErrIllegal = errors.New("illegal in the run's state")

// Is makes errors.Is(err, ErrIllegal) true.
func (e *IllegalError) Is(target error) bool { return target == ErrIllegal }

func illegal(run domain.Run, action, why string) error {
	return &IllegalError{Run: run.ID, State: run.State, Action: action, Why: why}
}

// StartRequest asks for an upgrade now.
type StartRequest struct {
	Cluster     string
	To          string // Y
	RequestedBy string // Slack user ID, or "scheduler"
	Force       bool   // run the migrations with -f
	// Chain: Y may be a chain of guaranteed hops away; each hop's migrations run in turn in
	// one downtime (one freeze, one backup, one approval, one stop of X).
	Chain bool
	// Ticket is the change ticket the run belongs to; the cluster's change_ticket says
	// whether one is needed and of which form.
	Ticket string
}

// Start creates a run and starts it: preflight, freeze, backup, evaluate, stage, then the
// approval gate. It refuses a cluster with an active run, an unknown cluster, and a
// version that is not a Kong release.
func (e *Engine) Start(ctx context.Context, req StartRequest) (domain.Run, error) {
	c, err := e.cluster(req.Cluster)
	if err != nil {
		return domain.Run{}, err
	}
	to, err := catalog.ParseVersion(req.To)
	if err != nil {
		return domain.Run{}, err
	}
	if _, ok := catalog.Default().Release(to); !ok {
		return domain.Run{}, fmt.Errorf("Kong %s is not an OSS release drawbridge knows (2.8.0 … %s)", to, catalog.Default().Latest().Version)
	}
	if err := c.ChangeTicket.Check(c.Name, req.Ticket); err != nil {
		return domain.Run{}, err
	}
	run := domain.Run{
		Cluster: c.Name, To: to.String(), State: domain.StatePreparing, Force: req.Force, Chain: req.Chain,
		RequestedBy: req.RequestedBy, Ticket: req.Ticket,
	}
	run, err = e.opts.Store.CreateRun(ctx, run, auditEvent(req.RequestedBy, "start", words.AuditStart(c.Name, to.String(), req.Chain, req.Ticket)))
	if err != nil {
		return run, fmt.Errorf("start %s on %s: %w", to, c.Name, err)
	}
	e.emit(ctx, domain.Event{Kind: domain.EventStateChanged, Run: run, Message: words.RequestedBy(req.RequestedBy)})
	e.spawn(run.ID)
	return run, nil
}

// Approve records an approval. Only a run awaiting approval may be approved, once per
// person; the requester may not approve unless the config allows it. It returns the run
// as it stands after the approval, with its gate (Status.Gate): whether the run goes ahead
// now, waits for more approvals, or waits for its window to open.
func (e *Engine) Approve(ctx context.Context, id domain.RunID, user string, opts ...DecisionOption) (domain.Status, error) {
	return e.decision(ctx, id, user, domain.DecisionApprove, "", opts)
}

// Reject records a rejection; the run ends "rejected".
func (e *Engine) Reject(ctx context.Context, id domain.RunID, user, reason string, opts ...DecisionOption) (domain.Status, error) {
	return e.decision(ctx, id, user, domain.DecisionReject, reason, opts)
}

// DecisionOption adds to an approval or rejection what the caller knows of it.
type DecisionOption func(*domain.Approval)

// EligibleAs records what made the user an approver (their ID, or a user group).
func EligibleAs(via string) DecisionOption { return func(a *domain.Approval) { a.EligibleAs = via } }

func (e *Engine) decision(ctx context.Context, id domain.RunID, user string, d domain.Decision, reason string, opts []DecisionOption) (domain.Status, error) {
	verb := map[domain.Decision]string{domain.DecisionApprove: "approve", domain.DecisionReject: "reject"}[d]
	run, err := e.opts.Store.GetRun(ctx, id)
	if err != nil {
		return domain.Status{Run: run}, err
	}
	if run.State != domain.StateAwaitingApproval {
		return domain.Status{Run: run}, illegal(run, verb, words.NotAtGate(run.State))
	}
	if d == domain.DecisionApprove && user == run.RequestedBy && !e.opts.Config.Access.AllowSelfApproval {
		return domain.Status{Run: run}, illegal(run, verb, "you requested it, and a run needs another person's approval (four-eyes)")
	}
	a := domain.Approval{UserID: user, Decision: d, Reason: reason, At: e.opts.Clock.Now()}
	for _, o := range opts {
		o(&a)
	}
	err = e.opts.Store.AddApproval(ctx, id, a, auditEvent(user, verb, reason))
	if errors.Is(err, storage.ErrDuplicate) {
		return e.alreadyDecided(ctx, run, user, verb)
	}
	if err != nil {
		return domain.Status{Run: run}, err
	}
	st, err := e.Status(ctx, id)
	if err != nil {
		return st, err
	}
	// The status message shows the decision at once; the run's goroutine acts on it.
	e.emit(ctx, domain.Event{Kind: domain.EventDecision, Run: st.Run, Snapshot: st, Actor: user, Decision: d})
	e.spawn(id)
	return st, nil
}

// alreadyDecided refuses a second decision by the same person, saying what the first was
// and where the gate stands.
func (e *Engine) alreadyDecided(ctx context.Context, run domain.Run, user, verb string) (domain.Status, error) {
	st, err := e.Status(ctx, run.ID)
	if err != nil {
		return st, illegal(run, verb, words.AlreadyDecided(nil, nil))
	}
	var mine *domain.Approval
	for _, a := range st.Approvals {
		if a.UserID == user {
			mine = &a
		}
	}
	return st, illegal(run, verb, words.AlreadyDecided(mine, st.Gate))
}

// Abort stops a run before its downtime; the freeze is lifted and X is untouched. A run
// still waiting for its schedule ends at once (as Unschedule does): nothing of it runs.
func (e *Engine) Abort(ctx context.Context, id domain.RunID, user string) (domain.Run, error) {
	run, err := e.opts.Store.UpdateRun(ctx, id, func(r *domain.Run) error {
		switch {
		case r.State.Terminal():
			return illegal(*r, "abort", words.Ended(r.State))
		case !r.DowntimeStart.IsZero():
			return illegal(*r, "abort", "its downtime has begun; roll it back instead")
		case r.State == domain.StateScheduled:
			r.State, r.Reason = domain.StateAborted, words.AbortedBeforePrepared(user)
			return nil
		}
		setOp(r, domain.OpAbort, user, "")
		return nil
	}, auditEvent(user, "abort", ""))
	if err != nil {
		return run, err
	}
	if run.State == domain.StateAborted {
		e.scheduledEnded(ctx, run)
		return run, nil
	}
	e.interrupt(id, errAbortAsked)
	e.spawn(id)
	return run, nil
}

// Rollback restores X: stop Y, restore the database from the run's backup, start X. It is
// legal once the downtime has begun, and again after a failed rollback.
func (e *Engine) Rollback(ctx context.Context, id domain.RunID, user string) (domain.Run, error) {
	return e.requestRollback(ctx, id, user, words.RollbackRequested(user))
}

func (e *Engine) requestRollback(ctx context.Context, id domain.RunID, user, reason string) (domain.Run, error) {
	run, err := e.opts.Store.UpdateRun(ctx, id, func(r *domain.Run) error {
		switch {
		case r.DowntimeStart.IsZero():
			return illegal(*r, "roll back", "its downtime has not begun, so nothing has changed; abort it instead")
		case r.State == domain.StateRollingBack:
			return illegal(*r, "roll back", "it is rolling back already")
		case r.State.Terminal() && r.State != domain.StateRollbackFailed:
			return illegal(*r, "roll back", "it has ended ("+r.State.Human()+")")
		}
		setOp(r, domain.OpRollback, user, reason)
		if r.State == domain.StateRollbackFailed {
			// A finished run has no goroutine; retrying the rollback needs one, and a run
			// that needs attention gets one.
			r.State = domain.StateNeedsAttention
		}
		return nil
	}, auditEvent(user, "rollback", reason))
	if err != nil {
		return run, err
	}
	e.interrupt(id, errRollbackAsked)
	e.spawn(id)
	return run, nil
}

// Resume re-runs the step a run stopped at, for a run that needs attention.
func (e *Engine) Resume(ctx context.Context, id domain.RunID, user string) (domain.Run, error) {
	run, err := e.opts.Store.UpdateRun(ctx, id, func(r *domain.Run) error {
		if r.State != domain.StateNeedsAttention {
			return illegal(*r, "resume", "it is "+r.State.Human()+", not waiting for attention")
		}
		setOp(r, domain.OpResume, user, "")
		return nil
	}, auditEvent(user, "resume", ""))
	if err != nil {
		return run, err
	}
	e.spawn(id)
	return run, nil
}

// Decommission runs the decommission step after a clean watch.
func (e *Engine) Decommission(ctx context.Context, id domain.RunID, user string) (domain.Run, error) {
	run, err := e.opts.Store.UpdateRun(ctx, id, func(r *domain.Run) error {
		if r.State != domain.StateAwaitingDecommission {
			return illegal(*r, "decommission", "it is "+r.State.Human()+"; decommission comes after a clean watch")
		}
		setOp(r, domain.OpDecommission, user, "")
		return nil
	}, auditEvent(user, "decommission", ""))
	if err != nil {
		return run, err
	}
	e.spawn(id)
	return run, nil
}

func setOp(r *domain.Run, op domain.OperationKind, actor, reason string) {
	r.Facts.Pending = &domain.Operation{Kind: op, Actor: actor, Reason: reason}
}

// Status returns a run's records.
func (e *Engine) Status(ctx context.Context, id domain.RunID) (domain.Status, error) {
	run, err := e.opts.Store.GetRun(ctx, id)
	if err != nil {
		return domain.Status{}, err
	}
	steps, err := e.opts.Store.Steps(ctx, id)
	if err != nil {
		return domain.Status{}, err
	}
	aps, err := e.opts.Store.Approvals(ctx, id)
	if err != nil {
		return domain.Status{}, err
	}
	st := domain.Status{Run: run, Steps: steps, Approvals: aps}
	if run.State == domain.StateAwaitingApproval {
		v := view{run: run, steps: map[domain.StepID]domain.StepRecord{}, approvals: aps}
		for _, r := range steps {
			v.steps[domain.StepID(r.Index)] = r
		}
		if rec, ok := v.steps[domain.StepApproval]; ok && rec.Status == domain.StepRunning {
			g := e.gateOf(v, e.opts.Clock.Now())
			st.Gate = &g
		}
	}
	return st, nil
}

// List returns runs, newest first.
func (e *Engine) List(ctx context.Context, f storage.RunFilter) ([]domain.Run, error) {
	return e.opts.Store.ListRuns(ctx, f)
}

// finish moves a run to a state that ends a phase (a terminal state, or rolling back),
// after cleaning up: a step left running is closed, and the freeze is lifted when the run
// ends.
func (e *Engine) finish(ctx context.Context, id domain.RunID, st domain.RunState, reason string) {
	v, err := e.load(ctx, id)
	if err != nil {
		e.opts.Log.Error("load run to finish", "run", id.String(), "err", err)
		return
	}
	now := e.opts.Clock.Now()
	// The steps this changes are stored with the new state, in one transaction.
	var changed []domain.StepRecord
	for _, rec := range v.steps {
		if st == domain.StateRollingBack && domain.StepID(rec.Index) >= domain.StepRollbackStop && rec.Status != domain.StepSucceeded {
			rec.Status, rec.Error = domain.StepPending, "" // a new rollback attempt runs its steps again
			changed = append(changed, rec)
			continue
		}
		if rec.Status == domain.StepRunning {
			rec.Status, rec.EndedAt = domain.StepFailed, now
			rec.Error = "ended: " + reason
			changed = append(changed, rec)
		}
	}
	if rec, ok := v.steps[domain.StepRehearsal]; ok && st.Terminal() && rec.Status != domain.StepSucceeded && rec.Status != domain.StepSkipped {
		e.dropLeftCopy(ctx, v.run) // a rehearsal killed or interrupted before its own drop
	}
	if st.Terminal() && v.run.Facts.Frozen {
		if msg := e.unfreeze(ctx, v.run); msg != "" {
			reason += "; " + msg
		}
	}
	if st == domain.StateSucceeded || st == domain.StateRolledBack {
		reason = words.Summary(v.run, st, reason)
	}
	e.setStateSteps(ctx, id, st, reason, changed)
}
