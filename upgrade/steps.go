package upgrade

import "github.com/drawbridge/drawbridge/domain"

// stepDef is what the engine knows of a step: domain's step table.
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
