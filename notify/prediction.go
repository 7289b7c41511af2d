package notify

import (
	"fmt"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/units"
)

// predictionText is the predicted downtime with its parts:
// "1m 5s: stop 10s · install 30s · up 30s · finish 10s · start 20s · drawbridge 5s".
func predictionText(p domain.Prediction) string {
	d := units.Duration
	return fmt.Sprintf("%s: stop %s · install %s · up %s · finish %s · start %s · drawbridge %s",
		d(p.Total()), d(p.Stop), d(p.Install), d(p.Up), d(p.Finish), d(p.Start), d(p.Overhead))
}

// predictionBasis says where a prediction's parts come from.
func predictionBasis(p domain.Prediction) string {
	rest := "stated defaults (no earlier run measured its parts)"
	if p.Runs > 0 {
		rest = fmt.Sprintf("the average of %d earlier run(s) of this cluster", p.Runs)
	}
	if p.Migrations == "rehearsal" {
		return "up and finish as rehearsed on a copy of the database; the rest from " + rest
	}
	return "not rehearsed: everything from " + rest
}

// rehearsalText is what the rehearsal measured, for the gate.
func rehearsalText(r *domain.Rehearsal) string {
	if r == nil {
		return "not rehearsed: the cluster has no rehearsal configured, so nobody knows yet whether the migrations succeed on this database"
	}
	return fmt.Sprintf("✅ on a copy of the database: restore %s · up %s · finish %s", units.Duration(r.Restore), units.Duration(r.Up), units.Duration(r.Finish))
}

// predictedAgainstMeasured sets each part of the downtime as predicted against as measured.
func predictedAgainstMeasured(p domain.Prediction, m domain.DowntimeParts, downtime time.Duration) string {
	row := func(label string, pred, meas time.Duration) string {
		return fmt.Sprintf("%-10s %9s %9s\n", label, units.Duration(pred), units.Duration(meas))
	}
	t := fmt.Sprintf("%-10s %9s %9s\n", "", "predicted", "measured")
	t += row("stop", p.Stop, m.Stop) + row("install", p.Install, m.Install) + row("up", p.Up, m.Up) +
		row("finish", p.Finish, m.Finish) + row("start", p.Start, m.Start) + row("drawbridge", p.Overhead, m.Overhead)
	t += row("downtime", p.Total(), downtime)
	return t
}

// predictionError is |predicted − measured| / measured, as a percentage.
func predictionError(p domain.Prediction, measured time.Duration) string {
	if measured <= 0 {
		return ""
	}
	diff := p.Total() - measured
	if diff < 0 {
		diff = -diff
	}
	return fmt.Sprintf("%.0f %%", 100*diff.Seconds()/measured.Seconds())
}
