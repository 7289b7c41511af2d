// Package node is a running simulated Kong node: the Admin API and Status API listeners of
// kong.conf, their JSON bodies as the node's Kong version serves them, the Prometheus
// plugin's /metrics for that version (names, labels, buckets, flag gating) describing the
// synthetic traffic of package traffic, a real reachability probe of Kong's PostgreSQL, and
// the stop signals (TERM fast, QUIT graceful) with the faults of the prefix's sim file.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/kconf"
	"github.com/drawbridge/drawbridge/kongsim/prefix"
	"github.com/drawbridge/drawbridge/kongsim/sim"
	"github.com/drawbridge/drawbridge/kongsim/traffic"
)

// Config is one node run.
type Config struct {
	Conf     *kconf.Conf
	Prefix   prefix.Prefix
	Version  facts.Version // the installed version this node runs
	NodeID   string        // new UUID per start (traditional mode), chosen by the caller
	Hostname string
	Log      *slog.Logger // writes to the prefix's logs/error.log (caller opens it)
}

func (c Config) validate() error {
	switch {
	case c.Conf == nil:
		return errors.New("node: Config.Conf is nil")
	case c.Prefix == "":
		return errors.New("node: Config.Prefix is empty")
	case c.Version.IsZero():
		return errors.New("node: Config.Version is not set")
	case c.NodeID == "":
		return errors.New("node: Config.NodeID is empty")
	case c.Log == nil:
		return errors.New("node: Config.Log is nil")
	}
	return nil
}

// Intervals of the node's background work; tests may shorten them.
var (
	simWatchInterval = 200 * time.Millisecond // re-reading the sim file
	refreshInterval  = 2 * time.Second        // re-reading entities and plugins from the DB
	probeCacheFor    = time.Second            // how long a DB probe result is reused
)

// node is the state shared by the handlers.
type node struct {
	cfg      Config
	log      *slog.Logger
	gen      *traffic.Generator
	db       *database // nil when database = off
	faults   atomic.Pointer[sim.Faults]
	world    atomic.Pointer[world]
	inflight sync.WaitGroup // Admin and Status API requests being served

	loadFailing bool // the last entity load failed (used by refresh only, never concurrently)

	hybrid hybridState // a data plane's view of its control plane

	requestBuckets, kongBuckets []float64
}

// Run serves until ctx is done or a stop signal arrives on sigs; it returns nil after a
// clean stop. SIGTERM (and SIGINT) stop at once; SIGQUIT stops gracefully, closing the
// listeners and letting in-flight requests finish (a later SIGTERM cuts that short); SIGHUP
// is logged. With the ignore_stop fault SIGTERM is ignored until a SIGQUIT has arrived.
// ready is called once every listener is bound and served. A listener that cannot be bound
// ends Run at once with a *BindError.
func Run(ctx context.Context, cfg Config, sigs <-chan os.Signal, ready func()) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	var adminAddrs, clusterAddrs []string
	var err error
	if cfg.Conf.Get("role") != "data_plane" { // Kong renders no Admin API for a data plane
		if adminAddrs, err = cfg.Conf.HTTPAddrs("admin_listen"); err != nil {
			return err
		}
	}
	if cfg.Conf.Get("role") == "control_plane" {
		if clusterAddrs, err = cfg.Conf.HTTPAddrs("cluster_listen"); err != nil {
			return err
		}
	}
	statusAddrs, err := cfg.Conf.HTTPAddrs("status_listen")
	if err != nil {
		return err
	}
	lns, err := bindAll(adminAddrs, statusAddrs, clusterAddrs)
	if err != nil {
		return err
	}
	ctx, stopNow := context.WithCancel(ctx)
	defer stopNow()
	n, err := newNode(ctx, cfg)
	if err != nil {
		lns.close()
		return err
	}
	defer n.close()
	n.logStart()
	var background sync.WaitGroup
	background.Go(func() {
		lastErr := ""
		sim.Watch(ctx, string(cfg.Prefix), simWatchInterval, n.applySim, func(err error) {
			if err.Error() != lastErr { // once per distinct problem, not every check
				lastErr = err.Error()
				n.log.Error("failed to read sim file; keeping the previous content", "err", err)
			}
		})
	})
	if n.db != nil {
		background.Go(func() { n.refreshLoop(ctx) })
	}
	if n.dataPlane() {
		background.Go(func() { n.syncLoop(ctx) })
	}
	srv := n.serve(ctx, lns)
	if ready != nil {
		ready()
	}
	err = n.wait(ctx, sigs, srv, stopNow)
	stopNow()
	n.inflight.Wait()
	background.Wait() // nothing logs once Run has returned
	return err
}

