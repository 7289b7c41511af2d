package upgrade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/units"
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
		ch.Detail = fmt.Sprintf("%s has %s free; the database is %s and the backup wants twice that", dir, units.Bytes(free), units.Bytes(size))
		return ch
	}
	ch.OK, ch.Detail = true, fmt.Sprintf("%s writable, %s free for a %s database", dir, units.Bytes(free), units.Bytes(size))
	return ch
}
