// Package kconf reads a simulated node's configuration the way Kong's conf_loader does:
// Kong's defaults (kong/templates/kong_defaults.lua), then the kong.conf file given with
// -c (or the first of /etc/kong/kong.conf, /etc/kong.conf), then every KONG_<KEY>
// environment variable, which overrides the file. It also reads and writes the prefix's
// .kong_env, the resolved configuration a running node leaves for stop, quit and health.
package kconf

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// DefaultPaths is Kong's search order when -c is not given (conf_loader/constants.lua).
var DefaultPaths = []string{"/etc/kong/kong.conf", "/etc/kong.conf"}

// Sensitive keys are masked as "******" in the Admin API's configuration.
var Sensitive = []string{
	"pg_password", "pg_ro_password", "proxy_server", "declarative_config_string", "cluster_cert_key",
	"ssl_cert_key", "client_ssl_cert_key", "admin_ssl_cert_key", "admin_gui_ssl_cert_key",
	"status_ssl_cert_key", "debug_ssl_cert_key",
}

// Defaults returns Kong's defaults for the keys kongsim uses, as the given version ships
// them: status_listen is off through 3.5 and 127.0.0.1:8007 from 3.6.
func Defaults(v facts.Version) map[string]string {
	status := "off"
	if !v.Less(facts.MustParseVersion("3.6.0")) {
		status = "127.0.0.1:8007 reuseport backlog=16384"
	}
	return map[string]string{
		"prefix":        "/usr/local/kong/",
		"log_level":     "notice",
		"plugins":       "bundled",
		"role":          "traditional",
		"database":      "postgres",
		"proxy_listen":  "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384",
		"admin_listen":  "127.0.0.1:8001 reuseport backlog=16384, 127.0.0.1:8444 http2 ssl reuseport backlog=16384",
		"status_listen": status,
		"pg_host":       "127.0.0.1",
		"pg_port":       "5432",
		"pg_timeout":    "5000",
		"pg_user":       "kong",
		"pg_password":   "",
		"pg_database":   "kong",
		"pg_schema":     "",
		"pg_ssl":        "off",
		// Hybrid mode (kong_defaults.lua).
		"cluster_listen":                 "0.0.0.0:8005",
		"cluster_control_plane":          "127.0.0.1:8005",
		"cluster_data_plane_purge_delay": "1209600",
		"declarative_config":             "",
	}
}

// Check is conf_loader's validation of what kongsim simulates, with Kong's messages; Kong
// reports the first problem ("Error: <message>"). Roles: a control plane needs admin_listen
// and cluster_listen and a database; a data plane needs proxy_listen and database = off.
func Check(c *Conf) error {
	enum := func(key string, values ...string) error {
		if v := c.Get(key); !slices.Contains(values, v) {
			return fmt.Errorf("%s has an invalid value: '%s' (%s)", key, v, strings.Join(values, ", "))
		}
		return nil
	}
	if err := enum("database", "postgres", "cassandra", "off"); err != nil {
		return err
	}
	if err := enum("role", "data_plane", "control_plane", "traditional"); err != nil {
		return err
	}
	off := func(key string) bool {
		first, _, _ := strings.Cut(c.Get(key), ",")
		first = strings.TrimSpace(first)
		return first == "" || first == "off"
	}
	switch c.Get("role") {
	case "control_plane":
		switch {
		case off("admin_listen"):
			return fmt.Errorf(`admin_listen must be specified when role = "control_plane"`)
		case off("cluster_listen"):
			return fmt.Errorf(`cluster_listen must be specified when role = "control_plane"`)
		case c.Get("database") == "off":
			return fmt.Errorf(`in-memory storage can not be used when role = "control_plane"`)
		}
	case "data_plane":
		switch {
		case off("proxy_listen"):
			return fmt.Errorf(`proxy_listen must be specified when role = "data_plane"`)
		case c.Get("database") != "off":
			return fmt.Errorf("only in-memory storage can be used when role = \"data_plane\"\nHint: set database = off in your kong.conf")
		}
	}
	if c.Get("database") == "cassandra" {
		return fmt.Errorf("kongsim: database = cassandra is not simulated (Kong dropped it in 3.4)")
	}
	return nil
}

// DBLess reports whether the node keeps its configuration in memory (database = off).
func (c *Conf) DBLess() bool { return c.Get("database") == "off" }

// Conf is a resolved configuration: every key with its final value.
type Conf struct {
	Values map[string]string
	Path   string // the file read, or "" when none was found
}

