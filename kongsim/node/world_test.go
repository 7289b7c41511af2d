package node

import (
	"testing"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/traffic"
)

func TestApplicablePluginPrecedence(t *testing.T) {
	route := routeRow{id: "r1", serviceID: "s1", name: "r", service: "s"}
	global := pluginRow{name: "global"}
	service := pluginRow{name: "service", serviceID: "s1"}
	onRoute := pluginRow{name: "route", routeID: "r1"}
	both := pluginRow{name: "route+service", routeID: "r1", serviceID: "s1"}
	otherRoute := pluginRow{name: "other route", routeID: "r2"}
	consumer := pluginRow{name: "consumer", consumerID: "c1"}
	for _, tc := range []struct {
		name    string
		plugins []pluginRow
		want    string // "" = none applies
	}{
		{"none", nil, ""},
		{"global", []pluginRow{global}, "global"},
		{"service beats global", []pluginRow{global, service}, "service"},
		{"route beats service", []pluginRow{service, onRoute, global}, "route"},
		{"route and service beat route", []pluginRow{onRoute, both}, "route+service"},
		{"another route's does not apply", []pluginRow{otherRoute}, ""},
		{"consumer-scoped is not applied to routes", []pluginRow{consumer}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := applicable(tc.plugins, route)
			if got := map[bool]string{true: p.name, false: ""}[ok]; got != tc.want {
				t.Errorf("applicable = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBuildWorld(t *testing.T) {
	v3 := facts.MustParseVersion("3.4.2")
	e := entities{
		routes:    []routeRow{{id: "r1", name: "a", serviceID: "s1", service: "svc"}, {id: "r2", serviceID: "s1", service: "svc"}},
		consumers: []string{"alice", "bob"},
		plugins: []pluginRow{
			{name: "prometheus", enabled: true, config: map[string]any{"latency_metrics": true}},
			{name: "prometheus", enabled: false, routeID: "r1", config: map[string]any{"status_code_metrics": true}},
			{name: "prometheus", enabled: true, consumerID: "c", config: map[string]any{"upstream_health_metrics": true}},
		},
	}
	w := buildWorld(e, v3)
	want := []traffic.Route{{Service: "svc", Route: "a", Consumer: "alice"}, {Service: "svc", Route: "r2", Consumer: "bob"}}
	if len(w.routes) != 2 || w.routes[0] != want[0] || w.routes[1] != want[1] {
		t.Errorf("routes %v, want %v (a route without a name is labelled with its id)", w.routes, want)
	}
	if c := w.conf[want[0]]; !c.latency || c.statusCode {
		t.Errorf("route a: %+v, want the global plugin's flags (the route's plugin is disabled)", c)
	}
	if !w.upstreamHealth {
		t.Error("upstream_health_metrics of any enabled instance turns target health on")
	}
	if len(w.targets) != 0 {
		t.Errorf("no upstreams in the database, yet targets %v: Kong exports no target health then", w.targets)
	}
	// 2.8: every family is on whatever the config says.
	if c := buildWorld(e, facts.MustParseVersion("2.8.5")).conf[want[0]]; !c.statusCode || !c.bandwidth || !c.latency {
		t.Errorf("2.8 flags %+v, want all on", c)
	}
	// No routes in the database: the built-in ones, with the global plugin.
	if w := buildWorld(entities{plugins: e.plugins}, v3); len(w.routes) != len(builtinRoutes) || !w.conf[w.routes[0]].latency {
		t.Errorf("empty database: routes %v conf %v", w.routes, w.conf)
	}
}

func TestTargetAddress(t *testing.T) {
	for _, tc := range []struct{ target, normalised, address string }{
		{"10.1.0.5:8080", "10.1.0.5:8080", "10.1.0.5:8080"},
		{"10.1.0.5", "10.1.0.5:8000", "10.1.0.5:8000"},
		{"[::1]:81", "[::1]:81", "[::1]:81"},
	} {
		n, a := targetAddress(tc.target)
		if n != tc.normalised || a != tc.address {
			t.Errorf("targetAddress(%q) = %q, %q; want %q, %q", tc.target, n, a, tc.normalised, tc.address)
		}
	}
	n1, a1 := targetAddress("api.internal:8080")
	_, a2 := targetAddress("api.internal:8080")
	if n1 != "api.internal:8080" || a1 != a2 || a1 == "" {
		t.Errorf("host name target: %q %q %q", n1, a1, a2)
	}
}

func TestHealthchecksOn(t *testing.T) {
	for js, want := range map[string]bool{
		"": false,
		`{"active": {"healthy": {"interval": 0}, "unhealthy": {"interval": 0}}}`: false,
		`{"active": {"healthy": {"interval": 5}}}`:                               true,
		`{"passive": {"unhealthy": {"http_failures": 3}}}`:                       true,
		`not json`: false,
	} {
		if got := healthchecksOn(js); got != want {
			t.Errorf("healthchecksOn(%s) = %v, want %v", js, got, want)
		}
	}
}
