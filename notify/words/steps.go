package words

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/units"
)

// Notices (thread replies of their own) and the lines the engine adds to a step's output,
// beside its commands' own output. Lines have no trailing newline.

// FreezeOn: the configuration freeze begins.
func FreezeOn(cluster string, run domain.RunID) string {
	return fmt.Sprintf("Configuration freeze on %s: no Admin API writes, decK syncs or Kong Manager changes until run %s ends.", cluster, run)
}

// FreezeLifted: the freeze ended with the run.
func FreezeLifted(cluster string) string {
	return fmt.Sprintf("Configuration freeze on %s lifted.", cluster)
}

// UnfreezeFailed is the run's record when the unfreeze command failed.
func UnfreezeFailed(err error) string { return "the unfreeze command failed: " + err.Error() }

// Unfrozen is the run's record of a lifted freeze.
const Unfrozen = "freeze lifted"

// GateWarnings is the notice at the gate of what approvers should know.
func GateWarnings(warnings []string) string {
	return "Warning at the gate: " + strings.Join(warnings, "; ")
}

// Hop names hop i (from 1) of n of a chain.
func Hop(i, n int, from, to string) string {
	return fmt.Sprintf("hop %d of %d (%s → %s)", i, n, from, to)
}

// HopMigrated: a hop of a chain is migrated.
func HopMigrated(hop string) string {
	return fmt.Sprintf("Chain: %s migrated (up and finish checked in schema_meta).", hop)
}

// LastHopMigrated: the chain's last hop, to y, is migrated.
func LastHopMigrated(y string) string { return fmt.Sprintf("Chain: the last hop, to %s, migrated.", y) }

// HopFoundDone: schema_meta shows a hop's migrations done already.
func HopFoundDone(hop string) string { return hop + ": schema_meta shows its migrations done" }

// Verdict is a check's line in step 1's output.
func Verdict(verdict, check, detail string) string {
	return fmt.Sprintf("%-8s %s: %s", verdict, check, detail)
}

// Command is a command's header line in a step's output.
func Command(argv []string, action, node string, exit int, took time.Duration) string {
	if node != "" {
		action += " on " + node
	}
	return fmt.Sprintf("$ %s  (%s, exit %d, %s)", strings.Join(argv, " "), action, exit, units.Measured(took))
}

// FailedButReached: a node's command failed, yet the node is as wanted.
func FailedButReached(node string, err error) string {
	return fmt.Sprintf("%s: its command failed, but the node is as wanted: %v", node, err)
}

// AlreadyStopped: a stop step found nodes stopped (after a restart).
func AlreadyStopped(stopped, nodes int) string {
	return fmt.Sprintf("%d of %d nodes were stopped already", stopped, nodes)
}

// AlreadyAnswering: a start step found nodes answering version already.
func AlreadyAnswering(answering, nodes int, version string) string {
	return fmt.Sprintf("%d of %d nodes answered %s already", answering, nodes, version)
}

// LockHeld: Kong's migrations lock is held; drawbridge waits at most wait.
func LockHeld(owner string, expires time.Time, wait string) string {
	return fmt.Sprintf("Kong's migrations lock is held by node %s until %s: waiting (at most %s)", owner, expires.UTC().Format(time.RFC3339), wait)
}

// LockFree: the lock was released.
const LockFree = "Kong's migrations lock is free"

// Schema is what schema_meta says of a step's migrations.
func Schema(executed, pending, fresh []string) string {
	return fmt.Sprintf("executed %s; pending %s; still new %s", List(executed), List(pending), List(fresh))
}

// NothingToRun: schema_meta shows the step's work done (on a repeat).
func NothingToRun(schema string) string {
	return fmt.Sprintf("schema_meta already holds what this step does (%s): nothing to run", schema)
}

// Running: schema_meta as it stands before a kong migrations command on a repeat.
func Running(schema, cmd string) string {
	return fmt.Sprintf("schema_meta: %s: running kong migrations %s", schema, cmd)
}

// Converging is the notice of a migrations step that finds Kong's migrations part-way (a
// repeat after a failure or a restart) and runs what converges them.
func Converging(schema, cmd string) string {
	return fmt.Sprintf("Kong's migrations are part-way (schema_meta: %s): running kong migrations %s", schema, cmd)
}

// Crossed: the gate was crossed and the downtime starts (window: the run's, "" for none).
func Crossed(at time.Time, window string) string {
	s := at.UTC().Format("15:04:05") + " UTC: the downtime starts"
	if window != "" {
		s += ", inside window " + window
	}
	return s
}

// NotYetRun: migrations up has not run these.
func NotYetRun(missing []string) string {
	return "schema_meta: not yet run: " + strings.Join(missing, ", ")
}

// PendingForFinish: up left these for finish.
func PendingForFinish(pending []string) string {
	return "schema_meta: pending for finish: " + strings.Join(pending, ", ")
}

// NoFingerprintAfter: the configuration after the migrations could not be fingerprinted.
func NoFingerprintAfter(err error) string {
	return fmt.Sprintf("could not fingerprint the configuration after the migrations: %v", err)
}

// Downtime is the measured downtime's line in the start step's output.
func Downtime(m domain.Measurements) string {
	return fmt.Sprintf("downtime %s: commands %s, drawbridge %s", units.Measured(m.Downtime), units.Measured(m.Commands), units.Measured(m.Overhead))
}

// RollbackDowntime is the rollback's downtime line.
func RollbackDowntime(d time.Duration) string { return "rollback downtime " + units.Measured(d) }

// Restored: the rollback's restore, and where the failed database stays (failed may be "").
func Restored(path, method string, took time.Duration, failed string) string {
	s := fmt.Sprintf("restored %s (%s) in %s; fingerprint equals the pre-upgrade one", path, method, units.Measured(took))
	if failed != "" {
		s += "; the failed database is kept as " + failed
	}
	return s
}

