package console

import (
	"html"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// names resolves the IDs in Slack's mention syntax to what a person reads.
type names struct {
	users    map[string]string // U…/W… → display name
	groups   map[string]string // S… → handle (without @)
	channels map[string]string // C… → name (without #)
	me       string            // the user viewing the page: their mentions stand out
}

// unescapeSlack turns Slack's three escapes back into the characters they
// stand for. Nothing else is an escape in Slack text.
var unescapeSlack = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace

// esc escapes text for HTML element content and quoted attribute values.
func esc(s string) string { return html.EscapeString(s) }

// plainHTML renders a plain_text object: Slack's escapes are undone, the
// rest is shown as it is, line breaks kept.
func plainHTML(s string) string {
	return strings.ReplaceAll(esc(unescapeSlack(s)), "\n", "<br>")
}

// mrkdwnHTML renders Slack mrkdwn as HTML: *bold*, _italic_, ~strike~,
// `code`, ```code blocks```, > quotes, <@U…>, <!subteam^S…>, <#C…>, <!here>,
// <!date^…|fallback>, <url|text> links, and the escapes &lt; &gt; &amp;.
// Everything else is text: no HTML in the input reaches the output unescaped.
func (n *names) mrkdwnHTML(src string) string {
	var b strings.Builder
	segs := splitFences(src)
	for i, s := range segs {
		if s.code {
			code := strings.TrimPrefix(s.text, "\n")
			code = strings.TrimSuffix(code, "\n")
			b.WriteString(`<pre class="md-pre">`)
			b.WriteString(esc(unescapeSlack(code)))
			b.WriteString(`</pre>`)
			continue
		}
		text := s.text
		if i > 0 && segs[i-1].code { // the <pre> already breaks the line
			text = strings.TrimPrefix(text, "\n")
		}
		if i+1 < len(segs) && segs[i+1].code {
			text = strings.TrimSuffix(text, "\n")
		}
		n.linesHTML(&b, text)
	}
	return b.String()
}

type segment struct {
	text string
	code bool
}

// splitFences cuts src at pairs of ``` into text and code segments; an
// unpaired fence is text.
func splitFences(src string) []segment {
	var out []segment
	rest := src
	for {
		i := strings.Index(rest, "```")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i+3:], "```")
		if j < 0 {
			break
		}
		if i > 0 {
			out = append(out, segment{text: rest[:i]})
		}
		out = append(out, segment{text: rest[i+3 : i+3+j], code: true})
		rest = rest[i+3+j+3:]
	}
	if rest != "" {
		out = append(out, segment{text: rest})
	}
	return out
}

// linesHTML renders text line by line; consecutive lines starting with > (or
// its escape &gt;) form one quote.
func (n *names) linesHTML(b *strings.Builder, text string) {
	if text == "" {
		return
	}
	lines := strings.Split(text, "\n")
	prevLine := false // the last thing written was a line, not a quote
	for i := 0; i < len(lines); {
		if _, ok := quoted(lines[i]); ok {
			b.WriteString(`<blockquote class="md-quote">`)
			for first := true; i < len(lines); i++ {
				body, ok := quoted(lines[i])
				if !ok {
					break
				}
				if !first {
					b.WriteString("<br>")
				}
				first = false
				b.WriteString(n.inlineHTML(body))
			}
			b.WriteString(`</blockquote>`)
			prevLine = false
			continue
		}
		if prevLine {
			b.WriteString("<br>")
		}
		b.WriteString(n.inlineHTML(lines[i]))
		prevLine = true
		i++
	}
}

func quoted(line string) (string, bool) {
	for _, p := range []string{"&gt;", ">"} {
		if rest, ok := strings.CutPrefix(line, p); ok {
			return strings.TrimPrefix(rest, " "), true
		}
	}
	return "", false
}

// atom is one unit of a line: a literal character (which may be a
// formatting marker) or a piece of finished HTML (code, mention, link).
type atom struct {
	ch   rune
	html string
}

func (a atom) isChar(r rune) bool { return a.html == "" && a.ch == r }
func (a atom) isSpace() bool      { return a.html == "" && unicode.IsSpace(a.ch) }
func (a atom) isWord() bool {
	return a.html == "" && (unicode.IsLetter(a.ch) || unicode.IsDigit(a.ch))
}

// inlineHTML renders one line of mrkdwn.
func (n *names) inlineHTML(line string) string {
	return formatAtoms(n.atoms(line))
}

