package notify

import (
	"fmt"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
)

var allStates = []storage.RunState{
	storage.StateScheduled, storage.StatePreparing, storage.StateAwaitingApproval, storage.StateRejected,
	storage.StateExpired, storage.StateStopping, storage.StateMigrating, storage.StateStarting,
	storage.StateWatching, storage.StateAwaitingDecommission, storage.StateSucceeded,
	storage.StateFailedBeforeDowntime, storage.StateNeedsAttention, storage.StateRollingBack,
	storage.StateRolledBack, storage.StateRollbackFailed, storage.StateAborted,
}

// nasty is n characters of text that escaping makes longer and that has
// mentions, links and code fences in it.
func nasty(n int) string {
	const unit = "a & b <!channel> <https://x|y> ``` ünïcödé → "
	s := strings.Repeat(unit, n/len([]rune(unit))+1)
	return string([]rune(s)[:n])
}

func manySteps(n int) []storage.StepRecord {
	var out []storage.StepRecord
	for i := range n {
		idx := i + 1
		if i >= 12 {
			idx = 200 + i // steps the renderer has no title for
		}
		r := failed(idx, at(0, i), at(1, i), nasty(5000))
		r.Name, r.Attempt = nasty(400), 3
		r.OutputTail = nasty(2000)
		if i%3 == 0 {
			r.Status = storage.StepRunning
		}
		out = append(out, r)
	}
	return out
}

func TestHugeInputsStayInsideBlockKitLimits(t *testing.T) {
	base := views()["migrating"]
	steps300 := manySteps(300)
	notice := nasty(10_000)
	var bigCluster config.Cluster
	for i := range 5000 {
		bigCluster.Nodes = append(bigCluster.Nodes, config.Node{Name: fmt.Sprintf("%d-%s", i, nasty(300))})
	}
	tests := []struct {
		name  string
		edit  func(v *RunView, step *storage.StepRecord)
		check func(t *testing.T, status, step, summary Message)
	}{
		{"50 nodes", func(v *RunView, _ *storage.StepRecord) { v.Cluster = testCluster(50) }, func(t *testing.T, status, _, _ Message) {
			if !hasText(status, "50: kong-1, kong-2, kong-3, kong-4, kong-5, and 45 more") {
				t.Error("nodes field does not count the nodes it leaves out")
			}
		}},
		{"5000 nodes with long names", func(v *RunView, _ *storage.StepRecord) {
			v.Cluster = &bigCluster
		}, nil},
		{"100 KB output tail", func(_ *RunView, step *storage.StepRecord) {
			step.OutputTail = nasty(100_000) + "\nTHE LAST LINE"
		}, func(t *testing.T, _, step, _ Message) {
			if !hasText(step, "THE LAST LINE\n```") || !hasText(step, "whole output in runs/12/") {
				t.Error("step reply does not keep the end of the output with the note")
			}
		}},
		{"100 KB output in one line", func(_ *RunView, step *storage.StepRecord) {
			step.OutputTail = strings.Repeat("&", 100_000)
		}, nil},
		{"2000-character reason", func(v *RunView, _ *storage.StepRecord) {
			v.Status.Run.Reason = strings.Repeat("r", 1999) + "!"
		}, func(t *testing.T, status, _, _ Message) {
			if !hasText(status, strings.Repeat("r", 1999)+"!") {
				t.Error("a 2000-character reason that fits was cut")
			}
		}},
		{"20000-character reason", func(v *RunView, _ *storage.StepRecord) {
			v.Status.Run.Reason = nasty(20_000)
		}, func(t *testing.T, status, _, _ Message) {
			if !hasText(status, "…") {
				t.Error("a reason that cannot fit was not visibly cut")
			}
		}},
		{"many steps with long names and errors", func(v *RunView, _ *storage.StepRecord) {
			v.Status.Steps = steps300
		}, func(t *testing.T, status, _, summary Message) {
			if !hasText(status, "more") || !hasText(summary, "more steps") {
				t.Error("steps left out are not counted")
			}
		}},
		{"huge step error and details", func(_ *RunView, step *storage.StepRecord) {
			step.Error = nasty(50_000)
			step.Details = map[string]string{}
			for _, d := range stepDetails {
				step.Details[d.key] = nasty(10_000)
			}
			step.Attempt = 99
		}, nil},
		{"300 approvers and approvals", func(v *RunView, _ *storage.StepRecord) {
			v.Status.Run.State = storage.StateAwaitingApproval
			v.Approvers, v.Status.Approvals = nil, nil
			for i := range 300 {
				v.Approvers = append(v.Approvers, fmt.Sprintf("U%08d", i))
				v.Status.Approvals = append(v.Status.Approvals, storage.Approval{UserID: fmt.Sprintf("W%08d", i), Decision: storage.DecisionApprove})
			}
		}, func(t *testing.T, status, _, _ Message) {
			if !hasText(status, "more") || !hasText(status, "300 of 2 approvals") {
				t.Error("gate does not count the approvers it leaves out")
			}
		}},
		{"long names everywhere", func(v *RunView, step *storage.StepRecord) {
			r := &v.Status.Run
			r.Cluster, r.From, r.To, r.Window, r.RequestedBy = nasty(500), nasty(300), nasty(300), nasty(1000), nasty(100)
			r.Details["backup.path"], r.Details["backup.sha256"], r.Details["warning"] = nasty(5000), nasty(5000), nasty(5000)
			for k, val := range measured {
				r.Details[k] = val + nasty(3000)
			}
			step.Name = nasty(1000)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, state := range allStates {
				v := base
				v.Status.Run = baseRun(state)
				v.Status.Run.DowntimeStart = at(2, 0)
				v.Status.Steps = forward(7)
				v.Status.Approvals = nil
				step := failed(int(upgrade.StepStart), at(2, 0), at(2, 40), "kong start failed")
				step.OutputTail = "ok\n"
				tt.edit(&v, &step)
				status, reply, summary := StatusMessage(v), StepReply(v, step), SummaryReply(v)
				for name, m := range map[string]Message{"status": status, "step": reply, "summary": summary, "notice": NoticeReply(v, notice)} {
					if err := CheckLimits(m); err != nil {
						t.Errorf("%s message in state %s breaks limits:\n%v", name, state, err)
					}
				}
				if tt.check != nil && state == storage.StateMigrating || tt.check != nil && state == storage.StateAwaitingApproval && strings.Contains(tt.name, "approv") {
					tt.check(t, status, reply, summary)
				}
			}
		})
	}
}

