package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/slackfake"
	"github.com/drawbridge/drawbridge/storage"
)

// item is one message a test enqueues for a run.
type item struct {
	reply bool
	key   string
	text  string
}

// script is a run's messages: its status message in versions 1…n, each
// followed by a step reply; extra adds a second status version right after
// some (which the Deliverer may coalesce).
func script(run, n int, extra bool) []item {
	var out []item
	for i := 1; i <= n; i++ {
		out = append(out, item{key: StatusKey(domain.RunID(run)), text: fmt.Sprintf("r%d status v%d", run, i)})
		if extra && i%3 == 0 {
			out = append(out, item{key: StatusKey(domain.RunID(run)), text: fmt.Sprintf("r%d status v%d+", run, i)})
		}
		out = append(out, item{reply: true, key: fmt.Sprintf("run/%d/step/%d/1", run, i), text: fmt.Sprintf("r%d step %d", run, i)})
	}
	return out
}

func enqueue(t *testing.T, o *Outbox, run int, items []item) {
	t.Helper()
	id := domain.RunID(run)
	for _, it := range items {
		var err error
		if it.reply {
			err = o.Reply(t.Context(), id, it.key, StatusKey(id), text(it.text))
		} else {
			err = o.Upsert(t.Context(), id, it.key, text(it.text))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// interleave enqueues the runs' scripts alternately, one message at a time.
func interleave(t *testing.T, o *Outbox, scripts map[int][]item) {
	t.Helper()
	for i := 0; ; i++ {
		any := false
		for run := 1; run <= len(scripts); run++ {
			if i < len(scripts[run]) {
				enqueue(t, o, run, scripts[run][i:i+1])
				any = true
			}
		}
		if !any {
			return
		}
	}
}

// checkRun checks that a run's messages reached Slack exactly once and in
// order: one status message (posted once, then edited) showing the last
// version, one reply per step in order, and every successful call in the
// order the messages were enqueued.
func checkRun(t *testing.T, h *harness, channel string, run int, items []item) {
	t.Helper()
	prefix := fmt.Sprintf("r%d ", run)
	pos := map[string]int{}
	var lastStatus string
	var replies []string
	for i, it := range items {
		pos[it.text] = i
		if it.reply {
			replies = append(replies, it.text)
		} else {
			lastStatus = it.text
		}
	}
	last, posts := -1, 0
	seen := map[string]int{}
	for _, c := range h.fake.Calls() {
		txt := c.Params.Get("text")
		if !c.OK() || !strings.HasPrefix(txt, prefix) || (c.Method != MethodPost && c.Method != MethodUpdate) {
			continue
		}
		if c.Method == MethodPost && c.Params.Get("thread_ts") == "" {
			posts++
		}
		seen[txt]++
		if pos[txt] <= last {
			t.Errorf("run %d: %q (%s) reached Slack after a later message", run, txt, c.Method)
		}
		last = pos[txt]
	}
	if posts != 1 {
		t.Errorf("run %d: status message posted %d times, want once", run, posts)
	}
	for _, r := range replies {
		if seen[r] != 1 {
			t.Errorf("run %d: reply %q reached Slack %d times, want once", run, r, seen[r])
		}
	}
	var top []slackfake.Message
	for _, m := range h.fake.Messages(channel) {
		if strings.HasPrefix(m.Text, prefix) {
			top = append(top, m)
		}
	}
	if len(top) != 1 {
		t.Fatalf("run %d: %d top-level messages, want 1", run, len(top))
	}
	if top[0].Text != lastStatus {
		t.Errorf("run %d: status message shows %q, want %q", run, top[0].Text, lastStatus)
	}
	var got []string
	for _, r := range top[0].Replies {
		got = append(got, r.Text)
	}
	if !slices.Equal(got, replies) {
		t.Errorf("run %d: thread = %q, want %q", run, got, replies)
	}
	ref, ok, err := h.store.MessageRef(t.Context(), StatusKey(domain.RunID(run)))
	if err != nil || !ok || ref.TS != top[0].TS || ref.Channel != channel {
		t.Errorf("run %d: stored ref = %+v %v %v, want %s/%s", run, ref, ok, err, channel, top[0].TS)
	}
}

func TestDeliverInOrderPerRun(t *testing.T) {
	h := newHarness(t, slackfake.Options{})
	o := h.outbox("C1")
	scripts := map[int][]item{1: script(1, 5, false), 2: script(2, 5, false)}
	interleave(t, o, scripts) // stored before the Deliverer starts
	h.start(nil)
	more := map[int][]item{1: script(1, 8, false)[10:], 2: script(2, 8, false)[10:]}
	interleave(t, o, more) // and while it runs
	h.drained()
	for run := 1; run <= 2; run++ {
		checkRun(t, h, "C1", run, append(scripts[run], more[run]...))
	}
	if n := len(h.dead()); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
	if got := h.metric("drawbridge_slack_delivered_total", "method", MethodPost); got != 2+16 {
		t.Errorf("delivered posts = %v, want 18", got)
	}
	if got := h.metric("drawbridge_slack_delivered_total", "method", MethodUpdate); got != 2*7 {
		t.Errorf("delivered updates = %v, want 14", got)
	}
	if got := h.metric("drawbridge_outbox_pending"); got != 0 {
		t.Errorf("pending gauge = %v, want 0", got)
	}
}

// 30% of all calls answer 429 with Retry-After 1. The test's clock runs 100
// times faster than real time, so each Retry-After costs 10 ms.
func TestDeliver429Storm(t *testing.T) {
	h := newHarness(t, slackfake.Options{Fault: slackfake.Sometimes(0.3, 7, slackfake.RateLimited(1))})
	o := h.outbox("C1")
	scripts := map[int][]item{1: script(1, 12, true), 2: script(2, 12, true), 3: script(3, 12, true)}
	interleave(t, o, map[int][]item{1: scripts[1][:5], 2: scripts[2][:5], 3: scripts[3][:5]})
	h.start(nil)
	interleave(t, o, map[int][]item{1: scripts[1][5:], 2: scripts[2][5:], 3: scripts[3][5:]})
	h.drained()
	for run := 1; run <= 3; run++ {
		checkRun(t, h, "C1", run, scripts[run])
	}
	limited := 0
	for _, c := range h.fake.Calls() {
		if c.Status == 429 {
			limited++
		}
	}
	if limited < 10 {
		t.Errorf("only %d calls were rate limited; the storm did not happen", limited)
	}
	if got := h.metric("drawbridge_slack_delivery_errors_total", "method", MethodPost, "error", "rate_limited"); got == 0 {
		t.Error("rate limits were not counted")
	}
	if got := h.metric("drawbridge_slack_delivered_total", "method", MethodPost); got != 3+36 {
		t.Errorf("delivered posts = %v, want 39 (one status message and 12 replies per run)", got)
	}
	if n := len(h.dead()); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

// A 429 is honoured: no call of that method is made before Retry-After ends.
func TestDeliverHonoursRetryAfter(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, slackfake.Options{Fault: func(c slackfake.Call) slackfake.Fault {
		if c.Method == MethodPost && n.Add(1) == 1 {
			return slackfake.RateLimited(30)
		}
		return slackfake.Fault{}
	}})
	o := h.outbox("C1")
	enqueue(t, o, 1, script(1, 1, false))
	enqueue(t, o, 2, script(2, 1, false))
	h.start(nil)
	h.drained()
	calls := h.fake.CallsTo(MethodPost)
	if len(calls) < 2 || calls[0].Status != 429 {
		t.Fatalf("calls:\n%s", h.callLog())
	}
	// The fake stamps calls with real time; 30 s at speed 100 is 300 ms.
	if gap := calls[1].At.Sub(calls[0].At); gap < 300*time.Millisecond {
		t.Errorf("next post %s after a 429 with Retry-After 30 (want ≥ 300ms real, 30s on the test clock)", gap)
	}
	for run := 1; run <= 2; run++ {
		checkRun(t, h, "C1", run, script(run, 1, false))
	}
}

func TestDeliverRetries5xx(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, slackfake.Options{Fault: func(c slackfake.Call) slackfake.Fault {
		if c.Method == MethodPost && n.Add(1) <= 3 {
			return slackfake.Fault{Status: 502}
		}
		return slackfake.Fault{}
	}})
	items := script(1, 2, false)
	enqueue(t, h.outbox("C1"), 1, items)
	h.start(nil)
	h.drained()
	checkRun(t, h, "C1", 1, items)
	if got := h.metric("drawbridge_slack_delivery_errors_total", "method", MethodPost, "error", "http_502"); got != 3 {
		t.Errorf("counted %v 502s, want 3", got)
	}
	// A 5xx may hide a post Slack made: it looks before posting again.
	if got := len(h.fake.CallsTo("conversations.history")); got < 3 {
		t.Errorf("%d lookups before the retries, want at least 3", got)
	}
}

func TestPermanentErrorDoesNotBlockOtherRuns(t *testing.T) {
	h := newHarness(t, slackfake.Options{Channels: []string{"C1"}})
	broken, ok := h.outbox("C404"), h.outbox("C1")
	bad, good := script(1, 2, false), script(2, 3, false)
	enqueue(t, broken, 1, bad)
	enqueue(t, ok, 2, good)
	h.start(nil)
	h.drained()
	checkRun(t, h, "C1", 2, good)
	// Run 1: both status versions are refused (the second becomes a post,
	// since the first never got a ts); its replies have nothing to go under.
	if got := h.metric("drawbridge_slack_delivery_errors_total", "method", MethodPost, "error", "channel_not_found"); got != 2 {
		t.Errorf("channel_not_found counted %v times, want 2", got)
	}
	if got := h.metric("drawbridge_slack_delivery_errors_total", "method", MethodPost, "error", errParentNotPosted); got != 2 {
		t.Errorf("parent_not_posted counted %v times, want 2", got)
	}
	dead := h.dead()
	if len(dead) != 4 {
		t.Fatalf("%d dead letters, want 4: %+v", len(dead), dead)
	}
	for _, m := range dead {
		if m.Run != 1 || !(strings.HasPrefix(m.LastError, "channel_not_found") || strings.HasPrefix(m.LastError, errParentNotPosted)) {
			t.Errorf("dead letter %+v", m)
		}
	}
}

func TestUpdateBeforeItsPostIsDelivered(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, slackfake.Options{Fault: func(c slackfake.Call) slackfake.Fault {
		if c.Method == MethodPost && n.Add(1) == 1 {
			return slackfake.RateLimited(1) // the post has to wait; its updates are queued behind it
		}
		return slackfake.Fault{}
	}})
	o := h.outbox("C1")
	items := []item{
		{key: StatusKey(1), text: "r1 status v1"},
		{reply: true, key: "run/1/step/1/1", text: "r1 step 1"},
		{key: StatusKey(1), text: "r1 status v2"},
		{key: StatusKey(1), text: "r1 status v3"},
	}
	enqueue(t, o, 1, items)
	pending, _ := h.store.PendingOutbox(t.Context(), 0)
	if pending[2].Method != MethodPost {
		t.Errorf("an upsert before any post is stored as %s", pending[2].Method)
	}
	h.start(nil)
	h.drained()
	checkRun(t, h, "C1", 1, items)
	if got := h.okTexts(MethodUpdate); !slices.Equal(got, []string{"r1 status v3"}) {
		t.Errorf("updates = %q, want only the newest version (v2 is coalesced into v3)", got)
	}
	// Now that the post has a ts, a new version is stored as an update.
	if err := o.Upsert(t.Context(), 1, StatusKey(1), text("r1 status v4")); err != nil {
		t.Fatal(err)
	}
	pending, _ = h.store.PendingOutbox(t.Context(), 0)
	if len(pending) != 1 || pending[0].Method != MethodUpdate {
		t.Errorf("pending = %+v, want one chat.update", pending)
	}
}

func TestUpdateWhosePostFailedBecomesAPost(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, slackfake.Options{Fault: func(c slackfake.Call) slackfake.Fault {
		if c.Method == MethodPost && n.Add(1) == 1 {
			return slackfake.Fault{Error: "msg_too_long"}
		}
		return slackfake.Fault{}
	}})
	o := h.outbox("C1")
	enqueue(t, o, 1, []item{
		{key: StatusKey(1), text: "r1 status v1"},
		{reply: true, key: "run/1/step/1/1", text: "r1 step 1"},
		{key: StatusKey(1), text: "r1 status v2"},
		{reply: true, key: "run/1/step/2/1", text: "r1 step 2"},
	})
	h.start(nil)
	h.drained()
	msgs := h.fake.Messages("C1")
	if len(msgs) != 1 || msgs[0].Text != "r1 status v2" || msgs[0].Edits != 0 || len(msgs[0].Replies) != 1 || msgs[0].Replies[0].Text != "r1 step 2" {
		t.Fatalf("channel = %+v\ncalls:\n%s", msgs, h.callLog())
	}
	if got := h.metric("drawbridge_slack_delivery_errors_total", "method", MethodPost, "error", "msg_too_long"); got != 1 {
		t.Errorf("msg_too_long counted %v times", got)
	}
	if n := len(h.dead()); n != 2 {
		t.Errorf("%d dead letters, want 2 (v1 and the reply that had no parent)", n)
	}
}

