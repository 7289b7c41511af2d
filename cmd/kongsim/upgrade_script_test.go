package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kongsim/manifest"
)

// TestUpgradeByHandScript runs test/kongsim-upgrade.sh: a 3-node kongsim 3.4.2 cluster on a
// throwaway PostgreSQL upgraded by hand to 3.5.0 with the kong CLI only. Then every node must
// answer 3.5.0 on its Admin API and be ready on its Status API.
func TestUpgradeByHandScript(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	if _, err := pg.CreateDatabase(t.Context(), "kong"); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bin := filepath.Join(work, "kongsim")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build kongsim: %v\n%s", err, out)
	}
	t.Cleanup(func() { killNodes(filepath.Join(work, "cluster")) })

	script := exec.CommandContext(t.Context(), "bash", "../../test/kongsim-upgrade.sh")
	script.Env = append(os.Environ(),
		"KONGSIM="+bin, "WORKDIR="+work,
		"PGHOST="+pg.Host, "PGPORT="+strconv.Itoa(pg.Port), "PGUSER="+pg.User, "PGDATABASE=kong")
	out, err := script.CombinedOutput()
	t.Logf("script output:\n%s", out)
	if err != nil {
		t.Fatalf("script failed: %v", err)
	}
	if !strings.Contains(string(out), "upgraded 3 nodes from 3.4.2 to 3.5.0") {
		t.Fatal("script did not finish")
	}

	cluster, err := manifest.Read(filepath.Join(work, "cluster"))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	for _, n := range cluster.Nodes {
		resp, err := c.Get(n.AdminURL + "/")
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		var root struct{ Version string }
		err = json.NewDecoder(resp.Body).Decode(&root)
		resp.Body.Close()
		if err != nil || root.Version != "3.5.0" {
			t.Errorf("%s answers version %q (%v), want 3.5.0", n.Name, root.Version, err)
		}
		resp, err = c.Get(n.StatusURL + "/status/ready")
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s /status/ready = %d", n.Name, resp.StatusCode)
		}
	}
}

// killNodes ends every node process under the cluster directory.
func killNodes(dir string) {
	pids, _ := filepath.Glob(filepath.Join(dir, "*", "pids", "nginx.pid"))
	for _, f := range pids {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestBehavioursScript runs test/kongsim-behaviours.sh: each section shows one way real
// clusters differ from the default (an explicit plugins list, …) with the kong CLI, checking
// Kong's exit codes and messages, on a throwaway PostgreSQL.
func TestBehavioursScript(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	sections := map[string]string{"plugins": "DB_PLUGINS", "halfdone": "DB_HALFDONE", "finish": "DB_FINISH",
		"timeouts": "DB_TIMEOUTS", "lock": "DB_LOCK", "prometheus": "DB_PROMETHEUS",
		"topology": "DB_TOPOLOGY", "schema": "DB_SCHEMA"}
	env := os.Environ()
	for name, v := range sections {
		db := "kb_" + name
		if _, err := pg.CreateDatabase(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		env = append(env, v+"="+db)
	}
	work := t.TempDir()
	bin := filepath.Join(work, "kongsim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build kongsim: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		for name := range sections {
			killNodes(filepath.Join(work, name))
		}
	})
	script := exec.CommandContext(t.Context(), "bash", "../../test/kongsim-behaviours.sh")
	script.Env = append(env, "KONGSIM="+bin, "WORKDIR="+work,
		"PGHOST="+pg.Host, "PGPORT="+strconv.Itoa(pg.Port), "PGUSER="+pg.User)
	out, err := script.CombinedOutput()
	t.Logf("script output:\n%s", out)
	if err != nil {
		t.Fatalf("script failed: %v", err)
	}
	if !strings.Contains(string(out), "all sections passed") {
		t.Fatal("script did not finish")
	}
}
