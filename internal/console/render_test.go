package console

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func blocksJSON(t *testing.T, bs ...slack.Block) string {
	t.Helper()
	b, err := json.Marshal(bs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRenderBlocks(t *testing.T) {
	n := testNames()
	plain := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
	}
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	tests := []struct {
		name   string
		blocks []slack.Block
		want   []string
		not    []string
	}{
		{"status message", statusBlocks("watching"), []string{
			`<div class="blk blk-header" data-block-id="status-1-r1-header" data-block-type="header">demo: Kong 3.4.3 → 3.5.0</div>`,
			`<div class="field"><div class="mrkdwn"><b>State</b><br>✋ watching</div></div>`,
			`<span class="mention group" data-group-id="S0CHANGE">@change-managers</span>`,
			`<span class="mention me" data-user-id="U0DEMOCHG">@Chandra</span>`,
			`data-block-type="divider"><hr></div>`,
			`<button type="button" class="btn btn-primary" data-action-id="approve" data-block-id="status-1-r1-actions" data-value="run=1;rev=1" data-message-ts="1.000100" data-style="primary">Approve</button>`,
			`data-action-id="rollback"`, `data-confirm="1"`,
			`<template class="confirm" data-style="danger"><div class="c-title">Roll back demo?</div><div class="c-text">This stops Kong 3.5.0 &amp; restores the backup.</div><div class="c-ok">Roll back</div><div class="c-deny">Cancel</div></template>`,
			`<span class="ctx-text">drawbridge run #1 · revision 1</span>`,
		}, nil},
		{"section text, accessory button without action_id", []slack.Block{
			slack.NewSectionBlock(md("*hi*"), nil, slack.NewAccessory(slack.NewButtonBlockElement("", "v", plain("Go")))),
		}, []string{`<b>hi</b>`, `data-action-id="console-action-0" data-block-id="console-block-0"`}, nil},
		{"image block and context image", []slack.Block{
			slack.NewImageBlock("https://charts.test/a.png", "a chart", "img", plain("Error rate")),
			slack.NewContextBlock("ctx", slack.NewImageBlockElement("https://x.test/i.png", "icon"), plain("plain & <text>")),
		}, []string{`<div class="image-title">Error rate</div><img class="block-image" src="https://charts.test/a.png" alt="a chart"`,
			`<img class="ctx-image" src="https://x.test/i.png" alt="icon"`, `<span class="ctx-text">plain &amp; &lt;text&gt;</span>`}, nil},
		{"image from a file and a bad scheme", []slack.Block{
			slack.NewImageBlockSlackFile(&slack.SlackFileObject{ID: "F00000001"}, "chart", "f", nil),
			slack.NewImageBlock("javascript:alert(1)", "x", "bad", nil),
		}, []string{`src="/files/F00000001"`, `[image: x]`}, []string{"javascript:"}},
		{"attributes cannot be broken out of", []slack.Block{
			slack.NewActionBlock(`a" onmouseover="alert(1)`, slack.NewButtonBlockElement(`x"><script>`, `"'<>&`, plain(`<b>bold?</b>`))),
		}, []string{`data-block-id="a&#34; onmouseover=&#34;alert(1)"`, `data-value="&#34;&#39;&lt;&gt;&amp;"`, `&lt;b&gt;bold?&lt;/b&gt;`},
			[]string{"<script>", `" onmouseover`, "<b>bold"}},
		{"unknown block", []slack.Block{slack.NewRichTextBlock("rt")}, []string{`<span class="unsupported">[rich_text block]</span>`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := n.blocksHTML(parseBlocks(blocksJSON(t, tt.blocks...)), "1.000100")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %s\nin %s", w, got)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(got, w) {
					t.Errorf("contains %s\nin %s", w, got)
				}
			}
		})
	}
}

