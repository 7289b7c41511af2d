package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/internal/console"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/wire"
)

const (
	labChannel  = "C0LAB00001"
	labSecret   = "lab-signing-secret"
	labToken    = "xoxb-lab-console"
	labOperator = "U0AAAAAAA"
)

// standalone runs RunConsole for drawbridge at drawbridgeURL until the test ends and
// returns the page's URL and the Web API's.
func standalone(t *testing.T, drawbridgeURL string, data string) (page, api string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunConsole(ctx, ConsoleOptions{
			Listen: "127.0.0.1:0", Drawbridge: drawbridgeURL, SigningSecret: labSecret, BotToken: labToken,
			Channel: labChannel, Users: []console.User{{ID: labOperator, Name: "You", Role: "operator"}}, Data: data,
			Ready: func(page, api string) { ready <- [2]string{page, api} },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunConsole: %v", err)
		}
	})
	select {
	case urls := <-ready:
		return urls[0], urls[1]
	case err := <-done:
		t.Fatalf("RunConsole returned before serving: %v", err)
	}
	return "", ""
}

// pageState is the part of the console's /api/state these tests read.
type pageState struct {
	Messages []struct {
		TS      string          `json:"ts"`
		Text    string          `json:"text"`
		Run     string          `json:"run"`
		State   string          `json:"state"`
		Blocks  json.RawMessage `json:"blocks"`
		Replies []struct {
			Text string `json:"text"`
		} `json:"replies"`
	} `json:"messages"`
	Ephemerals []struct {
		Text    string `json:"text"`
		Command string `json:"command"`
		Error   string `json:"error"`
		Source  string `json:"source"`
	} `json:"ephemerals"`
}

func getState(t *testing.T, page string) pageState {
	t.Helper()
	resp, err := http.Get(page + "api/state?user=" + labOperator)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st pageState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decode /api/state: %v", err)
	}
	return st
}

// waitState re-reads the page's state at every event of its stream (/events, as the page
// does) until cond holds, or fails after a minute with the last state.
func waitState(t *testing.T, page, what string, cond func(pageState) bool) pageState {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, page+"events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("open the event stream: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var st pageState
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "data:") {
			continue
		}
		if st = getState(t, page); cond(st) {
			return st
		}
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	t.Fatalf("%s: not within a minute (%v); the console shows:\n%s", what, ctx.Err(), b)
	return st
}

// post sends JSON to the console's page API and decodes its answer.
func post(t *testing.T, url string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("POST %s: %q: %v", url, data, err)
	}
	return out
}

// recorded is a request the stand-in drawbridge received, with slack-go's verdict on its
// signature.
type recorded struct {
	path   string
	form   map[string][]string
	verify error
}