func TestReplyWaitsForItsParent(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, slackfake.Options{Fault: func(c slackfake.Call) slackfake.Fault {
		if c.Method == MethodPost && strings.HasPrefix(c.Params.Get("text"), "r1 status") && n.Add(1) <= 2 {
			return slackfake.Fault{Status: 503}
		}
		return slackfake.Fault{}
	}})
	o := h.outbox("C1")
	enqueue(t, o, 1, script(1, 1, false)[:1])
	// Run 2 posts under run 1's status message: another lane, same parent.
	if err := o.Reply(t.Context(), 2, "run/2/note", StatusKey(1), text("r2 note")); err != nil {
		t.Fatal(err)
	}
	enqueue(t, o, 1, script(1, 1, false)[1:])
	h.start(nil)
	h.drained()
	var order []string
	for _, c := range h.fake.CallsTo(MethodPost) {
		order = append(order, fmt.Sprintf("%s:%d", c.Params.Get("text"), c.Status))
	}
	want := []string{"r1 status v1:503", "r1 status v1:503", "r1 status v1:200", "r2 note:200", "r1 step 1:200"}
	if !slices.Equal(order, want) {
		t.Errorf("posts = %q, want %q (the reply must wait for its parent)", order, want)
	}
	msgs := h.fake.Messages("C1")
	if len(msgs) != 1 || len(msgs[0].Replies) != 2 || msgs[0].Replies[0].Text != "r2 note" {
		t.Errorf("channel = %+v", msgs)
	}
}

