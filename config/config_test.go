package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// base is a small valid configuration; bad cases are written as edits of it.
const base = `listen: "127.0.0.1:8080"
state_file: ./data/drawbridge.db
backup_dir: ./data/backups
slack:
  bot_token: ${BOT}
  signing_secret: ${SIGNING}
  command: /kong-upgrade
  channel: C0123456789
access:
  operators: [U0AAAAAAA, S0PLATFORM]
  approvers: [S0CHANGEMGR]
  required_approvals: 1
  approval_timeout: 2h
windows:
  - name: sunday-night
    cron: "0 2 * * SUN"
    duration: 2h
    timezone: Europe/Berlin
    remind_before: 1h
blackouts:
  - name: year-end
    from: 2026-12-20T00:00:00Z
    to: 2027-01-04T00:00:00Z
clusters:
  - name: prod-eu
    windows: [sunday-night]
    database:
      dsn: ${DSN}
    nodes:
      - name: kong-eu-1
        admin_url: http://10.1.0.11:8001
        status_url: http://10.1.0.11:8100
        vars: { host: 10.1.0.11 }
    parallelism: 10
    command_timeout: 10m
    commands:
      stop: [ssh, "{{.Node.Vars.host}}", sudo, kong, stop]
      install: [ssh, "{{.Node.Vars.host}}", sudo, apt-get, install, -y, "kong={{.Version}}"]
      migrations_up: [ssh, 10.1.0.11, sudo, kong, migrations, up, -y, "{{if .Force}}-f{{end}}"]
      migrations_finish: [ssh, 10.1.0.11, sudo, kong, migrations, finish, -y]
      start: [ssh, "{{.Node.Vars.host}}", sudo, kong, start]
    prometheus:
      url: http://prometheus:9090
      selector: 'cluster="prod-eu"'
    watch:
      duration: 15m
      interval: 30s
      failure_limit: 2
      checks:
        - name: 5xx ratio
          query: 'sum(rate(kong_http_requests_total{ {{.Selector}}, code=~"5.." }[1m]))'
          max: 0.01
`

var testEnv = map[string]string{
	"BOT":     "xoxb-123-456-abcdef",
	"SIGNING": "8f742231b10e8888abcd99yyyzzz85a5",
	"DSN":     "postgres://kong:s3cret-pw@127.0.0.1:5432/kong",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func parse(t *testing.T, yaml string, env map[string]string) (*Config, *Problems) {
	t.Helper()
	cfg, err := Parse("test.yaml", []byte(yaml), LoadOptions{LookupEnv: lookup(env)})
	if err == nil {
		return cfg, nil
	}
	var ps *Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse error is %T, want *Problems: %v", err, err)
	}
	return nil, ps
}

