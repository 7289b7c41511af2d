package upgrade

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/kong/catalog"
	"github.com/drawbridge/drawbridge/kong/nodecmd"
	"github.com/drawbridge/drawbridge/storage"
)

// runStep performs one step against the real world and says how it went.
func (e *Engine) runStep(ctx context.Context, run domain.Run, rec domain.StepRecord, d stepDef) stepResult {
	c, err := e.cluster(run.Cluster)
	if err != nil {
		return stepResult{err: err}
	}
	s := &stepCtx{e: e, run: run, c: c, attempt: rec.Attempt}
	var res stepResult
	switch d.ID {
	case domain.StepPreflight:
		res = s.preflight(ctx)
	case domain.StepFreeze:
		res = s.freeze(ctx)
	case domain.StepBackup:
		res = s.backup(ctx)
	case domain.StepEvaluate:
		res = s.evaluate(ctx)
	case domain.StepStage:
		res = s.stage(ctx)
	case domain.StepApproval:
		res = s.gate(ctx)
	case domain.StepStop:
		res = s.stopX(ctx)
	case domain.StepMigrationsUp:
		res = s.migrationsUp(ctx)
	case domain.StepMigrationsFinish:
		res = s.migrationsFinish(ctx)
	case domain.StepStart:
		res = s.startY(ctx)
	case domain.StepWatch:
		res = s.watch(ctx)
	case domain.StepDecommission:
		res = s.decommission(ctx)
	case domain.StepRollbackStop:
		res = s.rollbackStop(ctx)
	case domain.StepRollbackRestore:
		res = s.rollbackRestore(ctx)
	case domain.StepRollbackStart:
		res = s.rollbackStart(ctx)
	default:
		res = stepResult{err: fmt.Errorf("unknown step %d", d.ID)}
	}
	res.facts = merge(s.facts, res.facts)
	if res.tail == "" {
		res.tail = s.tail.String()
	}
	if cause := context.Cause(ctx); res.err != nil && cause != nil && !errors.Is(res.err, cause) {
		res.err = fmt.Errorf("%w (interrupted: %v)", res.err, cause)
	}
	return res
}

