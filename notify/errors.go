package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/slack-go/slack"
)

// Class says what to do about a failed Slack call.
type Class string

// Classes of failure.
const (
	// Transient: try again after a backoff (5xx, network, a 429 without
	// Retry-After, Slack's own internal errors).
	Transient Class = "transient"
	// RateLimited: try again after Error.RetryAfter, as Slack's 429 asks.
	RateLimited Class = "rate_limited"
	// Permanent: trying again cannot help (channel_not_found, invalid_auth,
	// msg_too_long, …); the message becomes a dead letter.
	Permanent Class = "permanent"
)

// Error is a failed Slack call, classified where it happened (NewSlack's
// adapter). Code is low-cardinality, fit for a metric label: Slack's error
// code when it is a known one, "rate_limited", "http_<status>", "network",
// "timeout", "bad_response", or "other".
type Error struct {
	Class      Class
	Code       string
	RetryAfter time.Duration // for RateLimited
	// MaybeSent: Slack may have acted on the request although the answer
	// was lost (a timeout, a connection cut after the request was sent, a 5xx).
	MaybeSent bool
	Err       error
}

func (e *Error) Error() string {
	if e.Class == RateLimited {
		return fmt.Sprintf("slack: %s, retry after %s: %v", e.Code, e.RetryAfter, e.Err)
	}
	return fmt.Sprintf("slack: %s (%s): %v", e.Code, e.Class, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// slackCodes are Slack error codes known to drawbridge, with their class.
// Any other code is counted as "other" and treated as permanent.
var slackCodes = map[string]Class{
	// Slack's side: worth another try.
	"internal_error": Transient, "fatal_error": Transient, "service_unavailable": Transient,
	"request_timeout": Transient, "ratelimited": Transient, "rate_limited": Transient,
	"team_added_to_org": Transient,
	// Ours: the same call fails the same way.
	"channel_not_found": Permanent, "not_in_channel": Permanent, "is_archived": Permanent,
	"invalid_auth": Permanent, "not_authed": Permanent, "account_inactive": Permanent,
	"token_revoked": Permanent, "token_expired": Permanent, "no_permission": Permanent,
	"missing_scope": Permanent, "not_allowed_token_type": Permanent, "access_denied": Permanent,
	"msg_too_long": Permanent, "no_text": Permanent, "invalid_blocks": Permanent,
	"invalid_blocks_format": Permanent, "too_many_attachments": Permanent,
	"cant_update_message": Permanent, "message_not_found": Permanent, "edit_window_closed": Permanent,
	"user_not_in_channel": Permanent, "user_not_found": Permanent, "thread_not_found": Permanent,
	"restricted_action": Permanent, "restricted_action_read_only_channel": Permanent,
	"restricted_action_thread_only_channel": Permanent, "restricted_action_non_threadable_channel": Permanent,
	"invalid_arguments": Permanent, "invalid_form_data": Permanent, "invalid_charset": Permanent,
	"invalid_metadata_format": Permanent, "invalid_metadata_schema": Permanent, "metadata_too_large": Permanent,
	"file_not_found": Permanent, "ekm_access_denied": Permanent, "team_access_not_granted": Permanent,
	"method_deprecated": Permanent, "unknown_method": Permanent, "no_such_subteam": Permanent,
	"plan_upgrade_required": Permanent, "invalid_trigger_id": Permanent, "expired_trigger_id": Permanent,
}

// maybeSentCodes are Slack's errors after which part of the work may be done.
var maybeSentCodes = map[string]bool{"internal_error": true, "fatal_error": true}

// Classify turns an error from slack-go into an *Error (nil stays nil; an
// *Error is returned as it is).
//
//	*slack.RateLimitedError (429 with Retry-After)   RateLimited  rate_limited
//	StatusCodeError 429 (no Retry-After)             Transient    rate_limited
//	StatusCodeError 5xx, 408                         Transient    http_<code>, maybe sent
//	StatusCodeError other                            Permanent    http_<code>
//	SlackErrorResponse (ok:false)                    per slackCodes; unknown codes Permanent "other"
//	context deadline, net timeout                    Transient    timeout, maybe sent
//	dial errors, DNS, connection refused             Transient    network
//	other transport errors (reset, EOF)              Transient    network, maybe sent
//	undecodable answer                               Transient    bad_response, maybe sent
//	context canceled                                 Transient    canceled, maybe sent
//	anything else (slack-go refusing its arguments)  Permanent    other
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	mk := func(c Class, code string, maybe bool) *Error {
		return &Error{Class: c, Code: code, MaybeSent: maybe, Err: err}
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		if rl.RetryAfter <= 0 {
			return mk(Transient, "rate_limited", false)
		}
		e := mk(RateLimited, "rate_limited", false)
		e.RetryAfter = rl.RetryAfter
		return e
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		code := "http_" + strconv.Itoa(sc.Code)
		switch {
		case sc.Code == 429:
			return mk(Transient, "rate_limited", false)
		case sc.Code >= 500 || sc.Code == 408:
			return mk(Transient, code, true)
		}
		return mk(Permanent, code, false)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		class, known := slackCodes[se.Err]
		if !known {
			return mk(Permanent, "other", false)
		}
		return mk(class, se.Err, maybeSentCodes[se.Err])
	}
	return classifyTransport(err, mk)
}

func classifyTransport(err error, mk func(Class, string, bool) *Error) *Error {
	var (
		ne  net.Error
		op  *net.OpError
		dns *net.DNSError
		ue  *url.Error
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
		nu  *strconv.NumError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return mk(Transient, "canceled", true)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return mk(Transient, "timeout", true)
	case errors.As(err, &dns), errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &op) && op.Op == "dial":
		return mk(Transient, "network", false) // never reached Slack
	case errors.As(err, &ue), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return mk(Transient, "network", true)
	case errors.As(err, &se), errors.As(err, &te), errors.As(err, &nu):
		return mk(Transient, "bad_response", true)
	}
	return mk(Permanent, "other", false)
}
