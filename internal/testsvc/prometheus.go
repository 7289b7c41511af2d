package testsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PrometheusJob is the job name of the scrape config built from PrometheusConfig.Targets; it is
// the "job" label of every series scraped from those targets.
const PrometheusJob = "drawbridge-test"

// PrometheusConfig is what a throwaway Prometheus scrapes.
type PrometheusConfig struct {
	// ScrapeInterval is the global scrape and rule-evaluation interval, and the scrape timeout.
	// Default 1s.
	ScrapeInterval time.Duration
	// Targets are host:port addresses scraped over HTTP by the job PrometheusJob. May be empty.
	Targets []string
	// MetricsPath is the path scraped on each target. Default "/metrics".
	MetricsPath string
	// ExtraScrapeConfigs is raw YAML appended to scrape_configs: whole list items, each starting
	// with "- job_name: ..." at column 0 and continued with two-space indentation.
	ExtraScrapeConfigs string
}

func (c PrometheusConfig) withDefaults() PrometheusConfig {
	if c.ScrapeInterval == 0 {
		c.ScrapeInterval = time.Second
	}
	if c.MetricsPath == "" {
		c.MetricsPath = "/metrics"
	}
	c.Targets = append([]string(nil), c.Targets...)
	return c
}

func (c PrometheusConfig) validate() error {
	if c.ScrapeInterval < time.Millisecond {
		return fmt.Errorf("testsvc: PrometheusConfig.ScrapeInterval %v: must be at least 1ms", c.ScrapeInterval)
	}
	if !strings.HasPrefix(c.MetricsPath, "/") {
		return fmt.Errorf("testsvc: PrometheusConfig.MetricsPath %q: must start with /", c.MetricsPath)
	}
	for _, t := range c.Targets {
		if _, port, err := net.SplitHostPort(t); err != nil || port == "" {
			return fmt.Errorf("testsvc: PrometheusConfig.Targets %q: want host:port", t)
		}
	}
	return nil
}

// yaml renders the configuration file. JSON strings and arrays are valid YAML flow scalars and
// sequences, so values are quoted with encoding/json.
func (c PrometheusConfig) yaml() []byte {
	interval := strconv.FormatInt(c.ScrapeInterval.Milliseconds(), 10) + "ms"
	quote := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n", interval, interval, interval)
	fmt.Fprintf(&b, "scrape_configs:\n- job_name: %s\n  metrics_path: %s\n  static_configs:\n  - targets: %s\n",
		quote(PrometheusJob), quote(c.MetricsPath), quote(c.Targets))
	if extra := strings.TrimRight(c.ExtraScrapeConfigs, "\n"); extra != "" {
		b.WriteString(extra + "\n")
	}
	return []byte(b.String())
}

// Prometheus is a throwaway Prometheus server on 127.0.0.1 with its own config file and TSDB in
// a temporary directory, started with --web.enable-lifecycle.
//
// Prometheus 2.42 applies new target sets on a ~5 s cycle: the first sample of a target is
// queryable only ~6 s after start or after SetTargets. Poll with WaitForSeries, never sleep.
type Prometheus struct {
	bin        string
	dir        string // temporary directory, removed by Close (kept when persistent)
	keep       bool
	configPath string
	dataDir    string
	log        logFile
	port       int
	client     *http.Client

	mu     sync.Mutex
	cfg    PrometheusConfig
	proc   *process
	closed bool
}

// StartPrometheus starts a Prometheus server for one test and stops it at tb.Cleanup, logging
// the tail of its log first if the test failed. A missing binary skips the test (fails it when
// CI=true).
func StartPrometheus(tb testing.TB, cfg PrometheusConfig) *Prometheus {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 60*time.Second)
	defer cancel()
	p, err := NewPrometheus(ctx, cfg)
	if err != nil {
		skipOrFail(tb, err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("testsvc: prometheus log tail (%s):\n%s", p.log, tail(p.log.since(0), 40))
		}
		if err := p.Close(); err != nil {
			tb.Errorf("testsvc: %v", err)
		}
	})
	return p
}

// NewPrometheus starts a Prometheus server that the caller must Close. The binary is
// $DRAWBRIDGE_PROMETHEUS_BIN, else prometheus on $PATH, else /usr/bin/prometheus; a missing one
// gives a *MissingBinaryError (see ShouldSkip).
func NewPrometheus(ctx context.Context, cfg PrometheusConfig) (*Prometheus, error) {
	return newPrometheus(ctx, cfg, freePort)
}

