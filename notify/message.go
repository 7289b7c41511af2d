package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
)

// Message is a rendered Slack message.
type Message struct {
	// Text is always set: Slack shows it in notifications and reads it to
	// screen readers; the blocks are what people see in the channel.
	Text   string
	Blocks []slack.Block
	// Key is set by the Deliverer, not by renderers: the outbox key of a
	// message being posted. NewSlack's adapter embeds it in the message
	// metadata so that a post whose answer was lost can be found again.
	Key string
}

// RunView is everything the renderers need about one run. Renderers are pure:
// the same view gives the same message.
type RunView struct {
	Status    domain.Status   // run, steps, approvals
	Cluster   *config.Cluster // may be nil (cluster removed from the config)
	Approvers []string        // IDs from access.approvers: U…/W… users, S… groups
	Required  int             // access.required_approvals (0 is read as 1)
}

func (v RunView) required() int { return max(v.Required, 1) }

// Keys name the Slack messages of a run in the outbox: one status message,
// one reply per step attempt, one summary. Outbox.Upsert and Outbox.Reply
// take them.

// StatusKey names a run's status message.
func StatusKey(run domain.RunID) string { return "run/" + run.String() + "/status" }

// StepKey names the thread reply of one attempt of one step.
func StepKey(run domain.RunID, step domain.StepRecord) string {
	return fmt.Sprintf("run/%s/step/%d/%d", run, step.Index, step.Attempt)
}

// SummaryKey names a run's final summary reply.
func SummaryKey(run domain.RunID) string { return "run/" + run.String() + "/summary" }

// NoticeKey names a notice reply; the same notice of the same revision of a run is the
// same reply (so an event delivered twice is posted once).
func NoticeKey(run domain.RunID, revision uint64, text string) string {
	h := sha256.Sum256([]byte(text))
	return fmt.Sprintf("run/%s/notice/%d/%s", run, revision, hex.EncodeToString(h[:6]))
}

// DecisionKey names the reply to an approver's approval.
func DecisionKey(run domain.RunID, approver string) string {
	return fmt.Sprintf("run/%s/decision/%s", run, approver)
}

// GateKey names the approvers' ping when the run reaches its gate (at that revision).
func GateKey(run domain.RunID, revision uint64) string {
	return fmt.Sprintf("run/%s/gate/%d", run, revision)
}

// StateKey names the reply that says why a run needs attention or rolls back.
func StateKey(run domain.RunID, revision uint64) string {
	return fmt.Sprintf("run/%s/state/%d", run, revision)
}

// UploadKey names a file shared in a run's thread (a watch chart).
func UploadKey(run domain.RunID, name string) string {
	return "run/" + run.String() + "/file/" + name
}

// stepTitle is a step's title with X and Y replaced by the run's versions
// when they are known ("stop 3.4.3, install 3.9.1").
func stepTitle(run domain.Run, index int, name string) string {
	t := domain.StepTitle(index)
	switch {
	case t == "" && name == "":
		return fmt.Sprintf("step %d", index)
	case t == "":
		return name // a step the engine does not know: its recorded name as it is
	}
	return domain.StepTitleFor(index, run.From, run.To)
}

// stepNumber is how people count steps: 1… forward in their order, R1–R3 for rollback;
// an index the engine does not know shows as it is.
func stepNumber(index int) string {
	p := domain.Position(index)
	switch {
	case p == 0:
		return fmt.Sprint(index)
	case p > 100:
		return fmt.Sprintf("R%d", p-100)
	}
	return fmt.Sprint(p)
}

// byPosition orders step indexes as people count them (unknown ones last, by index).
func byPosition(a, b int) int {
	pa, pb := domain.Position(a), domain.Position(b)
	if pa == 0 {
		pa = 1000 + a
	}
	if pb == 0 {
		pb = 1000 + b
	}
	return pa - pb
}

// versions is "3.4.3 → 3.9.1", or "→ 3.9.1" before preflight has read X.
func versions(run domain.Run) string {
	from := run.From
	if from == "" {
		from = "current"
	}
	return escape(from) + " → " + escape(run.To)
}

// blockIDs hands out block IDs unique within one message version.
type blockIDs string

func (p blockIDs) id(name string) string {
	id := string(p) + "-" + name
	if len(id) > maxBlockID {
		id = id[:maxBlockID]
	}
	return id
}
