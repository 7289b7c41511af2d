package main

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// pinger proves the state store can do its work (open, readable, its last write
// committed) without writing to it for every call.
type pinger interface {
	Ping(ctx context.Context) error
}

// health serves /healthz (the process answers) and /readyz (it can do its work: the
// state store is open, reads back and takes writes, and it is not shutting down).
// Both are cheap enough for probes and for anyone who can reach the port: /readyz
// reads the state file and writes nothing while writes succeed.
type health struct {
	store    pinger
	stopping atomic.Bool
}

func (h *health) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (h *health) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if h.stopping.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		http.Error(w, "state store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
