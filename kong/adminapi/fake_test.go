package adminapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/config"
)

// fakeNode answers each path with a fixed status and body.
type fakeNode map[string]struct {
	status int
	body   string
}

func (f fakeNode) start(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := f[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Not found"}`))
			return
		}
		w.WriteHeader(a.status)
		w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

const (
	root342  = `{"version":"3.4.2","node_id":"6b2b3a7e-0000-4000-8000-000000000001","tagline":"Welcome to kong"}`
	statusOK = `{"database":{"reachable":true},"server":{},"memory":{}}`
)

// TestAnswersDrawbridgeDoesNotUnderstand: each is an error naming the node, the path and
// what came back.
func TestAnswersDrawbridgeDoesNotUnderstand(t *testing.T) {
	cases := []struct {
		name string
		node fakeNode
		want string
	}{
		{"root not JSON", fakeNode{"/": {200, "<html>proxy login</html>"}},
			`GET URL/: unexpected answer: a body that is not the JSON expected (invalid character '<' looking for beginning of value): "<html>proxy login</html>"`},
		{"root without version", fakeNode{"/": {200, `{"tagline":"Welcome to kong"}`}},
			`GET URL/: unexpected answer: no "version" in the body: "{\"tagline\":\"Welcome to kong\"}"`},
		{"root 401", fakeNode{"/": {401, `{"message":"Unauthorized"}`}},
			`GET URL/: unexpected answer: status 401 "Unauthorized"`},
		{"bad version", fakeNode{"/": {200, `{"version":"next"}`}},
			`GET URL/: unexpected answer: version "next" is not a Kong version`},
		{"status without database", fakeNode{"/": {200, root342}, "/status": {200, `{"server":{},"configuration_hash":"0123"}`}},
			`GET URL/status: unexpected answer: no "database.reachable" in the body (a DB-less node or a data plane?)`},
		{"status 500 not JSON", fakeNode{"/": {200, root342}, "/status": {500, "oops"}},
			`GET URL/status: unexpected answer: status 500 "oops"`},
		{"ready 404", fakeNode{"/": {200, root342}, "/status": {200, statusOK}},
			`GET URL/status/ready: unexpected answer: status 404 "Not found"`},
		{"ready 503 without message", fakeNode{"/": {200, root342}, "/status": {200, statusOK}, "/status/ready": {503, ""}},
			`GET URL/status/ready: unexpected answer: status 503 without a message`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.node.start(t)
			_, err := (&Client{}).Info(t.Context(), config.Node{Name: "kong-eu-1", AdminURL: url, StatusURL: url})
			want := "kong-eu-1: " + strings.ReplaceAll(tc.want, "URL", url)
			if err == nil || err.Error() != want || !errors.Is(err, ErrUnexpected) {
				t.Errorf("err = %v\nwant %s", err, want)
			}
		})
	}
}

func TestReadinessPath(t *testing.T) {
	for _, tc := range []struct {
		name                string
		version, readyBody  string
		readyStatus         int
		withStatusURL       bool
		ready               bool
		readyFrom, notReady string
	}{
		{"3.3+ ready", "3.4.2", `{"message":"ready"}`, 200, true, true, ReadyFromStatusAPI, ""},
		{"3.3+ not ready", "3.4.2", `{"message":"failed to connect to database"}`, 503, true, false, ReadyFromStatusAPI, "failed to connect to database"},
		{"3.3+ draining", "3.9.0", `{"message":"draining"}`, 503, true, false, ReadyFromStatusAPI, "draining"},
		{"enterprise 4-part version", "3.6.0.0", `{"message":"ready"}`, 200, true, true, ReadyFromStatusAPI, ""},
		{"3.3+ without a Status API", "3.4.2", `{"message":"failed"}`, 503, false, true, ReadyFromDatabase, ""},
		{"before 3.3", "3.2.2", `{"message":"failed"}`, 503, true, true, ReadyFromDatabase, ""},
		{"2.8", "2.8.5", `{"message":"failed"}`, 503, true, true, ReadyFromDatabase, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := fakeNode{
				"/":             {200, `{"version":"` + tc.version + `","node_id":"id-1"}`},
				"/status":       {200, statusOK},
				"/status/ready": {tc.readyStatus, tc.readyBody},
			}.start(t)
			n := config.Node{Name: "kong-1", AdminURL: url}
			if tc.withStatusURL {
				n.StatusURL = url
			}
			r, err := (&Client{}).Report(t.Context(), n)
			if err != nil {
				t.Fatal(err)
			}
			if r.Name != "kong-1" || r.Version != tc.version || r.NodeID != "id-1" || !r.DBReachable ||
				r.Ready != tc.ready || r.ReadyFrom != tc.readyFrom || r.NotReady != tc.notReady {
				t.Errorf("Report = %+v", r)
			}
		})
	}
}

