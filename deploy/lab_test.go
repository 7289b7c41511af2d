package deploy

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/config"
)

// TestLabComposeValid checks lab/compose.yaml with docker-compose's own validation
// (`docker-compose config`, which needs no Docker daemon): unknown keys, wrong types and
// broken references fail.
func TestLabComposeValid(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		msg := "docker-compose is not installed, so lab/compose.yaml was not checked: run scripts/ensure-deps.sh as root, or apt-get install docker-compose"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(bin, "-f", "lab/compose.yaml", "config", "-q")
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent") // no daemon is asked
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
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
