package node

import (
	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/traffic"
)

// promConf is what an enabled prometheus plugin instance asks the exporter for.
type promConf struct {
	statusCode, latency, bandwidth, upstreamHealth, perConsumer bool
}

// flags reads a prometheus plugin's config as the node's version does: in 2.8 status,
// latency, bandwidth and upstream health are always on (only per_consumer is a field);
// from 3.0 each has its flag, default false.
func flags(config map[string]any, v facts.Version) promConf {
	on := func(key string) bool { b, _ := config[key].(bool); return b }
	if v.Major < 3 {
		return promConf{statusCode: true, latency: true, bandwidth: true, upstreamHealth: true, perConsumer: on("per_consumer")}
	}
	return promConf{
		statusCode:     on("status_code_metrics"),
		latency:        on("latency_metrics"),
		bandwidth:      on("bandwidth_metrics"),
		upstreamHealth: on("upstream_health_metrics"),
		perConsumer:    on("per_consumer"),
	}
}

// world is what the node serves traffic for: routes with the prometheus plugin instance
// that applies to each, upstream targets, plugin names. It is replaced whole on refresh.
type world struct {
	fromDB         bool
	routes         []traffic.Route
	conf           map[traffic.Route]promConf // routes an enabled prometheus plugin applies to
	upstreamHealth bool                       // some enabled prometheus plugin exports target health
	targets        []targetRow
	pluginNames    []string // plugins configured in the cluster (enabled_in_cluster)
}

// The built-in entities stand in when the database cannot be read or has none.
var (
	builtinRoutes = []routeRow{
		{name: "orders-api", service: "orders"},
		{name: "orders-admin", service: "orders"},
		{name: "users-api", service: "users"},
	}
	builtinTargets = []targetRow{
		{upstream: "orders.upstream", target: "10.0.0.11:8080"},
		{upstream: "orders.upstream", target: "10.0.0.12:8080"},
	}
)

// fallbackWorld is served before the database has ever been read: the built-in routes and
// targets with a global prometheus plugin that has every flag on (but per_consumer).
func fallbackWorld(v facts.Version) *world {
	all := promConf{statusCode: true, latency: true, bandwidth: true, upstreamHealth: true}
	w := &world{conf: map[traffic.Route]promConf{}, upstreamHealth: true, targets: builtinTargets, pluginNames: []string{"prometheus"}}
	for _, r := range builtinRoutes {
		tr := traffic.Route{Service: r.service, Route: r.name}
		w.routes = append(w.routes, tr)
		w.conf[tr] = all
	}
	return w
}

// buildWorld resolves what the database says: for each route the most specific enabled
// prometheus plugin (route and service, then route, then service, then global; instances
// scoped to a consumer are not applied to routes). Consumers, when there are any, are
// spread over the routes round-robin.
func buildWorld(e entities, v facts.Version) *world {
	// No upstream targets in the database: no kong_upstream_target_health, as in Kong.
	w := &world{fromDB: true, conf: map[traffic.Route]promConf{}, targets: e.targets, pluginNames: e.pluginNames}
	var prom []pluginRow
	for _, p := range e.plugins {
		if p.name == "prometheus" && p.enabled {
			prom = append(prom, p)
			w.upstreamHealth = w.upstreamHealth || flags(p.config, v).upstreamHealth
		}
	}
	rows := e.routes
	if len(rows) == 0 {
		rows = builtinRoutes
	}
	for i, r := range rows {
		tr := traffic.Route{Service: r.service, Route: r.name}
		if tr.Route == "" {
			tr.Route = r.id
		}
		if len(e.consumers) > 0 {
			tr.Consumer = e.consumers[i%len(e.consumers)]
		}
		w.routes = append(w.routes, tr)
		if p, ok := applicable(prom, r); ok {
			w.conf[tr] = flags(p.config, v)
		}
	}
	return w
}

// applicable is the most specific plugin instance for a route.
func applicable(plugins []pluginRow, r routeRow) (pluginRow, bool) {
	best, bestScore := pluginRow{}, -1
	for _, p := range plugins {
		if p.consumerID != "" {
			continue
		}
		score := -1
		switch {
		case p.routeID != "" && p.serviceID != "":
			if p.routeID == r.id && p.serviceID == r.serviceID {
				score = 3
			}
		case p.routeID != "":
			if p.routeID == r.id {
				score = 2
			}
		case p.serviceID != "":
			if p.serviceID == r.serviceID {
				score = 1
			}
		default:
			score = 0
		}
		if score > bestScore {
			best, bestScore = p, score
		}
	}
	return best, bestScore >= 0
}

// inherit keeps the plugin configuration of routes that are gone, so their series (which
// Kong keeps exporting until a restart) keep their labels.
func (w *world) inherit(old *world) {
	if old == nil {
		return
	}
	for r, c := range old.conf {
		if _, ok := w.conf[r]; !ok && !w.has(r) {
			w.conf[r] = c
		}
	}
}

func (w *world) has(r traffic.Route) bool {
	for _, x := range w.routes {
		if x == r {
			return true
		}
	}
	return false
}
