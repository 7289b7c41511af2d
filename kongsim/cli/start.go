package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/kconf"
	"github.com/drawbridge/drawbridge/kongsim/klog"
	"github.com/drawbridge/drawbridge/kongsim/kongdb"
	"github.com/drawbridge/drawbridge/kongsim/node"
	"github.com/drawbridge/drawbridge/kongsim/prefix"
	"github.com/drawbridge/drawbridge/kongsim/sim"
)

var startOpts = []optSpec{
	{short: "c", long: "conf", value: true},
	{short: "p", long: "prefix", value: true},
	{long: "nginx-conf", value: true},
	{long: "nginx-conf-flags", value: true},
	{long: "run-migrations"},
	{long: "db-timeout", value: true},
	{long: "lock-timeout", value: true, def: "60"},
}

// kongStart is "kong start": refuse a running prefix or a database Kong would refuse,
// write .kong_env, start the node process and wait until it serves, print "Kong started".
func kongStart(ctx context.Context, env *Env, argv []string) int {
	p, err := parseOpts(argv, startOpts)
	if err != nil {
		return usageError(env, "start", err)
	}
	log := logger(env, p)
	conf, pfx, v, err := nodeConf(env, p.str("conf"), p.str("prefix"))
	if err != nil {
		return log.Fail(err)
	}
	log.Verbose("Kong: %s", v)
	if conf.Path != "" {
		log.Verbose("reading config file at %s", conf.Path)
	} else {
		log.Verbose("no config file found at %s", strings.Join(kconf.DefaultPaths, " or "))
	}
	log.Verbose("prefix in use: %s", pfx)
	if err := kconf.Check(conf); err != nil {
		return log.Fail(err)
	}
	pfx.LogCommand(append([]string{"start"}, argv...))
	if _, alive := pfx.PID(); alive {
		return log.Fail(fmt.Errorf("Kong is already running in %s", pfx))
	}
	sf, err := sim.Load(string(pfx))
	if err != nil {
		return log.Fail(err)
	}
	if sf.Faults.StartFail != "" {
		return log.Fail(fmt.Errorf("%s", sf.Faults.StartFail))
	}
	dbTimeout, set, err := p.seconds("db-timeout")
	if err != nil {
		return usageError(env, "start", err)
	}
	if !set {
		dbTimeout = defaultDBTimeout(v)
	}
	loaded := kconf.LoadedPlugins(conf.Get("plugins"), v)
	known := facts.Default().Known(v, loaded)
	if p.flag("run-migrations") {
		lockTimeout, _, err := p.seconds("lock-timeout")
		if err != nil {
			return usageError(env, "start", err)
		}
		opts := kongdb.Options{DBTimeout: dbTimeout, LockTimeout: lockTimeout, Version: v.String(), FailAt: sf.Faults.MigrationFail,
			Delay: delays(sf.Faults, log)}
		if code := kongdb.Migrations(ctx, "up", opts, conf, known, log); code != 0 {
			return code
		}
	}
	if !conf.DBLess() {
		if err := checkDatabase(ctx, conf, known, dbTimeout, log); err != nil {
			return log.Fail(err)
		}
	}
	if err := pfx.Prepare(); err != nil {
		return log.Fail(fmt.Errorf("could not prepare Kong prefix at %s: %w", pfx, err))
	}
	if err := kconf.WriteFile(pfx.KongEnv(), conf.Values); err != nil {
		return log.Fail(fmt.Errorf("could not write %s: %w", pfx.KongEnv(), err))
	}
	if err := initPlugins(ctx, conf, pfx, v, loaded, dbTimeout); err != nil {
		return log.Fail(err)
	}
	if err := spawnNode(ctx, env, pfx, v); err != nil {
		return log.Fail(err)
	}
	log.Info("Kong started")
	return 0
}

// checkDatabase applies Kong's start-time migration check (reference 1.8): a database that
// needs bootstrapping or has new migrations is refused; pending ones are logged.
func checkDatabase(ctx context.Context, conf *kconf.Conf, known []facts.Subsystem, timeout time.Duration, log *klog.Logger) error {
	db, err := kongdb.Open(ctx, conf, timeout)
	if err != nil {
		return err
	}
	defer db.Close()
	check, err := kongdb.InspectStart(ctx, db, known)
	if err != nil {
		return err
	}
	for _, l := range check.Info {
		log.Info("%s", l)
	}
	for _, l := range check.Warn {
		log.Warn("%s", l)
	}
	return nil
}

// spawnNode starts "kongsim node" detached in its own session, its output in the prefix's
// error.log, and waits until it reports that it serves (or why it could not). Readiness
// comes over a pipe the child holds as fd 3, so no polling and no timing guess.
func spawnNode(ctx context.Context, env *Env, pfx prefix.Prefix, v facts.Version) error {
	logf, err := os.OpenFile(pfx.ErrorLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("could not open %s: %w", pfx.ErrorLog(), err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command(env.Executable, "node", "-p", string(pfx), "--version", v.String())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = env.Environ
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("could not start nginx: %w", err)
	}
	w.Close()
	go func() { _ = cmd.Wait() }() // reap it if it dies while we wait; a live node outlives us

	msg := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		msg <- strings.TrimSpace(line)
	}()
	select {
	case m := <-msg:
		if m == "ready" {
			return nil
		}
		if m == "" {
			m = "the node process exited; see " + pfx.ErrorLog()
		}
		return fmt.Errorf("%s", strings.TrimPrefix(m, "error: "))
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return ctx.Err()
	}
}

