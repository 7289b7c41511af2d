package domain

import (
	"regexp"
	"slices"
	"time"
)

// StepID names a step as step records store it. Forward steps 1–12 are the original twelve,
// later ones (the rehearsal, 13) take the next numbers and their place in ForwardSteps;
// rollback steps are numbered from 101. People count steps by Position.
type StepID int

// Forward steps.
const (
	StepPreflight StepID = iota + 1
	StepFreeze
	StepBackup
	StepEvaluate
	StepStage
	StepApproval
	StepStop
	StepMigrationsUp
	StepMigrationsFinish
	StepStart
	StepWatch
	StepDecommission
	// StepRehearsal runs between stage and the gate (its place in ForwardSteps).
	StepRehearsal
)

// Rollback steps.
const (
	StepRollbackStop StepID = iota + 101
	StepRollbackRestore
	StepRollbackStart
)

// Step is what every part of drawbridge knows of a step: its stored name, what people
// read, and the rules the engine follows with it.
type Step struct {
	ID    StepID
	Name  string // stored in step records; stable
	Title string // what people read; X and Y stand for the versions
	// Downtime is true for steps that run while the cluster is down.
	Downtime bool
	// Repeatable: a run interrupted in this step may simply run it again. A step that is
	// not (migrations, decommission) is checked against the real world first.
	Repeatable bool
	// State is the run's state while the step runs.
	State RunState
}

// ForwardSteps are the upgrade's steps, in order.
var ForwardSteps = []Step{
	{StepPreflight, "preflight", "preflight", false, true, StatePreparing},
	{StepFreeze, "freeze", "config freeze", false, true, StatePreparing},
	{StepBackup, "backup", "database backup", false, true, StatePreparing},
	{StepEvaluate, "evaluate", "evaluate release notes", false, true, StatePreparing},
	{StepStage, "stage", "stage new version", false, true, StatePreparing},
	{StepRehearsal, "rehearsal", "rehearse migrations on a copy", false, true, StatePreparing},
	{StepApproval, "approval", "approval gate", false, true, StateAwaitingApproval},
	{StepStop, "stop", "stop X, install Y", true, true, StateStopping},
	{StepMigrationsUp, "migrations_up", "kong migrations up", true, false, StateMigrating},
	{StepMigrationsFinish, "migrations_finish", "kong migrations finish", true, false, StateMigrating},
	{StepStart, "start", "start Y", true, true, StateStarting},
	{StepWatch, "watch", "watch", false, true, StateWatching},
	{StepDecommission, "decommission", "decommission X", false, false, StateAwaitingDecommission},
}

// RollbackSteps are the rollback's steps, in order.
var RollbackSteps = []Step{
	{StepRollbackStop, "rollback_stop", "stop Y", true, true, StateRollingBack},
	{StepRollbackRestore, "rollback_restore", "restore database", true, true, StateRollingBack},
	{StepRollbackStart, "rollback_start", "install and start X", true, true, StateRollingBack},
}

// StepOf returns the step with index i (a StepID as stored in step records).
func StepOf(i int) (Step, bool) {
	for _, list := range [][]Step{ForwardSteps, RollbackSteps} {
		for _, s := range list {
			if int(s.ID) == i {
				return s, true
			}
		}
	}
	return Step{}, false
}

// PassedOver reports whether forward step id, which has no record, is one the run went
// past: a later forward step has a record. Such a step was added by a later release after
// the run had begun the steps after it; it is not run, and reads as skipped. recorded says
// whether a step has a record.
func PassedOver(id StepID, recorded func(StepID) bool) bool {
	i := slices.IndexFunc(ForwardSteps, func(s Step) bool { return s.ID == id })
	if i < 0 || recorded(id) {
		return false
	}
	return slices.ContainsFunc(ForwardSteps[i+1:], func(s Step) bool { return recorded(s.ID) })
}

// Position is where people count a step: 1… for the forward steps in their order
// (ForwardSteps), 101… for the rollback's; 0 for an unknown index.
func Position(i int) int {
	for p, s := range ForwardSteps {
		if int(s.ID) == i {
			return p + 1
		}
	}
	for p, s := range RollbackSteps {
		if int(s.ID) == i {
			return 101 + p
		}
	}
	return 0
}

// NextStep is the step after index i in its list (false after the last).
func NextStep(i int) (Step, bool) {
	for _, list := range [][]Step{ForwardSteps, RollbackSteps} {
		for p, s := range list {
			if int(s.ID) == i && p+1 < len(list) {
				return list[p+1], true
			}
		}
	}
	return Step{}, false
}

// StepName returns the stored name of a step index, or "" for an unknown one.
func StepName(i int) string { s, _ := StepOf(i); return s.Name }

// StepTitle returns what people read for a step index, with X and Y for the versions.
func StepTitle(i int) string { s, _ := StepOf(i); return s.Title }

// StepState is the run state a step runs in ("" for an unknown index).
func StepState(i int) RunState { s, _ := StepOf(i); return s.State }

var (
	wordX = regexp.MustCompile(`\bX\b`)
	wordY = regexp.MustCompile(`\bY\b`)
)

// StepTitleFor is StepTitle with X and Y replaced by the versions ("stop 3.4.3, install
// 3.9.1"); an unknown version reads "the current version" or "the new version".
func StepTitleFor(i int, from, to string) string { return Versioned(StepTitle(i), from, to) }

