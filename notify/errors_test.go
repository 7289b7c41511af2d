package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/drawbridge/drawbridge/internal/slackfake"
)

func TestClassify(t *testing.T) {
	var syntax *json.SyntaxError
	if err := json.Unmarshal([]byte("<html>"), &struct{}{}); !errors.As(err, &syntax) {
		t.Fatalf("no syntax error from %v", err)
	}
	post := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://slack.com/api/chat.postMessage", Err: err}
	}
	tests := []struct {
		name       string
		err        error
		class      Class
		code       string
		retryAfter time.Duration
		maybeSent  bool
	}{
		{"429 with Retry-After", &slack.RateLimitedError{RetryAfter: 2 * time.Second}, RateLimited, "rate_limited", 2 * time.Second, false},
		{"wrapped 429 (upload step)", fmt.Errorf("GetUploadURLExternal: %w", &slack.RateLimitedError{RetryAfter: time.Second}), RateLimited, "rate_limited", time.Second, false},
		{"429 with Retry-After 0", &slack.RateLimitedError{}, Transient, "rate_limited", 0, false},
		{"429 without Retry-After", slack.StatusCodeError{Code: 429, Status: "429 Too Many Requests"}, Transient, "rate_limited", 0, false},
		{"503", slack.StatusCodeError{Code: 503, Status: "503 Service Unavailable"}, Transient, "http_503", 0, true},
		{"404", slack.StatusCodeError{Code: 404, Status: "404 Not Found"}, Permanent, "http_404", 0, false},
		{"channel_not_found", slack.SlackErrorResponse{Err: "channel_not_found"}, Permanent, "channel_not_found", 0, false},
		{"not_in_channel", slack.SlackErrorResponse{Err: "not_in_channel"}, Permanent, "not_in_channel", 0, false},
		{"invalid_auth", slack.SlackErrorResponse{Err: "invalid_auth"}, Permanent, "invalid_auth", 0, false},
		{"msg_too_long", slack.SlackErrorResponse{Err: "msg_too_long"}, Permanent, "msg_too_long", 0, false},
		{"internal_error", slack.SlackErrorResponse{Err: "internal_error"}, Transient, "internal_error", 0, true},
		{"ratelimited in the body", slack.SlackErrorResponse{Err: "ratelimited"}, Transient, "ratelimited", 0, false},
		{"unknown Slack code", slack.SlackErrorResponse{Err: "brand_new_error"}, Permanent, "other", 0, false},
		{"deadline", context.DeadlineExceeded, Transient, "timeout", 0, true},
		{"canceled", post(context.Canceled), Transient, "canceled", 0, true},
		{"connection refused", post(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), Transient, "network", 0, false},
		{"DNS", post(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "slack.com"}}), Transient, "network", 0, false},
		{"connection reset after sending", post(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), Transient, "network", 0, true},
		{"EOF", post(io.EOF), Transient, "network", 0, true},
		{"HTML instead of JSON", syntax, Transient, "bad_response", 0, true},
		{"slack-go refuses its arguments", errors.New("file.upload.v2: file size cannot be 0"), Permanent, "other", 0, false},
		{"already classified", &Error{Class: RateLimited, Code: "rate_limited", RetryAfter: time.Minute}, RateLimited, "rate_limited", time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Classify(tt.err)
			if e == nil || e.Class != tt.class || e.Code != tt.code || e.RetryAfter != tt.retryAfter || e.MaybeSent != tt.maybeSent {
				t.Errorf("Classify = %+v, want %s %s retry %s maybe-sent %v", e, tt.class, tt.code, tt.retryAfter, tt.maybeSent)
			}
			if e != nil && (e.Err == nil || e.Unwrap().Error() != tt.err.Error()) && tt.name != "already classified" {
				t.Errorf("the classified error does not wrap the original")
			}
		})
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil) is not nil")
	}
}

// The adapter classifies what slack-go's real client returns.
func TestSlackAdapterClassifies(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name  string
		fault slackfake.Fault
		class Class
		code  string
	}{
		{"429 with Retry-After", slackfake.RateLimited(3), RateLimited, "rate_limited"},
		{"429 without Retry-After", slackfake.RateLimited(0), Transient, "rate_limited"},
		{"500", slackfake.Fault{Status: 500}, Transient, "http_500"},
		{"not_in_channel", slackfake.Fault{Error: "not_in_channel"}, Permanent, "not_in_channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := slackfake.New(slackfake.Options{Fault: func(slackfake.Call) slackfake.Fault { return tt.fault }})
			defer fake.Close()
			s := NewSlack(slack.New(fake.Token(), slack.OptionAPIURL(fake.URL())))
			check := func(what string, err error) {
				var e *Error
				if !errors.As(err, &e) || e.Class != tt.class || e.Code != tt.code {
					t.Errorf("%s: error = %#v, want %s %s", what, err, tt.class, tt.code)
				}
			}
			_, err := s.PostMessage(ctx, "C1", "", text("x"))
			check("post", err)
			check("update", s.UpdateMessage(ctx, "C1", "1.000100", text("x")))
			check("ephemeral", s.PostEphemeral(ctx, "C1", "U1", text("x")))
			_, err = s.UploadFile(ctx, "C1", "", File{Name: "a.png", Data: []byte("png")})
			check("upload", err)
		})
	}
	t.Run("server gone", func(t *testing.T) {
		fake := slackfake.New(slackfake.Options{})
		url := fake.URL()
		fake.Close()
		_, err := NewSlack(slack.New(fake.Token(), slack.OptionAPIURL(url))).PostMessage(ctx, "C1", "", text("x"))
		var e *Error
		if !errors.As(err, &e) || e.Class != Transient || e.Code != "network" || e.MaybeSent {
			t.Errorf("post to a closed port = %#v, want transient network, not sent", err)
		}
	})
	t.Run("ok", func(t *testing.T) {
		fake := slackfake.New(slackfake.Options{})
		defer fake.Close()
		s := NewSlack(slack.New(fake.Token(), slack.OptionAPIURL(fake.URL())))
		ts, err := s.PostMessage(ctx, "C1", "", Message{Text: "x", Key: "run/1/status"})
		if err != nil || ts == "" {
			t.Fatalf("post = %q, %v", ts, err)
		}
		got, found, err := s.(Finder).FindPosted(ctx, "C1", "", "run/1/status")
		if err != nil || !found || got != ts {
			t.Errorf("FindPosted = %q %v %v, want %q", got, found, err, ts)
		}
		if _, found, _ := s.(Finder).FindPosted(ctx, "C1", "", "run/2/status"); found {
			t.Error("FindPosted found a key never posted")
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 100: 5 * time.Minute} {
		for range 20 {
			if got := DefaultBackoff(attempt); got < want/2 || got > want {
				t.Errorf("DefaultBackoff(%d) = %s, want between %s and %s", attempt, got, want/2, want)
			}
		}
	}
}
