package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/kongdb"
	"github.com/drawbridge/drawbridge/kongsim/prefix"
	"github.com/drawbridge/drawbridge/kongsim/sim"
)

const usage = `usage: kongsim <command> [options]

Kong, simulated (docs/kongsim.md):
  kong <args>                         the kong CLI: version, start, stop, quit, restart, health,
                                      migrations bootstrap|up|finish|list|status|reset
                                      (the binary also acts as kong when invoked as "kong")
  install -p PREFIX [--version V] [--plugin NAME[,NAME…]]
                                      install Kong V in a node's prefix, as a package upgrade
                                      would (OSS or an Enterprise build such as 3.4.3.12), and/or
                                      custom plugins beside it (kept across versions)
  run --version V [--from PREFIX] [-e KEY=VALUE…] -- kong ARGS
                                      the kong CLI of Kong V in a throwaway prefix, as "docker run
                                      --rm kong:V kong …" (the node's faults and custom plugins with
                                      --from); nothing of a node changes
  plugins -p PREFIX [--version V] [--require NAME[,NAME…]]
                                      list the custom plugins installed for Kong V (default: the
                                      installed version); exit 1 naming a required one missing
  set -p PREFIX [-p …] key=value…     change traffic and faults of running nodes (an empty value clears)
  show -p PREFIX                      print a node's traffic and faults
  seed [-c CONF] [-p PREFIX] [--services N --routes N --consumers N --upstreams N --targets N]
                                      fill Kong's database with realistic configuration
  cluster init --dir DIR --nodes N --version V [--pg-host H --pg-port P --pg-user U
               --pg-password W --pg-database D]
                                      lay out N node prefixes with kong.conf on free ports
  link DIR                            put a "kong" symlink to this binary in DIR

keys for set: %s
`

// Main runs kongsim with argv (without the program name) and returns the exit code.
// Invoked as "kong", it is the kong CLI.
func Main(ctx context.Context, env *Env, program string, argv []string) int {
	if filepath.Base(program) == "kong" {
		return Kong(ctx, env, argv)
	}
	if len(argv) == 0 {
		fmt.Fprintf(env.Stderr, usage, strings.Join(sim.Keys(), ", "))
		return 2
	}
	switch argv[0] {
	case "kong":
		return Kong(ctx, env, argv[1:])
	case "install":
		return install(env, argv[1:])
	case "run":
		return runImage(ctx, env, argv[1:])
	case "plugins":
		return plugins(env, argv[1:])
	case "node":
		return runNode(ctx, env, argv[1:])
	case "set":
		return setSim(env, argv[1:])
	case "show":
		return showSim(env, argv[1:])
	case "seed":
		return seed(ctx, env, argv[1:])
	case "cluster":
		return cluster(env, argv[1:])
	case "link":
		return link(env, argv[1:])
	case "-h", "--help", "help":
		fmt.Fprintf(env.Stdout, usage, strings.Join(sim.Keys(), ", "))
		return 0
	}
	fmt.Fprintf(env.Stderr, "kongsim: unknown command %q\n\n"+usage, argv[0], strings.Join(sim.Keys(), ", "))
	return 2
}

func fail(env *Env, cmd string, err error) int {
	fmt.Fprintf(env.Stderr, "kongsim %s: %v\n", cmd, err)
	return 1
}

func install(env *Env, argv []string) int {
	p, err := parseOpts(argv, []optSpec{{short: "p", long: "prefix", value: true}, {long: "version", value: true}, {long: "plugin", value: true}})
	if err != nil {
		return fail(env, "install", err)
	}
	if p.str("prefix") == "" || (p.str("version") == "" && p.str("plugin") == "") {
		return fail(env, "install", fmt.Errorf("want -p PREFIX --version X.Y.Z, and/or --plugin NAME[,NAME…] for custom plugins"))
	}
	pfx := prefix.Prefix(filepath.Clean(p.str("prefix")))
	if p.str("version") != "" {
		v, err := facts.ParseVersion(p.str("version"))
		if err != nil {
			return fail(env, "install", err)
		}
		if err := pfx.Install(v); err != nil {
			return fail(env, "install", err)
		}
		fmt.Fprintf(env.Stdout, "installed Kong %s in %s\n", v, pfx)
	}
	for _, name := range strings.Split(p.str("plugin"), ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if err := pfx.InstallPlugin(name); err != nil {
			return fail(env, "install", err)
		}
		fmt.Fprintf(env.Stdout, "installed custom plugin %s in %s\n", name, pfx)
	}
	return 0
}

