// Command drawbridge-demo is what make demo runs: a whole upgrade, approval and rollback
// in the browser, with a local PostgreSQL, Prometheus, a kongsim cluster, drawbridge
// itself (as serve runs it) and the console, a local stand-in for Slack. It is a binary of
// its own so that the drawbridge binary links no simulator, fake or test server.
//
// "drawbridge-demo console" runs the console alone, in front of a drawbridge that runs
// elsewhere: the lab (deploy/lab) uses it as its Slack.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/drawbridge/drawbridge/internal/demo"
)

// exitUsage is the exit code for a command line that cannot be understood.
const exitUsage = 64

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is everything make demo promises, until Ctrl-C; or the console alone.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "console" {
		return runConsole(ctx, args[1:], stdout, stderr)
	}
	var o demo.Options
	fs := flag.NewFlagSet("drawbridge-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: drawbridge-demo [flags]")
		fmt.Fprintln(stderr, "       drawbridge-demo console -drawbridge URL -channel C… [flags]   (the console alone; console -h)")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Data, "data", "data", "directory for the demo's state (PostgreSQL, Prometheus, kongsim, drawbridge)")
	fs.StringVar(&o.Config, "config", "examples/demo.yaml", "drawbridge's configuration for the demo")
	fs.StringVar(&o.Kongsim, "kongsim", "bin/kongsim", "the kongsim binary (make demo builds it)")
	fs.StringVar(&o.ConsoleListen, "listen", "127.0.0.1:8099", "address of the console (the local Slack)")
	fs.IntVar(&o.PGPort, "pg-port", 55432, "PostgreSQL's port")
	fs.IntVar(&o.PromPort, "prometheus-port", 59090, "Prometheus' port")
	fs.IntVar(&o.DrawbridgePort, "drawbridge-port", 58080, "drawbridge's port")
	verbose := fs.Bool("v", false, "log what every part does")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
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
		fmt.Fprintf(stderr, "drawbridge-demo: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "demo stopped; run make demo again to continue")
	return 0
}
