package console

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// item is one thing shown in the channel: a message, a thread reply or an
// ephemeral message, ready to render.
type item struct {
	Kind     string // "message", "reply" or "ephemeral"
	Key      string // unique on the page: m:<ts>, r:<ts>, e:<ts>, l:<id>
	TS       string
	Parent   string // a reply's parent ts
	Author   string
	Text     string
	Blocks   string // JSON, as sent
	Files    []fileJSON
	Edits    int
	At       time.Time
	User     string // an ephemeral's user; "" for everyone
	Command  string // the slash command the user typed, shown above the answer
	Error    string // what went wrong, said by the console
	Local    bool   // made by the console, not in slackfake
	Threaded bool   // a top-level message, which may have replies
}

// itemHTML renders an item as an <article> with the hooks the page and the
// browser test use (data-kind, data-ts, data-key, data-ephemeral, data-state).
func (n *names) itemHTML(it item) string {
	var b strings.Builder
	classes := "msg"
	switch it.Kind {
	case "reply":
		classes += " reply"
	case "ephemeral":
		classes += " ephemeral"
	}
	fmt.Fprintf(&b, `<article class="%s" data-kind="%s" data-key="%s" data-ts="%s" data-edits="%d"`,
		classes, esc(it.Kind), esc(it.Key), esc(it.TS), it.Edits)
	if it.Parent != "" {
		fmt.Fprintf(&b, ` data-parent="%s"`, esc(it.Parent))
	}
	if it.Kind == "ephemeral" {
		fmt.Fprintf(&b, ` data-ephemeral="%s"`, esc(it.User))
	}
	if it.Local {
		b.WriteString(` data-local="1"`)
	}
	if st := stateOf(it.Blocks); st != "" {
		fmt.Fprintf(&b, ` data-state="%s"`, esc(st))
	}
	if run := runOf(it.Blocks); run != "" {
		fmt.Fprintf(&b, ` data-run="%s"`, esc(run))
	}
	b.WriteString(`><div class="avatar" aria-hidden="true">`)
	b.WriteString(esc(initials(it.Author)))
	b.WriteString(`</div><div class="msg-main"><div class="msg-head"><span class="author">`)
	b.WriteString(esc(it.Author))
	b.WriteString(`</span><span class="badge">APP</span>`)
	if !it.At.IsZero() {
		fmt.Fprintf(&b, `<time datetime="%s">%s</time>`, it.At.Format(time.RFC3339), it.At.Format("15:04:05"))
	}
	if it.Edits > 0 {
		b.WriteString(`<span class="edited">(edited)</span>`)
	}
	if it.Kind == "ephemeral" {
		b.WriteString(`<span class="only-you">Only visible to you</span>`)
	}
	b.WriteString(`</div>`)
	if it.Command != "" {
		b.WriteString(`<div class="ephemeral-command"><code>`)
		b.WriteString(esc(it.Command))
		b.WriteString(`</code></div>`)
	}
	b.WriteString(`<div class="msg-body">`)
	b.WriteString(n.bodyHTML(it))
	b.WriteString(`</div>`)
	if it.Error != "" {
		b.WriteString(`<div class="ephemeral-error">`)
		b.WriteString(plainHTML(it.Error))
		b.WriteString(`</div>`)
	}
	if it.Threaded {
		fmt.Fprintf(&b, `<button type="button" class="thread-label" data-thread-toggle="%s"></button><div class="thread" data-thread="%s"></div>`,
			esc(it.TS), esc(it.TS))
	}
	b.WriteString(`</div></article>`)
	return b.String()
}

