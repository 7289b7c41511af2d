package slackfake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultToken is the bot token a Server accepts when Options.Token is empty.
const DefaultToken = "xoxb-slackfake-0000"

// Identity of the fake workspace and bot, as auth.test answers.
const (
	TeamID    = "T0SLACKFAKE"
	BotUserID = "U0DRAWBRIDGE"
	BotID     = "B0DRAWBRIDGE"
)

// Options configures a Server. The zero value is ready to use.
type Options struct {
	// Token is the bot token accepted, in "Authorization: Bearer …" or in
	// the token form field. Default DefaultToken.
	Token string
	// Channels lists the channel IDs that exist; a call naming another one
	// gets channel_not_found. Empty: every channel exists.
	Channels []string
	// Groups maps user group IDs (S…) to their members, for
	// usergroups.users.list.
	Groups map[string][]string
	// Fault decides per call which fault to inject; nil injects none.
	Fault FaultFunc
	// Now stamps calls and messages. Default time.Now.
	Now func() time.Time
	// Epoch is the seconds part of the first message ts. Default 1732560000.
	Epoch int64
	// AppToken is the app-level token (xapp-…) apps.connections.open accepts for Socket
	// Mode; empty: Socket Mode is refused.
	AppToken string
}

// Server is a fake Slack Web API listening on 127.0.0.1. It is safe for
// concurrent use.
type Server struct {
	srv   *httptest.Server
	token string
	now   func() time.Time
	epoch int64
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	fault    FaultFunc
	exists   map[string]bool // nil: every channel exists
	groups   map[string][]string
	calls    []Call
	tsSeq    int64
	idSeq    int
	channels map[string]*channel
	ephem    []Ephemeral
	files    map[string]*File
	fileIDs  []string
	views    []View
	appToken string
	socket   socketState
}

// New starts a Server on 127.0.0.1 with a random port. Close it when done.
func New(opts Options) *Server {
	s := &Server{
		token:    opts.Token,
		appToken: opts.AppToken,
		now:      opts.Now,
		epoch:    opts.Epoch,
		done:     make(chan struct{}),
		changed:  make(chan struct{}),
		fault:    opts.Fault,
		groups:   map[string][]string{},
		channels: map[string]*channel{},
		files:    map[string]*File{},
	}
	if s.token == "" {
		s.token = DefaultToken
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.epoch == 0 {
		s.epoch = 1732560000
	}
	if len(opts.Channels) > 0 {
		s.exists = map[string]bool{}
		for _, c := range opts.Channels {
			s.exists[c] = true
		}
	}
	for g, members := range opts.Groups {
		s.groups[g] = slices.Clone(members)
	}
	s.srv = httptest.NewServer(s)
	return s
}

// URL is the Web API base with its trailing slash, for slack.OptionAPIURL.
func (s *Server) URL() string { return s.srv.URL + "/api/" }

// Token is the bot token the Server accepts.
func (s *Server) Token() string { return s.token }

// Close answers calls still held back by a Delay and shuts the server down.
func (s *Server) Close() {
	s.once.Do(func() { close(s.done) })
	s.srv.Close()
}

// SetFault replaces the fault hook; nil injects none.
func (s *Server) SetFault(f FaultFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetGroup sets the members of user group id.
func (s *Server) SetGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = slices.Clone(members)
	s.notifyLocked()
}

// AddChannel makes a channel exist (only needed with Options.Channels).
func (s *Server) AddChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exists != nil {
		s.exists[id] = true
	}
}

// ServeHTTP answers /api/<method> and the upload URLs it hands out.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api/apps.connections.open":
		s.openConnection(w, r)
	case r.URL.Path == socketPath:
		s.serveSocket(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.serveAPI(w, r, strings.TrimPrefix(r.URL.Path, "/api/"))
	case strings.HasPrefix(r.URL.Path, UploadPath):
		s.serveUpload(w, r, strings.TrimPrefix(r.URL.Path, UploadPath))
	default:
		http.NotFound(w, r)
	}
}

// answer is a handler's result: fields to merge into {"ok":true}, or an error code.
type answer struct {
	fields map[string]any
	err    string
}

func okAnswer(fields map[string]any) answer { return answer{fields: fields} }
func errAnswer(code string) answer          { return answer{err: code} }

type handler func(s *Server, p request) answer

// request is what a handler answers: the call's parameters, and the address the client
// reached the fake at (scheme://host), on which the URLs it hands out must be: a client may
// reach the fake by another name than its own listener's (the lab's drawbridge reaches the
// console, which serves the fake, as http://console:8090).
type request struct {
	url.Values
	base string
}

// requestBase is the scheme and host r was sent to.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

