package upgrade

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/kong/nodecmd"
	"github.com/drawbridge/drawbridge/notify/words"
)

// stepCtx carries what one step needs.
type stepCtx struct {
	e        *Engine
	run      domain.Run
	c        *config.Cluster
	facts    domain.StepFacts // what the step found, beside what it returns
	tail     strings.Builder
	breached bool
	attempt  int                 // of the step running: more than 1 after a Resume or a retry
	scratch  *config.ScratchData // set while commands run against a rehearsal's copy
	migForce *bool               // set while a chain's hop decides -f for itself
}

func (s *stepCtx) fail(format string, args ...any) stepResult {
	return stepResult{err: fmt.Errorf(format, args...)}
}

func (s *stepCtx) versions() (x, y catalog.Version, err error) {
	if x, err = catalog.ParseVersion(s.run.From); err != nil {
		return x, y, fmt.Errorf("run %s has no known current version: %w", s.run.ID, err)
	}
	y, err = catalog.ParseVersion(s.run.To)
	return x, y, err
}

// hops are the versions the run migrates through after X, ending with Y: the chain's hops,
// or just Y.
func (s *stepCtx) hops() ([]catalog.Version, error) {
	names := s.run.ChainHops()
	if names == nil {
		names = []string{s.run.To}
	}
	out := make([]catalog.Version, 0, len(names))
	for _, n := range names {
		v, err := catalog.ParseVersion(n)
		if err != nil {
			return nil, fmt.Errorf("run %s's chain: %w", s.run.ID, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *stepCtx) force() bool {
	return s.run.ForceMigrations()
}

// plugins is the nodes' plugins setting recorded at preflight (nil: not recorded, every
// bundled plugin).
func (s *stepCtx) plugins() []string {
	return s.run.Facts.Plugins
}

// controlPlane reports whether the nodes were hybrid control planes at preflight.
func (s *stepCtx) controlPlane() bool { return s.run.Facts.ControlPlane }

// known is what version v creates and checks in schema_meta for the plugins the nodes load.
func (s *stepCtx) known(v catalog.Version) []catalog.Subsystem {
	return catalog.Default().KnownFor(v, s.plugins())
}

func (s *stepCtx) data(version string) config.CommandData {
	d := config.CommandData{Cluster: s.c.Name, Run: s.run.ID.String(), From: s.run.From, To: s.run.To, Version: version, Force: s.force()}
	if s.migForce != nil {
		d.Force = *s.migForce
	}
	if s.scratch != nil {
		d.Scratch = *s.scratch
	}
	return d
}

// commands renders argv for nodes and runs them in parallel (bounded by the cluster's
// parallelism). It returns the time the commands took together (first start to last
// end), and an error naming every node whose command failed.
func (s *stepCtx) commands(ctx context.Context, action string, argv config.Argv, nodes []config.Node, version string) (time.Duration, error) {
	slowest, failed, err := s.commandsPerNode(ctx, action, argv, nodes, version)
	if err != nil {
		return slowest, err
	}
	var errs []string
	for _, n := range nodes {
		if e, ok := failed[n.Name]; ok {
			errs = append(errs, e.Error())
		}
	}
	if len(errs) > 0 {
		return slowest, errors.New(strings.Join(errs, "; "))
	}
	return slowest, nil
}

// commandsPerNode is commands with the failures per node.
func (s *stepCtx) commandsPerNode(ctx context.Context, action string, argv config.Argv, nodes []config.Node, version string) (time.Duration, map[string]error, error) {
	failed := map[string]error{}
	if len(argv) == 0 || len(nodes) == 0 {
		return 0, failed, nil
	}
	var jobs []nodecmd.Job
	for _, n := range nodes {
		d := s.data(version)
		if strings.HasSuffix(action, "migrations_finish") {
			d.Force = s.run.Force // finish runs plain unless a person asked for -f
		}
		d.Node = config.NodeDataOf(n)
		args, err := argv.Render(d)
		if err != nil {
			return 0, nil, fmt.Errorf("%s on %s: render command: %w", action, n.Name, err)
		}
		jobs = append(jobs, nodecmd.Job{Action: action, Node: n.Name, Argv: args})
	}
	dir := s.e.runDir(s.run.ID)
	if err := ensureDir(dir); err != nil {
		return 0, nil, fmt.Errorf("create %s: %w", dir, err)
	}
	results := s.e.opts.Commands(s.c, dir).RunAll(ctx, jobs)
	// The phase's command time is the span from the first command's start to the last
	// one's end: with parallelism below the node count it holds every wave.
	var first, last time.Time
	var slowest time.Duration
	for _, r := range results {
		slowest = max(slowest, r.Duration)
		if !r.Started.IsZero() {
			if first.IsZero() || r.Started.Before(first) {
				first = r.Started
			}
			if end := r.Started.Add(r.Duration); end.After(last) {
				last = end
			}
		}
		s.line(words.Command(r.Argv, action, r.Node, r.ExitCode, r.Duration))
		if t := strings.TrimSpace(r.Tail); t != "" {
			s.tail.WriteString(t + "\n")
		}
		if r.Err != nil {
			failed[r.Node] = r.Err
		}
		s.facts.Runs = append(s.facts.Runs, domain.CommandRun{Action: r.Action, Node: r.Node, Argv: r.Argv, Exit: r.ExitCode,
			Started: r.Started, Duration: ms(r.Duration)})
	}
	span := last.Sub(first)
	s.facts.Spans = append(s.facts.Spans, domain.ActionSpan{Action: action, Slowest: ms(slowest), Span: ms(span)})
	return span, failed, nil
}

// settle waits for every node to reach a state (stopped, or answering a version), at
// most the command timeout; a node whose command failed gets a short grace instead, so a
// failure that is only noise ("already running" after a restart) passes, and a real one is
// reported quickly with its command's error.
func (s *stepCtx) settle(ctx context.Context, failed map[string]error, reach func(context.Context, config.Node) error) error {
	const grace = 5 * time.Second
	return s.eachNode(ctx, func(ctx context.Context, n config.Node) error {
		cmdErr, hadErr := failed[n.Name]
		if hadErr {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, min(grace, s.c.CommandTimeout.D()))
			defer cancel()
		}
		err := reach(ctx, n)
		switch {
		case err == nil && hadErr:
			s.line(words.FailedButReached(n.Name, cmdErr))
			return nil
		case err != nil && hadErr:
			return cmdErr
		}
		return err
	})
}

// once runs a run-once command on the first node.
func (s *stepCtx) once(ctx context.Context, action string, argv config.Argv, version string) (time.Duration, error) {
	return s.commands(ctx, action, argv, s.c.Nodes[:1], version)
}

// ms rounds a measured time to the millisecond, as it is kept and shown.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func (s *stepCtx) openDB(ctx context.Context) (Database, error) {
	db, err := s.e.opts.OpenDB(ctx, s.c)
	if err != nil {
		return nil, fmt.Errorf("open database of %s: %w", s.c.Name, err)
	}
	return db, nil
}

// maxSaid bounds the own lines a step keeps apart (the output file keeps every one).
const maxSaid = 40

// line adds one of drawbridge's own lines (words) to the step's output, and keeps it apart
// too, so that a reply whose output is cut to its end still shows it.
func (s *stepCtx) line(text string) {
	s.tail.WriteString(text)
	s.tail.WriteByte('\n')
	if len(s.facts.Said) < maxSaid {
		s.facts.Said = append(s.facts.Said, text)
	}
}

func (s *stepCtx) notice(msg string) {
	ctx := s.e.ctx
	s.e.emit(ctx, domain.Event{Kind: domain.EventNotice, Run: s.run, Message: msg})
}
