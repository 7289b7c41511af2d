package upgrade

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/notify/words"
)

// The checks of preflight (and plan), each against the real world.

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
			notHere = append(notHere, words.NodeDataPlane(n.Name))
		case errs[i] == nil && info.Database == "off":
			notHere = append(notHere, words.NodeDBLess(n.Name))
		case errs[i] == nil && info.Enterprise():
			notHere = append(notHere, words.NodeEnterprise(n.Name, info.Version, info.Edition))
		case errs[i] != nil:
			bad = append(bad, words.NodeFailed(n.Name, errs[i]))
		case !info.DBReachable:
			bad = append(bad, words.NodeNoDatabase(n.Name))
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
		ch.Detail = words.NodeProblems(append(notHere, bad...))
		return view, ch
	}
	if len(bad) > 0 {
		ch.Detail = words.NodeProblems(bad)
		return view, ch
	}
	switch {
	case len(versions) != 1:
		ch.Detail = words.NodesVersions(groups(versions))
		return view, ch
	case len(settings) != 1:
		ch.Detail = words.NodesPlugins(groups(settings))
		return view, ch
	case len(roles) != 1:
		ch.Detail = words.NodesRoles(groups(roles))
		return view, ch
	case len(targets) != 1:
		ch.Detail = words.NodesTargets(groups(targets))
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
		ch.Detail = words.NodesBadVersion(x, err)
		return view, ch
	}
	view = nodesView{X: xv, Plugins: strings.Split(set, ","), ControlPlane: role == "control_plane"}
	for t := range targets {
		p := strings.Split(t, "\x00")
		view.PGDatabase, view.PGSchema, view.PGUser = p[0], p[1], p[2]
	}
	ch.OK, ch.Detail = true, words.NodesAnswer(len(c.Nodes), xv.String(), view.Plugins, view.ControlPlane)
	return view, ch
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
		ch.Detail = words.DBNotBootstrapped
	case len(st.PendingOf(known)) > 0:
		ch.Detail = words.DBPending(st.PendingOf(known))
	case len(st.New(known)) > 0:
		ch.Detail = words.DBLacks(x.String(), plugins, migrationIDs(st.New(known)))
	default:
		ch.OK, ch.Detail = true, words.DBUpToDate(x.String(), plugins)
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
		ch.Detail = words.AccessOtherDatabase(view.PGDatabase, a.Database)
	case view.PGSchema != "" && view.PGSchema != a.Schema:
		ch.Detail = words.AccessOtherSchema(view.PGSchema, a.Schema)
	case len(a.Problems) > 0:
		ch.Detail = words.AccessProblems(a.Problems)
	default:
		ch.OK, ch.Detail = true, words.AccessOK(a.User, a.Schema, a.Database)
	}
	return ch
}

// MigrationNames writes migrations as "core:021_340_to_350, acme:003_350_to_360".
func MigrationNames(ms []catalog.Migration) string { return strings.Join(migrationIDs(ms), ", ") }

// migrationIDs names each migration "subsystem:name".
func migrationIDs(ms []catalog.Migration) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.Subsystem + ":" + m.Name
	}
	return ids
}

func (e *Engine) checkMetrics(ctx context.Context, c *config.Cluster) Check {
	ch := Check{Name: "prometheus"}
	if e.opts.Metrics == nil {
		ch.OK, ch.Warning, ch.Detail = true, true, words.MetricsUnchecked
		return ch
	}
	if err := e.opts.Metrics.Reachable(ctx, c.Prometheus.URL); err != nil {
		ch.Detail = err.Error()
		return ch
	}
	ch.OK, ch.Detail = true, words.MetricsAnswer(c.Prometheus.URL)
	return ch
}

// checkSeries: the series the watch's checks need exist on X (3.x ships status and
// latency metrics off by default).
func (e *Engine) checkSeries(ctx context.Context, c *config.Cluster, x catalog.Version) Check {
	ch := Check{Name: "watch metrics"}
	rep, err := e.opts.Series.CheckSeries(ctx, c, x.String())
	ch.OK, ch.Detail = err == nil && len(rep.Problems) == 0, words.Series(err, rep.Problems, rep.NotApplicable)
	return ch
}

// checkBackupTarget: the backup directory is writable (or creatable) with room for
// twice the database's size, and pg_dump is installed.
func (e *Engine) checkBackupTarget(ctx context.Context, c *config.Cluster) Check {
	ch := Check{Name: "backup target"}
	if _, err := exec.LookPath("pg_dump"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump"); len(m) == 0 {
			ch.Detail = words.NoPgDump
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
		ch.Detail = words.NotWritable(existing, err)
		return ch
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(existing, &fs); err != nil {
		ch.Detail = words.NoFreeSpace(existing, err)
		return ch
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	var size int64
	if db, err := e.opts.OpenDB(ctx, c); err == nil {
		size, _ = db.Size(ctx)
		db.Close()
	}
	if free < 2*size {
		ch.Detail = words.TooLittleRoom(dir, free, size)
		return ch
	}
	ch.OK, ch.Detail = true, words.BackupRoom(dir, free, size)
	return ch
}

// groups are the nodes that said the same thing, by what they said.
func groups(m map[string][]string) []words.Group {
	out := make([]words.Group, 0, len(m))
	for v, ns := range m {
		out = append(out, words.Group{Value: v, Nodes: ns})
	}
	return out
}
