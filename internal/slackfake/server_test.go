package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func newFake(t *testing.T, opts Options) (*Server, *slack.Client) {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.Close)
	return s, slack.New(s.Token(), slack.OptionAPIURL(s.URL()))
}

func TestURLHasTrailingSlash(t *testing.T) {
	s, _ := newFake(t, Options{})
	if !strings.HasSuffix(s.URL(), "/api/") || !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want http://127.0.0.1:<port>/api/", s.URL())
	}
}

func TestAuth(t *testing.T) {
	s, api := newFake(t, Options{Token: "xoxb-right"})
	ctx := t.Context()
	got, err := api.AuthTestContext(ctx)
	if err != nil || got.UserID != BotUserID || got.TeamID != TeamID {
		t.Fatalf("auth.test = %+v, %v; want the bot", got, err)
	}
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"wrong token", "xoxb-wrong", "invalid_auth"},
		{"no token", "", "not_authed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := slack.New(tt.token, slack.OptionAPIURL(s.URL()))
			_, _, err := bad.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false))
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != tt.want {
				t.Errorf("post with %q = %v, want %s", tt.token, err, tt.want)
			}
		})
	}
	if n := len(s.Messages("C1")); n != 0 {
		t.Errorf("unauthenticated posts stored %d messages", n)
	}
	// The token sent in the Authorization header (JSON methods) is accepted too.
	if _, err := api.OpenViewContext(ctx, "trig-1", modal()); err != nil {
		t.Errorf("views.open with the bearer token: %v", err)
	}
	for _, c := range s.Calls() {
		if c.Params.Has("token") {
			t.Errorf("call %d %s kept the token in its params", c.Seq, c.Method)
		}
	}
}

func modal() slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		Title:      slack.NewTextBlockObject(slack.PlainTextType, "Reject run 7", false, false),
		Submit:     slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false),
		CallbackID: "reject",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "Why?", false, false), nil, nil),
		}},
	}
}

func TestPostUpdateThread(t *testing.T) {
	s, api := newFake(t, Options{})
	ctx := t.Context()
	header := slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "prod: 3.4 → 3.9", false, false))
	ch, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("status v1", false), slack.MsgOptionBlocks(header))
	if err != nil || ch != "C1" || ts != "1732560000.000100" {
		t.Fatalf("post = %q %q %v; want C1 1732560000.000100", ch, ts, err)
	}
	var replies []string
	for i := range 3 {
		_, rts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText(fmt.Sprintf("step %d", i+1), false), slack.MsgOptionTS(ts))
		if err != nil {
			t.Fatal(err)
		}
		if len(replies) > 0 && rts <= replies[len(replies)-1] {
			t.Errorf("ts %q does not increase after %q", rts, replies[len(replies)-1])
		}
		replies = append(replies, rts)
	}
	for i := range 2 {
		if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText(fmt.Sprintf("status v%d", i+2), false),
			slack.MsgOptionBlocks(header, slack.NewDividerBlock())); err != nil {
			t.Fatal(err)
		}
	}
	msgs := s.Messages("C1")
	if len(msgs) != 1 {
		t.Fatalf("channel has %d top-level messages, want 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if m.Text != "status v3" || m.Edits != 2 || len(m.Blocks) != 2 || len(m.Replies) != 3 {
		t.Errorf("status message = text %q, %d edits, %d blocks, %d replies; want status v3, 2, 2, 3", m.Text, m.Edits, len(m.Blocks), len(m.Replies))
	}
	if h, ok := m.Blocks[0].(*slack.HeaderBlock); !ok || h.Text.Text != "prod: 3.4 → 3.9" {
		t.Errorf("first block = %#v, want the header", m.Blocks[0])
	}
	for i, r := range m.Replies {
		if r.ThreadTS != ts || r.TS != replies[i] || r.Text != fmt.Sprintf("step %d", i+1) {
			t.Errorf("reply %d = %+v", i, r)
		}
	}
	// Mutating a copy changes nothing.
	m.Replies[0].Text = "changed"
	if got, _ := s.Message("C1", replies[0]); got.Text != "step 1" {
		t.Errorf("Message after changing a copy = %q", got.Text)
	}
	calls := s.CallsTo("chat.postMessage")
	if len(calls) != 4 || calls[1].Params.Get("thread_ts") != ts {
		t.Errorf("recorded posts = %+v", calls)
	}
	if b, err := calls[0].Blocks(); err != nil || len(b) != 1 {
		t.Errorf("first post's decoded blocks = %v, %v", b, err)
	}
}

