package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// Call is one request the Server answered.
type Call struct {
	Seq        int        // 1, 2, … in the order answered
	Method     string     // e.g. "chat.postMessage"; the file upload POST is "upload"
	HTTPMethod string     // POST (GET if a client uses it)
	Params     url.Values // form fields (or flattened JSON), without the token
	At         time.Time  // when it arrived
	Fault      Fault      // what was injected; zero if nothing
	Status     int        // HTTP status answered
	Error      string     // the ok:false error answered; "" when ok
}

// OK reports whether the call was answered {"ok":true}.
func (c Call) OK() bool { return c.Status == 200 && c.Error == "" }

// Blocks decodes the call's blocks parameter with slack-go (nil without one).
func (c Call) Blocks() ([]slack.Block, error) { return decodeBlocks(c.Params.Get("blocks")) }

func (c Call) copy() Call {
	c.Params = cloneValues(c.Params)
	return c
}

// Message is a message the bot posted, as it is now.
type Message struct {
	Channel    string
	TS         string
	ThreadTS   string // the parent's ts for a thread reply
	Text       string
	Blocks     []slack.Block        // latest blocks, decoded with slack-go
	BlocksJSON string               // latest blocks as sent (JSON)
	Metadata   *slack.SlackMetadata // as posted, if any
	Files      []File               // files shared with this message
	Edits      int                  // successful chat.update calls
	Posted     time.Time
	Updated    time.Time
	Replies    []Message // thread replies in order (top-level messages only)
}

// Ephemeral is a chat.postEphemeral message.
type Ephemeral struct {
	Channel    string
	User       string
	TS         string
	Text       string
	BlocksJSON string
	At         time.Time
}

// Blocks decodes the message's blocks.
func (e Ephemeral) Blocks() ([]slack.Block, error) { return decodeBlocks(e.BlocksJSON) }

// File is an uploaded file.
type File struct {
	ID        string
	Name      string
	Title     string
	AltText   string
	Length    int    // announced by files.getUploadURLExternal
	Data      []byte // what the upload POST carried
	Uploaded  bool
	Completed bool
	Channel   string // shared to, by files.completeUploadExternal
	ThreadTS  string
}

// View is a modal opened with views.open.
type View struct {
	ID        string
	TriggerID string
	JSON      string // the view as sent
}

type message struct {
	Message
	replies []string // ts of thread replies
}

type channel struct {
	top  []string // ts of top-level messages, in order
	msgs map[string]*message
}

func (s *Server) channelLocked(id string) (*channel, bool) {
	if id == "" || (s.exists != nil && !s.exists[id]) {
		return nil, false
	}
	c, ok := s.channels[id]
	if !ok {
		c = &channel{msgs: map[string]*message{}}
		s.channels[id] = c
	}
	return c, true
}

// nextTS returns a unique, increasing ts like "1732560000.000100".
func (s *Server) nextTS() string {
	s.tsSeq++
	micro := s.tsSeq * 100
	return formatTS(s.epoch+micro/1_000_000, micro%1_000_000)
}

func formatTS(sec, micro int64) string { return fmt.Sprintf("%d.%06d", sec, micro) }

func (s *Server) nextID(prefix string) string {
	s.idSeq++
	return fmt.Sprintf("%s%08d", prefix, s.idSeq)
}

func parseInt(v string) (int, error) { return strconv.Atoi(v) }

// --- handlers (called with s.mu held) ---

func (s *Server) authTest(request) answer {
	return okAnswer(map[string]any{
		"url": "https://slackfake.slack.com/", "team": "slackfake", "user": "drawbridge",
		"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID,
	})
}

func (s *Server) postMessage(p request) answer {
	ch, ok := s.channelLocked(p.Get("channel"))
	if !ok {
		return errAnswer("channel_not_found")
	}
	text, raw := p.Get("text"), p.Get("blocks")
	if code := checkContent(text, raw); code != "" {
		return errAnswer(code)
	}
	var meta *slack.SlackMetadata
	if m := p.Get("metadata"); m != "" {
		meta = &slack.SlackMetadata{}
		if err := json.Unmarshal([]byte(m), meta); err != nil {
			return errAnswer("invalid_metadata_format")
		}
	}
	parent := p.Get("thread_ts")
	if parent != "" {
		pm, ok := ch.msgs[parent]
		if !ok {
			return errAnswer("thread_not_found")
		}
		if pm.ThreadTS != "" {
			parent = pm.ThreadTS // a reply to a reply joins the parent's thread
		}
	}
	now := s.now()
	m := &message{Message: Message{
		Channel: p.Get("channel"), TS: s.nextTS(), ThreadTS: parent, Text: text,
		BlocksJSON: raw, Metadata: meta, Posted: now, Updated: now,
	}}
	ch.msgs[m.TS] = m
	if parent == "" {
		ch.top = append(ch.top, m.TS)
	} else {
		ch.msgs[parent].replies = append(ch.msgs[parent].replies, m.TS)
	}
	return okAnswer(map[string]any{"channel": m.Channel, "ts": m.TS, "message": wireMessage(m, true)})
}

