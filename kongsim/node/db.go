package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kongsim/kconf"
)

// errFaultUnreachable is the probe's answer while the db_unreachable fault is on.
var errFaultUnreachable = errors.New("connection refused (fault db_unreachable)")

// database is the node's connection to Kong's PostgreSQL (pg_* settings of kong.conf):
// one connection, opened on first use and again after any error.
type database struct {
	config       *pgx.ConnConfig
	probeTimeout time.Duration
	queryTimeout time.Duration

	connMu sync.Mutex // guards conn
	conn   *pgx.Conn

	probeMu   sync.Mutex // guards the cached probe result
	checkedAt time.Time
	lastErr   error
	checked   bool
}

// openDatabase parses the connection settings; it does not connect (the probe does).
func openDatabase(c *kconf.Conf) (*database, error) {
	cc, err := pgx.ParseConfig(c.DSN())
	if err != nil {
		return nil, fmt.Errorf("database connection settings: %w", err)
	}
	timeout := min(time.Duration(c.PGTimeoutMS())*time.Millisecond, 2*time.Second)
	cc.ConnectTimeout = timeout
	return &database{config: cc, probeTimeout: min(timeout, time.Second), queryTimeout: timeout}, nil
}

func (d *database) close() {
	d.connMu.Lock()
	defer d.connMu.Unlock()
	if d.conn != nil {
		d.conn.Close(context.Background())
		d.conn = nil
	}
}

// withConn runs fn on the connection, connecting first if needed; after an error the
// connection is dropped, so the next use reconnects.
func (d *database) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	d.connMu.Lock()
	defer d.connMu.Unlock()
	if d.conn == nil || d.conn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, d.config)
		if err != nil {
			return err
		}
		d.conn = conn
	}
	err := fn(d.conn)
	if err != nil {
		d.conn.Close(context.WithoutCancel(ctx))
		d.conn = nil
	}
	return err
}

// probe pings the database, reusing a result for probeCacheFor. It does not inherit the
// caller's cancellation: a client hanging up must not be cached as "unreachable".
func (d *database) probe(ctx context.Context) error {
	d.probeMu.Lock()
	defer d.probeMu.Unlock()
	if d.checked && time.Since(d.checkedAt) < probeCacheFor {
		return d.lastErr
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.probeTimeout)
	defer cancel()
	d.lastErr = d.withConn(pctx, func(c *pgx.Conn) error { return c.Ping(pctx) })
	d.checked, d.checkedAt = true, time.Now()
	return d.lastErr
}

// entities is what the node reads from Kong's tables.
type entities struct {
	routes      []routeRow
	plugins     []pluginRow
	consumers   []string // usernames
	targets     []targetRow
	pluginNames []string // distinct plugin names configured
}

type routeRow struct {
	id, name, serviceID, service string
}

type pluginRow struct {
	name                           string
	enabled                        bool
	config                         map[string]any
	routeID, serviceID, consumerID string
}

type targetRow struct {
	upstream, target string
	healthchecks     bool // active or passive health checks configured
}

// load reads routes (with their services), plugins, upstream targets and consumers.
func (d *database) load(ctx context.Context) (entities, error) {
	ctx, cancel := context.WithTimeout(ctx, d.queryTimeout)
	defer cancel()
	var e entities
	err := d.withConn(ctx, func(conn *pgx.Conn) error {
		var err error
		e, err = readEntities(ctx, conn)
		return err
	})
	return e, err
}

