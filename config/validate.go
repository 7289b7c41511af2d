package config

import (
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/robfig/cron/v3"
)

// validator checks a decoded Config for everything a user can get wrong. It records
// problems and never stops at the first one.
type validator struct {
	col     *collector
	cfg     *Config
	missing map[string]string // key path → unset variable that left it empty
}

var (
	reUser      = regexp.MustCompile(`^[UW][A-Z0-9]{6,20}$`)
	reGroup     = regexp.MustCompile(`^S[A-Z0-9]{6,20}$`)
	reChannel   = regexp.MustCompile(`^[CG][A-Z0-9]{6,20}$`)
	reName      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	reNodeName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	reCommand   = regexp.MustCompile(`^/[a-z0-9_-]{1,31}$`)
	reSelector  = regexp.MustCompile(`^\s*` + matcher + `(\s*,\s*` + matcher + `)*\s*,?\s*$`)
	matcher     = `[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"([^"\\]|\\.)*"`
	nameWant    = "lower-case letters, digits, - and _ (at most 63), e.g. prod-eu"
	userWant    = "a Slack user ID (U… or W…, e.g. U0AAAAAAA) or user group ID (S…, e.g. S0PLATFORM)"
	channelWant = "a Slack channel ID such as C0123456789 (channel details → About → Channel ID)"
)

func (v *validator) validate() {
	c := v.cfg
	v.listen("listen", c.Listen)
	v.required("state_file", c.StateFile, "a file path such as ./data/drawbridge.db")
	v.required("backup_dir", c.BackupDir, "a directory such as ./data/backups")
	v.slack()
	v.access()
	windows := v.windows()
	v.blackouts()
	v.clusters(windows)
}

// empty reports a required key that is empty, naming the unset variable if one emptied it.
func (v *validator) required(path, val, want string) bool {
	if strings.TrimSpace(val) != "" {
		return true
	}
	if _, ok := v.missing[path]; ok {
		// Either already reported as an unset variable, or allowed (validate-config):
		// the value is checked where the variable is set.
		return false
	}
	if v.col.present(path) {
		v.col.add(path, want, "is empty")
	} else {
		v.col.add(path, want, "is missing")
	}
	return false
}

func (v *validator) allowMissing() bool { return v.cfg.MissingEnv != nil }

func (v *validator) listen(path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.col.add(path, `host:port such as ":8080" or "127.0.0.1:8080"`, "%q is not an address: %v", addr, err)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.col.add(path, "a port from 0 to 65535", "%q has port %q", addr, port)
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		v.col.add(path, "a host name or IP address", "%q has host %q", addr, host)
	}
}

func (v *validator) slack() {
	s := &v.cfg.Slack
	if v.required("slack.bot_token", string(s.BotToken), "a bot token (xoxb-…), e.g. bot_token: ${SLACK_BOT_TOKEN}") &&
		!strings.HasPrefix(string(s.BotToken), "xoxb-") {
		v.col.add("slack.bot_token", "a bot token starting with xoxb- (OAuth & Permissions → Bot User OAuth Token)", "is not a bot token (it does not start with xoxb-)")
	}
	if s.AppToken != "" && !strings.HasPrefix(string(s.AppToken), "xapp-") {
		v.col.add("slack.app_token", "an app-level token starting with xapp- (Basic Information → App-Level Tokens), or nothing for HTTP mode", "is not an app-level token (it does not start with xapp-)")
	}
	if s.AppToken == "" && s.SigningSecret == "" {
		_, appUnset := v.missing["slack.app_token"]
		secretVar, secretUnset := v.missing["slack.signing_secret"]
		switch {
		case v.allowMissing() && (appUnset || secretUnset):
			// Which mode is meant is decided where the variables are set.
		case secretUnset:
			v.col.add("slack.signing_secret", "export "+secretVar+"=… (Basic Information → Signing Secret), or set slack.app_token for Socket Mode",
				"environment variable %s is not set, and HTTP mode (no app_token) needs the signing secret", secretVar)
		default:
			v.col.add("slack.signing_secret", "the app's signing secret (Basic Information → Signing Secret), or slack.app_token for Socket Mode",
				"is empty, and HTTP mode (no app_token) needs it to verify requests")
		}
	}
	if s.APIURL != "" {
		if v.url("slack.api_url", s.APIURL) && !strings.HasSuffix(s.APIURL, "/") {
			s.APIURL += "/" // slack-go builds method URLs as base + "chat.postMessage"
		}
	}
	if !reCommand.MatchString(s.Command) {
		v.col.add("slack.command", "a slash command such as /kong-upgrade (lower case, at most 32 characters)", "%q is not a slash command", s.Command)
	}
	if v.required("slack.channel", s.Channel, channelWant) && !reChannel.MatchString(s.Channel) {
		v.col.add("slack.channel", channelWant, "%q is not a channel ID%s", s.Channel, nameHint(s.Channel))
	}
}

func nameHint(s string) string {
	if strings.HasPrefix(s, "#") || strings.HasPrefix(s, "@") {
		return " (names change; IDs do not)"
	}
	return ""
}

func (v *validator) access() {
	a := &v.cfg.Access
	v.principals("access.operators", a.Operators)
	approverUsers := v.principals("access.approvers", a.Approvers)
	if a.RequiredApprovals < 1 {
		v.col.add("access.required_approvals", "1 or more", "is %d: a run could cross the gate unapproved", a.RequiredApprovals)
	} else if approverUsers >= 0 && a.RequiredApprovals > approverUsers && len(a.Approvers) > 0 {
		v.col.add("access.required_approvals", fmt.Sprintf("at most %d, the number of approvers listed, or add a user group", approverUsers),
			"is %d but only %d approver(s) are listed and no user group: no run could ever be approved", a.RequiredApprovals, approverUsers)
	}
	if a.ApprovalTimeout <= 0 {
		v.col.add("access.approval_timeout", "a positive duration such as 2h", "is %s", a.ApprovalTimeout)
	}
}

