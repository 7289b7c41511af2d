package deploy

import (
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/drawbridge/drawbridge/config"
)

// dockerCompose runs `docker-compose -f lab/compose.yaml config args…` (which needs no
// Docker daemon) with env added to the environment, as .env would set it.
func dockerCompose(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		msg := "docker-compose is not installed, so lab/compose.yaml was not checked: run scripts/ensure-deps.sh as root, or apt-get install docker-compose"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(bin, append([]string{"-f", "lab/compose.yaml", "config"}, args...)...)
	// No daemon is asked; the lab's variables are only what the test sets.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "SLACK_") })
	cmd.Env = append(append(cmd.Env, "DOCKER_HOST=unix:///nonexistent"), env...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("docker-compose config: %v\n%s%s", err, out, stderr)
	}
	return out
}

// TestLabComposeValid checks lab/compose.yaml with docker-compose's own validation:
// unknown keys, wrong types and broken references fail.
func TestLabComposeValid(t *testing.T) {
	dockerCompose(t, nil, "-q")
}

// labService is a service of the resolved compose file.
type labService struct {
	Environment map[string]string `json:"environment"`
	Command     []string          `json:"command"`
	Ports       []any             `json:"ports"` // "127.0.0.1:8090:8090/tcp", or {published, target}
}

// port reads a port as docker-compose config writes it: the host address it is published
// on ("" for every interface) and the container's port.
func port(p any) (host, target string) {
	switch x := p.(type) {
	case string:
		parts := strings.Split(strings.TrimSuffix(x, "/tcp"), ":")
		if len(parts) == 3 {
			host = parts[0]
		}
		return host, parts[len(parts)-1]
	case map[string]any:
		return "", toString(x["target"])
	}
	return "", ""
}

// TestLabSlack checks that drawbridge and the console agree, as docker-compose resolves the
// file: examples/docker.yaml loads with drawbridge's environment as serve loads it (every
// variable required), in HTTP mode with slack.api_url on the console's port by default, and
// in Socket Mode on Slack's API when .env names a workspace; the console forwards to
// drawbridge's listen port, with drawbridge's token, signing secret and channel, as a user
// drawbridge lets operate and approve; both publish their ports on 127.0.0.1 only.
func TestLabSlack(t *testing.T) {
	for _, tt := range []struct {
		name       string
		env        []string
		socketMode bool
		apiURL     string
	}{
		{"the console", nil, false, "http://console:8090/api/"},
		{"a workspace", []string{"SLACK_BOT_TOKEN=xoxb-1-2", "SLACK_APP_TOKEN=xapp-1-2", "SLACK_CHANNEL=C0123ABCD",
			"SLACK_API_URL=https://slack.com/api/"}, true, "https://slack.com/api/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var lab struct {
				Services map[string]labService `json:"services"`
			}
			if err := yaml.Unmarshal(dockerCompose(t, tt.env), &lab); err != nil {
				t.Fatal(err)
			}
			db, con := lab.Services["drawbridge"], lab.Services["console"]
			cfg, err := config.Load("../examples/docker.yaml", config.LoadOptions{LookupEnv: func(k string) (string, bool) {
				v, ok := db.Environment[k]
				return v, ok
			}})
			if err != nil {
				t.Fatalf("examples/docker.yaml with the lab's environment: %v", err)
			}
			if cfg.Slack.SocketMode() != tt.socketMode || cfg.Slack.APIURL != tt.apiURL {
				t.Errorf("socket mode %v, api_url %q; want %v, %q", cfg.Slack.SocketMode(), cfg.Slack.APIURL, tt.socketMode, tt.apiURL)
			}
			flags := map[string][]string{}
			for _, a := range con.Command {
				k, v, _ := strings.Cut(a, "=")
				flags[k] = append(flags[k], v)
			}
			for k, v := range map[string]string{"SLACK_BOT_TOKEN": cfg.Slack.BotToken.Reveal(),
				"SLACK_SIGNING_SECRET": cfg.Slack.SigningSecret.Reveal(), "SLACK_CHANNEL": cfg.Slack.Channel} {
				if con.Environment[k] != v {
					t.Errorf("the console's %s is %q, drawbridge's %q", k, con.Environment[k], v)
				}
			}
			fwd, err := url.Parse(first(flags["-drawbridge"]))
			_, listenPort, _ := net.SplitHostPort(cfg.Listen)
			if err != nil || fwd.Hostname() != "drawbridge" || fwd.Port() != listenPort {
				t.Errorf("the console forwards to %q; drawbridge listens on %s", first(flags["-drawbridge"]), cfg.Listen)
			}
			_, conPort, _ := net.SplitHostPort(first(flags["-listen"]))
			if len(con.Ports) != 1 {
				t.Fatalf("the console publishes %v, want its one port", con.Ports)
			}
			// The page has no login and the lab's signing secret is in the file: this machine only.
			if host, target := port(con.Ports[0]); host != "127.0.0.1" || target != conPort {
				t.Errorf("the console listens on %q and publishes %v, want it on 127.0.0.1 only", first(flags["-listen"]), con.Ports)
			}
			for _, p := range db.Ports {
				if host, _ := port(p); host != "127.0.0.1" {
					t.Errorf("drawbridge publishes %v, want it on 127.0.0.1 only", p)
				}
			}
			if !tt.socketMode {
				if u, _ := url.Parse(cfg.Slack.APIURL); u.Hostname() != "console" || u.Port() != conPort {
					t.Errorf("slack.api_url %s is not the console's port %s", cfg.Slack.APIURL, conPort)
				}
			}
			for _, u := range flags["-user"] {
				id, _, _ := strings.Cut(u, "=")
				if !slices.Contains(cfg.Access.Operators, id) || !slices.Contains(cfg.Access.Approvers, id) {
					t.Errorf("the console's user %s is not an operator and approver of examples/docker.yaml (%v, %v)", id, cfg.Access.Operators, cfg.Access.Approvers)
				}
			}
			if len(flags["-user"]) == 0 {
				t.Error("the console names no -user")
			}
		})
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.Itoa(int(x))
	}
	return ""
}

