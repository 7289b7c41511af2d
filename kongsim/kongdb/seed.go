package kongdb

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// SeedOptions says how much configuration Seed writes. Zero counts write nothing of that kind.
type SeedOptions struct {
	Services           int
	RoutesPerService   int // every second route of a service matches a regex path
	PluginsPerService  int // at most len(ServicePlugins): rate-limiting, key-auth, cors, correlation-id
	Consumers          int // each with one key-auth credential
	Upstreams          int // services point at them round-robin when there are any
	TargetsPerUpstream int
	Prometheus         bool // one global prometheus plugin with every metric family enabled
	// Version is the Kong version whose Admin API the seed writes as (the prometheus
	// plugin's config fields differ); "" reads it off the schema: 2.8 or 3.x before 3.8.
	Version string
}

// SeedResult counts the rows Seed inserted (rows already present are skipped, not counted).
type SeedResult struct {
	WorkspaceID string // the default workspace every row belongs to
	Services    int
	Routes      int
	RegexRoutes int // routes whose path is a regex
	Plugins     int
	Consumers   int
	Credentials int // keyauth_credentials
	Upstreams   int
	Targets     int
}

// String summarises the counts: "3 services, 6 routes (3 regex), 13 plugins, 2 consumers
// (2 credentials), 2 upstreams, 4 targets".
func (r SeedResult) String() string {
	return fmt.Sprintf("%d services, %d routes (%d regex), %d plugins, %d consumers (%d credentials), %d upstreams, %d targets",
		r.Services, r.Routes, r.RegexRoutes, r.Plugins, r.Consumers, r.Credentials, r.Upstreams, r.Targets)
}

// ErrNotBootstrapped: Seed needs the schema "kong migrations bootstrap" creates.
var ErrNotBootstrapped = errors.New("kongdb: seed: database is not bootstrapped; run 'kong migrations bootstrap' first")

// ServicePlugins are the plugins Seed puts on each service, in order, with their config as
// Kong 2.8 stores it (rate-limiting's Redis settings flat, as before 3.6).
var ServicePlugins = []struct{ Name, Config string }{
	{"rate-limiting", `{"second": null, "minute": 600, "hour": 10000, "day": null, "month": null, "year": null, "limit_by": "consumer", "header_name": null, "path": null, "policy": "local", "fault_tolerant": true, "hide_client_headers": false, "redis_host": null, "redis_port": 6379, "redis_password": null, "redis_timeout": 2000, "redis_database": 0}`},
	{"key-auth", `{"key_names": ["apikey"], "hide_credentials": false, "anonymous": null, "key_in_header": true, "key_in_query": true, "key_in_body": false, "run_on_preflight": true}`},
	{"cors", `{"origins": ["*"], "methods": ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"], "headers": null, "exposed_headers": null, "credentials": false, "max_age": 3600, "preflight_continue": false}`},
	{"correlation-id", `{"header_name": "Kong-Request-ID", "generator": "uuid#counter", "echo_downstream": false}`},
}

// PrometheusConfig is the global prometheus plugin's config as version v's schema has it
// (kong/plugins/prometheus/schema.lua): 2.8 has only per_consumer; 3.0 adds the
// status_code, latency, bandwidth and upstream_health flags (default false), which the seed
// turns on; 3.8 adds ai_metrics (left off). Per-consumer labels are off.
func PrometheusConfig(v facts.Version) string {
	switch {
	case v.Major < 3:
		return `{"per_consumer": false}`
	case v.AtLeast("3.8.0"):
		return `{"per_consumer": false, "status_code_metrics": true, "ai_metrics": false, "latency_metrics": true, "bandwidth_metrics": true, "upstream_health_metrics": true}`
	}
	return `{"per_consumer": false, "status_code_metrics": true, "latency_metrics": true, "bandwidth_metrics": true, "upstream_health_metrics": true}`
}

