// Package config owns drawbridge's configuration file: its shape (the YAML users write,
// see examples/config.yaml and docs/configuration.md), ${VAR} expansion from the
// environment, strict decoding that names unknown keys with their line, and a validation
// pass that reports every problem at once with the key path, the line, what is wrong and
// what would be right. A loaded Config is complete: defaults applied, cron expressions,
// time zones and command templates parsed.
package config

import (
	"fmt"
	"log/slog"
	"strings"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/robfig/cron/v3"
)

// Config is the whole configuration file.
type Config struct {
	Listen    string     `yaml:"listen"`     // address of the HTTP server; default ":8080"
	StateFile string     `yaml:"state_file"` // bbolt state file; default ./data/drawbridge.db
	BackupDir string     `yaml:"backup_dir"` // pg_dump archives; default ./data/backups
	Slack     Slack      `yaml:"slack"`
	Access    Access     `yaml:"access"`
	Windows   []Window   `yaml:"windows"`
	Blackouts []Blackout `yaml:"blackouts"`
	Clusters  []Cluster  `yaml:"clusters"`
	Retention Retention  `yaml:"retention"` // what drawbridge forgets or deletes, and when
	// Audit configures reading the change records through a running drawbridge.
	Audit Audit `yaml:"audit"`

	// MissingEnv lists the ${VAR} references whose variable was not set, in file order.
	// With LoadOptions.AllowMissingEnv they are reported here instead of as problems.
	MissingEnv []MissingVar `yaml:"-"`
}

// Audit configures the change records' HTTP endpoints (GET /audit/export, /audit/verify),
// through which "drawbridge audit" reads while serve holds the state file.
type Audit struct {
	// Token is the bearer token the endpoints require; "" turns them off.
	Token Secret `yaml:"token"`
}

// MissingVar is a ${VAR} reference whose variable was not set when the file was loaded.
type MissingVar struct {
	Path string // key path, e.g. slack.bot_token
	Line int
	Var  string
}

// Slack configures the Slack app drawbridge speaks as.
type Slack struct {
	BotToken      Secret `yaml:"bot_token"`      // xoxb-…; required
	SigningSecret Secret `yaml:"signing_secret"` // verifies HTTP requests; required unless AppToken is set
	AppToken      Secret `yaml:"app_token"`      // xapp-…; when set, Socket Mode is used instead of HTTP
	APIURL        string `yaml:"api_url"`        // Web API base URL override; always ends with "/" once loaded
	Command       string `yaml:"command"`        // slash command; default /kong-upgrade
	Channel       string `yaml:"channel"`        // channel ID where runs are announced and commands accepted
	// Team is the workspace's ID (T…); when set, a request from another team is refused.
	Team string `yaml:"team"`
}

// SocketMode reports whether drawbridge connects to Slack over Socket Mode.
func (s Slack) SocketMode() bool { return s.AppToken != "" }

// Access says who may do what.
type Access struct {
	Operators         []string `yaml:"operators"` // user IDs (U…, W…) or user group IDs (S…)
	Approvers         []string `yaml:"approvers"`
	RequiredApprovals int      `yaml:"required_approvals"` // distinct approvers needed; default 1
	AllowSelfApproval bool     `yaml:"allow_self_approval"`
	ApprovalTimeout   Duration `yaml:"approval_timeout"` // default 2h; a window's close ends it too
}

// Window is a recurring maintenance window.
type Window struct {
	Name         string   `yaml:"name"`
	Cron         string   `yaml:"cron"`     // 5-field robfig/cron expression: when the window opens
	Duration     Duration `yaml:"duration"` // how long it stays open
	Timezone     string   `yaml:"timezone"` // IANA zone; default UTC
	RemindBefore Duration `yaml:"remind_before"`

	// Schedule and Location are the parsed Cron and Timezone.
	Schedule cron.Schedule  `yaml:"-"`
	Location *time.Location `yaml:"-"`
}

// Blackout is a period in which no upgrade may cross the approval gate.
type Blackout struct {
	Name string    `yaml:"name"`
	From time.Time `yaml:"from"`
	To   time.Time `yaml:"to"`
}