func TestRefusals(t *testing.T) {
	s, api := newFake(t, Options{Channels: []string{"C1"}})
	ctx := t.Context()
	_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatal(err)
	}
	many := make([]slack.Block, 51)
	for i := range many {
		many[i] = slack.NewDividerBlock()
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"unknown channel", func() error {
			_, _, err := api.PostMessageContext(ctx, "C404", slack.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		{"unknown thread", func() error {
			_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false), slack.MsgOptionTS("1.000001"))
			return err
		}, "thread_not_found"},
		{"update unknown message", func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, "C1", "1.000001", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"no text", func() error {
			_, _, err := api.PostMessageContext(ctx, "C1")
			return err
		}, "no_text"},
		{"51 blocks", func() error {
			_, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionBlocks(many...))
			return err
		}, "invalid_blocks"},
		{"text over 40000", func() error {
			_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText(strings.Repeat("x", 40001), false))
			return err
		}, "msg_too_long"},
		{"unknown group", func() error {
			_, err := api.GetUserGroupMembersContext(ctx, "S404")
			return err
		}, "no_such_subteam"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var se slack.SlackErrorResponse
			if err := tt.call(); !errors.As(err, &se) || se.Err != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
	if m, _ := s.Message("C1", ts); m.Edits != 0 {
		t.Errorf("a refused update was applied: %+v", m)
	}
	s.AddChannel("C2")
	if _, _, err := api.PostMessageContext(ctx, "C2", slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("post to an added channel: %v", err)
	}
}

func TestEphemeralGroupsViews(t *testing.T) {
	s, api := newFake(t, Options{Groups: map[string][]string{"S1": {"U1", "W2"}}})
	ctx := t.Context()
	if ts, err := api.PostEphemeralContext(ctx, "C1", "U9", slack.MsgOptionText("only you", false)); err != nil || ts == "" {
		t.Fatalf("postEphemeral = %q, %v", ts, err)
	}
	if e := s.Ephemerals(); len(e) != 1 || e[0].User != "U9" || e[0].Text != "only you" {
		t.Errorf("ephemerals = %+v", e)
	}
	if len(s.Messages("C1")) != 0 {
		t.Error("an ephemeral message became a channel message")
	}
	members, err := api.GetUserGroupMembersContext(ctx, "S1")
	if err != nil || strings.Join(members, ",") != "U1,W2" {
		t.Errorf("group members = %v, %v", members, err)
	}
	s.SetGroup("S1", "U3")
	if members, _ := api.GetUserGroupMembersContext(ctx, "S1"); strings.Join(members, ",") != "U3" {
		t.Errorf("members after SetGroup = %v", members)
	}
	resp, err := api.OpenViewContext(ctx, "trig-1", modal())
	if err != nil || resp.View.ID == "" || resp.View.CallbackID != "reject" {
		t.Fatalf("views.open = %+v, %v", resp, err)
	}
	if v := s.Views(); len(v) != 1 || v[0].TriggerID != "trig-1" || !strings.Contains(v[0].JSON, "Reject run 7") {
		t.Errorf("views = %+v", v)
	}
}

