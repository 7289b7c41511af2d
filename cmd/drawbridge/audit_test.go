package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/drawbridge/drawbridge/changerecord"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

// writeAuditConfig writes a valid config (see writeConfig) that listens on a fixed free port,
// so that "drawbridge audit" finds serve there, with audit.token set.
func writeAuditConfig(t *testing.T, dir string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfgPath := writeConfig(t, dir)
	b, _ := os.ReadFile(cfgPath)
	cfg := strings.Replace(string(b), `listen: "127.0.0.1:0"`, fmt.Sprintf(`listen: "127.0.0.1:%d"`, port), 1) + "\naudit:\n  token: audit-token-of-the-test\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// TestAuditCommand: drawbridge audit export and verify read the state file, and, while
// serve holds it, the running drawbridge's /audit endpoints with audit.token; an edited
// event makes verify fail naming it.
func TestAuditCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgPath := writeAuditConfig(t, dir)
	state := filepath.Join(dir, "state", "drawbridge.db")
	st, err := storage.Open(state, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.CreateRun(t.Context(), domain.Run{Cluster: "prod-eu", To: "3.5.0", State: domain.StatePreparing, Ticket: "CHG0000042", RequestedBy: "U0AAAAAAA"},
		storage.AuditEvent{Actor: "U0AAAAAAA", Action: "start", Detail: "upgrade prod-eu to 3.5.0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"step_started", "step_succeeded"} {
		if _, err := st.AppendAudit(t.Context(), storage.AuditEvent{Run: run.ID, Actor: "drawbridge", Action: a}); err != nil {
			t.Fatal(err)
		}
	}
	// Ended, so that serve has nothing to resume (its nodes are not reachable from a test).
	if _, err := st.UpdateRun(t.Context(), run.ID, func(r *domain.Run) error { r.State = domain.StateAborted; return nil },
		storage.AuditEvent{Actor: "U0AAAAAAA", Action: "abort"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	audit := func(args ...string) (int, string) {
		cmd := exec.Command(binary, append([]string{"audit"}, args...)...)
		cmd.Env = append(os.Environ(), append(serveEnv, "AUDIT_TOKEN=audit-token-of-the-test")...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String() + errb.String()
	}
	check := func(out string) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 5 { // the run and its four events
			t.Fatalf("export:\n%s", out)
		}
		for _, l := range lines {
			var line changerecord.Line
			if err := json.Unmarshal([]byte(l), &line); err != nil || line.Schema != changerecord.Schema || line.Run != run.ID {
				t.Fatalf("line %q: %v", l, err)
			}
		}
		if !strings.Contains(lines[0], `"ticket":"CHG0000042"`) {
			t.Errorf("run line %s", lines[0])
		}
	}
	code, out := audit("export", "--config", cfgPath, "--run", "1")
	if code != 0 {
		t.Fatalf("export from the file: exit %d\n%s", code, out)
	}
	check(out)
	if code, out := audit("verify", "--config", cfgPath); code != 0 || !strings.Contains(out, "audit log intact: 4 events") {
		t.Fatalf("verify from the file: exit %d\n%s", code, out)
	}

	srv := startServe(t, cfgPath) // holds the state file now
	code, out = audit("export", "--config", cfgPath, "--run", "1")
	if code != 0 {
		t.Fatalf("export through serve: exit %d\n%s", code, out)
	}
	check(out)
	if code, out := audit("verify", "--config", cfgPath); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify through serve: exit %d\n%s", code, out)
	}
	if code, _ := get(t, "http://"+srv.addr+"/audit/export"); code != 401 {
		t.Errorf("export without the token: %d", code)
	}
	_ = srv.cmd.Process.Signal(os.Interrupt)
	<-srv.done

	db, err := bolt.Open(state, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		k := []byte{0, 0, 0, 0, 0, 0, 0, 2}
		return b.Put(k, bytes.Replace(b.Get(k), []byte("step_started"), []byte("step_skipped"), 1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, out := audit("verify", "--config", cfgPath); code != 3 || !strings.Contains(out, "event 2 (run 1, step_skipped") {
		t.Fatalf("verify an edited log: exit %d\n%s", code, out)
	}
}
