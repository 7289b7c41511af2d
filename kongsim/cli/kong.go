// Package cli is kongsim's command line: the simulated kong CLI ("kongsim kong …", or the
// binary invoked as "kong") with Kong's syntax, output and exit codes, and kongsim's own
// commands (install, node, set, show, seed, cluster, link).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/kconf"
	"github.com/drawbridge/drawbridge/kongsim/klog"
	"github.com/drawbridge/drawbridge/kongsim/prefix"
)

// Env is what a command sees of its process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Environ        []string // os.Environ() form
	TTY            bool     // stdin is a terminal
	Executable     string   // the kongsim binary, to start node processes
}

func (e *Env) getenv(key string) string {
	for _, kv := range e.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

const kongUsage = `Usage: kong COMMAND [OPTIONS]

The available commands are:
 health
 migrations
 quit
 restart
 start
 stop
 version

Options:
 --v              verbose
 --vv             debug
`

type kongCommand func(ctx context.Context, env *Env, argv []string) int

func kongCommands() map[string]kongCommand {
	return map[string]kongCommand{
		"version":    kongVersion,
		"start":      kongStart,
		"stop":       kongStop,
		"quit":       kongQuit,
		"restart":    kongRestart,
		"health":     kongHealth,
		"migrations": kongMigrations,
	}
}

// Kong runs the simulated kong CLI with argv (without the program name) and returns the
// exit code.
func Kong(ctx context.Context, env *Env, argv []string) int {
	if len(argv) == 0 {
		fmt.Fprint(env.Stderr, kongUsage)
		return 1
	}
	cmd, ok := kongCommands()[argv[0]]
	if !ok {
		if argv[0] == "--help" || argv[0] == "-h" {
			fmt.Fprint(env.Stderr, kongUsage)
			return 0
		}
		fmt.Fprintf(env.Stderr, "No such command: %s\n\n%s", argv[0], kongUsage)
		return 1
	}
	return cmd(ctx, env, argv[1:])
}

// logger returns the CLI logger for the verbosity options in p.
func logger(env *Env, p *parsed) *klog.Logger {
	l := &klog.Logger{Stdout: env.Stdout, Stderr: env.Stderr}
	switch {
	case p.flag("q") || p.flag("quiet"):
		l.Level = klog.Quiet
	case p.flag("vv"):
		l.Level = klog.Debug
	case p.flag("v"):
		l.Level = klog.Verbose
	}
	return l
}

// usageError prints a command's usage problem the way lapp does and returns 1.
func usageError(env *Env, cmd string, err error) int {
	fmt.Fprintf(env.Stderr, "kong %s: %v\n", cmd, err)
	return 1
}

// nodeConf resolves a node's configuration: the prefix (from -p, else KONG_PREFIX or the
// file's prefix, else Kong's default), the version installed there, and the configuration
// with that version's defaults. The installed version is required.
func nodeConf(env *Env, confPath, prefixOpt string) (*kconf.Conf, prefix.Prefix, facts.Version, error) {
	probe, err := kconf.Load(confPath, facts.Default().Latest().Version, env.Environ)
	if err != nil {
		return nil, "", facts.Version{}, err
	}
	dir := probe.Prefix()
	if prefixOpt != "" {
		dir = prefixOpt
	}
	pfx := prefix.Prefix(filepath.Clean(dir))
	v, err := pfx.Installed()
	if err != nil {
		return nil, pfx, v, err
	}
	c, err := kconf.Load(confPath, v, env.Environ)
	if err != nil {
		return nil, pfx, v, err
	}
	c.Values["prefix"] = string(pfx)
	return c, pfx, v, nil
}

func kongVersion(_ context.Context, env *Env, argv []string) int {
	p, err := parseOpts(argv, []optSpec{{short: "a", long: "all"}, {short: "p", long: "prefix", value: true}, {short: "c", long: "conf", value: true}})
	if err != nil {
		return usageError(env, "version", err)
	}
	log := logger(env, p)
	_, _, v, err := nodeConf(env, p.str("conf"), p.str("prefix"))
	if err != nil {
		return log.Fail(err)
	}
	if p.flag("all") {
		fmt.Fprintf(env.Stdout, "Kong: %s\nngx_lua: %s\nnginx: %s\nLua: %s\n", v, ngxLuaVersion(v), nginxVersion(v), luaVersion)
		return 0
	}
	fmt.Fprintln(env.Stdout, v)
	return 0
}

const luaVersion = "LuaJIT 2.1.0-20231117"

// ngxLuaVersion and nginxVersion are the numeric versions Kong's bundled OpenResty reports:
// 1.19 for 2.8, 1.21 for 3.0–3.4, 1.25 from 3.5.
func ngxLuaVersion(v facts.Version) string {
	switch {
	case v.Major < 3:
		return "10020"
	case v.Less(facts.MustParseVersion("3.5.0")):
		return "10021"
	default:
		return "10026"
	}
}

func nginxVersion(v facts.Version) string {
	switch {
	case v.Major < 3:
		return "1019009"
	case v.Less(facts.MustParseVersion("3.5.0")):
		return "1021004"
	default:
		return "1025003"
	}
}

// runningPrefix resolves the prefix of stop, quit and health: -p, else KONG_PREFIX, else
// Kong's default, and reads its .kong_env as Kong does.
func runningPrefix(env *Env, prefixOpt string) (prefix.Prefix, error) {
	dir := prefixOpt
	if dir == "" {
		dir = env.getenv("KONG_PREFIX")
	}
	if dir == "" {
		dir = kconf.Defaults(facts.Default().Latest().Version)["prefix"]
	}
	return prefix.Prefix(filepath.Clean(dir)), nil
}

func kongStop(_ context.Context, env *Env, argv []string) int {
	p, err := parseOpts(argv, []optSpec{{short: "p", long: "prefix", value: true}})
	if err != nil {
		return usageError(env, "stop", err)
	}
	log := logger(env, p)
	pfx, _ := runningPrefix(env, p.str("prefix"))
	pfx.LogCommand(append([]string{"stop"}, argv...))
	if _, err := os.Stat(pfx.KongEnv()); err != nil {
		return log.Fail(fmt.Errorf("no file at: %s", pfx.KongEnv()))
	}
	pid, alive := pfx.PID()
	if !alive {
		return log.Fail(fmt.Errorf("nginx not running in prefix: %s", pfx))
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return log.Fail(fmt.Errorf("could not send signal TERM to nginx: %w", err))
	}
	log.Info("Kong stopped")
	return 0
}

func kongQuit(ctx context.Context, env *Env, argv []string) int {
	p, err := parseOpts(argv, []optSpec{
		{short: "p", long: "prefix", value: true},
		{short: "t", long: "timeout", value: true, def: "10"},
		{short: "w", long: "wait", value: true, def: "0"},
	})
	if err != nil {
		return usageError(env, "quit", err)
	}
	log := logger(env, p)
	timeout, _, err := p.seconds("timeout")
	if err != nil {
		return usageError(env, "quit", err)
	}
	wait, _, err := p.seconds("wait")
	if err != nil {
		return usageError(env, "quit", err)
	}
	timeout = max(timeout, time.Second)
	pfx, _ := runningPrefix(env, p.str("prefix"))
	if _, err := os.Stat(pfx.KongEnv()); err != nil {
		return log.Fail(fmt.Errorf("no file at: %s", pfx.KongEnv()))
	}
	pid, alive := pfx.PID()
	if !alive {
		return log.Fail(fmt.Errorf("nginx not running in prefix: %s", pfx))
	}
	if wait > 0 {
		log.Verbose("waiting %s before quitting", wait)
		select {
		case <-time.After(wait): // --wait is a delay Kong itself applies
		case <-ctx.Done():
			return log.Fail(ctx.Err())
		}
	}
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		return log.Fail(fmt.Errorf("could not send signal QUIT to nginx: %w", err))
	}
	if waitGone(ctx, pfx, timeout) {
		log.Info("Kong stopped (gracefully)")
		return 0
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	log.Info("Timeout, Kong stopped forcefully")
	return 0
}

// waitGone polls until the prefix's node process has exited or timeout passes.
func waitGone(ctx context.Context, pfx prefix.Prefix, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, alive := pfx.PID(); !alive {
			return true
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			_, alive := pfx.PID()
			return !alive
		case <-ctx.Done():
			return false
		}
	}
}

