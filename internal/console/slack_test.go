package console

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// Slack's documented example (reference/platform.md 1.2).
func TestSignMatchesSlacksExample(t *testing.T) {
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	got := Sign(testSecret, 1531420618, []byte(body))
	if want := "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// requestFor parses a recorded request the way drawbridge does.
func commandOf(t *testing.T, r request) slack.SlashCommand {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, r.Path, bytes.NewReader(r.Body))
	req.Header = r.Header.Clone()
	sc, err := slack.SlashCommandParse(req)
	if err != nil {
		t.Fatalf("SlashCommandParse: %v", err)
	}
	return sc
}

func TestCommandIsSignedAndCarriesEverySlackField(t *testing.T) {
	tests := []struct {
		name     string
		typed    string
		wantText string
	}{
		{"with arguments", "/kong-upgrade start demo 3.5.0", "start demo 3.5.0"},
		{"no arguments", "/kong-upgrade", ""},
		{"extra spaces", "   /kong-upgrade    status   ", "status"},
		{"a tab", "/kong-upgrade\tstatus 7", "status 7"},
		{"unicode and symbols", "/kong-upgrade reject 7 not now & <never>", "reject 7 not now & <never>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.db.answer("/slack/commands", reply{status: 200, contentType: "application/json",
				body: `{"response_type":"ephemeral","text":"Starting *demo* 3.5.0 for <@U0DEMOOPS>"}`})
			res := h.command(olivia, tt.typed)
			if !res.OK || res.Status != 200 {
				t.Fatalf("command answer = %+v, want ok", res)
			}
			reqs := h.db.requests()
			if len(reqs) != 1 || reqs[0].Path != "/slack/commands" {
				t.Fatalf("drawbridge got %+v, want one POST /slack/commands", reqs)
			}
			r := reqs[0]
			if r.VerifyErr != nil {
				t.Fatalf("slack.NewSecretsVerifier refused the signature: %v", r.VerifyErr)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type = %q", ct)
			}
			form, _ := url.ParseQuery(string(r.Body))
			for _, f := range []string{"token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
				"user_name", "command", "text", "response_url", "trigger_id", "api_app_id"} {
				if _, ok := form[f]; !ok {
					t.Errorf("form lacks %s", f)
				}
			}
			sc := commandOf(t, r)
			want := slack.SlashCommand{Token: verificationToken, TeamID: slackfake.TeamID, TeamDomain: teamDomain,
				ChannelID: testChannel, ChannelName: defaultChannelName, UserID: olivia, UserName: "olivia",
				Command: "/kong-upgrade", Text: tt.wantText, APIAppID: appID}
			got := sc
			got.ResponseURL, got.TriggerID = "", ""
			if got != want {
				t.Errorf("slash command =\n %+v\nwant\n %+v", got, want)
			}
			if !strings.HasPrefix(sc.ResponseURL, h.c.URL()+"response/") || strings.Count(sc.TriggerID, ".") != 2 {
				t.Errorf("response_url %q, trigger_id %q", sc.ResponseURL, sc.TriggerID)
			}
			if res.Ephemeral == nil || res.Ephemeral.User != olivia || !strings.Contains(res.Ephemeral.Text, "Starting *demo*") ||
				res.Ephemeral.Command != strings.TrimSpace(tt.typed) {
				t.Errorf("ephemeral = %+v", res.Ephemeral)
			}
		})
	}
}

func TestCommandAnswers(t *testing.T) {
	tests := []struct {
		name      string
		typed     string
		answer    reply
		sent      bool   // reached drawbridge
		ok        bool   // postResult.OK
		wantText  string // in the ephemeral's text
		wantError string // in the ephemeral's error
		public    bool   // shown to everyone
	}{
		{"json ephemeral", "/kong-upgrade help", reply{status: 200, contentType: "application/json", body: `{"response_type":"ephemeral","text":"Usage: …"}`},
			true, true, "Usage: …", "", false},
		{"json with blocks", "/kong-upgrade help", reply{status: 200, body: `{"text":"t","blocks":[{"type":"divider"}]}`},
			true, true, "t", "", false},
		{"in_channel", "/kong-upgrade list", reply{status: 200, body: `{"response_type":"in_channel","text":"runs: none"}`},
			true, true, "runs: none", "", true},
		{"empty 200", "/kong-upgrade start demo 3.5.0", reply{status: 200}, true, true, "", "", false},
		{"plain text", "/kong-upgrade help", reply{status: 200, contentType: "text/plain", body: "just text"}, true, true, "just text", "", false},
		{"refused signature", "/kong-upgrade help", reply{status: 401, body: "invalid Slack signature: signature does not match"},
			true, false, `failed with the error "dispatch_failed"`, "HTTP 401: invalid Slack signature", false},
		{"too slow", "/kong-upgrade help", reply{status: 200, delay: 2 * time.Second}, true, false, `"operation_timeout"`, "", false},
		{"not a command", "hello there", reply{}, false, false, "slash commands only", "", false},
		{"other command", "/giphy cats", reply{}, false, false, "`/giphy` is not a valid command", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.timeout = 300 * time.Millisecond })
			h.db.answer("/slack/commands", tt.answer)
			res := h.command(olivia, tt.typed)
			if sent := len(h.db.requests()) == 1; sent != tt.sent {
				t.Fatalf("reached drawbridge: %v, want %v", sent, tt.sent)
			}
			if res.OK != tt.ok || res.Ephemeral == nil {
				t.Fatalf("answer = %+v, want ok=%v with an ephemeral", res, tt.ok)
			}
			e := res.Ephemeral
			if !strings.Contains(e.Text, tt.wantText) || !strings.Contains(e.Error, tt.wantError) {
				t.Errorf("ephemeral text %q error %q, want %q / %q", e.Text, e.Error, tt.wantText, tt.wantError)
			}
			if (e.User == "") != tt.public {
				t.Errorf("ephemeral user = %q, public want %v", e.User, tt.public)
			}
			// Olivia sees it; Sam only if public.
			for _, u := range []string{olivia, sam} {
				st := h.state(u)
				seen := len(st.Ephem) == 1
				if want := u == olivia || tt.public; seen != want {
					t.Errorf("%s sees %d ephemerals, want seen=%v", u, len(st.Ephem), want)
				}
			}
		})
	}
}

