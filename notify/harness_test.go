package notify

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/internal/slackfake"
	"github.com/drawbridge/drawbridge/storage"
)

// speed is how much faster than real time the tests' clock runs: Slack's
// Retry-After of 1 s is waited for in 10 ms, and the store stamps the same
// fast time, so NotBefore and the give-up age stay consistent.
const speed = 100

// fastClock runs speed times faster than real time from a fixed start.
type fastClock struct {
	start time.Time
	real  time.Time
}

func newFastClock() *fastClock {
	return &fastClock{start: time.Date(2024, 11, 25, 22, 0, 0, 0, time.UTC), real: time.Now()}
}

func (c *fastClock) Now() time.Time {
	return c.start.Add(time.Since(c.real) * speed)
}

func (c *fastClock) After(d time.Duration) <-chan time.Time { return time.After(d / speed) }

// harness is a Deliverer on a real bbolt file, talking over HTTP with
// slack-go's client to the fake Slack.
type harness struct {
	t     *testing.T
	path  string
	fake  *slackfake.Server
	api   *slack.Client
	reg   *prometheus.Registry
	clock *fastClock

	mu    sync.Mutex
	store *storage.Store
	d     *Deliverer
	stop  func()
}

func newHarness(t *testing.T, opts slackfake.Options) *harness {
	t.Helper()
	fake := slackfake.New(opts)
	t.Cleanup(fake.Close)
	h := &harness{
		t: t, path: filepath.Join(t.TempDir(), "drawbridge.db"), fake: fake,
		api: slack.New(fake.Token(), slack.OptionAPIURL(fake.URL())),
		reg: prometheus.NewRegistry(), clock: newFastClock(),
	}
	h.open()
	t.Cleanup(func() {
		h.stopDeliverer()
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := h.store.Close(); err != nil {
			t.Error(err)
		}
	})
	return h
}

func (h *harness) open() {
	s, err := storage.Open(h.path, storage.Options{NoSync: true, Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.store = s
	h.mu.Unlock()
}

// start runs a Deliverer with the given Slack (nil: slack-go's client
// through NewSlack).
func (h *harness) start(s Slack, configure ...func(*Deliverer)) *Deliverer {
	h.t.Helper()
	if s == nil {
		s = NewSlack(h.api)
	}
	d := &Deliverer{
		Store: h.store, Slack: s, Metrics: h.reg, Clock: h.clock,
		Log:     slog.New(slog.NewTextHandler(h.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Backoff: func(int) time.Duration { return 500 * time.Millisecond }, // 5 ms real
	}
	for _, f := range configure {
		f(d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	h.mu.Lock()
	h.d, h.stop = d, func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Deliverer.Run = %v", err)
		}
	}
	h.mu.Unlock()
	d.Kick()
	return d
}

func (h *harness) stopDeliverer() {
	h.mu.Lock()
	stop := h.stop
	h.stop, h.d = nil, nil
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// restart stops the Deliverer, closes the state file, opens it again and
// starts a new Deliverer on it, as a restarted drawbridge would.
func (h *harness) restart(s Slack) {
	h.t.Helper()
	h.stopDeliverer()
	h.mu.Lock()
	err := h.store.Close()
	h.mu.Unlock()
	if err != nil {
		h.t.Fatal(err)
	}
	h.open()
	h.start(s)
}

func (h *harness) kick() {
	h.mu.Lock()
	d := h.d
	h.mu.Unlock()
	if d != nil {
		d.Kick()
	}
}

func (h *harness) outbox(channel string) *Outbox {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &Outbox{Store: h.store, Channel: channel, Kick: h.kick}
}

// wait blocks until pred holds, woken by every call the fake answers.
func (h *harness) wait(what string, pred func() bool) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), 20*time.Second)
	defer cancel()
	if err := h.fake.WaitFor(ctx, pred); err != nil {
		h.t.Fatalf("waiting for %s: %v\ncalls:\n%s", what, err, h.callLog())
	}
}

// drained waits until the outbox is empty (polling the store: its changes
// do not wake the fake), then stops the Deliverer.
func (h *harness) drained() {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pending, err := h.store.PendingOutbox(h.t.Context(), 0)
		if err != nil {
			h.t.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d messages still pending: %+v\ncalls:\n%s", len(pending), pending, h.callLog())
		}
		time.Sleep(2 * time.Millisecond)
	}
	h.stopDeliverer()
}

func (h *harness) dead() []storage.OutboxMessage {
	h.t.Helper()
	dl, err := h.store.DeadLetters(h.t.Context(), 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return dl
}

func (h *harness) callLog() string {
	var b strings.Builder
	for _, c := range h.fake.Calls() {
		fmt.Fprintf(&b, "  %d %s %q thread=%q ts=%q -> %d %s\n", c.Seq, c.Method, c.Params.Get("text"),
			c.Params.Get("thread_ts"), c.Params.Get("ts"), c.Status, c.Error)
	}
	return b.String()
}

// okTexts returns the text of every successful call to method, in order.
func (h *harness) okTexts(method string) []string {
	var out []string
	for _, c := range h.fake.CallsTo(method) {
		if c.OK() {
			out = append(out, c.Params.Get("text"))
		}
	}
	return out
}

// metric reads one sample from the harness's registry (0 if absent).
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// text is a one-section message.
func text(s string) Message {
	return Message{Text: s, Blocks: []slack.Block{section("b", s)}}
}
