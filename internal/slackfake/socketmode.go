package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// socketPath is where apps.connections.open sends Socket Mode clients.
const socketPath = "/socket"

// socketState is the Socket Mode side of the fake: one connected app at a time.
type socketState struct {
	mu      sync.Mutex
	conn    *websocket.Conn
	seq     int
	waiting map[string]chan json.RawMessage // envelope_id → its ack's payload
	ready   chan struct{}                   // closed once a client is connected
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// openConnection answers apps.connections.open, which takes the app-level token.
func (s *Server) openConnection(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		_ = r.ParseForm()
		tok = r.Form.Get("token")
	}
	ans := map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.srv.URL, "http") + socketPath}
	if s.appToken == "" || tok != s.appToken {
		ans = map[string]any{"ok": false, "error": "invalid_auth"}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ans)
}

// serveSocket runs one Socket Mode connection: hello, then it relays acks.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	st := &s.socket
	st.mu.Lock()
	if st.conn != nil {
		st.conn.Close()
	}
	st.conn = conn
	if st.waiting == nil {
		st.waiting = map[string]chan json.RawMessage{}
	}
	err = conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A0DRAWBRIDGE"}, "debug_info": map[string]any{"host": "slackfake"}})
	if st.ready == nil {
		st.ready = make(chan struct{})
	}
	select {
	case <-st.ready:
	default:
		close(st.ready)
	}
	st.mu.Unlock()
	if err != nil {
		return
	}
	for {
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if err := conn.ReadJSON(&ack); err != nil {
			return
		}
		st.mu.Lock()
		ch := st.waiting[ack.EnvelopeID]
		delete(st.waiting, ack.EnvelopeID)
		st.mu.Unlock()
		if ch != nil {
			ch <- ack.Payload
		}
	}
}

// WaitSocket waits until a Socket Mode client has connected.
func (s *Server) WaitSocket(ctx context.Context) error {
	st := &s.socket
	st.mu.Lock()
	if st.ready == nil {
		st.ready = make(chan struct{})
	}
	ready := st.ready
	st.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no Socket Mode client connected: %w", ctx.Err())
	}
}

// SocketRequest sends an envelope of type typ ("slash_commands", "interactive") with
// payload to the connected app and returns the payload of its ack.
func (s *Server) SocketRequest(ctx context.Context, typ string, payload any) (json.RawMessage, error) {
	if err := s.WaitSocket(ctx); err != nil {
		return nil, err
	}
	st := &s.socket
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	st.seq++
	id := fmt.Sprintf("env-%d", st.seq)
	ch := make(chan json.RawMessage, 1)
	st.waiting[id] = ch
	conn := st.conn
	err = conn.WriteJSON(map[string]any{"envelope_id": id, "type": typ, "payload": json.RawMessage(body), "accepts_response_payload": true})
	st.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case p := <-ch:
		return p, nil
	case <-ctx.Done():
		return nil, errors.New("no ack for envelope " + id)
	}
}
