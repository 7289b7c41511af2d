package notify

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
)

var allStates = []domain.RunState{
	domain.StateScheduled, domain.StatePreparing, domain.StateAwaitingApproval, domain.StateRejected,
	domain.StateExpired, domain.StateStopping, domain.StateMigrating, domain.StateStarting,
	domain.StateWatching, domain.StateAwaitingDecommission, domain.StateSucceeded,
	domain.StateFailedBeforeDowntime, domain.StateNeedsAttention, domain.StateRollingBack,
	domain.StateRolledBack, domain.StateRollbackFailed, domain.StateAborted,
}

// nasty is n characters of text that escaping makes longer and that has
// mentions, links and code fences in it.
func nasty(n int) string {
	const unit = "a & b <!channel> <https://x|y> ``` ünïcödé → "
	s := strings.Repeat(unit, n/len([]rune(unit))+1)
	return string([]rune(s)[:n])
}

func manySteps(n int) []domain.StepRecord {
	var out []domain.StepRecord
	for i := range n {
		idx := i + 1
		if i >= 12 {
			idx = 200 + i // steps the renderer has no title for
		}
		r := failed(idx, at(0, i), at(1, i), nasty(5000))
		r.Name, r.Attempt = nasty(400), 3
		r.OutputTail = nasty(2000)
		if i%3 == 0 {
			r.Status = domain.StepRunning
		}
		out = append(out, r)
	}
	return out
}

// hugeMeasurements are the longest measured times there can be.
var hugeMeasurements = domain.Measurements{Downtime: math.MaxInt64, Commands: math.MaxInt64, Overhead: math.MaxInt64, RollbackDowntime: math.MaxInt64}

// hugeStepFacts are step facts with every field a step reply shows set, and as long as
// can be.
func hugeStepFacts() domain.StepFacts {
	many := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("U%08d%s", i, nasty(100)))
		}
		return out
	}
	return domain.StepFacts{
		Checks:      []domain.CheckVerdict{{Name: nasty(10_000), Verdict: "FAIL", Detail: nasty(10_000)}},
		Fingerprint: nasty(10_000),
		Tables:      math.MaxInt,
		Backup:      &domain.Backup{Path: nasty(10_000), Size: math.MaxInt64, SHA256: nasty(10_000)},
		Took:        math.MaxInt64,
		Evaluation: &domain.Evaluation{Migrations: math.MaxInt, PendingAfterUp: nasty(10_000), NewPlugins: many(200),
			Force: true, PredictedDowntime: math.MaxInt64, BreakingLines: many(200)},
		Gate:     &domain.GateCrossing{Crossed: true, At: nasty(10_000), ApprovedBy: many(300)},
		Commands: math.MaxInt64,
		Spans:    []domain.ActionSpan{{Action: nasty(10_000), Slowest: math.MaxInt64, Span: math.MaxInt64}},
		Restore:  &domain.Restored{Method: nasty(10_000), FailedDB: nasty(10_000)},
		Blind:    true,
	}
}

