package console

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/internal/slackfake"
)

func pngBytes(t *testing.T) []byte {
	t.Helper()
	return pngSized(4, 3)
}

// pngSized is a small PNG image of w×h pixels.
func pngSized(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func TestStateShowsTheChannelAsSlackDoes(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	api := h.api
	_, ts, err := api.PostMessageContext(ctx, testChannel, slack.MsgOptionText("status", false), slack.MsgOptionBlocks(statusBlocks("preparing")...))
	if err != nil {
		t.Fatal(err)
	}
	_, reply1, err := api.PostMessageContext(ctx, testChannel, slack.MsgOptionTS(ts), slack.MsgOptionText("✅ *1. preflight* — 4.0s", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, testChannel, ts, slack.MsgOptionText("status", false), slack.MsgOptionBlocks(statusBlocks("awaiting approval")...)); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PostEphemeralContext(ctx, testChannel, olivia, slack.MsgOptionText("🚫 only for Olivia", false)); err != nil {
		t.Fatal(err)
	}
	chart := pngBytes(t)
	f, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Filename: "watch.png", FileSize: len(chart), Reader: bytes.NewReader(chart),
		Channel: testChannel, ThreadTimestamp: ts, Title: "5xx rate", AltTxt: "error rate chart"})
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := api.PostMessageContext(ctx, testChannel, slack.MsgOptionText("second run <script>alert(1)</script>", false))
	if err != nil {
		t.Fatal(err)
	}

	st := h.state(olivia)
	if len(st.Messages) != 2 || st.Messages[0].TS != ts || st.Messages[1].TS != second {
		t.Fatalf("messages = %+v, want the status message then the second", st.Messages)
	}
	m := st.Messages[0]
	if m.Edits != 1 || m.State != "awaiting approval" || !strings.Contains(string(m.Blocks), "awaiting approval") {
		t.Errorf("status message: edits %d, state %q, blocks %s", m.Edits, m.State, m.Blocks)
	}
	if len(m.Replies) != 2 || m.Replies[0].TS != reply1 || m.Replies[0].ThreadTS != ts || !strings.Contains(m.Replies[0].Text, "preflight") {
		t.Fatalf("replies = %+v", m.Replies)
	}
	if fs := m.Replies[1].Files; len(fs) != 1 || fs[0].ID != f.ID || fs[0].Mimetype != "image/png" || fs[0].URL != "/files/"+f.ID ||
		fs[0].Title != "5xx rate" || fs[0].Size != len(chart) {
		t.Errorf("the chart reply's files = %+v", fs)
	}
	if len(st.Ephem) != 1 || st.Ephem[0].User != olivia || st.Ephem[0].Source != "chat.postEphemeral" {
		t.Errorf("Olivia's ephemerals = %+v", st.Ephem)
	}
	// The timeline: status message, ephemeral, second message, in the order posted.
	var keys []string
	for _, e := range st.Timeline {
		keys = append(keys, e.Kind)
	}
	if got := strings.Join(keys, ","); got != "message,ephemeral,message" {
		t.Errorf("timeline kinds = %s", got)
	}
	if got := st.Messages[0].Order < st.Ephem[0].Order && st.Ephem[0].Order < st.Messages[1].Order; !got {
		t.Errorf("orders: %d, %d, %d", st.Messages[0].Order, st.Ephem[0].Order, st.Messages[1].Order)
	}
	status := st.Timeline[0]
	for _, want := range []string{`data-ts="` + ts + `"`, `data-state="awaiting approval"`, `data-edits="1"`, `(edited)`,
		`data-action-id="approve"`, `data-thread="` + ts + `"`, `@Olivia`} {
		if !strings.Contains(status.HTML, want) {
			t.Errorf("status HTML lacks %s:\n%s", want, status.HTML)
		}
	}
	if len(status.Replies) != 2 || !strings.Contains(status.Replies[1].HTML, `<img src="/files/`+f.ID+`"`) ||
		!strings.Contains(status.Replies[0].HTML, `data-parent="`+ts+`"`) || !strings.Contains(status.Replies[0].HTML, "<b>1. preflight</b>") {
		t.Errorf("rendered replies = %+v", status.Replies)
	}
	if e := st.Timeline[1].HTML; !strings.Contains(e, "Only visible to you") || !strings.Contains(e, `data-ephemeral="`+olivia+`"`) {
		t.Errorf("ephemeral HTML = %s", e)
	}
	if strings.Contains(st.Timeline[2].HTML, "<script") || !strings.Contains(st.Timeline[2].HTML, "&lt;script&gt;") {
		t.Errorf("message text was not escaped: %s", st.Timeline[2].HTML)
	}
	if st.User.ID != olivia || len(st.Users) != 3 || len(st.Hints) != 1 || !strings.Contains(st.Hints[0].HTML, `<code class="md-code">/kong-upgrade start demo 3.5.0</code>`) {
		t.Errorf("user %+v, users %+v, hints %+v", st.User, st.Users, st.Hints)
	}

	// Someone else does not see Olivia's ephemeral.
	if other := h.state(chandra); len(other.Ephem) != 0 || len(other.Timeline) != 2 {
		t.Errorf("Chandra sees ephemerals %+v, timeline of %d", other.Ephem, len(other.Timeline))
	}
	// No user, or an unknown one, is the first user.
	if st := h.state(""); st.User.ID != olivia {
		t.Errorf("default user = %+v", st.User)
	}

	// The chart is served as a PNG.
	resp, err := http.Get(h.c.URL() + "files/" + f.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, chart) {
		t.Errorf("GET /files/%s: %d %s, %d bytes", f.ID, resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}
	if resp, err := http.Get(h.c.URL() + "files/F0NONE"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("a missing file: %v %v", resp.StatusCode, err)
	}
}

func TestNonImageFilesAreDownloads(t *testing.T) {
	h := newHarness(t)
	page := []byte("<html><script>alert(1)</script></html>")
	f, err := h.api.UploadFileContext(t.Context(), slack.UploadFileParameters{Filename: "x.html", FileSize: len(page),
		Reader: bytes.NewReader(page), Channel: testChannel})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(h.c.URL() + "files/" + f.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("an HTML file is served as %q, %q", ct, resp.Header.Get("Content-Disposition"))
	}
}

func TestSwitches(t *testing.T) {
	var mu sync.Mutex
	var calls []bool
	h := newHarness(t, func(o *Options) {
		o.Switches = map[string]func(ctx context.Context, on bool) error{
			"bad release": func(ctx context.Context, on bool) error {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, on)
				return nil
			},
			"broken": func(ctx context.Context, on bool) error { return errors.New("kongsim is down") },
		}
		o.SwitchHelp = map[string]string{"bad release": "3.5.0 answers 20% 5xx"}
	})
	var res map[string]any
	if code := h.post("api/switch", switchRequest{Name: "bad release", On: true}, &res); code != 200 || res["on"] != true {
		t.Fatalf("switch on: HTTP %d %v", code, res)
	}
	if code := h.post("api/switch", switchRequest{Name: "broken", On: true}, &res); code != http.StatusInternalServerError ||
		!strings.Contains(res["error"].(string), "kongsim is down") {
		t.Errorf("failing switch: HTTP %d %v", code, res)
	}
	if code := h.post("api/switch", switchRequest{Name: "nope", On: true}, &res); code != http.StatusNotFound {
		t.Errorf("unknown switch: HTTP %d", code)
	}
	st := h.state(olivia)
	want := []switchJSON{{Name: "bad release", On: true, Help: "3.5.0 answers 20% 5xx"}, {Name: "broken", On: false}}
	if !slices.Equal(st.Switches, want) {
		t.Errorf("switches = %+v, want %+v", st.Switches, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(calls, []bool{true}) {
		t.Errorf("switch function calls = %v", calls)
	}
}

func TestOptionsValidation(t *testing.T) {
	fake := slackfake.New(slackfake.Options{})
	t.Cleanup(fake.Close)
	good := func() Options {
		return Options{Slack: fake, Channel: testChannel, DrawbridgeURL: "http://127.0.0.1:1", Users: testUsers}
	}
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no slack", func(o *Options) { o.Slack = nil }, "Slack"},
		{"no channel", func(o *Options) { o.Channel = "" }, "Channel"},
		{"bad url", func(o *Options) { o.DrawbridgeURL = "localhost:8080" }, "DrawbridgeURL"},
		{"no users", func(o *Options) { o.Users = nil }, "Users"},
		{"twice", func(o *Options) { o.Users = []User{{ID: "U1"}, {ID: "U1"}} }, "appears twice"},
		{"bad command", func(o *Options) { o.Command = "kong upgrade" }, "Command"},
		{"nil switch", func(o *Options) { o.Switches = map[string]func(context.Context, bool) error{"x": nil} }, `switch "x"`},
		{"bad listen", func(o *Options) { o.Listen = "256.0.0.1:x" }, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good()
			tt.edit(&o)
			c, err := Start(t.Context(), o)
			if err == nil {
				c.Close()
				t.Fatal("Start accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
	c, err := Start(t.Context(), good())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.URL(), "http://127.0.0.1:") || !strings.HasSuffix(c.URL(), "/") {
		t.Errorf("URL() = %q", c.URL())
	}
}

func TestCloseWhenTheContextEnds(t *testing.T) {
	fake := slackfake.New(slackfake.Options{})
	t.Cleanup(fake.Close)
	ctx, cancel := context.WithCancel(t.Context())
	c, err := Start(ctx, Options{Slack: fake, Channel: testChannel, DrawbridgeURL: "http://127.0.0.1:1", Users: testUsers})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(c.URL() + "healthz")
		if err != nil {
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("the console still serves after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after the context ended: %v", err)
	}
}
