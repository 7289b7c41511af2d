package scrub

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	s := New("xoxb-123-secret", "p@ss<w&rd>", "ab") // "ab" is too short to look for
	for _, tc := range []struct{ in, want string }{
		{"token xoxb-123-secret here", "token [redacted] here"},
		{"postgres://kong:" + url.QueryEscape("p@ss<w&rd>") + "@db/kong", "postgres://kong:[redacted]@db/kong"},
		{"abc", "abc"},
		{"no secret", "no secret"},
	} {
		if got := s.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	b, _ := json.Marshal(map[string]string{"text": "pw is p@ss<w&rd>"})
	if got := s.Bytes(b); bytes.Contains(got, []byte("ss")) || !json.Valid(got) {
		t.Errorf("JSON form not scrubbed: %s", got)
	}
	var nilS *Scrubber
	if nilS.String("x") != "x" || New().String("x") != "x" {
		t.Error("an empty scrubber changed text")
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(New("hunter2-secret").Handler(slog.NewTextHandler(&buf, nil)))
	log = log.With("dsn", "postgres://u:hunter2-secret@db")
	log.Error("failed with hunter2-secret", "err", errors.New("auth hunter2-secret"), slog.Group("g", "k", "hunter2-secret"),
		"list", []string{"hunter2-secret"})
	if out := buf.String(); strings.Contains(out, "hunter2") || strings.Count(out, Redacted) != 5 {
		t.Errorf("log line: %s", out)
	}
}
