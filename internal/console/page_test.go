package console

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The page and its assets are served, and carry the hooks the browser test uses.
func TestPageHasTheHooks(t *testing.T) {
	h := newHarness(t)
	resp, page := get(t, h.c.URL())
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, hook := range []string{`id="command-form"`, `id="command-input"`, `id="command-send"`, `id="users"`, `id="current-user"`,
		`id="messages"`, `id="confirm-dialog"`, `id="confirm-title"`, `id="confirm-text"`, `id="confirm-ok"`, `id="confirm-cancel"`,
		`id="hints"`, `id="switches"`, `id="live"`, `id="notice"`, `data-ready="0"`, `src="static/app.js"`, `href="static/style.css"`} {
		if !strings.Contains(page, hook) {
			t.Errorf("the page lacks %s", hook)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page loads something from the network")
	}
	resp, js := get(t, h.c.URL()+"static/app.js")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("GET app.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, s := range []string{"api/state", "api/command", "api/action", "api/switch", "EventSource('events')",
		"data-action-id", "data-switch", "data-user-id", "data-version", "data-ready"} {
		if !strings.Contains(js, s) {
			t.Errorf("app.js lacks %s", s)
		}
	}
	if resp, css := get(t, h.c.URL()+"static/style.css"); resp.StatusCode != 200 || !strings.Contains(css, ".btn-danger") ||
		strings.Contains(css, "@import") || strings.Contains(css, "url(") {
		t.Errorf("GET style.css: %d", resp.StatusCode)
	}
}

// node --check parses app.js, when node is on the machine.
func TestAppJSParses(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "--check", filepath.Join("web", "app.js")).CombinedOutput()
	if err != nil {
		t.Errorf("node --check web/app.js: %v\n%s", err, out)
	}
}

// readEvent reads the next data line of an SSE stream.
func readEvent(t *testing.T, lines <-chan string) int {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the event stream ended")
			}
			data, found := strings.CutPrefix(l, `data: {"version":`)
			if !found {
				continue
			}
			v, err := strconv.Atoi(strings.TrimSuffix(data, "}"))
			if err != nil {
				t.Fatalf("bad event %q", l)
			}
			return v
		case <-timeout:
			t.Fatal("no event within 5s")
		}
	}
}

func TestEventsFollowChanges(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Switches = map[string]func(context.Context, bool) error{"bad release": func(context.Context, bool) error { return nil }}
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.c.URL()+"events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-t.Context().Done():
				return
			}
		}
	}()
	v0 := readEvent(t, lines)

	// A post in slackfake.
	_, ts, err := h.api.PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("status", false))
	if err != nil {
		t.Fatal(err)
	}
	v1 := readEvent(t, lines)
	if v1 <= v0 {
		t.Errorf("version after a post = %d, was %d", v1, v0)
	}
	if st := h.state(olivia); st.Version < v1 || len(st.Messages) != 1 {
		t.Errorf("state version %d with %d messages after event %d", st.Version, len(st.Messages), v1)
	}
	// An edit in place.
	if _, _, _, err := h.api.UpdateMessageContext(t.Context(), testChannel, ts, slack.MsgOptionText("status, edited", false)); err != nil {
		t.Fatal(err)
	}
	v2 := readEvent(t, lines)
	if v2 <= v1 {
		t.Errorf("version after an edit = %d, was %d", v2, v1)
	}
	// A change of the console's own (a switch).
	h.post("api/switch", switchRequest{Name: "bad release", On: true}, nil)
	if v3 := readEvent(t, lines); v3 <= v2 {
		t.Errorf("version after a switch = %d, was %d", v3, v2)
	}
}

// Close ends open event streams.
func TestCloseEndsEventStreams(t *testing.T) {
	h := newHarness(t)
	resp, err := http.Get(h.c.URL() + "events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		close(done)
	}()
	if err := h.c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream is still open after Close")
	}
}
