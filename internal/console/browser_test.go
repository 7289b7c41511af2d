package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/internal/browsertest"
	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// TestInChromium drives the page in headless Chromium by typing and clicking, against a
// scripted drawbridge: a plain-text hint, a command, the four-eyes refusal, the user
// switch, an approval, live edits and thread replies, a chart, a switch, and the rollback's
// confirm dialog (Cancel sends nothing; then confirm). Screenshots go to
// test-artifacts/console-browser.
func TestInChromium(t *testing.T) {
	browsertest.Chromium(t)
	fake := slackfake.New(slackfake.Options{Channels: []string{testChannel}})
	t.Cleanup(fake.Close)
	db, rollbacks := scriptedDrawbridge(t, fake)
	c, err := Start(t.Context(), Options{
		Slack: fake, Channel: testChannel, SigningSecret: testSecret, DrawbridgeURL: db.URL, Users: testUsers,
		Switches:   map[string]func(context.Context, bool) error{"bad release": func(context.Context, bool) error { return nil }},
		SwitchHelp: map[string]string{"bad release": "3.5.0 and 3.6.1 answer 20% 5xx"},
		Hints:      []string{"Run `/kong-upgrade start demo 3.5.0` as **Olivia** (operator).", "Approve as *Chandra*.", "Roll back."},
		Groups:     map[string]string{"S0CHANGE": "change-managers"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	p := browsertest.Open(t, "console-browser")
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	// until waits for a JavaScript condition on the page.
	until := func(js string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0))
	}
	typeEnter := func(text string) chromedp.Action[chromedp.Void] {
		return chromedp.SendKeys(css(`#command-input`), text+"\r")
	}
	ephemeralSays := func(s string) chromedp.Action[chromedp.Void] {
		q, _ := json.Marshal(s)
		return until(`Array.prototype.some.call(document.querySelectorAll('[data-ephemeral]'), function(e){return e.textContent.indexOf(` + string(q) + `)>=0})`)
	}
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		p.Step(name, 20*time.Second, "#messages", actions...)
	}

	step("page ready and live", chromedp.Navigate(c.URL()),
		until(`document.body.getAttribute('data-ready')==='1' && document.body.getAttribute('data-live')==='on'`))
	step("a hint for plain text", typeEnter("hello"), ephemeralSays("slash commands only"))
	step("the status message and its first reply", typeEnter("/kong-upgrade start demo 3.5.0"),
		chromedp.WaitVisible(css(`#messages > article[data-kind="message"][data-run="1"][data-state="awaiting approval"]`)),
		until(`document.querySelectorAll('[data-thread] > article[data-kind="reply"]').length===1`),
		until(`document.getElementById('command-input').value===''`), p.Shot("1-awaiting"))
	step("the four-eyes refusal", chromedp.Click(css(`article[data-run="1"] button[data-action-id="approve"]`)),
		ephemeralSays("someone else must approve"))
	step("Chandra, without Olivia's ephemerals", chromedp.Click(css(`#users button[data-user-id="`+chandra+`"]`)),
		until(`document.body.getAttribute('data-user')==='`+chandra+`' && document.querySelectorAll('[data-ephemeral]').length===0`))
	step("the edit in place and the chart", chromedp.Click(css(`article[data-run="1"] button[data-action-id="approve"]`)),
		chromedp.WaitVisible(css(`article[data-run="1"][data-state="watching"][data-edits="1"]`)),
		until(`(function(){var i=document.querySelector('[data-thread] img[data-file-id]'); return !!i && i.complete && i.naturalWidth===40})()`))
	step("the switch on", chromedp.Click(css(`input[data-switch="bad release"]`)),
		chromedp.WaitVisible(css(`input[data-switch="bad release"][data-on="1"]`)))
	step("the confirm dialog, cancelled", chromedp.Click(css(`article[data-run="1"] button[data-action-id="rollback"]`)),
		until(`!document.getElementById('confirm-dialog').hidden && document.getElementById('confirm-title').textContent==='Roll back demo?'`),
		p.Shot("2-confirm"), chromedp.Click(css(`#confirm-cancel`)), until(`document.getElementById('confirm-dialog').hidden`))
	// A round trip after Cancel: had Cancel sent the click, drawbridge would have had it first.
	step("help after Cancel", typeEnter("/kong-upgrade help"), ephemeralSays("Usage"))
	if n := rollbacks.Load(); n != 0 {
		t.Fatalf("Cancel sent the rollback click to drawbridge (%d clicks)", n)
	}
	step("rolled back", chromedp.Click(css(`article[data-run="1"] button[data-action-id="rollback"]`)),
		until(`!document.getElementById('confirm-dialog').hidden`), chromedp.Click(css(`#confirm-ok`)),
		chromedp.WaitVisible(css(`article[data-run="1"][data-state="rolled back"]`)),
		until(`document.querySelectorAll('[data-thread="'+document.querySelector('article[data-run="1"]').getAttribute('data-ts')+'"] > article').length===4`),
		p.Shot("3-rolled-back"))
	if n := rollbacks.Load(); n != 1 {
		t.Errorf("drawbridge got %d rollback clicks, want 1", n)
	}
	if errs := p.Errors(); len(errs) > 0 {
		t.Errorf("the page logged errors: %q", errs)
	}
}