func TestDeliverSurvivesRestart(t *testing.T) {
	h := newHarness(t, slackfake.Options{Fault: func(slackfake.Call) slackfake.Fault {
		return slackfake.Fault{Delay: time.Millisecond}
	}})
	o := h.outbox("C1")
	scripts := map[int][]item{1: script(1, 10, false), 2: script(2, 10, false)}
	interleave(t, o, scripts)
	h.start(nil)
	h.wait("ten calls", func() bool { return len(h.fake.Calls()) >= 10 })
	h.restart(nil) // a new Deliverer on the reopened state file
	if pending, _ := h.store.PendingOutbox(t.Context(), 0); len(pending) == 0 {
		t.Fatal("nothing was left for the second Deliverer; the restart proved nothing")
	}
	h.drained()
	for run := 1; run <= 2; run++ {
		checkRun(t, h, "C1", run, scripts[run])
	}
	if got := h.metric("drawbridge_slack_delivered_total", "method", MethodPost); got != 2+20 {
		t.Errorf("delivered posts over both Deliverers = %v, want 22", got)
	}
}

// loseAnswers forwards posts to Slack and then reports a timeout for the
// first n of them, as when the connection drops after Slack acted.
type loseAnswers struct {
	Slack
	Finder
	n      atomic.Int32
	prefix string // only for texts starting with it
}

