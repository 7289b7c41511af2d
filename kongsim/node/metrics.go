package node

import (
	"context"
	"hash/fnv"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/traffic"
)

// Histogram buckets of the Prometheus plugin (kong/plugins/prometheus/exporter.lua).
var (
	// 3.x kong_kong_latency_ms; 3.8.1 added 3000 and 6000 (exporter.lua@3.8.1).
	kongLatencyBuckets    = []float64{1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000}
	kongLatencyBuckets3_0 = kongLatencyBuckets[:15]
	// 3.x kong_upstream_latency_ms and kong_request_latency_ms.
	upstreamLatencyBuckets = []float64{25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000}
	// 2.8 kong_latency, for every type.
	legacyLatencyBuckets = []float64{1, 2, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400,
		500, 1000, 2000, 5000, 10000, 30000, 60000}
)

var (
	v3_7 = facts.MustParseVersion("3.7.0")
)

// latencyBuckets are the request (and upstream) and Kong latency buckets of a version.
func latencyBuckets(v facts.Version) (request, kong []float64) {
	switch {
	case v.Major < 3:
		return legacyLatencyBuckets, legacyLatencyBuckets
	case !v.AtLeast("3.8.1"):
		return upstreamLatencyBuckets, kongLatencyBuckets3_0
	}
	return upstreamLatencyBuckets, kongLatencyBuckets
}

const metricsContentType = "text/plain; charset=UTF-8"

