package notify

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// panicOn forwards to Slack, but posting the message whose text is text panics: a bug
// that hits one message.
type panicOn struct {
	Slack
	text string
}

func (p *panicOn) PostMessage(ctx context.Context, channel, threadTS string, m Message) (string, error) {
	if m.Text == p.text {
		panic("test: cannot send " + m.Text)
	}
	return p.Slack.PostMessage(ctx, channel, threadTS, m)
}

// lockedBuffer is a log destination tests can read while the Deliverer writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDeliverSurvivesAPanic: a panic while sending one message is logged with its stack,
// the message becomes a dead letter ("panic"), and everything else is delivered: the rest
// of its run, the other runs, and what is enqueued afterwards.
func TestDeliverSurvivesAPanic(t *testing.T) {
	h := newHarness(t, slackfake.Options{})
	o := h.outbox("C1")
	run1, run2 := script(1, 3, false), script(2, 2, false)
	enqueue(t, o, 1, run1)
	enqueue(t, o, 2, run2)
	var logs lockedBuffer
	h.start(&panicOn{Slack: NewSlack(h.api), text: "r1 step 2"}, func(d *Deliverer) {
		d.Log = slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), &logs), nil))
	})
	deadline := time.Now().Add(20 * time.Second)
	for len(h.dead()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter; calls:\n%s", h.callLog())
		}
		time.Sleep(2 * time.Millisecond) // polling the store
	}
	run3 := script(3, 1, false)
	enqueue(t, o, 3, run3) // the Deliverer is still there for what comes next
	h.drained()

	dead := h.dead()
	if len(dead) != 1 || dead[0].Key != "run/1/step/2/1" || !strings.HasPrefix(dead[0].LastError, "panic: test: cannot send r1 step 2") {
		t.Fatalf("dead letters %+v, want the one message whose sending panicked", dead)
	}
	checkRun(t, h, "C1", 1, slices.DeleteFunc(slices.Clone(run1), func(it item) bool { return it.text == "r1 step 2" }))
	checkRun(t, h, "C1", 2, run2)
	checkRun(t, h, "C1", 3, run3)
	if got := h.metric("drawbridge_slack_delivery_errors_total", "method", MethodPost, "error", errPanic); got != 1 {
		t.Errorf("panics counted %v times, want 1", got)
	}
	if l := logs.String(); !strings.Contains(l, "panicked") || !strings.Contains(l, "runtime/debug.Stack") {
		t.Errorf("the panic is not logged with its stack:\n%s", l)
	}
}
