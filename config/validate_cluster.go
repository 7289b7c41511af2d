package config

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

var reEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validation of the clusters: names, nodes, URLs, command templates, Prometheus and the watch.

func (v *validator) clusters(windows map[string]bool) {
	if len(v.cfg.Clusters) == 0 {
		v.col.add("clusters", "at least one cluster (see examples/config.yaml)", "no clusters are configured")
		return
	}
	names := map[string]bool{}
	for i := range v.cfg.Clusters {
		c := &v.cfg.Clusters[i]
		p := index("clusters", i)
		v.uniqueName(join(p, "name"), c.Name, names, "cluster")
		for j, w := range c.Windows {
			if !windows[w] {
				v.col.add(index(join(p, "windows"), j), "the name of a window under windows:"+known(windows), "window %q is not defined", w)
			}
		}
		if v.required(join(p, "database.dsn"), string(c.Database.DSN), "Kong's database, e.g. dsn: ${KONG_PG_DSN}") {
			if _, err := pgconn.ParseConfig(string(c.Database.DSN)); err != nil {
				// pgconn's message may quote the connection string: never echo it.
				v.col.add(join(p, "database.dsn"), "postgres://user:password@host:5432/kong or host=… user=… dbname=…", "is not a PostgreSQL connection string")
			}
		}
		for _, d := range []struct {
			key string
			v   Duration
		}{{"statement_timeout", c.Database.StatementTimeout}, {"lock_timeout", c.Database.LockTimeout}, {"backup_timeout", c.Database.BackupTimeout},
			{"restore_timeout", c.Database.RestoreTimeout}, {"fingerprint_timeout", c.Database.FingerprintTimeout}} {
			if d.v < 0 {
				v.col.add(join(p, "database."+d.key), "a positive duration such as 10m, or nothing for the default", "is %s", d.v)
			}
		}
		v.nodes(p, c)
		if c.Parallelism < 1 {
			v.col.add(join(p, "parallelism"), "1 or more (nodes acted on at once)", "is %d", c.Parallelism)
		}
		if c.CommandTimeout <= 0 {
			v.col.add(join(p, "command_timeout"), "a positive duration such as 10m", "is %s", c.CommandTimeout)
		}
		v.commands(p, c)
		for j, name := range c.CommandsEnv {
			if !reEnvName.MatchString(name) {
				v.col.add(index(join(p, "commands_env"), j), "the name of an environment variable, e.g. SSH_AUTH_SOCK", "%q is not a variable name", name)
			}
		}
		v.rehearsal(p, c)
		v.changeTicket(p, &c.ChangeTicket)
		v.prometheus(p, c)
		v.watch(p, c)
	}
}

func known(set map[string]bool) string {
	if len(set) == 0 {
		return " (none is defined)"
	}
	return " (" + strings.Join(slices.Sorted(maps.Keys(set)), ", ") + ")"
}

func (v *validator) nodes(p string, c *Cluster) {
	if len(c.Nodes) == 0 {
		v.col.add(join(p, "nodes"), "at least one node with name and admin_url", "no nodes: there is nothing to upgrade")
		return
	}
	seen := map[string]bool{}
	for j, n := range c.Nodes {
		np := index(join(p, "nodes"), j)
		if v.required(join(np, "name"), n.Name, "a node name such as kong-eu-1") {
			if !reNodeName.MatchString(n.Name) {
				v.col.add(join(np, "name"), "letters, digits, ., - and _ (at most 63)", "%q is not a valid node name", n.Name)
			}
			if seen[n.Name] {
				v.col.add(join(np, "name"), "a name used once in the cluster", "node %q is defined twice", n.Name)
			}
			seen[n.Name] = true
		}
		if v.required(join(np, "admin_url"), n.AdminURL, "Kong's Admin API URL, e.g. http://10.1.0.11:8001") {
			v.url(join(np, "admin_url"), n.AdminURL)
		}
		if n.StatusURL != "" {
			v.url(join(np, "status_url"), n.StatusURL)
		}
	}
}

// url checks an http(s) URL with a host.
func (v *validator) url(path, raw string) bool {
	const want = "an http:// or https:// URL with a host, e.g. http://10.1.0.11:8001"
	u, err := url.Parse(raw)
	if err != nil {
		v.col.add(path, want, "%q is not a URL", raw)
		return false
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		v.col.add(path, want, "%q has scheme %q", raw, u.Scheme)
		return false
	}
	if u.Host == "" {
		v.col.add(path, want, "%q has no host", raw)
		return false
	}
	if u.User != nil {
		v.col.add(path, want+" (no credentials in URLs)", "%q carries credentials", u.Redacted())
		return false
	}
	return true
}