func TestUpload(t *testing.T) {
	s, api := newFake(t, Options{})
	ctx := t.Context()
	_, parent, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("status", false))
	if err != nil {
		t.Fatal(err)
	}
	png := "\x89PNG\r\n\x1a\nchart"
	sum, err := api.UploadFileContext(ctx, slack.UploadFileParameters{
		Filename: "watch.png", FileSize: len(png), Reader: strings.NewReader(png),
		Title: "error rate", Channel: "C1", ThreadTimestamp: parent, AltTxt: "5xx rate",
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	files := s.Files()
	if len(files) != 1 || files[0].ID != sum.ID || string(files[0].Data) != png || !files[0].Completed ||
		files[0].Title != "error rate" || files[0].AltText != "5xx rate" || files[0].ThreadTS != parent {
		t.Errorf("files = %+v (summary %+v)", files, sum)
	}
	m, _ := s.Message("C1", parent)
	if len(m.Replies) != 1 || len(m.Replies[0].Files) != 1 || m.Replies[0].Files[0].ID != sum.ID {
		t.Errorf("thread = %+v, want one reply carrying the file", m.Replies)
	}
	var methods []string
	for _, c := range s.Calls()[1:] {
		methods = append(methods, c.Method)
	}
	if got := strings.Join(methods, " "); got != "files.getUploadURLExternal upload files.completeUploadExternal" {
		t.Errorf("calls = %s", got)
	}
}

func TestMetadataHistoryReplies(t *testing.T) {
	_, api := newFake(t, Options{})
	ctx := t.Context()
	meta := slack.SlackMetadata{EventType: "drawbridge_outbox", EventPayload: map[string]any{"key": "run/1/status"}}
	_, parent, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("status", false), slack.MsgOptionMetadata(meta))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: "drawbridge_outbox", EventPayload: map[string]any{"key": "run/1/step/1"}})); err != nil {
		t.Fatal(err)
	}
	h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", IncludeAllMetadata: true})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Metadata.EventPayload["key"] != "run/1/status" || h.Messages[0].ReplyCount != 1 {
		t.Fatalf("history = %+v, %v", h, err)
	}
	msgs, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent, IncludeAllMetadata: true})
	if err != nil || len(msgs) != 2 || msgs[1].Metadata.EventPayload["key"] != "run/1/step/1" {
		t.Fatalf("replies = %+v, %v", msgs, err)
	}
	h, _ = api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"})
	if h.Messages[0].Metadata.EventType != "" {
		t.Errorf("metadata returned without include_all_metadata: %+v", h.Messages[0].Metadata)
	}
}

func TestFaults(t *testing.T) {
	ctx := t.Context()
	post := func(api *slack.Client) error {
		_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
		return err
	}
	tests := []struct {
		name  string
		fault Fault
		check func(error) bool
	}{
		{"429 with Retry-After", RateLimited(2), func(err error) bool {
			var rl *slack.RateLimitedError
			return errors.As(err, &rl) && rl.RetryAfter == 2*time.Second
		}},
		{"429 without Retry-After", RateLimited(0), func(err error) bool {
			var sc slack.StatusCodeError
			return errors.As(err, &sc) && sc.Code == 429
		}},
		{"500", Fault{Status: 500}, func(err error) bool {
			var sc slack.StatusCodeError
			return errors.As(err, &sc) && sc.Code == 500
		}},
		{"ok:false", Fault{Error: "not_in_channel"}, func(err error) bool {
			var se slack.SlackErrorResponse
			return errors.As(err, &se) && se.Err == "not_in_channel"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, api := newFake(t, Options{Fault: func(c Call) Fault {
				if c.Method == "chat.postMessage" {
					return tt.fault
				}
				return Fault{}
			}})
			if err := post(api); !tt.check(err) {
				t.Errorf("error = %#v", err)
			}
			if len(s.Messages("C1")) != 0 {
				t.Error("a faulted post was stored")
			}
			if c := s.Calls(); len(c) != 1 || c[0].Fault != tt.fault || c[0].OK() {
				t.Errorf("recorded calls = %+v", c)
			}
			s.SetFault(nil)
			if err := post(api); err != nil {
				t.Errorf("post after SetFault(nil): %v", err)
			}
		})
	}
	t.Run("delay", func(t *testing.T) {
		_, api := newFake(t, Options{Fault: func(Call) Fault { return Fault{Delay: time.Minute} }})
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, _, err := api.PostMessageContext(short, "C1", slack.MsgOptionText("x", false))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("delayed post = %v, want the deadline", err)
		}
	})
	t.Run("sometimes", func(t *testing.T) {
		s, api := newFake(t, Options{Fault: Sometimes(0.3, 1, RateLimited(1), "chat.postMessage")})
		failed := 0
		for range 200 {
			if post(api) != nil {
				failed++
			}
		}
		if failed < 30 || failed > 90 {
			t.Errorf("%d of 200 posts were rate limited, want about 60", failed)
		}
		if got := len(s.Messages("C1")); got != 200-failed {
			t.Errorf("%d messages stored, want %d", got, 200-failed)
		}
		if _, err := api.AuthTestContext(ctx); err != nil {
			t.Errorf("auth.test is not among the methods yet failed: %v", err)
		}
	})
}