func TestFindButton(t *testing.T) {
	raw := blocksJSON(t, statusBlocks("awaiting approval")...)
	b, ok := findButton(raw, "status-1-r1-actions", "rollback")
	if !ok || b.Value != "run=1;rev=1" || b.Style != "danger" || b.Text.Text != "Roll back" {
		t.Errorf("findButton(rollback) = %+v, %v", b, ok)
	}
	if _, ok := findButton(raw, "status-1-r1-actions", "resume"); ok {
		t.Error("found a button that is not there")
	}
	if _, ok := findButton(raw, "status-1-r1-facts", "approve"); ok {
		t.Error("found approve in the wrong block")
	}
}

func TestRunOf(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"status", blocksJSON(t, statusBlocks("watching")...), "1"},
		{"step reply", `[{"type":"section","block_id":"step-12-8-2-result","text":{"type":"mrkdwn","text":"x"}}]`, "12"},
		{"other scheme", `[{"type":"divider","block_id":"abc"}]`, ""},
		{"no block_id", `[{"type":"divider"}]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runOf(tt.raw); got != tt.want {
				t.Errorf("runOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStateOf(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"field with emoji", blocksJSON(t, statusBlocks("awaiting approval")...), "awaiting approval"},
		{"bold state", `[{"type":"section","text":{"type":"mrkdwn","text":"*State*\n❌ *failed before downtime*\nmore"}}]`, "failed before downtime"},
		{"no state", `[{"type":"section","text":{"type":"mrkdwn","text":"*Steps*\nState of things"}}]`, ""},
		{"not json", `nope State`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stateOf(tt.raw); got != tt.want {
				t.Errorf("stateOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestItemHTML(t *testing.T) {
	n := testNames()
	eph := n.itemHTML(item{Kind: "ephemeral", Key: "l:L1", TS: "5.000001", Author: "drawbridge", User: chandra,
		Command: "/kong-upgrade <x>", Text: "Usage: `/kong-upgrade start <cluster> <version>`", Error: "drawbridge answered <b>", Local: true})
	for _, want := range []string{`data-kind="ephemeral"`, `data-ephemeral="U0DEMOCHG"`, `data-local="1"`, "Only visible to you",
		`<div class="ephemeral-command"><code>/kong-upgrade &lt;x&gt;</code></div>`, `<code class="md-code">/kong-upgrade start &lt;cluster&gt; &lt;version&gt;</code>`,
		`<div class="ephemeral-error">drawbridge answered &lt;b&gt;</div>`} {
		if !strings.Contains(eph, want) {
			t.Errorf("ephemeral lacks %s\nin %s", want, eph)
		}
	}
	msg := n.itemHTML(item{Kind: "message", Key: "m:1.1", TS: "1.1", Author: "drawbridge", Text: "hi", Threaded: true})
	if !strings.Contains(msg, `<div class="thread" data-thread="1.1"></div>`) || strings.Contains(msg, "Only visible") {
		t.Errorf("message = %s", msg)
	}
}

// Every message drawbridge's renderer has a golden file for shows without
// leftover mrkdwn markers or unknown blocks, and status messages carry their
// state and run.
func TestRendersDrawbridgeMessages(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "notify", "testdata", "*.golden.json"))
	if len(files) == 0 {
		t.Skip("no notify golden files")
	}
	n := testNames()
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				Text   string          `json:"text"`
				Blocks json.RawMessage `json:"blocks"`
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Skip("not a message:", err)
			}
			got := n.itemHTML(item{Kind: "message", Key: "m:1", TS: "1", Author: "drawbridge", Text: m.Text, Blocks: string(m.Blocks)})
			if strings.Contains(got, "unsupported") || strings.Contains(got, "*") {
				t.Errorf("renders badly:\n%s", got)
			}
			if strings.HasPrefix(name, "status_") && (!strings.Contains(got, ` data-state="`) || !strings.Contains(got, ` data-run="`)) {
				t.Errorf("status message without data-state or data-run:\n%s", got)
			}
		})
	}
}
