package words

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/units"
)

// The details of preflight's checks, as the plan and step 1 show them.

// OtherRun: the cluster already has a run in progress.
func OtherRun(run domain.RunID, st domain.RunState, cluster string) string {
	return fmt.Sprintf("run %s is %s on %s", run, st.Human(), cluster)
}

// NoOtherRun: nothing else is in progress on the cluster.
func NoOtherRun(cluster string) string { return "no run in progress on " + cluster }

// Path is a version path's hops, "3.4.2 → 3.5.0 → 3.6.1".
func Path(hops []string) string { return strings.Join(hops, " → ") }

// PathGuaranteed: Kong guarantees the jump (kind: "patch upgrade", "minor upgrade", …).
func PathGuaranteed(x, y, kind string) string {
	return fmt.Sprintf("%s → %s: %s, guaranteed by Kong", x, y, kind)
}

// PathChain: a chain of guaranteed hops (hops include X) run in one downtime.
func PathChain(x, y string, hops []string) string {
	return fmt.Sprintf("%s → %s in %d guaranteed hops (%s), migrated one after another in one downtime", x, y, len(hops)-1, Path(hops))
}

// PathUnverifiedAllowed: an unguaranteed jump the configuration allows.
func PathUnverifiedAllowed(x, y string, hops []string) string {
	return fmt.Sprintf("%s → %s is not a path Kong guarantees (guaranteed hops: %s); allowed by allow_unverified_paths", x, y, Path(hops))
}

// PathUnverified: an unguaranteed jump, refused.
func PathUnverified(x, y string, hops []string) string {
	return fmt.Sprintf("%s → %s is not a path Kong guarantees; upgrade in guaranteed hops: %s (--chain runs them in one downtime; or set allow_unverified_paths: true)", x, y, Path(hops))
}

// PathNotGuaranteed is the gate's warning for an allowed unguaranteed jump.
func PathNotGuaranteed(x, y string, hops []string) string {
	return fmt.Sprintf("%s → %s is not a path Kong guarantees (guaranteed hops: %s)", x, y, Path(hops))
}

// ChainInstalls: each hop's version is installed where the migrations run.
func ChainInstalls(node string) string {
	return "each hop's version is installed on " + node + ", where the migrations run, before its migrations; then Y on every node"
}

// ChainVersionedCommands: the migrations commands name each hop's version themselves.
const ChainVersionedCommands = "the migrations commands name each hop's version ({{.Version}})"

// ChainCannotInstall: a chain has no way to put a hop's version where its migrations run.
const ChainCannotInstall = "a chain runs each hop's migrations with that hop's version: configure commands.install, or migrations commands that use {{.Version}} (a container image)"

// MetricsOffAfter3: 2.x → 3.x, whose prometheus plugin exports little by default.
func MetricsOffAfter3(x, y string) string {
	return fmt.Sprintf("Kong %s exports request, latency and bandwidth metrics only when the prometheus plugin's status_code_metrics, latency_metrics and bandwidth_metrics are on (upstream_health_metrics for target health); %s's plugin config has no such fields and no migration adds them, so the watch on %s would see nothing: turn them on after the migrations (PATCH the plugin) or the watch will alert that it cannot see the metrics", y, x, y)
}

// WindowScheduled: a scheduled run's gate waits for its window ("" for a time of its own).
func WindowScheduled(window string, opens time.Time) string {
	return fmt.Sprintf("scheduled for window %s opening at %s; the gate waits for it", orAny(window), opens.UTC().Format(time.RFC3339))
}

func orAny(window string) string {
	if window == "" {
		return "(none: a time of its own)"
	}
	return window
}

// ControlPlanes is what people must know before upgrading hybrid control planes to y
// (major, line: y's major version and minor line, "3.5").
func ControlPlanes(y string, major int, line string) string {
	return fmt.Sprintf("the nodes are control planes: their data planes are not upgraded by this run and keep serving with their last configuration while the control planes are down; afterwards a control plane on %s accepts data planes of %d.x up to %s (Kong refuses a data plane whose major differs or whose minor is newer), so upgrade the data planes next, by replacing them; the watch includes kong_data_plane_version_compatible",
		y, major, line)
}

// MigrationsTimeout: Y is 3.7 or later and these commands do not pass --db-timeout.
func MigrationsTimeout(commands []string) string {
	return fmt.Sprintf("%s do not pass --db-timeout: from 3.7 Kong then applies pg_timeout (5 s by default) to every migration statement, so a migration that takes longer on a large table fails; add --db-timeout 600 (seconds) to them",
		strings.Join(commands, " and "))
}

// TimeoutHint explains a migrations command whose output speaks of a timeout; since37 says
// Y is 3.7 or later and the command did not pass --db-timeout.
func TimeoutHint(since37 bool) string {
	if since37 {
		return " (a timeout: from 3.7 Kong applies pg_timeout, 5 s by default, to every migration statement unless the command passes --db-timeout; add --db-timeout 600 (seconds) to the migrations commands)"
	}
	return " (a timeout)"
}

