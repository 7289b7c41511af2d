package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/sim"
)

// portsFree checks that the node's addresses can be bound again.
func portsFree(t *testing.T, n *testNode) {
	t.Helper()
	for _, a := range []string{n.adminAddr, n.statusAddr} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("after stop, %s is still taken: %v", a, err)
			continue
		}
		l.Close()
	}
}

func TestStopSignals(t *testing.T) {
	t.Parallel()
	pg := postgres(t)
	db := newKongDB(t, pg, globalPrometheus(allFlags))
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		fault bool
	}{
		{"SIGTERM stops at once", syscall.SIGTERM, false},
		{"SIGQUIT stops gracefully", syscall.SIGQUIT, false},
		{"SIGINT stops at once", syscall.SIGINT, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := startNode(t, nodeOptions{version: "3.4.2", db: &db})
			n.sigs <- tc.sig
			if err := n.stopped(t, 5*time.Second); err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			portsFree(t, n)
			if !strings.Contains(n.logs.text(), fmt.Sprintf("signal %d (", int(tc.sig))) {
				t.Errorf("log does not name the signal:\n%s", n.logs.text())
			}
		})
	}
}

func TestFaultIgnoreStop(t *testing.T) {
	t.Parallel()
	db := newKongDB(t, postgres(t), globalPrometheus(allFlags))
	n := startNode(t, nodeOptions{version: "3.4.2", db: &db, sim: &sim.File{Faults: sim.Faults{IgnoreStop: true}}})
	n.sigs <- syscall.SIGTERM
	waitLog(t, n, "signal 15 (SIGTERM) received, ignored")
	if code, _ := getJSON(t, n.admin+"/"); code != http.StatusOK || !n.running() {
		t.Fatalf("after an ignored SIGTERM: GET / = %d, running %v", code, n.running())
	}
	n.sigs <- syscall.SIGQUIT
	if err := n.stopped(t, 5*time.Second); err != nil {
		t.Fatalf("Run = %v", err)
	}
	portsFree(t, n)
}

// TestGracefulStopWaitsForInFlight holds a request in the Admin API (admin_hang), sends
// SIGQUIT, sees the listeners close while the node waits for that request, then SIGTERM
// ends it at once. With ignore_stop, a first SIGTERM is ignored.
func TestGracefulStopWaitsForInFlight(t *testing.T) {
	t.Parallel()
	db := newKongDB(t, postgres(t), globalPrometheus(allFlags))
	for _, ignoreStop := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignore_stop=%v", ignoreStop), func(t *testing.T) {
			t.Parallel()
			n := startNode(t, nodeOptions{version: "3.4.2", db: &db,
				sim: &sim.File{Faults: sim.Faults{AdminHang: true, IgnoreStop: ignoreStop}}})
			hung := make(chan error, 1)
			go func() {
				resp, err := http.Get(n.admin + "/")
				if err == nil {
					resp.Body.Close()
				}
				hung <- err
			}()
			waitLog(t, n, "admin_hang: holding GET /")
			if ignoreStop {
				n.sigs <- syscall.SIGTERM
				waitLog(t, n, "signal 15 (SIGTERM) received, ignored")
			}
			n.sigs <- syscall.SIGQUIT
			eventually(t, 5*time.Second, "listeners closed", func() error {
				c, err := net.DialTimeout("tcp", n.adminAddr, time.Second)
				if err == nil {
					c.Close()
					return errors.New("admin port still accepts connections")
				}
				return nil
			})
			if !n.running() {
				t.Fatal("SIGQUIT did not wait for the in-flight request")
			}
			n.sigs <- syscall.SIGTERM
			if err := n.stopped(t, 5*time.Second); err != nil {
				t.Fatalf("Run = %v", err)
			}
			select {
			case err := <-hung:
				if err == nil {
					t.Error("the held request got a response; want the connection cut")
				}
			case <-time.After(5 * time.Second):
				t.Error("the held request is still pending after the node stopped")
			}
			portsFree(t, n)
		})
	}
}

func waitLog(t *testing.T, n *testNode, text string) {
	t.Helper()
	eventually(t, 5*time.Second, "log line "+text, func() error {
		if !strings.Contains(n.logs.text(), text) {
			return errors.New("not logged yet")
		}
		return nil
	})
}

func TestFaultAdminHang(t *testing.T) {
	t.Parallel()
	db := newKongDB(t, postgres(t), globalPrometheus(allFlags))
	n := startNode(t, nodeOptions{version: "3.4.2", db: &db})
	if code, _ := getJSON(t, n.admin+"/"); code != http.StatusOK {
		t.Fatalf("GET / = %d before the fault", code)
	}
	n.setFaults(t, func(f *sim.Faults) { f.AdminHang = true })
	short := &http.Client{Timeout: 300 * time.Millisecond}
	eventually(t, 5*time.Second, "Admin API hangs", func() error {
		resp, err := short.Get(n.admin + "/")
		if err == nil {
			resp.Body.Close()
			return fmt.Errorf("GET / answered %d", resp.StatusCode)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return fmt.Errorf("GET / failed without a timeout: %w", err)
		}
		return nil
	})
	if code, st := getJSON(t, n.status+"/status"); code != http.StatusOK || dig(st, "database", "reachable") != true {
		t.Errorf("Status API /status during admin_hang = %d %v", code, st)
	}
	if code, _ := getJSON(t, n.status+"/status/ready"); code != http.StatusOK {
		t.Errorf("Status API /status/ready during admin_hang = %d", code)
	}
	n.setFaults(t, func(f *sim.Faults) { f.AdminHang = false })
	eventually(t, 5*time.Second, "Admin API answers again", func() error {
		resp, err := short.Get(n.admin + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

func TestPortTakenFailsFast(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	start := time.Now()
	_, err = launchNode(t, nodeOptions{version: "3.4.2", conf: map[string]string{"status_listen": busy.Addr().String()}})
	var be *BindError
	if !errors.As(err, &be) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("launch with a taken port: %v, want a *BindError for EADDRINUSE", err)
	}
	want := fmt.Sprintf("nginx: [emerg] bind() to %s failed (98: Address already in use)", busy.Addr())
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("failing took %v", d)
	}
}

// TestContextEndStopsTheNode also runs a node with no database, no status listener and no
// prometheus plugin loaded.
func TestContextEndStopsTheNode(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOptions{version: "2.8.5", conf: map[string]string{"status_listen": "off", "plugins": "key-auth"}})
	if code, st := getJSON(t, n.admin+"/status"); code != http.StatusOK || dig(st, "database", "reachable") != false {
		t.Fatalf("GET /status = %d %v", code, st["database"])
	}
	if code, _ := getJSON(t, n.admin+"/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics without the prometheus plugin loaded = %d, want 404", code)
	}
	n.cancel()
	if err := n.stopped(t, 5*time.Second); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	l, err := net.Listen("tcp", n.adminAddr)
	if err != nil {
		t.Fatalf("admin port not freed: %v", err)
	}
	l.Close()
}

func TestConfigValidation(t *testing.T) {
	err := Run(context.Background(), Config{}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "Conf") {
		t.Errorf("Run with an empty Config = %v", err)
	}
}
