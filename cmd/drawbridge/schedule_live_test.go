package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/slackfake"
	"github.com/drawbridge/drawbridge/internal/testsvc"
)

// The scheduler and the gate wake up on the wall clock in production; these tests run the
// real binary ("drawbridge serve") on a window a minute or so away and drive it only as
// Slack would, with signed requests, in real time. The fake-clock tests (bot/) cover the
// same wake-ups on a clock the test moves.

const liveChannel = "C0123456789"

var (
	livePGOnce sync.Once
	livePG     *testsvc.Postgres
	livePGErr  error
)

// sharedPostgres is one throwaway PostgreSQL for the live tests (each cluster has a
// database of its own on it).
func sharedPostgres(t *testing.T) *testsvc.Postgres {
	t.Helper()
	livePGOnce.Do(func() { livePG, livePGErr = testsvc.NewPostgres(context.Background()) })
	if livePGErr != nil {
		if testsvc.ShouldSkip(livePGErr) {
			t.Skipf("skipping: %v", livePGErr)
		}
		t.Fatal(livePGErr)
	}
	return livePG
}

// live is drawbridge serving a two-node kongsim cluster bound to window w, a fake Slack
// and a Prometheus that scrapes the cluster.
type live struct {
	t       *testing.T
	slack   *slackfake.Server
	c       *kongtest.Cluster
	srv     *server
	opening time.Time // of window w, the first after the start
	closes  time.Time
}

type liveOpts struct {
	duration    time.Duration // window w's; default 2m
	ttl         time.Duration // access.approval_timeout; default 1h
	remind      time.Duration // window w's remind_before; default 40s
	leadAtLeast time.Duration // the opening is at least this far ahead; default remind + 15s
}

// startLive lays out the cluster and starts drawbridge with window w opening at the first
// whole minute at least leadAtLeast ahead: the reminder is a real wake-up after the
// schedule command, and the opening another.
func startLive(t *testing.T, o liveOpts) *live {
	t.Helper()
	if o.duration == 0 {
		o.duration = 2 * time.Minute
	}
	if o.ttl == 0 {
		o.ttl = time.Hour
	}
	if o.remind == 0 {
		o.remind = 40 * time.Second // room for the preparation (steps 1-5) on a loaded machine
	}
	if o.leadAtLeast == 0 {
		o.leadAtLeast = o.remind + 15*time.Second
	}
	pg := sharedPostgres(t)
	l := &live{t: t}
	l.slack = slackfake.New(slackfake.Options{Token: "xoxb-test", Channels: []string{liveChannel},
		Groups: map[string][]string{"S0CHANGEMGR": {"U0APPROVER", "U0APPROVE2"}}})
	t.Cleanup(l.slack.Close)
	l.c = kongtest.New(t, kongtest.Options{Nodes: 2, PG: pg})
	l.c.Set([]string{"traffic.rps=200"})
	prom := l.c.StartPrometheus(t)

	l.opening = time.Now().UTC().Add(o.leadAtLeast).Truncate(time.Minute).Add(time.Minute)
	l.closes = l.opening.Add(o.duration)
	top := fmt.Sprintf("windows:\n  - name: w\n    cron: \"%d %d * * *\"\n    duration: %s\n    timezone: UTC\n    remind_before: %s\n",
		l.opening.Minute(), l.opening.Hour(), o.duration, o.remind)
	path, _ := l.c.WriteConfig(kongtest.ConfigOptions{PrometheusURL: prom.URL(), SlackAPIURL: l.slack.URL(),
		Approvers: "[S0CHANGEMGR]", ApprovalTTL: o.ttl, Watch: 8 * time.Second, Interval: 2 * time.Second,
		Extra: "    windows: [w]", Top: top})
	l.srv = startServe(t, path)
	t.Logf("window w opens at %s, closes at %s", l.opening.Format(time.TimeOnly), l.closes.Format(time.TimeOnly))
	return l
}

