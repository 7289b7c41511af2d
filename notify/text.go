package notify

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/drawbridge/drawbridge/units"
	"github.com/slack-go/slack"
)

// Slack's Block Kit limits, in characters (Unicode code points, as slack-go
// counts them). See reference/platform.md 1.4.
const (
	maxBlocks        = 50
	maxSectionText   = 3000
	maxHeaderText    = 150
	maxFields        = 10
	maxFieldText     = 2000
	maxContextElems  = 10
	maxButtonText    = 75
	maxButtonValue   = 2000
	maxConfirmTitle  = 100
	maxConfirmText   = 300
	maxConfirmButton = 30
	maxBlockID       = 255
	maxActionElems   = 25
	// maxFallbackText keeps the notification text short; Slack cuts at 40,000.
	maxFallbackText = 3000
)

const ellipsis = "…"

// Escape is escape for other packages' mrkdwn (the bot's answers).
func Escape(s string) string { return escape(s) }

// Mention is mention for other packages' mrkdwn.
func Mention(id string) string { return mention(id) }

// CodeBlock is raw text (a plan, an audit log) as a code block, escaped, with triple
// backticks in it broken up so they cannot end the block. It is not cut: the caller
// splits long text into sections.
func CodeBlock(raw string) string {
	return codeBlock(escape(strings.ReplaceAll(strings.TrimRight(raw, "\n"), "```", "``\u200b`")))
}

// escape makes text safe inside mrkdwn: Slack reads &, < and > as control
// characters (mentions, links), so user and command text must escape them.
func escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}

// escapedLen is how many characters r takes once escaped.
func escapedLen(r rune) int {
	switch r {
	case '&':
		return 5
	case '<', '>':
		return 4
	}
	return 1
}

// escapeHead escapes raw and keeps its beginning within max characters,
// ending with "…" when cut. It never cuts inside an escape sequence.
func escapeHead(raw string, max int) string {
	if n := escapedCount(raw); n <= max {
		return escape(raw)
	}
	budget := max - 1 // for the ellipsis
	end := 0
	for i, r := range raw {
		if budget -= escapedLen(r); budget < 0 {
			break
		}
		end = i + utf8.RuneLen(r)
	}
	return escape(raw[:end]) + ellipsis
}

// escapeTail escapes raw and keeps its end within max characters, starting
// at a line boundary when one is near. cut reports whether anything was left
// out.
func escapeTail(raw string, max int) (text string, cut bool) {
	if escapedCount(raw) <= max {
		return escape(raw), false
	}
	budget := max
	start := len(raw)
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(raw[:start])
		if budget -= escapedLen(r); budget < 0 {
			break
		}
		start -= size
	}
	kept := raw[start:]
	// Start on a whole line unless that would throw away most of the budget.
	if i := strings.IndexByte(kept, '\n'); i >= 0 && i < len(kept)/5 {
		kept = kept[i+1:]
	}
	return escape(kept), true
}

func escapedCount(raw string) int {
	n := 0
	for _, r := range raw {
		n += escapedLen(r)
	}
	return n
}

// byActor finds the first "by <word>" of the engine's text: the one actor of a change
// ("rejected by U0123ABCD: …", "aborted by U0123ABCD"), which becomes a mention.
var byActor = regexp.MustCompile(`\bby ([A-Za-z0-9_-]+)`)

// richHead is escapeHead for the engine's text (reasons, errors, notices): everything in
// it is escaped, so no text a person typed (a reject reason) or a command printed can
// mention anyone, a group or the channel (<@U…>, <!subteam^…>, <!here>, <#C…>, links).
// Only the first "by <user ID>" becomes a mention: the engine names a change's one actor
// before anything it quotes, so a "by U…" further on is quoted text and stays text.
func richHead(raw string, max int) string {
	// Escaping only lengthens text, so what lies beyond max characters (and
	// a mention's length more) is cut anyway: leave it out before the work.
	if r := []rune(raw); len(r) > max+64 {
		raw = string(r[:max+64])
	}
	s := escape(raw)
	if loc := byActor.FindStringSubmatchIndex(s); loc != nil {
		// A user ID has seven characters or more, and digits: a word in capitals is not one.
		id := s[loc[2]:loc[3]]
		if len(id) >= 7 && (isSlackID(id, 'U') || isSlackID(id, 'W')) && strings.ContainsAny(id, "0123456789") {
			s = s[:loc[2]] + mention(id) + s[loc[3]:]
		}
	}
	return cutText(s, max)
}

// cutText keeps already-safe mrkdwn (or plain text) within max characters,
// ending with "…" when cut. It backs off so as not to end inside a mention
// (<@U…>) or an escape sequence (&amp;).
func cutText(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)[:max-1]
	out := string(runes)
	if i := strings.LastIndexByte(out, '<'); i >= 0 && !strings.Contains(out[i:], ">") {
		out = out[:i]
	}
	if i := strings.LastIndexByte(out, '&'); i >= 0 && !strings.Contains(out[i:], ";") {
		out = out[:i]
	}
	return out + ellipsis
}

// codeBlock wraps escaped text without triple backticks in a code block.
func codeBlock(escaped string) string {
	return "```\n" + strings.TrimRight(escaped, "\n") + "\n```"
}

// codeTail is the end of raw output as a code block of at most max
// characters. Triple backticks in the output would end the block early, so
// they are broken up first. cut reports whether the beginning was left out.
func codeTail(raw string, max int) (text string, cut bool) {
	raw = strings.ReplaceAll(strings.TrimRight(raw, "\n"), "```", "``\u200b`")
	text, cut = escapeTail(raw, max-len("```\n\n```"))
	return codeBlock(text), cut
}

// mention renders a Slack ID as a mention: users (U…, W…) as <@U…>, user
// groups (S…) as <!subteam^S…>. Anything else (e.g. "scheduler") is text.
func mention(id string) string {
	switch {
	case id == "":
		return "nobody"
	case id == "scheduler":
		return "the scheduler"
	case isSlackID(id, 'U'), isSlackID(id, 'W'):
		return "<@" + id + ">"
	case isSlackID(id, 'S'):
		return "<!subteam^" + id + ">"
	}
	return escape(id)
}

func isSlackID(id string, prefix byte) bool {
	if len(id) < 2 || id[0] != prefix {
		return false
	}
	for _, r := range id[1:] {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// mentionList joins mentions, ending with "and N more" rather than going
// over max characters.
func mentionList(ids []string, max int) string {
	out := ""
	for i, id := range ids {
		next := mention(id)
		if i > 0 {
			next = ", " + next
		}
		reserve := 0
		if rest := len(ids) - i - 1; rest > 0 {
			reserve = len(fmt.Sprintf(" and %d more", rest))
		}
		if len(out)+len(next)+reserve > max {
			return strings.TrimPrefix(out+fmt.Sprintf(" and %d more", len(ids)-i), " ")
		}
		out += next
	}
	return out
}

// duration renders d for people: 850ms, 4.2s, 2m10s, 1h05m.
func duration(d time.Duration) string { return units.Duration(d) }

// measureText renders a measured time to the millisecond ("41.250 s"): downtime is
// judged to the second.
func measureText(d time.Duration) string { return units.Measured(d) }

// bytesText renders a byte count as 10.2 MiB: the same units as every other message.
func bytesText(n int64) string { return units.Bytes(n) }

// utcTime renders a time for people, in UTC.
func utcTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// firstLine is s up to its first line break.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func md(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, text, false, false)
}

func plain(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, text, true, false)
}
