package bot_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// watchedUpgrade starts an upgrade to a bad release (20% 5xx on 3.5.0) on a cluster a real
// Prometheus scrapes, and approves it.
func watchedUpgrade(t *testing.T, auto bool) *world {
	w := newWorld(t, worldOpts{nodes: 2, promWatch: true, autoRollback: auto, watch: 30 * time.Second, interval: 2 * time.Second})
	w.c.Set([]string{"traffic.rps=1000", "faults.bad_release.version=3.5.0", "faults.bad_release.error_ratio=0.2"})
	w.command("U0OPERATOR", channel, "start test 3.5.0")
	approve := w.waitButton("approve")
	w.click("U0APPROVER", "approve", approve, "")
	return w
}

// reply finds the thread reply whose key starts with prefix.
func (w *world) reply(prefix string) (slackfake.Message, bool) {
	m, _ := w.statusMessage()
	for _, r := range m.Replies {
		if strings.HasPrefix(metadataKey(r), prefix) {
			return r, true
		}
	}
	return slackfake.Message{}, false
}

// TestWatchBreachInSlack: the bad release is caught by the Prometheus watch; the live watch
// message, the alert with the Rollback button and the charts are in the run's thread; the
// Rollback click restores X.
func TestWatchBreachInSlack(t *testing.T) {
	t.Parallel()
	w := watchedUpgrade(t, false)
	var alert slackfake.Message
	w.waitFor("the alert", func() bool {
		var ok bool
		alert, ok = w.reply("run/1/alert/")
		return ok
	})
	if !strings.Contains(alert.Text, "5xx ratio") || !strings.Contains(alert.BlocksJSON, `\u003c@U0OPERATOR\u003e`) {
		t.Errorf("alert %q does not name the check or mention the operators: %s", alert.Text, alert.BlocksJSON)
	}
	rollback := buttonValue(alert.Blocks, "rollback")
	if rollback == "" {
		t.Fatalf("the alert has no Rollback button: %s", alert.BlocksJSON)
	}
	w.waitRun(1, domain.StateNeedsAttention)
	watch, ok := w.reply("run/1/watch")
	if !ok || watch.Edits == 0 || !strings.Contains(watch.BlocksJSON, "5xx ratio") {
		t.Errorf("watch message (found %v, %d edits): %s", ok, watch.Edits, watch.BlocksJSON)
	}
	w.waitFor("the charts", func() bool { return len(w.slack.Files()) > 0 })
	for _, f := range w.slack.Files() {
		img, err := png.Decode(bytes.NewReader(f.Data))
		if err != nil {
			t.Errorf("chart %s: %v", f.Name, err)
			continue
		}
		if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
			t.Errorf("chart %s is %v", f.Name, b)
		}
		if !f.Completed || f.ThreadTS == "" {
			t.Errorf("chart %s not shared into the thread: %+v", f.Name, f)
		}
	}
	w.click("U0OPERATOR", "rollback", rollback, "")
	w.waitRun(1, domain.StateRolledBack)
	w.c.WantVersions("3.4.2")
	// The alert's Roll back button would only be refused now: it goes, and the alert says
	// where the run is.
	w.waitFor("the alert settled", func() bool {
		alert, _ = w.reply("run/1/alert/")
		return buttonValue(alert.Blocks, "rollback") == "" && strings.Contains(alert.Text, "rolled back")
	})
	if !strings.Contains(alert.BlocksJSON, "5xx ratio") {
		t.Errorf("the settled alert no longer names the breach: %s", alert.BlocksJSON)
	}
}

// TestWatchAutoRollback: with auto_rollback the breach rolls back by itself and the alert
// says so.
func TestWatchAutoRollback(t *testing.T) {
	t.Parallel()
	w := watchedUpgrade(t, true)
	w.waitRun(1, domain.StateRolledBack)
	w.c.WantVersions("3.4.2")
	alert, ok := w.reply("run/1/alert/")
	if !ok || !strings.Contains(alert.BlocksJSON, "the rollback has started") || buttonValue(alert.Blocks, "rollback") != "" {
		t.Errorf("alert (found %v): %s", ok, alert.BlocksJSON)
	}
}

