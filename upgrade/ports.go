package upgrade

import (
	"context"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/nodecmd"
	"github.com/drawbridge/drawbridge/storage"
)

// Store is the engine's view of drawbridge's state (storage.Store implements it): the
// small interfaces below, each what one part of the engine uses.
type Store interface {
	Runs
	Steps
	Decisions
	ScheduleStore
}

// Runs keeps runs. Every write stores its audit events in the same transaction as the
// change: a crash never leaves a change without its record.
type Runs interface {
	CreateRun(ctx context.Context, r domain.Run, audit ...storage.AuditEvent) (domain.Run, error)
	GetRun(ctx context.Context, id domain.RunID) (domain.Run, error)
	UpdateRun(ctx context.Context, id domain.RunID, fn func(*domain.Run) error, audit ...storage.AuditEvent) (domain.Run, error)
	ListRuns(ctx context.Context, f storage.RunFilter) ([]domain.Run, error)
	ActiveRun(ctx context.Context, cluster string) (domain.Run, bool, error)
}

// Steps keeps a run's step records. A step's status changes with the run's state and facts
// in one transaction (UpdateRunSteps); PutStep is for a record that changes alone.
type Steps interface {
	UpdateRunSteps(ctx context.Context, id domain.RunID, fn func(*domain.Run) error, steps []domain.StepRecord, audit ...storage.AuditEvent) (domain.Run, error)
	PutStep(ctx context.Context, run domain.RunID, rec domain.StepRecord, audit ...storage.AuditEvent) error
	Steps(ctx context.Context, run domain.RunID) ([]domain.StepRecord, error)
}

// Decisions keeps the approvers' decisions at the gate.
type Decisions interface {
	AddApproval(ctx context.Context, run domain.RunID, a domain.Approval, audit ...storage.AuditEvent) error
	Approvals(ctx context.Context, run domain.RunID) ([]domain.Approval, error)
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
	// FailedDatabases lists the databases rollbacks kept (<database>_failed_<run>) with
	// their sizes; DropFailed drops one, refusing any other name, and says whether it was
	// there.
	FailedDatabases(ctx context.Context) ([]kong.FailedDatabase, error)
	DropFailed(ctx context.Context, name string) (bool, error)
	Close()
}

// Scratch is the PostgreSQL server where a rehearsal copies Kong's database (wire adapts
// kong/pgdb to it): Kong's own server, or the one rehearsal.dsn names.
type Scratch interface {
	// Name is the run's scratch database: <Kong's database>_rehearsal_<run>.
	Name(run domain.RunID) (string, error)
	// Restore restores a backup archive into the run's scratch database, replacing what an
	// earlier attempt left there.
	Restore(ctx context.Context, archive string, run domain.RunID) (kong.ScratchCopy, error)
	// Copy is a scratch database as a Database (schema_meta, the migrations lock).
	Copy(name string) Database
	// Drop drops a scratch database; it reports whether there was one.
	Drop(ctx context.Context, name string) (bool, error)
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
	Watch(ctx context.Context, c *config.Cluster, w domain.WatchRequest) error
}

// Baseliner measures the checks before the gate, over a lookback ending now.
type Baseliner interface {
	// Baseline leaves out the points inside skip: earlier runs' downtimes, breaches and
	// rollbacks are not how the cluster normally behaves.
	Baseline(ctx context.Context, c *config.Cluster, version string, skip ...domain.Interval) (domain.Baseline, error)
}

// SeriesChecker tells, before anything happens, whether the series the watch needs exist
// (3.x ships status and latency metrics off by default) and which plugin flag turns on what
// is missing.
type SeriesChecker interface {
	CheckSeries(ctx context.Context, c *config.Cluster, version string) (domain.SeriesReport, error)
}

// Clock is the engine's time source: tests move time instead of waiting.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
