package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

var v3_6 = facts.MustParseVersion("3.6.0")

// route is one path of an API with its handlers by method.
type route struct {
	path    string
	methods map[string]http.HandlerFunc
}

// router answers as Kong's Admin API does: 404 {"message":"Not found"} for an unknown
// path, 405 {"message":"Method not allowed"} for a known one with another method.
func (n *node) router(routes []route) http.Handler {
	byPath := map[string]route{}
	for _, r := range routes {
		byPath[r.path] = r
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "kong/"+n.cfg.Version.String())
		rt, ok := byPath[r.URL.Path]
		if !ok {
			writeJSON(w, r, http.StatusNotFound, message("Not found"))
			return
		}
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		h, ok := rt.methods[method]
		if !ok {
			writeJSON(w, r, http.StatusMethodNotAllowed, message("Method not allowed"))
			return
		}
		h(w, r)
	})
}

// adminHandler is the Admin API: GET /, /status and /metrics.
func (n *node) adminHandler() http.Handler {
	routes := append([]route{
		{"/", map[string]http.HandlerFunc{http.MethodGet: n.serveRoot}},
		{"/status", map[string]http.HandlerFunc{http.MethodGet: n.serveStatus}},
	}, n.metricsRoute()...)
	if n.controlPlane() {
		routes = append(routes, route{"/clustering/data-planes", map[string]http.HandlerFunc{http.MethodGet: n.serveDataPlanes}})
	}
	if n.db == nil {
		// DB-less: writes to the entity collections are refused as Kong's off strategy does.
		for _, entity := range []string{"services", "routes", "consumers", "plugins", "upstreams", "targets", "certificates", "snis", "ca_certificates", "vaults"} {
			write := func(w http.ResponseWriter, r *http.Request) { dblessWrite(w, r, entity) }
			routes = append(routes, route{"/" + entity, map[string]http.HandlerFunc{http.MethodPost: write, http.MethodPut: write, http.MethodPatch: write, http.MethodDelete: write}})
		}
	}
	h := n.router(routes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.currentFaults().AdminHang {
			// Hang until the client gives up or the node stops at once (fault admin_hang).
			n.log.Debug(fmt.Sprintf("admin_hang: holding %s %s", r.Method, r.URL.Path))
			<-r.Context().Done()
			return
		}
		w.Header().Set("X-Kong-Admin-Latency", "0")
		h.ServeHTTP(w, r)
	})
}

// statusHandler is the Status API: /status, /status/ready (3.3+) and /metrics.
func (n *node) statusHandler() http.Handler {
	routes := append([]route{
		{"/status", map[string]http.HandlerFunc{http.MethodGet: n.serveStatus}},
	}, n.metricsRoute()...)
	if !n.cfg.Version.Less(v3_3) {
		rd := &readiness{}
		methods := map[string]http.HandlerFunc{http.MethodGet: n.serveReady(rd)}
		if !n.cfg.Version.Less(v3_9) {
			methods[http.MethodPost] = n.serveReady(rd)
		}
		routes = append(routes, route{"/status/ready", methods})
	}
	return n.router(routes)
}

// metricsRoute is the prometheus plugin's /metrics, there when the plugin is loaded
// (kong.conf plugins), whether or not an instance is configured.
func (n *node) metricsRoute() []route {
	if n.pluginLoaded("prometheus") {
		return []route{{"/metrics", map[string]http.HandlerFunc{http.MethodGet: n.serveMetrics}}}
	}
	return nil
}

// rootBody is GET / (kong/api/routes/kong.lua).
type rootBody struct {
	Plugins       rootPlugins    `json:"plugins"`
	Tagline       string         `json:"tagline"`
	Version       string         `json:"version"`
	Edition       string         `json:"edition,omitempty"`
	Hostname      string         `json:"hostname"`
	NodeID        string         `json:"node_id"`
	Timers        rootTimers     `json:"timers"`
	LuaVersion    string         `json:"lua_version"`
	Configuration map[string]any `json:"configuration"`
	PIDs          rootPIDs       `json:"pids"`
}

type rootPlugins struct {
	AvailableOnServer map[string]any `json:"available_on_server"`
	EnabledInCluster  []string       `json:"enabled_in_cluster"`
}

type rootTimers struct {
	Running int `json:"running"`
	Pending int `json:"pending"`
}

type rootPIDs struct {
	Master  int   `json:"master"`
	Workers []int `json:"workers"`
}

func (n *node) serveRoot(w http.ResponseWriter, r *http.Request) {
	snap := n.gen.Snapshot(time.Now())
	running, pending := n.timers(snap)
	enabled := append([]string{}, n.world.Load().pluginNames...)
	body := rootBody{
		Plugins: rootPlugins{
			AvailableOnServer: n.availableOnServer(),
			EnabledInCluster:  enabled,
		},
		Tagline:       "Welcome to kong",
		Version:       n.cfg.Version.String(),
		Hostname:      n.cfg.Hostname,
		NodeID:        n.cfg.NodeID,
		Timers:        rootTimers{running, pending},
		LuaVersion:    luaVersion(n.cfg.Version),
		Configuration: n.configuration(),
		PIDs:          rootPIDs{Master: os.Getpid(), Workers: []int{os.Getpid()}},
	}
	switch {
	case n.cfg.Version.Enterprise:
		body.Edition = "enterprise" // kongsim reports it for every Enterprise build
	case !n.cfg.Version.Less(v3_6):
		body.Edition = "community"
	}
	writeJSON(w, r, http.StatusOK, body)
}

type messageBody struct {
	Message string `json:"message"`
}

func message(s string) messageBody { return messageBody{s} }

// writeJSON writes a Kong-style JSON response.
func writeJSON(w http.ResponseWriter, r *http.Request, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"message":"An unexpected error occurred"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}
