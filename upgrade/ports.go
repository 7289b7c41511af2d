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
	CreateRun(ctx context.Context, r storage.Run) (storage.Run, error)
	GetRun(ctx context.Context, id storage.RunID) (storage.Run, error)
	UpdateRun(ctx context.Context, id storage.RunID, fn func(*storage.Run) error) (storage.Run, error)
	ListRuns(ctx context.Context, f storage.RunFilter) ([]storage.Run, error)
	ActiveRun(ctx context.Context, cluster string) (storage.Run, bool, error)
	PutStep(ctx context.Context, run storage.RunID, rec storage.StepRecord) error
	Steps(ctx context.Context, run storage.RunID) ([]storage.StepRecord, error)
	AddApproval(ctx context.Context, run storage.RunID, a storage.Approval) error
	Approvals(ctx context.Context, run storage.RunID) ([]storage.Approval, error)
	AppendAudit(ctx context.Context, e storage.AuditEvent) (storage.AuditEvent, error)
	Audit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error)
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
	// MigrationLockHeld reports whether a kong migrations command holds Kong's cluster
	// mutex (the "migrations" row of the locks table, not expired).
	MigrationLockHeld(ctx context.Context) (bool, error)
	Close()
}

// Metrics is the Prometheus the watch reads; preflight only asks whether it answers.
type Metrics interface {
	Reachable(ctx context.Context, url string) error
}

// Watcher watches a cluster after the upgrade (step 11). It returns nil when the watch
// ended clean, a *BreachError when the new version misbehaves, and ctx's error when
// interrupted. It may be called again after a restart with the same start time and must
// then only watch what is left.
type Watcher interface {
	Watch(ctx context.Context, w WatchRequest) error
}

// WatchRequest is one watch of a run.
type WatchRequest struct {
	Run      storage.Run
	Cluster  *config.Cluster
	Version  string    // Y
	Started  time.Time // when the watch began (persisted)
	Progress func(msg string)
}

// BreachError says which check failed, with what value and threshold.
type BreachError struct {
	Check     string
	Value     string
	Threshold string
}

func (e *BreachError) Error() string {
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
