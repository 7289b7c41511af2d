package node

import (
	"slices"
	"strings"

	"github.com/drawbridge/drawbridge/internal/kongsim/facts"
)

// bundledPlugin is a plugin Kong OSS ships (kong/constants.lua BUNDLED_PLUGINS) with its
// handler PRIORITY as of 3.x, and the first version that ships it ("" for 2.8 and older).
type bundledPlugin struct {
	name     string
	priority int
	since    string
}

var bundledPlugins = []bundledPlugin{
	{"pre-function", 1000000, ""},
	{"correlation-id", 100001, ""},
	{"zipkin", 100000, ""},
	{"bot-detection", 2500, ""},
	{"cors", 2000, ""},
	{"session", 1900, ""},
	{"acme", 1705, ""},
	{"jwt", 1450, ""},
	{"oauth2", 1400, ""},
	{"key-auth", 1250, ""},
	{"ldap-auth", 1200, ""},
	{"basic-auth", 1100, ""},
	{"hmac-auth", 1030, ""},
	{"grpc-gateway", 998, ""},
	{"ip-restriction", 990, ""},
	{"request-size-limiting", 951, ""},
	{"acl", 950, ""},
	{"rate-limiting", 910, ""},
	{"response-ratelimiting", 900, ""},
	{"request-transformer", 801, ""},
	{"response-transformer", 800, ""},
	{"redirect", 779, "3.9.0"},
	{"ai-request-transformer", 777, "3.6.0"},
	{"ai-prompt-template", 773, "3.6.0"},
	{"ai-prompt-decorator", 772, "3.6.0"},
	{"ai-prompt-guard", 771, "3.6.0"},
	{"ai-proxy", 770, "3.6.0"},
	{"ai-response-transformer", 768, "3.6.0"},
	{"standard-webhooks", 760, "3.8.0"},
	{"aws-lambda", 750, ""},
	{"azure-functions", 749, ""},
	{"proxy-cache", 100, ""},
	{"opentelemetry", 14, "3.0.0"},
	{"prometheus", 13, ""},
	{"http-log", 12, ""},
	{"statsd", 11, ""},
	{"datadog", 10, ""},
	{"file-log", 9, ""},
	{"udp-log", 8, ""},
	{"tcp-log", 7, ""},
	{"loggly", 6, ""},
	{"syslog", 4, ""},
	{"grpc-web", 3, ""},
	{"request-termination", 2, ""},
	{"post-function", -1000, ""},
}

// loadedPlugins resolves the plugins setting ("bundled", names, "off") for a version, in
// the order of the setting (bundled ones in priority order).
func loadedPlugins(setting string, v facts.Version) []bundledPlugin {
	var out []bundledPlugin
	seen := map[string]bool{}
	add := func(p bundledPlugin) {
		if !seen[p.name] {
			seen[p.name] = true
			out = append(out, p)
		}
	}
	for _, name := range strings.Split(setting, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "", "off":
		case "bundled":
			for _, p := range bundledPlugins {
				if p.since == "" || !v.Less(facts.MustParseVersion(p.since)) {
					add(p)
				}
			}
		default:
			i := slices.IndexFunc(bundledPlugins, func(p bundledPlugin) bool { return p.name == name })
			if i >= 0 {
				add(bundledPlugins[i])
			} else {
				add(bundledPlugin{name: name, priority: 1000}) // a custom plugin
			}
		}
	}
	return out
}

// availableOnServer is GET /'s plugins.available_on_server: {name: {version, priority}}
// from 3.0 (bundled plugins carry Kong's version), {name: true} before.
func availableOnServer(setting string, v facts.Version) map[string]any {
	out := map[string]any{}
	for _, p := range loadedPlugins(setting, v) {
		if v.Major < 3 {
			out[p.name] = true
			continue
		}
		version := v.String()
		if p.since == "" && !slices.ContainsFunc(bundledPlugins, func(b bundledPlugin) bool { return b.name == p.name }) {
			version = "0.1.0"
		}
		out[p.name] = map[string]any{"version": version, "priority": p.priority}
	}
	return out
}
