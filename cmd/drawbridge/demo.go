package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/drawbridge/drawbridge/internal/demo"
)

// runDemo is "drawbridge demo": everything make demo promises, until Ctrl-C.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o demo.Options
	fs := newFlagSet("demo", "[flags]", stderr)
	fs.StringVar(&o.Data, "data", "data", "directory for the demo's state (PostgreSQL, Prometheus, kongsim, drawbridge)")
	fs.StringVar(&o.Config, "config", "examples/demo.yaml", "drawbridge's configuration for the demo")
	fs.StringVar(&o.Kongsim, "kongsim", "bin/kongsim", "the kongsim binary (make demo builds it)")
	fs.StringVar(&o.ConsoleListen, "listen", "127.0.0.1:8099", "address of the console (the local Slack)")
	fs.IntVar(&o.PGPort, "pg-port", 55432, "PostgreSQL's port")
	fs.IntVar(&o.PromPort, "prometheus-port", 59090, "Prometheus' port")
	fs.IntVar(&o.DrawbridgePort, "drawbridge-port", 58080, "drawbridge's port")
	verbose := fs.Bool("v", false, "log what every part does")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	o.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	dir := o.Data
	if !filepath.IsAbs(dir) && !strings.HasPrefix(dir, ".") {
		dir = "./" + dir
	}
	o.Ready = func(url string) {
		fmt.Fprintf(stdout, "\ndrawbridge demo is ready: open %s\n(Ctrl-C stops everything; the state is kept in %s)\n", url, dir)
	}
	// Closing the terminal stops the demo as Ctrl-C does, so ./data stays consistent.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGHUP)
	defer stop()
	fmt.Fprintf(stdout, "starting PostgreSQL, Prometheus, a 3-node kongsim cluster (on Kong 3.4.2 when %s is new), drawbridge and the console…\n", dir)
	if err := demo.Run(ctx, o); err != nil {
		fmt.Fprintf(stderr, "drawbridge demo: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "demo stopped; run make demo again to continue")
	return 0
}