const healthchecks = `{"active": {"type": "http", "timeout": 1, "concurrency": 10, "http_path": "/", "https_verify_certificate": true, "healthy": {"interval": 0, "successes": 0, "http_statuses": [200, 302]}, "unhealthy": {"interval": 0, "timeouts": 0, "tcp_failures": 0, "http_failures": 0, "http_statuses": [429, 404, 500, 501, 502, 503, 504, 505]}}, "passive": {"type": "http", "healthy": {"successes": 0, "http_statuses": [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308]}, "unhealthy": {"timeouts": 0, "tcp_failures": 0, "http_failures": 0, "http_statuses": [429, 500, 503]}}, "threshold": 0}`

// seedEpoch is the created_at of the first seeded row; later rows are a second apart.
var seedEpoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func (o SeedOptions) validate() error {
	for _, f := range []struct {
		name string
		n    int
	}{{"Services", o.Services}, {"RoutesPerService", o.RoutesPerService}, {"PluginsPerService", o.PluginsPerService},
		{"Consumers", o.Consumers}, {"Upstreams", o.Upstreams}, {"TargetsPerUpstream", o.TargetsPerUpstream}} {
		if f.n < 0 {
			return fmt.Errorf("kongdb: seed: %s is %d, want 0 or more", f.name, f.n)
		}
	}
	if o.PluginsPerService > len(ServicePlugins) {
		return fmt.Errorf("kongdb: seed: PluginsPerService is %d, want at most %d", o.PluginsPerService, len(ServicePlugins))
	}
	return nil
}

// Seed writes a realistic configuration into the default workspace, in one transaction:
// services (pointing at the upstreams when there are any) with routes and plugins,
// consumers with key-auth credentials, upstreams with targets, and optionally a global
// prometheus plugin. Every id, name and timestamp is derived from the entity's position,
// so two seeds of the same size are identical but for the workspace id. It works on every
// schema from 2.8.0 to 3.9.x and writes what that version would: regex paths without "~"
// before 3.0 (016_280_to_300 converts them) and with it from 3.0; targets.cache_key where
// the column exists.
func Seed(ctx context.Context, db *DB, o SeedOptions) (SeedResult, error) {
	if err := o.validate(); err != nil {
		return SeedResult{}, err
	}
	var res SeedResult
	for _, t := range []string{"schema_meta", "workspaces"} {
		ok, err := db.hasTable(ctx, t)
		if err != nil {
			return res, fmt.Errorf("kongdb: seed: %w", err)
		}
		if !ok {
			return res, ErrNotBootstrapped
		}
	}
	if err := db.queryRow(ctx, `SELECT id::text FROM workspaces WHERE name = 'default'`).Scan(&res.WorkspaceID); err != nil {
		return res, fmt.Errorf("kongdb: seed: default workspace: %w", err)
	}
	s := &seeder{db: db, o: o, res: &res}
	var err error
	if s.kong3, err = db.hasColumn(ctx, "routes", "expression"); err != nil {
		return res, fmt.Errorf("kongdb: seed: %w", err)
	}
	if s.targetCacheKey, err = db.hasColumn(ctx, "targets", "cache_key"); err != nil {
		return res, fmt.Errorf("kongdb: seed: %w", err)
	}
	tx, err := db.conn.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("kongdb: seed: %w", err)
	}
	s.tx = tx
	if err := s.all(ctx); err != nil {
		rollback(tx)
		return SeedResult{}, fmt.Errorf("kongdb: seed: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return SeedResult{}, fmt.Errorf("kongdb: seed: %w", err)
	}
	return res, nil
}

type seeder struct {
	db             *DB
	tx             pgx.Tx
	o              SeedOptions
	res            *SeedResult
	kong3          bool // routes.expression exists: regex paths carry "~"
	targetCacheKey bool
	clock          int // seconds after seedEpoch of the next created_at
}

func (s *seeder) at() time.Time {
	s.clock++
	return seedEpoch.Add(time.Duration(s.clock) * time.Second)
}

