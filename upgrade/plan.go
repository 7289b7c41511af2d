package upgrade

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/storage"
)

// Check is one preflight check.
type Check struct {
	Name    string
	OK      bool
	Warning bool // passed, with something people should know
	Detail  string
}

// Verdict is the check's outcome in a word: ok, warning or FAIL.
func (c Check) Verdict() string {
	switch {
	case !c.OK:
		return "FAIL"
	case c.Warning:
		return "warning"
	}
	return "ok"
}

// PlanStep is one step as the plan describes it.
type PlanStep struct {
	Index int
	Title string
	Note  string
}

// Plan is a dry run: what a run would check, do and leave pending, changing nothing.
type Plan struct {
	Cluster           string
	From, To          string
	Path              catalog.Path
	Checks            []Check
	Steps             []PlanStep
	Migrations        []catalog.Migration // what "migrations up" runs
	PendingAfterUp    []catalog.Migration // those with a teardown: "finish" completes them
	NewPlugins        []string            // subsystems appearing for the first time: needs -f
	Force             bool
	Breaking          []Breaking
	PredictedDowntime time.Duration // 0: no history
	Baseline          *Baseline     // the watch's checks now, when a Baseliner is set
	Refused           bool
	Reason            string
}

// Breaking is one minor line's breaking changes.
type Breaking struct {
	Line    string
	Link    string
	Changes []string
}

// Plan computes the dry run of upgrading cluster to version to. It changes nothing.
func (e *Engine) Plan(ctx context.Context, cluster, to string) (Plan, error) {
	c, err := e.cluster(cluster)
	if err != nil {
		return Plan{}, err
	}
	y, err := catalog.ParseVersion(to)
	if err != nil {
		return Plan{}, err
	}
	p := e.preflight(ctx, c, y, storage.Run{})
	return p, nil
}

// preflight runs the checks of step 1 and fills in the rest of the plan. run is the run
// being prepared (zero for a dry run: then another active run on the cluster is a
// refusal). A scheduled run prepares before its window: the gate waits for it.
func (e *Engine) preflight(ctx context.Context, c *config.Cluster, y catalog.Version, run storage.Run) Plan {
	p := Plan{Cluster: c.Name, To: y.String()}
	add := func(ch Check) { p.Checks = append(p.Checks, ch) }

	if run.ID == 0 {
		if active, ok, err := e.opts.Store.ActiveRun(ctx, c.Name); err == nil && ok {
			add(Check{Name: "no other run", Detail: fmt.Sprintf("run %s is %s on %s", active.ID, humanState(active.State), c.Name)})
		} else if err == nil {
			add(Check{Name: "no other run", OK: true, Detail: "no run in progress on " + c.Name})
		}
	}
	x, nodes := e.checkNodes(ctx, c)
	add(nodes)
	if x.IsZero() {
		p.finish(e)
		return p
	}
	p.From = x.String()
	path, err := catalog.Default().Path(x, y)
	switch {
	case err != nil:
		add(Check{Name: "version path", Detail: err.Error()})
	case path.Guaranteed:
		p.Path = path
		add(Check{Name: "version path", OK: true, Detail: fmt.Sprintf("%s → %s: %s, guaranteed by Kong", x, y, path.Kind)})
	case c.AllowUnverifiedPaths:
		p.Path = path
		add(Check{Name: "version path", OK: true, Warning: true, Detail: fmt.Sprintf("%s → %s is not a path Kong guarantees (guaranteed hops: %s); allowed by allow_unverified_paths", x, y, path.HopsString())})
	default:
		p.Path = path
		add(Check{Name: "version path", Detail: fmt.Sprintf("%s → %s is not a path Kong guarantees; upgrade in guaranteed hops: %s (or set allow_unverified_paths: true)", x, y, path.HopsString())})
	}
	add(e.checkDatabase(ctx, c, x))
	add(e.checkMetrics(ctx, c))
	if e.opts.Series != nil {
		add(e.checkSeries(ctx, c, x))
	}
	add(e.checkBackupTarget(ctx, c))
	if run.ScheduledFor.IsZero() {
		add(e.checkWindow(c, e.opts.Clock.Now()))
	} else {
		add(Check{Name: "window", OK: true, Detail: fmt.Sprintf("scheduled for window %s opening at %s; the gate waits for it",
			orAny(run.Window), run.ScheduledFor.UTC().Format(time.RFC3339))})
	}
	if err == nil {
		e.evaluate(ctx, &p, c, x, y)
	}
	if e.opts.Baseliner != nil {
		if b, err := e.opts.Baseliner.Baseline(ctx, c, x.String(), e.earlierRuns(ctx, c.Name, 0)...); err == nil {
			p.Baseline = &b
		}
	}
	p.finish(e)
	return p
}