func newNode(ctx context.Context, cfg Config) (*node, error) {
	n := &node{cfg: cfg, log: cfg.Log}
	n.requestBuckets, n.kongBuckets = latencyBuckets(cfg.Version)
	f, err := sim.Load(string(cfg.Prefix))
	if err != nil {
		n.log.Error("failed to read sim file", "err", err)
		f = sim.File{Traffic: sim.DefaultTraffic}
	}
	n.faults.Store(&f.Faults)
	n.world.Store(fallbackWorld(cfg.Version))
	if cfg.Conf.Get("database") != "off" {
		n.db, err = openDatabase(cfg.Conf)
		if err != nil {
			return nil, err
		}
		n.refresh(ctx)
	}
	n.gen = traffic.New(traffic.Config{
		Traffic:        traffic.Effective(f, cfg.Version),
		Routes:         n.world.Load().routes,
		RequestBuckets: n.requestBuckets,
		KongBuckets:    n.kongBuckets,
	}, time.Now())
	return n, nil
}

func (n *node) close() {
	if n.db != nil {
		n.db.close()
	}
}

// applySim takes a new sim file content (sim.Watch calls it at start and on each change):
// traffic, with the bad-release fault applied, and faults.
func (n *node) applySim(f sim.File) {
	n.faults.Store(&f.Faults)
	t := traffic.Effective(f, n.cfg.Version)
	n.gen.SetTraffic(t, time.Now())
	n.log.Debug("sim file applied", "traffic", fmt.Sprintf("%+v", t), "faults", fmt.Sprintf("%+v", f.Faults))
}

func (n *node) currentFaults() sim.Faults { return *n.faults.Load() }

// logStart writes what nginx and Kong write to error.log when a node starts.
func (n *node) logStart() {
	pid := os.Getpid()
	n.log.Info(`using the "epoll" event method`)
	n.log.Info(openrestyVersion(n.cfg.Version))
	n.log.Info("start worker processes")
	n.log.Info(fmt.Sprintf("start worker process %d", pid))
	n.log.Info(fmt.Sprintf("kong %s started: node_id %s, hostname %s", n.cfg.Version, n.cfg.NodeID, n.cfg.Hostname))
}

// wait handles signals until the node has stopped.
func (n *node) wait(ctx context.Context, sigs <-chan os.Signal, srv *servers, stopNow context.CancelFunc) error {
	var graceful <-chan struct{}
	quitting := false
	for {
		select {
		case <-ctx.Done():
			srv.closeNow()
			n.log.Info("exit")
			return nil
		case err := <-srv.failed:
			srv.closeNow()
			stopNow()
			return err
		case <-graceful:
			stopNow()
			n.log.Info("exit")
			return nil
		case s := <-sigs:
			switch s {
			case syscall.SIGTERM, os.Interrupt:
				if n.currentFaults().IgnoreStop && !quitting {
					n.log.Warn(fmt.Sprintf("%s received, ignored: waiting for SIGQUIT (fault ignore_stop)", signalName(s)))
					continue
				}
				n.log.Info(fmt.Sprintf("%s received, exiting", signalName(s)))
				srv.closeNow()
				stopNow()
				n.log.Info("exit")
				return nil
			case syscall.SIGQUIT:
				if quitting {
					continue
				}
				quitting = true
				n.log.Info(fmt.Sprintf("%s received, shutting down", signalName(s)))
				n.log.Info("gracefully shutting down")
				graceful = srv.shutdown(ctx)
			case syscall.SIGHUP:
				n.log.Info(fmt.Sprintf("%s received, reconfiguring", signalName(s)))
			default:
				n.log.Info(fmt.Sprintf("%s received, ignored", signalName(s)))
			}
		}
	}
}

// signalName is nginx's way of naming a signal: "signal 15 (SIGTERM)".
func signalName(s os.Signal) string {
	names := map[os.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGHUP: "SIGHUP", os.Interrupt: "SIGINT"}
	if sig, ok := s.(syscall.Signal); ok {
		if name, ok := names[s]; ok {
			return fmt.Sprintf("signal %d (%s)", int(sig), name)
		}
		return fmt.Sprintf("signal %d", int(sig))
	}
	return "signal " + s.String()
}

// openrestyVersion is the "openresty/x" line nginx logs at start, per Kong line.
func openrestyVersion(v facts.Version) string {
	switch {
	case v.Major < 3:
		return "openresty/1.19.9.1"
	case v.Less(facts.MustParseVersion("3.4.0")):
		return "openresty/1.21.4.1"
	case v.Less(facts.MustParseVersion("3.6.0")):
		return "openresty/1.21.4.2"
	default:
		return "openresty/1.25.3.1"
	}
}
