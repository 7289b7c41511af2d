package bot

import (
	"strings"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify"
)

// runView is what notify renders a run from.
func (b *Bot) runView(st domain.Status) notify.RunView { return notify.View(b.opts.Config, st) }

// textBlocks puts mrkdwn text into section blocks of at most 3000 characters.
func textBlocks(text string) []slack.Block {
	var out []slack.Block
	for _, chunk := range splitMrkdwn(text, 2900, 45) {
		out = append(out, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, chunk, false, false), nil, nil))
	}
	return out
}

// splitMrkdwn cuts text into at most maxChunks pieces of at most max runes, at line ends
// where it can, so that each piece renders on its own: a code block open at a cut is
// closed there and opened again in the next piece. What does not fit ends in "…".
func splitMrkdwn(text string, max, maxChunks int) []string {
	const fence = "```"
	var out []string
	var cur strings.Builder
	n, open := 0, false // runes in cur; a code block is open in cur
	flush := func() {
		s := cur.String()
		if open {
			s = strings.TrimSuffix(s, "\n") + "\n" + fence
		}
		out = append(out, s)
		cur.Reset()
		n = 0
		if open {
			cur.WriteString(fence + "\n")
			n = len(fence) + 1
		}
	}
	reserve := len(fence) + 1 // room to close a code block
	for _, line := range strings.SplitAfter(text, "\n") {
		for line != "" {
			room := max - reserve - n
			r := []rune(line)
			if len(r) <= room {
				cur.WriteString(line)
				n += len(r)
				open = open != (strings.Count(line, fence)%2 == 1)
				break
			}
			if n > len(fence)+1 || room <= 0 { // something besides a reopened fence: cut here
				flush()
				continue
			}
			// One line longer than a piece: cut it.
			part := string(r[:room])
			cur.WriteString(part)
			open = open != (strings.Count(part, fence)%2 == 1)
			line = string(r[room:])
			n += room
			flush()
		}
	}
	if cur.Len() > 0 && (len(out) == 0 || cur.String() != fence+"\n") {
		out = append(out, cur.String())
	}
	if len(out) > maxChunks {
		out = out[:maxChunks]
		last := []rune(out[maxChunks-1])
		out[maxChunks-1] = string(last[:min(len(last), max-reserve-1)]) + "…"
		if strings.Count(out[maxChunks-1], fence)%2 == 1 {
			out[maxChunks-1] += fence
		}
	}
	return out
}
