package kongdb

import (
	"encoding/json"
	"testing"
)

// The plugin migrations that rewrite configs do so on real rows: up keeps what old nodes
// read, finish removes it.
func TestPluginConfigMigrations(t *testing.T) {
	t.Parallel()
	c := setup(t, "2.8.5 bootstrapped")
	conn := raw(t, c)
	for name, cfg := range map[string]string{
		"http-log":              `{"http_endpoint": "http://logs", "headers": {"X-A": ["1", "2"], "X-B": ["3"]}}`,
		"pre-function":          `{"functions": ["return 1"]}`,
		"acme":                  `{"storage": "redis", "storage_config": {"redis": {"host": "r", "port": 6379, "namespace": "ns", "ssl_server_name": "r.example"}}}`,
		"response-ratelimiting": `{"limits": {"sms": {"minute": 10}}, "redis_host": "r", "redis_port": 6380}`,
		"opentelemetry":         `{"endpoint": "http://otel", "batch_span_count": 200, "batch_flush_delay": 3}`,
	} {
		_, err := conn.Exec(t.Context(), `INSERT INTO plugins (id, name, config, enabled, cache_key, ws_id)
     VALUES (md5($1)::uuid, $1, $2::jsonb, true, 'plugins:' || $1 || ':::::', (SELECT id FROM workspaces))`, name, cfg)
		if err != nil {
			t.Fatal(err)
		}
	}
	config := func(name string) string {
		var cfg string
		if err := conn.QueryRow(t.Context(), `SELECT config::text FROM plugins WHERE name = $1`, name).Scan(&cfg); err != nil {
			t.Fatal(err)
		}
		return canon(t, cfg)
	}
	check := func(when string, want map[string]string) {
		t.Helper()
		for name, w := range want {
			if got := config(name); got != canon(t, w) {
				t.Errorf("%s: %s config\n%s\nwant\n%s", when, name, got, canon(t, w))
			}
		}
	}

	must(t, c, "3.9.3", "up", Options{})
	check("after up", map[string]string{
		"http-log":              `{"http_endpoint": "http://logs", "headers": {"X-A": ["1", "2"], "X-B": ["3"]}}`,
		"pre-function":          `{"functions": ["return 1"], "access": ["return 1"]}`, // up_f copies; the teardown removes functions
		"acme":                  `{"storage": "redis", "storage_config": {"redis": {"host": "r", "port": 6379, "namespace": "ns", "ssl_server_name": "r.example", "server_name": "r.example", "extra_options": {"namespace": "ns"}}}}`,
		"response-ratelimiting": `{"limits": {"sms": {"minute": 10}}, "redis_host": "r", "redis_port": 6380, "redis": {"host": "r", "port": 6380, "username": null, "password": null, "database": null, "timeout": null, "ssl": null, "ssl_verify": null, "server_name": null}}`,
		"opentelemetry":         `{"endpoint": "http://otel", "batch_span_count": 200, "batch_flush_delay": 3, "queue": {"max_batch_size": 200, "max_coalescing_delay": 3}}`,
	})
	must(t, c, "3.9.3", "finish", Options{})
	check("after finish", map[string]string{
		"pre-function":          `{"access": ["return 1"]}`,
		"http-log":              `{"http_endpoint": "http://logs", "headers": {"X-A": "1", "X-B": "3"}}`,
		"acme":                  `{"storage": "redis", "storage_config": {"redis": {"host": "r", "port": 6379, "server_name": "r.example", "extra_options": {"namespace": "ns"}}}}`,
		"response-ratelimiting": `{"limits": {"sms": {"minute": 10}}, "redis": {"host": "r", "port": 6380, "username": null, "password": null, "database": null, "timeout": null, "ssl": null, "ssl_verify": null, "server_name": null}}`,
		"opentelemetry":         `{"endpoint": "http://otel", "queue": {"max_batch_size": 200, "max_coalescing_delay": 3}}`,
	})
}

func canon(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