func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(base, old) {
		t.Fatalf("base has no %q", old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestBaseIsValid(t *testing.T) {
	cfg, ps := parse(t, base, testEnv)
	if ps != nil {
		t.Fatalf("base config: %v", ps)
	}
	if got := cfg.Clusters[0].Nodes[0].Vars["host"]; got != "10.1.0.11" {
		t.Errorf("vars.host = %q", got)
	}
	if cfg.Slack.BotToken.Reveal() != testEnv["BOT"] {
		t.Errorf("bot token not expanded: %q", cfg.Slack.BotToken.Reveal())
	}
	if cfg, ps := parse(t, edit(t, "  channel: C0123456789", "  channel: C0123456789\n  team: T0123ABCD"), testEnv); ps != nil {
		t.Errorf("slack.team T0123ABCD refused: %v", ps)
	} else if cfg.Slack.Team != "T0123ABCD" {
		t.Errorf("slack.team = %q", cfg.Slack.Team)
	}
}

// TestBadConfigs: each case edits the valid base and must yield a problem naming the key,
// on the key's line, with a message saying what is wrong.
func TestBadConfigs(t *testing.T) {
	cases := []struct {
		name     string
		old, new string
		env      map[string]string // nil: testEnv
		path     string            // key path the problem must name
		line     int               // 0: do not check
		msg      string            // substring of the message
	}{
		{"unknown top-level key", "listen:", "lsiten:", nil, "lsiten", 1, `unknown key "lsiten"`},
		{"unknown nested key", "  channel: C0123456789", "  chanel: C0123456789", nil, "slack.chanel", 8, `unknown key "chanel"`},
		{"unknown key in node", "        status_url:", "        statusurl:", nil, "clusters[0].nodes[0].statusurl", 0, "unknown key"},
		{"listen not an address", `listen: "127.0.0.1:8080"`, `listen: "8080"`, nil, "listen", 1, "is not an address"},
		{"listen bad port", `listen: "127.0.0.1:8080"`, `listen: "127.0.0.1:99999"`, nil, "listen", 1, "has port"},
		{"empty state_file", "state_file: ./data/drawbridge.db", `state_file: ""`, nil, "state_file", 2, "is empty"},
		{"bot token wrong kind", "", "", map[string]string{"BOT": "xoxp-user-token", "SIGNING": "s", "DSN": testEnv["DSN"]}, "slack.bot_token", 5, "xoxb-"},
		{"bot token env unset", "", "", map[string]string{"SIGNING": "s", "DSN": testEnv["DSN"]}, "slack.bot_token", 5, "environment variable BOT is not set"},
		{"signing secret needed in HTTP mode", "", "", map[string]string{"BOT": "xoxb-1", "DSN": testEnv["DSN"]}, "slack.signing_secret", 6, "SIGNING is not set"},
		{"env var inside a longer value", "      dsn: ${DSN}", "      dsn: postgres://kong:${PGPASS}@db/kong", nil, "clusters[0].database.dsn", 28, "PGPASS is not set"},
		{"bad variable reference", "      dsn: ${DSN}", "      dsn: ${DSN", nil, "clusters[0].database.dsn", 28, "not a valid variable reference"},
		{"app token wrong kind", "  command: /kong-upgrade", "  app_token: xoxb-not-an-app-token\n  command: /kong-upgrade", nil, "slack.app_token", 7, "xapp-"},
		{"api_url not a URL", "  command: /kong-upgrade", "  api_url: slack.example\n  command: /kong-upgrade", nil, "slack.api_url", 7, "scheme"},
		{"slash command without slash", "  command: /kong-upgrade", "  command: kong-upgrade", nil, "slack.command", 7, "not a slash command"},
		{"channel by name", "  channel: C0123456789", "  channel: \"#ops\"", nil, "slack.channel", 8, "not a channel ID"},
		{"team by domain", "  channel: C0123456789", "  channel: C0123456789\n  team: acme.slack.com", nil, "slack.team", 9, `"acme.slack.com" is not a Slack team ID`},
		{"team in lower case", "  channel: C0123456789", "  channel: C0123456789\n  team: t0123abcd", nil, "slack.team", 9, "not a Slack team ID"},
		{"operator by name", "operators: [U0AAAAAAA, S0PLATFORM]", "operators: [U0AAAAAAA, \"@alice\"]", nil, "access.operators[1]", 10, "not a Slack user or user group ID"},
		{"no approvers", "approvers: [S0CHANGEMGR]", "approvers: []", nil, "access.approvers", 11, "nobody could act"},
		{"duplicate approver", "approvers: [S0CHANGEMGR]", "approvers: [U0BBBBBBB, U0BBBBBBB]", nil, "access.approvers[1]", 11, "listed twice"},
		{"required approvals zero", "required_approvals: 1", "required_approvals: 0", nil, "access.required_approvals", 12, "unapproved"},
		{"required approvals more than approvers", "approvers: [S0CHANGEMGR]\n  required_approvals: 1", "approvers: [U0BBBBBBB]\n  required_approvals: 2", nil, "access.required_approvals", 12, "could ever be approved"},
		{"required approvals not a number", "required_approvals: 1", "required_approvals: two", nil, "access.required_approvals", 12, "not a whole number"},
		{"approval timeout in days", "approval_timeout: 2h", "approval_timeout: 1d", nil, "access.approval_timeout", 13, "no days"},
		{"duration without unit", "    duration: 2h\n    timezone", "    duration: 120\n    timezone", nil, "windows[0].duration", 17, "needs a unit"},
		{"window zero duration", "    duration: 2h\n    timezone", "    duration: 0s\n    timezone", nil, "windows[0].duration", 17, "never be open"},
		{"cron six fields", `cron: "0 2 * * SUN"`, `cron: "0 0 2 * * SUN"`, nil, "windows[0].cron", 16, "expected exactly 5 fields"},
		{"cron TZ prefix (robfig panics)", `cron: "0 2 * * SUN"`, `cron: "TZ=UTC"`, nil, "windows[0].cron", 16, "time zone prefix"},
		{"cron never matches", `cron: "0 2 * * SUN"`, `cron: "0 0 30 2 *"`, nil, "windows[0].cron", 16, "never matches"},
		{"cron @every", `cron: "0 2 * * SUN"`, `cron: "@every 1h"`, nil, "windows[0].cron", 16, "interval"},
		{"unknown time zone", "timezone: Europe/Berlin", "timezone: Europe/Berlinn", nil, "windows[0].timezone", 18, "not a known time zone"},
		{"window named next", "  - name: sunday-night", "  - name: next", nil, "windows[0].name", 15, "reserved"},
		{"duplicate window", "blackouts:", "  - name: sunday-night\n    cron: \"0 3 * * SAT\"\n    duration: 1h\nblackouts:", nil, "windows[1].name", 20, "defined twice"},
		{"negative remind_before", "remind_before: 1h", "remind_before: -1h", nil, "windows[0].remind_before", 19, "negative"},
		{"blackout date only", "from: 2026-12-20T00:00:00Z", "from: 2026-12-20", nil, "blackouts[0].from", 22, "not an RFC 3339 time"},
		{"blackout ends before it starts", "to: 2027-01-04T00:00:00Z", "to: 2026-12-01T00:00:00Z", nil, "blackouts[0].to", 23, "not after from"},
		{"cluster name with spaces", "  - name: prod-eu", "  - name: Prod EU", nil, "clusters[0].name", 25, "not a valid cluster name"},
		{"window reference missing", "windows: [sunday-night]", "windows: [saturday-night]", nil, "clusters[0].windows[0]", 26, `window "saturday-night" is not defined`},
		{"dsn not parseable", "", "", map[string]string{"BOT": "xoxb-1", "SIGNING": "s", "DSN": "postgres://kong:pw@db:notaport/kong"}, "clusters[0].database.dsn", 28, "not a PostgreSQL connection string"},
		{"no nodes", "    nodes:\n      - name: kong-eu-1\n        admin_url: http://10.1.0.11:8001\n        status_url: http://10.1.0.11:8100\n        vars: { host: 10.1.0.11 }\n", "    nodes: []\n", nil, "clusters[0].nodes", 29, "nothing to upgrade"},
		{"admin url bad scheme", "admin_url: http://10.1.0.11:8001", "admin_url: tcp://10.1.0.11:8001", nil, "clusters[0].nodes[0].admin_url", 31, "scheme"},
		{"admin url missing", "        admin_url: http://10.1.0.11:8001\n", "", nil, "clusters[0].nodes[0].admin_url", 30, "is missing"},
		{"duplicate node", "        vars: { host: 10.1.0.11 }\n", "        vars: { host: 10.1.0.11 }\n      - name: kong-eu-1\n        admin_url: http://10.1.0.12:8001\n        vars: { host: 10.1.0.12 }\n", nil, "clusters[0].nodes[1].name", 34, "defined twice"},
		{"vars not a mapping", "vars: { host: 10.1.0.11 }", "vars: [10.1.0.11]", nil, "clusters[0].nodes[0].vars", 33, "not a mapping"},
		{"parallelism zero", "parallelism: 10", "parallelism: 0", nil, "clusters[0].parallelism", 34, "is 0"},
		{"command timeout negative", "command_timeout: 10m", "command_timeout: -5m", nil, "clusters[0].command_timeout", 35, "-5m"},
		{"required command missing", "      stop: [ssh, \"{{.Node.Vars.host}}\", sudo, kong, stop]\n", "", nil, "clusters[0].commands.stop", 36, "is missing"},
		{"command template syntax", `stop: [ssh, "{{.Node.Vars.host}}", sudo, kong, stop]`, `stop: [ssh, "{{.Node.Vars.host}", sudo, kong, stop]`, nil, "clusters[0].commands.stop[1]", 37, "bad character"},
		{"command template unknown field", `start: [ssh, "{{.Node.Vars.host}}", sudo, kong, start]`, `start: [ssh, "{{.Node.Host}}", sudo, kong, start]`, nil, "clusters[0].commands.start", 41, "can't evaluate field Host"},
		{"command template var a node lacks", `start: [ssh, "{{.Node.Vars.host}}", sudo, kong, start]`, `start: [ssh, "{{.Node.Vars.hostname}}", sudo, kong, start]`, nil, "clusters[0].commands.start", 41, `map has no entry for key "hostname"`},
		{"command program renders empty", `stop: [ssh, "{{.Node.Vars.host}}", sudo, kong, stop]`, `stop: ["{{if .Force}}ssh{{end}}", kong, stop]`, nil, "clusters[0].commands.stop", 37, "renders empty"},
		{"command not a list", `stop: [ssh, "{{.Node.Vars.host}}", sudo, kong, stop]`, `stop: "ssh host sudo kong stop"`, nil, "clusters[0].commands.stop", 37, "is not a list"},
		{"no install and start ignores version", "      install: [ssh, \"{{.Node.Vars.host}}\", sudo, apt-get, install, -y, \"kong={{.Version}}\"]\n", "", nil, "clusters[0].commands.install", 36, "nothing would put the new version"},
		{"prometheus url missing", "      url: http://prometheus:9090\n", "", nil, "clusters[0].prometheus.url", 42, "is missing"},
		{"selector not matchers", `selector: 'cluster="prod-eu"'`, `selector: 'cluster=prod-eu'`, nil, "clusters[0].prometheus.selector", 44, "label matchers"},
		{"watch interval longer than duration", "interval: 30s", "interval: 20m", nil, "clusters[0].watch.interval", 47, "before its first check"},
		{"watch too short to see a breach", "      duration: 15m\n      interval: 30s\n      failure_limit: 2", "      duration: 1m\n      interval: 30s\n      failure_limit: 3", nil, "clusters[0].watch.duration", 0, "the watch would end before a breach could be seen"},
		{"failure limit zero", "failure_limit: 2", "failure_limit: 0", nil, "clusters[0].watch.failure_limit", 48, "is 0"},
		{"check without threshold", "          max: 0.01\n", "", nil, "clusters[0].watch.checks[0]", 50, "no threshold"},
		{"check query unknown field", "{{.Selector}}, code", "{{.Cluster.Selector}}, code", nil, "clusters[0].watch.checks[0].query", 51, "can't evaluate field Selector"},
		{"ratio threshold zero", "          max: 0.01\n", "          max_ratio_to_baseline: 0\n", nil, "clusters[0].watch.checks[0].max_ratio_to_baseline", 52, "above 0"},
		{"min above max", "          max: 0.01\n", "          max: 0.01\n          min: 0.5\n", nil, "clusters[0].watch.checks[0].min", 53, "every value would fail"},
		{"threshold not a number", "max: 0.01", "max: 1%", nil, "clusters[0].watch.checks[0].max", 52, "not a number"},
		{"auto_rollback not a bool", "failure_limit: 2", "failure_limit: 2\n      auto_rollback: yes", nil, "clusters[0].watch.auto_rollback", 49, "true or false"},
		{"rehearsal without migrations_up", "    prometheus:\n", "    rehearsal:\n      migrations_finish: [kong, migrations, finish]\n    prometheus:\n", nil, "clusters[0].rehearsal.migrations_up", 0, "is missing"},
		{"rehearsal without migrations_finish", "    prometheus:\n", "    rehearsal:\n      migrations_up: [kong, migrations, up]\n    prometheus:\n", nil, "clusters[0].rehearsal.migrations_finish", 0, "needs both"},
		{"rehearsal template unknown field", "    prometheus:\n", "    rehearsal:\n      migrations_up: [env, \"KONG_PG_DATABASE={{.Scratch.Name}}\", kong, migrations, up]\n      migrations_finish: [kong, migrations, finish]\n    prometheus:\n", nil, "clusters[0].rehearsal.migrations_up", 0, "can't evaluate field Name"},
		{"rehearsal dsn not parseable", "    prometheus:\n", "    rehearsal:\n      dsn: postgres://u:pw@db:notaport/x\n      migrations_up: [kong, migrations, up]\n      migrations_finish: [kong, migrations, finish]\n    prometheus:\n", nil, "clusters[0].rehearsal.dsn", 0, "not a PostgreSQL connection string"},
		{"keys forgotten within Slack's replay", "clusters:\n", "retention:\n  idempotency_keys: 5m\nclusters:\n", nil, "retention.idempotency_keys", 25, "carried out twice"},
		{"keys kept in days", "clusters:\n", "retention:\n  idempotency_keys: 1d\nclusters:\n", nil, "retention.idempotency_keys", 25, "no days"},
		{"dead letters gone at once", "clusters:\n", "retention:\n  dead_letters: 0s\nclusters:\n", nil, "retention.dead_letters", 25, "before anyone could look"},
		{"records pruned within a day", "clusters:\n", "retention:\n  records: 1h\nclusters:\n", nil, "retention.records", 25, "before anyone could read it"},
		{"negative backups per cluster", "clusters:\n", "retention:\n  backups_per_cluster: -1\nclusters:\n", nil, "retention.backups_per_cluster", 25, "0 to keep every archive"},
		{"unknown retention key", "clusters:\n", "retention:\n  keys: 24h\nclusters:\n", nil, "retention.keys", 25, `unknown key "keys"`},
		{"yaml syntax error", "access:\n  operators", "access:\n operators", nil, "", 9, "not valid YAML"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d bad configs", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			yaml := base
			if tc.old != "" || tc.new != "" {
				yaml = edit(t, tc.old, tc.new)
			}
			env := tc.env
			if env == nil {
				env = testEnv
			}
			_, ps := parse(t, yaml, env)
			if ps == nil {
				t.Fatalf("config accepted; want a problem at %s", tc.path)
			}
			for _, p := range ps.List {
				if p.Path == tc.path && strings.Contains(p.String(), tc.msg) {
					if tc.line != 0 && p.Line != tc.line {
						t.Errorf("problem %q on line %d, want line %d", p, p.Line, tc.line)
					}
					if tc.path != "" && !strings.Contains(ps.Error(), tc.path) {
						t.Errorf("the printed report does not name %s:\n%s", tc.path, ps.Error())
					}
					return
				}
			}
			t.Fatalf("no problem at %q containing %q; got:\n%v", tc.path, tc.msg, ps)
		})
	}
}

// TestAllProblemsAtOnce: several independent mistakes are all reported, in file order.
func TestAllProblemsAtOnce(t *testing.T) {
	yaml := base
	for _, e := range [][2]string{
		{"  channel: C0123456789", "  channel: general"},
		{"required_approvals: 1", "required_approvals: 0"},
		{"timezone: Europe/Berlin", "timezone: Mars/Olympus"},
		{"parallelism: 10", "parallelism: -1"},
	} {
		yaml = strings.Replace(yaml, e[0], e[1], 1)
	}
	_, ps := parse(t, yaml, testEnv)
	if ps == nil {
		t.Fatal("accepted")
	}
	want := []string{"slack.channel", "access.required_approvals", "windows[0].timezone", "clusters[0].parallelism"}
	if len(ps.List) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps.List), len(want), ps)
	}
	for i, p := range ps.List {
		if p.Path != want[i] {
			t.Errorf("problem %d is at %s, want %s", i, p.Path, want[i])
		}
		if p.Want == "" {
			t.Errorf("problem %q does not say what would be right", p)
		}
	}
}

