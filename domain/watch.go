package domain

import (
	"time"
)

// Interval is a span of time, From to To.
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Baseline is every check's value before the upgrade.
type Baseline struct {
	Taken    time.Time
	Lookback time.Duration
	Values   map[string]float64 // check name → value; absent when there was no data
	Notes    map[string]string  // check name → why there is no value, or a caveat about the value (partial)
	Skipped  []Interval         `json:",omitempty"` // earlier runs left out of the lookback
}

// WatchRequest is one watch of a run: what the watch of Y needs besides the cluster's
// configuration.
type WatchRequest struct {
	Run      Run
	From     string    // X: the version the baseline was taken on
	Version  string    // Y: the version being watched
	Started  time.Time // when the watch began (persisted)
	Baseline Baseline  // taken before the gate; may be empty
	// Report is called after every interval with every check's state (the live watch
	// message), and once more with Final set when the watch ends.
	Report func(WatchReport)
	// Charts is called with a PNG per check on a breach and when the watch ends.
	Charts   func([]Chart)
	Progress func(msg string)
}

// SeriesReport is what a check of the watch's series found before the gate: series the
// watch needs and cannot find (with what turns them on), and checks that cannot apply to
// this cluster (upstream health without upstream targets or with its flag off, data planes
// on a control plane that has none).
type SeriesReport struct {
	Problems      []string
	NotApplicable []string
}

// WatchReport is the state of the watch after one interval.
type WatchReport struct {
	At     time.Time
	Ends   time.Time
	Checks []CheckReport
	Final  bool         // the watch has ended (clean or breached)
	Breach *BreachError // set on the final report of a breached watch
}

// CheckReport is one check's state.
type CheckReport struct {
	Name      string
	Query     string  // the rendered PromQL
	Result    string  // "pass", "fail" or "inconclusive"
	Value     float64 // NaN when there is none
	Threshold string  // e.g. "max 0.01", "max 1.5× baseline (0.12)"
	Baseline  float64 // NaN when there is none
	Trend     string  // "↑", "↓", "→" or ""
	Failures  int     // consecutive failing (or inconclusive) intervals
	Error     string  // why it is inconclusive
}

// Chart is one check's series as a PNG.
type Chart struct {
	Check string
	Name  string // file name, e.g. "5xx-ratio.png"
	PNG   []byte
}

// BreachError says which check failed, with what value and threshold. Blind is set when
// the metrics could not be seen for failure_limit intervals (no data, NaN, query errors,
// Prometheus unreachable): never a pass, and alerted the same way.
type BreachError struct {
	Check     string
	Value     string
	Threshold string
	Blind     bool
}

func (e *BreachError) Error() string {
	if e.Blind {
		return "cannot see the metrics: " + e.Check + ": " + e.Value
	}
	return "watch breach: " + e.Check + " is " + e.Value + " (threshold " + e.Threshold + ")"
}
