package console

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/internal/slackfake"
)

const (
	testChannel = "C0DEMO00001"
	testSecret  = "8f742231b10e8888abcd99yyyzzz85a5"
	olivia      = "U0DEMOOPS"
	chandra     = "U0DEMOCHG"
	sam         = "U0DEMOSEE"
)

var testUsers = []User{
	{ID: olivia, Name: "Olivia", Role: "operator"},
	{ID: chandra, Name: "Chandra", Role: "change manager"},
	{ID: sam, Name: "Sam", Role: "someone else"},
}

// reply is what the fake drawbridge answers.
type reply struct {
	status      int
	contentType string
	body        string
	delay       time.Duration
}

// request is one request the fake drawbridge received.
type request struct {
	Path      string
	Header    http.Header
	Body      []byte
	VerifyErr error // from slack.NewSecretsVerifier
}

// fakeDrawbridge stands in for drawbridge's /slack/commands and
// /slack/interactions: it checks signatures with slack-go and records.
type fakeDrawbridge struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []request
	ans map[string]reply // by path
}

func newFakeDrawbridge(t *testing.T) *fakeDrawbridge {
	t.Helper()
	d := &fakeDrawbridge{ans: map[string]reply{}}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sv, err := slack.NewSecretsVerifier(r.Header, testSecret)
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
		}
		d.mu.Lock()
		d.got = append(d.got, request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, VerifyErr: err})
		a, ok := d.ans[r.URL.Path]
		d.mu.Unlock()
		if !ok {
			a = reply{status: http.StatusOK}
		}
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-r.Context().Done():
				return
			}
		}
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *fakeDrawbridge) answer(path string, a reply) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ans[path] = a
}

func (d *fakeDrawbridge) requests() []request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]request(nil), d.got...)
}

type harness struct {
	t     *testing.T
	slack *slackfake.Server
	api   *slack.Client
	db    *fakeDrawbridge
	c     *Console
}

func newHarness(t *testing.T, edit ...func(*Options)) *harness {
	t.Helper()
	fake := slackfake.New(slackfake.Options{Channels: []string{testChannel}})
	t.Cleanup(fake.Close)
	db := newFakeDrawbridge(t)
	o := Options{
		Slack: fake, Channel: testChannel, SigningSecret: testSecret, DrawbridgeURL: db.srv.URL + "/",
		Users: testUsers, Hints: []string{"Run `/kong-upgrade start demo 3.5.0` as *Olivia*"},
	}
	for _, e := range edit {
		e(&o)
	}
	c, err := Start(t.Context(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &harness{t: t, slack: fake, api: slack.New(fake.Token(), slack.OptionAPIURL(fake.URL())), db: db, c: c}
}

// post sends JSON to the console and decodes the answer into out (if not nil).
func (h *harness) post(path string, body any, out any) int {
	h.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(h.c.URL()+path, "application/json", bytes.NewReader(b))
	if err != nil {
		h.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("POST %s: answer %q: %v", path, data, err)
		}
	}
	return resp.StatusCode
}

func (h *harness) state(user string) stateJSON {
	h.t.Helper()
	resp, err := http.Get(h.c.URL() + "api/state?user=" + url.QueryEscape(user))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st stateJSON
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		h.t.Fatalf("decode state: %v", err)
	}
	return st
}

func (h *harness) command(user, text string) postResult {
	h.t.Helper()
	var res postResult
	if code := h.post("api/command", commandRequest{User: user, Text: text}, &res); code != http.StatusOK {
		h.t.Fatalf("command %q: HTTP %d %+v", text, code, res)
	}
	return res
}

// statusBlocks is a status message like drawbridge's, with an Approve
// button and a Roll back button behind a confirm dialog.
func statusBlocks(state string) []slack.Block {
	plain := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
	}
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	confirm := slack.NewConfirmationBlockObject(plain("Roll back demo?"), plain("This stops Kong 3.5.0 & restores the backup."),
		plain("Roll back"), plain("Cancel")).WithStyle(slack.StyleDanger)
	return []slack.Block{
		slack.NewHeaderBlock(plain("demo: Kong 3.4.3 → 3.5.0"), slack.HeaderBlockOptionBlockID("status-1-r1-header")),
		slack.NewSectionBlock(nil, []*slack.TextBlockObject{md("*State*\n✋ " + state), md("*Requested by*\n<@" + olivia + ">")}, nil,
			slack.SectionBlockOptionBlockID("status-1-r1-facts")),
		slack.NewDividerBlock(),
		slack.NewSectionBlock(md("*Approval needed* from <!subteam^S0CHANGE> and <@"+chandra+">"), nil, nil),
		slack.NewActionBlock("status-1-r1-actions",
			slack.NewButtonBlockElement("approve", "run=1;rev=1", plain("Approve")).WithStyle(slack.StylePrimary),
			slack.NewButtonBlockElement("rollback", "run=1;rev=1", plain("Roll back")).WithStyle(slack.StyleDanger).WithConfirm(confirm)),
		slack.NewContextBlock("status-1-r1-context", md("drawbridge run #1 · revision 1")),
	}
}
