package upgrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
	"github.com/drawbridge/drawbridge/storage"
)

// Options assemble an Engine.
type Options struct {
	Config *config.Config
	Store  Store
	Nodes  Nodes
	// Commands returns the command runner for a cluster; outDir keeps each command's output.
	Commands func(c *config.Cluster, outDir string) Commands
	// OpenDB opens a cluster's database.
	OpenDB func(ctx context.Context, c *config.Cluster) (Database, error)
	// OpenScratch opens the server of a cluster's rehearsal; nil: rehearsals fail.
	OpenScratch func(ctx context.Context, c *config.Cluster) (Scratch, error)
	Metrics     Metrics // may be nil: preflight then skips the Prometheus check
	Watcher     Watcher // nil: NodeWatcher over Nodes
	// Baseliner takes the watch's baseline before the gate; nil: no baseline.
	Baseliner Baseliner
	// Series checks in preflight that the watch's series exist; nil: not checked.
	Series SeriesChecker
	Clock  Clock // nil: the wall clock
	Sink   Sink  // nil: events are dropped
	Log    *slog.Logger
	// DataDir holds command output (runs/<id>/); default: the state file's directory.
	DataDir string
	// PollInterval is how often node state is polled while waiting; default 50ms.
	PollInterval time.Duration
	// ShutdownGrace is how long Close lets a running step finish before interrupting
	// it; default 30s. Waiting steps (the gate, the watch) are interrupted at once.
	ShutdownGrace time.Duration
}

func (o *Options) validate() error {
	switch {
	case o.Config == nil:
		return errors.New("upgrade: Options.Config is nil")
	case o.Store == nil:
		return errors.New("upgrade: Options.Store is nil")
	case o.Nodes == nil:
		return errors.New("upgrade: Options.Nodes is nil")
	case o.Commands == nil:
		return errors.New("upgrade: Options.Commands is nil")
	case o.OpenDB == nil:
		return errors.New("upgrade: Options.OpenDB is nil")
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Sink == nil {
		o.Sink = discard{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.DataDir == "" {
		o.DataDir = filepath.Dir(o.Config.StateFile)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 30 * time.Second
	}
	if o.Watcher == nil {
		o.Watcher = &NodeWatcher{Nodes: o.Nodes, Clock: o.Clock}
	}
	return nil
}

// Engine runs upgrades: it owns one goroutine per active run, drives each through its
// steps, and answers the bot's and the scheduler's commands.
type Engine struct {
	opts Options

	mu       sync.Mutex
	runners  map[domain.RunID]*runner
	ctx      context.Context
	stop     context.CancelCauseFunc
	wg       sync.WaitGroup
	closed   bool
	draining atomic.Bool // no new action starts

	schedKick chan struct{}
	schedOnce sync.Once
}

// runner is the goroutine of one run.
type runner struct {
	id   domain.RunID
	wake chan struct{}
	mu   sync.Mutex
	// cancelStep interrupts the step that is running, with a cause saying why.
	cancelStep context.CancelCauseFunc
	current    domain.StepID // the step executing, 0 when waiting
}

func (r *runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// New builds an engine. Call Recover to resume unfinished runs and Close to stop.
func New(opts Options) (*Engine, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancelCause(context.Background())
	return &Engine{opts: opts, runners: map[domain.RunID]*runner{}, ctx: ctx, stop: stop, schedKick: make(chan struct{}, 1)}, nil
}

var errShutdown = errors.New("drawbridge is shutting down")

// Recover resumes every unfinished run (PRODUCT.md "State and recovery"): a step that was
// running is checked against the real world, repeated when that is safe, and otherwise
// the run waits for a person.
func (e *Engine) Recover(ctx context.Context) error {
	runs, err := e.opts.Store.ListRuns(ctx, storage.RunFilter{Limit: 1 << 20})
	if err != nil {
		return fmt.Errorf("list runs to resume: %w", err)
	}
	for _, r := range runs {
		if r.State.Terminal() || r.State == domain.StateScheduled {
			continue
		}
		e.opts.Log.Info("resuming run", "run", r.ID.String(), "cluster", r.Cluster, "state", string(r.State))
		e.spawn(r.ID)
	}
	// Scheduled runs: the scheduler prepares them when due, runs one whose window is
	// still open, and expires one whose window closed while drawbridge was down.
	e.schedOnce.Do(func() {
		e.mu.Lock()
		closed := e.closed
		if !closed {
			e.wg.Add(1)
		}
		e.mu.Unlock()
		if closed {
			return
		}
		go func() {
			defer e.wg.Done()
			e.scheduler()
		}()
	})
	return nil
}

// Close stops every run's goroutine at a safe point. New actions stop at once; a step
// that waits (the gate, the watch) is interrupted and left recorded as running, to be
// resumed at the next start; a step that acts on the cluster gets ShutdownGrace to finish
// and store its result, and is interrupted (and left for recovery) only after that.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	runners := make([]*runner, 0, len(e.runners))
	for _, r := range e.runners {
		runners = append(runners, r)
	}
	e.mu.Unlock()
	e.draining.Store(true)
	e.kickScheduler()
	for _, r := range runners {
		r.mu.Lock()
		if r.cancelStep != nil && (r.current == domain.StepApproval || r.current == domain.StepWatch) {
			r.cancelStep(errShutdown)
		}
		r.mu.Unlock()
		r.poke()
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(e.opts.ShutdownGrace):
		e.opts.Log.Warn("interrupting running steps at shutdown", "grace", e.opts.ShutdownGrace.String())
	}
	e.stop(errShutdown)
	<-done
}

// spawn starts the run's goroutine unless it runs already; it pokes it otherwise.
func (e *Engine) spawn(id domain.RunID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if r, ok := e.runners[id]; ok {
		r.poke()
		return
	}
	r := &runner{id: id, wake: make(chan struct{}, 1)}
	e.runners[id] = r
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			delete(e.runners, id)
			e.mu.Unlock()
		}()
		defer func() {
			if p := recover(); p != nil {
				e.opts.Log.Error("run goroutine panicked", "run", id.String(), "panic", fmt.Sprint(p))
				e.attention(context.WithoutCancel(e.ctx), id, words.InternalError(p))
			}
		}()
		e.loop(r)
	}()
}

// interrupt cancels the step a run is executing, if any.
func (e *Engine) interrupt(id domain.RunID, cause error) {
	e.mu.Lock()
	r, ok := e.runners[id]
	e.mu.Unlock()
	if !ok {
		return
	}
	r.mu.Lock()
	if r.cancelStep != nil {
		r.cancelStep(cause)
	}
	r.mu.Unlock()
	r.poke()
}

// runDir is where a run's command output goes.
func (e *Engine) runDir(id domain.RunID) string {
	return filepath.Join(e.opts.DataDir, "runs", id.String())
}

func (e *Engine) cluster(name string) (*config.Cluster, error) {
	c, ok := e.opts.Config.Cluster(name)
	if !ok {
		return nil, fmt.Errorf("cluster %q is not in the configuration", name)
	}
	return c, nil
}

func ensureDir(dir string) error { return os.MkdirAll(dir, 0o700) }
