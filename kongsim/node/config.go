package node

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// Value types of kong.conf keys, as conf_loader's CONF_PARSERS converts them; keys not
// listed stay strings.
var (
	arrayKeys = map[string]bool{
		"plugins": true, "headers": true, "headers_upstream": true, "trusted_ips": true,
		"dns_order": true, "dns_resolver": true, "lua_ssl_trusted_certificate": true,
		"ssl_cert": true, "ssl_cert_key": true, "admin_ssl_cert": true, "admin_ssl_cert_key": true,
		"status_ssl_cert": true, "status_ssl_cert_key": true, "client_ssl_cert": true,
	}
	numberKeys = map[string]bool{
		"pg_port": true, "pg_timeout": true, "pg_ro_port": true, "pg_ro_timeout": true,
		"pg_max_concurrent_queries": true, "pg_semaphore_timeout": true, "pg_keepalive_timeout": true,
		"pg_pool_size": true, "pg_backlog": true, "db_update_frequency": true,
		"db_update_propagation": true, "db_cache_ttl": true, "db_cache_neg_ttl": true,
		"db_resurrect_ttl": true, "worker_state_update_frequency": true, "lua_socket_pool_size": true,
		"lua_ssl_verify_depth": true, "dns_stale_ttl": true, "dns_not_found_ttl": true,
		"dns_error_ttl": true, "dns_cache_size": true, "upstream_keepalive_pool_size": true,
		"upstream_keepalive_max_requests": true, "upstream_keepalive_idle_timeout": true,
		"cluster_data_plane_purge_delay": true, "tracing_sampling_rate": true,
	}
	boolKeys = map[string]bool{
		"pg_ssl": true, "pg_ssl_verify": true, "pg_ro_ssl": true, "pg_ro_ssl_verify": true,
		"anonymous_reports": true, "dns_no_sync": true, "allow_debug_header": true,
		"ssl_prefer_server_ciphers": true, "ssl_session_tickets": true,
	}
)

// configuration is GET /'s configuration: the resolved kong.conf with secrets masked,
// typed as Kong types it (lists, numbers, booleans; unset keys absent), with the fields
// conf_loader derives (loaded_plugins, *_listeners, prefix paths).
func (n *node) configuration() map[string]any {
	c := n.cfg.Conf
	out := map[string]any{}
	for k, v := range c.Masked() {
		if v == "" {
			continue
		}
		out[k] = typedValue(k, v)
	}
	loaded := map[string]bool{}
	for _, p := range n.loadedPlugins() {
		loaded[p.name] = true
	}
	out["loaded_plugins"] = loaded
	for _, key := range []string{"proxy", "admin", "status"} {
		out[key+"_listeners"] = listenerObjects(n, key+"_listen")
	}
	p := string(n.cfg.Prefix)
	out["prefix"] = p
	out["kong_env"] = n.cfg.Prefix.KongEnv()
	out["nginx_pid"] = n.cfg.Prefix.PIDFile()
	out["nginx_err_logs"] = n.cfg.Prefix.ErrorLog()
	out["nginx_acc_logs"] = filepath.Join(p, "logs", "access.log")
	out["admin_acc_logs"] = filepath.Join(p, "logs", "admin_access.log")
	out["nginx_conf"] = filepath.Join(p, "nginx.conf")
	out["nginx_kong_conf"] = filepath.Join(p, "nginx-kong.conf")
	return out
}

func typedValue(key, v string) any {
	switch {
	case arrayKeys[key] || strings.HasSuffix(key, "_listen"):
		parts := []string{}
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s)
			}
		}
		return parts
	case numberKeys[key]:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	case boolKeys[key]:
		switch v {
		case "on", "true":
			return true
		case "off", "false":
			return false
		}
	}
	return v
}

// listenerObjects is conf_loader's parsed form of a *_listen value.
func listenerObjects(n *node, key string) []map[string]any {
	out := []map[string]any{}
	ls, err := n.cfg.Conf.Listeners(key)
	if err != nil {
		return out
	}
	for _, l := range ls {
		host, port, _ := net.SplitHostPort(l.Addr)
		p, _ := strconv.Atoi(port)
		obj := map[string]any{
			"ip": host, "port": p, "listener": strings.TrimSpace(l.Addr + " " + strings.Join(l.Flags, " ")),
			"ssl": false, "http2": false, "proxy_protocol": false, "deferred": false, "bind": false, "reuseport": false,
		}
		for _, f := range l.Flags {
			if strings.HasPrefix(f, "backlog=") {
				obj["backlog"] = f
				continue
			}
			obj[f] = true
		}
		out = append(out, obj)
	}
	return out
}

// luaVersion is jit.version of the OpenResty each line bundles.
func luaVersion(v facts.Version) string {
	if v.Less(facts.MustParseVersion("3.6.0")) {
		return "LuaJIT 2.1.0-beta3"
	}
	return "LuaJIT 2.1.0-20231117"
}
