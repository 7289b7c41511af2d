package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// slackDeadline is how long Slack waits for the answer to a slash command or a click
// before it shows the user an error and retries.
const slackDeadline = 3 * time.Second

// slowClient is a connection that sends a request one byte at a time, the way a
// slowloris attack holds a server's connections; cut is closed when the server closes
// the connection.
type slowClient struct {
	conn net.Conn
	cut  chan struct{}
}

// dialSlow connects to addr, sends head at once and then rest one byte every interval,
// until the server closes the connection or the test ends.
func dialSlow(t *testing.T, addr, head, rest string, interval time.Duration) *slowClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &slowClient{conn: conn, cut: make(chan struct{})}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	t.Cleanup(func() {
		close(stop)
		_ = conn.Close()
		wg.Wait()
	})
	go func() { // whatever the server answers (nothing, or a 4xx), it ends with EOF
		defer wg.Done()
		_, _ = io.Copy(io.Discard, conn)
		close(c.cut)
	}()
	go func() {
		defer wg.Done()
		if _, err := io.WriteString(conn, head); err != nil {
			return
		}
		for i := range len(rest) {
			if _, err := io.WriteString(conn, rest[i:i+1]); err != nil {
				return
			}
			select {
			case <-time.After(interval):
			case <-c.cut:
				return
			case <-stop:
				return
			}
		}
	}()
	return c
}

// signedCommand sends "/kong-upgrade text" to the server at addr on a new connection,
// signed with serveEnv's signing secret as Slack signs it, and returns the status, the
// body and how long the answer took; err if there was none within timeout.
func signedCommand(t *testing.T, addr, text string, timeout time.Duration) (code int, body string, took time.Duration, err error) {
	t.Helper()
	form := url.Values{"team_id": {"T1"}, "channel_id": {"C0123456789"}, "user_id": {"U0AAAAAAA"},
		"user_name": {"olivia"}, "command": {"/kong-upgrade"}, "text": {text},
		"response_url": {"http://127.0.0.1:1/response"}, "trigger_id": {fmt.Sprintf("%d.1.2", time.Now().UnixNano())}}.Encode()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/slack/commands", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte("test-signing-secret"))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, form)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: timeout}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", time.Since(start), fmt.Errorf("slash command: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", time.Since(start), fmt.Errorf("read the answer to the slash command: %w", err)
	}
	return resp.StatusCode, string(b), time.Since(start), nil
}

// TestServeNotStarvedBySlowClients holds 200 connections open the way slowloris does,
// half trickling the request line and headers, half sending headers and trickling the
// body, and measures a real signed slash command meanwhile: Slack must get its answer
// within its three seconds. Then every slow client must be cut off by the server, so
// that none holds a connection slot for long.
func TestServeNotStarvedBySlowClients(t *testing.T) {
	s := startServe(t, writeConfig(t, t.TempDir()))

	const slow = 200
	headers := "POST /slack/commands HTTP/1.1\r\nHost: drawbridge\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\n"
	clients := make([]*slowClient, 0, slow)
	for i := range slow {
		if i%2 == 0 {
			clients = append(clients, dialSlow(t, s.addr, "P", headers[1:], 2*time.Second))
		} else {
			clients = append(clients, dialSlow(t, s.addr, headers, strings.Repeat("a", 4096), 2*time.Second))
		}
	}

	code, body, took, err := signedCommand(t, s.addr, "help", 30*time.Second)
	if err != nil {
		t.Fatalf("after %s: %v", took, err)
	}
	t.Logf("the slash command was answered in %s with %d slow clients connected", took.Round(time.Millisecond), slow)
	if code != http.StatusOK || !strings.Contains(body, "/kong-upgrade") {
		t.Fatalf("slash command answered %d: %s", code, body)
	}
	if took >= slackDeadline {
		t.Errorf("slash command took %s with %d slow clients connected; Slack gives up after %s", took, slow, slackDeadline)
	}

	// Each is cut off by ReadHeaderTimeout or ReadTimeout, counted from its connection.
	waitCut(t, clients, serveReadTimeout+5*time.Second)
}

// waitCut waits for the server to close every client's connection, failing the test
// if some are still open after within.
func waitCut(t *testing.T, clients []*slowClient, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for i, c := range clients {
		select {
		case <-c.cut:
		case <-deadline:
			open := 0
			for _, c := range clients[i:] {
				select {
				case <-c.cut:
				default:
					open++
				}
			}
			t.Fatalf("%d of %d slow clients still connected after %s", open, len(clients), within)
		}
	}
}

// TestServeCapsConnections fills every connection slot with clients that send nothing:
// a slash command then waits for a slot, and is answered once the server has cut them
// off for not sending their headers in time.
func TestServeCapsConnections(t *testing.T) {
	s := startServe(t, writeConfig(t, t.TempDir()))

	clients := make([]*slowClient, 0, serveMaxConnections)
	for range serveMaxConnections {
		clients = append(clients, dialSlow(t, s.addr, "", "", 0))
	}
	code, _, took, err := signedCommand(t, s.addr, "help", time.Second)
	if err == nil {
		for _, c := range clients {
			select {
			case <-c.cut:
				t.Skipf("inconclusive: a slot was free again %s after the last client connected (answered %d)", took, code)
			default:
			}
		}
		t.Fatalf("slash command answered %d in %s while %d connections were open; want it to wait for a slot",
			code, took, serveMaxConnections)
	}
	if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
		t.Fatalf("while every slot was held: %v; want the request to wait", err)
	}
	t.Logf("while every slot was held: %v", err)

	waitCut(t, clients, serveReadHeaderTimeout+5*time.Second)
	code, body, took, err := signedCommand(t, s.addr, "help", 30*time.Second)
	if err != nil {
		t.Fatalf("after the slots were freed, after %s: %v", took, err)
	}
	if code != http.StatusOK || !strings.Contains(body, "/kong-upgrade") {
		t.Fatalf("slash command answered %d: %s", code, body)
	}
	if took >= slackDeadline {
		t.Errorf("slash command took %s once the slots were free; Slack gives up after %s", took, slackDeadline)
	}
}
