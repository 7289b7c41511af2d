package console

import (
	"fmt"
	"net/http"
	"time"
)

const (
	// eventGap coalesces a burst of changes (a step's reply and the status
	// edit) into one event.
	eventGap = 50 * time.Millisecond
	// keepAlive is how often an idle stream gets a comment line.
	keepAlive = 15 * time.Second
)

// serveEvents is a Server-Sent Events stream: one "data: {"version":N}"
// event when it opens and one after every change to what the page shows
// (slackfake's state, the console's own messages, the switches). The page
// then fetches /api/state.
func (c *Console) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	last := -1
	for {
		// Take both change channels before reading the version: a change in
		// between closes one of them at once.
		slackChanged := c.o.Slack.Changed()
		c.mu.Lock()
		localChanged := c.changed
		c.mu.Unlock()
		if v := c.version(); v != last {
			if _, err := fmt.Fprintf(w, "data: {\"version\":%d}\n\n", v); err != nil || rc.Flush() != nil {
				return
			}
			last = v
		}
		select {
		case <-slackChanged:
		case <-localChanged:
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
			continue
		case <-r.Context().Done():
			return
		case <-c.ctx.Done():
			return
		}
		select {
		case <-time.After(eventGap):
		case <-r.Context().Done():
			return
		case <-c.ctx.Done():
			return
		}
	}
}
