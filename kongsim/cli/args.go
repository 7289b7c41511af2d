package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// optSpec is one option of a kong command, as penlight lapp declares them
// ("-p,--prefix (optional string)").
type optSpec struct {
	short, long string
	value       bool   // takes a value
	def         string // default value
}

// parsed holds a command line parsed against its specs.
type parsed struct {
	vals map[string]string // long name → value ("true" for switches)
	args []string          // positional arguments
}

// parseOpts parses kong-style options. The universal --v and --vv are always accepted.
// Options may come before or after positional arguments, as lapp allows.
func parseOpts(argv []string, specs []optSpec) (*parsed, error) {
	all := append([]optSpec{{long: "v"}, {long: "vv"}}, specs...)
	p := &parsed{vals: map[string]string{}}
	for _, s := range all {
		if s.def != "" {
			p.vals[s.long] = s.def
		}
	}
	find := func(name string, short bool) (optSpec, bool) {
		for _, s := range all {
			if (short && s.short == name) || (!short && s.long == name) {
				return s, true
			}
		}
		return optSpec{}, false
	}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			p.args = append(p.args, argv[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			p.args = append(p.args, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		s, ok := find(name, !strings.HasPrefix(a, "--"))
		if !ok {
			return nil, fmt.Errorf("unknown option %s", a)
		}
		if !s.value {
			if hasVal {
				return nil, fmt.Errorf("option %s takes no value", a)
			}
			p.vals[s.long] = "true"
			continue
		}
		if !hasVal {
			if i+1 >= len(argv) {
				return nil, fmt.Errorf("option %s needs a value", a)
			}
			i++
			val = argv[i]
		}
		p.vals[s.long] = val
	}
	return p, nil
}

func (p *parsed) flag(name string) bool  { return p.vals[name] == "true" }
func (p *parsed) str(name string) string { return p.vals[name] }

// seconds reads an option given in seconds (Kong's --db-timeout, --lock-timeout, --timeout).
func (p *parsed) seconds(name string) (time.Duration, bool, error) {
	v, ok := p.vals[name]
	if !ok || v == "" {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return 0, false, fmt.Errorf("--%s: %q is not a number of seconds", name, v)
	}
	return time.Duration(f * float64(time.Second)), true, nil
}