// principals checks a list of user and group IDs. It returns the number of distinct
// user IDs, or -1 when the list holds a group (its size is known only at run time).
func (v *validator) principals(path string, ids []string) int {
	if len(ids) == 0 {
		v.col.add(path, "at least one "+userWant, "is empty: nobody could act")
		return 0
	}
	seen := map[string]int{}
	users, groups := 0, 0
	for i, id := range ids {
		p := index(path, i)
		switch {
		case reUser.MatchString(id):
			users++
		case reGroup.MatchString(id):
			groups++
		default:
			v.col.add(p, userWant, "%q is not a Slack user or user group ID%s", id, nameHint(id))
			continue
		}
		if j, dup := seen[id]; dup {
			v.col.add(p, "each ID once", "%s is listed twice (also %s)", id, index(path, j))
		}
		seen[id] = i
	}
	if groups > 0 {
		return -1
	}
	return len(seen)
}

// windows checks the maintenance windows and returns them by name.
func (v *validator) windows() map[string]bool {
	names := map[string]bool{}
	for i := range v.cfg.Windows {
		w := &v.cfg.Windows[i]
		p := index("windows", i)
		v.uniqueName(join(p, "name"), w.Name, names, "window")
		if w.Name == "next" {
			v.col.add(join(p, "name"), "another name", `"next" is reserved: "/kong-upgrade schedule <cluster> <version> next" means the next opening of any window`)
		}
		loc, err := loadLocation(w.Timezone)
		if err != nil {
			v.col.add(join(p, "timezone"), "an IANA time zone such as Europe/Berlin, America/New_York or UTC", "%v", err)
		}
		w.Location = loc
		w.Schedule = v.cron(join(p, "cron"), w.Cron)
		if w.Duration <= 0 {
			v.col.add(join(p, "duration"), "a positive duration such as 2h", "is %s: the window would never be open", w.Duration)
		}
		if w.RemindBefore < 0 {
			v.col.add(join(p, "remind_before"), "0 (no reminder) or a positive duration such as 1h", "is negative")
		}
	}
	return names
}

func loadLocation(name string) (*time.Location, error) {
	switch name {
	case "":
		return nil, fmt.Errorf("is empty")
	case "Local":
		return nil, fmt.Errorf(`"Local" depends on the machine drawbridge runs on`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a known time zone", name)
	}
	return loc, nil
}

// cron parses a window's opening expression. robfig/cron v3.0.1 panics on a "TZ=" prefix
// without a space, and its zone prefix would fight the timezone key, so prefixes are refused
// before parsing, and the parser is still guarded.
func (v *validator) cron(path, spec string) (sched cron.Schedule) {
	const want = `5 fields "minute hour day-of-month month day-of-week", e.g. "0 2 * * SUN"`
	if strings.TrimSpace(spec) == "" {
		v.col.add(path, want, "is missing")
		return nil
	}
	if s := strings.TrimSpace(spec); strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		v.col.add(path, want+", with the zone in the window's timezone key", "%q carries a time zone prefix", spec)
		return nil
	}
	if strings.HasPrefix(strings.TrimSpace(spec), "@every") {
		v.col.add(path, want, "%q is an interval, not a wall-clock opening time", spec)
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			v.col.add(path, want, "%q cannot be parsed: %v", spec, r)
			sched = nil
		}
	}()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		v.col.add(path, want, "%q: %v", spec, err)
		return nil
	}
	if s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		v.col.add(path, want, "%q never matches a real date", spec)
		return nil
	}
	return s
}

func (v *validator) blackouts() {
	names := map[string]bool{}
	for i, b := range v.cfg.Blackouts {
		p := index("blackouts", i)
		v.uniqueName(join(p, "name"), b.Name, names, "blackout")
		if b.From.IsZero() {
			v.col.add(join(p, "from"), "an RFC 3339 time such as 2026-12-20T00:00:00Z", "is missing")
		}
		if b.To.IsZero() {
			v.col.add(join(p, "to"), "an RFC 3339 time such as 2027-01-04T00:00:00Z", "is missing")
		}
		if !b.From.IsZero() && !b.To.IsZero() && !b.To.After(b.From) {
			v.col.add(join(p, "to"), "a time after from ("+b.From.Format(time.RFC3339)+")", "is not after from")
		}
	}
}

func (v *validator) uniqueName(path, name string, seen map[string]bool, what string) {
	if !v.required(path, name, nameWant) {
		return
	}
	if !reName.MatchString(name) {
		v.col.add(path, nameWant, "%q is not a valid %s name", name, what)
	}
	if seen[name] {
		v.col.add(path, "a name used once", "%s %q is defined twice", what, name)
	}
	seen[name] = true
}

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
		v.nodes(p, c)
		if c.Parallelism < 1 {
			v.col.add(join(p, "parallelism"), "1 or more (nodes acted on at once)", "is %d", c.Parallelism)
		}
		if c.CommandTimeout <= 0 {
			v.col.add(join(p, "command_timeout"), "a positive duration such as 10m", "is %s", c.CommandTimeout)
		}
		v.commands(p, c)
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
			data := CommandData{Cluster: c.Name, Run: "1", From: "3.4.2", To: "3.5.0", Version: "3.5.0", Force: force, Node: NodeDataOf(n)}
			if _, err := s.argv.Render(data); err != nil {
				v.col.add(path, "only the fields .Cluster .Run .From .To .Version .Force .Node.Name .Node.AdminURL .Node.Vars.<key>",
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
