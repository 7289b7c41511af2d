package bot_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/bot"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/slackfake"
	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/notify"
	"github.com/drawbridge/drawbridge/scrub"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/drawbridge/drawbridge/wire"
)

const (
	channel = "C0123456789"
	secret  = "test-secret"
)

var (
	sharedPG   *testsvc.Postgres
	sharedProm *testsvc.Prometheus
	setupErr   error
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	sharedPG, setupErr = testsvc.NewPostgres(ctx)
	if setupErr == nil {
		defer sharedPG.Close()
		sharedProm, setupErr = testsvc.NewPrometheus(ctx, testsvc.PrometheusConfig{})
		if setupErr == nil {
			defer sharedProm.Close()
		}
	}
	code := m.Run()
	os.Exit(code)
}

// world is a kongsim cluster, a fake Slack, and drawbridge serving HTTP between them.
type world struct {
	t      testing.TB
	c      *kongtest.Cluster
	slack  *slackfake.Server
	app    *wire.App
	store  *storage.Store
	http   *httptest.Server
	cfgOpt kongtest.ConfigOptions
	opts   worldOpts
	cfgPth string
	logs   *logBuffer // what drawbridge logged (warnings and errors)
}

type worldOpts struct {
	nodes     int
	approvers string
	operators string
	required  int
	self      bool
	fault     slackfake.FaultFunc
	appToken  string // Socket Mode
	team      string // slack.team
	clock     *fakeclock.Clock
	top       string // top-level YAML (windows, blackouts)
	extra     string // YAML inside the cluster (its windows)
	ttl       time.Duration
	// promWatch: a Prometheus of the world's own scrapes the cluster and the engine
	// watches it (otherwise the engine watches node health).
	promWatch    bool
	autoRollback bool
	watch        time.Duration
	interval     time.Duration
	version      string                    // Kong X; default 3.4.2
	kongConf     map[string]string         // kong.conf settings of every node
	nodeConf     map[int]map[string]string // kong.conf settings of node i
	// prepare, when set, gets the cluster laid out, bootstrapped and seeded but not
	// started (installing a custom plugin, say); it starts the nodes.
	prepare func(*kongtest.Cluster)
	// rehearsal: the cluster rehearses Y's migrations on a copy (kongsim run).
	rehearsal bool
	check     string // commands.check as a YAML flow list
	password  string // a password in the database DSN
	// bot, when set, changes the bot's options (wraps its store, say).
	bot func(*bot.Options)
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	if setupErr != nil {
		if testsvc.ShouldSkip(setupErr) {
			t.Skipf("skipping: %v", setupErr)
		}
		t.Fatal(setupErr)
	}
	if o.nodes == 0 {
		o.nodes = 2
	}
	w := &world{t: t, opts: o, logs: &logBuffer{}}
	w.slack = slackfake.New(slackfake.Options{Token: "xoxb-test", Channels: []string{channel},
		Groups: map[string][]string{"S0CHANGEMGR": {"U0APPROVER", "U0APPROVE2"}}, Fault: o.fault, AppToken: o.appToken})
	t.Cleanup(w.slack.Close)
	w.c = kongtest.New(t, kongtest.Options{Nodes: o.nodes, PG: sharedPG, Version: o.version, Conf: o.kongConf, NodeConf: o.nodeConf, NoStart: o.prepare != nil})
	if o.prepare != nil {
		o.prepare(w.c)
	}
	promURL := sharedProm.URL()
	if o.promWatch {
		promURL = w.c.StartPrometheus(t).URL()
	}
	if o.watch == 0 {
		o.watch = time.Second
	}
	w.cfgOpt = kongtest.ConfigOptions{PrometheusURL: promURL, SlackAPIURL: w.slack.URL(), Watch: o.watch, Interval: o.interval, AutoRollback: o.autoRollback,
		Operators: o.operators, Approvers: o.approvers, Required: o.required, SelfApproval: o.self, AppToken: o.appToken, Team: o.team,
		Top: o.top, Extra: o.extra, ApprovalTTL: o.ttl, Rehearsal: o.rehearsal, Check: o.check, DSNPassword: o.password}
	w.cfgPth, _ = w.c.WriteConfig(w.cfgOpt)
	w.start()
	t.Cleanup(w.stop)
	return w
}

