package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/storage"
)

var binary string

func TestMain(m *testing.M) {
	// The live scheduling tests spend minutes waiting for a window on the wall clock, not
	// computing: let all of them wait at once, unless -parallel was given.
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(max(6, runtime.GOMAXPROCS(0))))
	}
	dir, err := os.MkdirTemp("", "drawbridge-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "drawbridge")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build drawbridge:", err)
		os.Exit(1)
	}
	code := m.Run()
	if livePG != nil {
		livePG.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestValidateConfigCommand(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	example, err := os.ReadFile("../../examples/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(example), "parallelism: 10", "parallelism: 0", 1)
	broken = strings.Replace(broken, "channel: C0123456789", "channel: general", 1)
	if err := os.WriteFile(bad, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"example is valid", []string{"validate-config", "../../examples/config.yaml"}, 0,
			[]string{"is valid", "prod-eu", "kong-eu-1, kong-eu-2", "sunday-night", "Europe/Berlin", "SLACK_BOT_TOKEN"}},
		{"example needs its secrets with --require-env", []string{"validate-config", "--require-env", "../../examples/config.yaml"}, 1,
			[]string{"slack.bot_token (line 10): environment variable SLACK_BOT_TOKEN is not set"}},
		{"every problem at once", []string{"validate-config", bad}, 1,
			[]string{"2 problems", "slack.channel (line 15)", "clusters[0].parallelism (line 52)"}},
		{"missing file", []string{"validate-config", "/nonexistent/x.yaml"}, 1, []string{"no such file"}},
		{"no file", []string{"validate-config"}, exitUsage, []string{"usage: drawbridge validate-config"}},
		{"unknown command", []string{"deploy"}, exitUsage, []string{`unknown command "deploy"`, "validate-config"}},
		{"version", []string{"version"}, 0, []string{"drawbridge "}},
		{"no demo here", []string{"demo"}, exitUsage, []string{`unknown command "demo"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(t.Context(), tc.args, &out, &out)
			if code != tc.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, tc.code, out.String())
			}
			for _, s := range tc.contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

// writeConfig writes a valid config whose state file is in dir, listening on a free port.
func writeConfig(t *testing.T, dir string) string {
	t.Helper()
	example, err := os.ReadFile("../../examples/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(example), `listen: ":8080"`, `listen: "127.0.0.1:0"`, 1)
	cfg = strings.Replace(cfg, "state_file: ./data/drawbridge.db", "state_file: "+filepath.Join(dir, "state", "drawbridge.db"), 1)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var serveEnv = []string{
	"SLACK_BOT_TOKEN=xoxb-test-token-value",
	"SLACK_SIGNING_SECRET=test-signing-secret",
	"KONG_PG_DSN=postgres://kong:pg-password@127.0.0.1:1/kong",
}

type server struct {
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
	done chan error
}

// startServe runs "drawbridge serve" and waits for its "serving" log line.
func startServe(t *testing.T, config string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", config)
	cmd.Env = append(os.Environ(), serveEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.WriteString(line + "\n")
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "drawbridge serving" {
				addr <- rec.Addr
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case s.addr = <-addr:
	case err := <-s.done:
		t.Fatalf("serve exited early: %v\n%s", err, s.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", s.logs)
	}
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeEndpointsAndShutdown(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, writeConfig(t, dir))
	base := "http://" + s.addr

	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	code, metrics := get(t, base+"/metrics")
	for _, want := range []string{"go_goroutines", "process_resident_memory_bytes", "drawbridge_build_info{version="} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics (%d) lacks %s", code, want)
		}
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, s.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
	logs := s.logs.String()
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"state file closed"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	for _, secret := range []string{"xoxb-test-token-value", "test-signing-secret", "pg-password"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs show secret %q", secret)
		}
	}
	// The file lock is released: the state file opens at once.
	st, err := storage.Open(filepath.Join(dir, "state", "drawbridge.db"), storage.Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("state file still locked after shutdown: %v", err)
	}
	if err := st.Check(context.Background()); err != nil {
		t.Error(err)
	}
	st.Close()
}

func TestServeRefusesSecondInstance(t *testing.T) {
	dir := t.TempDir()
	config := writeConfig(t, dir)
	startServe(t, config)

	start := time.Now()
	cmd := exec.Command(binary, "serve", "--config", config)
	cmd.Env = append(os.Environ(), serveEnv...)
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if err == nil {
		t.Fatalf("second serve did not fail:\n%s", out)
	}
	if elapsed > 5*time.Second {
		t.Errorf("second serve took %s to fail", elapsed)
	}
	for _, want := range []string{filepath.Join(dir, "state", "drawbridge.db"), "another drawbridge"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error lacks %q:\n%s", want, out)
		}
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte("listen: 127.0.0.1:0\nslack: {chanel: C0123456789}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--config", path)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1:\n%s", err, out)
	}
	if !strings.Contains(string(out), `slack.chanel (line 2): unknown key "chanel"`) {
		t.Errorf("output does not name the key:\n%s", out)
	}
}