func plugins(env *Env, argv []string) int {
	p, err := parseOpts(argv, []optSpec{{short: "p", long: "prefix", value: true}, {long: "version", value: true}, {long: "require", value: true}})
	if err != nil {
		return fail(env, "plugins", err)
	}
	if p.str("prefix") == "" {
		return fail(env, "plugins", fmt.Errorf("want -p PREFIX"))
	}
	pfx := prefix.Prefix(filepath.Clean(p.str("prefix")))
	var v facts.Version
	if p.str("version") != "" {
		v, err = facts.ParseVersion(p.str("version"))
	} else {
		v, err = pfx.Installed()
	}
	if err != nil {
		return fail(env, "plugins", err)
	}
	have, err := pfx.CustomPluginsFor(v)
	if err != nil {
		return fail(env, "plugins", err)
	}
	fmt.Fprintf(env.Stdout, "custom plugins installed for Kong %s in %s: %s\n", v, pfx, strings.Join(append([]string{}, have...), ", "))
	for _, want := range strings.Split(p.str("require"), ",") {
		if want = strings.TrimSpace(want); want != "" && !slices.Contains(have, want) {
			return fail(env, "plugins", fmt.Errorf("%s is not installed for Kong %s in %s", want, v, pfx))
		}
	}
	return 0
}

// prefixes collects every -p of argv (set may change several nodes at once).
func prefixes(argv []string) (pfxs, rest []string, err error) {
	for i := 0; i < len(argv); i++ {
		switch a := argv[i]; {
		case a == "-p" || a == "--prefix":
			if i+1 >= len(argv) {
				return nil, nil, fmt.Errorf("%s needs a value", a)
			}
			i++
			pfxs = append(pfxs, argv[i])
		case strings.HasPrefix(a, "--prefix="):
			pfxs = append(pfxs, strings.TrimPrefix(a, "--prefix="))
		default:
			rest = append(rest, a)
		}
	}
	if len(pfxs) == 0 {
		return nil, nil, fmt.Errorf("want at least one -p PREFIX")
	}
	return pfxs, rest, nil
}

func setSim(env *Env, argv []string) int {
	pfxs, assignments, err := prefixes(argv)
	if err != nil {
		return fail(env, "set", err)
	}
	if len(assignments) == 0 {
		return fail(env, "set", fmt.Errorf("want key=value…; keys: %s", strings.Join(sim.Keys(), ", ")))
	}
	for _, dir := range pfxs {
		if err := sim.Update(dir, func(f *sim.File) error { return sim.Set(f, assignments) }); err != nil {
			return fail(env, "set", err)
		}
	}
	return 0
}

func showSim(env *Env, argv []string) int {
	pfxs, _, err := prefixes(argv)
	if err != nil {
		return fail(env, "show", err)
	}
	for _, dir := range pfxs {
		f, err := sim.Load(dir)
		if err != nil {
			return fail(env, "show", err)
		}
		b, _ := json.MarshalIndent(f, "", "  ")
		fmt.Fprintf(env.Stdout, "%s\n", b)
	}
	return 0
}

func seed(ctx context.Context, env *Env, argv []string) int {
	p, err := parseOpts(argv, []optSpec{
		{short: "c", long: "conf", value: true}, {short: "p", long: "prefix", value: true},
		{long: "services", value: true, def: "20"}, {long: "routes", value: true, def: "3"},
		{long: "plugins", value: true, def: "2"}, {long: "consumers", value: true, def: "50"},
		{long: "upstreams", value: true, def: "5"}, {long: "targets", value: true, def: "3"},
		{long: "no-prometheus"},
	})
	if err != nil {
		return fail(env, "seed", err)
	}
	conf, _, v, err := nodeConf(env, p.str("conf"), p.str("prefix"))
	if err != nil {
		return fail(env, "seed", err)
	}
	var n [6]int
	for i, k := range []string{"services", "routes", "plugins", "consumers", "upstreams", "targets"} {
		if _, err := fmt.Sscanf(p.str(k), "%d", &n[i]); err != nil || n[i] < 0 {
			return fail(env, "seed", fmt.Errorf("--%s: %q is not a count", k, p.str(k)))
		}
	}
	db, err := kongdb.Open(ctx, conf, 0)
	if err != nil {
		return fail(env, "seed", err)
	}
	defer db.Close()
	res, err := kongdb.Seed(ctx, db, kongdb.SeedOptions{
		Services: n[0], RoutesPerService: n[1], PluginsPerService: n[2], Consumers: n[3],
		Upstreams: n[4], TargetsPerUpstream: n[5], Prometheus: !p.flag("no-prometheus"), Version: v.String(),
	})
	if err != nil {
		return fail(env, "seed", err)
	}
	fmt.Fprintf(env.Stdout, "seeded %s\n", res)
	return 0
}

func link(env *Env, argv []string) int {
	if len(argv) != 1 {
		return fail(env, "link", fmt.Errorf("want DIR"))
	}
	if err := os.MkdirAll(argv[0], 0o755); err != nil {
		return fail(env, "link", err)
	}
	dst := filepath.Join(argv[0], "kong")
	_ = os.Remove(dst)
	if err := os.Symlink(env.Executable, dst); err != nil {
		return fail(env, "link", err)
	}
	fmt.Fprintln(env.Stdout, dst)
	return 0
}
