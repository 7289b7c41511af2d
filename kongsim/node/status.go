package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/traffic"
)

var (
	v3_3 = facts.MustParseVersion("3.3.0")
	v3_4 = facts.MustParseVersion("3.4.0")
	v3_9 = facts.MustParseVersion("3.9.0")
)

// Messages of the Status API's readiness check (kong/status/ready.lua).
const (
	msgReady    = "ready"
	msgNoDB     = "failed to connect to database"
	msgDraining = "draining"
)

// sharedDict is one lua_shared_dict of Kong's nginx template.
type sharedDict struct {
	name      string
	capacity  uint64 // bytes
	allocated uint64 // bytes in allocated slabs at rest
}

const mib = 1 << 20

// sharedDicts are the template's shared dictionaries; 2.8 still has kong_process_events,
// 3.x has kong_secrets.
func sharedDicts(v facts.Version) []sharedDict {
	ds := []sharedDict{
		{"kong", 5 * mib, 40960},
		{"kong_locks", 8 * mib, 61440},
		{"kong_healthchecks", 5 * mib, 40960},
	}
	if v.Major < 3 {
		ds = append(ds, sharedDict{"kong_process_events", 5 * mib, 45056})
	}
	ds = append(ds,
		sharedDict{"kong_cluster_events", 5 * mib, 40960},
		sharedDict{"kong_rate_limiting_counters", 12 * mib, 86016},
		sharedDict{"kong_core_db_cache", 128 * mib, 794624},
		sharedDict{"kong_core_db_cache_miss", 12 * mib, 86016},
		sharedDict{"kong_db_cache", 128 * mib, 794624},
		sharedDict{"kong_db_cache_miss", 12 * mib, 86016},
	)
	if v.Major >= 3 {
		ds = append(ds, sharedDict{"kong_secrets", 5 * mib, 40960})
	}
	return append(ds, sharedDict{"prometheus_metrics", 5 * mib, 49152})
}

type memStats struct {
	workers []workerMem
	dicts   []sharedDict
}

type workerMem struct {
	pid   int
	bytes uint64
}

// memory is the node's memory: one worker (this process) whose Lua VM grows a little with
// the number of series, and the shared dictionaries, prometheus_metrics holding the series.
func (n *node) memory(snap traffic.Snapshot) memStats {
	series := uint64(len(snap.Series))
	m := memStats{workers: []workerMem{{os.Getpid(), 46*mib + 4096*series + snap.Requests%65536}}}
	for _, d := range sharedDicts(n.cfg.Version) {
		if d.name == "prometheus_metrics" {
			d.allocated += 4096 * series
		}
		m.dicts = append(m.dicts, d)
	}
	return m
}

// timers are ngx.timer counts: a few periodic ones per plugin and background job.
func (n *node) timers(snap traffic.Snapshot) (running, pending int) {
	return int(snap.Connections.Reading % 2), 9 + len(n.world.Load().pluginNames)
}

// statusBody is GET /status (kong/api/routes/health.lua).
type statusBody struct {
	Memory            statusMemory    `json:"memory"`
	Server            statusServer    `json:"server"`
	Database          *statusDatabase `json:"database,omitempty"`
	ConfigurationHash string          `json:"configuration_hash,omitempty"`
}

type statusMemory struct {
	WorkersLuaVMs  []statusWorker         `json:"workers_lua_vms"`
	LuaSharedDicts map[string]statusDicts `json:"lua_shared_dicts"`
}

type statusWorker struct {
	HTTPAllocatedGC string `json:"http_allocated_gc"`
	PID             int    `json:"pid"`
}

type statusDicts struct {
	AllocatedSlabs string `json:"allocated_slabs"`
	Capacity       string `json:"capacity"`
}

type statusServer struct {
	ConnectionsAccepted uint64 `json:"connections_accepted"`
	ConnectionsActive   uint64 `json:"connections_active"`
	ConnectionsHandled  uint64 `json:"connections_handled"`
	ConnectionsReading  uint64 `json:"connections_reading"`
	ConnectionsWaiting  uint64 `json:"connections_waiting"`
	ConnectionsWriting  uint64 `json:"connections_writing"`
	TotalRequests       uint64 `json:"total_requests"`
}

type statusDatabase struct {
	Reachable bool `json:"reachable"`
}

