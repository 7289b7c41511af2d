package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/internal/wire"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
)

// exitRefused is plan's exit code when the run would be refused.
const exitRefused = 2

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", "--config FILE <cluster> <version>", stderr)
	configPath := fs.String("config", "drawbridge.yaml", "configuration file")
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
	st, err := storage.Open(cfg.StateFile, storage.Options{LockTimeout: 200 * time.Millisecond})
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := upgrade.New(wire.EngineOptions(cfg, store, log))
	if err != nil {
		fmt.Fprintf(stderr, "drawbridge: %v\n", err)
		return 1
	}
	defer eng.Close()
	p, err := eng.Plan(ctx, cluster, version)
	if err != nil {
		fmt.Fprintf(stderr, "drawbridge plan: %v\n", err)
		return exitUsage
	}
	writePlan(stdout, p, note)
	if p.Refused {
		return exitRefused
	}
	return 0
}

func writePlan(w io.Writer, p upgrade.Plan, note string) {
	from := p.From
	if from == "" {
		from = "?"
	}
	fmt.Fprintf(w, "plan: upgrade %s from %s to %s\n\npreflight\n", p.Cluster, from, p.To)
	for _, ch := range p.Checks {
		verdict := "ok"
		switch {
		case !ch.OK:
			verdict = "FAIL"
		case ch.Warning:
			verdict = "warning"
		}
		fmt.Fprintf(w, "  %-8s %s: %s\n", verdict, ch.Name, ch.Detail)
	}
	if note != "" {
		fmt.Fprintf(w, "  %-8s %s\n", "note", note)
	}
	fmt.Fprintf(w, "\nsteps\n")
	for _, s := range p.Steps {
		line := fmt.Sprintf("  %2d  %s", s.Index, s.Title)
		if s.Note != "" {
			line = fmt.Sprintf("%-34s %s", line, s.Note)
		}
		fmt.Fprintln(w, line)
	}
	if p.From != "" || len(p.Migrations) > 0 {
		fmt.Fprintf(w, "\nmigrations\n  up runs %d: %s\n", len(p.Migrations), upgrade.MigrationNames(p.Migrations))
		fmt.Fprintf(w, "  left pending for finish: %s\n", orNone(upgrade.MigrationNames(p.PendingAfterUp)))
		if p.Force {
			fmt.Fprintf(w, "  new plugins %s: migrations run with -f\n", strings.Join(p.NewPlugins, ", "))
		}
	}
	if len(p.Breaking) > 0 {
		fmt.Fprintf(w, "\nbreaking changes\n")
		for _, b := range p.Breaking {
			fmt.Fprintf(w, "  %s (%s)\n", b.Line, b.Link)
			for _, c := range b.Changes {
				fmt.Fprintf(w, "    - %s\n", c)
			}
		}
	}
	if p.PredictedDowntime > 0 {
		fmt.Fprintf(w, "\npredicted downtime: %s (average of earlier runs)\n", p.PredictedDowntime.Round(100*time.Millisecond))
	} else if p.From != "" {
		fmt.Fprintf(w, "\npredicted downtime: no earlier run on %s to go by\n", p.Cluster)
	}
	if !p.Path.Guaranteed && len(p.Path.Hops) > 2 {
		fmt.Fprintf(w, "\nguaranteed hops: %s\n", p.Path.HopsString())
	}
	if p.Refused {
		fmt.Fprintf(w, "\nrefused: %s\n", p.Reason)
		return
	}
	fmt.Fprintf(w, "\nthe run could go ahead\n")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// noHistory stands in for the state file when a running drawbridge holds it: no runs.
type noHistory struct{ upgrade.Store }

func (noHistory) ActiveRun(context.Context, string) (storage.Run, bool, error) {
	return storage.Run{}, false, nil
}

func (noHistory) ListRuns(context.Context, storage.RunFilter) ([]storage.Run, error) {
	return nil, nil
}
