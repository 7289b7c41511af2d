// Package kongtest starts kongsim clusters for drawbridge's tests: the kongsim binary
// built once per test binary, N nodes on a database of their own (bootstrapped, seeded,
// started), a drawbridge configuration pointing at them, and the handles tests use to
// break them (faults, crashes) and to look at them (versions, kongsim's command log).
package kongtest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kong/adminapi"
	"github.com/drawbridge/drawbridge/kongsim/manifest"
)

var (
	buildOnce sync.Once
	bin       string
	buildErr  error
	dbSeq     atomic.Int64
)

// Kongsim builds cmd/kongsim once per test binary and returns its path.
func Kongsim(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "kongsim-bin-")
		if err != nil {
			buildErr = err
			return
		}
		bin = filepath.Join(dir, "kongsim")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/kongsim")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build kongsim: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// Options shape a cluster.
type Options struct {
	Nodes   int    // default 3
	Version string // default 3.4.2
	PG      *testsvc.Postgres
	// Seed sizes; zero: 10 services with 2 routes each, 20 consumers.
	Services, Routes, Consumers int
	// Conf is kong.conf settings appended to every node's file before anything runs
	// (plugins, role, database, …); NodeConf, settings for node i only.
	Conf     map[string]string
	NodeConf map[int]map[string]string
	// NoStart lays out, bootstraps and seeds, but starts no node.
	NoStart bool
}

// Node is one node of the cluster.
type Node = manifest.Node

// Cluster is a running kongsim cluster.
type Cluster struct {
	t     testing.TB
	Dir   string
	DB    string // database name
	PG    *testsvc.Postgres
	Nodes []Node
	Bin   string
}

// New lays out, bootstraps, seeds and starts a cluster; its nodes are killed at cleanup.
func New(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Version == "" {
		o.Version = "3.4.2"
	}
	if o.Services == 0 {
		o.Services, o.Routes, o.Consumers = 10, 2, 20
	}
	c := &Cluster{t: t, Dir: t.TempDir(), DB: fmt.Sprintf("kong_%d_%d", os.Getpid(), dbSeq.Add(1)), PG: o.PG, Bin: Kongsim(t)}
	if _, err := o.PG.CreateDatabase(t.Context(), c.DB); err != nil {
		t.Fatal(err)
	}
	c.Run("cluster", "init", "--dir", filepath.Join(c.Dir, "cluster"), "--nodes", fmt.Sprint(o.Nodes), "--version", o.Version,
		"--pg-host", o.PG.Host, "--pg-port", fmt.Sprint(o.PG.Port), "--pg-user", o.PG.User, "--pg-database", c.DB)
	cj, err := manifest.Read(filepath.Join(c.Dir, "cluster"))
	if err != nil {
		t.Fatal(err)
	}
	c.Nodes = cj.Nodes
	t.Cleanup(c.KillNodes)
	for i := range c.Nodes {
		c.AppendConf(i, o.Conf)
		c.AppendConf(i, o.NodeConf[i])
	}
	c.Run("kong", "migrations", "bootstrap", "-c", c.Nodes[0].Conf)
	c.Run("seed", "-c", c.Nodes[0].Conf, "--services", fmt.Sprint(o.Services), "--routes", fmt.Sprint(o.Routes), "--consumers", fmt.Sprint(o.Consumers))
	if o.NoStart {
		return c
	}
	for _, n := range c.Nodes {
		c.Run("kong", "start", "-c", n.Conf)
	}
	return c
}

// AppendConf appends settings to node i's kong.conf (later lines win, as in Kong).
func (c *Cluster) AppendConf(i int, settings map[string]string) {
	c.t.Helper()
	if len(settings) == 0 {
		return
	}
	f, err := os.OpenFile(c.Nodes[i].Conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if _, err := fmt.Fprintf(f, "%s = %s\n", k, settings[k]); err != nil {
			c.t.Fatal(err)
		}
	}
}

