// Package facts is kongsim's own knowledge of Kong Gateway: its OSS releases, the plugins
// each bundles (with their priorities), and the database migrations each ships per
// subsystem, with which ones have a teardown. It is read from Kong's source at each release
// tag (kong.yaml says where each fact comes from) and kept apart from drawbridge's catalog:
// kongsim is the second opinion the product is tested against, so the two are written
// separately and compared by a test (kong/catalog/crosscheck_test.go), never shared.
package facts

import (
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed kong.yaml
var data []byte

// Version is a Kong version: major.minor.patch for OSS, with a fourth number for an
// Enterprise build (3.4.3.12).
type Version struct {
	Major, Minor, Patch, Build int
	Enterprise                 bool
}

// ParseVersion reads "3.4.2" or, for Enterprise, "3.4.3.12". A leading "v" is accepted.
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".")
	if len(parts) != 3 && len(parts) != 4 {
		return Version{}, fmt.Errorf("version %q: want major.minor.patch such as 3.4.2 (or an Enterprise 3.4.3.12)", s)
	}
	var n [4]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("version %q: want major.minor.patch such as 3.4.2 (or an Enterprise 3.4.3.12)", s)
		}
		n[i] = v
	}
	return Version{Major: n[0], Minor: n[1], Patch: n[2], Build: n[3], Enterprise: len(parts) == 4}, nil
}

// MustParseVersion is ParseVersion for constants.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v Version) String() string {
	if v.Enterprise {
		return fmt.Sprintf("%d.%d.%d.%d", v.Major, v.Minor, v.Patch, v.Build)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Line is the minor line, "3.4".
func (v Version) Line() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Compare orders versions by their numbers (an Enterprise 3.4.3.0 comes after 3.4.3).
func (v Version) Compare(o Version) int {
	for _, d := range [4]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch, v.Build - o.Build} {
		switch {
		case d < 0:
			return -1
		case d > 0:
			return 1
		}
	}
	switch {
	case v.Enterprise == o.Enterprise:
		return 0
	case o.Enterprise:
		return -1
	}
	return 1
}

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// AtLeast reports whether v is o or newer; o is an OSS version such as "3.7.0".
func (v Version) AtLeast(o string) bool { return !v.Less(MustParseVersion(o)) }

// Release is one OSS release.
type Release struct {
	Version Version
	Date    time.Time
	LTS     bool
}

// Plugin is a plugin Kong bundles, with its handler's priority in a version.
type Plugin struct {
	Name     string
	Priority int
}

// Migration is one migration of a subsystem as a version ships it.
type Migration struct {
	Subsystem string
	Name      string
	// Teardown: the version's module has a teardown, so "kong migrations up" records the
	// migration as pending and "finish" runs it.
	Teardown bool
}

// Subsystem is core or a plugin with migrations, with its migrations in Kong's order.
type Subsystem struct {
	Name       string
	Namespace  string // kong.db.migrations.core, kong.plugins.<name>.migrations
	Migrations []Migration
}

// Kong is the parsed knowledge.
type Kong struct {
	Releases []Release // oldest first
	plugins  []rawPlugin
	subs     []rawSubsystem
	lts      map[string]bool
	byVer    map[Version]Release
	lines    []versionedLines
}

type versionedLines struct {
	from  Version
	lines SourceLines
}

type rawPlugin struct {
	name       string
	since      Version
	priorities []versioned // from each version on
}

type versioned struct {
	from  Version
	value int
}

type rawMigration struct {
	name          string
	since         Version
	teardownSince Version // zero: never has a teardown
}

type rawSubsystem struct {
	name       string
	migrations []rawMigration
}

var (
	once    sync.Once
	def     *Kong
	loadErr error
)

// Default is the embedded knowledge (checked by the package's tests).
func Default() *Kong {
	once.Do(func() { def, loadErr = Parse(data) })
	if loadErr != nil {
		panic(fmt.Sprintf("facts: embedded kong.yaml: %v", loadErr))
	}
	return def
}

type yamlFile struct {
	LTSLines []string `yaml:"lts_lines"`
	Releases []struct {
		Version string `yaml:"version"`
		Date    string `yaml:"date"`
	} `yaml:"releases"`
	Plugins []struct {
		Name     string    `yaml:"name"`
		Since    string    `yaml:"since"`
		Priority yaml.Node `yaml:"priority"`
	} `yaml:"plugins"`
	Migrations  yaml.Node `yaml:"migrations"`
	SourceLines []struct {
		From            string `yaml:"from"`
		Start           int    `yaml:"start"`
		PluginSchemas   int    `yaml:"plugin_schemas"`
		PluginsIterator int    `yaml:"plugins_iterator"`
	} `yaml:"source_lines"`
}

// SourceLines are where a release raises the errors kong start prints (file:line).
type SourceLines struct {
	Start           int // kong/cmd/start.lua: assert(nginx_signals.start(conf))
	PluginSchemas   int // kong/init.lua: load_plugin_schemas
	PluginsIterator int // kong/init.lua: "error building initial plugins"
}

