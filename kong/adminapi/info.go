package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong"
)

// Where Report.Ready comes from.
const (
	ReadyFromStatusAPI = "status_api" // GET <status_url>/status/ready (3.3+)
	ReadyFromDatabase  = "database"   // GET <admin_url>/status database.reachable
)

// Report is what a node answers, with how its readiness was decided.
type Report struct {
	kong.NodeInfo
	ReadyFrom string // ReadyFromStatusAPI or ReadyFromDatabase
	// NotReady says why Ready is false: the Status API's 503 message (e.g. "failed to
	// connect to database", "draining"), or "database unreachable". "" when ready.
	NotReady string
}

// Info asks a node for its version, node_id, database reachability and readiness.
func (c *Client) Info(ctx context.Context, n config.Node) (kong.NodeInfo, error) {
	r, err := c.Report(ctx, n)
	return r.NodeInfo, err
}

// Report is Info with the reason a node is not ready. It sends GET <admin_url>/ and
// GET <admin_url>/status, and when the node has a Status API and runs 3.3.0 or later,
// GET <status_url>/status/ready: 200 is ready, 503 is not ready (with Kong's message in
// NotReady, and no error). Otherwise Ready is DBReachable. On error the fields learnt so
// far are set.
func (c *Client) Report(ctx context.Context, n config.Node) (Report, error) {
	r := Report{NodeInfo: kong.NodeInfo{Name: n.Name}}
	name := nodeName(n)

	var root struct {
		Version       *string `json:"version"`
		NodeID        string  `json:"node_id"`
		Edition       string  `json:"edition"`
		Configuration struct {
			Plugins       json.RawMessage `json:"plugins"`
			LoadedPlugins map[string]bool `json:"loaded_plugins"`
			Role          string          `json:"role"`
			Database      string          `json:"database"`
			PGDatabase    string          `json:"pg_database"`
			PGSchema      string          `json:"pg_schema"`
			PGUser        string          `json:"pg_user"`
		} `json:"configuration"`
	}
	a, err := c.getJSON(ctx, name, n.AdminURL, "/", &root)
	if err != nil {
		if errors.Is(err, ErrRefused) && n.StatusURL != "" {
			if dp := c.withoutDatabase(ctx, name, n.StatusURL); dp != nil {
				return r, dp
			}
		}
		return r, err
	}
	if root.Version == nil || *root.Version == "" {
		return r, a.unexpected("no \"version\" in the body: " + snippet(a.body))
	}
	r.Version, r.NodeID, r.Edition = *root.Version, root.NodeID, root.Edition
	r.Role, r.Database = root.Configuration.Role, root.Configuration.Database
	r.PGDatabase, r.PGSchema, r.PGUser = root.Configuration.PGDatabase, root.Configuration.PGSchema, root.Configuration.PGUser
	r.Plugins = pluginsSetting(root.Configuration.Plugins, root.Configuration.LoadedPlugins)
	if r.Database == "off" || r.Role == "data_plane" {
		// A DB-less node (or a data plane) has no database for drawbridge to migrate.
		return r, nil
	}
	statusAPI, err := servesReady(r.Version)
	if err != nil {
		return r, a.unexpected(err.Error())
	}

	var status struct {
		Database *struct {
			Reachable *bool `json:"reachable"`
		} `json:"database"`
	}
	a, err = c.getJSON(ctx, name, n.AdminURL, "/status", &status)
	if err != nil {
		return r, err
	}
	if status.Database == nil || status.Database.Reachable == nil {
		return r, a.unexpected("no \"database.reachable\" in the body (a DB-less node or a data plane?)")
	}
	r.DBReachable = *status.Database.Reachable

	if n.StatusURL == "" || !statusAPI {
		r.ReadyFrom, r.Ready = ReadyFromDatabase, r.DBReachable
		if !r.Ready {
			r.NotReady = "database unreachable"
		}
		return r, nil
	}
	r.ReadyFrom = ReadyFromStatusAPI
	r.Ready, r.NotReady, err = c.ready(ctx, name, n.StatusURL)
	return r, err
}

// ready asks GET <status_url>/status/ready: 200 ready, 503 not ready and why.
func (c *Client) ready(ctx context.Context, name, statusURL string) (bool, string, error) {
	a, err := c.get(ctx, name, statusURL, "/status/ready")
	if err != nil {
		return false, "", err
	}
	switch a.status {
	case http.StatusOK:
		return true, "", nil
	case http.StatusServiceUnavailable:
		if msg := message(a.body); msg != "" {
			return false, msg, nil
		}
		return false, "", a.unexpected("status " + statusText(a) + " without a message")
	default:
		return false, "", a.unexpected("status " + statusText(a))
	}
}

// nodeName is the node's name for messages, or its scrubbed Admin URL when it has none.
func nodeName(n config.Node) string {
	if n.Name != "" {
		return n.Name
	}
	return scrub(n.AdminURL)
}

// servesReady reports whether a Kong version serves GET /status/ready on its Status API:
// from 3.3.0 on. EE versions have four parts (3.6.0.0); suffixes such as -rc1 are ignored.
func servesReady(version string) (bool, error) {
	major, minor, err := majorMinor(version)
	if err != nil {
		return false, err
	}
	return major > 3 || major == 3 && minor >= 3, nil
}

func majorMinor(version string) (int, int, error) {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("version %q is not a Kong version", version)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("version %q is not a Kong version", version)
	}
	return major, minor, nil
}

// pluginsSetting reads configuration.plugins (an array, or a comma-separated string), and
// falls back to the loaded_plugins set when the node did not give the setting.
func pluginsSetting(raw json.RawMessage, loaded map[string]bool) []string {
	var list []string
	if len(raw) > 0 && json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		return list
	}
	var one string
	if len(raw) > 0 && json.Unmarshal(raw, &one) == nil && one != "" {
		return strings.Split(one, ",")
	}
	if loaded != nil {
		if len(loaded) == 0 {
			return []string{"off"}
		}
		for name := range loaded {
			list = append(list, name)
		}
		slices.Sort(list)
		return list
	}
	return nil
}

// withoutDatabase explains a node whose Admin API refuses connections but whose Status
// API answers as a data plane or DB-less node does (a configuration hash, no database), or
// returns nil.
func (c *Client) withoutDatabase(ctx context.Context, name, statusURL string) error {
	var status struct {
		ConfigurationHash string          `json:"configuration_hash"`
		Database          json.RawMessage `json:"database"`
	}
	a, err := c.getJSON(ctx, name, statusURL, "/status", &status)
	if err != nil || status.ConfigurationHash == "" || len(status.Database) > 0 {
		return nil
	}
	return &RequestError{Node: name, URL: a.url, Status: a.status, Err: fmt.Errorf("%w: its Admin API does not answer and its Status API reports a configuration hash (%s) and no database, as a data plane does", kong.ErrNoDatabase, status.ConfigurationHash)}
}
