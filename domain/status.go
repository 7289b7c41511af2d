package domain

import "time"

// Status is a run with everything recorded about it.
type Status struct {
	Run       Run
	Steps     []StepRecord
	Approvals []Approval
	// Gate is where the approval gate stands, while the run waits there (nil otherwise).
	Gate *Gate
}

// Step is the record of step id, if the run has one.
func (s Status) Step(id StepID) (StepRecord, bool) {
	for _, r := range s.Steps {
		if r.Index == int(id) {
			return r, true
		}
	}
	return StepRecord{}, false
}

// Gate is where a run waiting at its approval gate stands.
type Gate struct {
	Approvals, Required int
	Rejection           *Approval // the first rejection, which ends the run
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
