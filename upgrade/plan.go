package upgrade

import (
	"context"
	"errors"
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
	"github.com/drawbridge/drawbridge/domain"
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
	Cluster        string
	From, To       string
	Path           catalog.Path
	Checks         []Check
	Steps          []PlanStep
	Migrations     []catalog.Migration // what "migrations up" runs
	PendingAfterUp []catalog.Migration // those with a teardown: "finish" completes them
	NewPlugins     []string            // subsystems new to the database: up runs with -f
	Force          bool
	// Plugins is the nodes' plugins setting: schema_meta is judged by the plugins they
	// load (nil: not known, every bundled plugin).
	Plugins []string
	// ControlPlane: the nodes are hybrid control planes; their data planes follow
	// separately.
	ControlPlane      bool
	Breaking          []Breaking
	PredictedDowntime time.Duration    // 0: no history
	Baseline          *domain.Baseline // the watch's checks now, when a Baseliner is set
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
	p := e.preflight(ctx, c, y, domain.Run{})
	return p, nil
}

// preflight runs the checks of step 1 and fills in the rest of the plan. run is the run
// being prepared (zero for a dry run: then another active run on the cluster is a
// refusal). A scheduled run prepares before its window: the gate waits for it.
func (e *Engine) preflight(ctx context.Context, c *config.Cluster, y catalog.Version, run domain.Run) Plan {
	p := Plan{Cluster: c.Name, To: y.String()}
	add := func(ch Check) { p.Checks = append(p.Checks, ch) }

	if run.ID == 0 {
		if active, ok, err := e.opts.Store.ActiveRun(ctx, c.Name); err == nil && ok {
			add(Check{Name: "no other run", Detail: fmt.Sprintf("run %s is %s on %s", active.ID, active.State.Human(), c.Name)})
		} else if err == nil {
			add(Check{Name: "no other run", OK: true, Detail: "no run in progress on " + c.Name})
		}
	}
	view, nodes := e.checkNodes(ctx, c)
	add(nodes)
	x := view.X
	if x.IsZero() {
		p.finish(e)
		return p
	}
	p.From, p.Plugins, p.ControlPlane = x.String(), view.Plugins, view.ControlPlane
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
	add(e.checkDatabase(ctx, c, x, view.Plugins))
	if view.PGUser != "" || view.PGDatabase != "" {
		add(e.checkAccess(ctx, c, view))
	}
	add(e.checkMetrics(ctx, c))
	wc := watchCluster(c, view.ControlPlane)
	if e.opts.Series != nil {
		add(e.checkSeries(ctx, wc, x))
	}
	if x.Major < 3 && y.Major >= 3 && !view.ControlPlane {
		add(Check{Name: "watch on " + y.String(), OK: true, Warning: true, Detail: fmt.Sprintf("Kong %s exports request, latency and bandwidth metrics only when the prometheus plugin's status_code_metrics, latency_metrics and bandwidth_metrics are on (upstream_health_metrics for target health); %s's plugin config has no such fields and no migration adds them, so the watch on %s would see nothing: turn them on after the migrations (PATCH the plugin) or the watch will alert that it cannot see the metrics", y, x, y)})
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
	if view.ControlPlane {
		add(Check{Name: "hybrid mode", OK: true, Warning: true, Detail: controlPlaneWarning(y)})
	}
	if ch, ok := migrationsTimeout(c, y); ok {
		add(ch)
	}
	if e.opts.Baseliner != nil {
		if b, err := e.opts.Baseliner.Baseline(ctx, wc, x.String(), e.earlierRuns(ctx, c.Name, 0)...); err == nil {
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
		ps := PlanStep{Index: int(d.ID), Title: domain.Versioned(d.Title, p.From, p.To)}
		switch d.ID {
		case domain.StepMigrationsUp:
			ps.Note = fmt.Sprintf("%d migrations", len(p.Migrations))
			if p.Force {
				ps.Note += ", with -f (new plugins: " + strings.Join(p.NewPlugins, ", ") + ")"
			}
		case domain.StepMigrationsFinish:
			ps.Note = fmt.Sprintf("completes %d pending", len(p.PendingAfterUp))
		case domain.StepApproval:
			ps.Note = fmt.Sprintf("%d approval(s) from %s", e.opts.Config.Access.RequiredApprovals, strings.Join(e.opts.Config.Access.Approvers, ", "))
		}
		p.Steps = append(p.Steps, ps)
	}
}

// nodesView is what the nodes say about the cluster: the version they run, the plugins
// they load (their plugins setting, as kong.PluginsSetting normalises it), and whether they
// are hybrid control planes.
type nodesView struct {
	X            catalog.Version
	Plugins      []string
	ControlPlane bool
	// Where the nodes keep Kong's tables (pg_database, pg_schema, pg_user), when they say.
	PGDatabase, PGSchema, PGUser string
}

// PluginsText is how people read a plugins setting: "every bundled plugin", "key-auth,
// prometheus, rate-limiting", "none (plugins = off)".
func PluginsText(setting []string) string {
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

// checkNodes asks every node what it runs. They must all answer the same Kong OSS version X
// with the database reachable, load the same plugins, and share Kong's database: DB-less
// nodes, data planes and Kong Enterprise are refused with a sentence saying why.
func (e *Engine) checkNodes(ctx context.Context, c *config.Cluster) (nodesView, Check) {
	infos, errs := e.allInfo(ctx, c.Nodes)
	ch := Check{Name: "nodes answer"}
	var view nodesView
	var bad, notHere []string
	versions := map[string][]string{}
	settings := map[string][]string{}
	roles := map[string][]string{}
	targets := map[string][]string{}
	for i, n := range c.Nodes {
		info := infos[i]
		switch {
		case errors.Is(errs[i], kong.ErrNoDatabase), errs[i] == nil && info.Role == "data_plane":
			notHere = append(notHere, fmt.Sprintf("%s is a data plane: it keeps no database to migrate; data planes are upgraded by replacing them, after their control planes", n.Name))
		case errs[i] == nil && info.Database == "off":
			notHere = append(notHere, fmt.Sprintf("%s is DB-less (database = off): it keeps no database to migrate; DB-less nodes are upgraded by replacing them with the new version and the same declarative configuration", n.Name))
		case errs[i] == nil && info.Enterprise():
			edition := ""
			if info.Edition != "" {
				edition = ", edition " + info.Edition
			}
			notHere = append(notHere, fmt.Sprintf("%s runs Kong Enterprise %s%s: drawbridge upgrades Kong OSS only (Enterprise has migrations and upgrade paths of its own)", n.Name, info.Version, edition))
		case errs[i] != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", n.Name, errs[i]))
		case !info.DBReachable:
			bad = append(bad, fmt.Sprintf("%s: database not reachable from the node", n.Name))
		default:
			versions[info.Version] = append(versions[info.Version], n.Name)
			set := strings.Join(kong.PluginsSetting(info.Plugins), ",")
			settings[set] = append(settings[set], n.Name)
			role := cmpOr(info.Role, "traditional")
			roles[role] = append(roles[role], n.Name)
			target := info.PGDatabase + "\x00" + info.PGSchema + "\x00" + info.PGUser
			targets[target] = append(targets[target], n.Name)
		}
	}
	if len(notHere) > 0 {
		ch.Detail = strings.Join(append(notHere, bad...), "; ")
		return view, ch
	}
	if len(bad) > 0 {
		ch.Detail = strings.Join(bad, "; ")
		return view, ch
	}
	groups := func(m map[string][]string, one, many string, text func(string) string) string {
		var parts []string
		for v, ns := range m {
			verb := one
			if len(ns) > 1 {
				verb = many
			}
			parts = append(parts, strings.Join(ns, ", ")+" "+verb+" "+text(v))
		}
		slices.Sort(parts)
		return strings.Join(parts, "; ")
	}
	if len(versions) != 1 {
		var parts []string
		for v, ns := range versions {
			parts = append(parts, v+" on "+strings.Join(ns, ", "))
		}
		slices.Sort(parts)
		ch.Detail = "nodes answer different versions: " + strings.Join(parts, "; ")
		return view, ch
	}
	if len(settings) != 1 {
		ch.Detail = "nodes load different plugins (plugins in kong.conf): " + groups(settings, "loads", "load", func(v string) string { return PluginsText(strings.Split(v, ",")) }) +
			"; Kong creates and checks migrations for the loaded plugins only, so the nodes disagree about what the database needs"
		return view, ch
	}
	if len(roles) != 1 {
		ch.Detail = "nodes have different roles: " + groups(roles, "is", "are", func(v string) string { return v })
		return view, ch
	}
	if len(targets) != 1 {
		ch.Detail = "nodes keep Kong's tables in different places (pg_database, pg_schema, pg_user): " + groups(targets, "uses", "use", func(v string) string {
			p := strings.Split(v, "\x00")
			return fmt.Sprintf("database %s, schema %s, user %s", cmpOr(p[0], "?"), cmpOr(p[1], "(default)"), cmpOr(p[2], "?"))
		})
		return view, ch
	}
	var x, set, role string
	for v := range versions {
		x = v
	}
	for s := range settings {
		set = s
	}
	for r := range roles {
		role = r
	}
	xv, err := catalog.ParseVersion(x)
	if err != nil {
		ch.Detail = fmt.Sprintf("nodes answer version %q: %v", x, err)
		return view, ch
	}
	view = nodesView{X: xv, Plugins: strings.Split(set, ","), ControlPlane: role == "control_plane"}
	for t := range targets {
		p := strings.Split(t, "\x00")
		view.PGDatabase, view.PGSchema, view.PGUser = p[0], p[1], p[2]
	}
	ch.OK, ch.Detail = true, fmt.Sprintf("all %d nodes answer %s with the database reachable; they load %s", len(c.Nodes), xv, PluginsText(view.Plugins))
	if view.ControlPlane {
		ch.Detail += "; they are hybrid control planes"
	}
	return view, ch
}

// migrationsTimeout warns when Y is 3.7 or later and the migrations commands do not pass
// --db-timeout: through 3.6 it defaulted to 60 s; from 3.7 (Kong PR #12761) Kong applies
// pg_timeout, 5 s by default, to every migration statement, and a long migration fails.
func migrationsTimeout(c *config.Cluster, y catalog.Version) (Check, bool) {
	if y.Less(catalog.MustParseVersion("3.7.0")) {
		return Check{}, false
	}
	var missing []string
	for name, argv := range map[string]config.Argv{"migrations_up": c.Commands.MigrationsUp, "migrations_finish": c.Commands.MigrationsFinish} {
		if len(argv) > 0 && !slices.ContainsFunc(argv, func(a string) bool { return strings.Contains(a, "--db-timeout") }) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return Check{}, false
	}
	slices.Sort(missing)
	return Check{Name: "migrations timeout", OK: true, Warning: true, Detail: fmt.Sprintf(
		"%s do not pass --db-timeout: from 3.7 Kong then applies pg_timeout (5 s by default) to every migration statement, so a migration that takes longer on a large table fails; add --db-timeout 600 (seconds) to them",
		strings.Join(missing, " and "))}, true
}

// watchCluster is the cluster as the watch sees it: control planes proxy nothing, so their
// watch reads the data planes' compatibility instead of request metrics.
func watchCluster(c *config.Cluster, controlPlane bool) *config.Cluster {
	if !controlPlane {
		return c
	}
	cp := *c
	cp.ControlPlane = true
	return &cp
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
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

// controlPlaneWarning is what people must know before upgrading hybrid control planes to y.
func controlPlaneWarning(y catalog.Version) string {
	return fmt.Sprintf("the nodes are control planes: their data planes are not upgraded by this run and keep serving with their last configuration while the control planes are down; afterwards a control plane on %s accepts data planes of %d.x up to %s (Kong refuses a data plane whose major differs or whose minor is newer), so upgrade the data planes next, by replacing them; the watch includes kong_data_plane_version_compatible",
		y, y.Major, y.Line())
}

func (e *Engine) checkDatabase(ctx context.Context, c *config.Cluster, x catalog.Version, plugins []string) Check {
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
	known := catalog.Default().KnownFor(x, plugins)
	switch {
	case st.NeedsBootstrap:
		ch.Detail = "the database is not bootstrapped (no schema_meta)"
	case len(st.PendingOf(known)) > 0:
		ch.Detail = "pending migrations from an earlier upgrade: " + strings.Join(st.PendingOf(known), ", ") + "; run 'kong migrations finish' first"
	case len(st.New(known)) > 0:
		ch.Detail = fmt.Sprintf("the database lacks migrations %s ships for %s: %s", x, PluginsText(plugins), MigrationNames(st.New(known)))
	default:
		ch.OK, ch.Detail = true, fmt.Sprintf("reachable, schema up to date for %s and %s, nothing pending", x, PluginsText(plugins))
	}
	return ch
}

// checkAccess: drawbridge reads the database and schema the nodes use, and their pg_user may
// run the migrations (create in Kong's schema, alter Kong's tables).
func (e *Engine) checkAccess(ctx context.Context, c *config.Cluster, view nodesView) Check {
	ch := Check{Name: "database user"}
	db, err := e.opts.OpenDB(ctx, c)
	if err != nil {
		ch.Detail = err.Error()
		return ch
	}
	defer db.Close()
	a, err := db.Access(ctx, cmpOr(view.PGUser, "kong"))
	if err != nil {
		ch.Detail = err.Error()
		return ch
	}
	switch {
	case view.PGDatabase != "" && view.PGDatabase != a.Database:
		ch.Detail = fmt.Sprintf("the nodes use database %s (pg_database), drawbridge's DSN database %s: drawbridge would back up and check another database than the one Kong migrates", view.PGDatabase, a.Database)
	case view.PGSchema != "" && view.PGSchema != a.Schema:
		ch.Detail = fmt.Sprintf("the nodes keep Kong's tables in schema %s (pg_schema), drawbridge reads schema %s: add search_path=%s to the database DSN", view.PGSchema, a.Schema, view.PGSchema)
	case len(a.Problems) > 0:
		ch.Detail = "the nodes' pg_user cannot run the migrations: " + strings.Join(a.Problems, "; ")
	default:
		ch.OK, ch.Detail = true, fmt.Sprintf("%s may create in schema %s of database %s and owns Kong's tables", a.User, a.Schema, a.Database)
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
	rep, err := e.opts.Series.CheckSeries(ctx, c, x.String())
	switch {
	case err != nil:
		ch.Detail = err.Error()
	case len(rep.Problems) > 0:
		ch.Detail = strings.Join(rep.Problems, "; ")
	default:
		ch.OK, ch.Detail = true, "every series the watch's checks need is there"
	}
	if len(rep.NotApplicable) > 0 {
		ch.Detail += "; not applicable: " + strings.Join(rep.NotApplicable, "; ")
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

// evaluate fills in the migrations (of the plugins the nodes load), what stays pending,
// the subsystems new to the database (-f), breaking changes and the downtime to expect from
// earlier runs.
func (e *Engine) evaluate(ctx context.Context, p *Plan, c *config.Cluster, x, y catalog.Version) {
	cat := catalog.Default()
	p.Migrations = cat.BetweenFor(x, y, p.Plugins)
	for _, m := range p.Migrations {
		if m.Teardown {
			p.PendingAfterUp = append(p.PendingAfterUp, m)
		}
	}
	p.NewPlugins = e.newToDatabase(ctx, c, x, y, p.Plugins)
	p.Force = len(p.NewPlugins) > 0
	br := cat.BreakingBetween(x, y)
	for _, line := range slices.SortedFunc(maps.Keys(br), func(a, b string) int {
		return catalog.MustParseVersion(a + ".0").Compare(catalog.MustParseVersion(b + ".0"))
	}) {
		p.Breaking = append(p.Breaking, Breaking{Line: line, Link: catalog.ChangelogURL(line), Changes: br[line]})
	}
	p.PredictedDowntime = e.predictDowntime(ctx, c.Name)
}

// newToDatabase are the subsystems Y brings for the loaded plugins that have no schema_meta
// row yet: a plugin new to the database, for which Kong's docs ask "migrations up -f". When
// the database cannot be read, the subsystems X does not know stand in.
func (e *Engine) newToDatabase(ctx context.Context, c *config.Cluster, x, y catalog.Version, plugins []string) []string {
	known := catalog.Default().KnownFor(y, plugins)
	if db, err := e.opts.OpenDB(ctx, c); err == nil {
		defer db.Close()
		if st, err := db.Schema(ctx); err == nil && !st.NeedsBootstrap {
			return st.Rowless(known)
		}
	}
	had := map[string]bool{}
	for _, s := range catalog.Default().KnownFor(x, plugins) {
		had[s.Name] = true
	}
	var out []string
	for _, s := range known {
		if !had[s.Name] {
			out = append(out, s.Name)
		}
	}
	return out
}

// predictDowntime averages the measured downtime of the cluster's last five successful
// runs.
func (e *Engine) predictDowntime(ctx context.Context, cluster string) time.Duration {
	runs, err := e.opts.Store.ListRuns(ctx, storage.RunFilter{Cluster: cluster, States: []domain.RunState{domain.StateSucceeded}, Limit: 5})
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
