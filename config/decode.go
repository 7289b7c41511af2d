package config

import (
	"encoding"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// LoadOptions adjust Load for its callers.
type LoadOptions struct {
	// LookupEnv resolves ${VAR}; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// AllowMissingEnv reports unset variables in Config.MissingEnv instead of as problems,
	// and skips the format checks of the values they would have given. validate-config uses
	// it so a file can be checked where its secrets are not set; serve never does.
	AllowMissingEnv bool
}

// Load reads, expands, decodes and validates the file at path. When anything is wrong it
// returns a *Problems error listing every problem.
func Load(path string, opts LoadOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse is Load for a file already read; name is used in messages.
func Parse(name string, data []byte, opts LoadOptions) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	col := newCollector()
	fail := func() error {
		ps := &Problems{File: name, List: col.problems}
		ps.sort()
		return ps
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		col.problems = append(col.problems, yamlProblem(err))
		return nil, fail()
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		col.add("", "the keys of examples/config.yaml", "the file is empty")
		return nil, fail()
	}
	root := doc.Content[0]

	d := &decoder{col: col, env: opts.LookupEnv}
	d.walk(root, reflect.TypeFor[Config](), "")
	if len(col.problems) > 0 {
		return nil, fail()
	}
	var cfg Config
	if err := root.Decode(&cfg); err != nil {
		// The walk checked every scalar against its type, so this is a bug in the walk,
		// but it still must not pass silently.
		col.add("", "", "decode: %v", err)
		return nil, fail()
	}
	applyDefaults(&cfg, col)

	missing := d.missing
	if opts.AllowMissingEnv {
		cfg.MissingEnv = missing
	} else {
		for _, m := range missing {
			if !optionalEnv(m.Path) {
				col.add(m.Path, "export "+m.Var+"=… before starting drawbridge", "environment variable %s is not set", m.Var)
			}
		}
	}
	v := &validator{col: col, cfg: &cfg, missing: map[string]string{}}
	for _, m := range missing {
		v.missing[m.Path] = m.Var
	}
	v.validate()
	if len(col.problems) > 0 {
		return nil, fail()
	}
	return &cfg, nil
}

// optionalEnv lists the keys that may be left empty by an unset variable.
func optionalEnv(path string) bool {
	switch path {
	case "slack.app_token", "slack.api_url", "slack.signing_secret":
		// signing_secret is needed only without app_token; the validator checks that.
		return true
	}
	return false
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{Msg: "not valid YAML: " + msg, Want: "a YAML mapping like examples/config.yaml"}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
	}
	return p
}

