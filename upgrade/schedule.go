package upgrade

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/storage"
)

// prepareLead is how long before its window a scheduled run prepares (steps 1–5) when
// the window has no remind_before.
const prepareLead = 15 * time.Minute

// ScheduleRequest asks for an upgrade in a maintenance window.
type ScheduleRequest struct {
	Cluster     string
	To          string
	RequestedBy string
	// When is "next" (the next opening of any of the cluster's windows), a window's name
	// (its next opening), or an RFC 3339 time (inside a window of the cluster, if it has
	// any).
	When   string
	Force  bool
	Chain  bool   // see StartRequest.Chain
	Ticket string // see StartRequest.Ticket
}

// Schedule queues a run for a maintenance window. It refuses a time in the past, inside a
// blackout, outside every window of the cluster, a cluster with an active or scheduled run
// already, and a version path Kong does not guarantee (unless the cluster allows it).
func (e *Engine) Schedule(ctx context.Context, req ScheduleRequest) (domain.Run, storage.Schedule, error) {
	now := e.opts.Clock.Now()
	c, err := e.cluster(req.Cluster)
	if err != nil {
		return domain.Run{}, storage.Schedule{}, err
	}
	y, err := catalog.ParseVersion(req.To)
	if err != nil {
		return domain.Run{}, storage.Schedule{}, err
	}
	if err := c.ChangeTicket.Check(c.Name, req.Ticket); err != nil {
		return domain.Run{}, storage.Schedule{}, err
	}
	if active, ok, err := e.opts.Store.ActiveRun(ctx, c.Name); err != nil {
		return domain.Run{}, storage.Schedule{}, err
	} else if ok {
		return domain.Run{}, storage.Schedule{}, fmt.Errorf("%s already has run %s (%s)", c.Name, active.ID, active.State.Human())
	}
	view, nodes := e.checkNodes(ctx, c)
	if !nodes.OK {
		return domain.Run{}, storage.Schedule{}, fmt.Errorf("cannot tell which version %s runs: %s", c.Name, nodes.Detail)
	}
	x := view.X
	path, err := catalog.Default().Path(x, y)
	if err != nil {
		return domain.Run{}, storage.Schedule{}, err
	}
	if !path.Guaranteed && !c.AllowUnverifiedPaths && !req.Chain {
		return domain.Run{}, storage.Schedule{}, errors.New(words.PathUnverified(x.String(), y.String(), path.Versions()))
	}
	o, err := e.resolveWhen(c.Name, req.When, now)
	if err != nil {
		return domain.Run{}, storage.Schedule{}, err
	}
	prepare := o.Opens.Add(-prepareLead)
	if w, ok := e.opts.Config.Window(o.Window); ok && w.RemindBefore > 0 {
		prepare = o.Opens.Add(-w.RemindBefore.D())
	}
	if prepare.Before(now) {
		prepare = now
	}
	run := domain.Run{
		Cluster: c.Name, From: x.String(), To: y.String(), State: domain.StateScheduled, Force: req.Force, Chain: req.Chain, Ticket: req.Ticket,
		RequestedBy: req.RequestedBy, Window: o.Window, ScheduledFor: o.Opens,
		Facts: domain.Facts{WindowCloses: o.Closes.UTC()},
	}
	sch := storage.Schedule{Cluster: c.Name, Version: y.String(), Window: o.Window,
		OpensAt: o.Opens, ClosesAt: o.Closes, RemindAt: prepare, CreatedBy: req.RequestedBy}
	run, sch, err = e.opts.Store.CreateScheduledRun(ctx, run, sch, auditEvent(req.RequestedBy, "schedule", words.AuditSchedule(c.Name, y.String(), o.Opens, o.Window, prepare, req.Ticket)))
	if err != nil {
		return run, sch, fmt.Errorf("schedule %s on %s: %w", y, c.Name, err)
	}
	e.emit(ctx, domain.Event{Kind: domain.EventStateChanged, Run: run, Message: words.ScheduledBy(req.RequestedBy)})
	e.kickScheduler()
	return run, sch, nil
}

