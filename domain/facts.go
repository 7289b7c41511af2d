package domain

import "time"

// Facts are what a run learned and decided on its way, each in one typed field. The step
// that learns a fact writes it; the steps after it, the watch and the messages read it.
type Facts struct {
	// Preflight.
	Plugins             []string `json:"plugins,omitempty"`       // the plugins the nodes load; empty: not recorded (every bundled plugin)
	ControlPlane        bool     `json:"control_plane,omitempty"` // the nodes are hybrid control planes
	Warnings            []string `json:"warnings,omitempty"`      // shown on the status message while the run lasts
	NewPluginsNeedForce bool     `json:"new_plugins_need_force,omitempty"`
	// Hops: for a chain, the versions after X whose migrations run in turn, ending with Y;
	// HopsDone counts those migrated so far (up and finish).
	Hops     []string `json:"hops,omitempty"`
	HopsDone int      `json:"hops_done,omitempty"`

	// Freeze, backup and evaluate.
	Frozen   bool         `json:"frozen,omitempty"` // the freeze command ran: the unfreeze must too
	Freeze   *Fingerprint `json:"freeze,omitempty"` // the configuration when it was frozen
	Backup   *Backup      `json:"backup,omitempty"`
	Baseline *Baseline    `json:"baseline,omitempty"` // the watch's checks before the gate

	// Rehearsal and prediction, before the gate.
	Rehearsal  *Rehearsal  `json:"rehearsal,omitempty"`  // nil: not rehearsed
	Prediction *Prediction `json:"prediction,omitempty"` // the downtime expected at the gate

	// Scheduling and the watch.
	WindowCloses time.Time `json:"window_closes,omitzero"` // a scheduled run's window: the gate expires then
	WatchStarted time.Time `json:"watch_started,omitzero"`

	// Pending is an operation a person (or auto_rollback) asked for and the run's goroutine
	// has not carried out yet.
	Pending *Operation `json:"pending,omitempty"`

	Measured Measurements `json:"measured,omitzero"`
}

// Backup is the verified pg_dump archive a run took before its gate.
type Backup struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// OperationKind is an operation that can be asked for while a run goes on.
type OperationKind string

// Operations.
const (
	OpAbort        OperationKind = "abort"
	OpRollback     OperationKind = "rollback"
	OpResume       OperationKind = "resume"
	OpDecommission OperationKind = "decommission"
)

// Operation is an asked-for operation: what, who asked, and why.
type Operation struct {
	Kind   OperationKind `json:"kind"`
	Actor  string        `json:"actor,omitempty"`
	Reason string        `json:"reason,omitempty"`
}

// Is reports whether o is an operation of kind k (false for nil).
func (o *Operation) Is(k OperationKind) bool { return o != nil && o.Kind == k }

// Measurements are the run's measured times; zero is "not measured".
type Measurements struct {
	Downtime         time.Duration `json:"downtime,omitempty"`          // from the first stop to the last node ready on Y
	Commands         time.Duration `json:"commands,omitempty"`          // what the node commands took of it
	Overhead         time.Duration `json:"overhead,omitempty"`          // what drawbridge added
	RollbackDowntime time.Duration `json:"rollback_downtime,omitempty"` // from the rollback's first stop to X ready again
	// The downtime's parts as the commands took them (span from the first node's start to
	// the last one's end), to set against the prediction.
	Parts *DowntimeParts `json:"parts,omitempty"`
}

// DowntimeParts are the parts of a downtime: stopping X, installing Y, kong migrations up
// and finish, starting Y, and what drawbridge itself added (waiting for nodes, checks).
type DowntimeParts struct {
	Stop     time.Duration `json:"stop"`
	Install  time.Duration `json:"install"`
	Up       time.Duration `json:"up"`
	Finish   time.Duration `json:"finish"`
	Start    time.Duration `json:"start"`
	Overhead time.Duration `json:"overhead"`
}

// Total is the whole downtime the parts make.
func (p DowntimeParts) Total() time.Duration {
	return p.Stop + p.Install + p.Up + p.Finish + p.Start + p.Overhead
}

// Rehearsal is what the rehearsal of Y's migrations on a scratch copy of the database
// measured, before the gate.
type Rehearsal struct {
	Database string        `json:"database"`       // the copy, dropped at the end
	Restore  time.Duration `json:"restore"`        // creating the copy from the backup
	Up       time.Duration `json:"up"`             // kong migrations up on the copy (every hop's)
	Finish   time.Duration `json:"finish"`         // kong migrations finish on the copy (every hop's)
	Hops     []HopTimes    `json:"hops,omitempty"` // a chain's hops, each timed
}

// HopTimes is what one hop's migrations took.
type HopTimes struct {
	Version string        `json:"version"`
	Up      time.Duration `json:"up"`
	Finish  time.Duration `json:"finish"`
}

// Prediction is the downtime expected before the gate, in its parts, and where each came
// from.
type Prediction struct {
	DowntimeParts
	// Migrations says where up and finish come from: "rehearsal", "earlier runs" or
	// "default"; Nodes the same for stop, install, start and drawbridge's share.
	Migrations string `json:"migrations"`
	Nodes      string `json:"nodes"`
	Runs       int    `json:"runs,omitempty"` // the earlier runs it learned from
}