var handlers = map[string]handler{
	"auth.test":                    (*Server).authTest,
	"chat.postMessage":             (*Server).postMessage,
	"chat.update":                  (*Server).update,
	"chat.postEphemeral":           (*Server).postEphemeral,
	"files.getUploadURLExternal":   (*Server).getUploadURL,
	"files.completeUploadExternal": (*Server).completeUpload,
	"usergroups.users.list":        (*Server).groupMembers,
	"views.open":                   (*Server).openView,
	"conversations.history":        (*Server).history,
	"conversations.replies":        (*Server).replies,
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	params, err := parseParams(r)
	if err != nil {
		s.finish(w, s.begin(method, url.Values{}, r), answer{err: "invalid_form_data"})
		return
	}
	formToken := params.Get("token")
	c := s.begin(method, params, r)
	if code := s.checkAuth(r, formToken); code != "" {
		s.finish(w, c, errAnswer(code))
		return
	}
	f := s.faultFor(c)
	if !s.wait(r.Context(), f.Delay) {
		return // the client or the server went away
	}
	if f.fails() {
		s.finish(w, c, answer{}, f)
		return
	}
	h, ok := handlers[method]
	if !ok {
		s.finish(w, c, errAnswer("unknown_method"), f)
		return
	}
	// The change and its record are one step for readers.
	s.mu.Lock()
	rp := settle(&c, h(s, request{Values: params, base: requestBase(r)}), f)
	s.recordLocked(c)
	s.mu.Unlock()
	rp.write(w)
}

// begin numbers and stamps a call; it is recorded when answered.
func (s *Server) begin(method string, p url.Values, r *http.Request) Call {
	p.Del("token") // never keep the secret in the record
	return Call{Method: method, Params: p, At: s.now(), HTTPMethod: r.Method}
}

func (s *Server) faultFor(c Call) Fault {
	s.mu.Lock()
	f := s.fault
	s.mu.Unlock()
	if f == nil {
		return Fault{}
	}
	return f(c.copy())
}

func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

// reply is an answer ready to be written.
type reply struct {
	status     int
	retryAfter int
	body       map[string]any
}

// settle decides the answer to call c: the fault if it fails, else a. It
// fills in c's outcome.
func settle(c *Call, a answer, f Fault) reply {
	c.Fault, c.Status = f, http.StatusOK
	rp := reply{status: http.StatusOK, body: map[string]any{"ok": true}}
	switch {
	case f.Status == http.StatusTooManyRequests:
		c.Status, c.Error = f.Status, "ratelimited"
		rp.status, rp.retryAfter = f.Status, f.RetryAfter
	case f.Status != 0:
		c.Status = f.Status
		rp.status = f.Status
	case f.Error != "":
		c.Error = f.Error
	default:
		c.Error = a.err
	}
	if c.Error != "" {
		rp.body = map[string]any{"ok": false, "error": c.Error}
		return rp
	}
	for k, v := range a.fields {
		rp.body[k] = v
	}
	return rp
}

// finish records the call and writes the answer.
func (s *Server) finish(w http.ResponseWriter, c Call, a answer, faults ...Fault) {
	var f Fault
	if len(faults) > 0 {
		f = faults[0]
	}
	rp := settle(&c, a, f)
	s.record(c)
	rp.write(w)
}

func (rp reply) write(w http.ResponseWriter) {
	switch rp.status {
	case http.StatusOK, http.StatusTooManyRequests:
		if rp.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(rp.retryAfter))
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(rp.status)
		_ = json.NewEncoder(w).Encode(rp.body)
	default:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(rp.status)
		fmt.Fprintf(w, "<html><body>%d %s</body></html>", rp.status, http.StatusText(rp.status))
	}
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(c)
}

func (s *Server) recordLocked(c Call) {
	c.Seq = len(s.calls) + 1
	s.calls = append(s.calls, c)
	s.notifyLocked()
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// checkAuth accepts the bot token in the Authorization header or, failing
// that, in the token field, as Slack does.
func (s *Server) checkAuth(r *http.Request, formToken string) string {
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		tok = formToken
	}
	switch tok {
	case "":
		return "not_authed"
	case s.token:
		return ""
	}
	return "invalid_auth"
}

// parseParams reads a form (or, for views.*, a JSON object whose top-level
// values are flattened: strings as they are, the rest as JSON).
func parseParams(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return cloneValues(r.Form), nil
	}
	if err := r.ParseForm(); err != nil { // the query, if any
		return nil, err
	}
	var obj map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 10<<20)).Decode(&obj); err != nil {
		return nil, err
	}
	p := cloneValues(r.Form)
	for k, v := range obj {
		if str, ok := v.(string); ok {
			p.Set(k, str)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		p.Set(k, string(b))
	}
	return p, nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// serveUpload takes the bytes of a file announced by files.getUploadURLExternal,
// as multipart (field "file") or raw, and answers "OK - <length>" as Slack does.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, id string) {
	c := s.begin("upload", url.Values{"file_id": {id}}, r)
	if code := s.checkAuth(r, ""); code != "" {
		s.finish(w, c, errAnswer(code))
		return
	}
	f := s.faultFor(c)
	if !s.wait(r.Context(), f.Delay) {
		return
	}
	if f.fails() {
		s.finish(w, c, answer{}, f)
		return
	}
	data, err := readUpload(r)
	if err != nil {
		s.finish(w, c, errAnswer("invalid_upload"), f)
		return
	}
	s.mu.Lock()
	file, ok := s.files[id]
	a := errAnswer("file_not_found")
	if ok && !file.Completed {
		file.Data, file.Uploaded = data, true
		a = answer{}
	}
	rp := settle(&c, a, f)
	s.recordLocked(c)
	s.mu.Unlock()
	if c.Error != "" {
		rp.write(w)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "OK - %d", len(data))
}

func readUpload(r *http.Request) ([]byte, error) {
	const max = 50 << 20
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return io.ReadAll(io.LimitReader(r.Body, max))
	}
	if err := r.ParseMultipartForm(max); err != nil {
		return nil, err
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