// The console on its own signs what it forwards as Slack does (checked with slack-go's
// verifier) and serves the Web API drawbridge posts to, so a message posted in answer to a
// command shows on the page and its button comes back as a signed block_actions.
func TestStandaloneConsoleForwardsSignedAndServesTheWebAPI(t *testing.T) {
	var (
		mu   sync.Mutex
		got  []recorded
		apiP atomic.Pointer[string]
	)
	db := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sv, err := slack.NewSecretsVerifier(r.Header, labSecret)
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		_ = r.ParseForm()
		mu.Lock()
		got = append(got, recorded{path: r.URL.Path, form: r.PostForm, verify: err})
		mu.Unlock()
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/slack/commands" {
			// As drawbridge does: the answer goes to the channel through the Web API.
			api := slack.New(labToken, slack.OptionAPIURL(*apiP.Load()))
			_, _, err := api.PostMessageContext(r.Context(), labChannel, slack.MsgOptionText("run 1 is starting", false),
				slack.MsgOptionBlocks(slack.NewActionBlock("status-1-r1-actions",
					slack.NewButtonBlockElement("abort", "run=1;rev=1", slack.NewTextBlockObject(slack.PlainTextType, "Abort", false, false)))))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(db.Close)
	page, api := standalone(t, db.URL, "")
	if !strings.HasSuffix(api, "/api/") || !strings.HasPrefix(api, page) {
		t.Fatalf("Web API %q, want <page>api/ (page %s)", api, page)
	}
	apiP.Store(&api)

	if res := post(t, page+"api/command", map[string]string{"user": labOperator, "text": "/kong-upgrade start lab 3.5.0"}); res["ok"] != true {
		t.Fatalf("command: %v", res)
	}
	st := getState(t, page)
	if len(st.Messages) != 1 || st.Messages[0].Text != "run 1 is starting" {
		t.Fatalf("messages = %+v, want the one posted through the console's Web API", st.Messages)
	}
	res := post(t, page+"api/action", map[string]string{"user": labOperator, "message_ts": st.Messages[0].TS,
		"action_id": "abort", "block_id": "status-1-r1-actions", "value": "run=1;rev=1"})
	if res["ok"] != true {
		t.Fatalf("click: %v", res)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("drawbridge got %d requests, want a command and a click: %+v", len(got), got)
	}
	cmd, click := got[0], got[1]
	for _, r := range got {
		if r.verify != nil {
			t.Errorf("%s: signature refused by slack-go: %v", r.path, r.verify)
		}
	}
	if cmd.path != "/slack/commands" || cmd.form["command"][0] != "/kong-upgrade" || cmd.form["text"][0] != "start lab 3.5.0" ||
		cmd.form["user_id"][0] != labOperator || cmd.form["channel_id"][0] != labChannel {
		t.Errorf("command = %s %v", cmd.path, cmd.form)
	}
	var cb slack.InteractionCallback
	if click.path != "/slack/interactions" || json.Unmarshal([]byte(click.form["payload"][0]), &cb) != nil {
		t.Fatalf("click = %s %v", click.path, click.form)
	}
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != labOperator || len(cb.ActionCallback.BlockActions) != 1 ||
		cb.ActionCallback.BlockActions[0].ActionID != "abort" || cb.Container.MessageTs != st.Messages[0].TS {
		t.Errorf("block_actions = %+v", cb)
	}
}