func TestWaitFor(t *testing.T) {
	s, api := newFake(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 5 {
			if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText(fmt.Sprint(i), false)); err != nil {
				t.Error(err)
			}
		}
	})
	if err := s.WaitFor(ctx, func() bool { return len(s.Messages("C1")) == 5 }); err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	wg.Wait()
	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if err := s.WaitFor(short, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor on a predicate that never holds = %v", err)
	}
}

func TestConcurrentPostsGetUniqueTS(t *testing.T) {
	s, api := newFake(t, Options{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 10 {
				if _, _, err := api.PostMessageContext(t.Context(), "C1", slack.MsgOptionText("x", false)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	prev := ""
	for _, m := range s.Messages("C1") {
		if seen[m.TS] || m.TS <= prev {
			t.Fatalf("ts %q repeats or does not increase (after %q)", m.TS, prev)
		}
		seen[m.TS], prev = true, m.TS
	}
	if len(seen) != 200 {
		t.Errorf("%d messages, want 200", len(seen))
	}
}

func TestReadersReturnCopies(t *testing.T) {
	s, api := newFake(t, Options{})
	meta := slack.SlackMetadata{EventType: "e", EventPayload: map[string]any{"key": "k"}}
	_, ts, err := api.PostMessageContext(t.Context(), "C1", slack.MsgOptionText("x", false), slack.MsgOptionMetadata(meta))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Message("C1", ts)
	m.Metadata.EventPayload["key"] = "changed"
	m.Text = "changed"
	c := s.Calls()
	c[0].Params.Set("text", "changed")
	if again, _ := s.Message("C1", ts); again.Metadata.EventPayload["key"] != "k" || again.Text != "x" {
		t.Errorf("message changed through a copy: %+v", again)
	}
	if s.Calls()[0].Params.Get("text") != "x" {
		t.Error("call record changed through a copy")
	}
}

func TestChain(t *testing.T) {
	f := Chain(nil, func(c Call) Fault {
		if c.Method == "chat.update" {
			return Fault{Error: "cant_update_message"}
		}
		return Fault{}
	}, func(Call) Fault { return Fault{Status: 503} })
	if got := f(Call{Method: "chat.update"}); got.Error != "cant_update_message" {
		t.Errorf("first matching fault = %+v", got)
	}
	if got := f(Call{Method: "chat.postMessage"}); got.Status != 503 {
		t.Errorf("fallthrough fault = %+v", got)
	}
	if got := Chain()(Call{}); !got.IsZero() {
		t.Errorf("empty chain = %+v", got)
	}
}

// A client that reaches the fake through another address (the console serves it on its
// own port in the lab) gets upload URLs on that address, and the upload works there.
func TestUploadURLOnTheCallersAddress(t *testing.T) {
	s := New(Options{})
	t.Cleanup(s.Close)
	front := httptest.NewServer(s)
	t.Cleanup(front.Close)
	res, err := http.PostForm(front.URL+"/api/files.getUploadURLExternal",
		url.Values{"token": {s.Token()}, "filename": {"a.png"}, "length": {"3"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct {
		OK        bool   `json:"ok"`
		UploadURL string `json:"upload_url"`
	}
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !got.OK || !strings.HasPrefix(got.UploadURL, front.URL+UploadPath) {
		t.Fatalf("upload_url = %q (ok %v), want it under %s%s", got.UploadURL, got.OK, front.URL, UploadPath)
	}
	api := slack.New(s.Token(), slack.OptionAPIURL(front.URL+"/api/"))
	if _, err := api.UploadFileContext(t.Context(), slack.UploadFileParameters{
		Filename: "b.png", FileSize: 3, Reader: strings.NewReader("png"), Channel: "C1",
	}); err != nil {
		t.Fatalf("upload through %s: %v", front.URL, err)
	}
	for _, c := range s.CallsTo("upload") {
		if !c.OK() {
			t.Errorf("upload call %+v failed", c)
		}
	}
}
