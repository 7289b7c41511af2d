package console

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// localItem is a message the console itself shows: drawbridge's immediate
// answer to a command or click, a response_url post, the console's own hint
// or error. It never reaches slackfake, like Slack's own ephemeral answers.
type localItem struct {
	ID      string
	TS      string
	User    string // who sees it; "" for everyone (an in_channel answer)
	Command string // the slash command typed, echoed above the answer
	Text    string
	Blocks  string // JSON
	Error   string
	Source  string // "command", "action", "response_url" or "console"
	At      time.Time
	after   int64 // the slackfake ts (µs) it follows on the timeline
	seq     int
}

// addLocal records a local item after everything slackfake holds now.
func (c *Console) addLocal(it localItem) localItem {
	after := c.lastSlackTS()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.localSeq++
	c.idSeq++
	it.ID = "L" + strconv.Itoa(c.idSeq)
	it.TS = c.nextMicroLocked()
	it.At = time.Now()
	it.after, it.seq = after, c.localSeq
	c.local = append(c.local, it)
	c.notifyLocked()
	return it
}

// notifyLocked wakes event streams: the local state changed.
func (c *Console) notifyLocked() {
	c.localVer++
	close(c.changed)
	c.changed = make(chan struct{})
}

// version changes whenever anything the page shows changes.
func (c *Console) version() int {
	v := c.o.Slack.Version()
	c.mu.Lock()
	defer c.mu.Unlock()
	return v + c.localVer
}

// nextMicroLocked is a fresh, increasing Slack-style ts ("1700000000.123456")
// from the wall clock: action_ts values and local message ts.
func (c *Console) nextMicroLocked() string {
	now := time.Now().UnixMicro()
	if now <= c.lastMicro {
		now = c.lastMicro + 1
	}
	c.lastMicro = now
	return formatMicro(now)
}

func formatMicro(us int64) string {
	return strconv.FormatInt(us/1_000_000, 10) + "." + leftPad(strconv.FormatInt(us%1_000_000, 10), 6)
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// tsMicro reads a Slack ts as microseconds (0 when malformed).
func tsMicro(ts string) int64 {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0
	}
	frac = (frac + "000000")[:6]
	us, _ := strconv.ParseInt(frac, 10, 64)
	return s*1_000_000 + us
}

// lastSlackTS is the ts of the newest top-level message or ephemeral in the
// channel: a local item goes after it.
func (c *Console) lastSlackTS() int64 {
	var last int64
	for _, m := range c.o.Slack.Messages(c.o.Channel) {
		last = max(last, tsMicro(m.TS))
	}
	for _, e := range c.o.Slack.Ephemerals() {
		if e.Channel == c.o.Channel {
			last = max(last, tsMicro(e.TS))
		}
	}
	return last
}

// --- /api/state ---

type userJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

type switchJSON struct {
	Name string `json:"name"`
	On   bool   `json:"on"`
	Help string `json:"help,omitempty"`
}

type hintJSON struct {
	Text string `json:"text"`
	HTML string `json:"html"`
}

type fileJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Title    string `json:"title,omitempty"`
	AltText  string `json:"alt_text,omitempty"`
	Mimetype string `json:"mimetype"`
	Size     int    `json:"size"`
	URL      string `json:"url"` // on the console: /files/<id>
}