func (l *loseAnswers) PostMessage(ctx context.Context, channel, threadTS string, m Message) (string, error) {
	ts, err := l.Slack.PostMessage(ctx, channel, threadTS, m)
	if err == nil && strings.HasPrefix(m.Text, l.prefix) && l.n.Add(-1) >= 0 {
		return "", &Error{Class: Transient, Code: "timeout", MaybeSent: true, Err: context.DeadlineExceeded}
	}
	return ts, err
}

func TestLostAnswerIsNotPostedAgain(t *testing.T) {
	h := newHarness(t, slackfake.Options{})
	real := NewSlack(h.api)
	lossy := &loseAnswers{Slack: real, Finder: real.(Finder)}
	lossy.n.Store(2) // the status post and the first reply
	items := script(1, 2, false)
	enqueue(t, h.outbox("C1"), 1, items)
	h.start(lossy)
	h.drained()
	checkRun(t, h, "C1", 1, items)
	if len(h.fake.CallsTo("conversations.history")) == 0 || len(h.fake.CallsTo("conversations.replies")) == 0 {
		t.Errorf("no lookups before posting again:\n%s", h.callLog())
	}
	if calls := h.fake.CallsTo(MethodPost); calls[0].Params.Get("metadata") == "" {
		t.Error("posts carry no outbox key in their metadata")
	}
}