// TestBlindWatchAfter28 upgrades 2.8.5 to 3.4.2 with auto_rollback on. Kong keeps 2.8's
// prometheus plugin config, so 3.4.2 exports no request or latency family: the preflight
// warns, naming the flags; the watch cannot see its metrics and says which flag is missing;
// and blindness alone does not roll back: the run waits for a person, with the Roll back
// button on the alert.
func TestBlindWatchAfter28(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{nodes: 2, promWatch: true, autoRollback: true, version: "2.8.5", watch: 20 * time.Second, interval: 2 * time.Second})
	w.c.Set([]string{"traffic.rps=500"})
	w.command("U0OPERATOR", channel, "start test 3.4.2")
	approve := w.waitButton("approve")
	preflight, ok := w.reply("run/1/step/1/")
	if !ok || !strings.Contains(preflight.BlocksJSON, "watch on 3.4.2") || !strings.Contains(preflight.BlocksJSON, "status_code_metrics") {
		t.Errorf("the preflight reply does not warn about the 3.x metrics flags: %s", preflight.BlocksJSON)
	}
	w.click("U0APPROVER", "approve", approve, "")
	var alert slackfake.Message
	w.waitFor("the alert", func() bool {
		var ok bool
		alert, ok = w.reply("run/1/alert/")
		return ok
	})
	if !strings.Contains(alert.BlocksJSON, "cannot see") || !strings.Contains(alert.BlocksJSON, "status_code_metrics") {
		t.Errorf("the alert does not say the watch is blind and which flag is missing: %s", alert.BlocksJSON)
	}
	if buttonValue(alert.Blocks, "rollback") == "" {
		t.Errorf("a blind watch's alert offers no Roll back button: %s", alert.BlocksJSON)
	}
	run := w.waitRun(1, domain.StateNeedsAttention)
	if !strings.Contains(run.Reason, "does not roll back by itself") {
		t.Errorf("reason %q", run.Reason)
	}
	for _, e := range w.audit(1) {
		if e.Action == "rollback" {
			t.Errorf("a blind watch started a rollback: %+v", e)
		}
	}
	w.c.WantVersions("3.4.2")
}

// TestWatchResumedAfterRestart: drawbridge stops in the middle of a watch and starts again;
// the watch judges the time it was down from Prometheus's history, and its "ended clean"
// comes in a message of its own below "resuming the watch", never above it.
func TestWatchResumedAfterRestart(t *testing.T) {
	t.Parallel()
	// Checks that need no baseline: the seeded 3.4 cluster exports no latency histogram
	// (latency_metrics is off by default in 3.x), so the built-in p99 check would be blind.
	checks := "      checks:\n" +
		"        - name: datastore\n          query: 'min(kong_datastore_reachable{ {{.Selector}} })'\n          min: 1\n" +
		"        - name: nodes up\n          query: 'count(up{ {{.Selector}} } == 1)'\n          min: 2\n"
	w := newWorld(t, worldOpts{nodes: 2, promWatch: true, watch: 14 * time.Second, interval: 2 * time.Second, extra: checks})
	w.command("U0OPERATOR", channel, "start test 3.5.0")
	w.click("U0APPROVER", "approve", w.waitButton("approve"), "")
	w.waitFor("the live watch message", func() bool {
		m, ok := w.reply("run/1/watch")
		return ok && m.Edits > 0
	})
	w.stop()
	w.start()
	w.waitRun(1, domain.StateAwaitingDecommission)
	var order []string
	w.waitFor("the resumed watch's end", func() bool {
		m, _ := w.statusMessage()
		order = order[:0]
		for _, r := range m.Replies {
			switch {
			case strings.Contains(r.Text, "resuming the watch"):
				order = append(order, "resuming")
			case strings.Contains(r.BlocksJSON, "ended clean"):
				order = append(order, "clean:"+metadataKey(r))
			}
		}
		return len(order) == 2
	})
	if order[0] != "resuming" || order[1] != "clean:run/1/watch/2" {
		t.Fatalf("thread order %v, want the resuming notice, then the resumed watch's own message ending clean", order)
	}
	if !strings.Contains(w.threadText(), "judging the") {
		t.Errorf("the resumed watch did not say it judged the time drawbridge was down")
	}
}