// newPrometheus is NewPrometheus with the port picker injected (tests make it return a busy port).
func newPrometheus(ctx context.Context, cfg PrometheusConfig, pickPort func() (int, error)) (*Prometheus, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	bin, err := findPrometheus()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "drawbridge-prom-")
	if err != nil {
		return nil, fmt.Errorf("testsvc: prometheus temp dir: %w", err)
	}
	p := &Prometheus{
		bin:        bin,
		dir:        dir,
		configPath: filepath.Join(dir, "prometheus.yml"),
		dataDir:    filepath.Join(dir, "data"),
		log:        logFile(filepath.Join(dir, "prometheus.log")),
		client:     &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		cfg:        cfg,
	}
	if err := p.setup(ctx, pickPort); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// OpenPrometheus runs a server whose TSDB and config live in dir (kept across runs) on
// port: the demo's Prometheus. Close stops it and keeps dir.
func OpenPrometheus(ctx context.Context, dir string, port int, cfg PrometheusConfig) (*Prometheus, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	bin, err := findPrometheus()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testsvc: prometheus dir: %w", err)
	}
	p := &Prometheus{
		bin: bin, dir: dir, keep: true,
		configPath: filepath.Join(dir, "prometheus.yml"),
		dataDir:    filepath.Join(dir, "data"),
		log:        logFile(filepath.Join(dir, "prometheus.log")),
		client:     &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		cfg:        cfg,
	}
	if err := p.setup(ctx, func() (int, error) { return port, nil }); err != nil {
		return nil, errors.Join(err, p.Close())
	}
	return p, nil
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (p *Prometheus) URL() string { return "http://127.0.0.1:" + strconv.Itoa(p.port) }

// LogPath is the server's log file.
func (p *Prometheus) LogPath() string { return string(p.log) }

// SetTargets replaces the targets of the job PrometheusJob, rewrites the config file and reloads
// it (POST /-/reload). Expect the first samples of a new target ~5 s later.
func (p *Prometheus) SetTargets(ctx context.Context, targets []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg := p.cfg
	cfg.Targets = append([]string(nil), targets...)
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := writeFileAtomic(p.configPath, cfg.yaml()); err != nil {
		return fmt.Errorf("testsvc: prometheus config: %w", err)
	}
	p.cfg = cfg
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL()+"/-/reload", nil)
	if err != nil {
		return err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("testsvc: prometheus reload: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("testsvc: prometheus reload: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Kill sends SIGKILL and waits until the server is gone; queries then fail with connection
// refused. Killing a server that is not running is a no-op.
func (p *Prometheus) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killLocked()
}

// Pause sends SIGSTOP: connections are accepted by the kernel but never answered until Resume.
func (p *Prometheus) Pause() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return errors.New("testsvc: pause prometheus: not running")
	}
	if err := stopAndWait(p.proc.pid()); err != nil {
		return fmt.Errorf("testsvc: pause prometheus: %w", err)
	}
	return nil
}

// Resume sends SIGCONT to a paused server.
func (p *Prometheus) Resume() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return errors.New("testsvc: resume prometheus: not running")
	}
	return p.proc.signal(syscall.SIGCONT)
}

// Close stops the server (SIGTERM, then SIGKILL after 5 s) and removes the temporary directory.
// It is safe to call more than once.
func (p *Prometheus) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	if p.runningLocked() {
		_ = p.proc.signal(syscall.SIGCONT)
		if err := p.proc.signal(syscall.SIGTERM); err != nil {
			errs = append(errs, err)
		}
		if !p.proc.wait(5 * time.Second) {
			errs = append(errs, p.killLocked())
		}
	}
	p.client.CloseIdleConnections()
	if !p.keep {
		if err := os.RemoveAll(p.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testsvc: close prometheus: %w", err)
	}
	return nil
}