// The console on its own in front of a real drawbridge, wired as serve wires it, in HTTP
// mode with slack.api_url on the console (the lab's configuration, on 127.0.0.1): a
// command's answer, a run's status message posted through the console's Web API, its
// thread, and a second console on the same data directory refused.
func TestStandaloneConsoleDrivesDrawbridge(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	page, api := standalone(t, "http://"+ln.Addr().String(), filepath.Join(dir, "console"))

	closed, err := net.Listen("tcp", "127.0.0.1:0") // a port nothing answers on: Kong is down
	if err != nil {
		t.Fatal(err)
	}
	down := closed.Addr().String()
	closed.Close()
	yaml := fmt.Sprintf(`listen: "127.0.0.1:0"
state_file: %[1]s/drawbridge.db
backup_dir: %[1]s/backups
slack:
  bot_token: ${SLACK_BOT_TOKEN}
  app_token: ${SLACK_APP_TOKEN}
  signing_secret: ${SLACK_SIGNING_SECRET}
  api_url: ${SLACK_API_URL}
  channel: ${SLACK_CHANNEL}
access:
  operators: [%[2]s]
  approvers: [%[2]s]
  allow_self_approval: true
clusters:
  - name: lab
    database:
      dsn: postgres://kong:lab-db-password@%[3]s/kong?sslmode=disable&connect_timeout=2
    nodes:
      - name: kong-1
        admin_url: http://%[3]s
        status_url: http://%[3]s
    commands:
      stop: ["true"]
      install: ["true"]
      start: ["true"]
      migrations_up: ["true"]
      migrations_finish: ["true"]
    prometheus:
      url: http://%[3]s
      selector: 'job="kong"'
`, dir, labOperator, down)
	path := filepath.Join(dir, "drawbridge.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SLACK_BOT_TOKEN": labToken, "SLACK_APP_TOKEN": "", "SLACK_SIGNING_SECRET": labSecret,
		"SLACK_API_URL": strings.TrimSuffix(api, "/"), "SLACK_CHANNEL": labChannel} // the missing "/" is added
	cfg, err := config.Load(path, config.LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.SocketMode() || cfg.Slack.APIURL != api {
		t.Fatalf("slack: socket mode %v, api_url %q; want HTTP mode on %s", cfg.Slack.SocketMode(), cfg.Slack.APIURL, api)
	}
	store, err := storage.Open(cfg.StateFile, storage.Options{Secrets: cfg.Secrets()})
	if err != nil {
		t.Fatal(err)
	}
	app, err := wire.NewApp(cfg, store, nil, wire.AppOptions{Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	app.Routes(mux)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		app.Close()
		if err := store.Close(); err != nil {
			t.Errorf("close the state file: %v", err)
		}
	})

	command := func(text string) {
		t.Helper()
		if res := post(t, page+"api/command", map[string]string{"user": labOperator, "text": text}); res["ok"] != true || res["status"] != float64(200) {
			t.Fatalf("%s: %v", text, res)
		}
	}
	command("/kong-upgrade help")
	waitState(t, page, "help's answer", func(st pageState) bool {
		for _, e := range st.Ephemerals {
			if e.Command == "/kong-upgrade help" && strings.Contains(e.Text, "start") && e.Error == "" {
				return true
			}
		}
		return false
	})

	command("/kong-upgrade start lab 3.5.0")
	st := waitState(t, page, "run 1's status message and a reply in its thread", func(st pageState) bool {
		return len(st.Messages) > 0 && st.Messages[0].Run == "1" && len(st.Messages[0].Replies) > 0
	})
	t.Logf("run 1 on the console: %s, %d replies", st.Messages[0].State, len(st.Messages[0].Replies))

	// A click on a button the message showed at an earlier revision (Abort, while it was
	// preparing): drawbridge accepts the console's signature and answers through
	// chat.postEphemeral that the run cannot be aborted any more.
	res := post(t, page+"api/action", map[string]string{"user": labOperator, "message_ts": st.Messages[0].TS,
		"action_id": "abort", "block_id": "status-1-r1-actions", "value": "run=1;rev=1"})
	if res["ok"] != true || res["status"] != float64(200) {
		t.Fatalf("click: %v", res)
	}
	waitState(t, page, "drawbridge's answer to the click", func(st pageState) bool {
		for _, e := range st.Ephemerals {
			if e.Source == "chat.postEphemeral" && strings.Contains(e.Text, "cannot abort run 1") {
				return true
			}
		}
		return false
	})

	err = RunConsole(t.Context(), ConsoleOptions{Listen: "127.0.0.1:0", Drawbridge: "http://" + ln.Addr().String(),
		SigningSecret: labSecret, BotToken: labToken, Channel: labChannel, Users: []console.User{{ID: labOperator}},
		Data: filepath.Join(dir, "console")})
	if err == nil || !strings.Contains(err.Error(), "another drawbridge-demo (pid ") {
		t.Errorf("a second console on the same data directory: %v, want it refused", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("the second console ran until the test ended")
	}
}

// With a data directory the channel outlives the console: drawbridge's recorded message
// refs still name messages that exist after a restart (docker compose restart console).
func TestStandaloneConsoleKeepsItsChannel(t *testing.T) {
	data := t.TempDir()
	start := func() (page, api string, stop func()) {
		ctx, cancel := context.WithCancel(t.Context())
		ready := make(chan [2]string, 1)
		done := make(chan error, 1)
		go func() {
			done <- RunConsole(ctx, ConsoleOptions{Listen: "127.0.0.1:0", Drawbridge: "http://127.0.0.1:1", SigningSecret: labSecret,
				BotToken: labToken, Channel: labChannel, Users: []console.User{{ID: labOperator}}, Data: data,
				Ready: func(page, api string) { ready <- [2]string{page, api} }})
		}()
		select {
		case urls := <-ready:
			return urls[0], urls[1], func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("RunConsole: %v", err)
				}
			}
		case err := <-done:
			cancel()
			t.Fatalf("RunConsole: %v", err)
		}
		return "", "", nil
	}
	_, api, stop := start()
	_, ts, err := slack.New(labToken, slack.OptionAPIURL(api)).PostMessageContext(t.Context(), labChannel, slack.MsgOptionText("kept", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := slack.New("xoxb-another", slack.OptionAPIURL(api)).PostMessageContext(t.Context(), labChannel, slack.MsgOptionText("x", false)); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("a post with another token: %v, want invalid_auth", err)
	}
	stop()
	if _, err := os.Stat(filepath.Join(data, "console.json")); err != nil {
		t.Fatalf("after stopping: %v", err)
	}
	page, _, stop := start()
	defer stop()
	if st := getState(t, page); len(st.Messages) != 1 || st.Messages[0].TS != ts || st.Messages[0].Text != "kept" {
		t.Errorf("after a restart the console shows %+v, want the message %s", st.Messages, ts)
	}
}
