// Package kong holds the values drawbridge's Kong-facing adapters return and the upgrade
// engine reasons about: what a node answers (NodeInfo), the state of Kong's schema_meta
// (SchemaState), a fingerprint of Kong's configuration tables (Fingerprint), a database
// backup and restore (Backup, Restore), and the result of a node command (CommandResult).
// The adapters live in its subpackages (adminapi, pgdb, nodecmd) and the release catalog
// in catalog; none of them imports the engine.
package kong

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong/catalog"
)

// NodeInfo is what a node answers on its Admin and Status APIs.
type NodeInfo struct {
	Name        string // the node's name in drawbridge's config
	Version     string // GET / "version"
	NodeID      string // GET / "node_id"
	DBReachable bool   // GET /status "database.reachable"
	// Ready is GET /status/ready = 200 on the Status API when the node has one and its
	// version serves it (3.3+); otherwise it equals DBReachable.
	Ready bool
	// Plugins is the node's plugins setting as it reads it (GET / configuration.plugins,
	// e.g. ["bundled"] or ["key-auth", "prometheus"]); nil when the node did not say.
	Plugins  []string
	Edition  string // GET / "edition": "community", "enterprise", or "" (before 3.6)
	Role     string // configuration.role: traditional, control_plane, data_plane
	Database string // configuration.database: postgres, off
	// Where the node's Kong keeps its tables (configuration.pg_database, pg_schema,
	// pg_user); pg_schema "" is the user's default search_path.
	PGDatabase, PGSchema, PGUser string
}

// ErrNoDatabase marks a node that keeps no database of its own to migrate: a data plane,
// or a DB-less node.
var ErrNoDatabase = errors.New("the node keeps no database")

// Enterprise reports whether the node runs Kong Enterprise: a four-part version
// (3.4.3.12) or edition "enterprise".
func (n NodeInfo) Enterprise() bool {
	return n.Edition == "enterprise" || strings.Count(n.Version, ".") >= 3 || strings.Contains(n.Version, "enterprise")
}

// PluginsSetting is the plugins setting normalised as Kong's conf_loader reads it: "off" as
// the first item loads nothing, "off" elsewhere is skipped, repeats are dropped; sorted,
// "bundled" first. An empty setting (the node did not say) reads as ["bundled"], Kong's
// default.
func PluginsSetting(items []string) []string {
	if len(items) == 0 {
		return []string{"bundled"}
	}
	var clean []string
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			clean = append(clean, it)
		}
	}
	if len(clean) == 0 || clean[0] == "off" {
		return []string{"off"}
	}
	set := map[string]bool{}
	for _, it := range clean {
		if it != "off" {
			set[it] = true
		}
	}
	out := slices.Sorted(maps.Keys(set))
	if i := slices.Index(out, "bundled"); i > 0 {
		out = append([]string{"bundled"}, slices.Delete(out, i, i+1)...)
	}
	return out
}

// Lock is Kong's migrations lock: the "migrations" row of the locks table, which every
// "kong migrations" command that changes the database takes (kong/db/init.lua
// cluster_mutex). Held is false when there is no row or its ttl has passed.
type Lock struct {
	Held    bool
	Owner   string    // the node id of the command holding it
	Expires time.Time // its ttl: Kong's next lock taker deletes it after that
}

// Access is what Kong's database user may do where Kong's tables live.
type Access struct {
	User     string
	Database string // current_database() of drawbridge's connection
	Schema   string // current_schema(): where drawbridge reads Kong's tables
	Create   bool   // CREATE on the schema
	// Problems say what the user lacks for "kong migrations" to work, each with the SQL
	// that grants it; none when it may migrate.
	Problems []string
}

// SubsystemState is one schema_meta row.
type SubsystemState struct {
	Subsystem    string
	LastExecuted string   // "" when NULL
	Executed     []string // nil when NULL
	Pending      []string // nil when NULL; empty ('{}') after a finish
}