// post sends a signed request to drawbridge, as Slack does.
func (l *live) post(path string, form url.Values) string {
	l.t.Helper()
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, "http://"+l.srv.addr+path, strings.NewReader(body))
	if err != nil {
		l.t.Fatal(err)
	}
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte("test-secret"))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		l.t.Fatalf("%s answered %d: %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// command sends "/kong-upgrade <text>" as user.
func (l *live) command(user, text string) {
	l.t.Helper()
	l.post("/slack/commands", url.Values{"team_id": {"T1"}, "channel_id": {liveChannel}, "user_id": {user},
		"user_name": {strings.ToLower(user)}, "command": {"/kong-upgrade"}, "text": {text},
		"response_url": {l.slack.URL() + "response"}, "trigger_id": {fmt.Sprintf("%d.%d.live", time.Now().Unix(), liveClicks.Add(1))}})
}

var liveClicks atomic.Int64

// click presses the button actionID of run 1's status message as user.
func (l *live) click(user, actionID string) {
	l.t.Helper()
	value := ""
	l.waitFor("a "+actionID+" button", func() bool {
		m, ok := l.status()
		if !ok {
			return false
		}
		for _, b := range m.Blocks {
			if ab, ok := b.(*slack.ActionBlock); ok {
				for _, el := range ab.Elements.ElementSet {
					if btn, ok := el.(*slack.ButtonBlockElement); ok && btn.ActionID == actionID {
						value = btn.Value
					}
				}
			}
		}
		return value != ""
	})
	cb := map[string]any{
		"type":      "block_actions",
		"user":      map[string]any{"id": user, "username": strings.ToLower(user)},
		"channel":   map[string]any{"id": liveChannel},
		"container": map[string]any{"type": "message", "channel_id": liveChannel, "message_ts": "1.1"},
		"actions": []map[string]any{{"action_id": actionID, "block_id": "b", "type": "button", "value": value,
			"action_ts": fmt.Sprintf("%d.%06d", time.Now().Unix(), liveClicks.Add(1))}},
		"response_url": l.slack.URL() + "response",
		"trigger_id":   fmt.Sprintf("%d.%d.live", time.Now().Unix(), liveClicks.Add(1)),
	}
	b, _ := json.Marshal(cb)
	l.post("/slack/interactions", url.Values{"payload": {string(b)}})
}

// status is run 1's status message.
func (l *live) status() (slackfake.Message, bool) {
	for _, m := range l.slack.Messages(liveChannel) {
		if m.Metadata != nil && m.Metadata.EventPayload["key"] == "run/1/status" {
			return m, true
		}
	}
	return slackfake.Message{}, false
}

// waitFor waits for cond, as long as the window and a run take.
func (l *live) waitFor(what string, cond func() bool) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := l.slack.WaitFor(ctx, cond); err != nil {
		m, _ := l.status()
		l.t.Fatalf("waiting for %s: %v\nstatus message: %s\ndrawbridge's log:\n%s", what, err, m.Text, l.srv.logs)
	}
}

// waitStatus waits until run 1's status message says text.
func (l *live) waitStatus(text string) {
	l.t.Helper()
	l.waitFor("the status message saying "+text, func() bool {
		m, ok := l.status()
		return ok && says(m, text)
	})
}