func TestCommandFromUnknownUserIsRefused(t *testing.T) {
	h := newHarness(t)
	var res map[string]any
	if code := h.post("api/command", commandRequest{User: "U0NOBODY", Text: "/kong-upgrade help"}, &res); code != http.StatusBadRequest {
		t.Errorf("unknown user: HTTP %d, want 400", code)
	}
	resp, err := http.Post(h.c.URL()+"api/command", "application/x-www-form-urlencoded", strings.NewReader("user=U0DEMOOPS&text=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("a form post: HTTP %d, want 415", resp.StatusCode)
	}
	if n := len(h.db.requests()); n != 0 {
		t.Errorf("drawbridge got %d requests", n)
	}
}

// clickOf decodes a recorded interaction as drawbridge does.
func clickOf(t *testing.T, r request) slack.InteractionCallback {
	t.Helper()
	if r.VerifyErr != nil {
		t.Fatalf("slack.NewSecretsVerifier refused the click: %v", r.VerifyErr)
	}
	req := httptest.NewRequest(http.MethodPost, r.Path, bytes.NewReader(r.Body))
	req.Header = r.Header.Clone()
	cb, err := slack.InteractionCallbackParse(req)
	if err != nil {
		t.Fatalf("InteractionCallbackParse: %v", err)
	}
	return cb
}

func TestClickIsSignedBlockActions(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	_, ts, err := h.api.PostMessageContext(ctx, testChannel, slack.MsgOptionText("status", false), slack.MsgOptionBlocks(statusBlocks("awaiting approval")...))
	if err != nil {
		t.Fatal(err)
	}
	noID := slack.NewActionBlock("", slack.NewButtonBlockElement("resume", "run=1;rev=2", slack.NewTextBlockObject(slack.PlainTextType, "Resume", false, false)))
	_, replyTS, err := h.api.PostMessageContext(ctx, testChannel, slack.MsgOptionTS(ts), slack.MsgOptionText("step", false), slack.MsgOptionBlocks(noID))
	if err != nil {
		t.Fatal(err)
	}
	h.db.answer("/slack/interactions", reply{status: 200, contentType: "application/json", body: `{"response_type":"ephemeral","text":"🚫 Approve needs an approver."}`})

	tests := []struct {
		name                       string
		user                       string
		msgTS, blockID, actionID   string
		wantValue, wantText, style string
		thread                     string
	}{
		{"approve", chandra, ts, "status-1-r1-actions", "approve", "run=1;rev=1", "Approve", "primary", ""},
		{"rollback", olivia, ts, "status-1-r1-actions", "rollback", "run=1;rev=1", "Roll back", "danger", ""},
		{"button in a thread without block_id", olivia, replyTS, "console-block-0", "resume", "run=1;rev=2", "Resume", "", ts},
	}
	var stamps []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.db.requests())
			var res postResult
			code := h.post("api/action", actionRequest{User: tt.user, MessageTS: tt.msgTS, ActionID: tt.actionID, BlockID: tt.blockID}, &res)
			if code != 200 || !res.OK {
				t.Fatalf("click: HTTP %d %+v", code, res)
			}
			reqs := h.db.requests()
			if len(reqs) != before+1 || reqs[before].Path != "/slack/interactions" {
				t.Fatalf("drawbridge got %d requests, want one more to /slack/interactions", len(reqs)-before)
			}
			raw, _ := url.ParseQuery(string(reqs[before].Body))
			if len(raw) != 1 || raw.Get("payload") == "" {
				t.Errorf("form = %v, want only payload", raw)
			}
			cb := clickOf(t, reqs[before])
			if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != tt.user || cb.Channel.ID != testChannel ||
				cb.Container.Type != "message" || cb.Container.MessageTs != tt.msgTS || cb.Container.ChannelID != testChannel ||
				cb.Container.ThreadTs != tt.thread || cb.Message.Timestamp != tt.msgTS || cb.TriggerID == "" || cb.ResponseURL == "" ||
				cb.Team.ID != slackfake.TeamID || cb.APIAppID != appID {
				t.Errorf("callback = %+v", cb)
			}
			if cb.User.Name == "" {
				t.Errorf("user has no name: %+v", cb.User)
			}
			if len(cb.ActionCallback.BlockActions) != 1 {
				t.Fatalf("block actions = %+v", cb.ActionCallback)
			}
			a := cb.ActionCallback.BlockActions[0]
			if a.ActionID != tt.actionID || a.BlockID != tt.blockID || a.Value != tt.wantValue || a.ActionTs == "" ||
				a.Type != "button" || a.Text.Text != tt.wantText {
				t.Errorf("action = %+v", a)
			}
			if len(cb.Message.Blocks.BlockSet) == 0 {
				t.Errorf("the payload's message has no blocks")
			}
			stamps = append(stamps, a.ActionTs)
			if res.Ephemeral == nil || res.Ephemeral.User != tt.user || !strings.Contains(res.Ephemeral.Text, "needs an approver") {
				t.Errorf("ephemeral = %+v", res.Ephemeral)
			}
		})
	}
	for i := 1; i < len(stamps); i++ {
		if stamps[i] <= stamps[i-1] {
			t.Errorf("action_ts not fresh: %v", stamps)
		}
	}
}

