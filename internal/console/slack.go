package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// Sign is Slack's v0 request signature: "v0=" + hex(HMAC-SHA256(secret,
// "v0:" + timestamp + ":" + body)).
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// answer is drawbridge's immediate HTTP answer.
type answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// postSigned sends form to drawbridge at path, signed as Slack signs, and
// waits for the answer as long as Slack would.
func (c *Console) postSigned(ctx context.Context, path string, form url.Values) (answer, error) {
	body := []byte(form.Encode())
	ts := time.Now().Unix()
	ctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.o.DrawbridgeURL+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Sign(c.o.SigningSecret, ts, body))
	resp, err := c.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, err
	}
	return answer{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: data}, nil
}

// message is an answer read as Slack reads it: JSON with text and blocks, or
// plain text, or nothing (an empty 200).
type message struct {
	ResponseType string          `json:"response_type"`
	Text         string          `json:"text"`
	Blocks       json.RawMessage `json:"blocks"`
}

func (m message) empty() bool { return m.Text == "" && len(bytes.TrimSpace(m.Blocks)) == 0 }

func (m message) blocks() string {
	if b := bytes.TrimSpace(m.Blocks); len(b) > 0 && !bytes.Equal(b, []byte("null")) {
		return string(b)
	}
	return ""
}

// read interprets drawbridge's answer; a failure is said in words.
func (a answer) read() (message, error) {
	body := bytes.TrimSpace(a.Body)
	if a.Status != http.StatusOK {
		return message{}, fmt.Errorf("drawbridge answered HTTP %d: %s", a.Status, cut(string(body), 300))
	}
	if len(body) == 0 {
		return message{}, nil
	}
	ct, _, _ := mime.ParseMediaType(a.ContentType)
	if ct == "application/json" || body[0] == '{' {
		var m message
		if err := json.Unmarshal(body, &m); err != nil {
			return message{}, fmt.Errorf("drawbridge answered JSON Slack cannot read: %v", err)
		}
		return m, nil
	}
	return message{Text: string(body)}, nil // Slack shows a plain-text body as the message
}

// failure names a failed request the way Slack does, for the message
// "/cmd failed with the error …".
func failure(err error) string {
	var ne interface{ Timeout() bool }
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return "operation_timeout"
	}
	return "dispatch_failed"
}

func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// triggerID looks like Slack's: 398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c.
func (c *Console) triggerID() string {
	c.mu.Lock()
	c.idSeq++
	n := c.idSeq
	c.mu.Unlock()
	return fmt.Sprintf("%d.%d.%s", time.Now().UnixMilli(), n, randomHex(16))
}

// responseTarget is whom a response_url speaks to.
type responseTarget struct {
	User    string
	Expires time.Time
	Uses    int
}

// responseURL hands out a response_url on the console for a user's command
// or click: up to 5 posts within 30 minutes, as Slack allows.
func (c *Console) responseURL(user string) string {
	id := randomHex(12)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, t := range c.responses {
		if now.After(t.Expires) {
			delete(c.responses, k)
		}
	}
	c.responses[id] = responseTarget{User: user, Expires: now.Add(30 * time.Minute)}
	return c.url + "response/" + id
}

// --- POST /api/command ---

type commandRequest struct {
	User string `json:"user"`
	Text string `json:"text"`
}

type postResult struct {
	OK        bool           `json:"ok"`
	Status    int            `json:"status,omitempty"` // drawbridge's HTTP status
	Ephemeral *ephemeralJSON `json:"ephemeral,omitempty"`
	Error     string         `json:"error,omitempty"`
}

// readAs decodes the request's JSON into v and finds the user it names in *userID;
// on failure it has answered 400.
func (c *Console) readAs(w http.ResponseWriter, r *http.Request, v any, userID *string) (User, bool) {
	if !readJSON(w, r, v) {
		return User{}, false
	}
	u, ok := c.user(*userID)
	if !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown user %q", *userID))
	}
	return u, ok
}

