package upgrade

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/notify/words"
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
type PlanStep = domain.PlanStep

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
	ControlPlane bool
	Breaking     []Breaking
	// Prediction is the downtime to expect, from earlier runs (the rehearsal refines its
	// migrations before the gate); Rehearsed says whether the cluster has a rehearsal.
	Prediction domain.Prediction
	Rehearsed  bool
	// Chain: Y is several guaranteed hops away and the run migrates through each in one
	// downtime; Hops are the versions after X, ending with Y (just Y for one hop).
	Chain    bool
	Hops     []string
	Baseline *domain.Baseline // the watch's checks now, when a Baseliner is set
	// FailedDatabases are the databases earlier rollbacks kept on the cluster's server,
	// with their sizes; FailedDatabasesErr says why they could not be listed.
	FailedDatabases    []domain.FailedDatabase
	FailedDatabasesErr string
	Refused            bool
	Reason             string
}

// Breaking is one minor line's breaking changes.
type Breaking = domain.Breaking

// Summary is the plan as people read it (notify.PlanText writes it).
func (p Plan) Summary() domain.PlanSummary {
	s := domain.PlanSummary{Cluster: p.Cluster, From: p.From, To: p.To, Guaranteed: p.Path.Guaranteed,
		Steps: p.Steps, NewPlugins: p.NewPlugins, Force: p.Force, Breaking: p.Breaking, Baseline: p.Baseline,
		Prediction: &p.Prediction, Rehearsed: p.Rehearsed, Chain: p.Chain, Refused: p.Refused, Reason: p.Reason,
		FailedDatabases: p.FailedDatabases, FailedDatabasesErr: p.FailedDatabasesErr}
	for _, h := range p.Path.Hops {
		s.Hops = append(s.Hops, h.String())
	}
	for _, ch := range p.Checks {
		s.Checks = append(s.Checks, domain.CheckVerdict{Name: ch.Name, Verdict: ch.Verdict(), Detail: ch.Detail})
	}
	s.Migrations, s.PendingAfterUp = migrationIDs(p.Migrations), migrationIDs(p.PendingAfterUp)
	return s
}

// PlanOption changes what Plan plans.
type PlanOption func(*domain.Run)

// AsChain plans the chain of guaranteed hops to Y in one downtime (start … --chain).
func AsChain(r *domain.Run) { r.Chain = true }

// Plan computes the dry run of upgrading cluster to version to. It changes nothing.
func (e *Engine) Plan(ctx context.Context, cluster, to string, opts ...PlanOption) (Plan, error) {
	c, err := e.cluster(cluster)
	if err != nil {
		return Plan{}, err
	}
	y, err := catalog.ParseVersion(to)
	if err != nil {
		return Plan{}, err
	}
	var run domain.Run
	for _, o := range opts {
		o(&run)
	}
	p := e.preflight(ctx, c, y, run)
	if p.FailedDatabases, err = e.failedDatabases(ctx, c); err != nil {
		p.FailedDatabasesErr = err.Error()
	}
	return p, nil
}

// preflight runs the checks of step 1 and fills in the rest of the plan. run is the run
// being prepared (zero for a dry run: then another active run on the cluster is a
// refusal). A scheduled run prepares before its window: the gate waits for it.
func (e *Engine) preflight(ctx context.Context, c *config.Cluster, y catalog.Version, run domain.Run) Plan {
	p := Plan{Cluster: c.Name, To: y.String(), Rehearsed: c.Rehearsal.Enabled()}
	add := func(ch Check) { p.Checks = append(p.Checks, ch) }

	if run.ID == 0 {
		if active, ok, err := e.opts.Store.ActiveRun(ctx, c.Name); err == nil && ok {
			add(Check{Name: "no other run", Detail: words.OtherRun(active.ID, active.State, c.Name)})
		} else if err == nil {
			add(Check{Name: "no other run", OK: true, Detail: words.NoOtherRun(c.Name)})
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
		p.Hops = []string{y.String()}
		add(Check{Name: "version path", OK: true, Detail: words.PathGuaranteed(x.String(), y.String(), string(path.Kind))})
	case run.Chain:
		p.Path, p.Chain = path, true
		for _, h := range path.Hops[1:] {
			p.Hops = append(p.Hops, h.String())
		}
		add(Check{Name: "version path", OK: true, Detail: words.PathChain(x.String(), y.String(), path.Versions())})
		add(chainInstall(c))
	case c.AllowUnverifiedPaths:
		p.Path = path
		add(Check{Name: "version path", OK: true, Warning: true, Detail: words.PathUnverifiedAllowed(x.String(), y.String(), path.Versions())})
	default:
		p.Path = path
		add(Check{Name: "version path", Detail: words.PathUnverified(x.String(), y.String(), path.Versions())})
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
		add(Check{Name: "watch on " + y.String(), OK: true, Warning: true, Detail: words.MetricsOffAfter3(x.String(), y.String())})
	}
	add(e.checkBackupTarget(ctx, c))
	if run.ScheduledFor.IsZero() {
		add(e.checkWindow(c, e.opts.Clock.Now()))
	} else {
		add(Check{Name: "window", OK: true, Detail: words.WindowScheduled(run.Window, run.ScheduledFor)})
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
			p.Reason = words.Refusal(ch.Name, ch.Detail)
			break
		}
	}
	p.Steps = nil
	for _, d := range forwardSteps {
		ps := PlanStep{Index: int(d.ID), Title: domain.Versioned(d.Title, p.From, p.To)}
		switch d.ID {
		case domain.StepMigrationsUp:
			ps.Note = words.NoteUp(len(p.Migrations), p.NewPlugins)
		case domain.StepMigrationsFinish:
			ps.Note = words.NoteFinish(len(p.PendingAfterUp))
		case domain.StepRehearsal:
			ps.Note = words.NoteRehearsal(p.Rehearsed)
		case domain.StepApproval:
			ps.Note = words.NoteApproval(e.opts.Config.Access.RequiredApprovals, e.opts.Config.Access.Approvers)
		}
		p.Steps = append(p.Steps, ps)
	}
}

// chainInstall checks that a chain can put each hop's version where the migrations run: an
// install command, or migrations commands that name the version themselves (an image).
func chainInstall(c *config.Cluster) Check {
	ch := Check{Name: "chain", OK: true, Detail: words.ChainInstalls(c.Nodes[0].Name)}
	if len(c.Commands.Install) > 0 {
		return ch
	}
	for _, argv := range []config.Argv{c.Commands.MigrationsUp, c.Commands.MigrationsFinish} {
		if !strings.Contains(strings.Join(argv, " "), ".Version") {
			ch.OK, ch.Detail = false, words.ChainCannotInstall
			return ch
		}
	}
	ch.Detail = words.ChainVersionedCommands
	return ch
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
	return Check{Name: "migrations timeout", OK: true, Warning: true, Detail: words.MigrationsTimeout(missing)}, true
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
	return words.ControlPlanes(y.String(), y.Major, y.Line())
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
	p.Prediction = e.predict(ctx, c, 0, nil, len(p.Hops))
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
