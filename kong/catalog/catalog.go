// Package catalog is drawbridge's knowledge of Kong Gateway releases: the OSS versions
// 2.8.x and 3.0.x–3.9.x, their dates and LTS lines, the core and plugin database
// migrations each version knows (in Kong's order, with which have a teardown and the
// version each first appeared in), and the headline breaking changes per minor. The data
// is embedded (catalog.yaml) and is the one source of truth for both the upgrade engine
// and kongsim.
package catalog

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

//go:embed catalog.yaml
var data []byte

// Version is a Kong OSS version, major.minor.patch.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion parses "3.4.2". A leading "v" is accepted; anything else is an error.
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(s), "v"), ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q: want major.minor.patch such as 3.4.2", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("version %q: want major.minor.patch such as 3.4.2", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// MustParseVersion is ParseVersion for constants; it panics on a bad version.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Line is the minor line, e.g. "3.4".
func (v Version) Line() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// IsZero reports whether v is the zero Version.
func (v Version) IsZero() bool { return v == Version{} }

// Compare returns -1, 0 or +1.
func (v Version) Compare(o Version) int {
	for _, d := range [3]int{v.Major - o.Major, v.Minor - o.Minor, v.Patch - o.Patch} {
		if d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// MarshalText writes the version as 3.4.2.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses 3.4.2.
func (v *Version) UnmarshalText(b []byte) error {
	p, err := ParseVersion(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// Release is one OSS release.
type Release struct {
	Version Version
	Date    time.Time
	LTS     bool // its minor line is a long-term-support line
}

// Migration is one database migration of a subsystem.
type Migration struct {
	Subsystem string
	Name      string
	Since     Version // first version that ships it; zero: older than every release here
	// Teardown: "up" leaves it pending and "finish" runs its teardown. In Known(v) it is
	// what version v's module has (a few migrations gained a teardown in a later release);
	// in Catalog.Subsystems, what the newest release has.
	Teardown      bool
	teardownSince Version // first version whose module has the teardown
}

// Subsystem is core or a plugin with migrations, with its migrations in order.
type Subsystem struct {
	Name       string
	Namespace  string // kong.db.migrations.core or kong.plugins.<name>.migrations
	Migrations []Migration
}

// Catalog is the parsed release data.
type Catalog struct {
	Releases   []Release           // oldest first
	Subsystems []Subsystem         // core first, then plugins by name
	Breaking   map[string][]string // minor line → headline breaking changes
	ltsLines   map[string]bool
	byVersion  map[Version]Release
}

var (
	once    sync.Once
	def     *Catalog
	loadErr error
)

// Default returns the embedded catalog. The embedded data is checked by the package's
// tests, so an error here means a broken build.
func Default() *Catalog {
	once.Do(func() { def, loadErr = parse(data) })
	if loadErr != nil {
		panic(fmt.Sprintf("catalog: embedded catalog.yaml: %v", loadErr))
	}
	return def
}

type rawCatalog struct {
	LTSLines []string `yaml:"lts_lines"`
	Releases []struct {
		Version string `yaml:"version"`
		Date    string `yaml:"date"`
	} `yaml:"releases"`
	Subsystems yaml.Node           `yaml:"subsystems"`
	Breaking   map[string][]string `yaml:"breaking"`
}

type rawMigration struct {
	Name          string `yaml:"name"`
	Since         string `yaml:"since"`
	Teardown      bool   `yaml:"teardown"`
	TeardownSince string `yaml:"teardown_since"` // the module gained its teardown in this release
}

func parse(b []byte) (*Catalog, error) {
	var raw rawCatalog
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	c := &Catalog{Breaking: raw.Breaking, ltsLines: map[string]bool{}, byVersion: map[Version]Release{}}
	for _, l := range raw.LTSLines {
		c.ltsLines[l] = true
	}
	for _, r := range raw.Releases {
		v, err := ParseVersion(r.Version)
		if err != nil {
			return nil, err
		}
		d, err := time.Parse(time.DateOnly, r.Date)
		if err != nil {
			return nil, fmt.Errorf("release %s: date: %w", v, err)
		}
		if n := len(c.Releases); n > 0 && !c.Releases[n-1].Version.Less(v) {
			return nil, fmt.Errorf("release %s is listed after %s", v, c.Releases[n-1].Version)
		}
		rel := Release{Version: v, Date: d, LTS: c.ltsLines[v.Line()]}
		c.Releases = append(c.Releases, rel)
		c.byVersion[v] = rel
	}
	// Decode subsystems from the mapping node to keep the file's order.
	n := &raw.Subsystems
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("subsystems: want a mapping")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name := n.Content[i].Value
		var ms []rawMigration
		if err := n.Content[i+1].Decode(&ms); err != nil {
			return nil, fmt.Errorf("subsystem %s: %w", name, err)
		}
		s := Subsystem{Name: name, Namespace: namespace(name)}
		for _, m := range ms {
			mig := Migration{Subsystem: name, Name: m.Name, Teardown: m.Teardown || m.TeardownSince != ""}
			if m.Since != "" {
				v, err := ParseVersion(m.Since)
				if err != nil {
					return nil, fmt.Errorf("subsystem %s migration %s: %w", name, m.Name, err)
				}
				mig.Since = v
			}
			switch {
			case m.Teardown && m.TeardownSince != "":
				return nil, fmt.Errorf("subsystem %s migration %s: teardown and teardown_since both set", name, m.Name)
			case m.Teardown:
				mig.teardownSince = mig.Since
			case m.TeardownSince != "":
				v, err := ParseVersion(m.TeardownSince)
				if err != nil {
					return nil, fmt.Errorf("subsystem %s migration %s: teardown_since: %w", name, m.Name, err)
				}
				mig.teardownSince = v
			}
			s.Migrations = append(s.Migrations, mig)
		}
		c.Subsystems = append(c.Subsystems, s)
	}
	if len(c.Subsystems) == 0 || c.Subsystems[0].Name != "core" {
		return nil, fmt.Errorf("subsystems: core must come first")
	}
	return c, nil
}

func namespace(subsystem string) string {
	if subsystem == "core" {
		return "kong.db.migrations.core"
	}
	return "kong.plugins." + subsystem + ".migrations"
}

// Release returns the release with version v.
func (c *Catalog) Release(v Version) (Release, bool) {
	r, ok := c.byVersion[v]
	return r, ok
}

// Latest returns the newest release.
func (c *Catalog) Latest() Release { return c.Releases[len(c.Releases)-1] }

// IsLTSLine reports whether the minor line of v is an LTS line.
func (c *Catalog) IsLTSLine(v Version) bool { return c.ltsLines[v.Line()] }

// Known returns the subsystems and migrations that version v ships, in Kong's order, with
// the teardowns v's modules have. Subsystems with no migration in v are left out, as Kong
// leaves them out of schema_meta. Every bundled plugin counts, as with plugins = bundled.
func (c *Catalog) Known(v Version) []Subsystem {
	var out []Subsystem
	for _, s := range c.Subsystems {
		var ms []Migration
		for _, m := range s.Migrations {
			if !v.Less(m.Since) {
				m.Teardown = m.Teardown && !v.Less(m.teardownSince)
				ms = append(ms, m)
			}
		}
		if len(ms) > 0 {
			out = append(out, Subsystem{Name: s.Name, Namespace: s.Namespace, Migrations: ms})
		}
	}
	return out
}

// KnownFor is Known for a node whose plugins setting is setting (normalised as
// kong.PluginsSetting does): Kong creates and checks migrations only for the plugins a node
// loads (kong/db/migrations/state.lua). ["bundled", …] loads every bundled plugin (and
// custom ones, which the catalog does not know); an explicit list only those named; ["off"]
// core only. An empty setting is Kong's default, bundled.
func (c *Catalog) KnownFor(v Version, setting []string) []Subsystem {
	all := c.Known(v)
	if len(setting) == 0 || slices.Contains(setting, "bundled") {
		return all
	}
	var out []Subsystem
	for _, s := range all {
		if s.Name == "core" || slices.Contains(setting, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// BetweenFor is Between for a node whose plugins setting is setting (see KnownFor).
func (c *Catalog) BetweenFor(from, to Version, setting []string) []Migration {
	had := map[[2]string]bool{}
	for _, s := range c.KnownFor(from, setting) {
		for _, m := range s.Migrations {
			had[[2]string{s.Name, m.Name}] = true
		}
	}
	var out []Migration
	for _, s := range c.KnownFor(to, setting) {
		for _, m := range s.Migrations {
			if !had[[2]string{s.Name, m.Name}] {
				out = append(out, m)
			}
		}
	}
	return out
}

// Between returns the migrations that version to ships and version from does not, in
// Kong's order: what "kong migrations up" runs on an in-place upgrade from → to.
func (c *Catalog) Between(from, to Version) []Migration {
	var out []Migration
	for _, s := range c.Known(to) {
		for _, m := range s.Migrations {
			if from.Less(m.Since) {
				out = append(out, m)
			}
		}
	}
	return out
}

// BreakingBetween returns the breaking changes of every minor line after from's, up to
// and including to's, oldest first.
func (c *Catalog) BreakingBetween(from, to Version) map[string][]string {
	out := map[string][]string{}
	for line, changes := range c.Breaking {
		lv, err := ParseVersion(line + ".0")
		if err != nil {
			continue
		}
		if from.Line() != line && from.Less(lv) && !to.Less(lv) {
			out[line] = slices.Clone(changes)
		}
	}
	return out
}

// Path is the verdict on upgrading from one version to another.
type Path struct {
	From, To   Version
	Guaranteed bool      // Kong guarantees this jump: patch, adjacent minor or adjacent LTS
	Hops       []Version // the shortest chain of guaranteed jumps from From to To, both included
	Kind       string    // "patch", "adjacent minor", "adjacent LTS", or "unverified"
}

// Versions are the chain's versions as written, From first.
func (p Path) Versions() []string {
	out := make([]string, len(p.Hops))
	for i, v := range p.Hops {
		out[i] = v.String()
	}
	return out
}

// Path judges an in-place upgrade from → to by Kong's rules (reference 6.1): patch
// releases of one minor, adjacent minor lines and adjacent LTS lines are guaranteed; any
// other forward jump is not, and Hops spells out the guaranteed chain. Downgrades,
// same-version runs and versions outside the catalog are errors.
func (c *Catalog) Path(from, to Version) (Path, error) {
	if _, ok := c.Release(from); !ok {
		return Path{}, fmt.Errorf("Kong %s is not an OSS release drawbridge knows (2.8.0 … %s)", from, c.Latest().Version)
	}
	if _, ok := c.Release(to); !ok {
		return Path{}, fmt.Errorf("Kong %s is not an OSS release drawbridge knows (2.8.0 … %s)", to, c.Latest().Version)
	}
	switch from.Compare(to) {
	case 0:
		return Path{}, fmt.Errorf("the cluster already runs %s", from)
	case 1:
		return Path{}, fmt.Errorf("%s → %s is a downgrade; Kong's migrations are not reversible (roll back by restoring a backup instead)", from, to)
	}
	p := Path{From: from, To: to}
	if kind, ok := c.hop(from, to); ok {
		p.Guaranteed, p.Kind, p.Hops = true, kind, []Version{from, to}
		return p, nil
	}
	p.Kind = "unverified"
	p.Hops = c.chain(from, to)
	return p, nil
}

// hop reports whether from → to is one guaranteed jump, and which kind.
func (c *Catalog) hop(from, to Version) (string, bool) {
	fl, tl := c.lineIndex(from), c.lineIndex(to)
	switch {
	case fl == tl:
		return "patch", true
	case tl == fl+1:
		return "adjacent minor", true
	case c.IsLTSLine(from) && c.IsLTSLine(to) && c.nextLTS(fl) == tl:
		return "adjacent LTS", true
	}
	return "", false
}

// lines returns the minor lines in release order.
func (c *Catalog) lines() []string {
	var out []string
	for _, r := range c.Releases {
		if l := r.Version.Line(); len(out) == 0 || out[len(out)-1] != l {
			out = append(out, l)
		}
	}
	return out
}

func (c *Catalog) lineIndex(v Version) int { return slices.Index(c.lines(), v.Line()) }

func (c *Catalog) nextLTS(from int) int {
	lines := c.lines()
	for i := from + 1; i < len(lines); i++ {
		if c.ltsLines[lines[i]] {
			return i
		}
	}
	return -1
}

// latestOf returns the newest release of a minor line.
func (c *Catalog) latestOf(line string) Version {
	var v Version
	for _, r := range c.Releases {
		if r.Version.Line() == line {
			v = r.Version
		}
	}
	return v
}

// chain finds the shortest chain of guaranteed jumps from → to (breadth-first over minor
// lines; intermediate stops are each line's newest patch).
func (c *Catalog) chain(from, to Version) []Version {
	lines := c.lines()
	start, goal := c.lineIndex(from), c.lineIndex(to)
	prev := map[int]int{start: -1}
	queue := []int{start}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur == goal {
			break
		}
		next := []int{cur + 1}
		if c.ltsLines[lines[cur]] {
			next = append(next, c.nextLTS(cur))
		}
		for _, n := range next {
			if n < 0 || n > goal {
				continue
			}
			if _, seen := prev[n]; !seen {
				prev[n] = cur
				queue = append(queue, n)
			}
		}
	}
	var idx []int
	for i := goal; i != -1; i = prev[i] {
		idx = append([]int{i}, idx...)
	}
	hops := []Version{from}
	for _, i := range idx[1:] {
		v := c.latestOf(lines[i])
		if i == goal {
			v = to
		}
		hops = append(hops, v)
	}
	return hops
}

// ChangelogURL links a minor line's section of Kong's changelog, e.g. …/CHANGELOG.md#360.
func ChangelogURL(line string) string {
	return "https://github.com/Kong/kong/blob/master/CHANGELOG.md#" + strings.ReplaceAll(line+".0", ".", "")
}