// TestErrorsHideCredentials: a URL's user info and query never reach an error.
func TestErrorsHideCredentials(t *testing.T) {
	url := fakeNode{"/": {500, "no"}}.start(t)
	admin := strings.Replace(url, "http://", "http://admin:s3cret@", 1) + "/prefix?apikey=s3cret"
	_, err := (&Client{}).Info(t.Context(), config.Node{AdminURL: admin})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "GET "+url+"/prefix/: ") {
		t.Errorf("err = %v", err)
	}
	_, err = (&Client{}).Info(t.Context(), config.Node{Name: "n", AdminURL: "ftp://u:s3cret@host"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad scheme: %v", err)
	}
	_, err = (&Client{}).Info(t.Context(), config.Node{Name: "n", AdminURL: "http://u:s3cret@host:bad port"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL: %v", err)
	}
}

// TestHangingServer: a server that accepts and never answers is a timeout, not a
// stopped node, and costs about Timeout.
func TestHangingServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	c := &Client{Timeout: 200 * time.Millisecond}
	n := config.Node{Name: "kong-1", AdminURL: "http://" + l.Addr().String()}
	start := time.Now()
	stopped, err := c.Stopped(t.Context(), n)
	if stopped || !errors.Is(err, ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("Stopped = %v, %v after %v", stopped, err, time.Since(start))
	}
	if want := "kong-1: GET http://" + l.Addr().String() + "/: no answer within 200ms"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	// A caller's context ending first is its own error, not a timeout.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	c.Timeout = time.Minute
	if _, err := c.Info(ctx, n); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Errorf("Info with ctx ending first: %v", err)
	}
}

func TestWaitErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().String()
	l.Close()
	c := &Client{Timeout: 200 * time.Millisecond}
	stopped := config.Node{Name: "kong-1", AdminURL: "http://" + free}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = c.WaitReady(ctx, stopped, "3.5.0", 50*time.Millisecond)
	want := "kong-1: not ready with 3.5.0 (context deadline exceeded); last seen: GET http://" + free + "/: connection refused"
	var we *WaitError
	if err == nil || err.Error() != want || !errors.Is(err, ErrRefused) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &we) {
		t.Errorf("WaitReady on a stopped node: %v\nwant %s", err, want)
	}

	running := config.Node{Name: "kong-2", AdminURL: fakeNode{"/": {200, root342}}.start(t)}
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err = c.WaitStopped(ctx, running, 50*time.Millisecond)
	want = "kong-2: not stopped (context deadline exceeded); last seen: still answers at " + running.AdminURL
	if err == nil || err.Error() != want {
		t.Errorf("WaitStopped on a running node: %v\nwant %s", err, want)
	}

	// An ended context: no check, and says so.
	err = c.WaitStopped(ctx, running, 0)
	if err == nil || !strings.Contains(err.Error(), "last seen: no check completed") {
		t.Errorf("WaitStopped with an ended ctx: %v", err)
	}
}

func TestMajorMinor(t *testing.T) {
	for _, tc := range []struct {
		v     string
		ready bool
		err   bool
	}{
		{"3.3.0", true, false}, {"3.2.2", false, false}, {"2.8.5", false, false}, {"3.10.0", true, false},
		{"4.0.0", true, false}, {"3.6.0.0", true, false}, {"3.4.0-rc1", true, false}, {"3.3", true, false},
		{"3", false, true}, {"x.y.z", false, true}, {"", false, true},
	} {
		ready, err := servesReady(tc.v)
		if ready != tc.ready || (err != nil) != tc.err {
			t.Errorf("servesReady(%q) = %v, %v", tc.v, ready, err)
		}
	}
}
