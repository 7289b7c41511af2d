package bot_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
)

// TestReplayedCommandTakenOnce: a signed slash command sent again as it was (same body,
// timestamp and signature, within the five minutes) gets an empty answer and no second
// effect, also after a restart; a command without a trigger_id is refused as malformed.
func TestReplayedCommandTakenOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{nodes: 1})
	body := w.commandForm("U0OPERATOR", channel, "start test 3.5.0", newTriggerID()).Encode()
	signed := time.Now()
	replay := func() response {
		return w.post("/slack/commands", body, func(h http.Header) { sign(h, body, signed) })
	}
	if r := replay(); r.status != 200 || !strings.Contains(r.text, "start test 3.5.0") {
		t.Fatalf("the command answered %d %q", r.status, r.text)
	}
	if r := replay(); r.status != 200 || r.text != "" {
		t.Errorf("the replay answered %d %q, want an empty 200", r.status, r.text)
	}
	w.waitRun(1, domain.StateAwaitingApproval)
	w.ephemeralTo("U0OPERATOR", "Run 1 started")

	w.stop() // Close lets every queued job finish: a queued replay would have run by now
	w.start()
	if r := replay(); r.status != 200 || r.text != "" {
		t.Errorf("the replay after a restart answered %d %q, want an empty 200", r.status, r.text)
	}
	noTrigger := w.commandForm("U0OPERATOR", channel, "start test 3.5.0", "").Encode()
	if r := w.post("/slack/commands", noTrigger, nil); r.status != http.StatusBadRequest || !strings.Contains(r.text, "no trigger_id") {
		t.Errorf("a command without trigger_id answered %d %q", r.status, r.text)
	}
	w.stop()
	w.start()

	runs, err := w.store.ListRuns(t.Context(), storage.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Errorf("%d runs, want 1: %+v", len(runs), runs)
	}
	taken := 0
	for _, e := range w.allAudit() {
		if e.Action == "command" && strings.HasPrefix(e.Detail, "start test 3.5.0 (") {
			taken++
		}
	}
	if taken != 1 {
		t.Errorf("the command was taken %d times, want once: %+v", taken, w.allAudit())
	}
	for _, e := range w.slack.Ephemerals() {
		if strings.Contains(e.Text, "already has run") {
			t.Errorf("a second start was tried: %q", e.Text)
		}
	}
}