func (n *names) atoms(line string) []atom {
	var out []atom
	for i := 0; i < len(line); {
		switch line[i] {
		case '`':
			if j := strings.IndexByte(line[i+1:], '`'); j > 0 {
				code := line[i+1 : i+1+j]
				out = append(out, atom{html: `<code class="md-code">` + esc(unescapeSlack(code)) + `</code>`})
				i += j + 2
				continue
			}
		case '<':
			if j := strings.IndexByte(line[i+1:], '>'); j > 0 {
				if h, ok := n.special(line[i+1 : i+1+j]); ok {
					out = append(out, atom{html: h})
					i += j + 2
					continue
				}
			}
		case '&':
			if r, size := slackEscape(line[i:]); size > 0 {
				out = append(out, atom{ch: r})
				i += size
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		out = append(out, atom{ch: r})
		i += size
	}
	return out
}

func slackEscape(s string) (rune, int) {
	switch {
	case strings.HasPrefix(s, "&lt;"):
		return '<', 4
	case strings.HasPrefix(s, "&gt;"):
		return '>', 4
	case strings.HasPrefix(s, "&amp;"):
		return '&', 5
	}
	return 0, 0
}

// special renders what Slack writes between < and >: mentions, channel
// links, special mentions, dates and links. ok is false for anything else,
// which is then shown as text.
func (n *names) special(inner string) (string, bool) {
	target, label, hasLabel := strings.Cut(inner, "|")
	label = unescapeSlack(label)
	switch {
	case strings.HasPrefix(target, "@"):
		id := target[1:]
		if !isID(id) {
			return "", false
		}
		name := n.users[id]
		if hasLabel && label != "" {
			name = label
		}
		if name == "" {
			name = id
		}
		class := "mention"
		if id == n.me {
			class += " me"
		}
		return `<span class="` + class + `" data-user-id="` + esc(id) + `">@` + esc(name) + `</span>`, true
	case strings.HasPrefix(target, "#"):
		id := target[1:]
		if !isID(id) {
			return "", false
		}
		name := n.channels[id]
		if hasLabel && label != "" {
			name = label
		}
		if name == "" {
			name = id
		}
		return `<span class="mention channel" data-channel-id="` + esc(id) + `">#` + esc(name) + `</span>`, true
	case strings.HasPrefix(target, "!subteam^"):
		id := strings.TrimPrefix(target, "!subteam^")
		if !isID(id) {
			return "", false
		}
		name := n.groups[id]
		if hasLabel && label != "" {
			name = strings.TrimPrefix(label, "@")
		}
		if name == "" {
			name = id
		}
		return `<span class="mention group" data-group-id="` + esc(id) + `">@` + esc(name) + `</span>`, true
	case target == "!here" || target == "!channel" || target == "!everyone":
		return `<span class="mention special">@` + esc(target[1:]) + `</span>`, true
	case strings.HasPrefix(target, "!date^"):
		if !hasLabel {
			return "", false
		}
		return `<span class="date">` + esc(label) + `</span>`, true
	case strings.HasPrefix(target, "!"):
		return "", false
	}
	u := unescapeSlack(target)
	if !safeURL(u) {
		return "", false
	}
	text := u
	if hasLabel && label != "" {
		text = label
	}
	return `<a href="` + esc(u) + `" target="_blank" rel="noopener noreferrer">` + esc(text) + `</a>`, true
}

// isID reports whether s looks like a Slack ID: capitals and digits.
func isID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// safeURL accepts the links a Slack client would open: http(s) and mailto.
func safeURL(s string) bool {
	if strings.ContainsAny(s, " \t\n\"'<>") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	case "mailto":
		return u.Opaque != ""
	}
	return false
}

var markerTags = map[rune]string{'*': "b", '_': "i", '~': "s"}

// formatAtoms writes atoms as HTML, turning marker pairs into formatting the
// way Slack does: an opening marker follows the start, a space or
// punctuation and precedes a non-space; a closing one follows a non-space and
// precedes the end, a space or punctuation. Pairs nest.
func formatAtoms(atoms []atom) string {
	var b strings.Builder
	for i := 0; i < len(atoms); {
		a := atoms[i]
		if tag, ok := markerTags[a.ch]; ok && a.html == "" && opens(atoms, i) {
			if j := closes(atoms, i); j > 0 {
				b.WriteString("<" + tag + ">")
				b.WriteString(formatAtoms(atoms[i+1 : j]))
				b.WriteString("</" + tag + ">")
				i = j + 1
				continue
			}
		}
		if a.html != "" {
			b.WriteString(a.html)
		} else {
			b.WriteString(esc(string(a.ch)))
		}
		i++
	}
	return b.String()
}

func opens(atoms []atom, i int) bool {
	if i > 0 && atoms[i-1].isWord() {
		return false
	}
	return i+1 < len(atoms) && !atoms[i+1].isSpace()
}

func closes(atoms []atom, i int) int {
	m := atoms[i].ch
	for j := i + 2; j < len(atoms); j++ {
		if !atoms[j].isChar(m) || atoms[j-1].isSpace() {
			continue
		}
		if j+1 == len(atoms) || !atoms[j+1].isWord() {
			return j
		}
	}
	return -1
}
