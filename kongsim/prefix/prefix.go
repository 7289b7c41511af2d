// Package prefix is a simulated node's prefix directory, laid out as Kong's
// (conf_loader/constants.lua PREFIX_PATHS): .kong_env (the running configuration),
// pids/nginx.pid (the node process), logs/error.log. kongsim adds .kongsim/, holding the
// installed version (what "kongsim install" switches, as a package upgrade would), the
// custom plugins installed beside it (plugins) and sim.json (traffic and faults, see
// package sim).
package prefix

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// Prefix is a node's prefix directory.
type Prefix string

func (p Prefix) path(elem ...string) string {
	return filepath.Join(append([]string{string(p)}, elem...)...)
}

// KongEnv is the running configuration written by start.
func (p Prefix) KongEnv() string { return p.path(".kong_env") }

// PIDFile holds the node process's PID.
func (p Prefix) PIDFile() string { return p.path("pids", "nginx.pid") }

// ErrorLog is the node's log.
func (p Prefix) ErrorLog() string { return p.path("logs", "error.log") }

// SimDir holds kongsim's own files.
func (p Prefix) SimDir() string { return p.path(".kongsim") }

// VersionFile holds the installed version.
func (p Prefix) VersionFile() string { return p.path(".kongsim", "version") }

// SimFile holds traffic and faults.
func (p Prefix) SimFile() string { return p.path(".kongsim", "sim.json") }

// PluginsFile lists the custom plugins installed in the prefix, one name per line.
func (p Prefix) PluginsFile() string { return p.path(".kongsim", "plugins") }

// Exists reports whether the prefix directory exists.
func (p Prefix) Exists() bool {
	st, err := os.Stat(string(p))
	return err == nil && st.IsDir()
}

// Prepare creates the prefix's directories.
func (p Prefix) Prepare() error {
	for _, d := range []string{string(p), p.path("pids"), p.path("logs"), p.SimDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// ErrNotInstalled means no version was installed in the prefix.
var ErrNotInstalled = errors.New("no Kong version installed")

// Installed returns the version installed in the prefix.
func (p Prefix) Installed() (facts.Version, error) {
	b, err := os.ReadFile(p.VersionFile())
	if errors.Is(err, os.ErrNotExist) {
		return facts.Version{}, fmt.Errorf("%w in %s (run: kongsim install -p %s --version X.Y.Z)", ErrNotInstalled, p, p)
	}
	if err != nil {
		return facts.Version{}, err
	}
	return facts.ParseVersion(strings.TrimSpace(string(b)))
}

// Install records v as the installed version, as a package install would. The version
// must be an OSS release kongsim knows, or an Enterprise build of one of their lines.
func (p Prefix) Install(v facts.Version) error {
	k := facts.Default()
	if !k.Installable(v) {
		return fmt.Errorf("version %s is not a Kong release kongsim knows (OSS %s … %s, or an Enterprise build of those lines such as 3.4.3.12)",
			v, k.Oldest().Version, k.Latest().Version)
	}
	if err := p.Prepare(); err != nil {
		return err
	}
	return writeAtomic(p.VersionFile(), []byte(v.String()+"\n"))
}

// PID returns the node process's PID from pids/nginx.pid, and whether that process is
// alive (kill -0, as Kong checks).
func (p Prefix) PID() (pid int, alive bool) {
	b, err := os.ReadFile(p.PIDFile())
	if err != nil {
		return 0, false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	err = syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return pid, false
	}
	return pid, !zombie(pid)
}

// zombie reports whether pid has exited but not been reaped (kill -0 still succeeds on
// it, e.g. when the node's parent is a container's init that does not reap).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may hold spaces.
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] == 'Z'
	}
	return false
}

// WritePID records the node process's PID.
func (p Prefix) WritePID(pid int) error {
	if err := p.Prepare(); err != nil {
		return err
	}
	return writeAtomic(p.PIDFile(), []byte(strconv.Itoa(pid)+"\n"))
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CommandLog is kongsim's own record of the kong commands run against this prefix, one
// line each: the time, the process id and the arguments. Tests count in it how often a
// command ran (a non-repeatable one must run once).
func (p Prefix) CommandLog() string { return p.path("logs", "kongsim-commands.log") }

// LogCommand appends one line to CommandLog. Failing to write it is not Kong's problem and
// is ignored, as a full log disk would not stop Kong.
func (p Prefix) LogCommand(args []string) {
	if err := os.MkdirAll(p.path("logs"), 0o755); err != nil {
		return
	}
	f, err := os.OpenFile(p.CommandLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %d kong %s\n", time.Now().UTC().Format(time.RFC3339Nano), os.Getpid(), strings.Join(args, " "))
}

// CustomPluginsFor returns the custom plugins installed for version v: those installed for
// every version ("name") and those installed for v only ("name@v", as in a container image
// built for one version).
func (p Prefix) CustomPluginsFor(v facts.Version) ([]string, error) {
	all, err := p.CustomPlugins()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range all {
		name, ver, pinned := strings.Cut(e, "@")
		if !pinned || ver == v.String() {
			out = append(out, name)
		}
	}
	return slices.Compact(out), nil
}

// CustomPlugins returns the custom (not bundled) plugins installed in the prefix, sorted, as
// recorded: "name", or "name@version" for one version only.
func (p Prefix) CustomPlugins() ([]string, error) {
	b, err := os.ReadFile(p.PluginsFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out, nil
}

// InstallPlugin installs a custom plugin in the prefix: "name" as "luarocks install" would,
// kept across Kong version installs; "name@3.4.2" for that version only, as an image built
// for one version has it.
func (p Prefix) InstallPlugin(name string) error {
	plugin, ver, pinned := strings.Cut(name, "@")
	if !validPluginName(plugin) {
		return fmt.Errorf("plugin name %q: want lower-case letters, digits and dashes", plugin)
	}
	if pinned {
		if _, err := facts.ParseVersion(ver); err != nil {
			return fmt.Errorf("plugin %s: %w", name, err)
		}
	}
	have, err := p.CustomPlugins()
	if err != nil {
		return err
	}
	if err := p.Prepare(); err != nil {
		return err
	}
	have = append(have, name)
	slices.Sort(have)
	return writeAtomic(p.PluginsFile(), []byte(strings.Join(slices.Compact(have), "\n")+"\n"))
}

func validPluginName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
