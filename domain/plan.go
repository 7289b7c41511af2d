package domain

// PlanSummary is a dry run of an upgrade as people read it: what a run would check, do and
// leave pending, and whether it could go ahead. The engine computes the plan; notify writes
// it.
type PlanSummary struct {
	Cluster  string
	From, To string // From is "" when the nodes could not say
	// Guaranteed: Kong guarantees the jump; Hops is the shortest chain of guaranteed jumps.
	Guaranteed bool
	Hops       []string
	Checks     []CheckVerdict
	Steps      []PlanStep
	// Migrations are what "migrations up" runs, PendingAfterUp those "finish" completes
	// ("subsystem:name"); NewPlugins are new to the database, so up runs with -f (Force).
	Migrations, PendingAfterUp []string
	NewPlugins                 []string
	Force                      bool
	Breaking                   []Breaking
	Baseline                   *Baseline   // the watch's checks now, when taken
	Prediction                 *Prediction // the downtime to expect (nil: not computed)
	Rehearsed                  bool        // the cluster rehearses the migrations on a copy
	Chain                      bool        // the guaranteed Hops are migrated in turn in one downtime
	// FailedDatabases are the databases earlier rollbacks kept on the cluster's server;
	// FailedDatabasesErr says why they could not be listed.
	FailedDatabases    []FailedDatabase
	FailedDatabasesErr string
	Refused            bool
	Reason             string
}

// PlanStep is one step as the plan describes it.
type PlanStep struct {
	Index int
	Title string
	Note  string
}

// Breaking is one minor line's breaking changes.
type Breaking struct {
	Line    string
	Link    string
	Changes []string
}