// Parse reads kong.yaml's format.
func Parse(b []byte) (*Kong, error) {
	var f yamlFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	k := &Kong{lts: map[string]bool{}, byVer: map[Version]Release{}}
	for _, l := range f.LTSLines {
		k.lts[l] = true
	}
	for _, r := range f.Releases {
		v, err := ParseVersion(r.Version)
		if err != nil {
			return nil, err
		}
		d, err := time.Parse(time.DateOnly, r.Date)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", v, err)
		}
		if n := len(k.Releases); n > 0 && !k.Releases[n-1].Version.Less(v) {
			return nil, fmt.Errorf("release %s is listed after %s", v, k.Releases[n-1].Version)
		}
		rel := Release{Version: v, Date: d, LTS: k.lts[v.Line()]}
		k.Releases = append(k.Releases, rel)
		k.byVer[v] = rel
	}
	if len(k.Releases) == 0 {
		return nil, fmt.Errorf("no releases")
	}
	since := func(what, s string) (Version, error) {
		if s == "" {
			return k.Releases[0].Version, nil
		}
		v, err := ParseVersion(s)
		if err != nil {
			return v, fmt.Errorf("%s: %w", what, err)
		}
		if _, ok := k.byVer[v]; !ok {
			return v, fmt.Errorf("%s: %s is not a release listed", what, v)
		}
		return v, nil
	}
	for _, p := range f.Plugins {
		s, err := since("plugin "+p.Name, p.Since)
		if err != nil {
			return nil, err
		}
		rp := rawPlugin{name: p.Name, since: s}
		switch p.Priority.Kind {
		case yaml.ScalarNode:
			n, err := strconv.Atoi(p.Priority.Value)
			if err != nil {
				return nil, fmt.Errorf("plugin %s: priority %q", p.Name, p.Priority.Value)
			}
			rp.priorities = []versioned{{s, n}}
		case yaml.MappingNode:
			for i := 0; i+1 < len(p.Priority.Content); i += 2 {
				v, err := since("plugin "+p.Name+" priority", p.Priority.Content[i].Value)
				if err != nil {
					return nil, err
				}
				n, err := strconv.Atoi(p.Priority.Content[i+1].Value)
				if err != nil {
					return nil, fmt.Errorf("plugin %s: priority %q", p.Name, p.Priority.Content[i+1].Value)
				}
				rp.priorities = append(rp.priorities, versioned{v, n})
			}
		default:
			return nil, fmt.Errorf("plugin %s: no priority", p.Name)
		}
		k.plugins = append(k.plugins, rp)
	}
	n := &f.Migrations
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("migrations: want a mapping of subsystems")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name := n.Content[i].Value
		var ms []struct {
			Name          string `yaml:"name"`
			Since         string `yaml:"since"`
			Teardown      bool   `yaml:"teardown"`
			TeardownSince string `yaml:"teardown_since"`
		}
		if err := n.Content[i+1].Decode(&ms); err != nil {
			return nil, fmt.Errorf("subsystem %s: %w", name, err)
		}
		sub := rawSubsystem{name: name}
		for _, m := range ms {
			what := "migration " + name + ":" + m.Name
			s, err := since(what, m.Since)
			if err != nil {
				return nil, err
			}
			rm := rawMigration{name: m.Name, since: s}
			switch {
			case m.Teardown && m.TeardownSince != "":
				return nil, fmt.Errorf("%s: teardown and teardown_since both set", what)
			case m.Teardown:
				rm.teardownSince = s
			case m.TeardownSince != "":
				if rm.teardownSince, err = since(what+" teardown_since", m.TeardownSince); err != nil {
					return nil, err
				}
			}
			sub.migrations = append(sub.migrations, rm)
		}
		k.subs = append(k.subs, sub)
	}
	if len(k.subs) == 0 || k.subs[0].name != "core" {
		return nil, fmt.Errorf("migrations: core must come first")
	}
	for _, l := range f.SourceLines {
		v, err := since("source_lines", l.From)
		if err != nil {
			return nil, err
		}
		k.lines = append(k.lines, versionedLines{v, SourceLines{Start: l.Start, PluginSchemas: l.PluginSchemas, PluginsIterator: l.PluginsIterator}})
	}
	return k, nil
}

// Lines returns where version v raises kong start's errors.
func (k *Kong) Lines(v Version) SourceLines {
	v = k.Base(v)
	var out SourceLines
	for _, l := range k.lines {
		if !v.Less(l.from) {
			out = l.lines
		}
	}
	return out
}

// Release returns the OSS release v.
func (k *Kong) Release(v Version) (Release, bool) {
	r, ok := k.byVer[v]
	return r, ok
}

// Latest is the newest release.
func (k *Kong) Latest() Release { return k.Releases[len(k.Releases)-1] }

// Oldest is the oldest release.
func (k *Kong) Oldest() Release { return k.Releases[0] }

