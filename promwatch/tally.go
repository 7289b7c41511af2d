package promwatch

import (
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

// Tally counts, per check, the consecutive intervals that did not pass, and is the only
// place that decides a breach: Limit consecutive failing or inconclusive intervals of one
// check. The breach is Blind ("cannot see the metrics") when none of those intervals
// failed; an inconclusive interval is never a pass, so a check that flaps between failing
// and unreadable still breaches.
type Tally struct {
	Limit   int // failure_limit; below 1 counts as 1
	streaks map[string]*streak
}

type streak struct {
	n        int
	lastFail *Measurement // the latest failing measurement of the streak
	last     Measurement
}

// Add counts one interval's measurements, in check order, and returns the breach they make,
// or nil. While warmingUp, an inconclusive "no data" measurement is not counted (the streak
// stays as it was): the new version's series may not have a rate yet.
func (t *Tally) Add(ms []Measurement, warmingUp bool) *domain.BreachError {
	if t.streaks == nil {
		t.streaks = map[string]*streak{}
	}
	limit := max(t.Limit, 1)
	var blind *domain.BreachError
	var breach *domain.BreachError
	for _, m := range ms {
		s := t.streaks[m.Check]
		if s == nil {
			s = &streak{}
			t.streaks[m.Check] = s
		}
		switch {
		case m.Result == Pass:
			*s = streak{last: m}
			continue
		case m.Result == Inconclusive && m.NoData && warmingUp:
			s.last = m
			continue
		case m.Result == Fail:
			mm := m
			s.lastFail = &mm
		}
		s.n++
		s.last = m
		if s.n < limit {
			continue
		}
		if s.lastFail != nil && breach == nil {
			f := s.lastFail
			breach = &domain.BreachError{Check: m.Check, Value: FormatValue(f.Value, f.Unit), Threshold: f.Failed}
		}
		if s.lastFail == nil && blind == nil {
			blind = &domain.BreachError{Check: m.Check, Blind: true, Threshold: m.Threshold,
				Value: words.InARow(m.Error, s.n)}
		}
	}
	if breach != nil {
		return breach
	}
	return blind
}

// Failures is a check's current streak of failing or inconclusive intervals.
func (t *Tally) Failures(check string) int {
	if s := t.streaks[check]; s != nil {
		return s.n
	}
	return 0
}

// End judges the watch's last readings: every check's must be a pass. A failing one is a
// breach and an inconclusive one a blind breach, whatever the streaks: the last intervals
// of a watch have no later ones to complete a streak, so they are judged on their own.
func (t *Tally) End(ms []Measurement) *domain.BreachError {
	var blind *domain.BreachError
	for _, m := range ms {
		switch m.Result {
		case Pass:
			continue
		case Fail:
			return &domain.BreachError{Check: m.Check, Value: FormatValue(m.Value, m.Unit) + " at the watch's last reading", Threshold: m.Failed}
		}
		if blind == nil {
			blind = &domain.BreachError{Check: m.Check, Blind: true, Threshold: m.Threshold,
				Value: m.Error + " at the watch's last reading"}
		}
	}
	return blind
}