func TestClickAnswers(t *testing.T) {
	h := newHarness(t)
	_, ts, err := h.api.PostMessageContext(t.Context(), testChannel, slack.MsgOptionBlocks(statusBlocks("watching")...))
	if err != nil {
		t.Fatal(err)
	}
	click := func(ts, value string) (int, postResult) {
		var res postResult
		code := h.post("api/action", actionRequest{User: olivia, MessageTS: ts, ActionID: "approve", BlockID: "status-1-r1-actions", Value: value}, &res)
		return code, res
	}
	// An empty 200 shows nothing.
	if code, res := click(ts, ""); code != 200 || !res.OK || res.Ephemeral != nil {
		t.Errorf("empty answer: %d %+v", code, res)
	}
	// A refusal is shown to the user.
	h.db.answer("/slack/interactions", reply{status: 500, body: "boom"})
	if code, res := click(ts, ""); code != 200 || res.OK || res.Ephemeral == nil || !strings.Contains(res.Ephemeral.Error, "HTTP 500") {
		t.Errorf("failed click: %d %+v", code, res)
	}
	// A button gone from the message is sent as the page showed it.
	h.db.answer("/slack/interactions", reply{status: 200})
	var stale postResult
	if code := h.post("api/action", actionRequest{User: olivia, MessageTS: ts, ActionID: "decommission", BlockID: "old-block", Value: "run=1;rev=0"}, &stale); code != 200 {
		t.Errorf("stale click: %d %+v", code, stale)
	}
	reqs := h.db.requests()
	a := clickOf(t, reqs[len(reqs)-1]).ActionCallback.BlockActions[0]
	if a.ActionID != "decommission" || a.BlockID != "old-block" || a.Value != "run=1;rev=0" {
		t.Errorf("stale click sent %+v", a)
	}
	// No such message.
	if code, _ := click("1.000000", ""); code != http.StatusNotFound {
		t.Errorf("click on a missing message: HTTP %d, want 404", code)
	}
}

func TestResponseURL(t *testing.T) {
	h := newHarness(t)
	h.command(olivia, "/kong-upgrade status")
	sc := commandOf(t, h.db.requests()[0])
	post := func(body string) int {
		resp, err := http.Post(sc.ResponseURL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(`{"text":"later answer","response_type":"ephemeral"}`); code != 200 {
		t.Fatalf("response_url post: HTTP %d", code)
	}
	st := h.state(olivia)
	var texts []string
	for _, e := range st.Ephem {
		texts = append(texts, e.Source+":"+e.Text)
	}
	if len(texts) != 2 || texts[1] != "response_url:later answer" {
		t.Errorf("Olivia's ephemerals = %q", texts)
	}
	if n := len(h.state(chandra).Ephem); n != 0 {
		t.Errorf("Chandra sees %d ephemerals", n)
	}
	for i := 0; i < 4; i++ {
		post(`{"text":"again"}`)
	}
	if code := post(`{"text":"sixth"}`); code != http.StatusNotFound {
		t.Errorf("sixth use: HTTP %d, want 404 (Slack allows 5)", code)
	}
}