type messageJSON struct {
	TS       string          `json:"ts"`
	ThreadTS string          `json:"thread_ts,omitempty"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
	Edits    int             `json:"edits"`
	Files    []fileJSON      `json:"files,omitempty"`
	State    string          `json:"state,omitempty"` // a status message's state, e.g. "awaiting approval"
	Run      string          `json:"run,omitempty"`   // the drawbridge run, from the block_ids (status-<run>-r<rev>-…)
	Metadata any             `json:"metadata,omitempty"`
	Posted   time.Time       `json:"posted"`
	Updated  time.Time       `json:"updated"`
	Replies  []messageJSON   `json:"replies,omitempty"`
	Order    int             `json:"order"` // position on the timeline, with ephemerals
}

type ephemeralJSON struct {
	TS      string          `json:"ts"`
	User    string          `json:"user,omitempty"` // "" for a local in_channel answer
	Text    string          `json:"text"`
	Blocks  json.RawMessage `json:"blocks,omitempty"`
	Command string          `json:"command,omitempty"`
	Error   string          `json:"error,omitempty"`
	Source  string          `json:"source"` // "chat.postEphemeral", "command", "action", "response_url", "console"
	At      time.Time       `json:"at"`
	Order   int             `json:"order"`
}

// entryJSON is one top-level element of the page, rendered.
type entryJSON struct {
	Key     string      `json:"key"`
	Kind    string      `json:"kind"`
	TS      string      `json:"ts"`
	HTML    string      `json:"html"`
	Replies []entryJSON `json:"replies,omitempty"`
}

type stateJSON struct {
	Version  int             `json:"version"`
	Channel  string          `json:"channel"`
	Name     string          `json:"channel_name"`
	Command  string          `json:"command"`
	User     userJSON        `json:"user"`
	Users    []userJSON      `json:"users"`
	Switches []switchJSON    `json:"switches"`
	Hints    []hintJSON      `json:"hints"`
	Messages []messageJSON   `json:"messages"`
	Ephem    []ephemeralJSON `json:"ephemerals"`
	Timeline []entryJSON     `json:"timeline"`
}

func (c *Console) serveState(w http.ResponseWriter, r *http.Request) {
	u, ok := c.user(r.URL.Query().Get("user"))
	if !ok {
		u = c.o.Users[0]
	}
	writeJSON(w, http.StatusOK, c.state(u))
}

// state is what user u sees. The version is read first, so a change made
// while the state is collected brings another event.
func (c *Console) state(u User) stateJSON {
	ver := c.version()
	st := stateJSON{
		Version: ver, Channel: c.o.Channel, Name: c.o.ChannelName, Command: c.o.Command,
		User:     userJSON{u.ID, u.Name, u.Role},
		Users:    []userJSON{},
		Switches: []switchJSON{},
		Hints:    []hintJSON{},
	}
	for _, x := range c.o.Users {
		st.Users = append(st.Users, userJSON{x.ID, x.Name, x.Role})
	}
	n := c.names(u.ID)
	for _, h := range c.o.Hints {
		// Hints are mrkdwn; Markdown's **bold** is taken as *bold*.
		st.Hints = append(st.Hints, hintJSON{Text: h, HTML: n.mrkdwnHTML(strings.ReplaceAll(h, "**", "*"))})
	}
	c.mu.Lock()
	for name, on := range c.switches {
		st.Switches = append(st.Switches, switchJSON{Name: name, On: on, Help: c.o.SwitchHelp[name]})
	}
	var local []localItem
	for _, l := range c.local {
		if l.User == "" || l.User == u.ID {
			local = append(local, l)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(st.Switches, func(a, b switchJSON) int { return cmp.Compare(a.Name, b.Name) })

	type placed struct {
		at, seq int64
		msg     *slackfake.Message
		eph     *ephemeralJSON
		item    item
	}
	var line []placed
	msgs := c.o.Slack.Messages(c.o.Channel)
	for i := range msgs {
		m := &msgs[i]
		line = append(line, placed{at: tsMicro(m.TS), msg: m, item: messageItem(*m, "message")})
	}
	for _, e := range c.o.Slack.Ephemerals() {
		if e.Channel != c.o.Channel || e.User != u.ID {
			continue
		}
		ej := &ephemeralJSON{TS: e.TS, User: e.User, Text: e.Text, Blocks: rawJSON(e.BlocksJSON), Source: "chat.postEphemeral", At: e.At}
		line = append(line, placed{at: tsMicro(e.TS), eph: ej, item: item{Kind: "ephemeral", Key: "e:" + e.TS, TS: e.TS,
			Author: "drawbridge", Text: e.Text, Blocks: e.BlocksJSON, At: e.At, User: e.User}})
	}
	for _, l := range local {
		ej := &ephemeralJSON{TS: l.TS, User: l.User, Text: l.Text, Blocks: rawJSON(l.Blocks), Command: l.Command,
			Error: l.Error, Source: l.Source, At: l.At}
		kind := "ephemeral"
		if l.User == "" {
			kind = "message"
		}
		line = append(line, placed{at: l.after, seq: int64(l.seq), eph: ej, item: item{Kind: kind, Key: "l:" + l.ID, TS: l.TS,
			Author: "drawbridge", Text: l.Text, Blocks: l.Blocks, At: l.At, User: l.User, Command: l.Command, Error: l.Error, Local: true}})
	}
	slices.SortStableFunc(line, func(a, b placed) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq))
	})

	st.Messages, st.Ephem, st.Timeline = []messageJSON{}, []ephemeralJSON{}, []entryJSON{}
	for order, p := range line {
		entry := entryJSON{Key: p.item.Key, Kind: p.item.Kind, TS: p.item.TS, HTML: n.itemHTML(p.item)}
		switch {
		case p.msg != nil:
			mj := messageToJSON(*p.msg)
			mj.Order = order
			st.Messages = append(st.Messages, mj)
			entry.Replies = []entryJSON{}
			for _, r := range p.msg.Replies {
				ri := messageItem(r, "reply")
				entry.Replies = append(entry.Replies, entryJSON{Key: ri.Key, Kind: "reply", TS: r.TS, HTML: n.itemHTML(ri)})
			}
		default:
			p.eph.Order = order
			st.Ephem = append(st.Ephem, *p.eph)
		}
		st.Timeline = append(st.Timeline, entry)
	}
	return st
}

// messageItem is a slackfake message ready to render.
func messageItem(m slackfake.Message, kind string) item {
	key := "m:"
	if kind == "reply" {
		key = "r:"
	}
	return item{Kind: kind, Key: key + m.TS, TS: m.TS, Parent: m.ThreadTS, Author: "drawbridge", Text: m.Text,
		Blocks: m.BlocksJSON, Files: filesJSON(m.Files), Edits: m.Edits, At: m.Posted, Threaded: kind == "message"}
}

func messageToJSON(m slackfake.Message) messageJSON {
	out := messageJSON{TS: m.TS, ThreadTS: m.ThreadTS, Text: m.Text, Blocks: rawJSON(m.BlocksJSON), Edits: m.Edits,
		Files: filesJSON(m.Files), State: stateOf(m.BlocksJSON), Run: runOf(m.BlocksJSON), Posted: m.Posted, Updated: m.Updated}
	if m.Metadata != nil {
		out.Metadata = m.Metadata
	}
	for _, r := range m.Replies {
		out.Replies = append(out.Replies, messageToJSON(r))
	}
	return out
}

func filesJSON(fs []slackfake.File) []fileJSON {
	var out []fileJSON
	for _, f := range fs {
		out = append(out, fileJSON{ID: f.ID, Name: f.Name, Title: f.Title, AltText: f.AltText,
			Mimetype: fileType(f), Size: len(f.Data), URL: "/files/" + f.ID})
	}
	return out
}

// fileType sniffs a file's content type, falling back on its name.
func fileType(f slackfake.File) string {
	if len(f.Data) > 0 {
		if t := http.DetectContentType(f.Data); t != "application/octet-stream" {
			return t
		}
	}
	if strings.HasSuffix(strings.ToLower(f.Name), ".png") {
		return "image/png"
	}
	return "application/octet-stream"
}

// rawJSON passes valid JSON through and drops anything else.
func rawJSON(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return nil
	}
	return json.RawMessage(s)
}

func (c *Console) serveFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, f := range c.o.Slack.Files() {
		if f.ID != id || !f.Uploaded {
			continue
		}
		typ := fileType(f)
		if !strings.HasPrefix(typ, "image/") { // never let a file run as a page on the console's origin
			typ = "application/octet-stream"
			w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(f.Name, `"`, "")+`"`)
		}
		w.Header().Set("Content-Type", typ)
		w.Header().Set("Content-Length", strconv.Itoa(len(f.Data)))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(f.Data)
		return
	}
	http.NotFound(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"ok": false, "error": msg})
}