// Plugins is how people read a plugins setting: "every bundled plugin", "key-auth,
// prometheus, rate-limiting", "no plugin (plugins = off)".
func Plugins(setting []string) string {
	switch {
	case len(setting) == 0 || slices.Equal(setting, []string{"bundled"}):
		return "every bundled plugin"
	case slices.Equal(setting, []string{"off"}):
		return "no plugin (plugins = off)"
	case setting[0] == "bundled":
		return "every bundled plugin and " + strings.Join(setting[1:], ", ")
	}
	return strings.Join(setting, ", ")
}

// List is names for people, "none" when there are none.
func List(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// What a node says that keeps drawbridge from upgrading it.

// NodeDataPlane: the node is a hybrid data plane.
func NodeDataPlane(node string) string {
	return node + " is a data plane: it keeps no database to migrate; data planes are upgraded by replacing them, after their control planes"
}

// NodeDBLess: the node runs with database = off.
func NodeDBLess(node string) string {
	return node + " is DB-less (database = off): it keeps no database to migrate; DB-less nodes are upgraded by replacing them with the new version and the same declarative configuration"
}

// NodeEnterprise: the node runs Kong Enterprise (edition may be "").
func NodeEnterprise(node, version, edition string) string {
	if edition != "" {
		edition = ", edition " + edition
	}
	return fmt.Sprintf("%s runs Kong Enterprise %s%s: drawbridge upgrades Kong OSS only (Enterprise has migrations and upgrade paths of its own)", node, version, edition)
}

// NodeFailed: asking the node failed.
func NodeFailed(node string, err error) string { return fmt.Sprintf("%s: %v", node, err) }

// NodeNoDatabase: the node cannot reach its database.
func NodeNoDatabase(node string) string { return node + ": database not reachable from the node" }

// NodeProblems joins what several nodes said.
func NodeProblems(problems []string) string { return strings.Join(problems, "; ") }

// Group is the nodes that said the same thing.
type Group struct {
	Nodes []string
	Value string
}

func groups(gs []Group, one, many string, text func(string) string) string {
	var parts []string
	for _, g := range gs {
		verb := one
		if len(g.Nodes) > 1 {
			verb = many
		}
		parts = append(parts, strings.Join(g.Nodes, ", ")+" "+verb+" "+text(g.Value))
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// NodesVersions: the nodes answer different versions.
func NodesVersions(gs []Group) string {
	var parts []string
	for _, g := range gs {
		parts = append(parts, g.Value+" on "+strings.Join(g.Nodes, ", "))
	}
	slices.Sort(parts)
	return "nodes answer different versions: " + strings.Join(parts, "; ")
}

// NodesPlugins: the nodes load different plugins (each Value a comma-separated setting).
func NodesPlugins(gs []Group) string {
	return "nodes load different plugins (plugins in kong.conf): " + groups(gs, "loads", "load", func(v string) string { return Plugins(strings.Split(v, ",")) }) +
		"; Kong creates and checks migrations for the loaded plugins only, so the nodes disagree about what the database needs"
}

// NodesRoles: the nodes have different roles.
func NodesRoles(gs []Group) string {
	return "nodes have different roles: " + groups(gs, "is", "are", func(v string) string { return v })
}

// NodesTargets: the nodes keep Kong's tables in different places (each Value
// "database\x00schema\x00user").
func NodesTargets(gs []Group) string {
	return "nodes keep Kong's tables in different places (pg_database, pg_schema, pg_user): " + groups(gs, "uses", "use", func(v string) string {
		p := append(strings.Split(v, "\x00"), "", "", "")
		return fmt.Sprintf("database %s, schema %s, user %s", or(p[0], "?"), or(p[1], "(default)"), or(p[2], "?"))
	})
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// NodesBadVersion: the nodes answer a version drawbridge cannot read.
func NodesBadVersion(x string, err error) string {
	return fmt.Sprintf("nodes answer version %q: %v", x, err)
}

// NodesAnswer: every node answers x with the database reachable.
func NodesAnswer(n int, x string, plugins []string, controlPlanes bool) string {
	s := fmt.Sprintf("all %d nodes answer %s with the database reachable; they load %s", n, x, Plugins(plugins))
	if controlPlanes {
		s += "; they are hybrid control planes"
	}
	return s
}

// NodesChanged: at the gate the nodes are not as at preparation.
func NodesChanged(detail string) string {
	return "the nodes are not as they were when the run was prepared: " + detail
}

// The database.

// DBNotBootstrapped: Kong's database has no schema_meta.
const DBNotBootstrapped = "the database is not bootstrapped (no schema_meta)"

// DBPending: an earlier upgrade left migrations pending.
func DBPending(pending []string) string {
	return "pending migrations from an earlier upgrade: " + strings.Join(pending, ", ") + "; run 'kong migrations finish' first"
}

// DBLacks: the database lacks migrations that x ships for the loaded plugins.
func DBLacks(x string, plugins, missing []string) string {
	return fmt.Sprintf("the database lacks migrations %s ships for %s: %s", x, Plugins(plugins), strings.Join(missing, ", "))
}

// DBUpToDate: schema_meta holds every migration x ships for the loaded plugins.
func DBUpToDate(x string, plugins []string) string {
	return fmt.Sprintf("reachable, schema up to date for %s and %s, nothing pending", x, Plugins(plugins))
}

// AccessOtherDatabase: drawbridge's DSN names another database than the nodes use.
func AccessOtherDatabase(nodes, dsn string) string {
	return fmt.Sprintf("the nodes use database %s (pg_database), drawbridge's DSN database %s: drawbridge would back up and check another database than the one Kong migrates", nodes, dsn)
}

// AccessOtherSchema: drawbridge reads another schema than the nodes keep their tables in.
func AccessOtherSchema(nodes, read string) string {
	return fmt.Sprintf("the nodes keep Kong's tables in schema %s (pg_schema), drawbridge reads schema %s: add search_path=%s to the database DSN", nodes, read, nodes)
}

// AccessProblems: the nodes' pg_user lacks privileges the migrations need.
func AccessProblems(problems []string) string {
	return "the nodes' pg_user cannot run the migrations: " + strings.Join(problems, "; ")
}

// AccessOK: the nodes' pg_user may run the migrations.
func AccessOK(user, schema, database string) string {
	return fmt.Sprintf("%s may create in schema %s of database %s and owns Kong's tables", user, schema, database)
}

// Prometheus and the watch's series.

// MetricsUnchecked: this drawbridge has no metrics client.
const MetricsUnchecked = "not checked (no metrics client)"

// MetricsAnswer: Prometheus answers.
func MetricsAnswer(url string) string { return url + " answers" }

// Series is the watch-metrics check: err (nil when the check ran) or the problems
// found, and the checks that do not apply.
func Series(err error, problems, notApplicable []string) string {
	var s string
	switch {
	case err != nil:
		s = err.Error()
	case len(problems) > 0:
		s = strings.Join(problems, "; ")
	default:
		s = "every series the watch's checks need is there"
	}
	if len(notApplicable) > 0 {
		s += "; not applicable: " + strings.Join(notApplicable, "; ")
	}
	return s
}

// The backup target.

// NoPgDump: pg_dump is not installed.
const NoPgDump = "pg_dump is not installed (Debian: apt-get install postgresql-client)"

// NotWritable: the backup directory (or the nearest existing parent) is not writable.
func NotWritable(dir string, err error) string {
	return fmt.Sprintf("%s is not writable: %v", dir, err)
}

// NoFreeSpace: the free space of dir could not be read.
func NoFreeSpace(dir string, err error) string { return fmt.Sprintf("free space of %s: %v", dir, err) }

// TooLittleRoom: the backup wants twice the database's size.
func TooLittleRoom(dir string, free, size int64) string {
	return fmt.Sprintf("%s has %s free; the database is %s and the backup wants twice that", dir, units.Bytes(free), units.Bytes(size))
}

// BackupRoom: the backup directory is writable with room.
func BackupRoom(dir string, free, size int64) string {
	return fmt.Sprintf("%s writable, %s free for a %s database", dir, units.Bytes(free), units.Bytes(size))
}

// Windows and blackouts.

// InBlackout: a blackout holds until to.
func InBlackout(name string, to time.Time) string {
	return fmt.Sprintf("blackout %s until %s", name, to.Format(time.RFC3339))
}

// NoWindows: the cluster may be upgraded at any time.
const NoWindows = "the cluster has no maintenance windows: any time"

// WindowOpen: the cluster's window is open until closes.
func WindowOpen(window string, closes time.Time) string {
	return fmt.Sprintf("window %s is open until %s", window, closes.Format(time.RFC3339))
}

// NoWindowOpen: none of the cluster's windows is open.
func NoWindowOpen(cluster string, windows []string) string {
	return "no maintenance window of " + cluster + " is open now (" + strings.Join(windows, ", ") + ")"
}

// The plan.

// Refusal is why a plan (or preflight) is refused: its first failed check.
func Refusal(check, detail string) string { return check + ": " + detail }

// NoteUp is the plan's note on "migrations up".
func NoteUp(migrations int, newPlugins []string) string {
	s := fmt.Sprintf("%d migrations", migrations)
	if len(newPlugins) > 0 {
		s += ", with -f (new plugins: " + strings.Join(newPlugins, ", ") + ")"
	}
	return s
}

// NoteFinish is the plan's note on "migrations finish".
func NoteFinish(pending int) string { return fmt.Sprintf("completes %d pending", pending) }

// NoteRehearsal is the plan's note on the rehearsal.
func NoteRehearsal(rehearsed bool) string {
	if rehearsed {
		return "on a copy of the database restored from the backup; X keeps serving"
	}
	return "not rehearsed (the cluster has no rehearsal: configured)"
}

// NoteApproval is the plan's note on the gate.
func NoteApproval(required int, approvers []string) string {
	return fmt.Sprintf("%d approval(s) from %s", required, strings.Join(approvers, ", "))
}
