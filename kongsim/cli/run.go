package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/prefix"
	"github.com/drawbridge/drawbridge/kongsim/sim"
)

// runImage is "kongsim run --version V [--from PREFIX] [-e KEY=VALUE…] -- kong ARGS": the
// kong CLI of version V as a throwaway container runs it ("docker run --rm -e … kong:V kong
// …"): in a fresh prefix of its own, removed afterwards, with the environment given by -e
// over the caller's. Nothing of a node changes. --from copies a node's custom plugins and
// sim.json (its faults) into the container's prefix, so a fault set on the cluster's nodes
// ("this migration fails on this database") holds for the container too.
func runImage(ctx context.Context, env *Env, argv []string) int {
	var version, from string
	var extra []string
	i := 0
	for ; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			i++
			break
		}
		if i+1 >= len(argv) {
			return fail(env, "run", fmt.Errorf("option %s needs a value", a))
		}
		switch a {
		case "--version":
			version = argv[i+1]
		case "--from":
			from = argv[i+1]
		case "-e", "--env":
			if !strings.Contains(argv[i+1], "=") {
				return fail(env, "run", fmt.Errorf("-e %q: want KEY=VALUE", argv[i+1]))
			}
			extra = append(extra, argv[i+1])
		default:
			return fail(env, "run", fmt.Errorf("unknown option %s (want --version V [--from PREFIX] [-e KEY=VALUE…] -- kong ARGS)", a))
		}
		i++
	}
	rest := argv[i:]
	if version == "" || len(rest) == 0 || rest[0] != "kong" {
		return fail(env, "run", fmt.Errorf("want --version V [--from PREFIX] [-e KEY=VALUE…] -- kong ARGS"))
	}
	v, err := facts.ParseVersion(version)
	if err != nil {
		return fail(env, "run", err)
	}
	dir, err := os.MkdirTemp("", "kongsim-run-")
	if err != nil {
		return fail(env, "run", err)
	}
	defer os.RemoveAll(dir)
	pfx := prefix.Prefix(filepath.Join(dir, "prefix"))
	if err := pfx.Install(v); err != nil {
		return fail(env, "run", err)
	}
	if from != "" {
		if err := copyNode(prefix.Prefix(filepath.Clean(from)), pfx); err != nil {
			return fail(env, "run", err)
		}
	}
	// The container's environment: the caller's, then -e, then its own prefix (Kong's
	// KONG_* variables win over kong.conf, so the node's conf may still be given with -c).
	environ := append(append(append([]string{}, env.Environ...), extra...), "KONG_PREFIX="+string(pfx))
	sub := *env
	sub.Environ = environ
	return Kong(ctx, &sub, rest[1:])
}

// copyNode copies a node prefix's custom plugins and sim.json into the container's prefix.
func copyNode(from, to prefix.Prefix) error {
	if !from.Exists() {
		return fmt.Errorf("--from %s: no such prefix", from)
	}
	plugins, err := from.CustomPlugins()
	if err != nil {
		return fmt.Errorf("--from %s: %w", from, err)
	}
	for _, p := range plugins {
		if err := to.InstallPlugin(p); err != nil {
			return err
		}
	}
	f, err := sim.Load(string(from))
	if err != nil {
		return fmt.Errorf("--from %s: %w", from, err)
	}
	return sim.Save(string(to), f)
}
