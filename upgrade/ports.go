package upgrade

import (
	"context"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/nodecmd"
	"github.com/drawbridge/drawbridge/storage"
)

// Store is the engine's view of drawbridge's state (storage.Store implements it).
type Store interface {
	// CreateRun, UpdateRun, PutStep and AddApproval write their audit events in the same
	// transaction as the change: a crash never leaves a change without its record.
	CreateRun(ctx context.Context, r storage.Run, audit ...storage.AuditEvent) (storage.Run, error)
	GetRun(ctx context.Context, id storage.RunID) (storage.Run, error)
	UpdateRun(ctx context.Context, id storage.RunID, fn func(*storage.Run) error, audit ...storage.AuditEvent) (storage.Run, error)
	ListRuns(ctx context.Context, f storage.RunFilter) ([]storage.Run, error)
	ActiveRun(ctx context.Context, cluster string) (storage.Run, bool, error)
	PutStep(ctx context.Context, run storage.RunID, rec storage.StepRecord, audit ...storage.AuditEvent) error
	Steps(ctx context.Context, run storage.RunID) ([]storage.StepRecord, error)
	AddApproval(ctx context.Context, run storage.RunID, a storage.Approval, audit ...storage.AuditEvent) error
	Approvals(ctx context.Context, run storage.RunID) ([]storage.Approval, error)
	Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
	ScheduleStore
}

// Nodes asks Kong nodes what they answer (kong/adminapi implements it).
type Nodes interface {
	Info(ctx context.Context, n config.Node) (kong.NodeInfo, error)
	// Stopped is true when nothing listens on the node's Admin API; a node that hangs is
	// not stopped (an error).
	Stopped(ctx context.Context, n config.Node) (bool, error)
	WaitStopped(ctx context.Context, n config.Node, interval time.Duration) error
	WaitReady(ctx context.Context, n config.Node, version string, interval time.Duration) (kong.NodeInfo, error)
}

// Commands runs rendered node commands (kong/nodecmd implements it).
type Commands interface {
	RunAll(ctx context.Context, jobs []nodecmd.Job) []kong.CommandResult
}

// Database is Kong's PostgreSQL (kong/pgdb implements it).
type Database interface {
	Ping(ctx context.Context) error
	Size(ctx context.Context) (int64, error)
	Schema(ctx context.Context) (kong.SchemaState, error)
	Fingerprint(ctx context.Context) (kong.Fingerprint, error)
	Backup(ctx context.Context, path string) (kong.Backup, error)
	VerifyBackup(ctx context.Context, path, sha256 string) error
	Restore(ctx context.Context, archive string, want kong.Fingerprint, suffix string) (kong.Restore, error)
	// Access says what a database user may do where drawbridge reads Kong's tables.
	Access(ctx context.Context, user string) (kong.Access, error)
	// MigrationLock reads Kong's migrations lock (the "migrations" row of the locks table):
	// held by a kong migrations command until it ends or its ttl passes.
	MigrationLock(ctx context.Context) (kong.Lock, error)
	Close()
}

// Metrics is the Prometheus the watch reads; preflight only asks whether it answers.
type Metrics interface {
	Reachable(ctx context.Context, url string) error
}

// Watcher watches a cluster after the upgrade (step 11). It returns nil when the watch
// ended clean, a *BreachError when the new version misbehaves (or the metrics cannot be
// seen), and ctx's error when interrupted. It may be called again after a restart with
// the same start time and must then only watch what is left.
type Watcher interface {
	Watch(ctx context.Context, w WatchRequest) error
}

// WatchRequest is one watch of a run.
type WatchRequest struct {
	Run      storage.Run
	Cluster  *config.Cluster
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

// Baseliner measures the checks before the gate, over a lookback ending now.
type Baseliner interface {
	// Baseline leaves out the points inside skip: earlier runs' downtimes, breaches and
	// rollbacks are not how the cluster normally behaves.
	Baseline(ctx context.Context, c *config.Cluster, version string, skip ...Interval) (Baseline, error)
}

// Interval is a span of time, From to To.
type Interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// SeriesChecker tells, before anything happens, whether the series the watch needs exist
// (3.x ships status and latency metrics off by default) and which plugin flag turns on what
// is missing.
type SeriesChecker interface {
	CheckSeries(ctx context.Context, c *config.Cluster, version string) (SeriesReport, error)
}

// SeriesReport is what CheckSeries found: series the watch needs and cannot find (with what
// turns them on), and checks that cannot apply to this cluster (upstream health without
// upstream targets or with its flag off, data planes on a control plane that has none).
type SeriesReport struct {
	Problems      []string
	NotApplicable []string
}

// Baseline is every check's value before the upgrade.
type Baseline struct {
	Taken    time.Time
	Lookback time.Duration
	Values   map[string]float64 // check name → value; absent when there was no data
	Notes    map[string]string  // check name → why there is no value
	Skipped  []Interval         `json:",omitempty"` // earlier runs left out of the lookback
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

// Clock is the engine's time source: tests move time instead of waiting.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