func (p *Plan) finish(e *Engine) {
	for _, ch := range p.Checks {
		if !ch.OK {
			p.Refused = true
			p.Reason = ch.Name + ": " + ch.Detail
			break
		}
	}
	p.Steps = nil
	for _, d := range forwardSteps {
		ps := PlanStep{Index: int(d.id), Title: versioned(d.title, p.From, p.To)}
		switch d.id {
		case StepMigrationsUp:
			ps.Note = fmt.Sprintf("%d migrations", len(p.Migrations))
			if p.Force {
				ps.Note += ", with -f (new plugins: " + strings.Join(p.NewPlugins, ", ") + ")"
			}
		case StepMigrationsFinish:
			ps.Note = fmt.Sprintf("completes %d pending", len(p.PendingAfterUp))
		case StepApproval:
			ps.Note = fmt.Sprintf("%d approval(s) from %s", e.opts.Config.Access.RequiredApprovals, strings.Join(e.opts.Config.Access.Approvers, ", "))
		}
		p.Steps = append(p.Steps, ps)
	}
}

// checkNodes asks every node its version; they must all answer the same version X.
func (e *Engine) checkNodes(ctx context.Context, c *config.Cluster) (catalog.Version, Check) {
	infos, errs := e.allInfo(ctx, c.Nodes)
	ch := Check{Name: "nodes answer"}
	var bad []string
	versions := map[string][]string{}
	for i, n := range c.Nodes {
		switch {
		case errs[i] != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", n.Name, errs[i]))
		case !infos[i].DBReachable:
			bad = append(bad, fmt.Sprintf("%s: database not reachable from the node", n.Name))
		default:
			versions[infos[i].Version] = append(versions[infos[i].Version], n.Name)
		}
	}
	if len(bad) > 0 {
		ch.Detail = strings.Join(bad, "; ")
		return catalog.Version{}, ch
	}
	if len(versions) != 1 {
		var parts []string
		for v, ns := range versions {
			parts = append(parts, v+" on "+strings.Join(ns, ", "))
		}
		slices.Sort(parts)
		ch.Detail = "nodes answer different versions: " + strings.Join(parts, "; ")
		return catalog.Version{}, ch
	}
	var x string
	for v := range versions {
		x = v
	}
	xv, err := catalog.ParseVersion(x)
	if err != nil {
		ch.Detail = fmt.Sprintf("nodes answer version %q: %v", x, err)
		return catalog.Version{}, ch
	}
	ch.OK, ch.Detail = true, fmt.Sprintf("all %d nodes answer %s with the database reachable", len(c.Nodes), xv)
	return xv, ch
}

// allInfo asks every node at once.
func (e *Engine) allInfo(ctx context.Context, nodes []config.Node) ([]kong.NodeInfo, []error) {
	infos := make([]kong.NodeInfo, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { infos[i], errs[i] = e.opts.Nodes.Info(ctx, n) })
	}
	wg.Wait()
	return infos, errs
}

func (e *Engine) checkDatabase(ctx context.Context, c *config.Cluster, x catalog.Version) Check {
	ch := Check{Name: "database"}
	db, err := e.opts.OpenDB(ctx, c)
	if err != nil {
		ch.Detail = err.Error()
		return ch
	}
	defer db.Close()
	if err := db.Ping(ctx); err != nil {
		ch.Detail = err.Error()
		return ch
	}
	st, err := db.Schema(ctx)
	if err != nil {
		ch.Detail = err.Error()
		return ch
	}
	switch {
	case st.NeedsBootstrap:
		ch.Detail = "the database is not bootstrapped (no schema_meta)"
	case len(st.Pending()) > 0:
		ch.Detail = "pending migrations from an earlier upgrade: " + strings.Join(st.Pending(), ", ") + "; run 'kong migrations finish' first"
	case len(st.New(catalog.Default().Known(x))) > 0:
		ch.Detail = fmt.Sprintf("the database lacks migrations %s ships: %s", x, MigrationNames(st.New(catalog.Default().Known(x))))
	default:
		ch.OK, ch.Detail = true, "reachable, schema up to date for "+x.String()+", nothing pending"
	}
	return ch
}

// MigrationNames writes migrations as "core:021_340_to_350, acme:003_350_to_360".
func MigrationNames(ms []catalog.Migration) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Subsystem + ":" + m.Name
	}
	return strings.Join(parts, ", ")
}