// insert runs one INSERT … ON CONFLICT DO NOTHING and adds the row to *count if it went in.
func (s *seeder) insert(ctx context.Context, count *int, sql string, args ...any) error {
	ctx, cancel := s.db.opCtx(ctx)
	defer cancel()
	tag, err := s.tx.Exec(ctx, sql+"\nON CONFLICT DO NOTHING", args...)
	if err != nil {
		return err
	}
	*count += int(tag.RowsAffected())
	return nil
}

func (s *seeder) all(ctx context.Context) error {
	for u := 1; u <= s.o.Upstreams; u++ {
		if err := s.upstream(ctx, u); err != nil {
			return err
		}
	}
	for i := 1; i <= s.o.Services; i++ {
		if err := s.service(ctx, i); err != nil {
			return err
		}
	}
	for c := 1; c <= s.o.Consumers; c++ {
		if err := s.consumer(ctx, c); err != nil {
			return err
		}
	}
	if s.o.Prometheus {
		v := facts.MustParseVersion("3.0.0")
		if s.o.Version != "" {
			var err error
			if v, err = facts.ParseVersion(s.o.Version); err != nil {
				return fmt.Errorf("kongdb: seed: %w", err)
			}
		} else if !s.kong3 {
			v = facts.MustParseVersion("2.8.0")
		}
		return s.insert(ctx, &s.res.Plugins, `INSERT INTO plugins (id, created_at, name, config, enabled, cache_key, protocols, tags, ws_id)
     VALUES ($1, $2, 'prometheus', $3::jsonb, true, $4, '{grpc,grpcs,http,https}', '{kongsim}', $5)`,
			seedID("plugin", "prometheus"), s.at(), PrometheusConfig(v),
			"plugins:prometheus:::::"+s.res.WorkspaceID, s.res.WorkspaceID)
	}
	return nil
}

func (s *seeder) upstream(ctx context.Context, u int) error {
	id, name := seedID("upstream", u), fmt.Sprintf("upstream-%02d", u)
	err := s.insert(ctx, &s.res.Upstreams, `INSERT INTO upstreams (id, created_at, name, hash_on, hash_fallback, hash_on_cookie_path, slots, healthchecks, tags, algorithm, ws_id)
     VALUES ($1, $2, $3, 'none', 'none', '/', 10000, $4::jsonb, $5, 'round-robin', $6)`,
		id, s.at(), name, healthchecks, []string{"kongsim", name}, s.res.WorkspaceID)
	if err != nil {
		return err
	}
	for t := 1; t <= s.o.TargetsPerUpstream; t++ {
		target := fmt.Sprintf("10.1.%d.%d:8080", u, t)
		cols, vals := "id, created_at, upstream_id, target, weight, tags, ws_id", "$1, $2, $3, $4, 100, '{kongsim}', $5"
		args := []any{seedID("target", u, t), s.at(), id, target, s.res.WorkspaceID}
		if s.targetCacheKey {
			cols, vals = cols+", cache_key", vals+", $6"
			args = append(args, fmt.Sprintf("targets:%s:%s::::%s", id, target, s.res.WorkspaceID))
		}
		if err := s.insert(ctx, &s.res.Targets, "INSERT INTO targets ("+cols+") VALUES ("+vals+")", args...); err != nil {
			return err
		}
	}
	return nil
}

