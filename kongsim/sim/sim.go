// Package sim holds a simulated node's run-time switches: the synthetic traffic its
// Prometheus metrics describe, and the faults tests flip mid-run. They live in the
// prefix's .kongsim/sim.json; the node re-reads the file when it changes and the CLI reads
// it on every command, so a test changes behaviour by writing the file (kongsim fault,
// kongsim traffic) while everything runs.
package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// File is the content of .kongsim/sim.json.
type File struct {
	Traffic Traffic `json:"traffic"`
	Faults  Faults  `json:"faults"`
}

// Traffic describes the synthetic load one node reports in its metrics.
type Traffic struct {
	RPS        float64 `json:"rps"`         // requests per second through this node
	ErrorRatio float64 `json:"error_ratio"` // fraction answered 5xx
	P50Ms      float64 `json:"p50_ms"`      // median request latency, ms
	P99Ms      float64 `json:"p99_ms"`      // 99th percentile request latency, ms
	Seed       int64   `json:"seed"`        // latency sampling seed; 0: random
}

// DefaultTraffic is a quiet, healthy gateway.
var DefaultTraffic = Traffic{RPS: 50, ErrorRatio: 0.002, P50Ms: 20, P99Ms: 120}

// Faults are the failures a test can switch on. The zero value is a healthy node.
type Faults struct {
	// BadRelease makes a version misbehave once it runs: its own error ratio and latency.
	BadRelease *BadRelease `json:"bad_release,omitempty"`
	// StartFail makes "kong start" fail with this message.
	StartFail string `json:"start_fail,omitempty"`
	// StartDelay makes "kong start" take this long before the node serves (e.g. "5s").
	StartDelay Duration `json:"start_delay,omitempty"`
	// MigrationFail makes "kong migrations up" fail at this migration: "name" (core) or
	// "subsystem:name". Earlier migrations of the run stay recorded, as in Kong.
	MigrationFail string `json:"migration_fail,omitempty"`
	// FinishFail makes "kong migrations finish" fail in this migration's teardown: "name"
	// (core) or "subsystem:name". Earlier teardowns of the run stay executed; this one and
	// later ones stay pending, as in Kong.
	FinishFail string `json:"finish_fail,omitempty"`
	// MigrationDelay makes migrations take real time in the database (a pg_sleep inside
	// the migration's own transaction, so pg_timeout and --db-timeout apply to it as to a
	// slow statement): "5s" for every migration up and finish run, or
	// "subsystem:name=5s[,subsystem:name=2s…]" for some ("name" alone is core's).
	MigrationDelay string `json:"migration_delay,omitempty"`
	// LockRace makes another node take Kong's migrations lock for this long just before
	// this node's "kong migrations up" or "finish" asks for it (two people, or two tools,
	// at once). As in Kong, up waits for the lock to go and then ends without doing
	// anything, printing "aborted: another node is performing database changes" and
	// exiting 0; finish does not wait, and says so at once.
	LockRace Duration `json:"lock_race,omitempty"`
	// IgnoreStop makes the node ignore SIGTERM ("kong stop") until a SIGQUIT ("kong quit")
	// has been received; quit's --timeout then ends it.
	IgnoreStop bool `json:"ignore_stop,omitempty"`
	// AdminHang makes every Admin API request hang until the client gives up.
	AdminHang bool `json:"admin_hang,omitempty"`
	// DBUnreachable makes the node's database probe fail: /status shows
	// database.reachable false, /status/ready 503, kong_datastore_reachable 0.
	DBUnreachable bool `json:"db_unreachable,omitempty"`
}

// BadRelease is the "bad release" fault: version Version serves errors and latency.
type BadRelease struct {
	// Version is the bad version, or "!X.Y.Z": every version but that one (the demo's
	// switch: whatever the next upgrade installs is bad).
	Version    string  `json:"version"`
	ErrorRatio float64 `json:"error_ratio"`
	P99Ms      float64 `json:"p99_ms,omitempty"` // 0: unchanged
}

// Duration is a time.Duration written as "5s" in JSON.
type Duration time.Duration

// MarshalJSON writes "5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "5s" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration: want \"5s\" or seconds")
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// Path returns the sim file's path in a prefix directory.
func Path(prefixDir string) string { return filepath.Join(prefixDir, ".kongsim", "sim.json") }

// Load reads the sim file of a prefix. A missing file is the default: DefaultTraffic and
// no faults. Zero traffic fields take their defaults too.
func Load(prefixDir string) (File, error) {
	f := File{}
	b, err := os.ReadFile(Path(prefixDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &f); err != nil {
			return f, fmt.Errorf("%s: %w", Path(prefixDir), err)
		}
	}
	f.Traffic = f.Traffic.withDefaults()
	return f, nil
}

func (t Traffic) withDefaults() Traffic {
	if t.RPS == 0 {
		t.RPS = DefaultTraffic.RPS
	}
	if t.ErrorRatio == 0 {
		t.ErrorRatio = DefaultTraffic.ErrorRatio
	}
	if t.P50Ms == 0 {
		t.P50Ms = DefaultTraffic.P50Ms
	}
	if t.P99Ms == 0 {
		t.P99Ms = DefaultTraffic.P99Ms
	}
	return t
}