func TestDefaults(t *testing.T) {
	yaml := base
	for _, drop := range []string{"    parallelism: 10\n", "    command_timeout: 10m\n", "  required_approvals: 1\n", "    timezone: Europe/Berlin\n", "      interval: 30s\n"} {
		yaml = strings.Replace(yaml, drop, "", 1)
	}
	cfg, ps := parse(t, yaml, testEnv)
	if ps != nil {
		t.Fatal(ps)
	}
	c := cfg.Clusters[0]
	if c.Parallelism != 10 || c.CommandTimeout.D() != 10*time.Minute || c.Watch.Interval.D() != 30*time.Second {
		t.Errorf("cluster defaults: parallelism %d, timeout %s, interval %s", c.Parallelism, c.CommandTimeout, c.Watch.Interval)
	}
	if cfg.Access.RequiredApprovals != 1 {
		t.Errorf("required_approvals default %d", cfg.Access.RequiredApprovals)
	}
	if cfg.Windows[0].Location != time.UTC {
		t.Errorf("timezone default %v", cfg.Windows[0].Location)
	}
	if r := cfg.Retention; r.IdempotencyKeys.D() != 24*time.Hour || r.DeadLetters.D() != 720*time.Hour || r.BackupsPerCluster != 5 {
		t.Errorf("retention defaults %+v", r)
	}
}

