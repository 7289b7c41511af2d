package adminapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/kong"
)

// DefaultInterval is the polling interval of WaitStopped and WaitReady when theirs is not
// positive.
const DefaultInterval = 500 * time.Millisecond

// Stopped reports whether a node is stopped: true when its Admin API refuses connections
// (nothing listens), false when it answers anything at all. Any other failure is an
// error: a node that does not answer in time is hung, not stopped.
func (c *Client) Stopped(ctx context.Context, n config.Node) (bool, error) {
	// GET / rather than /status: /status probes the database and may be slow when the
	// database is, which has nothing to do with whether the node is up.
	_, err := c.get(ctx, nodeName(n), n.AdminURL, "/")
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, ErrRefused):
		return true, nil
	default:
		return false, err
	}
}

// WaitStopped polls Stopped every interval until the node is stopped or ctx ends. The
// error then says what was last seen ("still answers at …", "GET …: no answer within
// 2s") and wraps ctx's error and the last request error.
func (c *Client) WaitStopped(ctx context.Context, n config.Node, interval time.Duration) error {
	last, lastErr, err := poll(ctx, interval, func() (bool, string, error) {
		stopped, err := c.Stopped(ctx, n)
		switch {
		case err != nil:
			return false, describe(err), err
		case stopped:
			return true, "", nil
		default:
			return false, "still answers at " + scrub(n.AdminURL), nil
		}
	})
	if err != nil {
		return waitError(nodeName(n), "not stopped", last, lastErr, err)
	}
	return nil
}

// WaitReady polls Report every interval until the node answers version (exactly as its
// GET / says it), its database is reachable and it is ready, or ctx ends. It returns the
// node's info; on error, the last info it answered in full, and an error saying what was
// last seen ("answers 3.4.2, want 3.5.0", "GET …: connection refused", "not ready:
// failed to connect to database") that wraps ctx's error and the last request error.
func (c *Client) WaitReady(ctx context.Context, n config.Node, version string, interval time.Duration) (kong.NodeInfo, error) {
	info := kong.NodeInfo{Name: n.Name}
	last, lastErr, err := poll(ctx, interval, func() (bool, string, error) {
		r, err := c.Report(ctx, n)
		if err != nil {
			return false, describe(err), err
		}
		info = r.NodeInfo
		switch {
		case r.Version != version:
			return false, fmt.Sprintf("answers %s, want %s", r.Version, version), nil
		case !r.Ready:
			return false, "not ready: " + r.NotReady, nil
		case !r.DBReachable:
			return false, "not ready: database unreachable", nil
		}
		return true, "", nil
	})
	if err != nil {
		return info, waitError(nodeName(n), "not ready with "+version, last, lastErr, err)
	}
	return info, nil
}

// poll calls check at once and then every interval until it reports done or ctx ends.
// It returns what check last saw before ctx ended and ctx's error.
func poll(ctx context.Context, interval time.Duration, check func() (done bool, last string, lastErr error)) (string, error, error) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last, lastErr := "no check completed", error(nil)
	for {
		if err := ctx.Err(); err != nil {
			return last, lastErr, err
		}
		done, seen, seenErr := check()
		if done {
			return "", nil, nil
		}
		if ctx.Err() == nil { // a check cut short by ctx saw nothing about the node
			last, lastErr = seen, seenErr
		}
		select {
		case <-ctx.Done():
			return last, lastErr, ctx.Err()
		case <-t.C:
		}
	}
}

// describe is an error without the node's name, which the wait error already carries.
func describe(err error) string {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Request()
	}
	return err.Error()
}

// WaitError is a wait that ended (ctx's deadline or cancellation) before the node got
// where it was waited for.
type WaitError struct {
	Node    string
	Want    string // "not stopped", "not ready with 3.5.0"
	Last    string // what was last seen: "answers 3.4.2, want 3.5.0", "GET …: connection refused"
	LastErr error  // the last check's error when it failed, else nil
	Err     error  // ctx's error
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("%s: %s (%v); last seen: %s", e.Node, e.Want, e.Err, e.Last)
}

// Unwrap gives ctx's error and the last check's error, for errors.Is and errors.As.
func (e *WaitError) Unwrap() []error {
	if e.LastErr == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.LastErr}
}

func waitError(node, want, last string, lastErr, ctxErr error) error {
	return &WaitError{Node: node, Want: want, Last: last, LastErr: lastErr, Err: ctxErr}
}