// checkContent is what Slack refuses in any message: nothing to show, a
// text over 40,000 characters, blocks it cannot read or more than 50.
func checkContent(text, rawBlocks string) string {
	if text == "" && rawBlocks == "" {
		return "no_text"
	}
	if len([]rune(text)) > 40000 {
		return "msg_too_long"
	}
	if rawBlocks == "" {
		return ""
	}
	blocks, err := decodeBlocks(rawBlocks)
	if err != nil || len(blocks) > 50 {
		return "invalid_blocks"
	}
	return ""
}

func (s *Server) update(p request) answer {
	ch, ok := s.channelLocked(p.Get("channel"))
	if !ok {
		return errAnswer("channel_not_found")
	}
	m, ok := ch.msgs[p.Get("ts")]
	if !ok {
		return errAnswer("message_not_found")
	}
	text, raw := p.Get("text"), p.Get("blocks")
	if code := checkContent(text, raw); code != "" {
		return errAnswer(code)
	}
	if p.Has("text") {
		m.Text = text
	}
	if p.Has("blocks") {
		m.BlocksJSON = raw
	}
	m.Edits++
	m.Updated = s.now()
	return okAnswer(map[string]any{"channel": m.Channel, "ts": m.TS, "text": m.Text, "message": wireMessage(m, true)})
}

func (s *Server) postEphemeral(p request) answer {
	if _, ok := s.channelLocked(p.Get("channel")); !ok {
		return errAnswer("channel_not_found")
	}
	if p.Get("user") == "" {
		return errAnswer("user_not_found")
	}
	text, raw := p.Get("text"), p.Get("blocks")
	if code := checkContent(text, raw); code != "" {
		return errAnswer(code)
	}
	e := Ephemeral{Channel: p.Get("channel"), User: p.Get("user"), TS: s.nextTS(), Text: text, BlocksJSON: raw, At: s.now()}
	s.ephem = append(s.ephem, e)
	return okAnswer(map[string]any{"message_ts": e.TS})
}

// UploadPath is where the upload URLs of files.getUploadURLExternal point, on the fake.
const UploadPath = "/upload/"

func (s *Server) getUploadURL(p request) answer {
	name := p.Get("filename")
	length, err := parseInt(p.Get("length"))
	if name == "" || err != nil || length <= 0 {
		return errAnswer("invalid_arguments")
	}
	f := &File{ID: s.nextID("F"), Name: name, AltText: p.Get("alt_txt"), Length: length}
	s.files[f.ID] = f
	s.fileIDs = append(s.fileIDs, f.ID)
	// On the address the client called, as Slack's upload URLs are on a host it reaches.
	return okAnswer(map[string]any{"upload_url": p.base + UploadPath + f.ID, "file_id": f.ID})
}

func (s *Server) completeUpload(p request) answer {
	var sums []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(p.Get("files")), &sums); err != nil || len(sums) == 0 {
		return errAnswer("invalid_arguments")
	}
	chID, thread := p.Get("channel_id"), p.Get("thread_ts")
	var ch *channel
	if chID != "" {
		var ok bool
		if ch, ok = s.channelLocked(chID); !ok {
			return errAnswer("channel_not_found")
		}
		if thread != "" && ch.msgs[thread] == nil {
			return errAnswer("thread_not_found")
		}
	}
	for _, sum := range sums {
		f, ok := s.files[sum.ID]
		if !ok || !f.Uploaded || f.Completed {
			return errAnswer("file_not_found")
		}
	}
	var out []map[string]any
	var shared []File
	for _, sum := range sums {
		f := s.files[sum.ID]
		f.Completed, f.Title, f.Channel, f.ThreadTS = true, sum.Title, chID, thread
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
		shared = append(shared, copyFile(*f))
	}
	if ch != nil { // sharing shows up as a message carrying the files
		now := s.now()
		m := &message{Message: Message{
			Channel: chID, TS: s.nextTS(), ThreadTS: thread, Text: p.Get("initial_comment"),
			BlocksJSON: p.Get("blocks"), Files: shared, Posted: now, Updated: now,
		}}
		ch.msgs[m.TS] = m
		if thread == "" {
			ch.top = append(ch.top, m.TS)
		} else {
			ch.msgs[thread].replies = append(ch.msgs[thread].replies, m.TS)
		}
	}
	return okAnswer(map[string]any{"files": out})
}

func (s *Server) groupMembers(p request) answer {
	members, ok := s.groups[p.Get("usergroup")]
	if !ok {
		return errAnswer("no_such_subteam")
	}
	return okAnswer(map[string]any{"users": slices.Clone(members)})
}

func (s *Server) openView(p request) answer {
	if p.Get("trigger_id") == "" {
		return errAnswer("invalid_trigger_id")
	}
	var view map[string]any
	if err := json.Unmarshal([]byte(p.Get("view")), &view); err != nil {
		return errAnswer("invalid_arguments")
	}
	v := View{ID: s.nextID("V"), TriggerID: p.Get("trigger_id"), JSON: p.Get("view")}
	s.views = append(s.views, v)
	view["id"], view["team_id"] = v.ID, TeamID
	return okAnswer(map[string]any{"view": view})
}

