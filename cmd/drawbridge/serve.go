package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/scrub"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/wire"
)

// The HTTP server's limits. Its clients are Slack (small, signed requests sent at once;
// Slack gives up after 3 s and retries), a reverse proxy in front of it, Prometheus and
// probes; none of them needs long to send a request. A client that trickles its request
// (slowloris) is cut off after a few seconds, so it cannot hold a connection for long, and
// the cap keeps many of them from exhausting file descriptors and memory while staying
// far above what real clients open, so slow clients do not make a real request wait.
const (
	// serveReadHeaderTimeout is how long a client has to send its request line and
	// headers, counted from the connection's acceptance.
	serveReadHeaderTimeout = 5 * time.Second
	// serveReadTimeout bounds the whole request, body included: an interaction (at most
	// 2 MiB, the whole message) arrives from Slack in well under a second.
	serveReadTimeout = 10 * time.Second
	// serveWriteTimeout bounds reading the body, the handler and writing the answer,
	// counted from the end of the headers. The Slack handlers answer at once and do their
	// work in the background; /metrics takes milliseconds.
	serveWriteTimeout = 15 * time.Second
	// serveIdleTimeout is how long a kept-alive connection may wait for its next request:
	// longer than reverse proxies keep idle upstream connections (nginx and AWS load
	// balancers: 60 s), so that the proxy, not drawbridge, closes them.
	serveIdleTimeout = 120 * time.Second
	// serveMaxConnections caps the connections served at once; more wait to be accepted.
	// Slack, a proxy's pool and the probes use a few dozen at most; 512 leaves room for
	// bursts while bounding goroutines, buffers and file descriptors.
	serveMaxConnections = 512
	// serveMaxHeaderBytes caps a request's headers: Slack's are a few KiB, and 512
	// connections × Go's default 1 MB would be half a gigabyte.
	serveMaxHeaderBytes = 64 << 10
)

// serveOptions are the flags of "drawbridge serve".
type serveOptions struct {
	configPath      string
	logLevel        slog.Level
	shutdownTimeout time.Duration
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts serveOptions
	fs := newFlagSet("serve", "--config FILE", stderr)
	fs.StringVar(&opts.configPath, "config", "drawbridge.yaml", "configuration file")
	fs.TextVar(&opts.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.DurationVar(&opts.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish at shutdown")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: opts.logLevel}))
	if err := serve(ctx, opts, log); err != nil {
		var ps *config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stderr, ps.Error())
		}
		log.Error("drawbridge stopped", "err", err)
		return 1
	}
	return 0
}

// serve runs the bot until ctx is cancelled, then shuts down in order: stop accepting,
// let in-flight requests finish, close the state file.
func serve(ctx context.Context, opts serveOptions, log *slog.Logger) error {
	cfg, err := config.Load(opts.configPath, config.LoadOptions{})
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	// From here on nothing logged, stored or sent carries a secret of the configuration.
	log = slog.New(scrub.New(cfg.Secrets()...).Handler(log.Handler()))
	for _, w := range cfg.SecretWarnings() {
		log.Warn("weak secret in the configuration", "warning", w)
	}
	store, err := storage.Open(cfg.StateFile, storage.Options{Secrets: cfg.Secrets()})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("close state file", "path", cfg.StateFile, "err", err)
		} else {
			log.Info("state file closed", "path", cfg.StateFile)
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)
	app, err := wire.NewApp(cfg, store, log, wire.AppOptions{Metrics: reg})
	if err != nil {
		return err
	}
	// Every unfinished run resumes: interrupted steps are checked, repeated or left for
	// a person (PRODUCT.md "State and recovery"); undelivered Slack messages go out.
	if err := app.Start(ctx); err != nil {
		return err
	}
	defer app.Close() // before the store closes: runs stop at a safe point first

	h := &health{store: store}
	mux := http.NewServeMux()
	app.Routes(mux)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /audit/export", auditHandler(cfg, store, log))
	mux.Handle("GET /audit/verify", auditHandler(cfg, store, log))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	ln = netutil.LimitListener(ln, serveMaxConnections)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		MaxHeaderBytes:    serveMaxHeaderBytes,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("drawbridge serving", "version", buildVersion(), "addr", ln.Addr().String(), "state_file", cfg.StateFile,
		"clusters", len(cfg.Clusters), "slack_mode", slackMode(cfg))

	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case err := <-app.Errors():
		log.Error("a part of drawbridge stopped", "err", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", opts.shutdownTimeout.String())
	h.stopping.Store(true)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	<-served
	return nil
}

func slackMode(cfg *config.Config) string {
	if cfg.Slack.SocketMode() {
		return "socket"
	}
	return "http"
}

func buildInfo() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "drawbridge_build_info",
		Help:        "Always 1; the version label says which drawbridge is running.",
		ConstLabels: prometheus.Labels{"version": buildVersion()},
	})
	g.Set(1)
	return g
}