// SchemaState is Kong's schema_meta as read from the database.
type SchemaState struct {
	NeedsBootstrap bool // no schema_meta table
	Subsystems     []SubsystemState
}

// Subsystem returns the row of a subsystem.
func (s SchemaState) Subsystem(name string) (SubsystemState, bool) {
	for _, r := range s.Subsystems {
		if r.Subsystem == name {
			return r, true
		}
	}
	return SubsystemState{}, false
}

// Pending lists "subsystem:name" of every pending migration, in row order.
func (s SchemaState) Pending() []string {
	var out []string
	for _, r := range s.Subsystems {
		for _, m := range r.Pending {
			out = append(out, r.Subsystem+":"+m)
		}
	}
	return out
}

// PendingOf returns the pending migrations of the known subsystems ("subsystem:name"), in
// known's order: Kong ignores rows and names of plugins a node does not load.
func (s SchemaState) PendingOf(known []catalog.Subsystem) []string {
	var out []string
	for _, sub := range known {
		row, _ := s.Subsystem(sub.Name)
		for _, m := range sub.Migrations {
			if slices.Contains(row.Pending, m.Name) {
				out = append(out, sub.Name+":"+m.Name)
			}
		}
	}
	return out
}

// Rowless returns the known subsystems that have no schema_meta row yet: plugins new to
// the database (Kong's docs ask for -f when a plugin is added to an existing database).
func (s SchemaState) Rowless(known []catalog.Subsystem) []string {
	var out []string
	for _, sub := range known {
		if _, ok := s.Subsystem(sub.Name); !ok {
			out = append(out, sub.Name)
		}
	}
	return out
}

// New returns the migrations of known that are neither executed nor pending: what
// "kong migrations up" of that version would run. Rows for subsystems or names the
// version does not know are ignored, as Kong ignores them.
func (s SchemaState) New(known []catalog.Subsystem) []catalog.Migration {
	var out []catalog.Migration
	for _, sub := range known {
		row, _ := s.Subsystem(sub.Name)
		for _, m := range sub.Migrations {
			if !slices.Contains(row.Executed, m.Name) && !slices.Contains(row.Pending, m.Name) {
				out = append(out, m)
			}
		}
	}
	return out
}

// The fingerprint of Kong's configuration tables is a fact of a run (the freeze), so its
// type is domain's; these names keep Kong-facing code reading as before.
type (
	TableSum    = domain.TableSum
	Fingerprint = domain.Fingerprint
	TableDiff   = domain.TableDiff
)

// DiffString names the changed tables (domain.DiffString).
func DiffString(diffs []TableDiff) string { return domain.DiffString(diffs) }

// Backup is a verified pg_dump archive.
type Backup struct {
	Path     string
	Size     int64
	SHA256   string
	Duration time.Duration // dump and verification
}

// Restore says how a database was restored.
type Restore struct {
	Method      string // "rename" (fresh database swapped in) or "in_place" (schema dropped and restored)
	FailedDB    string // the database kept for forensics (rename method)
	Fingerprint Fingerprint
	Duration    time.Duration
}

// FailedDatabase is a database a rollback kept (<name>_failed_<run>), with its size; its
// type is domain's, as the plan and the status answer show it.
type FailedDatabase = domain.FailedDatabase

// ScratchCopy is a throwaway copy of Kong's database, restored from a backup for a
// rehearsal of the migrations.
type ScratchCopy struct {
	Database string
	Host     string
	Port     int
	User     string
	Duration time.Duration // creating the database and restoring the archive into it
}

// CommandResult is one node command's outcome.
type CommandResult struct {
	Action   string // stop, start, install, migrations_up, …
	Node     string
	Argv     []string
	ExitCode int // -1 when it did not run or was killed
	Started  time.Time
	Duration time.Duration
	Tail     string // the last lines of stdout and stderr, interleaved as written
	LogPath  string // the whole output
	Err      error  // nil on exit 0; says what ran, the exit status and stderr's tail
}