// stepCtx carries what one step needs.
type stepCtx struct {
	e        *Engine
	run      domain.Run
	c        *config.Cluster
	facts    domain.StepFacts // what the step found, beside what it returns
	tail     strings.Builder
	breached bool
	attempt  int // of the step running: more than 1 after a Resume or a retry
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
	return config.CommandData{Cluster: s.c.Name, Run: s.run.ID.String(), From: s.run.From, To: s.run.To, Version: version, Force: s.force()}
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
		if action == "migrations_finish" {
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
		header := action
		if r.Node != "" {
			header += " on " + r.Node
		}
		fmt.Fprintf(&s.tail, "$ %s  (%s, exit %d, %s)\n", strings.Join(r.Argv, " "), header, r.ExitCode, r.Duration.Round(time.Millisecond))
		if t := strings.TrimSpace(r.Tail); t != "" {
			s.tail.WriteString(t + "\n")
		}
		if r.Err != nil {
			failed[r.Node] = r.Err
		}
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
			fmt.Fprintf(&s.tail, "%s: its command failed, but the node is as wanted: %v\n", n.Name, cmdErr)
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

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// ms rounds a measured time to the millisecond, as it is kept and shown.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// merge adds what a step recorded as it went (into) to the facts it returned.
func merge(into, res domain.StepFacts) domain.StepFacts {
	if res.Gate != nil {
		into.Gate = res.Gate
	}
	return into
}

func (s *stepCtx) openDB(ctx context.Context) (Database, error) {
	db, err := s.e.opts.OpenDB(ctx, s.c)
	if err != nil {
		return nil, fmt.Errorf("open database of %s: %w", s.c.Name, err)
	}
	return db, nil
}

func (s *stepCtx) notice(msg string) {
	s.e.opts.Sink.Emit(domain.Event{Kind: domain.EventNotice, Run: s.run, Message: msg})
}

// --- steps 1–5: preparing, nothing changes on the cluster ---

func (s *stepCtx) preflight(ctx context.Context) stepResult {
	y, err := catalog.ParseVersion(s.run.To)
	if err != nil {
		return stepResult{err: err}
	}
	p := s.e.preflight(ctx, s.c, y, s.run)
	for _, ch := range p.Checks {
		verdict := ch.Verdict()
		s.facts.Checks = append(s.facts.Checks, domain.CheckVerdict{Name: ch.Name, Verdict: verdict, Detail: ch.Detail})
		fmt.Fprintf(&s.tail, "%-8s %s: %s\n", verdict, ch.Name, ch.Detail)
	}
	if p.Refused {
		return s.fail("%s", p.Reason)
	}
	f := domain.Facts{Plugins: p.Plugins, ControlPlane: p.ControlPlane, NewPluginsNeedForce: p.Force}
	var warnings []string
	if !p.Path.Guaranteed {
		warnings = append(warnings, fmt.Sprintf("%s → %s is not a path Kong guarantees (guaranteed hops: %s)", p.From, p.To, p.Path.HopsString()))
	}
	if p.ControlPlane {
		warnings = append(warnings, controlPlaneWarning(y))
	}
	f.Warnings = warnings
	return stepResult{learned: func(r *domain.Run) {
		r.From = p.From // the version the nodes run
		r.Facts.Plugins, r.Facts.ControlPlane, r.Facts.Warnings = f.Plugins, f.ControlPlane, f.Warnings
		r.Facts.NewPluginsNeedForce = r.Facts.NewPluginsNeedForce || f.NewPluginsNeedForce
	}}
}

func (s *stepCtx) freeze(ctx context.Context) stepResult {
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	fp, err := db.Fingerprint(ctx)
	if err != nil {
		return s.fail("fingerprint the configuration: %w", err)
	}
	s.facts.Fingerprint, s.facts.Tables = fp.Hash, len(fp.Tables)
	if _, err := s.once(ctx, "freeze", s.c.Commands.Freeze, s.run.From); err != nil {
		return stepResult{err: err}
	}
	s.notice(fmt.Sprintf("Configuration freeze on %s: no Admin API writes, decK syncs or Kong Manager changes until run %s ends.", s.c.Name, s.run.ID))
	return stepResult{learned: func(r *domain.Run) { r.Facts.Freeze, r.Facts.Frozen = &fp, true }}
}

// frozen returns the fingerprint taken at the freeze.
func (s *stepCtx) frozen() (kong.Fingerprint, error) {
	if s.run.Facts.Freeze == nil {
		return kong.Fingerprint{}, errors.New("the run has no fingerprint from its freeze")
	}
	return *s.run.Facts.Freeze, nil
}

// unchanged compares the configuration with the freeze's fingerprint.
func (s *stepCtx) unchanged(ctx context.Context, db Database, when string) error {
	want, err := s.frozen()
	if err != nil {
		return err
	}
	now, err := db.Fingerprint(ctx)
	if err != nil {
		return fmt.Errorf("fingerprint the configuration %s: %w", when, err)
	}
	if !now.Equal(want) {
		return fmt.Errorf("Kong's configuration changed during the freeze (%s): %s", when, kong.DiffString(now.Diff(want)))
	}
	return nil
}

func (s *stepCtx) backupPath() string {
	return filepath.Join(s.e.opts.Config.BackupDir, s.c.Name, s.run.ID.String()+".dump")
}

func (s *stepCtx) backup(ctx context.Context) stepResult {
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	b, err := db.Backup(ctx, s.backupPath())
	if err != nil {
		return stepResult{err: err}
	}
	backup := domain.Backup{Path: b.Path, Size: b.Size, SHA256: b.SHA256}
	s.facts.Backup, s.facts.Took = &backup, ms(b.Duration)
	fmt.Fprintf(&s.tail, "pg_dump -Fc → %s (%s, sha256 %s), verified by reading the whole archive\n", b.Path, bytesString(b.Size), b.SHA256)
	if err := s.unchanged(ctx, db, "by the backup"); err != nil {
		return stepResult{err: err}
	}
	if _, err := s.once(ctx, "export", s.c.Commands.Export, s.run.From); err != nil {
		return stepResult{err: err}
	}
	return stepResult{learned: func(r *domain.Run) { r.Facts.Backup = &backup }}
}

func (s *stepCtx) evaluate(ctx context.Context) stepResult {
	x, y, err := s.versions()
	if err != nil {
		return stepResult{err: err}
	}
	p := Plan{Plugins: s.plugins()}
	s.e.evaluate(ctx, &p, s.c, x, y)
	ev := &domain.Evaluation{Migrations: len(p.Migrations), PendingAfterUp: MigrationNames(p.PendingAfterUp),
		NewPlugins: p.NewPlugins, Force: p.Force || s.run.Force}
	s.facts.Evaluation = ev
	if p.PredictedDowntime > 0 {
		ev.PredictedDowntime = ms(p.PredictedDowntime)
	}
	fmt.Fprintf(&s.tail, "migrations up runs %d migrations: %s\n", len(p.Migrations), MigrationNames(p.Migrations))
	if len(p.PendingAfterUp) > 0 {
		fmt.Fprintf(&s.tail, "left pending for finish: %s\n", MigrationNames(p.PendingAfterUp))
	}
	if p.Force {
		fmt.Fprintf(&s.tail, "new plugins %s: migrations run with -f\n", strings.Join(p.NewPlugins, ", "))
	}
	var lines []string
	for _, b := range p.Breaking {
		lines = append(lines, b.Line)
		fmt.Fprintf(&s.tail, "breaking changes in %s (%s):\n", b.Line, b.Link)
		for _, ch := range b.Changes {
			fmt.Fprintf(&s.tail, "  - %s\n", ch)
		}
	}
	ev.BreakingLines = lines
	var baseline *domain.Baseline
	if s.e.opts.Baseliner != nil {
		b, err := s.e.opts.Baseliner.Baseline(ctx, watchCluster(s.c, s.controlPlane()), s.run.From, s.e.earlierRuns(ctx, s.c.Name, s.run.ID)...)
		if err != nil {
			return s.fail("take the watch's baseline: %w", err)
		}
		baseline = &b
		fmt.Fprintf(&s.tail, "baseline over the last %s:\n%s", b.Lookback, baselineText(b))
	}
	return stepResult{learned: func(r *domain.Run) {
		r.Facts.NewPluginsNeedForce = r.Facts.NewPluginsNeedForce || p.Force
		if baseline != nil {
			r.Facts.Baseline = baseline
		}
	}}
}

// baselineText lists a baseline's values, one check a line.
func baselineText(b domain.Baseline) string {
	var sb strings.Builder
	for _, name := range slices.Sorted(maps.Keys(b.Values)) {
		fmt.Fprintf(&sb, "  %s: %.4g\n", name, b.Values[name])
	}
	for _, name := range slices.Sorted(maps.Keys(b.Notes)) {
		fmt.Fprintf(&sb, "  %s: no baseline (%s)\n", name, b.Notes[name])
	}
	for _, iv := range b.Skipped {
		fmt.Fprintf(&sb, "  left out: an earlier run, %s–%s UTC\n", iv.From.UTC().Format(time.TimeOnly), iv.To.UTC().Format(time.TimeOnly))
	}
	return sb.String()
}

// earlierRuns are the spans in which earlier runs on cluster disturbed it, from their first
// stop until they ended (the newest 20 runs): the baseline leaves them out. A run still
// going counts until now.
func (e *Engine) earlierRuns(ctx context.Context, cluster string, current domain.RunID) []domain.Interval {
	runs, err := e.opts.Store.ListRuns(ctx, storage.RunFilter{Cluster: cluster, Limit: 20})
	if err != nil {
		e.opts.Log.Warn("list earlier runs for the baseline", "cluster", cluster, "err", err)
		return nil
	}
	var out []domain.Interval
	for _, r := range runs {
		if r.ID == current || r.DowntimeStart.IsZero() {
			continue
		}
		end := r.UpdatedAt
		if !r.State.Terminal() {
			end = e.opts.Clock.Now()
		}
		out = append(out, domain.Interval{From: r.DowntimeStart, To: end})
	}
	return out
}

// baseline is the run's stored baseline.
func (s *stepCtx) baseline() domain.Baseline {
	if b := s.run.Facts.Baseline; b != nil {
		return *b
	}
	return domain.Baseline{}
}

func (s *stepCtx) stage(ctx context.Context) stepResult {
	if len(s.c.Commands.Stage) == 0 && len(s.c.Commands.Check) == 0 {
		return stepResult{skipped: true, tail: "no stage or check command configured"}
	}
	if _, err := s.commands(ctx, "stage", s.c.Commands.Stage, s.c.Nodes, s.run.To); err != nil {
		return stepResult{err: err}
	}
	// The check of Y (its custom plugins, its configuration) fails here, before any
	// downtime, rather than at the start of Y with every node down.
	if _, err := s.commands(ctx, "check", s.c.Commands.Check, s.c.Nodes, s.run.To); err != nil {
		return s.fail("the check of %s failed, so %s would not start: %w", s.run.To, s.run.To, err)
	}
	return stepResult{}
}

// gate opens the approval gate, or crosses it once enough approvals are in: the
// configuration is compared with the freeze's fingerprint first.
func (s *stepCtx) gate(ctx context.Context) stepResult {
	aps, err := s.e.opts.Store.Approvals(ctx, s.run.ID)
	if err != nil {
		return stepResult{err: err}
	}
	if countApprovals(aps) < s.e.opts.Config.Access.RequiredApprovals {
		if w := s.run.Facts.Warnings; len(w) > 0 {
			s.notice("Warning at the gate: " + strings.Join(w, "; "))
		}
		return stepResult{facts: domain.StepFacts{Gate: &domain.GateCrossing{}}}
	}
	// Crossing. Approvals may have come long before (ahead of a window): what the
	// downtime relies on is checked again now: the nodes still run X, and Kong's
	// configuration is still the one frozen and backed up. (The window and blackouts were
	// checked by decide just before.)
	view, nodes := s.e.checkNodes(ctx, s.c)
	if !nodes.OK {
		return s.fail("the nodes are not as they were when the run was prepared: %s", nodes.Detail)
	}
	if x := view.X; x.String() != s.run.From {
		return s.fail("the nodes answer %s now, not %s as when the run was prepared", x, s.run.From)
	}
	if was := s.plugins(); was != nil && !slices.Equal(view.Plugins, was) {
		return s.fail("the nodes load %s now, not %s as when the run was prepared", PluginsText(view.Plugins), PluginsText(was))
	}
	fmt.Fprintf(&s.tail, "%s\n", nodes.Detail)
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	if err := s.unchanged(ctx, db, "at the approval gate"); err != nil {
		return stepResult{err: err}
	}
	fmt.Fprintf(&s.tail, "Kong's configuration is unchanged since the freeze\n")
	var who []string
	for _, a := range aps {
		if a.Decision == domain.DecisionApprove {
			who = append(who, a.UserID)
		}
	}
	now := s.e.opts.Clock.Now()
	crossed := now.UTC().Format("15:04:05") + " UTC: the downtime starts"
	if s.run.Window != "" {
		crossed += ", inside window " + s.run.Window
	}
	return stepResult{facts: domain.StepFacts{Gate: &domain.GateCrossing{Crossed: true, At: crossed, ApprovedBy: who}}}
}

// --- steps 7–10: the downtime ---

// stopNodes stops the nodes that still answer, then waits until every node has stopped.
func (s *stepCtx) stopNodes(ctx context.Context, version string) (time.Duration, error) {
	var running []config.Node
	for _, n := range s.c.Nodes {
		if stopped, err := s.e.opts.Nodes.Stopped(ctx, n); err != nil || !stopped {
			running = append(running, n) // answering, hung or unclear: stop it
		}
	}
	if len(running) < len(s.c.Nodes) {
		fmt.Fprintf(&s.tail, "%d of %d nodes were stopped already\n", len(s.c.Nodes)-len(running), len(s.c.Nodes))
	}
	slowest, failed, err := s.commandsPerNode(ctx, "stop", s.c.Commands.Stop, running, version)
	if err != nil {
		return slowest, err
	}
	return slowest, s.settle(ctx, failed, func(ctx context.Context, n config.Node) error {
		return s.e.opts.Nodes.WaitStopped(ctx, n, s.e.opts.PollInterval)
	})
}

// eachNode runs fn for every node at once, bounded by the command timeout.
func (s *stepCtx) eachNode(ctx context.Context, fn func(context.Context, config.Node) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.c.CommandTimeout.D())
	defer cancel()
	errs := make([]error, len(s.c.Nodes))
	var wg sync.WaitGroup
	for i, n := range s.c.Nodes {
		wg.Go(func() {
			if err := fn(ctx, n); err != nil {
				errs[i] = fmt.Errorf("%s: %w", n.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *stepCtx) stopX(ctx context.Context) stepResult {
	stopT, err := s.stopNodes(ctx, s.run.From)
	if err != nil {
		return stepResult{err: err}
	}
	installT, err := s.commands(ctx, "install", s.c.Commands.Install, s.c.Nodes, s.run.To)
	if err != nil {
		return stepResult{err: err}
	}
	s.facts.Commands = ms(stopT + installT)
	return stepResult{}
}

func (s *stepCtx) migrationsUp(ctx context.Context) stepResult {
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	x, y, err := s.versions()
	if err != nil {
		return stepResult{err: err}
	}
	st, err := db.Schema(ctx)
	if err != nil {
		return s.fail("read schema_meta: %w", err)
	}
	// Until a migration of Y has run, Kong's configuration must still be the one frozen
	// and backed up; after a part of them ran (a Resume), the migrations have changed it.
	if s.untouched(st, x, y) {
		if err := s.unchanged(ctx, db, "before the migrations"); err != nil {
			return stepResult{err: err}
		}
	}
	return s.converge(ctx, db, targetUp)
}

// untouched reports whether schema_meta shows none of Y's new migrations run.
func (s *stepCtx) untouched(st kong.SchemaState, x, y catalog.Version) bool {
	for _, m := range catalog.Default().BetweenFor(x, y, s.plugins()) {
		if row, ok := st.Subsystem(m.Subsystem); ok && (slices.Contains(row.Executed, m.Name) || slices.Contains(row.Pending, m.Name)) {
			return false
		}
	}
	return true
}

// What a migrations step brings schema_meta to.
type migrationsTarget int

const (
	targetUp     migrationsTarget = iota // every migration of Y executed or pending
	targetFinish                         // every migration of Y executed
)

// converge runs "kong migrations finish" and "up" until schema_meta holds what the step
// needs, deciding each time from schema_meta, never by repeating a command blindly: Kong
// refuses "up" while migrations are pending, so pending teardowns left by an interrupted or
// failed "up" are finished first, then "up" runs the rest. A database a person already
// brought there by hand needs no command. The first attempt of "finish" runs it as the
// runbook does, even with nothing pending.
func (s *stepCtx) converge(ctx context.Context, db Database, target migrationsTarget) stepResult {
	_, y, err := s.versions()
	if err != nil {
		return stepResult{err: err}
	}
	known := s.known(y)
	var total time.Duration
	ran := 0
	for round := 0; round < 4; round++ {
		st, err := db.Schema(ctx)
		if err != nil {
			return s.fail("read schema_meta: %w", err)
		}
		fresh, pending := st.New(known), st.PendingOf(known)
		cmd := ""
		switch {
		case len(fresh) > 0 && len(pending) > 0:
			cmd = "finish" // up would be refused: "Database has pending migrations"
		case len(fresh) > 0:
			cmd = "up"
		case target == targetFinish && (len(pending) > 0 || (round == 0 && s.attempt <= 1)):
			cmd = "finish"
		}
		if cmd == "" {
			if ran == 0 && s.attempt > 1 {
				fmt.Fprintf(&s.tail, "schema_meta already holds what this step does (%s): nothing to run\n", s.schemaText(st))
			}
			s.facts.Commands = ms(total)
			return stepResult{}
		}
		if err := s.waitLock(ctx, db); err != nil {
			return stepResult{err: err}
		}
		action, argv := "migrations_up", s.c.Commands.MigrationsUp
		if cmd == "finish" {
			action, argv = "migrations_finish", s.c.Commands.MigrationsFinish
		}
		if ran > 0 || s.attempt > 1 {
			fmt.Fprintf(&s.tail, "schema_meta: %s: running kong migrations %s\n", s.schemaText(st), cmd)
		}
		mark := s.tail.Len()
		t, cmdErr := s.once(ctx, action, argv, s.run.To)
		total += t
		ran++
		out := s.tail.String()[mark:]
		after, err := db.Schema(ctx)
		if err != nil {
			return s.fail("read schema_meta: %w", err)
		}
		if cmdErr != nil {
			return s.fail("kong migrations %s failed: %v%s; schema_meta: %s", cmd, cmdErr, timeoutHint(out, y), s.schemaText(after))
		}
		if fmt.Sprint(after.New(known), after.PendingOf(known)) == fmt.Sprint(fresh, pending) && len(fresh)+len(pending) > 0 {
			if strings.Contains(out, "another node is performing database changes") {
				return s.fail("kong migrations %s did nothing: another node held Kong's migrations lock (it printed \"aborted: another node is performing database changes\" and exited 0): someone or something else is migrating this database; find it, let it end, then Resume; schema_meta: %s", cmd, s.schemaText(after))
			}
			return s.fail("kong migrations %s exited 0 but schema_meta did not change: %s", cmd, s.schemaText(after))
		}
	}
	st, _ := db.Schema(ctx)
	return s.fail("schema_meta does not converge after four kong migrations commands: %s", s.schemaText(st))
}

// schemaText says where Y's migrations stand: executed, pending (for finish) and still new.
func (s *stepCtx) schemaText(st kong.SchemaState) string {
	x, y, err := s.versions()
	if err != nil {
		return err.Error()
	}
	var executed, pending, fresh []catalog.Migration
	for _, m := range catalog.Default().BetweenFor(x, y, s.plugins()) {
		row, _ := st.Subsystem(m.Subsystem)
		switch {
		case slices.Contains(row.Executed, m.Name):
			executed = append(executed, m)
		case slices.Contains(row.Pending, m.Name):
			pending = append(pending, m)
		default:
			fresh = append(fresh, m)
		}
	}
	list := func(ms []catalog.Migration) string {
		if len(ms) == 0 {
			return "none"
		}
		return MigrationNames(ms)
	}
	return fmt.Sprintf("executed %s; pending %s; still new %s", list(executed), list(pending), list(fresh))
}

// timeoutHint explains a migrations command that timed out on Kong 3.7+, where pg_timeout
// (5 s by default) applies to every migration statement unless --db-timeout is given.
func timeoutHint(out string, y catalog.Version) string {
	if !strings.Contains(out, "timeout") {
		return ""
	}
	hint := " (a timeout"
	if !y.Less(catalog.MustParseVersion("3.7.0")) && !strings.Contains(out, "--db-timeout") {
		hint += ": from 3.7 Kong applies pg_timeout, 5 s by default, to every migration statement unless the command passes --db-timeout; add --db-timeout 600 (seconds) to the migrations commands"
	}
	return hint + ")"
}

// waitLock waits, within the command timeout, while another kong migrations command holds
// Kong's migrations lock: started meanwhile, "up" would wait and "finish" would do nothing.
func (s *stepCtx) waitLock(ctx context.Context, db Database) error {
	l, err := db.MigrationLock(ctx)
	if err != nil {
		return fmt.Errorf("read Kong's migrations lock: %w", err)
	}
	if !l.Held {
		return nil
	}
	fmt.Fprintf(&s.tail, "Kong's migrations lock is held by node %s until %s: waiting (at most %s)\n", l.Owner, l.Expires.UTC().Format(time.RFC3339), s.c.CommandTimeout)
	wctx, cancel := context.WithTimeout(ctx, s.c.CommandTimeout.D())
	defer cancel()
	for l.Held {
		select {
		case <-wctx.Done():
			return fmt.Errorf("Kong's migrations lock (table locks, key migrations) is held by node %s until %s: another kong migrations command is working on %s's database; drawbridge waited %s",
				l.Owner, l.Expires.UTC().Format(time.RFC3339), s.c.Name, s.c.CommandTimeout)
		case <-s.e.opts.Clock.After(s.e.opts.PollInterval):
		}
		if l, err = db.MigrationLock(ctx); err != nil {
			return fmt.Errorf("read Kong's migrations lock: %w", err)
		}
	}
	fmt.Fprintf(&s.tail, "Kong's migrations lock is free\n")
	return nil
}

// upDone checks schema_meta: every migration Y ships is executed or pending.
func (s *stepCtx) upDone(ctx context.Context, db Database) (bool, error) {
	_, y, err := s.versions()
	if err != nil {
		return false, err
	}
	st, err := db.Schema(ctx)
	if err != nil {
		return false, fmt.Errorf("read schema_meta: %w", err)
	}
	known := s.known(y)
	missing := st.New(known)
	if len(missing) > 0 {
		fmt.Fprintf(&s.tail, "schema_meta: not yet run: %s\n", MigrationNames(missing))
		return false, nil
	}
	if p := st.PendingOf(known); len(p) > 0 {
		fmt.Fprintf(&s.tail, "schema_meta: pending for finish: %s\n", strings.Join(p, ", "))
	}
	return true, nil
}

func (s *stepCtx) migrationsFinish(ctx context.Context) stepResult {
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	return s.converge(ctx, db, targetFinish)
}

// finishDone checks schema_meta: nothing new and nothing pending.
func (s *stepCtx) finishDone(ctx context.Context, db Database) (bool, error) {
	up, err := s.upDone(ctx, db)
	if err != nil || !up {
		return false, err
	}
	st, err := db.Schema(ctx)
	if err != nil {
		return false, fmt.Errorf("read schema_meta: %w", err)
	}
	_, y, err := s.versions()
	if err != nil {
		return false, err
	}
	return len(st.PendingOf(s.known(y))) == 0, nil
}

// startNodes starts the nodes that do not yet answer version and waits until every node
// answers it, ready. It returns the slowest start command and when the last node was ready.
func (s *stepCtx) startNodes(ctx context.Context, version string) (time.Duration, time.Time, error) {
	var todo []config.Node
	for _, n := range s.c.Nodes {
		info, err := s.e.opts.Nodes.Info(ctx, n)
		if err != nil || info.Version != version || !info.Ready {
			todo = append(todo, n)
		}
	}
	if len(todo) < len(s.c.Nodes) {
		fmt.Fprintf(&s.tail, "%d of %d nodes answered %s already\n", len(s.c.Nodes)-len(todo), len(s.c.Nodes), version)
	}
	slowest, failed, err := s.commandsPerNode(ctx, "start", s.c.Commands.Start, todo, version)
	if err != nil {
		return slowest, time.Time{}, err
	}
	var mu sync.Mutex
	var last time.Time
	err = s.settle(ctx, failed, func(ctx context.Context, n config.Node) error {
		if _, err := s.e.opts.Nodes.WaitReady(ctx, n, version, s.e.opts.PollInterval); err != nil {
			return err
		}
		now := s.e.opts.Clock.Now()
		mu.Lock()
		if now.After(last) {
			last = now
		}
		mu.Unlock()
		return nil
	})
	return slowest, last, err
}

func (s *stepCtx) startY(ctx context.Context) stepResult {
	t, ready, err := s.startNodes(ctx, s.run.To)
	if err != nil {
		return stepResult{err: err}
	}
	s.facts.Commands = ms(t)
	m, ok := s.measure(ctx, ready, t)
	return stepResult{downtimeEnd: ready, learned: func(r *domain.Run) {
		if ok {
			r.Facts.Measured.Downtime, r.Facts.Measured.Commands, r.Facts.Measured.Overhead = m.Downtime, m.Commands, m.Overhead
		}
	}}
}

// measure stores the downtime, the commands' critical path and drawbridge's overhead.
func (s *stepCtx) measure(ctx context.Context, end time.Time, startT time.Duration) (domain.Measurements, bool) {
	if s.run.DowntimeStart.IsZero() || end.IsZero() {
		return domain.Measurements{}, false
	}
	downtime := end.Sub(s.run.DowntimeStart)
	commands := startT
	recs, err := s.e.opts.Store.Steps(ctx, s.run.ID)
	if err == nil {
		for _, r := range recs {
			if domain.StepID(r.Index) >= domain.StepStop && domain.StepID(r.Index) < domain.StepStart {
				commands += r.Facts.Commands
			}
		}
	}
	m := domain.Measurements{Downtime: ms(downtime), Commands: ms(commands)}
	m.Overhead = m.Downtime - m.Commands
	fmt.Fprintf(&s.tail, "downtime %s: commands %s, drawbridge %s\n", m.Downtime, m.Commands, m.Overhead)
	return m, true
}

// --- steps 11–12 ---

func (s *stepCtx) watch(ctx context.Context) stepResult {
	started := s.e.opts.Clock.Now()
	if t := s.run.Facts.WatchStarted; !t.IsZero() {
		started = t
	} else {
		if _, err := s.e.opts.Store.UpdateRun(context.WithoutCancel(ctx), s.run.ID, func(r *domain.Run) error {
			r.Facts.WatchStarted = started
			return nil
		}); err != nil {
			return stepResult{err: err}
		}
	}
	err := s.e.opts.Watcher.Watch(ctx, watchCluster(s.c, s.controlPlane()), domain.WatchRequest{
		Run: s.run, From: s.run.From, Version: s.run.To, Started: started, Baseline: s.baseline(),
		Report: func(r domain.WatchReport) {
			s.e.opts.Sink.Emit(domain.Event{Kind: domain.EventWatch, Run: s.run, Report: &r})
		},
		Charts: func(cs []domain.Chart) {
			moment := "end"
			if ctx.Err() == nil && s.breached {
				moment = "breach"
			}
			s.e.opts.Sink.Emit(domain.Event{Kind: domain.EventCharts, Run: s.run, Charts: cs, Moment: moment})
		},
		Progress: func(msg string) { s.notice(msg) },
	})
	var breach *domain.BreachError
	if errors.As(err, &breach) {
		s.breached = true
		if breach.Blind {
			s.facts.Blind = true // not rolled back by itself: a person decides
		}
		s.e.opts.Sink.Emit(domain.Event{Kind: domain.EventAlert, Run: s.run, Breach: breach, Auto: s.c.Watch.AutoRollback && !breach.Blind, Message: breach.Error()})
	}
	if err != nil {
		return stepResult{err: err}
	}
	return stepResult{tail: fmt.Sprintf("watched %s for %s: clean", s.c.Name, s.c.Watch.Duration)}
}

func (s *stepCtx) decommission(ctx context.Context) stepResult {
	if len(s.c.Commands.Decommission) == 0 {
		return stepResult{tail: "no decommission command configured"}
	}
	if _, err := s.commands(ctx, "decommission", s.c.Commands.Decommission, s.c.Nodes, s.run.From); err != nil {
		return stepResult{err: err}
	}
	return stepResult{}
}

// --- rollback ---

func (s *stepCtx) rollbackStop(ctx context.Context) stepResult {
	t, err := s.stopNodes(ctx, s.run.To)
	if err != nil {
		return stepResult{err: err}
	}
	s.facts.Commands = ms(t)
	return stepResult{}
}

func (s *stepCtx) rollbackRestore(ctx context.Context) stepResult {
	if s.run.Facts.Backup == nil || s.run.Facts.Backup.Path == "" {
		return s.fail("the run has no backup to restore")
	}
	path, sha := s.run.Facts.Backup.Path, s.run.Facts.Backup.SHA256
	want, err := s.frozen()
	if err != nil {
		return stepResult{err: err}
	}
	db, err := s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	if err := db.VerifyBackup(ctx, path, sha); err != nil {
		db.Close()
		return s.fail("backup %s: %w", path, err)
	}
	db.Close() // the restore needs no session of ours on the database
	db, err = s.openDB(ctx)
	if err != nil {
		return stepResult{err: err}
	}
	defer db.Close()
	r, err := db.Restore(ctx, path, want, s.run.ID.String())
	if err != nil {
		return s.fail("restore %s: %w", path, err)
	}
	s.facts.Restore = &domain.Restored{Method: r.Method, FailedDB: r.FailedDB}
	s.facts.Took, s.facts.Fingerprint = ms(r.Duration), r.Fingerprint.Hash
	fmt.Fprintf(&s.tail, "restored %s (%s) in %s; fingerprint equals the pre-upgrade one", path, r.Method, r.Duration.Round(time.Millisecond))
	if r.FailedDB != "" {
		fmt.Fprintf(&s.tail, "; the failed database is kept as %s", r.FailedDB)
	}
	s.tail.WriteString("\n")
	// schema_meta must be X's again.
	check, err := s.e.opts.OpenDB(ctx, s.c)
	if err != nil {
		return stepResult{err: err}
	}
	defer check.Close()
	st, err := check.Schema(ctx)
	if err != nil {
		return s.fail("read schema_meta after the restore: %w", err)
	}
	x, _, err := s.versions()
	if err != nil {
		return stepResult{err: err}
	}
	if n, p := st.New(s.known(x)), st.PendingOf(s.known(x)); len(n) > 0 || len(p) > 0 {
		return s.fail("after the restore, schema_meta is not %s's: new %s, pending %s", x, MigrationNames(n), strings.Join(p, ", "))
	}
	return stepResult{}
}

func (s *stepCtx) rollbackStart(ctx context.Context) stepResult {
	installT, err := s.commands(ctx, "install", s.c.Commands.Install, s.c.Nodes, s.run.From)
	if err != nil {
		return stepResult{err: err}
	}
	startT, ready, err := s.startNodes(ctx, s.run.From)
	if err != nil {
		return stepResult{err: err}
	}
	s.facts.Commands = ms(installT + startT)
	// The rollback's downtime: from its stop of Y (or, when Y never answered, from the
	// upgrade's stop of X) until X answered again.
	if began := s.rollbackDownSince(ctx); !began.IsZero() && ready.After(began) {
		down := ms(ready.Sub(began))
		fmt.Fprintf(&s.tail, "rollback downtime %s\n", down)
		return stepResult{learned: func(r *domain.Run) { r.Facts.Measured.RollbackDowntime = down }}
	}
	return stepResult{}
}

// rollbackDownSince is when the outage the rollback ends began.
func (s *stepCtx) rollbackDownSince(ctx context.Context) time.Time {
	if s.run.DowntimeEnd.IsZero() {
		return s.run.DowntimeStart // Y never answered: one outage since the upgrade's stop
	}
	recs, err := s.e.opts.Store.Steps(ctx, s.run.ID)
	if err != nil {
		return time.Time{}
	}
	for _, r := range recs {
		if domain.StepID(r.Index) == domain.StepRollbackStop {
			return r.StartedAt
		}
	}
	return time.Time{}
}

// --- recovery ---

// recoverStep decides about a step found running after a restart.
func (e *Engine) recoverStep(r *runner, v view, id domain.StepID) {
	d := defOf(id)
	if d.Repeatable {
		e.opts.Log.Info("repeating an interrupted step", "run", v.run.ID.String(), "step", d.Name)
		e.execute(r, v, id)
		return
	}
	ctx := e.ctx
	done, why := e.checkDone(ctx, v.run, id)
	rec := v.steps[id]
	if done {
		rec.Status, rec.EndedAt = domain.StepSucceeded, e.opts.Clock.Now()
		rec.OutputTail = "found done after drawbridge restarted: " + why
		if err := e.opts.Store.PutStep(ctx, v.run.ID, rec, auditEvent("drawbridge", "step_recovered", d.Name+": "+why)); err != nil {
			e.opts.Log.Error("record recovered step", "run", v.run.ID.String(), "err", err)
			return
		}
		e.opts.Sink.Emit(domain.Event{Kind: domain.EventStepFinished, Run: v.run, Step: &rec})
		return
	}
	rec.Status, rec.EndedAt = domain.StepFailed, e.opts.Clock.Now()
	rec.Error = "interrupted by a restart; " + why
	if err := e.opts.Store.PutStep(ctx, v.run.ID, rec); err != nil {
		e.opts.Log.Error("record interrupted step", "run", v.run.ID.String(), "err", err)
		return
	}
	e.attention(ctx, v.run.ID, fmt.Sprintf("%s was interrupted by a restart and is not safe to repeat (%s): check the cluster, then Resume or Roll back", d.Title, why))
}

// checkDone asks the real world whether a non-repeatable step's effect holds.
func (e *Engine) checkDone(ctx context.Context, run domain.Run, id domain.StepID) (bool, string) {
	c, err := e.cluster(run.Cluster)
	if err != nil {
		return false, err.Error()
	}
	s := &stepCtx{e: e, run: run, c: c}
	var check func(context.Context, Database) (bool, error)
	switch id {
	case domain.StepMigrationsUp:
		check = s.upDone
	case domain.StepMigrationsFinish:
		check = s.finishDone
	default:
		return false, "there is no way to check its effect"
	}
	db, err := s.openDB(ctx)
	if err != nil {
		return false, err.Error()
	}
	defer db.Close()
	// A migrations command started before the crash may still be running (it is not
	// drawbridge's child any more): wait until it releases Kong's cluster mutex.
	wctx, cancel := context.WithTimeout(ctx, c.CommandTimeout.D())
	defer cancel()
	for {
		l, err := db.MigrationLock(wctx)
		if err != nil {
			return false, "cannot read Kong's migrations lock: " + err.Error()
		}
		if !l.Held {
			break
		}
		select {
		case <-wctx.Done():
			return false, "a kong migrations command still holds Kong's cluster mutex"
		case <-e.opts.Clock.After(e.opts.PollInterval):
		}
	}
	done, err := check(ctx, db)
	switch {
	case err != nil:
		return false, err.Error()
	case done:
		return true, "schema_meta shows its effect"
	default:
		return false, "schema_meta does not show its effect: " + strings.TrimSpace(s.tail.String())
	}
}

// unfreeze runs the unfreeze command and announces the end of the freeze.
func (e *Engine) unfreeze(ctx context.Context, run domain.Run) string {
	c, err := e.cluster(run.Cluster)
	if err != nil {
		return ""
	}
	s := &stepCtx{e: e, run: run, c: c}
	if _, err := s.once(ctx, "unfreeze", c.Commands.Unfreeze, run.From); err != nil {
		e.opts.Log.Error("unfreeze", "run", run.ID.String(), "err", err)
		return "the unfreeze command failed: " + err.Error()
	}
	s.notice(fmt.Sprintf("Configuration freeze on %s lifted.", c.Name))
	return "freeze lifted"
}

// summary is the final line of a run: downtime and what it was made of.
func (e *Engine) summary(v view, st domain.RunState, reason string) string {
	run := v.run
	var b strings.Builder
	switch st {
	case domain.StateSucceeded:
		fmt.Fprintf(&b, "%s upgraded from %s to %s", run.Cluster, run.From, run.To)
	case domain.StateRolledBack:
		fmt.Fprintf(&b, "%s rolled back to %s", run.Cluster, run.From)
	}
	m := run.Facts.Measured
	if m.Downtime > 0 {
		fmt.Fprintf(&b, "; downtime %ss (commands %ss, drawbridge %ss)", seconds(m.Downtime), seconds(m.Commands), seconds(m.Overhead))
	}
	if d := m.RollbackDowntime; d > 0 && st == domain.StateRolledBack {
		if m.Downtime > 0 {
			fmt.Fprintf(&b, " and %ss more during the rollback", seconds(d))
		} else {
			fmt.Fprintf(&b, "; downtime %ss, from the upgrade's stop until %s answered again", seconds(d), run.From)
		}
	}
	if !strings.HasPrefix(reason, "upgraded to") && !strings.HasPrefix(reason, "rolled back:") {
		fmt.Fprintf(&b, "; %s", reason)
	}
	return b.String()
}