// scriptedDrawbridge answers like drawbridge, posting through slack-go.
func scriptedDrawbridge(t *testing.T, fake *slackfake.Server) (*httptest.Server, *atomic.Int32) {
	var rollbacks atomic.Int32
	api := slack.New(fake.Token(), slack.OptionAPIURL(fake.URL()))
	var mu sync.Mutex
	var statusTS string
	plain := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
	}
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	status := func(state string, rev int, buttons ...slack.BlockElement) slack.MsgOption {
		id := fmt.Sprintf("status-1-r%d-", rev)
		bs := []slack.Block{
			slack.NewHeaderBlock(plain("demo: Kong 3.4.3 → 3.5.0"), slack.HeaderBlockOptionBlockID(id+"header")),
			slack.NewSectionBlock(nil, []*slack.TextBlockObject{md("*State*\n👀 " + state), md("*Requested by*\n<@" + olivia + ">")}, nil,
				slack.SectionBlockOptionBlockID(id+"facts")),
		}
		if len(buttons) > 0 {
			bs = append(bs, slack.NewActionBlock(id+"actions", buttons...))
		}
		return slack.MsgOptionBlocks(append(bs, slack.NewContextBlock(id+"context", md(fmt.Sprintf("run #1 · revision %d", rev))))...)
	}
	rollback := slack.NewButtonBlockElement("rollback", "run=1;rev=2", plain("Roll back")).WithStyle(slack.StyleDanger).
		WithConfirm(slack.NewConfirmationBlockObject(plain("Roll back demo?"), plain("This stops Kong 3.5.0 and restores the backup."),
			plain("Roll back"), plain("Cancel")).WithStyle(slack.StyleDanger))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sv, err := slack.NewSecretsVerifier(r.Header, testSecret)
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
		}
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		ctx := context.Background()
		form, _ := url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/slack/commands":
			if form.Get("text") == "help" {
				fmt.Fprint(w, `{"response_type":"ephemeral","text":"Usage: /kong-upgrade start <cluster> <version>"}`)
				return
			}
			go func() {
				_, ts, err := api.PostMessageContext(ctx, testChannel, slack.MsgOptionText("status", false), status("awaiting approval", 1,
					slack.NewButtonBlockElement("approve", "run=1;rev=1", plain("Approve")).WithStyle(slack.StylePrimary)))
				if err != nil {
					return
				}
				mu.Lock()
				statusTS = ts
				mu.Unlock()
				_, _, _ = api.PostMessageContext(ctx, testChannel, slack.MsgOptionTS(ts), slack.MsgOptionText("✅ *1. preflight*", false))
			}()
			fmt.Fprint(w, `{"response_type":"ephemeral","text":"Starting run #1."}`)
		case "/slack/interactions":
			var cb slack.InteractionCallback
			_ = json.Unmarshal([]byte(form.Get("payload")), &cb)
			mu.Lock()
			ts := statusTS
			mu.Unlock()
			switch cb.ActionCallback.BlockActions[0].ActionID {
			case "approve":
				if cb.User.ID == olivia {
					fmt.Fprint(w, `{"response_type":"ephemeral","text":"🚫 You requested this run; someone else must approve it."}`)
					return
				}
				go func() {
					_, _, _, _ = api.UpdateMessageContext(ctx, testChannel, ts, slack.MsgOptionText("status", false), status("watching", 2, rollback))
					_, _, _ = api.PostMessageContext(ctx, testChannel, slack.MsgOptionTS(ts), slack.MsgOptionText("✅ approved by <@"+cb.User.ID+">", false))
					chart := pngSized(40, 20)
					_, _ = api.UploadFileContext(ctx, slack.UploadFileParameters{Filename: "watch.png", FileSize: len(chart),
						Reader: bytes.NewReader(chart), Channel: testChannel, ThreadTimestamp: ts, Title: "5xx rate"})
				}()
			case "rollback":
				rollbacks.Add(1)
				go func() {
					_, _, _, _ = api.UpdateMessageContext(ctx, testChannel, ts, slack.MsgOptionText("status", false), status("rolled back", 3))
					_, _, _ = api.PostMessageContext(ctx, testChannel, slack.MsgOptionTS(ts), slack.MsgOptionText("↩️ *Rollback* done", false))
				}()
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &rollbacks
}
