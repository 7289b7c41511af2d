// Package changerecord writes each run as a change record that stands on its own: who asked,
// under which ticket, who approved (and as whom), the plan shown at the gate, the
// configuration before and after, the backup, every command, the downtime predicted and
// measured, the watch's readings and how it ended, with every audit event and its hash chain.
// The format is documented in docs/audit-export.md (schema drawbridge.audit.v1).
package changerecord

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

// Schema names the format of every line.
const Schema = "drawbridge.audit.v1"

// Source is where records are read (storage.Store implements it).
type Source interface {
	ListRuns(ctx context.Context, f storage.RunFilter) ([]domain.Run, error)
	GetRun(ctx context.Context, id domain.RunID) (domain.Run, error)
	Steps(ctx context.Context, run domain.RunID) ([]domain.StepRecord, error)
	Approvals(ctx context.Context, run domain.RunID) ([]domain.Approval, error)
	Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
}

// Filter selects the runs exported: one run, or those created since a time (zero: all).
type Filter struct {
	Run   domain.RunID
	Since time.Time
}

// Line is one line of the export. Kind says which fields it has: "run" (the record's
// summary), "approval", "step", "command", "event" (an audit event with its hash chain).
type Line struct {
	Schema string       `json:"schema"`
	Kind   string       `json:"kind"`
	Run    domain.RunID `json:"run"`
	At     time.Time    `json:"at,omitzero"`

	// run
	Cluster       string              `json:"cluster,omitempty"`
	Ticket        string              `json:"ticket,omitempty"`
	RequestedBy   string              `json:"requested_by,omitempty"`
	Window        string              `json:"window,omitempty"`
	ScheduledFor  time.Time           `json:"scheduled_for,omitzero"`
	From          string              `json:"from,omitempty"`
	To            string              `json:"to,omitempty"`
	Chain         []string            `json:"chain,omitempty"`
	State         string              `json:"state,omitempty"`
	Reason        string              `json:"reason,omitempty"`
	EndedAt       time.Time           `json:"ended_at,omitzero"`
	DowntimeStart time.Time           `json:"downtime_start,omitzero"`
	DowntimeEnd   time.Time           `json:"downtime_end,omitzero"`
	Plan          *Plan               `json:"plan,omitempty"`
	FingerprintX  string              `json:"fingerprint_before,omitempty"`
	FingerprintY  string              `json:"fingerprint_after,omitempty"`
	FingerprintRB string              `json:"fingerprint_after_rollback,omitempty"`
	Backup        *domain.Backup      `json:"backup,omitempty"`
	MeasuredMS    *Downtime           `json:"downtime_measured,omitempty"`
	PredictedMS   *Downtime           `json:"downtime_predicted,omitempty"`
	Readings      []domain.Reading    `json:"watch_readings,omitempty"`
	AuditHead     string              `json:"audit_head,omitempty"`
	Approval      *domain.Approval    `json:"approval,omitempty"`
	EligibleAs    string              `json:"eligible_as,omitempty"`
	Step          *Step               `json:"step,omitempty"`
	Command       *domain.CommandRun  `json:"command,omitempty"`
	Event         *storage.AuditEvent `json:"event,omitempty"`
	Rehearsal     *domain.Rehearsal   `json:"rehearsal,omitempty"`
	Warnings      []string            `json:"warnings,omitempty"`
	ApprovedBy    []string            `json:"approved_by,omitempty"`
	RejectedBy    []string            `json:"rejected_by,omitempty"`
	Extra         map[string]string   `json:"extra,omitempty"`
}

// Plan is what the gate showed: the migrations, what finish completes, new plugins (-f),
// breaking changes, the rehearsal and the predicted downtime, and the warnings.
type Plan struct {
	Migrations     int      `json:"migrations"`
	PendingAfterUp string   `json:"pending_after_up,omitempty"`
	NewPlugins     []string `json:"new_plugins,omitempty"`
	Force          bool     `json:"force,omitempty"`
	BreakingLines  []string `json:"breaking_lines,omitempty"`
	Rehearsed      bool     `json:"rehearsed"`
	Prediction     string   `json:"prediction_basis,omitempty"`
}