// A newer version queued behind a post whose answer was lost must not
// replace it: the post is looked up first, and the newer version edits it.
func TestLostAnswerIsNotCoalescedAway(t *testing.T) {
	h := newHarness(t, slackfake.Options{})
	real := NewSlack(h.api)
	lossy := &loseAnswers{Slack: real, Finder: real.(Finder), prefix: "r1 "}
	lossy.n.Store(1)
	o := h.outbox("C1")
	h.start(lossy, func(d *Deliverer) {
		d.Backoff = func(int) time.Duration { return 20 * time.Second } // 200 ms real: time to queue v2
	})
	enqueue(t, o, 1, []item{{key: StatusKey(1), text: "r1 status v1"}})
	h.wait("the first post", func() bool { return len(h.fake.Messages("C1")) == 1 })
	enqueue(t, o, 1, []item{{key: StatusKey(1), text: "r1 status v2"}})
	h.drained()
	msgs := h.fake.Messages("C1")
	if len(msgs) != 1 || msgs[0].Text != "r1 status v2" || msgs[0].Edits != 1 {
		t.Errorf("channel = %+v, want the one status message edited to v2\ncalls:\n%s", msgs, h.callLog())
	}
}

// hangAfterPost forwards a post to Slack and then hangs until the Deliverer
// is stopped: the process dies between Slack's answer and CompleteOutbox.
type hangAfterPost struct {
	Slack
	posted chan struct{}
}

func (s *hangAfterPost) PostMessage(ctx context.Context, channel, threadTS string, m Message) (string, error) {
	if _, err := s.Slack.PostMessage(ctx, channel, threadTS, m); err != nil {
		return "", err
	}
	close(s.posted)
	<-ctx.Done()
	return "", ctx.Err()
}

func TestRestartAfterUnrecordedPost(t *testing.T) {
	h := newHarness(t, slackfake.Options{})
	items := script(1, 2, false)
	enqueue(t, h.outbox("C1"), 1, items)
	hang := &hangAfterPost{Slack: NewSlack(h.api), posted: make(chan struct{})}
	h.start(hang)
	<-hang.posted
	h.restart(nil)
	h.drained()
	checkRun(t, h, "C1", 1, items)
}

