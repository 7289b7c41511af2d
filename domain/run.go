package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RunID identifies a run. IDs are assigned by the store, start at 1 and increase; 0 is not
// a valid ID.
type RunID uint64

// String returns the decimal number, e.g. "42".
func (id RunID) String() string { return strconv.FormatUint(uint64(id), 10) }

// ParseRunID parses "42", "#42" or "r42" (surrounding spaces allowed).
func ParseRunID(s string) (RunID, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "#")
	if strings.HasPrefix(t, "r") || strings.HasPrefix(t, "R") {
		t = t[1:]
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("run ID %q is not a run number like 42, #42 or r42", s)
	}
	return RunID(n), nil
}

// RunState is where a run is in its life. It is stored as its string.
type RunState string

// Run states.
const (
	StateScheduled            RunState = "scheduled"
	StatePreparing            RunState = "preparing"
	StateAwaitingApproval     RunState = "awaiting_approval"
	StateRejected             RunState = "rejected"
	StateExpired              RunState = "expired"
	StateStopping             RunState = "stopping"
	StateMigrating            RunState = "migrating"
	StateStarting             RunState = "starting"
	StateWatching             RunState = "watching"
	StateAwaitingDecommission RunState = "awaiting_decommission"
	StateSucceeded            RunState = "succeeded"
	StateFailedBeforeDowntime RunState = "failed_before_downtime"
	StateNeedsAttention       RunState = "needs_attention"
	StateRollingBack          RunState = "rolling_back"
	StateRolledBack           RunState = "rolled_back"
	StateRollbackFailed       RunState = "rollback_failed"
	StateAborted              RunState = "aborted"
)

// states maps every valid state to whether it is terminal and how people read it.
var states = map[RunState]struct {
	terminal bool
	human    string
}{
	StateScheduled:            {false, "scheduled"},
	StatePreparing:            {false, "preparing"},
	StateAwaitingApproval:     {false, "awaiting approval"},
	StateRejected:             {true, "rejected"},
	StateExpired:              {true, "expired"},
	StateStopping:             {false, "stopping"},
	StateMigrating:            {false, "migrating"},
	StateStarting:             {false, "starting"},
	StateWatching:             {false, "watching"},
	StateAwaitingDecommission: {false, "awaiting decommission"},
	StateSucceeded:            {true, "succeeded"},
	StateFailedBeforeDowntime: {true, "failed before downtime"},
	StateNeedsAttention:       {false, "needs attention"},
	StateRollingBack:          {false, "rolling back"},
	StateRolledBack:           {true, "rolled back"},
	StateRollbackFailed:       {true, "rollback failed"},
	StateAborted:              {true, "aborted"},
}

// Terminal reports whether a run in this state has ended. A cluster may have at most one
// run that is not terminal.
func (s RunState) Terminal() bool { return states[s].terminal }

// Valid reports whether s is one of the known states.
func (s RunState) Valid() bool {
	_, ok := states[s]
	return ok
}

// Active reports whether a run in this state is in progress: neither ended nor still
// waiting for its window to be prepared.
func (s RunState) Active() bool { return s.Valid() && !s.Terminal() && s != StateScheduled }

// Human is how people read a state ("awaiting approval"); an unknown state reads as stored.
func (s RunState) Human() string {
	if st, ok := states[s]; ok {
		return st.human
	}
	return string(s)
}

// Run is one upgrade of one cluster.
type Run struct {
	ID           RunID     `json:"id"`
	Cluster      string    `json:"cluster"`
	From         string    `json:"from,omitempty"` // X: what the nodes answered at preflight
	To           string    `json:"to,omitempty"`
	State        RunState  `json:"state"`
	Force        bool      `json:"force,omitempty"`        // a person asked for -f on the migrations
	Chain        bool      `json:"chain,omitempty"`        // a person asked for the chain of guaranteed hops to Y in one downtime
	Ticket       string    `json:"ticket,omitempty"`       // the change ticket the run belongs to (--ticket)
	RequestedBy  string    `json:"requested_by,omitempty"` // Slack user ID or "scheduler"
	Window       string    `json:"window,omitempty"`
	ScheduledFor time.Time `json:"scheduled_for,omitzero"`

	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	DowntimeStart time.Time `json:"downtime_start,omitzero"`
	DowntimeEnd   time.Time `json:"downtime_end,omitzero"`

	CurrentStep int    `json:"current_step"`
	Reason      string `json:"reason,omitempty"` // why it ended as it did
	Facts       Facts  `json:"facts,omitzero"`
	Revision    uint64 `json:"revision"` // incremented by every write
}

// ChainHops are the versions a chain run migrates through after X, in order, ending with Y
// (nil for a run of one hop).
func (r Run) ChainHops() []string {
	if len(r.Facts.Hops) < 2 {
		return nil
	}
	return r.Facts.Hops
}

// ForceMigrations reports whether the migrations run with -f: a person asked, or a loaded
// plugin is new to the database.
func (r Run) ForceMigrations() bool { return r.Force || r.Facts.NewPluginsNeedForce }