// Versioned replaces the words X and Y in title by the versions.
func Versioned(title, from, to string) string {
	if from == "" {
		from = "the current version"
	}
	if to == "" {
		to = "the new version"
	}
	return wordY.ReplaceAllString(wordX.ReplaceAllString(title, from), to)
}

// StepStatus is the state of one step of a run. It is stored as its string.
type StepStatus string

// Step statuses.
const (
	StepPending   StepStatus = "pending"
	StepRunning   StepStatus = "running"
	StepSucceeded StepStatus = "succeeded"
	StepFailed    StepStatus = "failed"
	StepSkipped   StepStatus = "skipped"
)

// Valid reports whether s is one of the known statuses.
func (s StepStatus) Valid() bool {
	switch s {
	case StepPending, StepRunning, StepSucceeded, StepFailed, StepSkipped:
		return true
	}
	return false
}

// StepRecord is what happened in one step of a run.
type StepRecord struct {
	Index      int        `json:"index"`
	Name       string     `json:"name"`
	Status     StepStatus `json:"status"`
	Attempt    int        `json:"attempt"`
	StartedAt  time.Time  `json:"started_at,omitzero"`
	EndedAt    time.Time  `json:"ended_at,omitzero"`
	OutputTail string     `json:"output_tail,omitempty"`
	Error      string     `json:"error,omitempty"`
	Facts      StepFacts  `json:"facts,omitzero"`
}

// StepFacts are what one step found, typed; each step fills the fields that are its own.
type StepFacts struct {
	// Said are drawbridge's own lines in the step's output (its decisions and findings), in
	// order, apart from its commands' output: shown when the output is cut to its end.
	Said        []string       `json:"said,omitempty"`
	Checks      []CheckVerdict `json:"checks,omitempty"`      // preflight
	Fingerprint string         `json:"fingerprint,omitempty"` // freeze, rollback_restore: the configuration's hash
	Tables      int            `json:"tables,omitempty"`      // freeze: tables fingerprinted
	Backup      *Backup        `json:"backup,omitempty"`      // backup
	Took        time.Duration  `json:"took,omitempty"`        // backup, rollback_restore: the database work
	Evaluation  *Evaluation    `json:"evaluation,omitempty"`  // evaluate
	Gate        *GateCrossing  `json:"gate,omitempty"`        // approval
	Commands    time.Duration  `json:"commands,omitempty"`    // what the step's node commands took
	Spans       []ActionSpan   `json:"spans,omitempty"`       // per node action: the slowest node and the whole span
	Restore     *Restored      `json:"restore,omitempty"`     // rollback_restore
	Blind       bool           `json:"blind,omitempty"`       // watch: ended unable to see its metrics
	Runs        []CommandRun   `json:"runs,omitempty"`        // every node command the step ran
	Readings    []Reading      `json:"readings,omitempty"`    // watch: each check's last reading
	Rehearsal   *Rehearsal     `json:"rehearsal,omitempty"`   // rehearsal
	Prediction  *Prediction    `json:"prediction,omitempty"`  // rehearsal: the downtime expected at the gate
}

// CommandRun is one node command as it ran: for the change record.
type CommandRun struct {
	Action   string        `json:"action"`
	Node     string        `json:"node,omitempty"`
	Argv     []string      `json:"argv"` // as run, secrets scrubbed
	Exit     int           `json:"exit"` // -1: not started or killed
	Started  time.Time     `json:"started,omitzero"`
	Duration time.Duration `json:"duration"`
}

// Reading is a watch check's reading as the change record keeps it.
type Reading struct {
	Check     string `json:"check"`
	Result    string `json:"result"` // pass, fail, inconclusive
	Value     string `json:"value,omitempty"`
	Threshold string `json:"threshold,omitempty"`
	Error     string `json:"error,omitempty"`
}

// CheckVerdict is one preflight check's outcome.
type CheckVerdict struct {
	Name    string `json:"name"`
	Verdict string `json:"verdict"` // ok, warn, FAIL
	Detail  string `json:"detail,omitempty"`
}

// Evaluation is what the evaluate step found between X and Y.
type Evaluation struct {
	Migrations        int           `json:"migrations"`
	PendingAfterUp    string        `json:"pending_after_up,omitempty"` // left for finish
	NewPlugins        []string      `json:"new_plugins,omitempty"`
	Force             bool          `json:"force,omitempty"`              // migrations run with -f
	PredictedDowntime time.Duration `json:"predicted_downtime,omitempty"` // earlier releases; now Facts.Prediction
	BreakingLines     []string      `json:"breaking_lines,omitempty"`
}

// GateCrossing is how the approval gate ended: crossed (the downtime may start) or not.
type GateCrossing struct {
	Crossed bool `json:"crossed"`
	// When is when it was crossed, inside Window (the run's window, "" for none).
	When   time.Time `json:"when,omitzero"`
	Window string    `json:"window,omitempty"`
	// At is how state files of earlier releases kept the crossing: words, not facts.
	At         string   `json:"at,omitempty"`
	ApprovedBy []string `json:"approved_by,omitempty"`
}

// ActionSpan is one node action of a step across the nodes.
type ActionSpan struct {
	Action  string        `json:"action"`
	Slowest time.Duration `json:"slowest"` // the slowest node's command
	Span    time.Duration `json:"span"`    // from the first start to the last end
}

// Restored says how the rollback restored the database.
type Restored struct {
	Method   string `json:"method"`              // rename or in_place
	FailedDB string `json:"failed_db,omitempty"` // the database kept for forensics
}