// start runs drawbridge (again) on the world's state file.
func (w *world) start() {
	w.t.Helper()
	_, cfg := w.c.WriteConfig(w.cfgOpt)
	store, err := storage.Open(cfg.StateFile, storage.Options{LockTimeout: 5 * time.Second, Secrets: cfg.Secrets()})
	if err != nil {
		w.t.Fatal(err)
	}
	log := slog.New(scrub.New(cfg.Secrets()...).Handler(slog.NewTextHandler(io.MultiWriter(testWriter{w.t}, w.logs), &slog.HandlerOptions{Level: slog.LevelWarn})))
	app, err := wire.NewApp(cfg, store, log, wire.AppOptions{Metrics: prometheus.NewRegistry(),
		Deliverer: func(d *notify.Deliverer) { d.Clock = fastClock{start: time.Now(), factor: 20} },
		Bot:       w.opts.bot,
		Engine: func(o *upgrade.Options) {
			if w.opts.clock != nil {
				o.Clock = w.opts.clock
			}
			if !w.opts.promWatch {
				o.Watcher, o.Baseliner, o.Series = nil, nil, nil // node health; the shared Prometheus scrapes nobody
			}
		}})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	mux := http.NewServeMux()
	app.Routes(mux)
	w.app, w.store, w.http = app, store, httptest.NewServer(mux)
}

func (w *world) stop() {
	if w.app == nil {
		return
	}
	w.http.Close()
	w.app.Close()
	if err := w.store.Check(context.Background()); err != nil {
		w.t.Errorf("state file: %v", err)
	}
	w.store.Close()
	w.app = nil
}

type testWriter struct{ t testing.TB }

func (tw testWriter) Write(b []byte) (int, error) {
	tw.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// logBuffer keeps what drawbridge logged, for tests that look for a line.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fastClock runs the outbox's waits (Retry-After, backoff) factor times faster.
type fastClock struct {
	start  time.Time
	factor float64
}

func (c fastClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.factor))
}

func (c fastClock) After(d time.Duration) <-chan time.Time {
	return time.After(time.Duration(float64(d) / c.factor))
}

// sign adds Slack's request signature for body, as of ts.
func sign(h http.Header, body string, ts time.Time) {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	h.Set("X-Slack-Request-Timestamp", stamp)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
}

// response is what drawbridge answered within Slack's three seconds.
type response struct {
	status int
	text   string
}