// BackedUp: the verified backup.
func BackedUp(b domain.Backup) string {
	return fmt.Sprintf("pg_dump -Fc → %s (%s, sha256 %s), verified by reading the whole archive", b.Path, units.Bytes(b.Size), b.SHA256)
}

// Unchanged: Kong's configuration is the frozen one.
const Unchanged = "Kong's configuration is unchanged since the freeze"

// Evaluation is the evaluate step's output: migrations, what stays pending, -f, the
// breaking changes.
func Evaluation(migrations, pending, newPlugins []string, breaking []domain.Breaking) string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrations up runs %d migrations: %s\n", len(migrations), strings.Join(migrations, ", "))
	if len(pending) > 0 {
		fmt.Fprintf(&b, "left pending for finish: %s\n", strings.Join(pending, ", "))
	}
	if len(newPlugins) > 0 {
		fmt.Fprintf(&b, "new plugins %s: migrations run with -f\n", strings.Join(newPlugins, ", "))
	}
	for _, br := range breaking {
		fmt.Fprintf(&b, "breaking changes in %s (%s):\n", br.Line, br.Link)
		for _, ch := range br.Changes {
			fmt.Fprintf(&b, "  - %s\n", ch)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// BaselineLines is the watch's baseline in the evaluate step's output.
func BaselineLines(b domain.Baseline) string {
	return strings.TrimSuffix(fmt.Sprintf("baseline over the last %s:\n%s", b.Lookback, Baseline(b)), "\n")
}

// NoCommand: a step whose commands are not configured.
func NoCommand(what string) string { return "no " + what + " command configured" }

// WatchedClean: the watch ended clean.
func WatchedClean(cluster, duration string) string {
	return fmt.Sprintf("watched %s for %s: clean", cluster, duration)
}

// The rehearsal.

// NotRehearsed: the cluster has no rehearsal.
const NotRehearsed = "not rehearsed: the cluster has no rehearsal configured"

// CopyRestored: the backup restored into the scratch database.
func CopyRestored(path, database, host string, port int, took time.Duration) string {
	return fmt.Sprintf("restored %s into %s on %s:%d in %s", path, database, host, port, units.Measured(took))
}

// RehearsedHop: one hop of a rehearsed chain.
func RehearsedHop(i, n int, version string, up, finish time.Duration) string {
	return fmt.Sprintf("hop %d of %d, %s: up %s, finish %s", i, n, version, units.Measured(up), units.Measured(finish))
}

// Rehearsed: the rehearsal's migrations succeeded on the copy.
func Rehearsed(up, finish time.Duration, y string) string {
	return fmt.Sprintf("rehearsed: up %s, finish %s; schema_meta of the copy holds every migration of %s", units.Measured(up), units.Measured(finish), y)
}

// CopyDropped: the scratch database is gone.
func CopyDropped(database string) string { return "dropped the scratch database " + database }

// CopyNotDropped: the scratch database could not be dropped.
func CopyNotDropped(database string, err error) string {
	return fmt.Sprintf("could not drop the scratch database %s: %v (drop it by hand)", database, err)
}

// Prediction is the downtime's prediction in the rehearsal step's output.
func Prediction(p domain.Prediction) string {
	basis := p.Nodes
	if p.Runs > 0 {
		basis = fmt.Sprintf("%d earlier run(s)", p.Runs)
	}
	return fmt.Sprintf("predicted downtime %s: stop %s, install %s, up %s, finish %s, start %s, drawbridge %s (migrations from %s, the rest from %s)",
		units.Measured(p.Total()), units.Measured(p.Stop), units.Measured(p.Install), units.Measured(p.Up), units.Measured(p.Finish),
		units.Measured(p.Start), units.Measured(p.Overhead), p.Migrations, basis)
}

// The watch on the nodes alone (no Prometheus).

// NodeAnswers: a node answers another version than the watch wants.
func NodeAnswers(node, version string) string { return fmt.Sprintf("%s answers %s", node, version) }

// NodeNotReady: a node is not ready.
func NodeNotReady(node string) string { return node + " is not ready" }

// NodesHealthyBreach is the nodes check's threshold in a breach.
func NodesHealthyBreach(version string, failures int) string {
	return fmt.Sprintf("every node answers %s, ready (%d failing intervals)", version, failures)
}

// NodesHealthyThreshold is the nodes check's threshold in a report.
func NodesHealthyThreshold(nodes int, version string) string {
	return fmt.Sprintf("min %d (every node answers %s, ready)", nodes, version)
}

// Baseline lists the baseline's values, one check a line, as a log or a plan shows them: a
// value with its note in parentheses, if it has one, then the checks without a value.
func Baseline(b domain.Baseline) string {
	var sb strings.Builder
	for _, name := range slices.Sorted(maps.Keys(b.Values)) {
		if note, ok := b.Notes[name]; ok {
			fmt.Fprintf(&sb, "  %s: %.4g (%s)\n", name, b.Values[name], note)
			continue
		}
		fmt.Fprintf(&sb, "  %s: %.4g\n", name, b.Values[name])
	}
	for _, name := range slices.Sorted(maps.Keys(b.Notes)) {
		if _, ok := b.Values[name]; !ok {
			fmt.Fprintf(&sb, "  %s: no baseline (%s)\n", name, b.Notes[name])
		}
	}
	for _, iv := range b.Skipped {
		fmt.Fprintf(&sb, "  left out: an earlier run, %s–%s UTC\n", iv.From.UTC().Format(time.TimeOnly), iv.To.UTC().Format(time.TimeOnly))
	}
	return sb.String()
}