func (c *Console) serveCommand(w http.ResponseWriter, r *http.Request) {
	var req commandRequest
	u, ok := c.readAs(w, r, &req, &req.User)
	if !ok {
		return
	}
	typed := strings.TrimSpace(req.Text)
	if typed == "" {
		writeError(w, http.StatusBadRequest, "nothing to send")
		return
	}
	cmd, text := typed, ""
	if i := strings.IndexFunc(typed, unicode.IsSpace); i >= 0 {
		cmd, text = typed[:i], typed[i:]
	}
	if cmd != c.o.Command {
		hint := fmt.Sprintf("This console sends slash commands only: type `%s help` to start.", c.o.Command)
		if strings.HasPrefix(cmd, "/") {
			hint = fmt.Sprintf("`%s` is not a valid command here. Try `%s help`.", escapeSlack(cmd), c.o.Command)
		}
		it := c.addLocal(localItem{User: u.ID, Command: typed, Text: hint, Source: "console"})
		writeJSON(w, http.StatusOK, postResult{OK: false, Ephemeral: localJSON(it), Error: "not a command"})
		return
	}
	text = strings.TrimSpace(text)
	form := url.Values{
		"token":                 {verificationToken},
		"team_id":               {slackfake.TeamID},
		"team_domain":           {teamDomain},
		"channel_id":            {c.o.Channel},
		"channel_name":          {c.o.ChannelName},
		"user_id":               {u.ID},
		"user_name":             {userName(u)},
		"command":               {c.o.Command},
		"text":                  {text},
		"api_app_id":            {appID},
		"is_enterprise_install": {"false"},
		"response_url":          {c.responseURL(u.ID)},
		"trigger_id":            {c.triggerID()},
	}
	c.log.Info("slash command", "user", u.ID, "text", text)
	a, err := c.postSigned(r.Context(), "/slack/commands", form)
	item := localItem{User: u.ID, Command: typed, Source: "command"}
	var m message
	if err == nil {
		m, err = a.read()
	}
	res := postResult{OK: err == nil, Status: a.Status}
	if err != nil {
		c.log.Warn("slash command failed", "user", u.ID, "err", err)
		item.Text = fmt.Sprintf("%s failed with the error \"%s\"", escapeSlack(c.o.Command), failure(err))
		item.Error, res.Error = err.Error(), err.Error()
	} else {
		item.Text, item.Blocks = m.Text, m.blocks()
		if m.ResponseType == "in_channel" {
			item.User = ""
		}
	}
	res.Ephemeral = localJSON(c.addLocal(item))
	writeJSON(w, http.StatusOK, res)
}

// orElse is a, or b when a is empty.
func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// escapeSlack escapes text for mrkdwn.
var escapeSlack = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

func localJSON(l localItem) *ephemeralJSON {
	return &ephemeralJSON{TS: l.TS, User: l.User, Text: l.Text, Blocks: rawJSON(l.Blocks), Command: l.Command,
		Error: l.Error, Source: l.Source, At: l.At}
}

// --- POST /api/action ---

type actionRequest struct {
	User      string `json:"user"`
	MessageTS string `json:"message_ts"`
	ActionID  string `json:"action_id"`
	BlockID   string `json:"block_id"`
	Value     string `json:"value"`
}

// clicked is the message a button sits on.
type clicked struct {
	TS        string
	ThreadTS  string
	Text      string
	Blocks    string
	Ephemeral bool
}

