package console

import (
	"net/http"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// With SlackAPI the console's own address answers Slack's Web API, uploads included, and the
// page shows what was posted there; its own /api/ endpoints are unchanged.
func TestSlackAPIOnTheConsolesAddress(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.SlackAPI = true })
	base := h.c.SlackAPIURL()
	if want := h.c.URL() + "api/"; base != want {
		t.Fatalf("SlackAPIURL = %q, want %q", base, want)
	}
	api := slack.New(h.slack.Token(), slack.OptionAPIURL(base))
	ctx := t.Context()
	_, ts, err := api.PostMessageContext(ctx, testChannel, slack.MsgOptionText("posted on the console", false))
	if err != nil {
		t.Fatalf("chat.postMessage on the console: %v", err)
	}
	if _, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Filename: "watch.png", FileSize: 3,
		Reader: strings.NewReader("png"), Channel: testChannel, ThreadTimestamp: ts}); err != nil {
		t.Fatalf("upload on the console: %v", err)
	}
	st := h.state(olivia)
	if len(st.Messages) != 1 || st.Messages[0].TS != ts || st.Messages[0].Text != "posted on the console" ||
		len(st.Messages[0].Replies) != 1 || len(st.Messages[0].Replies[0].Files) != 1 {
		t.Fatalf("state messages = %+v, want the post with its chart in the thread", st.Messages)
	}
	if res := h.command(olivia, "/kong-upgrade help"); !res.OK {
		t.Errorf("a command with SlackAPI on: %+v", res)
	}
}

func TestSlackAPIOffByDefault(t *testing.T) {
	h := newHarness(t)
	if got := h.c.SlackAPIURL(); got != "" {
		t.Errorf("SlackAPIURL = %q without SlackAPI", got)
	}
	resp, err := http.Post(h.c.URL()+"api/chat.postMessage", "application/x-www-form-urlencoded",
		strings.NewReader("token="+slackfake.DefaultToken+"&channel="+testChannel+"&text=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("chat.postMessage on the console without SlackAPI: HTTP %d, want 404", resp.StatusCode)
	}
}
