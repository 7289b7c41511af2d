package node

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// Topology: role = traditional | control_plane | data_plane, and database = off (DB-less).
//
// A data plane has no Admin API (Kong's nginx template renders none), no database, and gets
// its configuration from its control plane: kongsim's data plane sends a small JSON hello to
// the control plane's cluster_listen every syncInterval (Kong keeps a WebSocket instead; the
// protocol is kongsim's), and the control plane records it in clustering_data_planes as Kong
// does, answering with its configuration hash, or refusing a data plane whose version it does
// not accept (major equal, minor not newer: clustering/compat). A control plane exports
// kong_data_plane_* from that table. A DB-less traditional node's configuration is its
// declarative_config file.

// emptyConfigHash is DECLARATIVE_EMPTY_CONFIG_HASH: no configuration loaded.
const emptyConfigHash = "00000000000000000000000000000000"

var syncInterval = time.Second // how often a data plane says hello; tests may shorten it

func (n *node) role() string { return n.cfg.Conf.Get("role") }

func (n *node) dataPlane() bool    { return n.role() == "data_plane" }
func (n *node) controlPlane() bool { return n.role() == "control_plane" }

// hybridState is what a data plane knows of its control plane.
type hybridState struct {
	configHash atomic.Pointer[string] // the configuration received; nil: none yet
}

// configurationHash is /status's configuration_hash on a DB-less node or a data plane.
func (n *node) configurationHash() string {
	if n.dataPlane() {
		if h := n.hybrid.configHash.Load(); h != nil {
			return *h
		}
		return emptyConfigHash
	}
	path := n.cfg.Conf.Get("declarative_config")
	if path == "" {
		return emptyConfigHash
	}
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return emptyConfigHash
	}
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// configReady is ready.lua's check for DB-less nodes and data planes: a configuration must
// have been loaded.
func (n *node) configReady() (bool, string) {
	if n.configurationHash() == emptyConfigHash {
		return false, "no configuration available (empty configuration present)"
	}
	return true, ""
}

// hello is what a data plane sends its control plane.
type hello struct {
	NodeID     string `json:"node_id"`
	Hostname   string `json:"hostname"`
	IP         string `json:"ip"`
	Version    string `json:"version"`
	ConfigHash string `json:"config_hash"`
}

// syncLoop is a data plane's connection to its control plane.
func (n *node) syncLoop(ctx context.Context) {
	cp := n.cfg.Conf.Get("cluster_control_plane")
	client := &http.Client{Timeout: 2 * time.Second}
	broken := ""
	for {
		err := n.syncOnce(ctx, client, cp)
		switch {
		case err != nil && err.Error() != broken:
			broken = err.Error()
			n.log.Error(fmt.Sprintf("[clustering] connection to Control Plane %s broken: %v (retrying after %s)", cp, err, syncInterval))
		case err == nil && broken != "":
			broken = ""
			n.log.Info(fmt.Sprintf("[clustering] connected to Control Plane %s", cp))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(syncInterval):
		}
	}
}