// setup writes the config and starts the server on a free port, retrying on a new port when
// another process bound the chosen one first.
func (p *Prometheus) setup(ctx context.Context, pickPort func() (int, error)) error {
	if err := writeFileAtomic(p.configPath, p.cfg.yaml()); err != nil {
		return fmt.Errorf("testsvc: prometheus config: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for attempt := 1; ; attempt++ {
		port, err := pickPort()
		if err != nil {
			return err
		}
		p.port = port
		err = p.startLocked(ctx)
		if err == nil || !errors.Is(err, ErrAddrInUse) || attempt == maxStartAttempts {
			return err
		}
	}
}

func (p *Prometheus) startLocked(ctx context.Context) error {
	if !p.keep { // a persistent server keeps its samples across runs
		if err := os.RemoveAll(p.dataDir); err != nil {
			return fmt.Errorf("testsvc: prometheus data dir: %w", err)
		}
	}
	offset := p.log.size()
	logw, err := p.log.open()
	if err != nil {
		return fmt.Errorf("testsvc: prometheus log: %w", err)
	}
	defer logw.Close() // the child has its own descriptor
	cmd := exec.Command(p.bin,
		"--config.file="+p.configPath,
		"--storage.tsdb.path="+p.dataDir,
		"--storage.tsdb.retention.time="+p.retention(),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(p.port),
		"--web.enable-lifecycle")
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = sysProcAttr(nil)
	proc, err := startProcess(cmd)
	if err != nil {
		return fmt.Errorf("testsvc: start prometheus: %w", err)
	}
	p.proc = proc
	if err := p.waitReady(ctx, offset); err != nil {
		return errors.Join(err, p.killLocked())
	}
	return nil
}

// waitReady polls GET /-/ready until 200, for at most 30 s (or ctx's deadline), then checks the
// server is ours (its TSDB path), not one that took our port.
func (p *Prometheus) waitReady(ctx context.Context, logOffset int64) error {
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	ctx, cancelOnExit := p.proc.untilExit(ctx)
	defer cancelOnExit()
	stop := func() error {
		if p.proc.exited() {
			return exitError("prometheus", p.proc, p.log.since(logOffset))
		}
		return nil
	}
	err := poll(ctx, 50*time.Millisecond, stop, p.checkOurs)
	if err != nil && !p.proc.exited() {
		err = fmt.Errorf("testsvc: prometheus on port %d not ready: %w; log tail:\n%s", p.port, err, tail(p.log.since(logOffset), 30))
	}
	return err
}

func (p *Prometheus) checkOurs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := p.get(ctx, "/-/ready"); err != nil {
		return err
	}
	body, err := p.get(ctx, "/api/v1/status/flags")
	if err != nil {
		return err
	}
	var flags struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(body, &flags); err != nil {
		return fmt.Errorf("status/flags: %w", err)
	}
	if got := flags.Data["storage.tsdb.path"]; got != p.dataDir {
		return fmt.Errorf("port %d is served by another prometheus (storage.tsdb.path %q)", p.port, got)
	}
	return nil
}

// get returns the body of a 200 response to GET path.
func (p *Prometheus) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, nil
}

func (p *Prometheus) runningLocked() bool { return p.proc != nil && !p.proc.exited() }

func (p *Prometheus) killLocked() error {
	if !p.runningLocked() {
		return nil
	}
	if err := p.proc.kill(); err != nil {
		return fmt.Errorf("testsvc: kill prometheus: %w", err)
	}
	return nil
}

// findPrometheus returns $DRAWBRIDGE_PROMETHEUS_BIN, else prometheus on $PATH, else
// /usr/bin/prometheus.
func findPrometheus() (string, error) {
	if bin := os.Getenv("DRAWBRIDGE_PROMETHEUS_BIN"); bin != "" {
		if _, err := exec.LookPath(bin); err != nil {
			return "", &MissingBinaryError{Binary: "prometheus", Looked: "DRAWBRIDGE_PROMETHEUS_BIN=" + bin}
		}
		return bin, nil
	}
	for _, bin := range []string{"prometheus", "/usr/bin/prometheus"} {
		if path, err := exec.LookPath(bin); err == nil {
			return path, nil
		}
	}
	return "", &MissingBinaryError{Binary: "prometheus", Looked: "$DRAWBRIDGE_PROMETHEUS_BIN, $PATH and /usr/bin"}
}

// retention keeps a throwaway server's samples an hour and a persistent one's a day.
func (p *Prometheus) retention() string {
	if p.keep {
		return "24h"
	}
	return "1h"
}
