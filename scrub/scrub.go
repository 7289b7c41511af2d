// Package scrub removes known secret values — Slack tokens, the signing secret, database
// passwords — from text before drawbridge stores, logs or sends it: command output, errors,
// audit entries, Slack messages. It imports nothing of drawbridge's.
package scrub

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// MinLen is the shortest value scrubbed: a shorter "secret" (a two-letter test password)
// would blank out ordinary words, so it is not looked for.
const MinLen = 4

// Redacted replaces a secret.
const Redacted = "[redacted]"

// Scrubber replaces known secret values. The zero value and nil scrub nothing.
type Scrubber struct {
	r *strings.Replacer
}

// New returns a Scrubber for values, each also in the forms it takes inside JSON strings
// and URLs (a password in a postgres:// URL is percent-encoded).
func New(values ...string) *Scrubber {
	var forms []string
	for _, v := range values {
		if len(v) < MinLen {
			continue
		}
		b, _ := json.Marshal(v)
		forms = append(forms, v, strings.Trim(string(b), `"`), url.QueryEscape(v), url.PathEscape(v))
	}
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) }) // longest first
	forms = slices.Compact(forms)
	if len(forms) == 0 {
		return &Scrubber{}
	}
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Redacted)
	}
	return &Scrubber{r: strings.NewReplacer(pairs...)}
}

// String returns t with every secret replaced.
func (s *Scrubber) String(t string) string {
	if s == nil || s.r == nil {
		return t
	}
	return s.r.Replace(t)
}

// Bytes is String for bytes; b itself is never changed.
func (s *Scrubber) Bytes(b []byte) []byte {
	if s == nil || s.r == nil {
		return b
	}
	return []byte(s.r.Replace(string(b)))
}

// Handler wraps h so that no log record carries a secret: its message and every string,
// error and stringer attribute are scrubbed.
func (s *Scrubber) Handler(h slog.Handler) slog.Handler {
	if s == nil || s.r == nil {
		return h
	}
	return &handler{next: h, s: s}
}

type handler struct {
	next slog.Handler
	s    *Scrubber
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.s.String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = h.attr(a)
	}
	return &handler{next: h.next.WithAttrs(clean), s: h.s}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), s: h.s}
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.s.String(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]any, len(g))
		for i, ga := range g {
			clean[i] = h.attr(ga)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.s.String(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, h.s.String(x.String()))
		case []string:
			clean := make([]string, len(x))
			for i, e := range x {
				clean[i] = h.s.String(e)
			}
			return slog.Any(a.Key, clean)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