func (v *validator) commands(p string, c *Cluster) {
	cp := join(p, "commands")
	specs := c.Commands.specs()
	for _, s := range specs {
		path := join(cp, s.key)
		if len(s.argv) == 0 {
			if s.required {
				v.col.add(path, `an argv list such as [ssh, "{{.Node.Vars.host}}", sudo, kong, `+strings.ReplaceAll(s.key, "migrations_", "migrations ")+`]`, "is missing: drawbridge cannot %s without it", strings.ReplaceAll(s.key, "_", " "))
			}
			continue
		}
		v.argv(path, s, c)
	}
	if len(c.Commands.Install) == 0 && len(c.Commands.Start) > 0 && !c.Commands.Start.usesVersion() {
		v.col.add(join(cp, "install"), "an install command using {{.Version}}, or a start command that uses {{.Version}}",
			"is missing and commands.start does not use {{.Version}}: nothing would put the new version on the nodes")
	}
}

// rehearsal checks the rehearsal section: both commands or neither, each rendering with
// .Scratch, and a DSN that parses when one is given.
func (v *validator) rehearsal(p string, c *Cluster) {
	rp := join(p, "rehearsal")
	r := c.Rehearsal
	if r.DSN != "" {
		if _, err := pgconn.ParseConfig(string(r.DSN)); err != nil {
			v.col.add(join(rp, "dsn"), "postgres://user:password@host:5432/postgres or host=… user=… dbname=…", "is not a PostgreSQL connection string")
		}
	}
	if !r.Enabled() {
		if r.DSN != "" || len(r.MigrationsFinish) > 0 {
			v.col.add(join(rp, "migrations_up"), `an argv list running Y's kong migrations up against the copy, e.g. [docker, run, --rm, -e, "KONG_PG_DATABASE={{.Scratch.Database}}", "kong:{{.Version}}", kong, migrations, up]`, "is missing: the rehearsal cannot run without it")
		}
		return
	}
	for _, s := range []commandSpec{{"migrations_up", r.MigrationsUp, true, false}, {"migrations_finish", r.MigrationsFinish, true, false}} {
		path := join(rp, s.key)
		if len(s.argv) == 0 {
			v.col.add(path, `an argv list running Y's kong `+strings.ReplaceAll(s.key, "_", " ")+` against {{.Scratch.Database}}`, "is missing: the rehearsal needs both migrations commands")
			continue
		}
		v.argv(path, s, c)
	}
}

// argv checks that every element of a command template parses, uses only CommandData's
// fields, and renders for every node (a .Node.Vars key a node lacks is a problem).
func (v *validator) argv(path string, s commandSpec, c *Cluster) {
	for i, elem := range s.argv {
		if _, err := parseElem(i, elem); err != nil {
			v.col.add(index(path, i), "a text/template such as \"{{.Node.Vars.host}}\"", "%v", err)
			return
		}
	}
	nodes := c.Nodes
	if !s.perNode && len(nodes) > 1 {
		nodes = nodes[:1] // run-once commands see the first node
	}
	if len(nodes) == 0 {
		nodes = []Node{{Name: "node", AdminURL: "http://127.0.0.1:8001"}}
	}
	for _, n := range nodes {
		for _, force := range []bool{false, true} {
			data := CommandData{Cluster: c.Name, Run: "1", From: "3.4.2", To: "3.5.0", Version: "3.5.0", Force: force, Node: NodeDataOf(n),
				Scratch: ScratchData{Database: "kong_rehearsal_1", Host: "127.0.0.1", Port: "5432", User: "kong"}}
			if _, err := s.argv.Render(data); err != nil {
				v.col.add(path, "only the fields .Cluster .Run .From .To .Version .Force .Node.Name .Node.AdminURL .Node.Vars.<key> .Scratch.Database .Scratch.Host .Scratch.Port .Scratch.User",
					"does not render for node %q: %v", n.Name, err)
				return
			}
		}
	}
}

func (v *validator) prometheus(p string, c *Cluster) {
	pp := join(p, "prometheus")
	if v.required(join(pp, "url"), c.Prometheus.URL, "the Prometheus server that scrapes this cluster, e.g. http://prometheus:9090") {
		v.url(join(pp, "url"), c.Prometheus.URL)
	}
	if v.required(join(pp, "selector"), c.Prometheus.Selector, `label matchers that pick this cluster's series, e.g. 'cluster="prod-eu"'`) &&
		!reSelector.MatchString(c.Prometheus.Selector) {
		v.col.add(join(pp, "selector"), `label matchers such as 'cluster="prod-eu"' or 'cluster="prod-eu", instance=~"kong-.*"'`,
			"%q is not a list of PromQL label matchers", c.Prometheus.Selector)
	}
}

// QueryData is what a watch check's query template may use.
type QueryData struct {
	Selector string // the cluster's prometheus.selector
	Cluster  string
	Window   string // the rate window the built-in checks use, e.g. "1m" (from the scrape and watch intervals)
}