// serveStatus is GET /status on the Admin and Status APIs: always 200.
func (n *node) serveStatus(w http.ResponseWriter, r *http.Request) {
	unit, scale := r.URL.Query().Get("unit"), r.URL.Query().Get("scale")
	format, err := byteFormatter(unit, scale)
	if err != nil {
		writeJSON(w, r, http.StatusBadRequest, message(err.Error()))
		return
	}
	snap := n.gen.Snapshot(time.Now())
	body := statusBody{Server: statusServer{
		ConnectionsAccepted: snap.Connections.Accepted,
		ConnectionsActive:   snap.Connections.Active,
		ConnectionsHandled:  snap.Connections.Handled,
		ConnectionsReading:  snap.Connections.Reading,
		ConnectionsWaiting:  snap.Connections.Waiting,
		ConnectionsWriting:  snap.Connections.Writing,
		TotalRequests:       snap.Requests,
	}}
	mem := n.memory(snap)
	body.Memory.LuaSharedDicts = map[string]statusDicts{}
	for _, wk := range mem.workers {
		body.Memory.WorkersLuaVMs = append(body.Memory.WorkersLuaVMs, statusWorker{format(wk.bytes), wk.pid})
	}
	for _, d := range mem.dicts {
		body.Memory.LuaSharedDicts[d.name] = statusDicts{format(d.allocated), format(d.capacity)}
	}
	if n.db == nil {
		// DB-less or a data plane: the configuration's hash; from 3.4 no database entry
		// (kong/api/routes/health.lua), before it the off connector's "reachable".
		body.ConfigurationHash = n.configurationHash()
		if n.cfg.Version.Less(v3_4) {
			body.Database = &statusDatabase{Reachable: true}
		}
	} else {
		err := n.probeDB(r.Context())
		if err != nil {
			n.log.Error(fmt.Sprintf("failed to connect to PostgreSQL during /status endpoint check: [PostgreSQL error] %v", err))
		}
		body.Database = &statusDatabase{Reachable: err == nil}
	}
	writeJSON(w, r, http.StatusOK, body)
}

// byteFormatter is Kong's bytes_to_str for ?unit=b|k|m|g&scale=N (default m and 2).
func byteFormatter(unit, scale string) (func(uint64) string, error) {
	if unit == "" {
		unit = "m"
	}
	digits := 2
	if scale != "" {
		n, err := strconv.ParseFloat(scale, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid scale '%s'", scale)
		}
		if n < 0 {
			return nil, fmt.Errorf("scale must be equal or greater than 0")
		}
		digits = int(n)
	}
	var div float64
	var suffix string
	switch strings.ToLower(unit) {
	case "b":
		return func(b uint64) string { return strconv.FormatUint(b, 10) }, nil
	case "k":
		div, suffix = 1<<10, "KiB"
	case "m":
		div, suffix = 1<<20, "MiB"
	case "g":
		div, suffix = 1<<30, "GiB"
	default:
		return nil, fmt.Errorf("invalid unit '%s' (expected 'k/K', 'm/M', or 'g/G')", unit)
	}
	return func(b uint64) string {
		return strconv.FormatFloat(float64(b)/div, 'f', digits, 64) + " " + suffix
	}, nil
}

// readiness is GET /status/ready (3.3+): 200 ready, or 503 with the reason.
type readiness struct {
	draining atomic.Bool
}

func (n *node) serveReady(rd *readiness) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			n.postReady(rd, w, r)
			return
		}
		switch {
		case rd.draining.Load():
			writeJSON(w, r, http.StatusServiceUnavailable, message(msgDraining))
		case n.db != nil && n.probeDB(r.Context()) != nil:
			writeJSON(w, r, http.StatusServiceUnavailable, message(msgNoDB))
		case n.db == nil:
			if ok, why := n.configReady(); !ok {
				writeJSON(w, r, http.StatusServiceUnavailable, message(why))
				return
			}
			writeJSON(w, r, http.StatusOK, message(msgReady))
		default:
			writeJSON(w, r, http.StatusOK, message(msgReady))
		}
	}
}

// postReady is POST /status/ready with status=draining (what "kong drain" sends, 3.9+).
func (n *node) postReady(rd *readiness, w http.ResponseWriter, r *http.Request) {
	status := ""
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			Status string `json:"status"`
		}
		if json.NewDecoder(r.Body).Decode(&body) == nil {
			status = body.Status
		}
	} else if r.ParseForm() == nil {
		status = r.PostForm.Get("status")
	}
	if status != "draining" {
		writeJSON(w, r, http.StatusBadRequest, message("Invalid status: only 'draining' is accepted"))
		return
	}
	if !rd.draining.Swap(true) {
		n.log.Info("Kong's status is set to draining")
	}
	w.WriteHeader(http.StatusNoContent)
}