func (n *node) syncOnce(ctx context.Context, client *http.Client, cp string) error {
	hash := emptyConfigHash
	if h := n.hybrid.configHash.Load(); h != nil {
		hash = *h
	}
	body, _ := json.Marshal(hello{NodeID: n.cfg.NodeID, Hostname: n.cfg.Hostname, IP: "127.0.0.1", Version: n.cfg.Version.String(), ConfigHash: hash})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+cp+"/v1/outlet", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("failed to connect: %w", err)
	}
	defer resp.Body.Close()
	var answer struct {
		ConfigHash string `json:"config_hash"`
		Message    string `json:"message"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", answer.Message)
	}
	n.hybrid.configHash.Store(&answer.ConfigHash)
	return nil
}

// clusterHandler is a control plane's cluster_listen.
func (n *node) clusterHandler() http.Handler {
	return n.router([]route{{"/v1/outlet", map[string]http.HandlerFunc{http.MethodPost: n.serveOutlet}}})
}

// serveOutlet takes a data plane's hello: it is recorded in clustering_data_planes (with
// its sync status) and, when its version is accepted, answered with the configuration hash.
func (n *node) serveOutlet(w http.ResponseWriter, r *http.Request) {
	var h hello
	if err := json.NewDecoder(r.Body).Decode(&h); err != nil || h.NodeID == "" {
		writeJSON(w, r, http.StatusBadRequest, message("bad hello"))
		return
	}
	status, reason := "normal", ""
	dv, err := facts.ParseVersion(h.Version)
	switch {
	case err != nil:
		status, reason = "kong_version_incompatible", fmt.Sprintf("data plane version %s is not a Kong version", h.Version)
	case dv.Major != n.cfg.Version.Major:
		status, reason = "kong_version_incompatible", fmt.Sprintf("data plane version %s is incompatible with control plane version %s (%d.x.y are accepted)",
			h.Version, n.cfg.Version, n.cfg.Version.Major)
	case dv.Minor > n.cfg.Version.Minor:
		status, reason = "kong_version_incompatible", fmt.Sprintf("data plane version %s is incompatible with older control plane version %s", h.Version, n.cfg.Version)
	}
	hash, err := n.cpConfigHash(r.Context())
	if err != nil {
		writeJSON(w, r, http.StatusInternalServerError, message("failed to read the configuration: "+err.Error()))
		return
	}
	dpHash := h.ConfigHash
	if status == "normal" {
		dpHash = hash // the data plane applies what it is sent
	}
	if err := n.recordDataPlane(r.Context(), h, dpHash, status); err != nil {
		n.log.Error(fmt.Sprintf("[clustering] unable to update clustering data plane status: %v", err))
	}
	if reason != "" {
		n.log.Warn("[clustering] " + reason)
		writeJSON(w, r, http.StatusConflict, message(reason))
		return
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"config_hash": hash})
}

// cpConfigHash is a hash of the control plane's configuration: it changes whenever an
// entity is added, removed or updated (Kong hashes the exported configuration; kongsim
// hashes counts and the latest change).
func (n *node) cpConfigHash(ctx context.Context) (string, error) {
	var sig string
	err := n.db.withConn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT concat_ws(':',
  (SELECT count(*) FROM services), (SELECT count(*) FROM routes), (SELECT count(*) FROM plugins),
  (SELECT count(*) FROM consumers), (SELECT count(*) FROM upstreams), (SELECT count(*) FROM targets),
  (SELECT coalesce(max(created_at)::text, '') FROM plugins), (SELECT coalesce(max(created_at)::text, '') FROM routes))`).Scan(&sig)
	})
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(sig, "0:0:0:0:0:0:") {
		return emptyConfigHash, nil
	}
	sum := md5.Sum([]byte(sig))
	return hex.EncodeToString(sum[:]), nil
}