// TestRetention: retention keys keep what is written, 0 backups (keep every archive)
// included, and a key left out still gets its default.
func TestRetention(t *testing.T) {
	cfg, ps := parse(t, edit(t, "clusters:\n", "retention:\n  idempotency_keys: 1h\n  backups_per_cluster: 0\nclusters:\n"), testEnv)
	if ps != nil {
		t.Fatal(ps)
	}
	if r := cfg.Retention; r.IdempotencyKeys.D() != time.Hour || r.BackupsPerCluster != 0 || r.DeadLetters.D() != 720*time.Hour {
		t.Errorf("retention %+v, want keys 1h, every backup, dead letters by default", r)
	}
	var out bytes.Buffer
	if err := cfg.WriteSummary(&out, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if want := "retention idempotency keys 1h, dead letters 720h, every backup\n"; !strings.Contains(out.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, out.String())
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Run("optional key left empty by an unset variable", func(t *testing.T) {
		yaml := edit(t, "  command: /kong-upgrade", "  app_token: ${APP}\n  command: /kong-upgrade")
		cfg, ps := parse(t, yaml, testEnv)
		if ps != nil {
			t.Fatal(ps)
		}
		if cfg.Slack.SocketMode() {
			t.Error("Socket Mode with an empty app token")
		}
	})
	t.Run("set app token turns on Socket Mode and frees the signing secret", func(t *testing.T) {
		yaml := edit(t, "  command: /kong-upgrade", "  app_token: ${APP}\n  command: /kong-upgrade")
		cfg, ps := parse(t, yaml, map[string]string{"BOT": "xoxb-1", "APP": "xapp-1-A", "DSN": testEnv["DSN"]})
		if ps != nil {
			t.Fatal(ps)
		}
		if !cfg.Slack.SocketMode() {
			t.Error("not Socket Mode")
		}
	})
	t.Run("a value shared by a YAML alias is expanded once", func(t *testing.T) {
		yaml := edit(t, `      stop: [ssh, "{{.Node.Vars.host}}", sudo, kong, stop]`,
			`      stop: &stop [sh, -c, 'kill $${PID_OF_KONG}', "{{.Node.Vars.host}}"]`+"\n      decommission: *stop")
		cfg, ps := parse(t, yaml, testEnv)
		if ps != nil {
			t.Fatal(ps)
		}
		c := cfg.Clusters[0].Commands
		if c.Stop[2] != "kill ${PID_OF_KONG}" || c.Decommission[2] != "kill ${PID_OF_KONG}" {
			t.Errorf("stop %q, decommission %q: want one $ each", c.Stop[2], c.Decommission[2])
		}
	})
	t.Run("numbers and durations from the environment", func(t *testing.T) {
		yaml := edit(t, "parallelism: 10", "parallelism: ${PAR}")
		yaml = strings.Replace(yaml, "command_timeout: 10m", `command_timeout: "${TMO}"`, 1)
		env := map[string]string{"PAR": "3", "TMO": "90s"}
		for k, v := range testEnv {
			env[k] = v
		}
		cfg, ps := parse(t, yaml, env)
		if ps != nil {
			t.Fatal(ps)
		}
		if cfg.Clusters[0].Parallelism != 3 || cfg.Clusters[0].CommandTimeout.D() != 90*time.Second {
			t.Errorf("got parallelism %d timeout %s", cfg.Clusters[0].Parallelism, cfg.Clusters[0].CommandTimeout)
		}
	})
	t.Run("a string that looks like a number stays text", func(t *testing.T) {
		env := map[string]string{"BOT": "xoxb-1", "SIGNING": "0x10", "DSN": testEnv["DSN"]}
		cfg, ps := parse(t, base, env)
		if ps != nil {
			t.Fatal(ps)
		}
		if cfg.Slack.SigningSecret.Reveal() != "0x10" {
			t.Errorf("signing secret %q", cfg.Slack.SigningSecret.Reveal())
		}
	})
	t.Run("$$ is a literal dollar", func(t *testing.T) {
		yaml := edit(t, "vars: { host: 10.1.0.11 }", "vars: { host: 10.1.0.11, pw: \"a$${b}c\" }")
		cfg, ps := parse(t, yaml, testEnv)
		if ps != nil {
			t.Fatal(ps)
		}
		if got := cfg.Clusters[0].Nodes[0].Vars["pw"]; got != "a${b}c" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("missing variables are listed when allowed", func(t *testing.T) {
		cfg, err := Parse("test.yaml", []byte(base), LoadOptions{LookupEnv: lookup(nil), AllowMissingEnv: true})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range cfg.MissingEnv {
			names = append(names, m.Var+"@"+m.Path)
		}
		want := "BOT@slack.bot_token SIGNING@slack.signing_secret DSN@clusters[0].database.dsn"
		if strings.Join(names, " ") != want {
			t.Errorf("missing = %v, want %s", names, want)
		}
	})
}

// TestSecretsNeverPrinted: neither a problem report nor the summary shows a secret.
func TestSecretsNeverPrinted(t *testing.T) {
	cfg, ps := parse(t, base, testEnv)
	if ps != nil {
		t.Fatal(ps)
	}
	var out bytes.Buffer
	if err := cfg.WriteSummary(&out, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(base, "  channel: C0123456789", "  channel: nope", 1)
	_, ps = parse(t, bad, map[string]string{"BOT": "xoxp-leaky-token", "SIGNING": testEnv["SIGNING"], "DSN": "postgres://kong:s3cret-pw@db:port/kong"})
	report := out.String() + ps.Error()
	for _, secret := range []string{testEnv["BOT"], testEnv["SIGNING"], "s3cret-pw", "xoxp-leaky-token"} {
		if strings.Contains(report, secret) {
			t.Errorf("output shows secret %q:\n%s", secret, report)
		}
	}
	if got := cfg.Slack.BotToken.String(); got != "[redacted]" {
		t.Errorf("Secret.String() = %q", got)
	}
}

func TestExampleValidates(t *testing.T) {
	env := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1-2-x", "SLACK_SIGNING_SECRET": "s", "KONG_PG_DSN": "postgres://kong@db/kong"}
	cfg, err := Load("../examples/config.yaml", LoadOptions{LookupEnv: lookup(env)})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := cfg.Cluster("prod-eu")
	if !ok || len(c.Nodes) != 2 || len(c.Watch.Checks) != 3 {
		t.Fatalf("example decoded wrong: %+v", cfg.Clusters)
	}
	argv, err := c.Commands.MigrationsUp.Render(CommandData{Force: false, Node: NodeDataOf(c.Nodes[0])})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(argv, " "); got != "ssh 10.1.0.11 sudo kong migrations up --db-timeout 600" {
		t.Errorf("migrations_up without force renders %q (the empty -f element must be dropped)", got)
	}
	q, err := c.Watch.Checks[2].Render(QueryData{Selector: c.Prometheus.Selector})
	if err != nil || !strings.Contains(q, `cluster="prod-eu"`) {
		t.Errorf("query renders %q, %v", q, err)
	}
	// The example must also validate where its secrets are not set (validate-config in CI).
	if _, err := Load("../examples/config.yaml", LoadOptions{LookupEnv: lookup(nil), AllowMissingEnv: true}); err != nil {
		t.Fatal(err)
	}
}

func TestWindowOpeningsInZone(t *testing.T) {
	cfg, ps := parse(t, base, testEnv)
	if ps != nil {
		t.Fatal(ps)
	}
	w := cfg.Windows[0] // Sundays 02:00 Europe/Berlin (CET in November: UTC+1)
	got := w.Openings(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), 2)
	want := []string{"2026-11-29T01:00:00Z", "2026-12-06T01:00:00Z"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i].UTC().Format(time.RFC3339) != want[i] {
			t.Errorf("opening %d = %s, want %s", i, got[i].UTC().Format(time.RFC3339), want[i])
		}
	}
}