func (s *seeder) service(ctx context.Context, i int) error {
	id, name := seedID("service", i), fmt.Sprintf("svc-%03d", i)
	host, port := fmt.Sprintf("%s.internal", name), 8080
	if s.o.Upstreams > 0 {
		host, port = fmt.Sprintf("upstream-%02d", (i-1)%s.o.Upstreams+1), 80
	}
	at := s.at()
	err := s.insert(ctx, &s.res.Services, `INSERT INTO services (id, created_at, updated_at, name, retries, protocol, host, port, path, connect_timeout, write_timeout, read_timeout, tags, enabled, ws_id)
     VALUES ($1, $2, $2, $3, 5, 'http', $4, $5, $6, 60000, 60000, 60000, $7, true, $8)`,
		id, at, name, host, port, "/api", []string{"kongsim", name}, s.res.WorkspaceID)
	if err != nil {
		return err
	}
	for r := 1; r <= s.o.RoutesPerService; r++ {
		if err := s.route(ctx, id, name, i, r); err != nil {
			return err
		}
	}
	for p := 0; p < s.o.PluginsPerService; p++ {
		pl := ServicePlugins[p]
		err := s.insert(ctx, &s.res.Plugins, `INSERT INTO plugins (id, created_at, name, service_id, config, enabled, cache_key, protocols, tags, ws_id)
     VALUES ($1, $2, $3, $4, $5::jsonb, true, $6, '{grpc,grpcs,http,https}', $7, $8)`,
			seedID("plugin", i, p), s.at(), pl.Name, id, pl.Config,
			fmt.Sprintf("plugins:%s::%s:::%s", pl.Name, id, s.res.WorkspaceID), []string{"kongsim", name}, s.res.WorkspaceID)
		if err != nil {
			return err
		}
	}
	return nil
}

// route r of service i: odd routes match a prefix, even ones a regex (stored without the
// "~" prefix before 3.0, with it from 3.0, as each version's Admin API would store it).
func (s *seeder) route(ctx context.Context, serviceID, service string, i, r int) error {
	name := fmt.Sprintf("%s-route-%d", service, r)
	path, methods, strip, priority := fmt.Sprintf("/%s/v%d", service, r), []string(nil), true, 0
	regex := r%2 == 0
	if regex {
		path, methods, strip, priority = fmt.Sprintf(`/%s/v%d/items/(?<id>\d+)$`, service, r), []string{"GET"}, false, 10
		if s.kong3 {
			path = "~" + path
		}
	}
	before := s.res.Routes
	err := s.insert(ctx, &s.res.Routes, `INSERT INTO routes (id, created_at, updated_at, name, service_id, protocols, methods, paths, regex_priority, strip_path, preserve_host, tags, https_redirect_status_code, path_handling, request_buffering, response_buffering, ws_id)
     VALUES ($1, $2, $2, $3, $4, '{http,https}', $5, $6, $7, $8, false, $9, 426, 'v0', true, true, $10)`,
		seedID("route", i, r), s.at(), name, serviceID, methods, []string{path}, priority, strip,
		[]string{"kongsim", service}, s.res.WorkspaceID)
	if regex && s.res.Routes > before {
		s.res.RegexRoutes++
	}
	return err
}

func (s *seeder) consumer(ctx context.Context, c int) error {
	id, name := seedID("consumer", c), fmt.Sprintf("consumer-%03d", c)
	err := s.insert(ctx, &s.res.Consumers, `INSERT INTO consumers (id, created_at, username, custom_id, tags, ws_id)
     VALUES ($1, $2, $3, $4, '{kongsim}', $5)`,
		id, s.at(), name, fmt.Sprintf("cid-%03d", c), s.res.WorkspaceID)
	if err != nil {
		return err
	}
	return s.insert(ctx, &s.res.Credentials, `INSERT INTO keyauth_credentials (id, created_at, consumer_id, key, tags, ws_id)
     VALUES ($1, $2, $3, $4, '{kongsim}', $5)`,
		seedID("keyauth", c), s.at(), id, fmt.Sprintf("kongsim-key-%03d", c), s.res.WorkspaceID)
}

// seedID is a name-based (version 5 style) UUID of the entity's kind and position.
func seedID(kind string, pos ...any) string {
	h := sha1.Sum(fmt.Appendf(nil, "kongsim/seed/%s/%v", kind, pos))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func (db *DB) hasColumn(ctx context.Context, table, column string) (bool, error) {
	var found bool
	err := db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = CURRENT_SCHEMA AND table_name = $1 AND column_name = $2)`, table, column).Scan(&found)
	return found, err
}
