package upgrade

import (
	"github.com/drawbridge/drawbridge/storage"
	"regexp"
)

// StepID names a step. Forward steps are numbered 1–12 as in PRODUCT.md; rollback steps
// from 101.
type StepID int

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
)

const (
	StepRollbackStop StepID = iota + 101
	StepRollbackRestore
	StepRollbackStart
)

// stepDef is what the engine knows of a step.
type stepDef struct {
	id    StepID
	name  string // stored in step records; stable
	title string // what people read
	// downtime is true for steps that run while the cluster is down.
	downtime bool
	// repeatable: a run interrupted in this step may simply run it again. A step that is
	// not (migrations) is checked against the real world; if its effect does not hold, the
	// run waits for a person (needs attention).
	repeatable bool
	// state is the run state while the step runs.
	state storage.RunState
}

var forwardSteps = []stepDef{
	{StepPreflight, "preflight", "preflight", false, true, storage.StatePreparing},
	{StepFreeze, "freeze", "config freeze", false, true, storage.StatePreparing},
	{StepBackup, "backup", "database backup", false, true, storage.StatePreparing},
	{StepEvaluate, "evaluate", "evaluate release notes", false, true, storage.StatePreparing},
	{StepStage, "stage", "stage new version", false, true, storage.StatePreparing},
	{StepApproval, "approval", "approval gate", false, true, storage.StateAwaitingApproval},
	{StepStop, "stop", "stop X, install Y", true, true, storage.StateStopping},
	{StepMigrationsUp, "migrations_up", "kong migrations up", true, false, storage.StateMigrating},
	{StepMigrationsFinish, "migrations_finish", "kong migrations finish", true, false, storage.StateMigrating},
	{StepStart, "start", "start Y", true, true, storage.StateStarting},
	{StepWatch, "watch", "watch", false, true, storage.StateWatching},
	{StepDecommission, "decommission", "decommission X", false, false, storage.StateAwaitingDecommission},
}

var rollbackSteps = []stepDef{
	{StepRollbackStop, "rollback_stop", "stop Y", true, true, storage.StateRollingBack},
	{StepRollbackRestore, "rollback_restore", "restore database", true, true, storage.StateRollingBack},
	{StepRollbackStart, "rollback_start", "install and start X", true, true, storage.StateRollingBack},
}

func defOf(id StepID) stepDef {
	for _, d := range forwardSteps {
		if d.id == id {
			return d
		}
	}
	for _, d := range rollbackSteps {
		if d.id == id {
			return d
		}
	}
	panic("upgrade: unknown step")
}

// StepName returns the stored name of a step index, or "" for an unknown one.
func StepName(index int) string {
	for _, d := range append(append([]stepDef{}, forwardSteps...), rollbackSteps...) {
		if int(d.id) == index {
			return d.name
		}
	}
	return ""
}

// StepTitle returns what people read for a step index, with X and Y for the versions.
func StepTitle(index int) string {
	for _, d := range append(append([]stepDef{}, forwardSteps...), rollbackSteps...) {
		if int(d.id) == index {
			return d.title
		}
	}
	return ""
}

// StepState is the run state a step runs in ("" for an unknown index).
func StepState(index int) storage.RunState {
	for _, d := range append(append([]stepDef{}, forwardSteps...), rollbackSteps...) {
		if int(d.id) == index {
			return d.state
		}
	}
	return ""
}

var (
	wordX = regexp.MustCompile(`\bX\b`)
	wordY = regexp.MustCompile(`\bY\b`)
)

// StepTitleFor is StepTitle with X and Y replaced by the versions ("stop 3.4.3, install
// 3.9.1"); an unknown version reads "the current version" or "the new version".
func StepTitleFor(index int, from, to string) string {
	return versioned(StepTitle(index), from, to)
}

func versioned(title, from, to string) string {
	if from == "" {
		from = "the current version"
	}
	if to == "" {
		to = "the new version"
	}
	return wordY.ReplaceAllString(wordX.ReplaceAllString(title, from), to)
}