// Save writes the sim file atomically.
func Save(prefixDir string, f File) error {
	if err := os.MkdirAll(filepath.Dir(Path(prefixDir)), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp := Path(prefixDir) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, Path(prefixDir))
}

// Update loads, changes and saves the sim file.
func Update(prefixDir string, fn func(*File) error) error {
	f, err := Load(prefixDir)
	if err != nil {
		return err
	}
	if err := fn(&f); err != nil {
		return err
	}
	return Save(prefixDir, f)
}

// Watch calls fn with the file's content now and whenever it changes, checking every
// interval, until ctx ends. A file that fails to parse is reported through onErr and
// the previous content stays in force.
func Watch(ctx context.Context, prefixDir string, interval time.Duration, fn func(File), onErr func(error)) {
	var last time.Time
	var lastSize int64 = -1
	check := func() {
		st, err := os.Stat(Path(prefixDir))
		var mt time.Time
		var size int64
		if err == nil {
			mt, size = st.ModTime(), st.Size()
		}
		if mt.Equal(last) && size == lastSize {
			return
		}
		f, err := Load(prefixDir)
		if err != nil {
			if onErr != nil {
				onErr(err)
			}
			return
		}
		last, lastSize = mt, size
		fn(f)
	}
	check()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}

// Set applies "key=value" assignments to f, with keys named by their JSON paths:
// traffic.rps=100, faults.ignore_stop=true, faults.bad_release.version=3.5.0,
// faults.start_delay=5s. An empty value clears the key.
func Set(f *File, assignments []string) error {
	for _, a := range assignments {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("%q: want key=value (keys: %s)", a, strings.Join(Keys(), ", "))
		}
		if err := set(reflect.ValueOf(f).Elem(), strings.Split(k, "."), v); err != nil {
			return fmt.Errorf("%s: %w (keys: %s)", k, err, strings.Join(Keys(), ", "))
		}
	}
	return nil
}

func set(rv reflect.Value, path []string, val string) error {
	if len(path) == 0 && val == "" {
		rv.Set(reflect.Zero(rv.Type())) // clears a whole fault, e.g. faults.bad_release=
		return nil
	}
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			if val == "" {
				return nil
			}
			rv.Set(reflect.New(rv.Type().Elem()))
		}
		rv = rv.Elem()
	}
	if len(path) == 0 {
		return setScalar(rv, val)
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("unknown key")
	}
	for i := range rv.NumField() {
		if jsonName(rv.Type().Field(i)) == path[0] {
			return set(rv.Field(i), path[1:], val)
		}
	}
	return fmt.Errorf("unknown key")
}

func setScalar(rv reflect.Value, val string) error {
	if val == "" {
		rv.Set(reflect.Zero(rv.Type()))
		return nil
	}
	if rv.Type() == reflect.TypeFor[Duration]() {
		d, err := time.ParseDuration(val)
		if err != nil {
			return err
		}
		rv.SetInt(int64(d))
		return nil
	}
	switch rv.Kind() {
	case reflect.String:
		rv.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return err
		}
		rv.SetBool(b)
	case reflect.Float64:
		x, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return err
		}
		rv.SetFloat(x)
	case reflect.Int64:
		x, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return err
		}
		rv.SetInt(x)
	default:
		return fmt.Errorf("not a settable value")
	}
	return nil
}

func jsonName(f reflect.StructField) string {
	return strings.Split(f.Tag.Get("json"), ",")[0]
}

// Keys lists every settable key.
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name := prefix + jsonName(f)
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, name+".")
				continue
			}
			out = append(out, name)
		}
	}
	walk(reflect.TypeFor[File](), "")
	sort.Strings(out)
	return out
}

// Applies reports whether the fault makes version v misbehave.
func (b *BadRelease) Applies(v facts.Version) bool {
	if b == nil {
		return false
	}
	if but, ok := strings.CutPrefix(b.Version, "!"); ok {
		good, err := facts.ParseVersion(but)
		return err == nil && good != v
	}
	bad, err := facts.ParseVersion(b.Version)
	return err == nil && bad == v
}

// DelayFor is how long MigrationDelay makes migration subsystem:name take.
func (f Faults) DelayFor(subsystem, name string) (time.Duration, error) {
	spec := strings.TrimSpace(f.MigrationDelay)
	if spec == "" {
		return 0, nil
	}
	if !strings.Contains(spec, "=") {
		d, err := time.ParseDuration(spec)
		if err != nil {
			return 0, fmt.Errorf("faults.migration_delay %q: want a duration (5s) or subsystem:name=duration[,…]", spec)
		}
		return d, nil
	}
	for _, part := range strings.Split(spec, ",") {
		who, dur, ok := strings.Cut(strings.TrimSpace(part), "=")
		d, err := time.ParseDuration(dur)
		if !ok || err != nil {
			return 0, fmt.Errorf("faults.migration_delay %q: want subsystem:name=duration[,…]", spec)
		}
		sub, n, ok := strings.Cut(who, ":")
		if !ok {
			sub, n = "core", who
		}
		if sub == subsystem && n == name {
			return d, nil
		}
	}
	return 0, nil
}