// Downtime is a downtime and its parts, in milliseconds.
type Downtime struct {
	Total    int64 `json:"total_ms"`
	Stop     int64 `json:"stop_ms"`
	Install  int64 `json:"install_ms"`
	Up       int64 `json:"up_ms"`
	Finish   int64 `json:"finish_ms"`
	Start    int64 `json:"start_ms"`
	Overhead int64 `json:"drawbridge_ms"`
}

// Step is a step record without its output.
type Step struct {
	Index    int       `json:"index"`
	Place    int       `json:"place"`
	Name     string    `json:"name"`
	Status   string    `json:"status"`
	Attempt  int       `json:"attempt"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	Error    string    `json:"error,omitempty"`
	Commands int       `json:"commands"`
}

// Lines are the change records of the runs f selects, oldest run first: for each run its
// summary, approvals, steps, commands and audit events.
func Lines(ctx context.Context, src Source, f Filter) ([]Line, error) {
	var runs []domain.Run
	if f.Run != 0 {
		r, err := src.GetRun(ctx, f.Run)
		if err != nil {
			return nil, err
		}
		runs = []domain.Run{r}
	} else {
		for before := domain.RunID(0); ; {
			page, err := src.ListRuns(ctx, storage.RunFilter{Limit: 500, Before: before})
			if err != nil {
				return nil, err
			}
			for _, r := range page {
				if f.Since.IsZero() || !r.CreatedAt.Before(f.Since) {
					runs = append(runs, r)
				}
				before = r.ID
			}
			if len(page) < 500 {
				break
			}
		}
		slices.SortFunc(runs, func(a, b domain.Run) int { return int(a.ID) - int(b.ID) })
	}
	var out []Line
	for _, r := range runs {
		lines, err := runLines(ctx, src, r)
		if err != nil {
			return nil, fmt.Errorf("record of run %s: %w", r.ID, err)
		}
		out = append(out, lines...)
	}
	return out, nil
}

func runLines(ctx context.Context, src Source, r domain.Run) ([]Line, error) {
	steps, err := src.Steps(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	aps, err := src.Approvals(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	events, err := src.Audit(ctx, storage.AuditFilter{Run: r.ID})
	if err != nil {
		return nil, err
	}
	sum := Line{Schema: Schema, Kind: "run", Run: r.ID, At: r.CreatedAt, Cluster: r.Cluster, Ticket: r.Ticket, RequestedBy: r.RequestedBy,
		Window: r.Window, ScheduledFor: r.ScheduledFor, From: r.From, To: r.To, Chain: r.ChainHops(), State: string(r.State), Reason: r.Reason,
		DowntimeStart: r.DowntimeStart, DowntimeEnd: r.DowntimeEnd, Backup: r.Facts.Backup, Rehearsal: r.Facts.Rehearsal, Warnings: r.Facts.Warnings}
	if r.State.Terminal() {
		sum.EndedAt = r.UpdatedAt
	}
	if fp := r.Facts.Freeze; fp != nil {
		sum.FingerprintX = fp.Hash
	}
	if m := r.Facts.Measured; m.Downtime > 0 {
		d := &Downtime{Total: m.Downtime.Milliseconds()}
		if p := m.Parts; p != nil {
			d.Stop, d.Install, d.Up, d.Finish, d.Start, d.Overhead = p.Stop.Milliseconds(), p.Install.Milliseconds(), p.Up.Milliseconds(),
				p.Finish.Milliseconds(), p.Start.Milliseconds(), p.Overhead.Milliseconds()
		}
		sum.MeasuredMS = d
	}
	plan := &Plan{Rehearsed: r.Facts.Rehearsal != nil}
	if p := r.Facts.Prediction; p != nil {
		sum.PredictedMS = &Downtime{Total: p.Total().Milliseconds(), Stop: p.Stop.Milliseconds(), Install: p.Install.Milliseconds(),
			Up: p.Up.Milliseconds(), Finish: p.Finish.Milliseconds(), Start: p.Start.Milliseconds(), Overhead: p.Overhead.Milliseconds()}
		plan.Prediction = "migrations from " + p.Migrations + ", the rest from " + p.Nodes
	}
	var stepLines, cmdLines []Line
	for _, s := range steps {
		switch domain.StepID(s.Index) {
		case domain.StepEvaluate:
			if ev := s.Facts.Evaluation; ev != nil {
				plan.Migrations, plan.PendingAfterUp, plan.NewPlugins, plan.Force, plan.BreakingLines = ev.Migrations, ev.PendingAfterUp, ev.NewPlugins, ev.Force, ev.BreakingLines
			}
		case domain.StepMigrationsFinish:
			sum.FingerprintY = s.Facts.Fingerprint
		case domain.StepRollbackRestore:
			sum.FingerprintRB = s.Facts.Fingerprint
		case domain.StepWatch:
			sum.Readings = s.Facts.Readings
		}
		stepLines = append(stepLines, Line{Schema: Schema, Kind: "step", Run: r.ID, At: s.StartedAt, Step: &Step{Index: s.Index,
			Place: domain.Position(s.Index), Name: s.Name, Status: string(s.Status), Attempt: s.Attempt, Started: s.StartedAt, Ended: s.EndedAt,
			Error: s.Error, Commands: len(s.Facts.Runs)}})
		for _, c := range s.Facts.Runs {
			cmdLines = append(cmdLines, Line{Schema: Schema, Kind: "command", Run: r.ID, At: c.Started, Command: &c,
				Extra: map[string]string{"step": s.Name}})
		}
	}
	sum.Plan = plan
	var apLines []Line
	for _, a := range aps {
		l := Line{Schema: Schema, Kind: "approval", Run: r.ID, At: a.At, Approval: &a, EligibleAs: a.EligibleAs}
		apLines = append(apLines, l)
		if a.Decision == domain.DecisionApprove {
			sum.ApprovedBy = append(sum.ApprovedBy, a.UserID)
		} else {
			sum.RejectedBy = append(sum.RejectedBy, a.UserID)
		}
	}
	var evLines []Line
	for _, e := range events {
		evLines = append(evLines, Line{Schema: Schema, Kind: "event", Run: r.ID, At: e.At, Event: &e})
		if e.Hash != "" {
			sum.AuditHead = e.Hash
		}
	}
	out := append([]Line{sum}, apLines...)
	out = append(out, stepLines...)
	out = append(out, cmdLines...)
	return append(out, evLines...), nil
}

// WriteJSONL writes one line per record line.
func WriteJSONL(w io.Writer, lines []Line) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

// CSVHeader are the columns of the CSV export: the same lines, flattened.
var CSVHeader = []string{"schema", "kind", "run", "at", "cluster", "ticket", "who", "what", "detail", "hash"}

// WriteCSV writes the lines as CSV, one row per line, with CSVHeader.
func WriteCSV(w io.Writer, lines []Line) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	for _, l := range lines {
		row := []string{l.Schema, l.Kind, l.Run.String(), ts(l.At), l.Cluster, l.Ticket, "", "", "", ""}
		switch l.Kind {
		case "run":
			row[6], row[7] = l.RequestedBy, l.From+" → "+l.To
			row[8] = fmt.Sprintf("state %s; %s", l.State, l.Reason)
			row[9] = l.AuditHead
		case "approval":
			row[6], row[7], row[8] = l.Approval.UserID, string(l.Approval.Decision), strings.TrimSpace(l.Approval.Reason+" eligible as "+l.EligibleAs)
		case "step":
			row[7], row[8] = l.Step.Name, fmt.Sprintf("%s (attempt %d) %s", l.Step.Status, l.Step.Attempt, l.Step.Error)
		case "command":
			row[6], row[7] = l.Command.Node, l.Command.Action
			row[8] = fmt.Sprintf("%s; exit %d; %s", strings.Join(l.Command.Argv, " "), l.Command.Exit, strconv.FormatInt(l.Command.Duration.Milliseconds(), 10)+" ms")
		case "event":
			row[4], row[5] = l.Event.Cluster, l.Event.Ticket
			row[6], row[7], row[8], row[9] = l.Event.Actor, l.Event.Action, l.Event.Detail, l.Event.Hash
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