// Load resolves the configuration: defaults for version v, then the file (path, or the
// default paths when path is ""), then KONG_* variables from environ (os.Environ form).
// A -c path that does not exist is an error, as in Kong.
func Load(path string, v facts.Version, environ []string) (*Conf, error) {
	c := &Conf{Values: Defaults(v)}
	if path == "" {
		for _, p := range DefaultPaths {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no file at: %s", path)
	}
	if path != "" {
		kv, err := ReadFile(path)
		if err != nil {
			return nil, err
		}
		for k, val := range kv {
			c.Values[k] = val
		}
		c.Path = path
	}
	for _, e := range environ {
		k, val, ok := strings.Cut(e, "=")
		if !ok || !strings.HasPrefix(k, "KONG_") {
			continue
		}
		c.Values[strings.ToLower(strings.TrimPrefix(k, "KONG_"))] = val
	}
	return c, nil
}

// ReadFile parses a kong.conf: "key = value" lines; "#" starts a comment unless escaped
// as "\#"; blank lines are skipped.
func ReadFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := stripComment(sc.Text())
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not a key = value line", path, n)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, sc.Err()
}

func stripComment(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '#':
			b.WriteByte('#')
			i++
		case line[i] == '#':
			return b.String()
		default:
			b.WriteByte(line[i])
		}
	}
	return b.String()
}

// WriteFile writes values as a kong.conf (sorted keys), as .kong_env is written.
func WriteFile(path string, values map[string]string) error {
	var b strings.Builder
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, strings.ReplaceAll(values[k], "#", `\#`))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Get returns a value ("" when unset).
func (c *Conf) Get(key string) string { return c.Values[key] }

// Prefix returns the prefix directory.
func (c *Conf) Prefix() string { return c.Values["prefix"] }

// PGTimeoutMS returns pg_timeout in milliseconds.
func (c *Conf) PGTimeoutMS() int {
	n, err := strconv.Atoi(c.Values["pg_timeout"])
	if err != nil || n <= 0 {
		return 5000
	}
	return n
}

// DSN returns a pgx connection string for pg_host, pg_port, pg_user, pg_password,
// pg_database (and pg_schema as search_path).
func (c *Conf) DSN() string {
	kv := []string{
		"host=" + quoteDSN(c.Values["pg_host"]),
		"port=" + quoteDSN(c.Values["pg_port"]),
		"user=" + quoteDSN(c.Values["pg_user"]),
		"dbname=" + quoteDSN(c.Values["pg_database"]),
		"sslmode=disable",
	}
	if pw := c.Values["pg_password"]; pw != "" {
		kv = append(kv, "password="+quoteDSN(pw))
	}
	if s := c.Values["pg_schema"]; s != "" {
		kv = append(kv, "search_path="+quoteDSN(s))
	}
	return strings.Join(kv, " ")
}

func quoteDSN(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// Masked returns the configuration as the Admin API shows it, sensitive keys "******".
func (c *Conf) Masked() map[string]string {
	out := make(map[string]string, len(c.Values))
	for k, v := range c.Values {
		if slices.Contains(Sensitive, k) && v != "" {
			v = "******"
		}
		out[k] = v
	}
	return out
}

// Listener is one entry of a *_listen setting.
type Listener struct {
	Addr  string   // host:port
	Flags []string // ssl, http2, reuseport, backlog=…
}

// SSL reports whether the entry serves TLS (kongsim serves only plain HTTP entries).
func (l Listener) SSL() bool { return slices.Contains(l.Flags, "ssl") }

// Listeners parses a *_listen value: "off", or comma-separated "host:port flags…".
func (c *Conf) Listeners(key string) ([]Listener, error) {
	val := strings.TrimSpace(c.Values[key])
	if val == "" || val == "off" {
		return nil, nil
	}
	var out []Listener
	for _, entry := range strings.Split(val, ",") {
		fields := strings.Fields(entry)
		if len(fields) == 0 {
			continue
		}
		if _, _, err := net.SplitHostPort(fields[0]); err != nil {
			return nil, fmt.Errorf("%s: %q is not host:port", key, fields[0])
		}
		out = append(out, Listener{Addr: fields[0], Flags: fields[1:]})
	}
	return out, nil
}

// HTTPAddrs returns the plain-HTTP addresses of a *_listen setting.
func (c *Conf) HTTPAddrs(key string) ([]string, error) {
	ls, err := c.Listeners(key)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range ls {
		if !l.SSL() {
			out = append(out, l.Addr)
		}
	}
	return out, nil
}

// LoadedPlugins is conf_loader's loaded_plugins for a plugins setting: the value split on
// commas and trimmed; "off" as the first item loads nothing (and is skipped elsewhere);
// "bundled" adds every plugin version v bundles; any other name is taken as it is, unchecked
// (kong start finds out whether it is installed). Sorted, without repeats.
func LoadedPlugins(setting string, v facts.Version) []string {
	var items []string
	for _, item := range strings.Split(setting, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	if len(items) == 0 || items[0] == "off" {
		return nil
	}
	set := map[string]bool{}
	for _, item := range items {
		switch item {
		case "off":
		case "bundled":
			for _, p := range facts.Default().Bundled(v) {
				set[p.Name] = true
			}
		default:
			set[item] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
