package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConsoleCommandLine(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("lab-signing-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		contains []string
	}{
		{"nothing", nil, []string{"console"}, exitUsage, []string{
			"-drawbridge is required", "slack.signing_secret is missing: give -signing-secret-file FILE or set SLACK_SIGNING_SECRET",
			"slack.bot_token is missing: give -bot-token-file FILE or set SLACK_BOT_TOKEN", "-channel is required (or $SLACK_CHANNEL)",
			"console -h lists the flags"}},
		{"everything wrong", map[string]string{"SLACK_BOT_TOKEN": "xapp-1"},
			[]string{"console", "-drawbridge", "drawbridge:8080", "-signing-secret-file", empty, "-channel", "#kong", "-user", "olivia=Olivia", "extra"}, exitUsage, []string{
				`unexpected arguments ["extra"]`, `-drawbridge "drawbridge:8080" is not an http(s) URL`,
				"-signing-secret-file: " + empty + " is empty", "the bot token does not start with xoxb-",
				`-channel "#kong" is not a channel ID`, `-user "olivia=Olivia": "olivia" is not a member ID`}},
		{"an unknown file", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CHANNEL": "C0LAB00001"},
			[]string{"console", "-drawbridge", "http://drawbridge:8080", "-signing-secret-file", "/nonexistent/secret"}, exitUsage,
			[]string{"-signing-secret-file: open /nonexistent/secret: no such file or directory"}},
		{"a bad flag", nil, []string{"console", "-port", "1"}, exitUsage, []string{"flag provided but not defined: -port", "usage: drawbridge-demo console"}},
		{"help", nil, []string{"console", "-h"}, 0, []string{"-drawbridge", "-signing-secret-file", "-bot-token-file", "-channel", "-user", "-data"}},
		{"the demo's help names it", nil, []string{"-h"}, 0, []string{"drawbridge-demo console -drawbridge URL"}},
		{"the port is taken", map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
			[]string{"console", "-drawbridge", "http://127.0.0.1:1", "-channel", "C0LAB00001", "-listen", "256.0.0.1:80"}, 1,
			[]string{"drawbridge-demo console: console: listen on 256.0.0.1:80"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CHANNEL"} {
				t.Setenv(k, tc.env[k])
			}
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

// The console runs from the command line with its secrets from files and the environment,
// answers the Web API with the token it was given, and stops with exit 0.
func TestConsoleRuns(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("lab-signing-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-lab-console")
	t.Setenv("SLACK_SIGNING_SECRET", "")
	t.Setenv("SLACK_CHANNEL", "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"console", "-listen", "127.0.0.1:0", "-drawbridge", "http://127.0.0.1:1",
			"-signing-secret-file", secretFile, "-channel", "C0LAB00001", "-data", filepath.Join(dir, "data")}, pw, &stderr)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	var out []string
	for lines.Scan() {
		out = append(out, lines.Text())
		if len(out) == 3 {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if len(out) < 3 || !strings.HasPrefix(out[0], "console ready: open http://127.0.0.1:") {
		t.Fatalf("output %q, stderr %s", out, stderr.String())
	}
	page := strings.TrimPrefix(out[0], "console ready: open ")
	if want := "drawbridge's slack.api_url: " + page + "api/"; !strings.HasPrefix(out[1], want) {
		t.Errorf("second line %q, want it to start with %q", out[1], want)
	}
	if want := "as You (U0AAAAAAA) in channel C0LAB00001"; !strings.Contains(out[2], want) {
		t.Errorf("third line %q, want %q", out[2], want)
	}
	resp, err := http.PostForm(page+"api/auth.test", map[string][]string{"token": {"xoxb-lab-console"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"ok":true`) {
		t.Errorf("auth.test with the bot token: %s", body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after the context ended; stderr:\n%s", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "console.json")); err != nil {
		t.Errorf("the channel was not saved: %v", err)
	}
}
