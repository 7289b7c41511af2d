// Package adminapi owns Kong's Admin and Status APIs as drawbridge checks nodes: what a
// node answers (version, node_id, database reachability, readiness), whether it is
// stopped (nothing listens), and waiting for either. Every request is bounded by
// Client.Timeout, so a node that hangs is a failed check, never a hung run. Failures are
// classified here: ErrRefused (nothing listens), ErrTimeout (no answer in time) and
// ErrUnexpected (an answer drawbridge does not understand), each wrapped in a
// *RequestError that names the node and the URL without credentials.
package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds one request when Client.Timeout is zero.
const DefaultTimeout = 2 * time.Second

// maxBody bounds what is read of an answer; GET / carries the node's whole configuration.
const maxBody = 8 << 20

var (
	// ErrRefused means the connection was refused: nothing listens at the URL.
	ErrRefused = errors.New("connection refused")
	// ErrTimeout means the node did not answer within Client.Timeout.
	ErrTimeout = errors.New("no answer")
	// ErrUnexpected means the node answered with a status or body drawbridge does not
	// understand.
	ErrUnexpected = errors.New("unexpected answer")
)

// Client asks Kong nodes over their Admin and Status APIs. The zero value is ready to use.
type Client struct {
	// HTTP sends the requests. Default: a client with no global timeout that connects
	// directly, ignoring HTTP_PROXY and friends (a proxy would turn "nothing listens"
	// into a 502 and hide a stopped node).
	HTTP *http.Client
	// Timeout bounds each request, answer included; default DefaultTimeout.
	Timeout time.Duration
}

var defaultHTTP = &http.Client{Transport: directTransport()}

func directTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// RequestError is a failed request to a node. Err wraps ErrRefused, ErrTimeout,
// ErrUnexpected, the caller's context error, or the transport's error.
type RequestError struct {
	Node   string // the node's name in drawbridge's config
	URL    string // scheme://host/path: no credentials, no query
	Status int    // the HTTP status when the node answered, else 0
	Err    error
}

func (e *RequestError) Error() string { return e.Node + ": " + e.Request() }

// Request describes the request and its failure without the node's name, e.g.
// "GET http://10.0.0.1:8001/status: connection refused".
func (e *RequestError) Request() string { return "GET " + e.URL + ": " + e.Err.Error() }

func (e *RequestError) Unwrap() error { return e.Err }

// answer is one HTTP answer, read whole.
type answer struct {
	node   string
	url    string // scrubbed
	status int
	body   []byte
}

// get sends GET base+path within the client's timeout and reads the answer. Every HTTP
// status is an answer; the error (a *RequestError) is for requests that got none.
func (c *Client) get(ctx context.Context, node, base, path string) (answer, error) {
	u, err := joinURL(base, path)
	if err != nil {
		return answer{}, &RequestError{Node: node, URL: scrub(base) + path, Err: err}
	}
	a := answer{node: node, url: scrub(u)}
	reqCtx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, u, nil)
	if err != nil {
		return a, &RequestError{Node: node, URL: a.url, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http().Do(req)
	if err != nil {
		return a, &RequestError{Node: node, URL: a.url, Err: c.classify(ctx, err)}
	}
	defer resp.Body.Close()
	a.status = resp.StatusCode
	a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return a, &RequestError{Node: node, URL: a.url, Status: a.status,
			Err: fmt.Errorf("reading the %d answer: %w", a.status, c.classify(ctx, err))}
	}
	return a, nil
}

// classify turns a transport error into ErrRefused, ErrTimeout or the caller's context
// error; anything else is kept without url.Error's repetition of the URL.
func (c *Client) classify(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrRefused
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Errorf("%w within %s", ErrTimeout, c.timeout())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// getJSON gets base+path and unmarshals its 200 answer into v; another status or a body
// that is not JSON is an ErrUnexpected naming what came back.
func (c *Client) getJSON(ctx context.Context, node, base, path string, v any) (answer, error) {
	a, err := c.get(ctx, node, base, path)
	if err != nil {
		return a, err
	}
	if a.status != http.StatusOK {
		return a, a.unexpected("status " + statusText(a))
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return a, a.unexpected("a body that is not the JSON expected (" + err.Error() + "): " + snippet(a.body))
	}
	return a, nil
}

// unexpected is an ErrUnexpected about this answer.
func (a answer) unexpected(what string) error {
	return &RequestError{Node: a.node, URL: a.url, Status: a.status, Err: fmt.Errorf("%w: %s", ErrUnexpected, what)}
}

// statusText is "503" followed by Kong's message or a snippet of the body.
func statusText(a answer) string {
	if msg := message(a.body); msg != "" {
		return fmt.Sprintf("%d %q", a.status, msg)
	}
	if len(a.body) == 0 {
		return fmt.Sprint(a.status)
	}
	return fmt.Sprintf("%d %s", a.status, snippet(a.body))
}

// message is the "message" of a Kong error body, or "".
func message(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return m.Message
}

// snippet quotes the start of a body for an error message.
func snippet(b []byte) string {
	const max = 120
	s := string(b)
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return fmt.Sprintf("%q", s)
}

// joinURL appends path to a base URL that may carry a path of its own (a reverse proxy
// prefix such as https://gw.example.com/admin).
func joinURL(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("bad URL: %w", errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("bad URL: want http:// or https:// and a host")
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	return u.String(), nil
}

// scrub drops credentials, query and fragment from a URL for messages.
func scrub(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Drop whatever could be user info, a query or a fragment.
		scheme, rest, ok := strings.Cut(raw, "://")
		if !ok {
			scheme, rest = "", raw
		} else {
			scheme += "://"
		}
		if i := strings.LastIndexByte(rest, '@'); i >= 0 {
			rest = rest[i+1:]
		}
		if i := strings.IndexAny(rest, "?#"); i >= 0 {
			rest = rest[:i]
		}
		return scheme + rest
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return u.String()
}