func readEntities(ctx context.Context, conn *pgx.Conn) (entities, error) {
	var e entities
	err := query(ctx, conn, "routes", `
		SELECT r.id::text, COALESCE(r.name, ''), COALESCE(r.service_id::text, ''), COALESCE(s.name, s.host, '')
		FROM routes r LEFT JOIN services s ON s.id = r.service_id
		ORDER BY 4, COALESCE(r.name, r.id::text)`,
		func(rows pgx.Rows) error {
			var r routeRow
			err := rows.Scan(&r.id, &r.name, &r.serviceID, &r.service)
			e.routes = append(e.routes, r)
			return err
		})
	if err != nil {
		return entities{}, err
	}
	seen := map[string]bool{}
	err = query(ctx, conn, "plugins", `
		SELECT name, enabled, COALESCE(config::text, '{}'), COALESCE(route_id::text, ''),
		       COALESCE(service_id::text, ''), COALESCE(consumer_id::text, '')
		FROM plugins ORDER BY name, id`,
		func(rows pgx.Rows) error {
			var p pluginRow
			var config string
			if err := rows.Scan(&p.name, &p.enabled, &config, &p.routeID, &p.serviceID, &p.consumerID); err != nil {
				return err
			}
			if json.Unmarshal([]byte(config), &p.config) != nil {
				p.config = nil // not an object: every flag off
			}
			e.plugins = append(e.plugins, p)
			if !seen[p.name] {
				seen[p.name] = true
				e.pluginNames = append(e.pluginNames, p.name)
			}
			return nil
		})
	if err != nil {
		return entities{}, err
	}
	err = query(ctx, conn, "targets", `
		SELECT DISTINCT u.name, t.target, COALESCE(u.healthchecks::text, '')
		FROM targets t JOIN upstreams u ON u.id = t.upstream_id
		WHERE t.weight > 0 ORDER BY 1, 2`,
		func(rows pgx.Rows) error {
			var t targetRow
			var hc string
			err := rows.Scan(&t.upstream, &t.target, &hc)
			t.healthchecks = healthchecksOn(hc)
			e.targets = append(e.targets, t)
			return err
		})
	if err != nil {
		return entities{}, err
	}
	// Consumers only name the consumer label; a schema without the table is no error.
	var consumers []string
	err = query(ctx, conn, "consumers", `SELECT username FROM consumers WHERE username IS NOT NULL ORDER BY username LIMIT 100`,
		func(rows pgx.Rows) error {
			var u string
			err := rows.Scan(&u)
			consumers = append(consumers, u)
			return err
		})
	if err == nil {
		e.consumers = consumers
	}
	return e, nil
}

// query runs sql and calls scan for each row.
func query(ctx context.Context, conn *pgx.Conn, what, sql string, scan func(pgx.Rows) error) error {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

// healthchecksOn reports whether an upstream's healthchecks JSON enables active or passive
// checks (Kong: active when an interval is > 0, passive when a threshold is > 0).
func healthchecksOn(js string) bool {
	var hc struct {
		Active struct {
			Healthy   struct{ Interval float64 } `json:"healthy"`
			Unhealthy struct{ Interval float64 } `json:"unhealthy"`
		} `json:"active"`
		Passive struct {
			Healthy struct {
				Successes float64 `json:"successes"`
			} `json:"healthy"`
			Unhealthy struct {
				HTTPFailures float64 `json:"http_failures"`
				TCPFailures  float64 `json:"tcp_failures"`
				Timeouts     float64 `json:"timeouts"`
			} `json:"unhealthy"`
		} `json:"passive"`
	}
	if js == "" || json.Unmarshal([]byte(js), &hc) != nil {
		return false
	}
	a, p := hc.Active, hc.Passive
	return a.Healthy.Interval > 0 || a.Unhealthy.Interval > 0 || p.Healthy.Successes > 0 ||
		p.Unhealthy.HTTPFailures > 0 || p.Unhealthy.TCPFailures > 0 || p.Unhealthy.Timeouts > 0
}

// probeDB is the node's view of the database: the fault, else a real (cached) ping.
func (n *node) probeDB(ctx context.Context) error {
	if n.currentFaults().DBUnreachable {
		return errFaultUnreachable
	}
	if n.db == nil {
		return nil
	}
	return n.db.probe(ctx)
}

// refresh re-reads the entities; on failure the previous ones stay in force.
func (n *node) refresh(ctx context.Context) {
	if n.currentFaults().DBUnreachable {
		return
	}
	e, err := n.db.load(ctx)
	if err != nil {
		if ctx.Err() == nil && !n.loadFailing {
			n.log.Warn("failed to load entities from the database; keeping the previous ones", "err", err)
		}
		n.loadFailing = true
		return
	}
	n.loadFailing = false
	w := buildWorld(e, n.cfg.Version)
	w.inherit(n.world.Load())
	n.world.Store(w)
	if n.gen != nil {
		n.gen.SetRoutes(w.routes, time.Now())
	}
}

func (n *node) refreshLoop(ctx context.Context) {
	t := time.NewTicker(refreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.refresh(ctx)
		}
	}
}