// TestExampleConfigsValidate loads the deployment examples as `drawbridge validate-config`
// does (secrets unset), and checks the commands render as the docs say.
func TestExampleConfigsValidate(t *testing.T) {
	unset := func(string) (string, bool) { return "", false }
	for _, tt := range []struct {
		file, cluster string
		nodes         int
		action        func(config.Commands) config.Argv
		want          string
	}{
		{"../examples/docker.yaml", "lab", 2, func(c config.Commands) config.Argv { return c.MigrationsUp },
			"docker -H unix:///var/run/docker.sock run --rm --network drawbridge-lab --env-file /etc/drawbridge/kong.env kong:3.5.0 kong migrations up --db-timeout 600"},
		{"../examples/docker.yaml", "lab", 2, func(c config.Commands) config.Argv { return c.Start },
			"docker -H unix:///var/run/docker.sock run --detach --restart unless-stopped --name kong-1 --hostname kong-1 --network drawbridge-lab --env-file /etc/drawbridge/kong.env kong:3.5.0"},
		{"../examples/kubernetes.yaml", "prod", 1, func(c config.Commands) config.Argv { return c.Install },
			"kubectl -n kong set image deployment/kong proxy=kong:3.5.0"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := config.Load(tt.file, config.LoadOptions{LookupEnv: unset, AllowMissingEnv: true})
			if err != nil {
				t.Fatal(err)
			}
			c, ok := cfg.Cluster(tt.cluster)
			if !ok || len(c.Nodes) != tt.nodes {
				t.Fatalf("cluster %q with %d nodes not found: %+v", tt.cluster, tt.nodes, cfg.Clusters)
			}
			argv, err := tt.action(c.Commands).Render(config.CommandData{Version: "3.5.0", To: "3.5.0", From: "3.4.2", Run: "1", Node: config.NodeDataOf(c.Nodes[0])})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(argv, " "); got != tt.want {
				t.Errorf("renders\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