func TestEphemeralAndUpload(t *testing.T) {
	h := newHarness(t, slackfake.Options{})
	o := h.outbox("C1")
	ctx := t.Context()
	png := []byte("\x89PNG\r\n\x1a\nchart bytes")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(o.Upsert(ctx, 1, StatusKey(1), text("r1 status v1")))
	must(o.Upload(ctx, 1, UploadKey(1, "watch.png"), StatusKey(1), File{Name: "watch.png", Title: "5xx rate", AltText: "chart", Data: png}))
	must(o.Ephemeral(ctx, 1, "C1", "U0ALICE", text("you already approved run 1")))
	must(o.Ephemeral(ctx, 0, "C1", "U0BOB", text("usage: /kong-upgrade start <cluster> <version>")))
	h.start(nil)
	h.drained()
	files := h.fake.Files()
	msgs := h.fake.Messages("C1")
	if len(files) != 1 || string(files[0].Data) != string(png) || len(msgs) != 1 || files[0].ThreadTS != msgs[0].TS {
		t.Errorf("files = %+v, channel = %+v", files, msgs)
	}
	if e := h.fake.Ephemerals(); len(e) != 2 || e[0].User != "U0ALICE" || e[1].User != "U0BOB" {
		t.Errorf("ephemerals = %+v", e)
	}
	// The upload is recorded under its key: asking again shares nothing new.
	must(o.Upload(ctx, 1, UploadKey(1, "watch.png"), StatusKey(1), File{Name: "watch.png", Data: png}))
	if pending, _ := h.store.PendingOutbox(ctx, 0); len(pending) != 0 {
		t.Errorf("a second upload of the same key was queued: %+v", pending)
	}
}

func TestGiveUpAfter(t *testing.T) {
	h := newHarness(t, slackfake.Options{Fault: func(c slackfake.Call) slackfake.Fault {
		if c.Method == MethodPost {
			return slackfake.Fault{Status: 500}
		}
		return slackfake.Fault{}
	}})
	enqueue(t, h.outbox("C1"), 1, script(1, 1, false)[:1])
	h.start(nil, func(d *Deliverer) { d.GiveUpAfter = 5 * time.Second })
	h.drained()
	dead := h.dead()
	if len(dead) != 1 || !strings.HasPrefix(dead[0].LastError, errExpired) {
		t.Errorf("dead letters = %+v, want one expired", dead)
	}
	if got := h.metric("drawbridge_slack_delivery_errors_total", "method", MethodPost, "error", errExpired); got != 1 {
		t.Errorf("expired counted %v times", got)
	}
}

func TestMetadataRefusedFallsBack(t *testing.T) {
	h := newHarness(t, slackfake.Options{Fault: func(c slackfake.Call) slackfake.Fault {
		if c.Method == MethodPost && c.Params.Has("metadata") {
			return slackfake.Fault{Error: "invalid_metadata_format"}
		}
		return slackfake.Fault{}
	}})
	items := script(1, 2, false)
	enqueue(t, h.outbox("C1"), 1, items)
	h.start(nil)
	h.drained()
	checkRun(t, h, "C1", 1, items)
	refused := 0
	for _, c := range h.fake.CallsTo(MethodPost) {
		if c.Error == "invalid_metadata_format" {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("metadata refused %d times, want once (then posts go without it)", refused)
	}
}

func TestOutboxRefusals(t *testing.T) {
	h := newHarness(t, slackfake.Options{})
	o := h.outbox("C1")
	ctx := t.Context()
	huge := Message{Text: "t", Blocks: nil}
	for i := range 51 {
		huge.Blocks = append(huge.Blocks, divider(fmt.Sprint(i)))
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"over the limits", o.Upsert(ctx, 1, StatusKey(1), huge), "51 blocks"},
		{"no text", o.Upsert(ctx, 1, StatusKey(1), Message{}), "fallback text is empty"},
		{"no key", o.Upsert(ctx, 1, "", text("x")), "must be set"},
		{"reply without parent", o.Reply(ctx, 1, "k", "", text("x")), "must be set"},
		{"ephemeral without user", o.Ephemeral(ctx, 1, "C1", "", text("x")), "must be set"},
		{"empty upload", o.Upload(ctx, 1, "f", "", File{Name: "a.png"}), "must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", tt.err, tt.want)
			}
		})
	}
	if pending, _ := h.store.PendingOutbox(ctx, 0); len(pending) != 0 {
		t.Errorf("refused messages were stored: %+v", pending)
	}
}

func TestDeliverStopsWhenStoreCloses(t *testing.T) {
	h := newHarness(t, slackfake.Options{})
	d := &Deliverer{Store: h.store, Slack: NewSlack(h.api), Clock: h.clock}
	if err := h.store.Close(); err != nil {
		t.Fatal(err)
	}
	err := d.Run(t.Context())
	if !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Run on a closed store = %v, want ErrClosed", err)
	}
	h.open() // for the harness's cleanup
}