// Render expands the check's query.
func (ch *Check) Render(data QueryData) (string, error) {
	t := ch.tmpl
	if t == nil {
		var err error
		if t, err = template.New("query").Option("missingkey=error").Parse(ch.Query); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (v *validator) watch(p string, c *Cluster) {
	wp := join(p, "watch")
	w := &c.Watch
	if w.Duration <= 0 {
		v.col.add(join(wp, "duration"), "a positive duration such as 15m", "is %s", w.Duration)
	}
	if w.Interval < Duration(100*time.Millisecond) {
		v.col.add(join(wp, "interval"), "at least 100ms, e.g. 30s", "is %s", w.Interval)
	} else if w.Duration > 0 && w.Interval > w.Duration {
		v.col.add(join(wp, "interval"), "at most watch.duration ("+w.Duration.String()+")", "is %s: the watch would end before its first check", w.Interval)
	}
	if w.FailureLimit < 1 {
		v.col.add(join(wp, "failure_limit"), "1 or more consecutive failing intervals", "is %d", w.FailureLimit)
	} else if w.Duration > 0 && w.Interval >= Duration(100*time.Millisecond) && w.Interval <= w.Duration {
		// The watch must be able to see a breach: after the warm-up (the rate window, at
		// most half the watch, during which the new series may have no rate yet) there
		// must be failure_limit intervals left.
		window := max(2*w.Interval.D(), 4*c.Prometheus.ScrapeInterval.D())
		warm := min(window, w.Duration.D()/2)
		if need := warm + time.Duration(w.FailureLimit)*w.Interval.D(); w.Duration.D() < need {
			v.col.add(join(wp, "duration"), fmt.Sprintf("at least %s: the warm-up (%s) plus failure_limit (%d) × interval (%s)",
				Duration(need), Duration(warm), w.FailureLimit, w.Interval),
				"is %s: the watch would end before a breach could be seen", w.Duration)
		}
	}
	if w.BaselineLookback <= 0 {
		v.col.add(join(wp, "baseline_lookback"), "a positive duration such as 30m", "is %s", w.BaselineLookback)
	}
	if c.Prometheus.ScrapeInterval < 0 {
		v.col.add(join(p, "prometheus.scrape_interval"), "a positive duration such as 15s, or nothing to measure it", "is %s", c.Prometheus.ScrapeInterval)
	}
	seen := map[string]bool{}
	for i := range w.Checks {
		ch := &w.Checks[i]
		cp := index(join(wp, "checks"), i)
		if v.required(join(cp, "name"), ch.Name, "a short name such as \"5xx ratio\"") {
			if seen[ch.Name] {
				v.col.add(join(cp, "name"), "a name used once per cluster", "check %q is defined twice", ch.Name)
			}
			seen[ch.Name] = true
		}
		if v.required(join(cp, "query"), ch.Query, "a PromQL query using {{.Selector}}") {
			t, err := template.New("query").Option("missingkey=error").Parse(ch.Query)
			if err != nil {
				v.col.add(join(cp, "query"), "a text/template over .Selector, .Cluster and .Window", "%v", strings.TrimPrefix(err.Error(), "template: query:"))
			} else {
				ch.tmpl = t
				if _, err := ch.Render(QueryData{Selector: c.Prometheus.Selector, Cluster: c.Name, Window: "1m"}); err != nil {
					v.col.add(join(cp, "query"), "only the fields .Selector, .Cluster and .Window", "%v", cleanQueryErr(err))
				}
			}
		}
		v.thresholds(cp, ch)
	}
}

func cleanQueryErr(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, `executing "query" at `); i >= 0 {
		msg = msg[i+len(`executing "query" at `):]
	}
	return msg
}

func (v *validator) thresholds(cp string, ch *Check) {
	const want = "at least one of max, min, max_ratio_to_baseline, min_ratio_to_baseline"
	vals := []struct {
		key   string
		val   *float64
		ratio bool
	}{{"max", ch.Max, false}, {"min", ch.Min, false}, {"max_ratio_to_baseline", ch.MaxRatioToBaseline, true}, {"min_ratio_to_baseline", ch.MinRatioToBaseline, true}}
	any := false
	for _, t := range vals {
		if t.val == nil {
			continue
		}
		any = true
		x := *t.val
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0):
			v.col.add(join(cp, t.key), "a finite number", "is %v", x)
		case t.ratio && x <= 0:
			v.col.add(join(cp, t.key), "a ratio above 0, e.g. 1.5 for 50% above the baseline", "is %v", x)
		}
	}
	if !any {
		v.col.add(cp, want, "check %q has no threshold: it could never fail", ch.Name)
	}
	if ch.Min != nil && ch.Max != nil && *ch.Min > *ch.Max {
		v.col.add(join(cp, "min"), fmt.Sprintf("at most max (%v)", *ch.Max), "is %v: every value would fail", *ch.Min)
	}
	if ch.MinRatioToBaseline != nil && ch.MaxRatioToBaseline != nil && *ch.MinRatioToBaseline > *ch.MaxRatioToBaseline {
		v.col.add(join(cp, "min_ratio_to_baseline"), fmt.Sprintf("at most max_ratio_to_baseline (%v)", *ch.MaxRatioToBaseline), "is %v: every value would fail", *ch.MinRatioToBaseline)
	}
}
