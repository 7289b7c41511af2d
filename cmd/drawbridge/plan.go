package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify"
	"github.com/drawbridge/drawbridge/scrub"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/drawbridge/drawbridge/wire"
)

// exitRefused is plan's exit code when the run would be refused.
const exitRefused = 2

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", "--config FILE [--chain] <cluster> <version>", stderr)
	configPath := fs.String("config", "drawbridge.yaml", "configuration file")
	chain := fs.Bool("chain", false, "plan the chain of guaranteed hops to the version in one downtime")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitUsage
	}
	cluster, version := fs.Arg(0), fs.Arg(1)
	cfg, err := config.Load(*configPath, config.LoadOptions{})
	if err != nil {
		var ps *config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stderr, ps.Error())
		} else {
			fmt.Fprintf(stderr, "drawbridge: %v\n", err)
		}
		return 1
	}
	var store upgrade.Store
	var note string
	st, err := storage.Open(cfg.StateFile, storage.Options{LockTimeout: 200 * time.Millisecond, Secrets: cfg.Secrets()})
	switch {
	case errors.Is(err, storage.ErrLocked):
		store, note = noHistory{}, "the state file is in use by a running drawbridge: other runs and downtime history were not checked"
	case err != nil:
		fmt.Fprintf(stderr, "drawbridge: %v\n", err)
		return 1
	default:
		defer st.Close()
		store = st
	}
	log := slog.New(scrub.New(cfg.Secrets()...).Handler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	eng, err := upgrade.New(wire.EngineOptions(cfg, store, log))
	if err != nil {
		fmt.Fprintf(stderr, "drawbridge: %v\n", err)
		return 1
	}
	defer eng.Close()
	var opts []upgrade.PlanOption
	if *chain {
		opts = append(opts, upgrade.AsChain)
	}
	p, err := eng.Plan(ctx, cluster, version, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "drawbridge plan: %v\n", err)
		return exitUsage
	}
	fmt.Fprint(stdout, notify.PlanText(p.Summary(), note))
	if p.Refused {
		return exitRefused
	}
	return 0
}

// noHistory stands in for the state file when a running drawbridge holds it: no runs.
type noHistory struct{ upgrade.Store }

func (noHistory) ActiveRun(context.Context, string) (domain.Run, bool, error) {
	return domain.Run{}, false, nil
}

func (noHistory) ListRuns(context.Context, storage.RunFilter) ([]domain.Run, error) {
	return nil, nil
}
