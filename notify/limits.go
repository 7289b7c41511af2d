package notify

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// CheckLimits reports every way m breaks Slack's Block Kit limits (see
// reference/platform.md 1.4): at most 50 blocks with unique IDs; section text
// up to 3000 characters and at most 10 fields of 2000; header text up to 150;
// context elements at most 10; actions at most 25 elements; button text up
// to 75 and value up to 2000; confirm dialog title up to 100, text 300,
// confirm and deny 30; and a fallback text that is set. The renderers keep
// to them; the outbox refuses a message that does not, since Slack would
// refuse it on every attempt.
func CheckLimits(m Message) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if m.Text == "" {
		bad("fallback text is empty")
	}
	if n := utf8.RuneCountInString(m.Text); n > 40000 {
		bad("fallback text has %d characters, more than 40000", n)
	}
	if len(m.Blocks) > maxBlocks {
		bad("%d blocks, more than %d", len(m.Blocks), maxBlocks)
	}
	seen := map[string]bool{}
	for i, b := range m.Blocks {
		where := fmt.Sprintf("block %d (%s)", i, b.BlockType())
		if id := b.ID(); id != "" {
			if seen[id] {
				bad("%s: block_id %q repeats", where, id)
			}
			seen[id] = true
			if len(id) > maxBlockID {
				bad("%s: block_id has %d characters, more than %d", where, len(id), maxBlockID)
			}
		}
		for _, err := range checkBlock(b) {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
	}
	return errors.Join(errs...)
}

func checkBlock(b slack.Block) []error {
	var errs []error
	text := func(what string, t *slack.TextBlockObject, max int, required bool) {
		if t == nil {
			if required {
				errs = append(errs, fmt.Errorf("%s is missing", what))
			}
			return
		}
		n := utf8.RuneCountInString(t.Text)
		switch {
		case n == 0:
			errs = append(errs, fmt.Errorf("%s is empty", what))
		case n > max:
			errs = append(errs, fmt.Errorf("%s has %d characters, more than %d", what, n, max))
		}
	}
	switch b := b.(type) {
	case *slack.HeaderBlock:
		text("header text", b.Text, maxHeaderText, true)
	case *slack.SectionBlock:
		if b.Text == nil && len(b.Fields) == 0 {
			errs = append(errs, errors.New("section has neither text nor fields"))
		}
		text("section text", b.Text, maxSectionText, false)
		if len(b.Fields) > maxFields {
			errs = append(errs, fmt.Errorf("%d fields, more than %d", len(b.Fields), maxFields))
		}
		for i, f := range b.Fields {
			text(fmt.Sprintf("field %d", i), f, maxFieldText, true)
		}
	case *slack.ContextBlock:
		els := b.ContextElements.Elements
		if len(els) == 0 || len(els) > maxContextElems {
			errs = append(errs, fmt.Errorf("%d context elements, want 1 to %d", len(els), maxContextElems))
		}
		for i, e := range els {
			if t, ok := e.(*slack.TextBlockObject); ok {
				text(fmt.Sprintf("context element %d", i), t, maxSectionText, true)
			}
		}
	case *slack.ActionBlock:
		els := b.Elements.ElementSet
		if len(els) == 0 || len(els) > maxActionElems {
			errs = append(errs, fmt.Errorf("%d action elements, want 1 to %d", len(els), maxActionElems))
		}
		ids := map[string]bool{}
		for i, e := range els {
			btn, ok := e.(*slack.ButtonBlockElement)
			if !ok {
				continue
			}
			what := fmt.Sprintf("button %d (%s)", i, btn.ActionID)
			if ids[btn.ActionID] {
				errs = append(errs, fmt.Errorf("%s: action_id repeats", what))
			}
			ids[btn.ActionID] = true
			text(what+" text", btn.Text, maxButtonText, true)
			if n := utf8.RuneCountInString(btn.Value); n > maxButtonValue {
				errs = append(errs, fmt.Errorf("%s: value has %d characters, more than %d", what, n, maxButtonValue))
			}
			if c := btn.Confirm; c != nil {
				text(what+" confirm title", c.Title, maxConfirmTitle, true)
				text(what+" confirm text", c.Text, maxConfirmText, true)
				text(what+" confirm button", c.Confirm, maxConfirmButton, true)
				text(what+" deny button", c.Deny, maxConfirmButton, false)
			}
		}
	}
	return errs
}