func initials(name string) string {
	for _, r := range name {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// bodyHTML is what Slack shows of a message: its blocks if it has any, its
// text otherwise, then its files.
func (n *names) bodyHTML(it item) string {
	var b strings.Builder
	if blocks := parseBlocks(it.Blocks); len(blocks) > 0 {
		b.WriteString(n.blocksHTML(blocks, it.TS))
	} else if it.Text != "" {
		b.WriteString(`<div class="blk blk-text mrkdwn">`)
		b.WriteString(n.mrkdwnHTML(it.Text))
		b.WriteString(`</div>`)
	}
	if len(it.Files) > 0 {
		b.WriteString(`<div class="files">`)
		for _, f := range it.Files {
			b.WriteString(fileHTML(f))
		}
		b.WriteString(`</div>`)
	}
	return b.String()
}

func fileHTML(f fileJSON) string {
	title := f.Title
	if title == "" {
		title = f.Name
	}
	if strings.HasPrefix(f.Mimetype, "image/") {
		alt := f.AltText
		if alt == "" {
			alt = title
		}
		return fmt.Sprintf(`<figure class="file" data-file-id="%s"><figcaption>%s</figcaption><a href="%s" target="_blank"><img src="%s" alt="%s" data-file-id="%s" loading="lazy"></a></figure>`,
			esc(f.ID), esc(title), esc(f.URL), esc(f.URL), esc(alt), esc(f.ID))
	}
	return fmt.Sprintf(`<a class="file file-download" data-file-id="%s" href="%s" download="%s">📄 %s</a>`,
		esc(f.ID), esc(f.URL), esc(f.Name), esc(title))
}

// blocksHTML renders blocks; ts is the message's, which every button carries.
func (n *names) blocksHTML(blocks []block, ts string) string {
	var b strings.Builder
	for i, bl := range blocks {
		id := blockID(bl, i)
		open := fmt.Sprintf(`<div class="blk blk-%s" data-block-id="%s" data-block-type="%s">`,
			esc(classSafe(bl.Type)), esc(id), esc(bl.Type))
		switch bl.Type {
		case "header":
			b.WriteString(open)
			if bl.Text != nil {
				b.WriteString(plainHTML(bl.Text.Text))
			}
			b.WriteString(`</div>`)
		case "section":
			b.WriteString(open)
			b.WriteString(`<div class="sec-main">`)
			if bl.Text != nil {
				b.WriteString(`<div class="sec-text">`)
				b.WriteString(n.textHTML(*bl.Text))
				b.WriteString(`</div>`)
			}
			if len(bl.Fields) > 0 {
				b.WriteString(`<div class="sec-fields">`)
				for _, f := range bl.Fields {
					b.WriteString(`<div class="field">`)
					b.WriteString(n.textHTML(f))
					b.WriteString(`</div>`)
				}
				b.WriteString(`</div>`)
			}
			b.WriteString(`</div>`)
			if bl.Accessory != nil {
				b.WriteString(`<div class="sec-accessory">`)
				b.WriteString(n.elementHTML(*bl.Accessory, id, 0, ts))
				b.WriteString(`</div>`)
			}
			b.WriteString(`</div>`)
		case "divider":
			b.WriteString(open)
			b.WriteString(`<hr></div>`)
		case "context":
			b.WriteString(open)
			for _, e := range bl.elements() {
				switch e.Type {
				case "image":
					b.WriteString(imageHTML(e.ImageURL, e.SlackFile, e.AltText, "ctx-image"))
				case "mrkdwn":
					b.WriteString(`<span class="ctx-text">` + n.mrkdwnHTML(e.textString()) + `</span>`)
				default:
					b.WriteString(`<span class="ctx-text">` + plainHTML(e.textString()) + `</span>`)
				}
			}
			b.WriteString(`</div>`)
		case "image":
			b.WriteString(open)
			if bl.Title != nil {
				b.WriteString(`<div class="image-title">` + plainHTML(bl.Title.Text) + `</div>`)
			}
			b.WriteString(imageHTML(bl.ImageURL, bl.SlackFile, bl.AltText, "block-image"))
			b.WriteString(`</div>`)
		case "actions":
			b.WriteString(open)
			for j, e := range bl.elements() {
				b.WriteString(n.elementHTML(e, id, j, ts))
			}
			b.WriteString(`</div>`)
		default:
			b.WriteString(open)
			fmt.Fprintf(&b, `<span class="unsupported">[%s block]</span></div>`, esc(bl.Type))
		}
	}
	return b.String()
}

func classSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return -1
	}, s)
}

func (n *names) textHTML(t textObject) string {
	if t.Type == "mrkdwn" {
		return `<div class="mrkdwn">` + n.mrkdwnHTML(t.Text) + `</div>`
	}
	return `<div class="plain">` + plainHTML(t.Text) + `</div>`
}