func (e *Engine) checkMetrics(ctx context.Context, c *config.Cluster) Check {
	ch := Check{Name: "prometheus"}
	if e.opts.Metrics == nil {
		ch.OK, ch.Warning, ch.Detail = true, true, "not checked (no metrics client)"
		return ch
	}
	if err := e.opts.Metrics.Reachable(ctx, c.Prometheus.URL); err != nil {
		ch.Detail = err.Error()
		return ch
	}
	ch.OK, ch.Detail = true, c.Prometheus.URL+" answers"
	return ch
}

// checkSeries: the series the watch's checks need exist on X (3.x ships status and
// latency metrics off by default).
func (e *Engine) checkSeries(ctx context.Context, c *config.Cluster, x catalog.Version) Check {
	ch := Check{Name: "watch metrics"}
	problems, err := e.opts.Series.CheckSeries(ctx, c, x.String())
	switch {
	case err != nil:
		ch.Detail = err.Error()
	case len(problems) > 0:
		ch.Detail = strings.Join(problems, "; ")
	default:
		ch.OK, ch.Detail = true, "every series the watch's checks need is there"
	}
	return ch
}

// checkBackupTarget: the backup directory is writable (or creatable) with room for
// twice the database's size, and pg_dump is installed.
func (e *Engine) checkBackupTarget(ctx context.Context, c *config.Cluster) Check {
	ch := Check{Name: "backup target"}
	if _, err := exec.LookPath("pg_dump"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump"); len(m) == 0 {
			ch.Detail = "pg_dump is not installed (Debian: apt-get install postgresql-client)"
			return ch
		}
	}
	dir := filepath.Join(e.opts.Config.BackupDir, c.Name)
	existing := dir
	for {
		if _, err := os.Stat(existing); err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		existing = parent
	}
	if err := unix.Access(existing, unix.W_OK); err != nil {
		ch.Detail = fmt.Sprintf("%s is not writable: %v", existing, err)
		return ch
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(existing, &fs); err != nil {
		ch.Detail = fmt.Sprintf("free space of %s: %v", existing, err)
		return ch
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	var size int64
	if db, err := e.opts.OpenDB(ctx, c); err == nil {
		size, _ = db.Size(ctx)
		db.Close()
	}
	if free < 2*size {
		ch.Detail = fmt.Sprintf("%s has %s free; the database is %s and the backup wants twice that", dir, bytesString(free), bytesString(size))
		return ch
	}
	ch.OK, ch.Detail = true, fmt.Sprintf("%s writable, %s free for a %s database", dir, bytesString(free), bytesString(size))
	return ch
}

func bytesString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// evaluate fills in the migrations, what stays pending, new plugins (-f), breaking
// changes and the downtime to expect from earlier runs.
func (e *Engine) evaluate(ctx context.Context, p *Plan, c *config.Cluster, x, y catalog.Version) {
	cat := catalog.Default()
	p.Migrations = cat.Between(x, y)
	known := map[string]bool{}
	for _, s := range cat.Known(x) {
		known[s.Name] = true
	}
	for _, m := range p.Migrations {
		if m.Teardown {
			p.PendingAfterUp = append(p.PendingAfterUp, m)
		}
		if !known[m.Subsystem] && !slices.Contains(p.NewPlugins, m.Subsystem) {
			p.NewPlugins = append(p.NewPlugins, m.Subsystem)
		}
	}
	p.Force = len(p.NewPlugins) > 0
	br := cat.BreakingBetween(x, y)
	for _, line := range slices.SortedFunc(maps.Keys(br), func(a, b string) int {
		return catalog.MustParseVersion(a + ".0").Compare(catalog.MustParseVersion(b + ".0"))
	}) {
		p.Breaking = append(p.Breaking, Breaking{Line: line, Link: catalog.ChangelogURL(line), Changes: br[line]})
	}
	p.PredictedDowntime = e.predictDowntime(ctx, c.Name)
}

// predictDowntime averages the measured downtime of the cluster's last five successful
// runs.
func (e *Engine) predictDowntime(ctx context.Context, cluster string) time.Duration {
	runs, err := e.opts.Store.ListRuns(ctx, storage.RunFilter{Cluster: cluster, States: []storage.RunState{storage.StateSucceeded}, Limit: 5})
	if err != nil || len(runs) == 0 {
		return 0
	}
	var sum time.Duration
	n := 0
	for _, r := range runs {
		if !r.DowntimeStart.IsZero() && r.DowntimeEnd.After(r.DowntimeStart) {
			sum += r.DowntimeEnd.Sub(r.DowntimeStart)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / time.Duration(n)
}

func orAny(window string) string {
	if window == "" {
		return "(none: a time of its own)"
	}
	return window
}