func (w *world) post(path, body string, mutate func(http.Header)) response {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.http.URL+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	sign(req.Header, body, time.Now())
	if mutate != nil {
		mutate(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var msg struct{ Text string }
	_ = json.Unmarshal(b, &msg)
	if msg.Text == "" {
		msg.Text = strings.TrimSpace(string(b))
	}
	return response{status: resp.StatusCode, text: msg.Text}
}

// command sends "/kong-upgrade <text>" from user in channel ch, with a new trigger_id as
// Slack does.
func (w *world) command(user, ch, text string) response {
	w.t.Helper()
	return w.post("/slack/commands", w.commandForm(user, ch, text, newTriggerID()).Encode(), nil)
}

// commandForm is the form Slack posts for "/kong-upgrade <text>".
func (w *world) commandForm(user, ch, text, triggerID string) url.Values {
	form := url.Values{"token": {"x"}, "team_id": {slackfake.TeamID}, "channel_id": {ch}, "user_id": {user}, "user_name": {strings.ToLower(user)},
		"command": {"/kong-upgrade"}, "text": {text}, "response_url": {w.slack.URL() + "response"}}
	if triggerID != "" {
		form.Set("trigger_id", triggerID)
	}
	return form
}

var triggerSeq atomic.Int64

// newTriggerID is a trigger_id shaped like Slack's, new every time.
func newTriggerID() string {
	return fmt.Sprintf("%d.%d.%032x", time.Now().Unix(), triggerSeq.Add(1), time.Now().UnixNano())
}

var actionSeq atomic.Int64

// click presses a button of a message: action_id with value, as user. actionTS "" makes
// a fresh one (a new click); the same actionTS again is Slack delivering the click twice.
func (w *world) click(user, actionID, value, actionTS string) response {
	w.t.Helper()
	return w.post("/slack/interactions", url.Values{"payload": {w.clickPayload(slackfake.TeamID, user, actionID, value, actionTS)}}.Encode(), nil)
}

// clickPayload is the interaction payload of a click by user of team.
func (w *world) clickPayload(team, user, actionID, value, actionTS string) string {
	if actionTS == "" {
		actionTS = fmt.Sprintf("%d.%06d", time.Now().Unix(), actionSeq.Add(1))
	}
	cb := map[string]any{
		"type":      "block_actions",
		"user":      map[string]any{"id": user, "username": strings.ToLower(user)},
		"channel":   map[string]any{"id": channel},
		"container": map[string]any{"type": "message", "channel_id": channel, "message_ts": "1.1"},
		"actions": []map[string]any{{"action_id": actionID, "block_id": "b", "type": "button", "value": value,
			"action_ts": actionTS, "text": map[string]any{"type": "plain_text", "text": actionID}}},
		"team":         map[string]any{"id": team},
		"response_url": w.slack.URL() + "response",
		"trigger_id":   newTriggerID(),
	}
	b, _ := json.Marshal(cb)
	return string(b)
}

// statusMessage returns the run's status message (the first top-level message).
func (w *world) statusMessage() (slackfake.Message, bool) {
	for _, m := range w.slack.Messages(channel) {
		if m.Metadata != nil && strings.HasSuffix(metadataKey(m), "/status") {
			return m, true
		}
	}
	return slackfake.Message{}, false
}

func metadataKey(m slackfake.Message) string {
	if m.Metadata == nil {
		return ""
	}
	if k, ok := m.Metadata.EventPayload["key"].(string); ok {
		return k
	}
	return ""
}

// waitButton waits until the status message carries a button and returns its value.
func (w *world) waitButton(actionID string) string {
	w.t.Helper()
	var value string
	w.waitFor("a "+actionID+" button on the status message", func() bool {
		m, ok := w.statusMessage()
		if !ok {
			return false
		}
		value = buttonValue(m.Blocks, actionID)
		return value != ""
	})
	return value
}

func buttonValue(blocks []slack.Block, actionID string) string {
	for _, b := range blocks {
		if ab, ok := b.(*slack.ActionBlock); ok {
			for _, el := range ab.Elements.ElementSet {
				if btn, ok := el.(*slack.ButtonBlockElement); ok && btn.ActionID == actionID {
					return btn.Value
				}
			}
		}
	}
	return ""
}

// waitFor waits until cond holds, failing after a minute.
func (w *world) waitFor(what string, cond func() bool) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := w.slack.WaitFor(ctx, cond); err != nil {
		m, _ := w.statusMessage()
		w.t.Fatalf("waiting for %s: %v\nstatus message: %s", what, err, m.Text)
	}
}

// waitRun waits for the run's stored state.
func (w *world) waitRun(id domain.RunID, st domain.RunState) domain.Run {
	w.t.Helper()
	var run domain.Run
	deadline := time.Now().Add(90 * time.Second)
	for {
		var err error
		run, err = w.store.GetRun(context.Background(), id)
		if err == nil && run.State == st {
			return run
		}
		if time.Now().After(deadline) || (err == nil && run.State.Terminal()) {
			w.t.Fatalf("run %s is %s (%s), want %s", id, run.State, run.Reason, st)
		}
		time.Sleep(20 * time.Millisecond) // polling the stored state
	}
}

// ephemeralTo waits for an ephemeral message to user containing text.
func (w *world) ephemeralTo(user, text string) {
	w.t.Helper()
	w.waitFor(fmt.Sprintf("an ephemeral to %s saying %q", user, text), func() bool {
		for _, e := range w.slack.Ephemerals() {
			if e.User == user && strings.Contains(e.Text, text) {
				return true
			}
		}
		return false
	})
}

func (w *world) audit(run domain.RunID) []storage.AuditEvent {
	evs, err := w.store.Audit(context.Background(), storage.AuditFilter{Run: run})
	if err != nil {
		w.t.Fatal(err)
	}
	return evs
}

func (w *world) allAudit() []storage.AuditEvent {
	evs, err := w.store.Audit(context.Background(), storage.AuditFilter{})
	if err != nil {
		w.t.Fatal(err)
	}
	return evs
}

// poll waits until cond holds, checking every 20ms (for conditions outside the fake
// Slack, whose changes WaitFor does not see).
func (w *world) poll(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("waiting for %s: gave up after 90s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition
	}
}