// Run runs kongsim and returns its output; a failure fails the test.
func (c *Cluster) Run(args ...string) string {
	c.t.Helper()
	out, err := exec.Command(c.Bin, args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("kongsim %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Set changes faults or traffic of the given nodes (all when none is named).
func (c *Cluster) Set(assignments []string, nodes ...int) {
	c.t.Helper()
	if len(nodes) == 0 {
		for i := range c.Nodes {
			nodes = append(nodes, i)
		}
	}
	args := []string{"set"}
	for _, i := range nodes {
		args = append(args, "-p", c.Nodes[i].Prefix)
	}
	c.Run(append(args, assignments...)...)
}

// KillNodes SIGKILLs every node.
func (c *Cluster) KillNodes() {
	for i := range c.Nodes {
		c.KillNode(i)
	}
}

// KillNode SIGKILLs a node's process: a crash.
func (c *Cluster) KillNode(i int) {
	b, err := os.ReadFile(filepath.Join(c.Nodes[i].Prefix, "pids", "nginx.pid"))
	if err != nil {
		return
	}
	var pid int
	if _, err := fmt.Sscanf(string(b), "%d", &pid); err == nil && pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// ConfigNodes returns the nodes as drawbridge's config has them.
func (c *Cluster) ConfigNodes() []config.Node {
	var out []config.Node
	for _, n := range c.Nodes {
		out = append(out, config.Node{Name: n.Name, AdminURL: n.AdminURL, StatusURL: n.StatusURL,
			Vars: map[string]string{"prefix": n.Prefix, "conf": n.Conf}})
	}
	return out
}

// Versions returns what each node answers: its version, "x (not ready)", or "down".
func (c *Cluster) Versions() []string {
	var out []string
	cl := &adminapi.Client{Timeout: 2 * time.Second}
	for _, n := range c.ConfigNodes() {
		info, err := cl.Info(context.Background(), n)
		switch {
		case err != nil:
			out = append(out, "down")
		case !info.Ready:
			out = append(out, info.Version+" (not ready)")
		default:
			out = append(out, info.Version)
		}
	}
	return out
}

// WantVersions fails the test unless every node answers want, ready.
func (c *Cluster) WantVersions(want string) {
	c.t.Helper()
	for i, v := range c.Versions() {
		if v != want {
			c.t.Errorf("node %s answers %s, want %s", c.Nodes[i].Name, v, want)
		}
	}
}

// CommandCount counts "kong <prefix…>" commands in kongsim's log across the nodes.
func (c *Cluster) CommandCount(prefix string) int {
	n := 0
	for _, node := range c.Nodes {
		b, _ := os.ReadFile(filepath.Join(node.Prefix, "logs", "kongsim-commands.log"))
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, " kong "+prefix) {
				n++
			}
		}
	}
	return n
}

// DSN is the Kong database's connection string.
func (c *Cluster) DSN() string { return c.PG.DSN(c.DB) }

// ConfigOptions shape drawbridge's configuration for the cluster.
type ConfigOptions struct {
	Dir           string // state_file and backup_dir go here
	PrometheusURL string
	AutoRollback  bool
	Unverified    bool
	Watch         time.Duration // default 1s
	Parallelism   int           // default 10
	Interval      time.Duration // default 250ms
	Extra         string        // YAML appended inside the cluster's mapping (indented 4)
	Top           string        // YAML appended at the top level
	SlackAPIURL   string        // slack.api_url (a fake Slack)
	AppToken      string        // slack.app_token: Socket Mode
	Team          string        // slack.team: the only team whose requests are taken; "" any
	Operators     string        // access.operators as YAML; default [U0OPERATOR]
	Approvers     string        // access.approvers as YAML; default [U0APPROVER, U0APPROVE2]
	Required      int           // access.required_approvals; default 1
	SelfApproval  bool          // access.allow_self_approval
	ApprovalTTL   time.Duration // access.approval_timeout; default 1h
	Check         string        // commands.check as a YAML flow list; "" none
	// Rehearsal adds a rehearsal: section whose commands run Y's migrations on the copy with
	// "kongsim run" (a throwaway Kong Y, as docker run --rm kong:Y would), the first node's
	// faults included.
	Rehearsal bool
	// RehearsalDSN is rehearsal.dsn: the copy on another PostgreSQL server.
	RehearsalDSN string
	// DSNPassword is put into the database DSN as the user's password (the test servers
	// trust every local connection, so it is only there to be kept secret).
	DSNPassword string
	// DatabaseExtra is YAML inside the cluster's database mapping (indented 6), e.g. its
	// timeouts.
	DatabaseExtra string
	// SearchPath is added to the database DSN (search_path=…): where a cluster with
	// pg_schema keeps Kong's tables.
	SearchPath string
	// Name is the cluster's name; default "test".
	Name string
	// Others are more clusters in the same configuration, after this one.
	Others []Other
}

// Other is one more cluster of a configuration, with its own name, Prometheus and watch
// duration (0: the first cluster's); the other settings are the first cluster's.
type Other struct {
	Name          string
	Cluster       *Cluster
	PrometheusURL string
	Watch         time.Duration
}

const configTemplate = `listen: "127.0.0.1:0"
state_file: {{.Dir}}/state/drawbridge.db
backup_dir: {{.Dir}}/backups
slack:
  bot_token: xoxb-test
  signing_secret: test-secret
  channel: C0123456789
  api_url: "{{.SlackAPIURL}}"
  app_token: "{{.AppToken}}"
  team: "{{.Team}}"
access:
  operators: {{.Operators}}
  approvers: {{.Approvers}}
  required_approvals: {{.Required}}
  allow_self_approval: {{.SelfApproval}}
  approval_timeout: {{.ApprovalTTL}}
clusters:
{{.Clusters}}
{{.Top}}`

// clusterTemplate is one entry of clusters:.
const clusterTemplate = `  - name: {{.Name}}
    database:
      dsn: "{{.DSN}}"
{{- if .DatabaseExtra}}
{{.DatabaseExtra}}
{{- end}}
    nodes:
{{- range .Nodes}}
      - name: {{.Name}}
        admin_url: {{.AdminURL}}
        status_url: {{.StatusURL}}
        vars: { prefix: "{{.Prefix}}", conf: "{{.Conf}}" }
{{- end}}
    allow_unverified_paths: {{.Unverified}}
    parallelism: {{.Parallelism}}
    command_timeout: 20s
    commands:
      stop: ["{{.Kongsim}}", kong, stop, -p, "{{"{{"}}.Node.Vars.prefix{{"}}"}}"]
      install: ["{{.Kongsim}}", install, -p, "{{"{{"}}.Node.Vars.prefix{{"}}"}}", --version, "{{"{{"}}.Version{{"}}"}}"]
      start: ["{{.Kongsim}}", kong, start, -c, "{{"{{"}}.Node.Vars.conf{{"}}"}}"]
      migrations_up: ["{{.Kongsim}}", kong, migrations, up, -c, "{{"{{"}}.Node.Vars.conf{{"}}"}}", "{{"{{"}}if .Force{{"}}"}}-f{{"{{"}}end{{"}}"}}"]
      migrations_finish: ["{{.Kongsim}}", kong, migrations, finish, -c, "{{"{{"}}.Node.Vars.conf{{"}}"}}", "{{"{{"}}if .Force{{"}}"}}-f{{"{{"}}end{{"}}"}}"]
      decommission: ["{{.Kongsim}}", show, -p, "{{"{{"}}.Node.Vars.prefix{{"}}"}}"]
{{- if .Check}}
      check: {{.Check}}
{{- end}}
{{- if .Rehearsal}}
    rehearsal:
{{- if .RehearsalDSN}}
      dsn: "{{.RehearsalDSN}}"
{{- end}}
      migrations_up: ["{{.Kongsim}}", run, --version, "{{"{{"}}.Version{{"}}"}}", --from, "{{"{{"}}.Node.Vars.prefix{{"}}"}}", -e, "KONG_PG_HOST={{"{{"}}.Scratch.Host{{"}}"}}", -e, "KONG_PG_PORT={{"{{"}}.Scratch.Port{{"}}"}}", -e, "KONG_PG_USER={{"{{"}}.Scratch.User{{"}}"}}", -e, "KONG_PG_DATABASE={{"{{"}}.Scratch.Database{{"}}"}}", --, kong, migrations, up, -c, "{{"{{"}}.Node.Vars.conf{{"}}"}}", "{{"{{"}}if .Force{{"}}"}}-f{{"{{"}}end{{"}}"}}"]
      migrations_finish: ["{{.Kongsim}}", run, --version, "{{"{{"}}.Version{{"}}"}}", --from, "{{"{{"}}.Node.Vars.prefix{{"}}"}}", -e, "KONG_PG_HOST={{"{{"}}.Scratch.Host{{"}}"}}", -e, "KONG_PG_PORT={{"{{"}}.Scratch.Port{{"}}"}}", -e, "KONG_PG_USER={{"{{"}}.Scratch.User{{"}}"}}", -e, "KONG_PG_DATABASE={{"{{"}}.Scratch.Database{{"}}"}}", --, kong, migrations, finish, -c, "{{"{{"}}.Node.Vars.conf{{"}}"}}", "{{"{{"}}if .Force{{"}}"}}-f{{"{{"}}end{{"}}"}}"]
{{- end}}
    prometheus:
      url: {{.Prom}}
      selector: 'cluster="test"'
    watch:
      duration: {{.Watch}}
      interval: {{.Interval}}
      failure_limit: 2
      auto_rollback: {{.AutoRollback}}
{{.Extra}}
`

// WriteConfig writes drawbridge's configuration for the cluster (cluster name "test"), and
// o.Others after it, and returns its path and the loaded config.
func (c *Cluster) WriteConfig(o ConfigOptions) (string, *config.Config) {
	c.t.Helper()
	if o.Dir == "" {
		o.Dir = c.Dir
	}
	if o.Watch == 0 {
		o.Watch = time.Second
	}
	if o.Operators == "" {
		o.Operators = "[U0OPERATOR]"
	}
	if o.Approvers == "" {
		o.Approvers = "[U0APPROVER, U0APPROVE2]"
	}
	if o.ApprovalTTL == 0 {
		o.ApprovalTTL = time.Hour
	}
	if o.Required == 0 {
		o.Required = 1
	}
	if o.Parallelism == 0 {
		o.Parallelism = 10
	}
	if o.Interval == 0 {
		o.Interval = 250 * time.Millisecond
	}
	var clusters strings.Builder
	entry := template.Must(template.New("cluster").Parse(clusterTemplate))
	for _, cl := range append([]Other{{Name: cmp.Or(o.Name, "test"), Cluster: c, PrometheusURL: o.PrometheusURL, Watch: o.Watch}}, o.Others...) {
		dsn := cl.Cluster.DSN()
		if o.DSNPassword != "" {
			dsn = strings.Replace(dsn, "@", ":"+url.PathEscape(o.DSNPassword)+"@", 1)
		}
		if o.SearchPath != "" {
			dsn += "&search_path=" + url.QueryEscape(o.SearchPath)
		}
		if cl.Watch == 0 {
			cl.Watch = o.Watch
		}
		err := entry.Execute(&clusters, map[string]any{
			"Name": cl.Name, "DSN": dsn, "Nodes": cl.Cluster.Nodes, "Kongsim": cl.Cluster.Bin, "Prom": cl.PrometheusURL,
			"Unverified": o.Unverified, "Watch": cl.Watch.String(), "Interval": o.Interval.String(), "AutoRollback": o.AutoRollback,
			"Extra": o.Extra, "Parallelism": o.Parallelism, "Check": o.Check, "Rehearsal": o.Rehearsal, "RehearsalDSN": o.RehearsalDSN, "DatabaseExtra": o.DatabaseExtra,
		})
		if err != nil {
			c.t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	err := template.Must(template.New("cfg").Parse(configTemplate)).Execute(&buf, map[string]any{
		"Dir": o.Dir, "Clusters": clusters.String(), "Top": o.Top,
		"SlackAPIURL": o.SlackAPIURL, "AppToken": o.AppToken, "Team": o.Team, "Operators": o.Operators, "Approvers": o.Approvers, "Required": o.Required, "SelfApproval": o.SelfApproval, "ApprovalTTL": o.ApprovalTTL.String(),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(o.Dir, "drawbridge.yaml")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		c.t.Fatal(err)
	}
	cfg, err := config.Load(path, config.LoadOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return path, cfg
}

// StartPrometheus starts a Prometheus of the test's own that scrapes every node's Status
// API every second, labelling the series cluster="test" (the selector of WriteConfig's
// config), and waits until it has the cluster's first samples.
func (c *Cluster) StartPrometheus(t testing.TB) *testsvc.Prometheus {
	t.Helper()
	var targets []string
	for _, n := range c.Nodes {
		targets = append(targets, strings.TrimPrefix(n.StatusURL, "http://"))
	}
	b, _ := json.Marshal(targets)
	prom := testsvc.StartPrometheus(t, testsvc.PrometheusConfig{ScrapeInterval: time.Second,
		ExtraScrapeConfigs: "- job_name: kong\n  scrape_interval: 1s\n  static_configs:\n  - targets: " + string(b) + "\n    labels: {cluster: test}\n"})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := prom.WaitForSeries(ctx, fmt.Sprintf(`count(kong_datastore_reachable{cluster="test"}) == %d`, len(c.Nodes))); err != nil {
		t.Fatal(err)
	}
	return prom
}