// Cluster is one Kong cluster drawbridge upgrades in place.
type Cluster struct {
	Name                 string   `yaml:"name"`
	Windows              []string `yaml:"windows"` // names of windows; none: any time
	Database             Database `yaml:"database"`
	Nodes                []Node   `yaml:"nodes"`
	AllowUnverifiedPaths bool     `yaml:"allow_unverified_paths"`
	AutoDecommission     bool     `yaml:"auto_decommission"` // decommission X right after a clean watch
	Parallelism          int      `yaml:"parallelism"`       // nodes acted on at once; default 10
	CommandTimeout       Duration `yaml:"command_timeout"`   // per node command; default 10m
	// CommandsEnv names the variables of drawbridge's environment node commands get besides
	// PATH, HOME, LANG and TZ (e.g. SSH_AUTH_SOCK, KONG_PG_PASSWORD); nothing else of it.
	CommandsEnv []string  `yaml:"commands_env"`
	Commands    Commands  `yaml:"commands"`
	Rehearsal   Rehearsal `yaml:"rehearsal"`
	// ChangeTicket: whether runs need a change ticket, of which form, and where it is read.
	ChangeTicket ChangeTicket `yaml:"change_ticket"`
	Prometheus   Prometheus   `yaml:"prometheus"`
	Watch        Watch        `yaml:"watch"`

	// ControlPlane is not configured: the engine sets it on the copy it hands the watch
	// when the nodes report role = control_plane (they proxy nothing; the watch reads the
	// data planes' compatibility instead of request metrics).
	ControlPlane bool `yaml:"-"`
}

// Database is Kong's own PostgreSQL database.
type Database struct {
	DSN Secret `yaml:"dsn"` // postgres://… or key=value; holds a password, so it is a Secret
	// Deadlines of drawbridge's database work (0: the default; see docs/configuration.md).
	// The session ones apply unless the DSN sets statement_timeout or lock_timeout itself.
	StatementTimeout   Duration `yaml:"statement_timeout"`   // default 60s
	LockTimeout        Duration `yaml:"lock_timeout"`        // default 10s; also pg_dump's --lock-wait-timeout
	BackupTimeout      Duration `yaml:"backup_timeout"`      // default 30m
	RestoreTimeout     Duration `yaml:"restore_timeout"`     // default 30m
	FingerprintTimeout Duration `yaml:"fingerprint_timeout"` // default 5m
}

// Rehearsal configures the rehearsal of Y's migrations on a scratch copy of Kong's
// database, made from the verified backup before the gate while X keeps serving. A cluster
// without migrations_up here is not rehearsed.
type Rehearsal struct {
	// DSN is another PostgreSQL server for the scratch database (a role there that may
	// create databases); "" = Kong's own server, where the copy gets Kong's database's owner,
	// encoding and settings. The copy is named <kong database>_rehearsal_<run>.
	DSN Secret `yaml:"dsn"`
	// MigrationsUp and MigrationsFinish run Y's kong migrations up and finish against the
	// copy, once each (with .Scratch naming it). Y must be runnable without touching the
	// nodes: a container image, or Y staged beside X.
	MigrationsUp     Argv `yaml:"migrations_up"`
	MigrationsFinish Argv `yaml:"migrations_finish"`
}

// Enabled reports whether the cluster is rehearsed.
func (r Rehearsal) Enabled() bool { return len(r.MigrationsUp) > 0 }

// Node is one Kong node of a cluster.
type Node struct {
	Name      string            `yaml:"name"`
	AdminURL  string            `yaml:"admin_url"`
	StatusURL string            `yaml:"status_url"` // optional: Kong's Status API
	Vars      map[string]string `yaml:"vars"`       // free values for command templates (.Node.Vars.x)
}

// Prometheus is where the cluster's proxy metrics are.
type Prometheus struct {
	URL      string `yaml:"url"`
	Selector string `yaml:"selector"` // label matchers, e.g. cluster="prod-eu"; {{.Selector}} in queries
	// ScrapeInterval is how often Prometheus scrapes the cluster; it sizes the rate window of
	// the built-in checks. 0: measured from the samples.
	ScrapeInterval Duration `yaml:"scrape_interval"`
}

// Watch configures step 11, the metric watch after the upgrade.
type Watch struct {
	Duration     Duration `yaml:"duration"`      // default 15m
	Interval     Duration `yaml:"interval"`      // default 30s
	FailureLimit int      `yaml:"failure_limit"` // consecutive failing intervals that make a breach; default 2
	AutoRollback bool     `yaml:"auto_rollback"`
	// BaselineLookback is how far back the baseline taken before the gate looks; default 30m.
	BaselineLookback Duration `yaml:"baseline_lookback"`
	Checks           []Check  `yaml:"checks"` // none: the built-in checks for Kong's Prometheus plugin
}

// Check is one PromQL check with its thresholds. Absent thresholds are nil.
type Check struct {
	Name               string   `yaml:"name"`
	Query              string   `yaml:"query"` // text/template over QueryData
	Max                *float64 `yaml:"max"`
	Min                *float64 `yaml:"min"`
	MaxRatioToBaseline *float64 `yaml:"max_ratio_to_baseline"`
	MinRatioToBaseline *float64 `yaml:"min_ratio_to_baseline"`

	tmpl *template.Template
}