// IsLTS reports whether v's minor line is an LTS line.
func (k *Kong) IsLTS(v Version) bool { return k.lts[v.Line()] }

// Installable reports whether kongsim can install v: an OSS release listed here, or an
// Enterprise build of a line whose OSS releases are listed (it behaves as the newest OSS
// release of its line at or below it: a simplification, see docs/kongsim.md).
func (k *Kong) Installable(v Version) bool {
	if !v.Enterprise {
		_, ok := k.byVer[v]
		return ok
	}
	_, ok := k.base(v)
	return ok
}

// base is the OSS release whose database behaviour v has: v itself, or for an Enterprise
// build the newest OSS release of its line not newer than it.
func (k *Kong) base(v Version) (Version, bool) {
	if !v.Enterprise {
		_, ok := k.byVer[v]
		return v, ok
	}
	var found Version
	ok := false
	for _, r := range k.Releases {
		if r.Version.Line() == v.Line() && !v.Less(r.Version) {
			found, ok = r.Version, true
		}
	}
	return found, ok
}

// Base is the OSS release whose plugins and migrations version v has (v itself for OSS).
func (k *Kong) Base(v Version) Version {
	b, ok := k.base(v)
	if !ok {
		return v
	}
	return b
}

// Bundled returns the plugins version v bundles, in Kong's order, with their priority then.
func (k *Kong) Bundled(v Version) []Plugin {
	v = k.Base(v)
	var out []Plugin
	for _, p := range k.plugins {
		if v.Less(p.since) {
			continue
		}
		prio := 0
		for _, pr := range p.priorities {
			if !v.Less(pr.from) {
				prio = pr.value
			}
		}
		out = append(out, Plugin{Name: p.name, Priority: prio})
	}
	return out
}

// IsBundled reports whether version v bundles plugin name.
func (k *Kong) IsBundled(v Version, name string) bool {
	return slices.ContainsFunc(k.Bundled(v), func(p Plugin) bool { return p.Name == name })
}

// Known returns the subsystems whose migrations version v runs for the loaded plugins, as
// Kong's kong/db/migrations/state.lua builds them: core first, then each loaded plugin that
// has migrations, sorted by name. Plugins that are not loaded are not looked at, and
// subsystems without a migration in v are left out.
func (k *Kong) Known(v Version, loaded []string) []Subsystem {
	v = k.Base(v)
	var out []Subsystem
	for _, s := range k.subs {
		if s.name != "core" && !slices.Contains(loaded, s.name) {
			continue
		}
		var ms []Migration
		for _, m := range s.migrations {
			if v.Less(m.since) {
				continue
			}
			td := !m.teardownSince.IsZero() && !v.Less(m.teardownSince)
			ms = append(ms, Migration{Subsystem: s.name, Name: m.name, Teardown: td})
		}
		if len(ms) > 0 {
			out = append(out, Subsystem{Name: s.name, Namespace: namespace(s.name), Migrations: ms})
		}
	}
	// Core stays first; plugins by name (the file lists them so already; sort to be sure).
	slices.SortStableFunc(out[min(1, len(out)):], func(a, b Subsystem) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// AllBundled is Known with every plugin v bundles loaded (plugins = bundled).
func (k *Kong) AllBundled(v Version) []Subsystem {
	var names []string
	for _, p := range k.Bundled(v) {
		names = append(names, p.Name)
	}
	return k.Known(v, names)
}

// IsZero reports whether v is the zero Version.
func (v Version) IsZero() bool { return v == Version{} }

func namespace(subsystem string) string {
	if subsystem == "core" {
		return "kong.db.migrations.core"
	}
	return "kong.plugins." + subsystem + ".migrations"
}

// Raw is the embedded kong.yaml, for tests that compare it with other data.
func Raw() ([]byte, error) { return slices.Clone(data), nil }

// All returns every subsystem and migration of every release, Teardown set when any
// release's module has one: what kongsim needs SQL for.
func (k *Kong) All() []Subsystem {
	var out []Subsystem
	for _, s := range k.subs {
		sub := Subsystem{Name: s.name, Namespace: namespace(s.name)}
		for _, m := range s.migrations {
			sub.Migrations = append(sub.Migrations, Migration{Subsystem: s.name, Name: m.name, Teardown: !m.teardownSince.IsZero()})
		}
		out = append(out, sub)
	}
	return out
}

// Between returns the migrations release to runs on a database release from left done, for
// every bundled plugin: those to ships that from does not, in Kong's order.
func (k *Kong) Between(from, to Version) []Migration {
	had := map[[2]string]bool{}
	for _, s := range k.AllBundled(from) {
		for _, m := range s.Migrations {
			had[[2]string{s.Name, m.Name}] = true
		}
	}
	var out []Migration
	for _, s := range k.AllBundled(to) {
		for _, m := range s.Migrations {
			if !had[[2]string{s.Name, m.Name}] {
				out = append(out, m)
			}
		}
	}
	return out
}
