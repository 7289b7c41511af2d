// Package demo runs drawbridge's demo: a local PostgreSQL and Prometheus from the system's
// binaries, a 3-node kongsim cluster on Kong 3.4.2 with realistic configuration and
// traffic, drawbridge itself on examples/demo.yaml, and the console — a local Slack in the
// browser. Everything keeps its state under one data directory, so a second run continues
// where the first stopped. RunConsole is the console alone, for a drawbridge that runs
// elsewhere (the lab, deploy/lab).
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/internal/console"
	"github.com/drawbridge/drawbridge/internal/slackfake"
	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kongsim/manifest"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/wire"
)

// The demo's people and channel (examples/demo.yaml names the same IDs).
const (
	Channel      = "C0DEMO00001"
	Operator     = "U0DEMOOPS"
	Manager      = "U0DEMOCAB"
	Bystander    = "U0DEMOSAM"
	ManagerGroup = "S0DEMOCAB"
	botToken     = "xoxb-demo-token"
	secret       = "demo-signing-secret"
	startVersion = "3.4.2"
)

// Options shape a demo run.
type Options struct {
	Data           string // data directory; default ./data
	Config         string // drawbridge's configuration; default examples/demo.yaml
	Kongsim        string // the kongsim binary; default bin/kongsim
	ConsoleListen  string // default 127.0.0.1:8099
	PGPort         int    // default 55432
	PromPort       int    // default 59090
	DrawbridgePort int    // default 58080
	Log            *slog.Logger
	// Ready is called with the console's URL once everything runs.
	Ready func(url string)
}

