package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drawbridge/drawbridge/storage"
)

func TestReadyz(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, h *health, st *storage.Store)
		code    int
		body    string
	}{
		{"ready", func(*testing.T, *health, *storage.Store) {}, http.StatusOK, "ready\n"},
		{"shutting down", func(_ *testing.T, h *health, _ *storage.Store) { h.stopping.Store(true) },
			http.StatusServiceUnavailable, "shutting down"},
		{"state file closed", func(t *testing.T, _ *health, st *storage.Store) {
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		}, http.StatusServiceUnavailable, "state store is closed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := storage.Open(filepath.Join(t.TempDir(), "drawbridge.db"), storage.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			h := &health{store: st}
			tc.prepare(t, h, st)
			rec := httptest.NewRecorder()
			h.readyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("/readyz = %d %q, want %d %q", rec.Code, rec.Body.String(), tc.code, tc.body)
			}
		})
	}
}

// TestServeReadyzWritesNothing: /readyz answers probes, and anyone who can reach the
// port, without writing to the state file.
func TestServeReadyzWritesNothing(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, writeConfig(t, dir))
	path := filepath.Join(dir, "state", "drawbridge.db")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const calls = 50
	for range calls {
		if code, body := get(t, "http://"+s.addr+"/readyz"); code != http.StatusOK || body != "ready\n" {
			t.Fatalf("/readyz = %d %q", code, body)
		}
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("%d calls of /readyz changed the state file", calls)
	}
}