// recordDataPlane upserts the data plane's row, with Kong's ttl (cluster_data_plane_purge_delay).
func (n *node) recordDataPlane(ctx context.Context, h hello, hash, status string) error {
	purge := n.cfg.Conf.Get("cluster_data_plane_purge_delay")
	return n.db.withConn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO clustering_data_planes (id, hostname, ip, last_seen, config_hash, ttl, version, sync_status)
     VALUES ($1, $2, $3, CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC', $4, CURRENT_TIMESTAMP(0) AT TIME ZONE 'UTC' + ($5 || ' seconds')::interval, $6, $7)
ON CONFLICT (id) DO UPDATE SET hostname = EXCLUDED.hostname, ip = EXCLUDED.ip, last_seen = EXCLUDED.last_seen,
       config_hash = EXCLUDED.config_hash, ttl = EXCLUDED.ttl, version = EXCLUDED.version, sync_status = EXCLUDED.sync_status`,
			h.NodeID, h.Hostname, h.IP, hash, purge, h.Version, status)
		return err
	})
}

// dataPlaneRow is one row of clustering_data_planes.
type dataPlaneRow struct {
	ID         string    `json:"id"`
	Hostname   string    `json:"hostname"`
	IP         string    `json:"ip"`
	LastSeen   time.Time `json:"-"`
	ConfigHash string    `json:"config_hash"`
	Version    string    `json:"version"`
	SyncStatus string    `json:"sync_status"`
}

// dataPlanes lists the control plane's data planes (whose ttl has not passed).
func (n *node) dataPlanes(ctx context.Context) ([]dataPlaneRow, error) {
	var out []dataPlaneRow
	err := n.db.withConn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id::text, hostname, ip, last_seen, config_hash, coalesce(version, ''), coalesce(sync_status, 'unknown')
  FROM clustering_data_planes WHERE ttl IS NULL OR ttl > CURRENT_TIMESTAMP AT TIME ZONE 'UTC' ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d dataPlaneRow
			if err := rows.Scan(&d.ID, &d.Hostname, &d.IP, &d.LastSeen, &d.ConfigHash, &d.Version, &d.SyncStatus); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

// serveDataPlanes is the control plane's GET /clustering/data-planes.
func (n *node) serveDataPlanes(w http.ResponseWriter, r *http.Request) {
	dps, err := n.dataPlanes(r.Context())
	if err != nil {
		writeJSON(w, r, http.StatusInternalServerError, message("An unexpected error occurred"))
		return
	}
	data := []map[string]any{}
	for _, d := range dps {
		data = append(data, map[string]any{"id": d.ID, "hostname": d.Hostname, "ip": d.IP, "last_seen": d.LastSeen.Unix(),
			"config_hash": d.ConfigHash, "version": d.Version, "sync_status": d.SyncStatus})
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"data": data, "next": nil})
}

// dataPlaneMetrics are a control plane's kong_data_plane_* families (exporter.lua).
func (n *node) dataPlaneMetrics(ctx context.Context, e *exposition) {
	dps, err := n.dataPlanes(ctx)
	if err != nil {
		n.log.Error(fmt.Sprintf("failed to list data planes: %v", err))
		return
	}
	seen := e.family("kong_data_plane_last_seen", "gauge", "Last time data plane contacted control plane")
	hash := e.family("kong_data_plane_config_hash", "gauge", "Config hash numeric value of the data plane")
	compat := e.family("kong_data_plane_version_compatible", "gauge", "Version compatible status of the data plane, 0 is incompatible")
	for _, d := range dps {
		seen.add("", float64(d.LastSeen.Unix()), "node_id", d.ID, "hostname", d.Hostname, "ip", d.IP)
		hash.add("", hashNumber(d.ConfigHash), "node_id", d.ID, "hostname", d.Hostname, "ip", d.IP)
		ok := 1.0
		switch d.SyncStatus {
		case "kong_version_incompatible", "plugin_set_incompatible", "plugin_version_incompatible":
			ok = 0
		}
		compat.add("", ok, "node_id", d.ID, "hostname", d.Hostname, "ip", d.IP, "kong_version", d.Version)
	}
}

// hashNumber is config_hash_to_number: tonumber("0x" .. hash).
func hashNumber(h string) float64 {
	v, ok := new(big.Int).SetString(h, 16)
	if !ok {
		return 0
	}
	f, _ := new(big.Float).SetInt(v).Float64()
	return f
}

// dblessWrite is what the Admin API of a DB-less node answers a write to an entity
// collection (kong/db/strategies/off, kong/api/endpoints.lua): 405, "operation unsupported".
func dblessWrite(w http.ResponseWriter, r *http.Request, entity string) {
	op := map[string]string{http.MethodPost: "create", http.MethodPatch: "update", http.MethodPut: "create or update", http.MethodDelete: "remove"}[r.Method]
	writeJSON(w, r, http.StatusMethodNotAllowed, map[string]any{"code": 12, "name": "operation unsupported",
		"message": fmt.Sprintf("cannot %s '%s' entities when not using a database", op, entity)})
}
