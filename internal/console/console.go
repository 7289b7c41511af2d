package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/internal/slackfake"
)

//go:embed web
var webFS embed.FS

// User is someone the page can act as.
type User struct{ ID, Name, Role string }

// Options configures a Console.
type Options struct {
	Slack         *slackfake.Server // the fake Web API drawbridge posts to; the console reads its state
	Channel       string            // drawbridge's channel, e.g. C0DEMO00001
	Command       string            // the slash command; default "/kong-upgrade"
	SigningSecret string            // drawbridge's slack.signing_secret
	DrawbridgeURL string            // drawbridge's HTTP server: POST /slack/commands, /slack/interactions
	Users         []User            // the user switcher; the first is selected at first
	// Switches are named toggles shown on the page, e.g. "bad release" → a kongsim fault.
	Switches map[string]func(ctx context.Context, on bool) error
	Hints    []string // "What to try", in mrkdwn
	Listen   string   // default "127.0.0.1:0"
	Log      *slog.Logger

	// Optional.
	ChannelName string            // shown as #name and sent as channel_name; default "kong-upgrades"
	Groups      map[string]string // user group ID (S…) → handle, for <!subteam^S…> mentions
	SwitchHelp  map[string]string // switch name → one line shown under it
	// SlackAPI: the console also answers Slack's Web API on its own address (the fake's
	// /api/<method> and upload URLs), for a drawbridge that cannot reach the fake's
	// loopback listener: slack.api_url is then SlackAPIURL(). The demo leaves it off.
	SlackAPI bool

	timeout time.Duration // how long drawbridge may take to answer; Slack's 3 s (tests shorten it)
}

const (
	defaultCommand     = "/kong-upgrade"
	defaultChannelName = "kong-upgrades"
	// slackTimeout is how long Slack waits for drawbridge's answer.
	slackTimeout = 3 * time.Second
	// switchTimeout bounds one switch function.
	switchTimeout = 30 * time.Second
	// appID and teamDomain are the fake app and workspace the console speaks for.
	appID      = "A0DRAWBRIDGE"
	teamDomain = "slackfake"
	// verificationToken stands in for Slack's deprecated verification token.
	verificationToken = "console-verification-token"
)

func (o *Options) validate() error {
	var errs []error
	if o.Slack == nil {
		errs = append(errs, errors.New("console: Slack (the slackfake server) is required"))
	}
	if o.Channel == "" {
		errs = append(errs, errors.New("console: Channel is required"))
	}
	if u, err := url.Parse(o.DrawbridgeURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("console: DrawbridgeURL %q is not an http(s) URL", o.DrawbridgeURL))
	}
	if len(o.Users) == 0 {
		errs = append(errs, errors.New("console: Users needs at least one user"))
	}
	seen := map[string]bool{}
	for i, u := range o.Users {
		switch {
		case u.ID == "":
			errs = append(errs, fmt.Errorf("console: Users[%d] has no ID", i))
		case seen[u.ID]:
			errs = append(errs, fmt.Errorf("console: Users[%d]: ID %s appears twice", i, u.ID))
		}
		seen[u.ID] = true
	}
	for name, f := range o.Switches {
		if f == nil {
			errs = append(errs, fmt.Errorf("console: switch %q has no function", name))
		}
	}
	if o.Command == "" {
		o.Command = defaultCommand
	}
	if !strings.HasPrefix(o.Command, "/") || strings.ContainsAny(o.Command, " \t\n") {
		errs = append(errs, fmt.Errorf("console: Command %q is not a slash command", o.Command))
	}
	if o.ChannelName == "" {
		o.ChannelName = defaultChannelName
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.timeout <= 0 {
		o.timeout = slackTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.DrawbridgeURL = strings.TrimRight(o.DrawbridgeURL, "/")
	return errors.Join(errs...)
}

// Console is a local stand-in for Slack's UI, serving one page.
type Console struct {
	o      Options
	log    *slog.Logger
	srv    *http.Server
	url    string
	client *http.Client
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	once   sync.Once
	served chan struct{} // closed when Serve returns

	switchMu sync.Mutex // one switch function at a time

	mu        sync.Mutex
	local     []localItem
	localSeq  int
	localVer  int
	changed   chan struct{} // closed and replaced on every local change
	switches  map[string]bool
	responses map[string]responseTarget
	lastMicro int64 // the last action_ts/local ts handed out, in µs
	idSeq     int
}

// Start validates o, listens and serves the console until ctx ends or
// Close is called.
func Start(ctx context.Context, o Options) (*Console, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("console: listen on %s: %w", o.Listen, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Console{
		o:         o,
		log:       o.Log,
		url:       baseURL(ln.Addr()),
		client:    &http.Client{Timeout: o.timeout},
		ctx:       cctx,
		cancel:    cancel,
		served:    make(chan struct{}),
		changed:   make(chan struct{}),
		switches:  map[string]bool{},
		responses: map[string]responseTarget{},
	}
	for name := range o.Switches {
		c.switches[name] = false
	}
	c.srv = &http.Server{Handler: c.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(c.served)
		if err := c.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("console server stopped", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = c.Close()
		case <-cctx.Done():
		}
	}()
	c.log.Info("Slack console listening", "url", c.url, "drawbridge", o.DrawbridgeURL, "channel", o.Channel)
	return c, nil
}

func baseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// URL is the page's address, e.g. http://127.0.0.1:41234/.
func (c *Console) URL() string { return c.url }

// SlackAPIURL is the Web API base on the console's address (with Options.SlackAPI), e.g.
// http://127.0.0.1:8090/api/; empty without it.
func (c *Console) SlackAPIURL() string {
	if !c.o.SlackAPI {
		return ""
	}
	return c.url + "api/"
}

// Close stops serving; open event streams end.
func (c *Console) Close() error {
	var err error
	c.once.Do(func() {
		c.cancel()
		err = c.srv.Close()
		<-c.served
	})
	return err
}

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", noCache(files))
	mux.Handle("GET /static/", noCache(http.StripPrefix("/static", files)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /api/state", c.serveState)
	mux.HandleFunc("POST /api/command", c.serveCommand)
	mux.HandleFunc("POST /api/action", c.serveAction)
	mux.HandleFunc("POST /api/switch", c.serveSwitch)
	mux.HandleFunc("GET /events", c.serveEvents)
	mux.HandleFunc("GET /files/{id}", c.serveFile)
	mux.HandleFunc("POST /response/{id}", c.serveResponseURL)
	if c.o.SlackAPI {
		// Slack's methods (chat.postMessage, …) never collide with the page's /api/state,
		// /api/command, /api/action and /api/switch, which are the more specific patterns.
		mux.Handle("/api/", c.o.Slack)
		mux.Handle(slackfake.UploadPath, c.o.Slack)
	}
	return mux
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// user finds a user by ID.
func (c *Console) user(id string) (User, bool) {
	for _, u := range c.o.Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// names resolves mentions for the page of user me.
func (c *Console) names(me string) *names {
	n := &names{users: map[string]string{slackfake.BotUserID: "drawbridge"}, groups: c.o.Groups,
		channels: map[string]string{c.o.Channel: c.o.ChannelName}, me: me}
	for _, u := range c.o.Users {
		n.users[u.ID] = u.Name
	}
	return n
}

// userName is the Slack handle sent as user_name / user.username.
func userName(u User) string {
	h := strings.ToLower(strings.Join(strings.Fields(u.Name), "."))
	if h == "" {
		return strings.ToLower(u.ID)
	}
	return h
}