// runNode is "kongsim node": the node process kong start leaves running.
func runNode(ctx context.Context, env *Env, argv []string) int {
	p, err := parseOpts(argv, []optSpec{{short: "p", long: "prefix", value: true}, {long: "version", value: true}})
	if err != nil {
		fmt.Fprintln(env.Stderr, "kongsim node:", err)
		return 2
	}
	ready := os.NewFile(3, "ready")
	report := func(format string, args ...any) {
		if ready != nil {
			fmt.Fprintf(ready, format+"\n", args...)
			ready.Close()
			ready = nil
		}
	}
	fail := func(err error) int {
		report("error: %v", err)
		fmt.Fprintln(env.Stderr, "kongsim node:", err)
		return 1
	}
	pfx := prefix.Prefix(p.str("prefix"))
	v, err := facts.ParseVersion(p.str("version"))
	if err != nil {
		return fail(err)
	}
	kv, err := kconf.ReadFile(pfx.KongEnv())
	if err != nil {
		return fail(err)
	}
	conf := &kconf.Conf{Values: kv, Path: pfx.KongEnv()}
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGINT)
	defer signal.Stop(sigs)

	if sf, err := sim.Load(string(pfx)); err == nil && sf.Faults.StartDelay > 0 {
		d := time.Duration(sf.Faults.StartDelay)
		log.Info("start_delay fault: starting slowly", "delay", d.String())
		select {
		case <-time.After(d): // the simulated slow start itself
		case s := <-sigs:
			return fail(fmt.Errorf("received %s while starting", s))
		}
	}
	host, _ := os.Hostname()
	id := newUUID() // traditional and control-plane nodes get a new node_id at every start
	if conf.Get("role") == "data_plane" {
		// A data plane keeps its node_id in <prefix>/kong.id (Kong: knode.init).
		if b, err := os.ReadFile(filepath.Join(string(pfx), "kong.id")); err == nil && len(strings.TrimSpace(string(b))) == 36 {
			id = strings.TrimSpace(string(b))
		} else if err := os.WriteFile(filepath.Join(string(pfx), "kong.id"), []byte(id), 0o644); err != nil {
			return fail(fmt.Errorf("could not write %s: %w", filepath.Join(string(pfx), "kong.id"), err))
		}
	}
	cfg := node.Config{Conf: conf, Prefix: pfx, Version: v, NodeID: id, Hostname: host, Log: log}
	err = node.Run(ctx, cfg, sigs, func() {
		if err := pfx.WritePID(os.Getpid()); err != nil {
			log.Error("write pid file", "err", err)
		}
		report("ready")
	})
	_ = os.Remove(pfx.PIDFile())
	if err != nil {
		return fail(err)
	}
	return 0
}

func newUUID() string {
	var b [16]byte
	_, _ = io.ReadFull(rand.Reader, b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// initPlugins is what nginx's init_by_lua does with plugins before a node serves
// (kong/init.lua): every loaded plugin must be installed (load_plugin_schemas, all failures
// joined), then every plugin in the plugins table must be loaded (PluginsIterator.new, the
// first row that is not). Either failure fails kong start with nginx's error, as Kong
// prints it, and goes to error.log.
func initPlugins(ctx context.Context, conf *kconf.Conf, pfx prefix.Prefix, v facts.Version, loaded []string, timeout time.Duration) error {
	installed := map[string]bool{}
	for _, p := range facts.Default().Bundled(v) {
		installed[p.Name] = true
	}
	custom, err := pfx.CustomPluginsFor(v)
	if err != nil {
		return err
	}
	for _, name := range custom {
		installed[name] = true
	}
	lines := facts.Default().Lines(v)
	var errs []string
	for _, name := range loaded {
		if !installed[name] {
			errs = append(errs, fmt.Sprintf("on plugin '%s': %s plugin is enabled but not installed;\nno plugin found", name, name))
		}
	}
	if len(errs) > 0 {
		return initError(pfx, lines, lines.PluginSchemas, "assert", "error loading plugin schemas: "+strings.Join(errs, "; "))
	}
	if conf.DBLess() {
		return nil // the plugins in use come with the declarative configuration
	}
	db, err := kongdb.Open(ctx, conf, timeout)
	if err != nil {
		return err
	}
	defer db.Close()
	inUse, err := kongdb.PluginsInUse(ctx, db)
	if err != nil {
		return err
	}
	for _, name := range inUse {
		if !slices.Contains(loaded, name) {
			return initError(pfx, lines, lines.PluginsIterator, "error", "error building initial plugins: "+name+" plugin is in use but not enabled")
		}
	}
	return nil
}

// initError is nginx's init_by_lua failure as kong start reports it (the traceback
// abbreviated), also written to the prefix's error.log as nginx logs it.
func initError(pfx prefix.Prefix, lines facts.SourceLines, line int, fn, msg string) error {
	const lua = "/usr/local/share/lua/5.1/kong/"
	initErr := fmt.Sprintf("init_by_lua error: %sinit.lua:%d: %s", lua, line, msg)
	if f, err := os.OpenFile(pfx.ErrorLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "%s [error] %d#0: %s\n", time.Now().Format("2006/01/02 15:04:05"), os.Getpid(), initErr)
		f.Close()
	}
	return fmt.Errorf("%scmd/start.lua:%d: nginx: [error] %s\nstack traceback:\n\t[C]: in function '%s'\n\t%sinit.lua:%d: in function 'init'\n\tinit_by_lua:3: in main chunk",
		lua, lines.Start, initErr, fn, lua, line)
}