// Secret is a string that never shows itself in logs, errors or summaries.
type Secret string

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue hides the value from log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText hides the value from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Duration is a Go duration written as a string (90s, 15m, 2h).
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String writes the duration in Go syntax without zero units: 2h, 1h30m, 15m, 90s → 1m30s.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration back in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Cluster returns the cluster with the given name.
func (c *Config) Cluster(name string) (*Cluster, bool) {
	for i := range c.Clusters {
		if c.Clusters[i].Name == name {
			return &c.Clusters[i], true
		}
	}
	return nil, false
}

// Window returns the window with the given name.
func (c *Config) Window(name string) (*Window, bool) {
	for i := range c.Windows {
		if c.Windows[i].Name == name {
			return &c.Windows[i], true
		}
	}
	return nil, false
}

// defaults are applied to keys absent from the file; a key that is present keeps its
// value and is validated as written (parallelism: 0 is an error, not a default).
var defaults = []struct {
	path  string
	apply func(c *Config)
}{
	{"listen", func(c *Config) { c.Listen = ":8080" }},
	{"state_file", func(c *Config) { c.StateFile = "./data/drawbridge.db" }},
	{"backup_dir", func(c *Config) { c.BackupDir = "./data/backups" }},
	{"slack.command", func(c *Config) { c.Slack.Command = "/kong-upgrade" }},
	{"access.required_approvals", func(c *Config) { c.Access.RequiredApprovals = 1 }},
	{"access.approval_timeout", func(c *Config) { c.Access.ApprovalTimeout = Duration(2 * time.Hour) }},
}

var windowDefaults = []struct {
	key   string
	apply func(w *Window)
}{
	{"timezone", func(w *Window) { w.Timezone = "UTC" }},
}

var clusterDefaults = []struct {
	key   string
	apply func(c *Cluster)
}{
	{"parallelism", func(c *Cluster) { c.Parallelism = 10 }},
	{"command_timeout", func(c *Cluster) { c.CommandTimeout = Duration(10 * time.Minute) }},
	{"watch.duration", func(c *Cluster) { c.Watch.Duration = Duration(15 * time.Minute) }},
	{"watch.interval", func(c *Cluster) { c.Watch.Interval = Duration(30 * time.Second) }},
	{"watch.failure_limit", func(c *Cluster) { c.Watch.FailureLimit = 2 }},
	{"watch.baseline_lookback", func(c *Cluster) { c.Watch.BaselineLookback = Duration(30 * time.Minute) }},
}

func applyDefaults(c *Config, col *collector) {
	for _, d := range defaults {
		if !col.present(d.path) {
			d.apply(c)
		}
	}
	applyRetentionDefaults(&c.Retention, col)
	for i := range c.Windows {
		for _, d := range windowDefaults {
			if !col.present(join(index("windows", i), d.key)) {
				d.apply(&c.Windows[i])
			}
		}
	}
	for i := range c.Clusters {
		for _, d := range clusterDefaults {
			if !col.present(join(index("clusters", i), d.key)) {
				d.apply(&c.Clusters[i])
			}
		}
	}
}

// Secrets are the secret values of the configuration, revealed, for scrubbing them from
// everything drawbridge stores, logs or sends: the Slack tokens and signing secret, and the
// password of every database DSN.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range c.secrets() {
		out = append(out, s.value)
	}
	return out
}

// namedSecret is a secret value and where the configuration keeps it.
type namedSecret struct{ where, value string }

// secrets are the configuration's secret values that are set, with where each is.
func (c *Config) secrets() []namedSecret {
	var out []namedSecret
	add := func(where string, s Secret) {
		if v := s.Reveal(); v != "" {
			out = append(out, namedSecret{where, v})
		}
	}
	add("slack.bot_token", c.Slack.BotToken)
	add("slack.app_token", c.Slack.AppToken)
	add("slack.signing_secret", c.Slack.SigningSecret)
	add("audit.token", c.Audit.Token)
	for _, cl := range c.Clusters {
		for _, d := range []struct {
			key string
			dsn Secret
		}{{"database.dsn", cl.Database.DSN}, {"rehearsal.dsn", cl.Rehearsal.DSN}} {
			if d.dsn == "" {
				continue
			}
			if pc, err := pgconn.ParseConfig(d.dsn.Reveal()); err == nil && pc.Password != "" {
				out = append(out, namedSecret{fmt.Sprintf("the password in clusters[%s].%s", cl.Name, d.key), pc.Password})
			}
		}
	}
	return out
}