func (o *Options) defaults() error {
	if o.Data == "" {
		o.Data = "data"
	}
	if o.Config == "" {
		o.Config = filepath.Join("examples", "demo.yaml")
	}
	if o.Kongsim == "" {
		o.Kongsim = filepath.Join("bin", "kongsim")
	}
	if o.ConsoleListen == "" {
		o.ConsoleListen = "127.0.0.1:8099"
	}
	if o.PGPort == 0 {
		o.PGPort = 55432
	}
	if o.PromPort == 0 {
		o.PromPort = 59090
	}
	if o.DrawbridgePort == 0 {
		o.DrawbridgePort = 58080
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var err error
	if o.Data, err = filepath.Abs(o.Data); err != nil {
		return err
	}
	if o.Kongsim, err = filepath.Abs(o.Kongsim); err != nil {
		return err
	}
	if _, err := os.Stat(o.Kongsim); err != nil {
		return fmt.Errorf("kongsim binary %s: %w (build it: go build -o bin/kongsim ./cmd/kongsim, or run make demo)", o.Kongsim, err)
	}
	return os.MkdirAll(o.Data, 0o755)
}

// Run starts everything, calls Ready, and stops everything in order when ctx ends.
func Run(ctx context.Context, o Options) (err error) {
	if err := o.defaults(); err != nil {
		return err
	}
	log := o.Log
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer stop()

	release, err := lockData(o.Data)
	if err != nil {
		return err
	}
	stops = append(stops, release)

	pgDir := postgresDir(o.Data)
	log.Info("starting PostgreSQL", "dir", pgDir, "port", o.PGPort)
	pg, err := testsvc.OpenPostgres(ctx, pgDir, o.PGPort)
	if err != nil {
		return fmt.Errorf("PostgreSQL: %w", portHint(err, o.PGPort, "-pg-port"))
	}
	stops = append(stops, func() {
		if err := pg.Close(); err != nil {
			log.Error("stop PostgreSQL", "err", err)
		}
	})
	if err := ensureDatabase(ctx, pg, "kong"); err != nil {
		return err
	}

	cl, err := ensureCluster(ctx, o, pg, log)
	if err != nil {
		return err
	}
	stops = append(stops, func() { cl.stopNodes(log) })

	log.Info("starting Prometheus", "port", o.PromPort)
	var targets []string
	for _, n := range cl.Nodes {
		targets = append(targets, strings.TrimPrefix(n.StatusURL, "http://"))
	}
	tj, _ := json.Marshal(targets)
	prom, err := testsvc.OpenPrometheus(ctx, filepath.Join(o.Data, "prometheus"), o.PromPort, testsvc.PrometheusConfig{
		ScrapeInterval:     time.Second,
		ExtraScrapeConfigs: "- job_name: kong\n  static_configs:\n  - targets: " + string(tj) + "\n    labels: {cluster: demo}\n",
	})
	if err != nil {
		return fmt.Errorf("Prometheus: %w", portHint(err, o.PromPort, "-prometheus-port"))
	}
	stops = append(stops, func() {
		if err := prom.Close(); err != nil {
			log.Error("stop Prometheus", "err", err)
		}
	})
	// drawbridge's preflight wants every node's series in Prometheus: wait for two scrapes of
	// each running node, so a run started the moment the console opens finds them.
	if cl.running > 0 {
		wctx, cancelWait := context.WithTimeout(ctx, time.Minute)
		// Samples from before this start (Prometheus keeps them across runs) do not count.
		fresh := fmt.Sprintf(`count by (instance) (timestamp(kong_http_requests_total{cluster="demo"}) > %d)`, time.Now().Unix())
		twice := `count by (instance) (count_over_time(kong_http_requests_total{cluster="demo"}[1m]) >= 2)`
		_, err = prom.WaitForSeries(wctx, fmt.Sprintf(`count(%s and %s) >= %d`, fresh, twice, cl.running))
		cancelWait()
		if err != nil {
			return fmt.Errorf("Prometheus has not scraped the kongsim nodes (log: %s): %w", prom.LogPath(), err)
		}
	}

	fake := slackfake.New(slackfake.Options{Token: botToken, Channels: []string{Channel},
		Groups: map[string][]string{ManagerGroup: {Manager}}})
	statePath := filepath.Join(o.Data, "console.json")
	if err := fake.LoadFile(statePath); err != nil {
		log.Warn("the console's earlier messages could not be read; starting empty", "err", err)
	}
	stops = append(stops, func() {
		if err := fake.SaveFile(statePath); err != nil {
			log.Error("save the console's messages", "err", err)
		}
		fake.Close()
	})

	env := map[string]string{
		"DEMO_DATA": o.Data, "DEMO_DRAWBRIDGE_PORT": strconv.Itoa(o.DrawbridgePort), "DEMO_SLACK_API_URL": fake.URL(),
		"DEMO_KONG_DSN": pg.DSN("kong"), "DEMO_KONGSIM": o.Kongsim, "DEMO_PROMETHEUS_URL": prom.URL(),
	}
	for i, n := range cl.Nodes {
		p := fmt.Sprintf("DEMO_KONG_%d_", i+1)
		env[p+"ADMIN"], env[p+"STATUS"], env[p+"PREFIX"] = n.AdminURL, n.StatusURL, n.Prefix
	}
	cfg, err := config.Load(o.Config, config.LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		return err
	}
	store, err := storage.Open(cfg.StateFile, storage.Options{Secrets: cfg.Secrets()})
	if err != nil {
		return err
	}
	stops = append(stops, func() {
		if err := store.Close(); err != nil {
			log.Error("close the state file", "err", err)
		}
	})
	app, err := wire.NewApp(cfg, store, log.With("part", "drawbridge"), wire.AppOptions{Metrics: prometheus.NewRegistry()})
	if err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	stops = append(stops, app.Close)
	mux := http.NewServeMux()
	app.Routes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("drawbridge: %w", portHint(err, o.DrawbridgePort, "-drawbridge-port"))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stops = append(stops, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})

	con, err := console.Start(ctx, console.Options{
		Slack: fake, Channel: Channel, Command: cfg.Slack.Command, SigningSecret: secret,
		DrawbridgeURL: "http://" + ln.Addr().String(), Listen: o.ConsoleListen, Log: log.With("part", "console"),
		Users: []console.User{
			{ID: Operator, Name: "Olivia", Role: "operator"},
			{ID: Manager, Name: "Chandra", Role: "change manager"},
			{ID: Bystander, Name: "Sam", Role: "someone else"},
		},
		Switches: map[string]func(context.Context, bool) error{
			"bad release": func(ctx context.Context, on bool) error { return cl.badRelease(ctx, on) },
		},
		SwitchHelp: map[string]string{"bad release": "every Kong version but the one the nodes run now answers 20% of requests with 5xx"},
		Hints:      hints,
		Groups:     map[string]string{ManagerGroup: "change-managers"},
	})
	if err != nil {
		return fmt.Errorf("console: %w", portHint(err, 0, "-listen"))
	}
	stops = append(stops, func() { _ = con.Close() })
	if o.Ready != nil {
		o.Ready(con.URL())
	}
	<-ctx.Done()
	log.Info("stopping the demo")
	return nil
}