// serveMetrics is GET /metrics on the Admin and Status APIs.
func (n *node) serveMetrics(w http.ResponseWriter, r *http.Request) {
	body := n.metrics(r.Context())
	w.Header().Set("Content-Type", metricsContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// metrics renders the exposition of the node's version.
func (n *node) metrics(ctx context.Context) []byte {
	snap := n.gen.Snapshot(time.Now())
	w := n.world.Load()
	e := newExposition()
	reachable := 1.0 // DB-less: the off connector always connects
	if n.db != nil && n.probeDB(ctx) != nil {
		reachable = 0
	}
	e.family("kong_datastore_reachable", "gauge", "Datastore reachable from Kong, 0 is unreachable").add("", reachable)
	if n.controlPlane() && n.db != nil {
		n.dataPlaneMetrics(ctx, e)
	}
	e.family("kong_nginx_metric_errors_total", "counter", "Number of nginx-lua-prometheus errors").add("", 0)
	if n.cfg.Version.Major < 3 {
		n.legacyMetrics(e, snap, w)
	} else {
		n.currentMetrics(e, snap, w)
	}
	return e.bytes()
}

// currentMetrics are the 3.x families.
func (n *node) currentMetrics(e *exposition, snap traffic.Snapshot, w *world) {
	id := n.cfg.NodeID
	conns := e.family("kong_nginx_connections_total", "gauge", "Number of connections by subsystem")
	for _, c := range connectionStates(snap.Connections, snap.Requests) {
		conns.add("", c.value, "node_id", id, "subsystem", "http", "state", c.state)
	}
	e.family("kong_nginx_requests_total", "gauge", "Number of requests total").
		add("", float64(snap.Requests), "node_id", id, "subsystem", "http")
	running, pending := n.timers(snap)
	timers := e.family("kong_nginx_timers", "gauge", "Number of nginx timers")
	timers.add("", float64(running), "state", "running")
	timers.add("", float64(pending), "state", "pending")
	e.family("kong_node_info", "gauge", "Kong Node metadata information").
		add("", 1, "node_id", id, "version", n.cfg.Version.String())
	mem := n.memory(snap)
	for _, d := range mem.dicts {
		e.family("kong_memory_lua_shared_dict_bytes", "gauge", "Allocated slabs in bytes in a shared_dict").
			add("", float64(d.allocated), "node_id", id, "shared_dict", d.name, "kong_subsystem", "http")
		e.family("kong_memory_lua_shared_dict_total_bytes", "gauge", "Total capacity in bytes of a shared_dict").
			add("", float64(d.capacity), "node_id", id, "shared_dict", d.name, "kong_subsystem", "http")
	}
	for _, wk := range mem.workers {
		e.family("kong_memory_workers_lua_vms_bytes", "gauge", "Allocated bytes in worker Lua VM").
			add("", float64(wk.bytes), "node_id", id, "pid", strconv.Itoa(wk.pid), "kong_subsystem", "http")
	}

	withWS := !n.cfg.Version.Less(v3_7)
	ws := func(kv ...string) []string {
		if withWS {
			return append(kv, "workspace", "default")
		}
		return kv
	}
	for _, s := range snap.Series {
		c, ok := w.conf[s.Route]
		if !ok || s.RequestLatency.Count == 0 || n.controlPlane() { // a control plane proxies nothing
			continue
		}
		consumer := ""
		if c.perConsumer {
			consumer = s.Consumer
		}
		if c.statusCode {
			f := e.family("kong_http_requests_total", "counter", "HTTP status codes per consumer/service/route in Kong")
			for _, cc := range s.Codes {
				f.add("", float64(cc.Count), append(ws("service", s.Service, "route", s.Route.Route,
					"code", strconv.Itoa(cc.Code), "source", cc.Source), "consumer", consumer)...)
			}
		}
		if c.latency {
			e.family("kong_kong_latency_ms", "histogram", "Latency added by Kong and enabled plugins for each service/route in Kong").
				histogram(s.KongLatency, ws("service", s.Service, "route", s.Route.Route)...)
			if s.UpstreamLatency.Count > 0 {
				e.family("kong_upstream_latency_ms", "histogram", "Latency added by upstream response for each service/route in Kong").
					histogram(s.UpstreamLatency, ws("service", s.Service, "route", s.Route.Route)...)
			}
			e.family("kong_request_latency_ms", "histogram", "Total latency incurred during requests for each service/route in Kong").
				histogram(s.RequestLatency, ws("service", s.Service, "route", s.Route.Route)...)
		}
		if c.bandwidth {
			f := e.family("kong_bandwidth_bytes", "counter", "Total bandwidth (ingress/egress) throughput in bytes")
			f.add("", float64(s.IngressBytes), append(ws("service", s.Service, "route", s.Route.Route, "direction", "ingress"), "consumer", consumer)...)
			f.add("", float64(s.EgressBytes), append(ws("service", s.Service, "route", s.Route.Route, "direction", "egress"), "consumer", consumer)...)
		}
	}
	if w.upstreamHealth && n.cfg.Conf.Get("role") != "control_plane" {
		n.targetHealth(e, w)
	}
}

// legacyMetrics are the 2.8 families: on whenever a prometheus plugin applies.
func (n *node) legacyMetrics(e *exposition, snap traffic.Snapshot, w *world) {
	conns := e.family("kong_nginx_http_current_connections", "gauge", "Number of HTTP connections")
	for _, c := range connectionStates(snap.Connections, snap.Requests) {
		conns.add("", c.value, "state", c.state)
	}
	mem := n.memory(snap)
	for _, d := range mem.dicts {
		e.family("kong_memory_lua_shared_dict_bytes", "gauge", "Allocated slabs in bytes in a shared_dict").
			add("", float64(d.allocated), "shared_dict", d.name, "kong_subsystem", "http")
		e.family("kong_memory_lua_shared_dict_total_bytes", "gauge", "Total capacity in bytes of a shared_dict").
			add("", float64(d.capacity), "shared_dict", d.name, "kong_subsystem", "http")
	}
	for _, wk := range mem.workers {
		e.family("kong_memory_workers_lua_vms_bytes", "gauge", "Allocated bytes in worker Lua VM").
			add("", float64(wk.bytes), "pid", strconv.Itoa(wk.pid), "kong_subsystem", "http")
	}
	for _, s := range snap.Series {
		c, ok := w.conf[s.Route]
		if !ok || s.RequestLatency.Count == 0 || n.controlPlane() {
			continue
		}
		status := e.family("kong_http_status", "counter", "HTTP status codes per service/route in Kong")
		for _, cc := range s.Codes {
			status.add("", float64(cc.Count), "service", s.Service, "route", s.Route.Route, "code", strconv.Itoa(cc.Code))
			if c.perConsumer && s.Consumer != "" {
				e.family("kong_http_consumer_status", "counter", "HTTP status codes for customer per service/route in Kong").
					add("", float64(cc.Count), "service", s.Service, "route", s.Route.Route, "code", strconv.Itoa(cc.Code), "consumer", s.Consumer)
			}
		}
		lat := e.family("kong_latency", "histogram", "Latency added by Kong, total request time and upstream latency for each service/route in Kong")
		lat.histogram(s.KongLatency, "service", s.Service, "route", s.Route.Route, "type", "kong")
		if s.UpstreamLatency.Count > 0 {
			lat.histogram(s.UpstreamLatency, "service", s.Service, "route", s.Route.Route, "type", "upstream")
		}
		lat.histogram(s.RequestLatency, "service", s.Service, "route", s.Route.Route, "type", "request")
		bw := e.family("kong_bandwidth", "counter", "Total bandwidth in bytes consumed per service/route in Kong")
		bw.add("", float64(s.IngressBytes), "service", s.Service, "route", s.Route.Route, "type", "ingress")
		bw.add("", float64(s.EgressBytes), "service", s.Service, "route", s.Route.Route, "type", "egress")
	}
	if w.upstreamHealth && !n.controlPlane() {
		n.targetHealth(e, w)
	}
}

// targetHealth is kong_upstream_target_health: one series per state, 1 for the current one.
func (n *node) targetHealth(e *exposition, w *world) {
	f := e.family("kong_upstream_target_health", "gauge",
		"Health status of targets of upstream. States = healthchecks_off|healthy|unhealthy|dns_error, value is 1 when state is populated.")
	for _, t := range w.targets {
		current := "healthchecks_off"
		if t.healthchecks {
			current = "healthy"
		}
		target, address := targetAddress(t.target)
		for _, state := range []string{"healthchecks_off", "healthy", "unhealthy", "dns_error"} {
			v := 0.0
			if state == current {
				v = 1
			}
			f.add("", v, "upstream", t.upstream, "target", target, "address", address, "state", state, "subsystem", "http")
		}
	}
}

type connState struct {
	state string
	value float64
}

// connectionStates are nginx's stub_status values, in the exporter's order.
func connectionStates(c traffic.Connections, requests uint64) []connState {
	return []connState{
		{"accepted", float64(c.Accepted)},
		{"active", float64(c.Active)},
		{"handled", float64(c.Handled)},
		{"reading", float64(c.Reading)},
		{"total", float64(requests)},
		{"waiting", float64(c.Waiting)},
		{"writing", float64(c.Writing)},
	}
}

// targetAddress normalises a target as Kong stores it (host:port, port 8000 by default)
// and gives the address it resolves to: the target itself for an IP, a stable private
// address for a host name (kongsim resolves no names).
func targetAddress(target string) (normalised, address string) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		host, port = strings.Trim(target, "[]"), "8000"
	}
	normalised = net.JoinHostPort(host, port)
	if net.ParseIP(host) != nil {
		return normalised, normalised
	}
	h := fnv.New32a()
	h.Write([]byte(host))
	s := h.Sum32()
	ip := net.IPv4(10, byte(s>>16), byte(s>>8), byte(s)|1)
	return normalised, net.JoinHostPort(ip.String(), port)
}