// waitThread waits until run 1's thread has a reply saying text, and returns it.
func (l *live) waitThread(text string) slackfake.Message {
	l.t.Helper()
	var found slackfake.Message
	l.waitFor("a reply saying "+text, func() bool {
		m, _ := l.status()
		for _, r := range m.Replies {
			if says(r, text) {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

// waitEphemeral waits until user is shown text.
func (l *live) waitEphemeral(user, text string) {
	l.t.Helper()
	l.waitFor(user+" being told "+text, func() bool {
		for _, e := range l.slack.Ephemerals() {
			if e.User == user && strings.Contains(e.Text, text) {
				return true
			}
		}
		return false
	})
}

// says reports whether a message's text or blocks contain text (blocks as JSON, where
// "<" is written \u003c).
func says(m slackfake.Message, text string) bool {
	escaped, _ := json.Marshal(text)
	return strings.Contains(m.Text, text) || strings.Contains(m.BlocksJSON, text) ||
		strings.Contains(m.BlocksJSON, strings.Trim(string(escaped), `"`))
}

// untilWall waits until the wall clock reaches t: the test acts after the opening.
func untilWall(t time.Time) {
	if d := time.Until(t); d > 0 {
		<-time.After(d)
	}
}

var crossedAt = regexp.MustCompile(`(\d\d:\d\d:\d\d) UTC: the downtime starts, inside window w`)

// crossing reads the time the gate was crossed from the gate's reply in the thread.
func (l *live) crossing() time.Time {
	l.t.Helper()
	r := l.waitThread("UTC: the downtime starts, inside window w")
	m := crossedAt.FindStringSubmatch(r.BlocksJSON)
	if m == nil {
		l.t.Fatalf("no crossing time in the gate's reply: %s", r.BlocksJSON)
	}
	clock, err := time.Parse(time.TimeOnly, m[1])
	if err != nil {
		l.t.Fatal(err)
	}
	return time.Date(l.opening.Year(), l.opening.Month(), l.opening.Day(), clock.Hour(), clock.Minute(), clock.Second(), 0, time.UTC)
}

// succeeds decommissions run 1 after its watch and waits until it has succeeded, with
// every node on 3.5.0.
func (l *live) succeeds() {
	l.t.Helper()
	l.click("U0OPERATOR", "decommission")
	l.waitStatus("succeeded")
	l.c.WantVersions("3.5.0")
}

func liveTest(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time scheduling tests wait for a live window (a minute or two)")
	}
	t.Parallel()
}

// TestLiveApprovedAheadOfTheWindow: schedule → the reminder (a real wake-up) → Approve
// clicked ahead of the window → told when it starts → the downtime at the opening (a real
// wake-up) inside the window → succeeded.
func TestLiveApprovedAheadOfTheWindow(t *testing.T) {
	liveTest(t)
	l := startLive(t, liveOpts{})
	l.command("U0OPERATOR", "schedule test 3.5.0 next")
	l.waitEphemeral("U0OPERATOR", "Run 1 scheduled: test 3.4.2 → 3.5.0 at "+l.opening.Format("Mon 2006-01-02 15:04")+" UTC (window w)")
	l.waitStatus("scheduled")
	l.waitThread("Approval needed for run 1")
	if time.Now().After(l.opening) {
		t.Fatalf("the reminder came after the opening")
	}
	l.click("U0APPROVER", "approve")
	starts := "The downtime starts when window w opens, " + l.opening.Format("2006-01-02 15:04") + " UTC."
	l.waitEphemeral("U0APPROVER", starts)
	l.waitThread("<@U0APPROVER> approved run #1 (1 of 1 approvals). " + starts)
	l.waitStatus("Approved: the downtime starts when window w opens")
	if time.Now().After(l.opening) {
		t.Fatalf("the approval was not ahead of the opening; the test ran too slowly to show anything")
	}
	l.c.WantVersions("3.4.2")

	crossed := l.crossing()
	if crossed.Before(l.opening) || crossed.After(l.opening.Add(10*time.Second)) {
		t.Errorf("the gate was crossed at %s, want at the opening %s", crossed.Format(time.TimeOnly), l.opening.Format(time.TimeOnly))
	}
	l.waitStatus("awaiting decommission")
	l.c.WantVersions("3.5.0")
	if time.Now().After(l.closes) {
		t.Errorf("Y was only up after the window closed (%s)", l.closes.Format(time.TimeOnly))
	}
	l.succeeds()
}

// TestLiveApprovedAfterTheOpening: nobody approves ahead; the approval comes inside the
// window and the downtime starts at once.
func TestLiveApprovedAfterTheOpening(t *testing.T) {
	liveTest(t)
	l := startLive(t, liveOpts{})
	l.command("U0OPERATOR", "schedule test 3.5.0 next")
	l.waitThread("Approval needed for run 1")
	untilWall(l.opening.Add(5 * time.Second))
	l.click("U0APPROVER", "approve")
	l.waitEphemeral("U0APPROVER", "(1 of 1 approvals): the downtime starts now.")
	crossed := l.crossing()
	if crossed.Before(l.opening.Add(5*time.Second)) || !crossed.Before(l.closes) {
		t.Errorf("the gate was crossed at %s, want after the approval and inside the window", crossed.Format(time.TimeOnly))
	}
	l.waitStatus("awaiting decommission")
	l.succeeds()
}

// TestLiveNoApproval: nobody approves; the run expires when the window closes (a real
// wake-up), X untouched.
func TestLiveNoApproval(t *testing.T) {
	liveTest(t)
	l := startLive(t, liveOpts{duration: time.Minute})
	l.command("U0OPERATOR", "schedule test 3.5.0 next")
	l.waitThread("Approval needed for run 1")
	l.waitStatus("expired")
	if time.Now().Before(l.closes) {
		t.Errorf("expired at %s, before the window closed at %s", time.Now().Format(time.TimeOnly), l.closes.Format(time.TimeOnly))
	}
	l.waitStatus("window w closed at " + l.closes.Format(time.RFC3339) + " before the run was approved")
	l.c.WantVersions("3.4.2")
}

// TestLiveApprovalTimeout: the approval timeout (15s) comes before the window opens; the
// run expires then (a real wake-up), X untouched.
func TestLiveApprovalTimeout(t *testing.T) {
	liveTest(t)
	l := startLive(t, liveOpts{ttl: 15 * time.Second, remind: 55 * time.Second})
	l.command("U0OPERATOR", "schedule test 3.5.0 next")
	l.waitThread("Approval needed for run 1")
	asked := time.Now()
	l.waitStatus("no approval within 15s")
	if waited := time.Since(asked); waited < 10*time.Second {
		t.Errorf("expired %s after the reminder, want about 15s", waited)
	}
	if time.Now().After(l.opening) {
		t.Errorf("expired after the opening; the approval timeout should have come first")
	}
	l.c.WantVersions("3.4.2")
}
