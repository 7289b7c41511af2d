package node

import (
	"bytes"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/drawbridge/drawbridge/kongsim/traffic"
)

// exposition is a Prometheus text exposition (format 0.0.4) written as Kong's
// nginx-lua-prometheus writes it: families sorted by name, each with # HELP and # TYPE,
// labels in the order the metric declares them, le without padding.
type exposition struct {
	families map[string]*family
}

type family struct {
	name, typ, help string
	samples         []sample
	index           map[string]int // series key → position in samples, to merge duplicates
}

type sample struct {
	name   string
	labels []label
	value  float64
}

type label struct{ name, value string }

func newExposition() *exposition { return &exposition{families: map[string]*family{}} }

// family returns the family, creating it on first use. A family with no samples is not
// written, as Kong prints a metric only once it has a value.
func (e *exposition) family(name, typ, help string) *family {
	f := e.families[name]
	if f == nil {
		f = &family{name: name, typ: typ, help: help, index: map[string]int{}}
		e.families[name] = f
	}
	return f
}

// add adds v to the sample name+suffix with these labels (label pairs: name, value, …).
func (f *family) add(suffix string, v float64, kv ...string) {
	ls := make([]label, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, label{kv[i], kv[i+1]})
	}
	f.addLabels(f.name+suffix, ls, v)
}

func (f *family) addLabels(name string, ls []label, v float64) {
	key := name + "{" + formatLabels(ls) + "}"
	if i, ok := f.index[key]; ok {
		f.samples[i].value += v
		return
	}
	f.index[key] = len(f.samples)
	f.samples = append(f.samples, sample{name: name, labels: ls, value: v})
}

// histogram adds a histogram's _bucket (one per bound and +Inf), _count and _sum samples.
func (f *family) histogram(h traffic.Histogram, kv ...string) {
	ls := make([]label, 0, len(kv)/2+1)
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, label{kv[i], kv[i+1]})
	}
	for i, b := range h.Bounds {
		f.addLabels(f.name+"_bucket", append(ls[:len(ls):len(ls)], label{"le", formatValue(b)}), float64(h.Counts[i]))
	}
	f.addLabels(f.name+"_bucket", append(ls[:len(ls):len(ls)], label{"le", "+Inf"}), float64(h.Count))
	f.addLabels(f.name+"_count", ls, float64(h.Count))
	f.addLabels(f.name+"_sum", ls, h.Sum)
}

// bytes renders the exposition.
func (e *exposition) bytes() []byte {
	names := make([]string, 0, len(e.families))
	for n, f := range e.families {
		if len(f.samples) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		f := e.families[n]
		b.WriteString("# HELP " + f.name + " " + escapeHelp(f.help) + "\n")
		b.WriteString("# TYPE " + f.name + " " + f.typ + "\n")
		for _, s := range f.samples {
			b.WriteString(s.name)
			if len(s.labels) > 0 {
				b.WriteString("{" + formatLabels(s.labels) + "}")
			}
			b.WriteString(" " + formatValue(s.value) + "\n")
		}
	}
	return b.Bytes()
}

func formatLabels(ls []label) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.name + `="` + escapeLabel(l.value) + `"`
	}
	return strings.Join(parts, ",")
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

// formatValue prints whole numbers without exponent or decimals, others in shortest form.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