// findMessage finds the message with ts: in the channel (top level or in a
// thread), among the ephemerals, or among the console's own.
func (c *Console) findMessage(ts string) (clicked, bool) {
	if m, ok := c.o.Slack.Message(c.o.Channel, ts); ok {
		return clicked{TS: m.TS, ThreadTS: m.ThreadTS, Text: m.Text, Blocks: m.BlocksJSON}, true
	}
	for _, e := range c.o.Slack.Ephemerals() {
		if e.TS == ts && e.Channel == c.o.Channel {
			return clicked{TS: e.TS, Text: e.Text, Blocks: e.BlocksJSON, Ephemeral: true}, true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.local {
		if l.TS == ts {
			return clicked{TS: l.TS, Text: l.Text, Blocks: l.Blocks, Ephemeral: l.User != ""}, true
		}
	}
	return clicked{}, false
}

func (c *Console) serveAction(w http.ResponseWriter, r *http.Request) {
	var req actionRequest
	u, ok := c.readAs(w, r, &req, &req.User)
	if !ok {
		return
	}
	if req.ActionID == "" || req.BlockID == "" {
		writeError(w, http.StatusBadRequest, "action_id and block_id are required")
		return
	}
	msg, ok := c.findMessage(req.MessageTS)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no message with ts %q in the channel", req.MessageTS))
		return
	}
	btn, found := findButton(msg.Blocks, req.BlockID, req.ActionID)
	if !found {
		// A button no longer on the message: a stale page clicks what it
		// showed, as a stale Slack client would.
		btn = button{BlockID: req.BlockID, ActionID: req.ActionID, Type: "button", Value: req.Value}
	}
	payload := c.blockActions(u, msg, btn)
	body, err := json.Marshal(payload)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	c.log.Info("button click", "user", u.ID, "action", btn.ActionID, "value", btn.Value, "message", msg.TS)
	a, err := c.postSigned(r.Context(), "/slack/interactions", url.Values{"payload": {string(body)}})
	res := postResult{Status: a.Status, OK: true}
	var m message
	if err == nil {
		m, err = a.read()
	}
	if err != nil {
		c.log.Warn("button click failed", "user", u.ID, "action", btn.ActionID, "err", err)
		res.OK, res.Error = false, err.Error()
		it := c.addLocal(localItem{User: u.ID, Source: "action", Text: "⚠️ Slack could not deliver the click on *" +
			escapeSlack(orElse(btn.Text.Text, btn.ActionID)) + "*: " + failure(err), Error: err.Error()})
		res.Ephemeral = localJSON(it)
	} else if !m.empty() {
		res.Ephemeral = localJSON(c.addLocal(localItem{User: u.ID, Source: "action", Text: m.Text, Blocks: m.blocks()}))
	}
	writeJSON(w, http.StatusOK, res)
}

// blockActions is the block_actions payload Slack sends for a click.
func (c *Console) blockActions(u User, msg clicked, btn button) map[string]any {
	c.mu.Lock()
	actionTS := c.nextMicroLocked()
	c.mu.Unlock()
	text := btn.Text
	if text.Type == "" {
		text.Type = "plain_text"
	}
	action := map[string]any{
		"action_id": btn.ActionID, "block_id": btn.BlockID, "type": orElse(btn.Type, "button"),
		"value": btn.Value, "action_ts": actionTS, "text": text,
	}
	if btn.Style != "" {
		action["style"] = btn.Style
	}
	container := map[string]any{"type": "message", "message_ts": msg.TS, "channel_id": c.o.Channel, "is_ephemeral": msg.Ephemeral}
	if msg.ThreadTS != "" {
		container["thread_ts"] = msg.ThreadTS
	}
	p := map[string]any{
		"type":                  "block_actions",
		"user":                  map[string]any{"id": u.ID, "username": userName(u), "name": userName(u), "team_id": slackfake.TeamID},
		"api_app_id":            appID,
		"token":                 verificationToken,
		"container":             container,
		"trigger_id":            c.triggerID(),
		"team":                  map[string]any{"id": slackfake.TeamID, "domain": teamDomain},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]any{"id": c.o.Channel, "name": c.o.ChannelName},
		"state":                 map[string]any{"values": map[string]any{}},
		"response_url":          c.responseURL(u.ID),
		"actions":               []any{action},
	}
	if !msg.Ephemeral { // Slack sends the message itself, except for ephemerals
		m := map[string]any{"type": "message", "user": slackfake.BotUserID, "bot_id": slackfake.BotID,
			"app_id": appID, "team": slackfake.TeamID, "text": msg.Text, "ts": msg.TS}
		if msg.ThreadTS != "" {
			m["thread_ts"] = msg.ThreadTS
		}
		if b := rawJSON(msg.Blocks); b != nil {
			m["blocks"] = b
		}
		p["message"] = m
	}
	return p
}

// --- POST /response/{id}: the response_url Slack hands out ---

func (c *Console) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c.mu.Lock()
	t, ok := c.responses[id]
	if ok && (time.Now().After(t.Expires) || t.Uses >= 5) {
		ok = false
	}
	if ok {
		t.Uses++
		c.responses[id] = t
	}
	c.mu.Unlock()
	if !ok {
		http.Error(w, "used_url", http.StatusNotFound)
		return
	}
	var m message
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil || m.empty() {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	it := localItem{User: t.User, Source: "response_url", Text: m.Text, Blocks: m.blocks()}
	if m.ResponseType == "in_channel" {
		it.User = ""
	}
	c.addLocal(it)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok"))
}

// --- POST /api/switch ---

type switchRequest struct {
	Name string `json:"name"`
	On   bool   `json:"on"`
}

func (c *Console) serveSwitch(w http.ResponseWriter, r *http.Request) {
	var req switchRequest
	if !readJSON(w, r, &req) {
		return
	}
	f, ok := c.o.Switches[req.Name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no switch %q", req.Name))
		return
	}
	c.switchMu.Lock()
	defer c.switchMu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, switchTimeout)
	defer cancel()
	if err := f(ctx, req.On); err != nil {
		c.log.Warn("switch failed", "switch", req.Name, "on", req.On, "err", err)
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("switch %q: %v", req.Name, err))
		return
	}
	c.log.Info("switch", "switch", req.Name, "on", req.On)
	c.mu.Lock()
	c.switches[req.Name] = req.On
	c.notifyLocked()
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "name": req.Name, "on": req.On})
}

// readJSON decodes a JSON request body. It asks for the JSON content type,
// which a cross-site form cannot send without the browser asking first.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send application/json")
		return false
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return false
	}
	return true
}
