package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/domain"
)

// TestSecretsNotStored: a store opened with Secrets writes none of them, in any record.
func TestSecretsNotStored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	const secret = `s3cret"<pw>`
	s, err := Open(path, Options{Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	run, err := s.CreateRun(ctx, domain.Run{Cluster: "c", To: "3.5.0", State: domain.StatePreparing, Reason: "pw " + secret},
		AuditEvent{Actor: "U1", Action: "start", Detail: "dsn postgres://k:" + secret + "@db"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutStep(ctx, run.ID, domain.StepRecord{Index: 1, Name: "preflight", Status: domain.StepFailed, Error: secret, OutputTail: "x " + secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, OutboxMessage{Run: run.ID, Key: "k", Method: "chat.postMessage", Payload: []byte(`{"text":"` + strings.ReplaceAll(secret, `"`, `\"`) + `"}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, run.ID)
	if err != nil || got.Reason != "pw [redacted]" {
		t.Fatalf("reason %q %v", got.Reason, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{"s3cret", `s3cret\"`} {
		if strings.Contains(string(b), form) {
			t.Errorf("the state file holds %q", form)
		}
	}
}