// TestHugeFactsShowEveryField checks that the huge facts the limits test uses reach every
// field a step reply can show, so that the limits test covers them all.
func TestHugeFactsShowEveryField(t *testing.T) {
	labels := []string{"Backup file", "Size", "SHA-256", "Took", "Migrations", "Left for finish", "New plugins",
		"Migrations run with -f", "Predicted downtime", "Breaking changes in", "Commands took", "Approved by",
		"Crossed", "Restore method", "Failed database kept as", "Fingerprint"}
	var got []string
	for _, f := range stepFields(hugeStepFacts()) {
		got = append(got, f.label)
	}
	if !slices.Equal(got, labels) {
		t.Errorf("step fields = %q, want %q", got, labels)
	}
	got = nil
	for _, f := range measureFields(hugeMeasurements) {
		got = append(got, f.label)
	}
	if want := []string{"Downtime", "Stop, migrations and start", "drawbridge's share", "Rollback downtime"}; !slices.Equal(got, want) {
		t.Errorf("measure fields = %q, want %q", got, want)
	}
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
		edit  func(v *RunView, step *domain.StepRecord)
		check func(t *testing.T, status, step, summary Message)
	}{
		{"50 nodes", func(v *RunView, _ *domain.StepRecord) { v.Cluster = testCluster(50) }, func(t *testing.T, status, _, _ Message) {
			if !hasText(status, "50: kong-1, kong-2, kong-3, kong-4, kong-5, and 45 more") {
				t.Error("nodes field does not count the nodes it leaves out")
			}
		}},
		{"5000 nodes with long names", func(v *RunView, _ *domain.StepRecord) {
			v.Cluster = &bigCluster
		}, nil},
		{"100 KB output tail", func(_ *RunView, step *domain.StepRecord) {
			step.OutputTail = nasty(100_000) + "\nTHE LAST LINE"
		}, func(t *testing.T, _, step, _ Message) {
			if !hasText(step, "THE LAST LINE\n```") || !hasText(step, "whole output in runs/12/") {
				t.Error("step reply does not keep the end of the output with the note")
			}
		}},
		{"100 KB output with drawbridge's lines cut away", func(_ *RunView, step *domain.StepRecord) {
			step.Facts.Said = []string{"DRAWBRIDGE DECIDED " + nasty(5_000), nasty(5_000)}
			step.OutputTail = step.Facts.Said[0] + "\n" + nasty(100_000) + "\nTHE LAST LINE"
		}, func(t *testing.T, _, step, _ Message) {
			if !hasText(step, "drawbridge said, above the end of the output") || !hasText(step, "DRAWBRIDGE DECIDED") || !hasText(step, "THE LAST LINE") {
				t.Error("step reply does not keep drawbridge's own lines the cut left out")
			}
		}},
		{"100 KB output in one line", func(_ *RunView, step *domain.StepRecord) {
			step.OutputTail = strings.Repeat("&", 100_000)
		}, nil},
		{"2000-character reason", func(v *RunView, _ *domain.StepRecord) {
			v.Status.Run.Reason = strings.Repeat("r", 1999) + "!"
		}, func(t *testing.T, status, _, _ Message) {
			if !hasText(status, strings.Repeat("r", 1999)+"!") {
				t.Error("a 2000-character reason that fits was cut")
			}
		}},
		{"20000-character reason", func(v *RunView, _ *domain.StepRecord) {
			v.Status.Run.Reason = nasty(20_000)
		}, func(t *testing.T, status, _, _ Message) {
			if !hasText(status, "…") {
				t.Error("a reason that cannot fit was not visibly cut")
			}
		}},
		{"many steps with long names and errors", func(v *RunView, _ *domain.StepRecord) {
			v.Status.Steps = steps300
		}, func(t *testing.T, status, _, summary Message) {
			if !hasText(status, "more") || !hasText(summary, "more steps") {
				t.Error("steps left out are not counted")
			}
		}},
		{"huge step error and details", func(v *RunView, step *domain.StepRecord) {
			step.Error = nasty(50_000)
			step.Facts = hugeStepFacts()
			v.Status.Run.Facts.Measured = hugeMeasurements
			step.Attempt = 99
		}, func(t *testing.T, _, step, _ Message) {
			if !hasText(step, "*Backup file*") || !hasText(step, "…") {
				t.Error("step reply does not show the huge details, cut")
			}
		}},
		{"300 approvers and approvals", func(v *RunView, _ *domain.StepRecord) {
			v.Status.Run.State = domain.StateAwaitingApproval
			v.Approvers, v.Status.Approvals = nil, nil
			for i := range 300 {
				v.Approvers = append(v.Approvers, fmt.Sprintf("U%08d", i))
				v.Status.Approvals = append(v.Status.Approvals, domain.Approval{UserID: fmt.Sprintf("W%08d", i), Decision: domain.DecisionApprove})
			}
		}, func(t *testing.T, status, _, _ Message) {
			if !hasText(status, "more") || !hasText(status, "300 of 2 approvals") {
				t.Error("gate does not count the approvers it leaves out")
			}
		}},
		{"long names everywhere", func(v *RunView, step *domain.StepRecord) {
			r := &v.Status.Run
			r.Cluster, r.From, r.To, r.Window, r.RequestedBy = nasty(500), nasty(300), nasty(300), nasty(1000), nasty(100)
			r.Facts.Backup = &domain.Backup{Path: nasty(5000), Size: math.MaxInt64, SHA256: nasty(5000)}
			r.Facts.Warnings = []string{nasty(5000), nasty(5000)}
			r.Facts.Measured = hugeMeasurements
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
				step := failed(int(domain.StepStart), at(2, 0), at(2, 40), "kong start failed")
				step.OutputTail = "ok\n"
				tt.edit(&v, &step)
				status, reply, summary := StatusMessage(v), StepReply(v, step), SummaryReply(v)
				for name, m := range map[string]Message{"status": status, "step": reply, "summary": summary, "notice": NoticeReply(v, notice)} {
					if err := CheckLimits(m); err != nil {
						t.Errorf("%s message in state %s breaks limits:\n%v", name, state, err)
					}
				}
				if tt.check != nil && state == domain.StateMigrating || tt.check != nil && state == domain.StateAwaitingApproval && strings.Contains(tt.name, "approv") {
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
