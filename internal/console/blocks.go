package console

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The Block Kit subset the console reads. Decoding is lenient on purpose:
// a block it does not know is shown as such, never an error.

type textObject struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type confirmObject struct {
	Title   *textObject `json:"title"`
	Text    *textObject `json:"text"`
	Confirm *textObject `json:"confirm"`
	Deny    *textObject `json:"deny"`
	Style   string      `json:"style"`
}

type slackFileRef struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// element is a block element (button, image) or a context element (text,
// image). Text is a text object for buttons and a string for context text.
type element struct {
	Type      string          `json:"type"`
	Text      json.RawMessage `json:"text"`
	ActionID  string          `json:"action_id"`
	Value     string          `json:"value"`
	Style     string          `json:"style"`
	URL       string          `json:"url"`
	Confirm   *confirmObject  `json:"confirm"`
	ImageURL  string          `json:"image_url"`
	AltText   string          `json:"alt_text"`
	SlackFile *slackFileRef   `json:"slack_file"`
}

// textObj reads Text as a text object (buttons, options).
func (e element) textObj() textObject {
	var t textObject
	_ = json.Unmarshal(e.Text, &t)
	return t
}

// textString reads Text as the string of a context text element.
func (e element) textString() string {
	var s string
	if json.Unmarshal(e.Text, &s) == nil {
		return s
	}
	return e.textObj().Text
}

type block struct {
	Type      string            `json:"type"`
	BlockID   string            `json:"block_id"`
	Text      *textObject       `json:"text"`
	Fields    []textObject      `json:"fields"`
	Accessory *element          `json:"accessory"`
	Elements  []json.RawMessage `json:"elements"`
	ImageURL  string            `json:"image_url"`
	AltText   string            `json:"alt_text"`
	Title     *textObject       `json:"title"`
	SlackFile *slackFileRef     `json:"slack_file"`
}

// elements decodes the block's elements; ones that are not element objects
// (rich text) are left out.
func (b block) elements() []element {
	var out []element
	for _, raw := range b.Elements {
		var e element
		if json.Unmarshal(raw, &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

func parseBlocks(raw string) []block {
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	var bs []block
	if err := json.Unmarshal([]byte(raw), &bs); err != nil {
		// Some senders wrap them: {"blocks":[…]}.
		var wrapped struct {
			Blocks []block `json:"blocks"`
		}
		if json.Unmarshal([]byte(raw), &wrapped) != nil {
			return nil
		}
		bs = wrapped.Blocks
	}
	return bs
}

// blockID is the block's block_id or, when the sender left it out, the one
// the console gives it (Slack makes one up too; slack-go reads an action
// only if it carries one).
func blockID(b block, i int) string {
	if b.BlockID != "" {
		return b.BlockID
	}
	return fmt.Sprintf("console-block-%d", i)
}

// actionID is the element's action_id or the console's stand-in.
func actionID(e element, i int) string {
	if e.ActionID != "" {
		return e.ActionID
	}
	return fmt.Sprintf("console-action-%d", i)
}

// button is a clickable element found in a message.
type button struct {
	BlockID  string
	ActionID string
	Type     string
	Text     textObject
	Value    string
	Style    string
	URL      string
}

// findButton looks for the element with block and action IDs in raw blocks:
// in an actions block or as a section's accessory.
func findButton(raw, blockIDWant, actionIDWant string) (button, bool) {
	for i, b := range parseBlocks(raw) {
		if blockID(b, i) != blockIDWant {
			continue
		}
		var els []element
		switch {
		case b.Type == "actions":
			els = b.elements()
		case b.Accessory != nil:
			els = []element{*b.Accessory}
		}
		for j, e := range els {
			if actionID(e, j) == actionIDWant {
				return button{BlockID: blockIDWant, ActionID: actionIDWant, Type: e.Type,
					Text: e.textObj(), Value: e.Value, Style: e.Style, URL: e.URL}, true
			}
		}
	}
	return button{}, false
}