// lockData takes the data directory for this process: a second demo on it would stop the
// first one's nodes and servers, and a console on it would write the demo's console.json,
// so either fails at once instead, naming the first.
func lockData(dir string) (release func(), err error) {
	path := filepath.Join(dir, "demo.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another drawbridge-demo (pid %s) is running on %s; stop it (Ctrl-C) or use another -data directory",
				orElse(strings.TrimSpace(string(b)), "unknown"), dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { _ = f.Close() }, nil // closing releases the lock
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// portHint adds to a port-in-use error which flag picks another port.
func portHint(err error, port int, flag string) error {
	if !errors.Is(err, testsvc.ErrAddrInUse) && !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	what := "its port"
	if port != 0 {
		what = "port " + strconv.Itoa(port)
	}
	return fmt.Errorf("%s is in use by another program; stop it or choose another port with %s: %w", what, flag, err)
}

var hints = []string{
	"As *Olivia (operator)*, type `/kong-upgrade start demo 3.5.0`: drawbridge checks the cluster, freezes its configuration, backs up Kong's database and stops at the approval gate.",
	"Switch to *Chandra (change manager)* and click *Approve*: the nodes stop, the migrations run, 3.5.0 starts; the status message updates in place and the thread gets a reply per step.",
	"Watch the watch: Prometheus checks the 5xx ratio, p99 latency and traffic against the baseline taken before the gate.",
	"As Olivia, click *Decommission* when the watch ends clean: the run succeeds.",
	"Turn on *bad release*, then `/kong-upgrade start demo 3.6.1` and approve it again: the new version answers 20% 5xx, the watch raises an alert with a *Roll back* button. Click it: drawbridge restores the database and starts 3.5.0 again.",
	"Try what is refused: Sam starting a run (not an operator), Olivia approving one (not an approver), Chandra approving a run she started herself (four-eyes), `/kong-upgrade plan demo 3.9.3` (not a path Kong guarantees).",
}

// postgresDir is where PostgreSQL keeps its data. As root, the server runs as the postgres
// user, which must reach the directory; a data directory it cannot reach (under a 0700
// home, say) is mirrored by one under /var/tmp.
func postgresDir(data string) string {
	dir := filepath.Join(data, "postgres")
	if os.Geteuid() != 0 || reachableByOthers(dir) {
		return dir
	}
	base := os.TempDir()
	if os.Getenv("TMPDIR") == "" {
		base = "/var/tmp" // kept across reboots, unlike /tmp on many systems
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(data))
	alt := filepath.Join(base, "drawbridge-demo-"+strconv.FormatUint(h.Sum64(), 16), "postgres")
	_ = os.MkdirAll(filepath.Dir(alt), 0o755)
	return alt
}

func reachableByOthers(dir string) bool {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil && st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// ensureDatabase creates the database unless an earlier demo did.
func ensureDatabase(ctx context.Context, pg *testsvc.Postgres, name string) error {
	_, err := pg.CreateDatabase(ctx, name)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42P04" { // duplicate_database
		return nil
	}
	return err
}

// cluster is the demo's kongsim cluster.
type cluster struct {
	manifest.Cluster
	bin     string
	running int // nodes running once ensureCluster is done
}

func (c *cluster) run(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, c.bin, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kongsim %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// ensureCluster lays out, bootstraps and seeds the cluster the first time, and starts
// every node that does not run.
func ensureCluster(ctx context.Context, o Options, pg *testsvc.Postgres, log *slog.Logger) (*cluster, error) {
	c := &cluster{bin: o.Kongsim}
	dir := filepath.Join(o.Data, "kong")
	manifestPath := filepath.Join(dir, manifest.File)
	fresh := false
	if _, err := os.Stat(manifestPath); errors.Is(err, os.ErrNotExist) {
		log.Info("laying out a 3-node kongsim cluster", "version", startVersion)
		if _, err := c.run(ctx, "cluster", "init", "--dir", dir, "--nodes", "3", "--version", startVersion,
			"--pg-host", pg.Host, "--pg-port", strconv.Itoa(pg.Port), "--pg-user", pg.User, "--pg-database", "kong"); err != nil {
			return nil, err
		}
		fresh = true
	}
	var err error
	if c.Cluster, err = manifest.Read(dir); err != nil {
		return nil, err
	}
	if fresh {
		if _, err := c.run(ctx, "kong", "migrations", "bootstrap", "-c", c.Nodes[0].Conf); err != nil {
			return nil, err
		}
		if _, err := c.run(ctx, "seed", "-c", c.Nodes[0].Conf, "--services", "25", "--routes", "3", "--consumers", "200"); err != nil {
			return nil, err
		}
		for _, n := range c.Nodes {
			if _, err := c.run(ctx, "set", "-p", n.Prefix, "traffic.rps=300", "traffic.p50_ms=25", "traffic.p99_ms=180"); err != nil {
				return nil, err
			}
		}
	}
	for _, n := range c.Nodes {
		if _, err := c.run(ctx, "kong", "health", "-p", n.Prefix); err == nil {
			c.running++
			continue // still running from an earlier demo
		}
		if out, err := c.run(ctx, "kong", "start", "-c", n.Conf); err != nil {
			switch {
			case strings.Contains(out, "New migrations available"):
				// Stopped between the nodes' stop and start: drawbridge resumes the run and
				// starts them itself.
				log.Warn("a node cannot start yet: the demo was stopped in the middle of an upgrade, which drawbridge resumes", "node", n.Name)
				continue
			case strings.Contains(out, "needs bootstrapping"):
				return nil, fmt.Errorf("Kong's database is empty but %s describes a cluster: the data directory is incomplete; remove %s to start over", manifestPath, o.Data)
			}
			return nil, err
		}
		c.running++
	}
	return c, nil
}

// stopNodes stops every node (kong quit), leaving the prefixes for the next run.
func (c *cluster) stopNodes(log *slog.Logger) {
	for _, n := range c.Nodes {
		if _, err := c.run(context.Background(), "kong", "quit", "-p", n.Prefix, "--timeout", "5"); err != nil {
			log.Debug("stop node", "node", n.Name, "err", err)
		}
	}
}

// badRelease switches kongsim's bad-release fault: every version other than the one the
// nodes run now answers 20% 5xx, so the next upgrade breaches.
func (c *cluster) badRelease(ctx context.Context, on bool) error {
	args := []string{"set"}
	for _, n := range c.Nodes {
		args = append(args, "-p", n.Prefix)
	}
	if !on {
		_, err := c.run(ctx, append(args, "faults.bad_release=")...)
		return err
	}
	current, err := c.run(ctx, "kong", "version", "-p", c.Nodes[0].Prefix)
	if err != nil {
		return err
	}
	_, err = c.run(ctx, append(args, "faults.bad_release.version=!"+strings.TrimSpace(current), "faults.bad_release.error_ratio=0.2")...)
	return err
}