func kongHealth(_ context.Context, env *Env, argv []string) int {
	p, err := parseOpts(argv, []optSpec{{short: "p", long: "prefix", value: true}})
	if err != nil {
		return usageError(env, "health", err)
	}
	log := logger(env, p)
	pfx, _ := runningPrefix(env, p.str("prefix"))
	if !pfx.Exists() {
		return log.Fail(fmt.Errorf("no such prefix: %s", pfx))
	}
	if _, err := os.Stat(pfx.KongEnv()); err != nil {
		return log.Fail(fmt.Errorf("Kong is not running at %s", pfx))
	}
	if _, alive := pfx.PID(); !alive {
		return log.Fail(fmt.Errorf("Kong is not running at %s", pfx))
	}
	log.Info("%s", dotted("nginx", "running"))
	log.Info("")
	log.Info("Kong is healthy at %s", pfx)
	return 0
}

// dotted left-justifies name to 12 characters with dots, as kong health prints it.
func dotted(name, state string) string {
	return name + strings.Repeat(".", max(0, 12-len(name))) + state
}

func kongRestart(ctx context.Context, env *Env, argv []string) int {
	p, err := parseOpts(argv, startOpts)
	if err != nil {
		return usageError(env, "restart", err)
	}
	pfx := p.str("prefix")
	if pfx == "" {
		if c, _, _, err := nodeConf(env, p.str("conf"), ""); err == nil {
			pfx = c.Prefix()
		}
	}
	quiet := &Env{Stdin: env.Stdin, Stdout: io.Discard, Stderr: io.Discard, Environ: env.Environ, Executable: env.Executable}
	if code := kongStop(ctx, quiet, []string{"-p", pfx}); code == 0 {
		waitGone(ctx, prefix.Prefix(pfx), 10*time.Second)
	}
	return kongStart(ctx, env, argv)
}

// errExit is returned by helpers that have already printed their error.
var errExit = errors.New("exit")
