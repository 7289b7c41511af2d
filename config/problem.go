package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration file: where it is (the key path and
// its line), what is wrong, and what would be right.
type Problem struct {
	Path string // key path, e.g. clusters[0].nodes[1].admin_url; empty for the whole file
	Line int    // 1-based line of the key, or of its nearest parent when the key is missing; 0 if unknown
	Msg  string // what is wrong
	Want string // what would be right; may be empty
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path)
	} else {
		b.WriteString("(file)")
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", p.Line)
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	if p.Want != "" {
		b.WriteString("; want ")
		b.WriteString(p.Want)
	}
	return b.String()
}

// Problems is every problem found in one file. It is the error Load returns when the
// configuration cannot be used.
type Problems struct {
	File string
	List []Problem
}

func (ps *Problems) Error() string {
	var b strings.Builder
	n := len(ps.List)
	fmt.Fprintf(&b, "%s: %d problem", ps.File, n)
	if n != 1 {
		b.WriteString("s")
	}
	for _, p := range ps.List {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// sort orders problems by line, then path, so that the output reads like the file.
func (ps *Problems) sort() {
	sort.SliceStable(ps.List, func(i, j int) bool {
		a, b := ps.List[i], ps.List[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Path < b.Path
	})
}

// collector gathers problems during decoding and validation and knows the line of
// every key path seen in the file.
type collector struct {
	lines    map[string]int
	problems []Problem
}

func newCollector() *collector {
	return &collector{lines: map[string]int{}}
}

// line returns the line of path, or of its nearest ancestor present in the file.
func (c *collector) line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := c.lines[p]; ok {
			return l
		}
	}
	return 0
}

// present reports whether the key at path was written in the file.
func (c *collector) present(path string) bool {
	_, ok := c.lines[path]
	return ok
}

func (c *collector) add(path, want, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Line: c.line(path), Msg: fmt.Sprintf(format, args...), Want: want})
}

// parentPath drops the last element of a key path: a.b[2].c → a.b[2] → a.b → a.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