// imageHTML shows an image by URL (http(s) or a file the fake holds).
func imageHTML(src string, file *slackFileRef, alt, class string) string {
	switch {
	case file != nil && file.ID != "":
		src = "/files/" + file.ID
	case file != nil && file.URL != "":
		src = file.URL
	}
	if !strings.HasPrefix(src, "/files/") && !safeURL(src) {
		return `<span class="unsupported">[image: ` + esc(alt) + `]</span>`
	}
	return fmt.Sprintf(`<img class="%s" src="%s" alt="%s" loading="lazy">`, class, esc(src), esc(alt))
}

// elementHTML renders an interactive element. Buttons carry what a click
// needs: data-action-id, data-block-id, data-value, data-message-ts, and
// their confirm dialog in a <template class="confirm">.
func (n *names) elementHTML(e element, blockID string, j int, ts string) string {
	switch e.Type {
	case "button":
		t := e.textObj()
		style := e.Style
		class := "btn"
		if style == "primary" || style == "danger" {
			class += " btn-" + style
		}
		var b strings.Builder
		fmt.Fprintf(&b, `<span class="btn-wrap"><button type="button" class="%s" data-action-id="%s" data-block-id="%s" data-value="%s" data-message-ts="%s"`,
			class, esc(actionID(e, j)), esc(blockID), esc(e.Value), esc(ts))
		if style != "" {
			fmt.Fprintf(&b, ` data-style="%s"`, esc(style))
		}
		if e.URL != "" && safeURL(e.URL) {
			fmt.Fprintf(&b, ` data-url="%s"`, esc(e.URL))
		}
		if e.Confirm != nil {
			b.WriteString(` data-confirm="1"`)
		}
		b.WriteString(`>`)
		b.WriteString(plainHTML(t.Text))
		b.WriteString(`</button>`)
		if c := e.Confirm; c != nil {
			b.WriteString(n.confirmHTML(c))
		}
		b.WriteString(`</span>`)
		return b.String()
	case "image":
		return imageHTML(e.ImageURL, e.SlackFile, e.AltText, "accessory-image")
	}
	return `<span class="unsupported">[` + esc(e.Type) + `]</span>`
}

func (n *names) confirmHTML(c *confirmObject) string {
	text := func(t *textObject, def string) string {
		if t == nil {
			return esc(def)
		}
		if t.Type == "mrkdwn" {
			return n.mrkdwnHTML(t.Text)
		}
		return plainHTML(t.Text)
	}
	style := c.Style
	if style == "" {
		style = "primary"
	}
	return fmt.Sprintf(`<template class="confirm" data-style="%s"><div class="c-title">%s</div><div class="c-text">%s</div><div class="c-ok">%s</div><div class="c-deny">%s</div></template>`,
		esc(style), text(c.Title, "Are you sure?"), text(c.Text, ""), text(c.Confirm, "Confirm"), text(c.Deny, "Cancel"))
}

// runBlockID is how drawbridge's renderer names blocks: status-12-r17-header,
// step-12-8-2-result, notice-12-r17-notice.
var runBlockID = regexp.MustCompile(`^[a-z]+-([0-9]+)-`)

// runOf is the drawbridge run a message is about, read from its first
// block_id; "" when it does not follow that scheme.
func runOf(raw string) string {
	if !strings.Contains(raw, "block_id") {
		return ""
	}
	for _, bl := range parseBlocks(raw) {
		if bl.BlockID == "" {
			continue
		}
		if m := runBlockID.FindStringSubmatch(bl.BlockID); m != nil {
			return m[1]
		}
		return ""
	}
	return ""
}

// stateOf finds a status message's state: the mrkdwn field or text that
// starts with "*State*" and a line break, without its emoji and formatting.
func stateOf(raw string) string {
	if !strings.Contains(raw, "State") {
		return ""
	}
	for _, bl := range parseBlocks(raw) {
		texts := slices.Clone(bl.Fields)
		if bl.Text != nil {
			texts = append(texts, *bl.Text)
		}
		for _, t := range texts {
			rest, ok := strings.CutPrefix(strings.TrimSpace(t.Text), "*State*\n")
			if !ok {
				continue
			}
			line, _, _ := strings.Cut(rest, "\n")
			line = unescapeSlack(strings.NewReplacer("*", "", "_", "", "~", "").Replace(line))
			return strings.TrimSpace(strings.TrimLeftFunc(line, func(r rune) bool {
				return !unicode.IsLetter(r) && !unicode.IsDigit(r)
			}))
		}
	}
	return ""
}