// hasText reports whether any text of m contains s.
func hasText(m Message, s string) bool {
	if strings.Contains(m.Text, s) {
		return true
	}
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if b.Text != nil && strings.Contains(b.Text.Text, s) {
				return true
			}
			for _, f := range b.Fields {
				if strings.Contains(f.Text, s) {
					return true
				}
			}
		case *slack.ContextBlock:
			for _, e := range b.ContextElements.Elements {
				if tx, ok := e.(*slack.TextBlockObject); ok && strings.Contains(tx.Text, s) {
					return true
				}
			}
		}
	}
	return false
}

func TestCheckLimitsFindsEveryBreach(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	btn := func(text, value string, c *slack.ConfirmationBlockObject) *slack.ButtonBlockElement {
		b := slack.NewButtonBlockElement("a", value, plain(text))
		if c != nil {
			b = b.WithConfirm(c)
		}
		return b
	}
	var fiftyOne []slack.Block
	for i := range 51 {
		fiftyOne = append(fiftyOne, divider(fmt.Sprint(i)))
	}
	var elevenFields []*slack.TextBlockObject
	for range 11 {
		elevenFields = append(elevenFields, md("f"))
	}
	var elevenElems []slack.MixedElement
	for range 11 {
		elevenElems = append(elevenElems, md("c"))
	}
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"no text", Message{Blocks: []slack.Block{divider("d")}}, "fallback text is empty"},
		{"51 blocks", Message{Text: "t", Blocks: fiftyOne}, "51 blocks"},
		{"repeated block id", Message{Text: "t", Blocks: []slack.Block{divider("d"), divider("d")}}, "repeats"},
		{"block id too long", Message{Text: "t", Blocks: []slack.Block{divider(long(256))}}, "block_id has 256"},
		{"section text", Message{Text: "t", Blocks: []slack.Block{slack.NewSectionBlock(md(long(3001)), nil, nil)}}, "3001 characters"},
		{"empty section", Message{Text: "t", Blocks: []slack.Block{slack.NewSectionBlock(nil, nil, nil)}}, "neither text nor fields"},
		{"11 fields", Message{Text: "t", Blocks: []slack.Block{slack.NewSectionBlock(nil, elevenFields, nil)}}, "11 fields"},
		{"long field", Message{Text: "t", Blocks: []slack.Block{slack.NewSectionBlock(nil, []*slack.TextBlockObject{md(long(2001))}, nil)}}, "field 0 has 2001"},
		{"header", Message{Text: "t", Blocks: []slack.Block{slack.NewHeaderBlock(plain(long(151)))}}, "header text has 151"},
		{"11 context elements", Message{Text: "t", Blocks: []slack.Block{slack.NewContextBlock("c", elevenElems...)}}, "11 context elements"},
		{"button text", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("a", btn(long(76), "v", nil))}}, "text has 76"},
		{"button value", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("a", btn("b", long(2001), nil))}}, "value has 2001"},
		{"confirm title", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("a", btn("b", "v",
			slack.NewConfirmationBlockObject(plain(long(101)), plain("t"), plain("ok"), plain("no"))))}}, "confirm title has 101"},
		{"confirm text", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("a", btn("b", "v",
			slack.NewConfirmationBlockObject(plain("t"), plain(long(301)), plain("ok"), plain("no"))))}}, "confirm text has 301"},
		{"confirm buttons", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("a", btn("b", "v",
			slack.NewConfirmationBlockObject(plain("t"), plain("t"), plain(long(31)), plain(long(31)))))}}, "deny button has 31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLimits(tt.m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckLimits = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