// resolveWhen turns "next", a window name or an RFC 3339 time into an opening.
func (e *Engine) resolveWhen(cluster, when string, now time.Time) (Opening, error) {
	c, err := e.cluster(cluster)
	if err != nil {
		return Opening{}, err
	}
	if when == "" {
		when = "next"
	}
	if t, err := time.Parse(time.RFC3339, when); err == nil {
		switch {
		case !t.After(now):
			return Opening{}, fmt.Errorf("%s is in the past (it is %s now)", t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		if b, ok := e.blackoutAt(t); ok {
			return Opening{}, fmt.Errorf("%s is inside blackout %s (%s → %s)", t.UTC().Format(time.RFC3339), b.Name, b.From.Format(time.RFC3339), b.To.Format(time.RFC3339))
		}
		if len(c.Windows) == 0 {
			return Opening{Opens: t, Closes: t.Add(e.opts.Config.Access.ApprovalTimeout.D())}, nil
		}
		o, ok := e.openWindow(c, t)
		if !ok {
			return Opening{}, fmt.Errorf("%s is outside every window of %s (%s)", t.UTC().Format(time.RFC3339), c.Name, strings.Join(c.Windows, ", "))
		}
		o.Opens = t
		return o, nil
	}
	if len(c.Windows) == 0 {
		return Opening{}, fmt.Errorf("%s has no maintenance windows: give a time (RFC 3339, e.g. 2026-12-06T02:00:00Z), or use start", c.Name)
	}
	window := ""
	if when != "next" {
		for _, w := range c.Windows {
			if w == when {
				window = w
			}
		}
		if window == "" {
			return Opening{}, fmt.Errorf("%q is not a window of %s (its windows: %s), nor next, nor an RFC 3339 time", when, c.Name, strings.Join(c.Windows, ", "))
		}
	}
	next, err := e.NextOpenings(c.Name, window, now, 1)
	if err != nil {
		return Opening{}, err
	}
	if len(next) == 0 {
		return Opening{}, fmt.Errorf("no opening of %s's windows ahead outside blackouts", c.Name)
	}
	return next[0], nil
}

// Unschedule cancels a scheduled run before its downtime; a run already preparing or at
// the gate is aborted.
func (e *Engine) Unschedule(ctx context.Context, id domain.RunID, user string) (domain.Run, error) {
	run, err := e.opts.Store.GetRun(ctx, id)
	if err != nil {
		return run, err
	}
	if run.ScheduledFor.IsZero() {
		return run, illegal(run, "unschedule", "it was not scheduled; abort it instead")
	}
	if run.State != domain.StateScheduled {
		return e.Abort(ctx, id, user)
	}
	run, err = e.opts.Store.UpdateRun(ctx, id, func(r *domain.Run) error {
		if r.State != domain.StateScheduled {
			return illegal(*r, "unschedule", "it started meanwhile; abort it instead")
		}
		r.State, r.Reason = domain.StateAborted, words.Unscheduled(user)
		return nil
	}, auditEvent(user, "unschedule", ""))
	if err != nil {
		return run, err
	}
	e.scheduledEnded(ctx, run)
	return run, nil
}

// scheduledEnded follows a scheduled run that ended before its preparation (the store
// dropped its schedule with the change): the scheduler recomputes its next wake-up, and
// people are told.
func (e *Engine) scheduledEnded(ctx context.Context, run domain.Run) {
	e.kickScheduler()
	e.emit(ctx, domain.Event{Kind: domain.EventStateChanged, Run: run, Message: run.Reason})
}

// ScheduleStore is what the scheduler needs beyond Store (storage.Store has both).
type ScheduleStore interface {
	// CreateScheduledRun stores a run with its schedule (and audit events) in one
	// transaction; the schedule's Run is set to the new run.
	CreateScheduledRun(ctx context.Context, r domain.Run, s storage.Schedule, audit ...storage.AuditEvent) (domain.Run, storage.Schedule, error)
	// DeleteSchedule drops a schedule whose run has left "scheduled" (a state file from
	// before UpdateRun dropped it with the change).
	DeleteSchedule(ctx context.Context, run domain.RunID) error
	ListSchedules(ctx context.Context) ([]storage.Schedule, error)
}

func (e *Engine) kickScheduler() {
	select {
	case e.schedKick <- struct{}{}:
	default:
	}
}

// scheduler starts each scheduled run's preparation when it is due, and expires a run
// whose window closed while drawbridge was not running. It sleeps until the next due time
// on the engine's clock.
func (e *Engine) scheduler() {
	for {
		next := e.schedulePass(e.ctx)
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = e.opts.Clock.After(max(next.Sub(e.opts.Clock.Now()), 0))
		}
		select {
		case <-e.ctx.Done():
			return
		case <-e.schedKick:
		case <-timer:
		}
		if e.draining.Load() {
			return
		}
	}
}

// schedulePass acts on every due schedule and returns when the next one is due.
func (e *Engine) schedulePass(ctx context.Context) time.Time {
	schedules, err := e.opts.Store.ListSchedules(ctx)
	if err != nil {
		if ctx.Err() == nil {
			e.opts.Log.Error("list schedules", "err", err)
		}
		return e.opts.Clock.Now().Add(time.Minute)
	}
	now := e.opts.Clock.Now()
	var next time.Time
	for _, s := range schedules {
		if due := e.scheduleOne(ctx, s, now); !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return next
}

// schedulePanicRetry is when a schedule whose handling panicked is tried again: not at
// once, where the same bug would spin.
const schedulePanicRetry = time.Minute

// scheduleOne acts on one schedule when it is due, and otherwise returns when it will be
// (zero: nothing to wait for). A panic while acting on it (a bug) is logged with its stack
// and the schedule is skipped this time, to be tried again after schedulePanicRetry; the
// other schedules are served and the scheduler goes on.
func (e *Engine) scheduleOne(ctx context.Context, s storage.Schedule, now time.Time) (due time.Time) {
	defer func() {
		if p := recover(); p != nil {
			e.opts.Log.Error("handling a schedule panicked; it is skipped this time", "run", s.Run.String(), "cluster", s.Cluster,
				"retry_at", now.Add(schedulePanicRetry), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			due = now.Add(schedulePanicRetry)
		}
	}()
	run, err := e.opts.Store.GetRun(ctx, s.Run)
	if err != nil || run.State != domain.StateScheduled {
		if err == nil || errors.Is(err, storage.ErrNotFound) { // done with: it started or ended
			if err := e.opts.Store.DeleteSchedule(ctx, s.Run); err != nil && !errors.Is(err, storage.ErrNotFound) {
				e.opts.Log.Error("delete schedule", "run", s.Run.String(), "err", err)
			}
		}
		return time.Time{}
	}
	switch {
	case !now.Before(s.ClosesAt):
		e.expireScheduled(ctx, run, s)
	case !now.Before(s.RemindAt):
		e.prepareScheduled(ctx, run, s)
	default:
		return s.RemindAt
	}
	return time.Time{}
}

// prepareScheduled starts a scheduled run's steps 1–5; its gate opens with the reminder.
func (e *Engine) prepareScheduled(ctx context.Context, run domain.Run, s storage.Schedule) {
	run, err := e.opts.Store.UpdateRun(ctx, run.ID, func(r *domain.Run) error {
		if r.State != domain.StateScheduled {
			return illegal(*r, "prepare", "it is not scheduled")
		}
		r.State = domain.StatePreparing
		return nil
	}, auditEvent("scheduler", "prepare", words.AuditPrepare(s.Window, s.OpensAt)))
	if err != nil {
		return
	}
	// The store dropped the schedule with the state change: from here the run's own
	// goroutine keeps its times (the gate waits for the opening, expires at the close).
	e.emit(ctx, domain.Event{Kind: domain.EventStateChanged, Run: run, Message: words.Preparing(s.OpensAt)})
	e.spawn(run.ID)
}

// expireScheduled ends a scheduled run whose window closed before it could start.
func (e *Engine) expireScheduled(ctx context.Context, run domain.Run, s storage.Schedule) {
	reason := words.MissedWindow(s.Window, s.OpensAt, s.ClosesAt)
	updated, err := e.opts.Store.UpdateRun(ctx, run.ID, func(r *domain.Run) error {
		if r.State != domain.StateScheduled {
			return illegal(*r, "expire", "it is not scheduled")
		}
		r.State, r.Reason = domain.StateExpired, reason
		return nil
	}, auditEvent("scheduler", "state_expired", reason))
	if err != nil {
		return
	}
	e.scheduledEnded(ctx, updated)
}

// windowCloses is a scheduled run's window close, if it has one.
func windowCloses(run domain.Run) (time.Time, bool) {
	t := run.Facts.WindowCloses
	return t, !t.IsZero()
}