func (s *Server) history(p request) answer {
	ch, ok := s.channelLocked(p.Get("channel"))
	if !ok {
		return errAnswer("channel_not_found")
	}
	limit, err := parseInt(p.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 100
	}
	meta := p.Get("include_all_metadata") == "1" || p.Get("include_all_metadata") == "true"
	out := []map[string]any{}
	for i := len(ch.top) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, wireMessage(ch.msgs[ch.top[i]], meta))
	}
	return okAnswer(map[string]any{"messages": out, "has_more": len(out) < len(ch.top)})
}

func (s *Server) replies(p request) answer {
	ch, ok := s.channelLocked(p.Get("channel"))
	if !ok {
		return errAnswer("channel_not_found")
	}
	parent, ok := ch.msgs[p.Get("ts")]
	if !ok {
		return errAnswer("thread_not_found")
	}
	if parent.ThreadTS != "" {
		parent = ch.msgs[parent.ThreadTS]
	}
	meta := p.Get("include_all_metadata") == "1" || p.Get("include_all_metadata") == "true"
	out := []map[string]any{wireMessage(parent, meta)}
	for _, ts := range parent.replies {
		out = append(out, wireMessage(ch.msgs[ts], meta))
	}
	return okAnswer(map[string]any{"messages": out, "has_more": false})
}

// wireMessage is a message as Slack's JSON shows it.
func wireMessage(m *message, withMeta bool) map[string]any {
	w := map[string]any{
		"type": "message", "user": BotUserID, "bot_id": BotID, "text": m.Text, "ts": m.TS,
	}
	if m.BlocksJSON != "" {
		w["blocks"] = json.RawMessage(m.BlocksJSON)
	}
	if m.ThreadTS != "" {
		w["thread_ts"] = m.ThreadTS
	} else if n := len(m.replies); n > 0 {
		w["thread_ts"], w["reply_count"] = m.TS, n
	}
	if withMeta && m.Metadata != nil {
		w["metadata"] = m.Metadata
	}
	if len(m.Files) > 0 {
		var fs []map[string]any
		for _, f := range m.Files {
			fs = append(fs, map[string]any{"id": f.ID, "name": f.Name, "title": f.Title, "size": len(f.Data)})
		}
		w["files"] = fs
	}
	if m.Edits > 0 {
		w["edited"] = map[string]any{"user": BotUserID, "ts": m.TS}
	}
	return w
}

// --- readers: copies, safe to keep and change ---

// Calls returns every call answered so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.copy()
	}
	return out
}

// CallsTo returns the calls to one method, in order.
func (s *Server) CallsTo(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns the channel's top-level messages in the order posted,
// each with its thread replies.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channel]
	if !ok {
		return nil
	}
	out := make([]Message, 0, len(ch.top))
	for _, ts := range ch.top {
		out = append(out, s.copyMessage(ch, ch.msgs[ts]))
	}
	return out
}

// Message returns one message (top-level or reply) by its ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channel]
	if !ok || ch.msgs[ts] == nil {
		return Message{}, false
	}
	return s.copyMessage(ch, ch.msgs[ts]), true
}

// Ephemerals returns the chat.postEphemeral messages, in order.
func (s *Server) Ephemerals() []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ephem)
}

// Files returns every file announced with files.getUploadURLExternal, in order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]File, 0, len(s.fileIDs))
	for _, id := range s.fileIDs {
		out = append(out, copyFile(*s.files[id]))
	}
	return out
}

// Views returns the modals opened, in order.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.views)
}

func (s *Server) copyMessage(ch *channel, m *message) Message {
	out := m.Message
	out.Blocks, _ = decodeBlocks(m.BlocksJSON)
	out.Files = nil
	for _, f := range m.Files {
		out.Files = append(out.Files, copyFile(f))
	}
	if m.Metadata != nil {
		md := slack.SlackMetadata{EventType: m.Metadata.EventType}
		b, _ := json.Marshal(m.Metadata.EventPayload)
		_ = json.Unmarshal(b, &md.EventPayload) // a deep copy
		out.Metadata = &md
	}
	out.Replies = nil
	for _, ts := range m.replies {
		out.Replies = append(out.Replies, s.copyMessage(ch, ch.msgs[ts]))
	}
	return out
}

func copyFile(f File) File {
	f.Data = slices.Clone(f.Data)
	return f
}

// WaitFor returns nil once pred holds, or ctx's error. pred is evaluated
// without the Server's lock (it may call the readers) at once and again after
// every change (a call answered, a group set).
func (s *Server) WaitFor(ctx context.Context, pred func() bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if pred() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func decodeBlocks(raw string) ([]slack.Block, error) {
	if raw == "" {
		return nil, nil
	}
	var b slack.Blocks
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		return nil, err
	}
	return b.BlockSet, nil
}
