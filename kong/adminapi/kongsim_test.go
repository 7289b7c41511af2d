package adminapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kongsim/manifest"
	"github.com/drawbridge/drawbridge/kongsim/prefix"
)

// These tests run real simulated Kong nodes (kongsim) on a real PostgreSQL.

var (
	kongsimBin string
	pg         *testsvc.Postgres
	dbSeq      atomic.Int64 // tests run again (-count) get databases of their own
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "adminapi-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kongsimBin = filepath.Join(dir, "kongsim")
	build := exec.Command("go", "build", "-o", kongsimBin, "../../cmd/kongsim")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build kongsim:", err)
		return 1
	}
	pg, err = testsvc.NewPostgres(context.Background())
	if err != nil {
		if testsvc.ShouldSkip(err) {
			fmt.Fprintln(os.Stderr, "skipping the kongsim tests:", err)
			pg = nil
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Close()
	return m.Run()
}

// simNode is one kongsim node as drawbridge's config names it, with its prefix and conf.
type simNode struct {
	config.Node
	prefix string
	conf   string
}

// kongsim runs the kongsim binary and fails the test unless it exits 0.
func kongsim(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kongsimBin, args...)
	cmd.Env = cleanEnviron()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("kongsim %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// cleanEnviron drops KONG_* and PG* variables so that kongsim reads only its kong.conf.
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KONG_") && !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// startCluster lays out n nodes of version on a database of their own, bootstraps it and
// starts every node; the test's cleanup kills them.
func startCluster(t *testing.T, n int, version string) []simNode {
	t.Helper()
	if pg == nil {
		t.Skip("no PostgreSQL (see testsvc)")
	}
	db := fmt.Sprintf("t%d_%s", dbSeq.Add(1), strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")))
	if _, err := pg.CreateDatabase(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kongsim(t, "cluster", "init", "--dir", dir, "--nodes", fmt.Sprint(n), "--version", version,
		"--pg-host", pg.Host, "--pg-port", fmt.Sprint(pg.Port), "--pg-user", pg.User, "--pg-database", db)
	c, err := manifest.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []simNode
	for _, cn := range c.Nodes {
		nodes = append(nodes, simNode{config.Node{Name: cn.Name, AdminURL: cn.AdminURL, StatusURL: cn.StatusURL}, cn.Prefix, cn.Conf})
		t.Cleanup(func() {
			if pid, alive := prefix.Prefix(cn.Prefix).PID(); alive {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	}
	kongsim(t, "kong", "migrations", "bootstrap", "-c", nodes[0].conf)
	for _, nd := range nodes {
		kongsim(t, "kong", "start", "-c", nd.conf)
	}
	return nodes
}

// eventually polls check until it returns nil, failing the test after 10s.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition kongsim applies within 200ms
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestNodeLifecycle follows one node per version through what drawbridge checks: its
// answers, a database it cannot reach, a hung Admin API, and a stop.
func TestNodeLifecycle(t *testing.T) {
	for _, tc := range []struct {
		version, readyFrom, notReady string
	}{
		{"2.8.5", ReadyFromDatabase, "database unreachable"},           // no /status/ready before 3.3
		{"3.4.2", ReadyFromStatusAPI, "failed to connect to database"}, // status_listen configured
		{"3.6.1", ReadyFromStatusAPI, "failed to connect to database"}, // status_listen on by default
	} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			n := startCluster(t, 1, tc.version)[0]
			c := &Client{Timeout: 500 * time.Millisecond}

			r, err := c.Report(t.Context(), n.Node)
			if err != nil {
				t.Fatal(err)
			}
			if r.Name != n.Name || r.Version != tc.version || !uuidRE.MatchString(r.NodeID) || !r.DBReachable ||
				!r.Ready || r.ReadyFrom != tc.readyFrom || r.NotReady != "" {
				t.Errorf("Report = %+v", r)
			}
			noStatus := n.Node
			noStatus.StatusURL = ""
			if r, err := c.Report(t.Context(), noStatus); err != nil || !r.Ready || r.ReadyFrom != ReadyFromDatabase {
				t.Errorf("Report without a status URL = %+v, %v", r, err)
			}
			if stopped, err := c.Stopped(t.Context(), n.Node); stopped || err != nil {
				t.Errorf("Stopped while running = %v, %v", stopped, err)
			}
			info, err := c.WaitReady(t.Context(), n.Node, tc.version, 100*time.Millisecond)
			if err != nil || info.Version != tc.version || !info.Ready {
				t.Errorf("WaitReady = %+v, %v", info, err)
			}

			t.Run("db_unreachable", func(t *testing.T) {
				kongsim(t, "set", "-p", n.prefix, "faults.db_unreachable=true")
				eventually(t, "database.reachable false", func() error {
					r, err = c.Report(t.Context(), n.Node)
					if err == nil && r.DBReachable {
						err = errors.New("still reachable")
					}
					return err
				})
				if r.Ready || r.NotReady != tc.notReady || r.ReadyFrom != tc.readyFrom || r.Version != tc.version {
					t.Errorf("Report = %+v", r)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
				defer cancel()
				_, err := c.WaitReady(ctx, n.Node, tc.version, 100*time.Millisecond)
				if err == nil || !strings.HasSuffix(err.Error(), "; last seen: not ready: "+tc.notReady) {
					t.Errorf("WaitReady = %v", err)
				}
				kongsim(t, "set", "-p", n.prefix, "faults.db_unreachable=")
				if _, err := c.WaitReady(t.Context(), n.Node, tc.version, 100*time.Millisecond); err != nil {
					t.Errorf("WaitReady after the fault: %v", err)
				}
			})

			t.Run("admin_hang", func(t *testing.T) {
				kongsim(t, "set", "-p", n.prefix, "faults.admin_hang=true")
				eventually(t, "the Admin API hangs", func() error {
					_, err := c.Info(t.Context(), n.Node)
					if !errors.Is(err, ErrTimeout) {
						return fmt.Errorf("Info = %v", err)
					}
					return nil
				})
				start := time.Now()
				_, err := c.Info(t.Context(), n.Node)
				if d := time.Since(start); !errors.Is(err, ErrTimeout) || d > 2*time.Second {
					t.Errorf("Info = %v after %v; want a timeout after about 500ms", err, d)
				}
				if want := n.Name + ": GET " + n.AdminURL + "/: no answer within 500ms"; err == nil || err.Error() != want {
					t.Errorf("Info = %v, want %s", err, want)
				}
				stopped, err := c.Stopped(t.Context(), n.Node)
				if stopped || !errors.Is(err, ErrTimeout) {
					t.Errorf("Stopped = %v, %v; a hung node is not a stopped one", stopped, err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 800*time.Millisecond)
				defer cancel()
				if err := c.WaitStopped(ctx, n.Node, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "last seen: GET "+n.AdminURL+"/: no answer within 500ms") {
					t.Errorf("WaitStopped = %v", err)
				}
				kongsim(t, "set", "-p", n.prefix, "faults.admin_hang=")
			})

			t.Run("stop", func(t *testing.T) {
				kongsim(t, "kong", "stop", "-p", n.prefix)
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				if err := c.WaitStopped(ctx, n.Node, 50*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				if stopped, err := c.Stopped(t.Context(), n.Node); !stopped || err != nil {
					t.Errorf("Stopped = %v, %v", stopped, err)
				}
				_, err := c.Info(t.Context(), n.Node)
				if want := n.Name + ": GET " + n.AdminURL + "/: connection refused"; err == nil || err.Error() != want || !errors.Is(err, ErrRefused) {
					t.Errorf("Info of a stopped node = %v, want %s", err, want)
				}
			})
		})
	}
}

// TestWaitReadyAcrossAnUpgrade is one node's in-place upgrade 3.4.2 → 3.5.0 as the engine
// drives it: stop, install, migrations up, start; WaitReady polls through the restart.
func TestWaitReadyAcrossAnUpgrade(t *testing.T) {
	t.Parallel()
	n := startCluster(t, 1, "3.4.2")[0]
	c := &Client{Timeout: time.Second}
	before, err := c.Info(t.Context(), n.Node)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	info, err := c.WaitReady(ctx, n.Node, "3.5.0", 100*time.Millisecond)
	if err == nil || !strings.HasSuffix(err.Error(), "last seen: answers 3.4.2, want 3.5.0") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady for the wrong version = %v", err)
	}
	if info.Version != "3.4.2" {
		t.Errorf("WaitReady returned %+v, want the last info seen", info)
	}

	kongsim(t, "kong", "stop", "-p", n.prefix)
	if err := c.WaitStopped(t.Context(), n.Node, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	kongsim(t, "install", "-p", n.prefix, "--version", "3.5.0")
	kongsim(t, "kong", "migrations", "up", "-c", n.conf)

	started := make(chan struct{})
	go func() {
		defer close(started)
		time.Sleep(300 * time.Millisecond) // WaitReady sees the node down first
		cmd := exec.Command(kongsimBin, "kong", "start", "-c", n.conf)
		cmd.Env = cleanEnviron()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("kong start: %v\n%s", err, out)
		}
	}()
	ctx, cancel = context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	info, err = c.WaitReady(ctx, n.Node, "3.5.0", 50*time.Millisecond)
	<-started
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != n.Name || info.Version != "3.5.0" || !info.DBReachable || !info.Ready || info.NodeID == before.NodeID {
		t.Errorf("WaitReady = %+v (node_id before: %s)", info, before.NodeID)
	}
}
