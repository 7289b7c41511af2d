package upgrade

import (
	"context"

	"github.com/drawbridge/drawbridge/domain"
)

// stepDef is what everyone knows of a step: domain's step table (name, title, state,
// whether it is part of the downtime, whether it may simply repeat).
type stepDef = domain.Step

var (
	forwardSteps  = domain.ForwardSteps
	rollbackSteps = domain.RollbackSteps
)

func defOf(id domain.StepID) stepDef {
	s, ok := domain.StepOf(int(id))
	if !ok {
		panic("upgrade: unknown step")
	}
	return s
}

// stepImpl is what the engine does with a step: run performs it; check, for a step that is
// not Repeatable, asks the real world whether its effect holds.
//
// Recovery, for a step found running after a restart: a Repeatable step runs again; one
// with a check is marked done when its effect holds; any other waits for a person (needs
// attention), with Resume and Roll back offered.
type stepImpl struct {
	run   func(*stepCtx, context.Context) stepResult
	check func(*stepCtx, context.Context, Database) (bool, error)
}

// stepImpls is the engine's step table; each step's code lives in the file of its phase
// (steps_prepare.go, steps_rehearsal.go, steps_downtime.go, steps_after.go).
var stepImpls = map[domain.StepID]stepImpl{
	domain.StepPreflight:        {run: (*stepCtx).preflight},
	domain.StepFreeze:           {run: (*stepCtx).freeze},
	domain.StepBackup:           {run: (*stepCtx).backup},
	domain.StepEvaluate:         {run: (*stepCtx).evaluate},
	domain.StepStage:            {run: (*stepCtx).stage},
	domain.StepRehearsal:        {run: (*stepCtx).rehearse},
	domain.StepApproval:         {run: (*stepCtx).gate},
	domain.StepStop:             {run: (*stepCtx).stopX},
	domain.StepMigrationsUp:     {run: (*stepCtx).migrationsUp, check: (*stepCtx).upDone},
	domain.StepMigrationsFinish: {run: (*stepCtx).migrationsFinish, check: (*stepCtx).finishDone},
	domain.StepStart:            {run: (*stepCtx).startY},
	domain.StepWatch:            {run: (*stepCtx).watch},
	domain.StepDecommission:     {run: (*stepCtx).decommission},
	domain.StepRollbackStop:     {run: (*stepCtx).rollbackStop},
	domain.StepRollbackRestore:  {run: (*stepCtx).rollbackRestore},
	domain.StepRollbackStart:    {run: (*stepCtx).rollbackStart},
}