// decoder walks the YAML tree against the Go types before decoding: it records the line
// of every key, reports unknown keys and ill-typed values with their path, and expands
// ${VAR} references in scalar values.
type decoder struct {
	col      *collector
	env      func(string) (string, bool)
	missing  []MissingVar
	expanded map[*yaml.Node]bool // scalars already expanded (an alias reaches one again)
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func (d *decoder) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		d.col.lines[path] = n.Line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // an empty value leaves the zero value; required keys are checked later
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		d.textScalar(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		d.mapping(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.col.add(path, "a list, e.g. [a, b] or one \"- item\" per line", "%s is not a list", describe(n))
			return
		}
		for i, item := range n.Content {
			d.walk(item, t.Elem(), index(path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.col.add(path, "a mapping of names to values, e.g. { host: 10.1.0.11 }", "%s is not a mapping", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			d.walk(v, t.Elem(), join(path, k.Value))
		}
	case reflect.String:
		d.scalar(n, path, "a string", func(string) bool { return true }, true)
	case reflect.Bool:
		d.scalar(n, path, "true or false", func(s string) bool { l := strings.ToLower(s); return l == "true" || l == "false" }, false)
	case reflect.Int:
		d.scalar(n, path, "a whole number", func(s string) bool { _, err := strconv.ParseInt(s, 10, 64); return err == nil }, false)
	case reflect.Float64:
		d.scalar(n, path, "a number", func(s string) bool { _, err := strconv.ParseFloat(s, 64); return err == nil }, false)
	default:
		d.col.add(path, "", "internal: no decoder for %s", t)
	}
}

// mapping walks a YAML mapping against a struct's yaml-tagged fields.
func (d *decoder) mapping(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		d.col.add(path, "a mapping with the keys "+strings.Join(keysOf(t), ", "), "%s is not a mapping", describe(n))
		return
	}
	fields := fieldsOf(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			d.walk(v, t, path) // <<: *anchor merges another mapping's keys
			continue
		}
		f, ok := fields[k.Value]
		p := join(path, k.Value)
		if !ok {
			d.col.lines[p] = k.Line
			d.col.add(p, suggest(k.Value, keysOf(t)), "unknown key %q", k.Value)
			continue
		}
		d.walk(v, f.Type, p)
		d.col.lines[p] = k.Line
	}
}

// scalar checks one scalar value, expanding ${VAR} first. stringTarget keeps the value a
// string whatever it looks like (a token "1234" stays text); other targets are re-resolved
// from the expanded text.
func (d *decoder) scalar(n *yaml.Node, path, want string, ok func(string) bool, stringTarget bool) {
	if n.Kind != yaml.ScalarNode {
		d.col.add(path, want, "%s is not a single value", describe(n))
		return
	}
	if !d.expand(n, path, !stringTarget) {
		return
	}
	if !ok(n.Value) {
		d.col.add(path, want, "%q is not %s", n.Value, want)
		return
	}
	if !stringTarget {
		n.Tag, n.Style = "", 0 // "10" written in quotes is still the number 10
	}
}

// textScalar checks a scalar for a type that parses itself (durations, times).
func (d *decoder) textScalar(n *yaml.Node, t reflect.Type, path string) {
	what, want := describeType(t)
	if n.Kind != yaml.ScalarNode {
		d.col.add(path, want, "%s is not a single value", describe(n))
		return
	}
	if !d.expand(n, path, true) {
		return
	}
	v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
	if err := v.UnmarshalText([]byte(n.Value)); err != nil {
		d.col.add(path, want, "%q is not %s%s", n.Value, what, hintFor(t, n.Value))
		return
	}
	n.Tag, n.Style = "!!str", 0 // let UnmarshalText see it as text, as written
}

// describeType names a self-parsing type and gives an example of a right value.
func describeType(t reflect.Type) (what, want string) {
	switch {
	case t == reflect.TypeFor[Duration]():
		return "a Go duration", "a Go duration such as 90s, 15m or 2h"
	case t == reflect.TypeFor[time.Time]():
		return "an RFC 3339 time", "an RFC 3339 time with a zone, such as 2026-12-20T00:00:00Z"
	default:
		return "a valid " + t.Name(), "a valid " + t.Name()
	}
}

func hintFor(t reflect.Type, v string) string {
	if t == reflect.TypeFor[Duration]() {
		if strings.HasSuffix(v, "d") {
			return " (Go durations have no days: write 24h for a day)"
		}
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return " (it needs a unit: s, m or h)"
		}
	}
	return ""
}

var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{[^}]*\}?`)

// expand replaces ${VAR} references in a scalar. It reports false when the value cannot
// be used (a problem has been recorded). A value that is exactly one unset ${VAR} becomes
// empty and is remembered in d.missing; an unset variable inside a longer value is a
// problem at once, because half a value is never what was meant.
func (d *decoder) expand(n *yaml.Node, path string, retype bool) bool {
	// A node shared through a YAML alias is reached once per use: expanded the first time
	// only, or its "$$" would become "$" and then read as a reference.
	if d.expanded[n] || !strings.Contains(n.Value, "$") {
		return true
	}
	if d.expanded == nil {
		d.expanded = map[*yaml.Node]bool{}
	}
	d.expanded[n] = true
	var problem bool
	var unset []string
	whole := envRef.FindStringSubmatchIndex(n.Value)
	out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		if ref == "$$" {
			return "$"
		}
		m := envRef.FindStringSubmatch(ref)
		if m[1] == "" {
			d.col.add(path, "${NAME} with letters, digits and _ (write $$ for a literal $)", "%q is not a valid variable reference", ref)
			problem = true
			return ref
		}
		v, ok := d.env(m[1])
		if !ok {
			unset = append(unset, m[1])
		}
		return v
	})
	if problem {
		return false
	}
	if len(unset) > 0 {
		isWhole := len(unset) == 1 && whole != nil && whole[0] == 0 && whole[1] == len(n.Value)
		if !isWhole || retype {
			for _, name := range unset {
				d.col.add(path, "export "+name+"=… before starting drawbridge", "environment variable %s is not set", name)
			}
			return false
		}
		d.missing = append(d.missing, MissingVar{Path: path, Line: n.Line, Var: unset[0]})
	}
	n.Value = out
	if retype {
		n.Tag, n.Style = "", 0
	} else {
		n.Tag, n.Style = "!!str", yaml.DoubleQuotedStyle
	}
	return true
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

type field struct {
	Name string
	Type reflect.Type
}

func fieldsOf(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		out[tag] = field{Name: f.Name, Type: f.Type}
	}
	return out
}

func keysOf(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// suggest proposes the known key closest to an unknown one.
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("%q (the keys here are %s)", best, strings.Join(known, ", "))
	}
	return "one of " + strings.Join(known, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
