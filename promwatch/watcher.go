package promwatch

import (
	"context"
	"net/url"
	"slices"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/drawbridge/drawbridge/config"
)

// Defaults of a Watcher.
const (
	DefaultLookback       = 30 * time.Minute // the baseline's lookback
	DefaultScrapeInterval = time.Minute      // Prometheus' own default, when it cannot be measured
)

// Querier is the part of Prometheus' query API the watch uses; client_golang's v1.API
// implements it.
type Querier interface {
	Query(ctx context.Context, query string, ts time.Time, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
	QueryRange(ctx context.Context, query string, r v1.Range, opts ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error)
}

// Watcher reads a cluster's checks from the Prometheus that scrapes it: the checks' values
// on X before the gate (Baseline), whether the series the checks need exist (CheckSeries),
// and the watch of Y, with reports and charts (Watch); the engine's ports for these are
// satisfied in the composition root. The zero value is ready to use.
type Watcher struct {
	Client *Client // queries; nil: a Client with its defaults
	Clock  Clock   // nil: the wall clock
	// Lookback is how far back the baseline looks, ending when it is taken; 0: DefaultLookback.
	// The charts start that far before the watch, too.
	Lookback time.Duration
	// ScrapeInterval is how often Prometheus scrapes the cluster, which sizes the rate window
	// (RateWindow). 0: measured from the spacing of the cluster's up and
	// kong_datastore_reachable samples over the last 3 minutes, else DefaultScrapeInterval.
	ScrapeInterval time.Duration
	// Connect returns the query API of the Prometheus at url; nil: Client's. Tests put a fake
	// Prometheus here.
	Connect func(url string) (Querier, error)
}

// Clock is the watch's time source: tests move time instead of waiting.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (w *Watcher) clock() Clock {
	if w.Clock != nil {
		return w.Clock
	}
	return wallClock{}
}

func (w *Watcher) client() *Client {
	if w.Client != nil {
		return w.Client
	}
	return &Client{}
}

// lookback is the cluster's watch.baseline_lookback, else the Watcher's, else the default.
func (w *Watcher) lookback(c *config.Cluster) time.Duration {
	switch {
	case c != nil && c.Watch.BaselineLookback > 0:
		return c.Watch.BaselineLookback.D()
	case w.Lookback > 0:
		return w.Lookback
	}
	return DefaultLookback
}

func (w *Watcher) querier(c *config.Cluster) (Querier, error) {
	if w.Connect != nil {
		return w.Connect(c.Prometheus.URL)
	}
	return w.client().api(c.Prometheus.URL)
}

// query runs an instant query with the client's timeout, capped at limit when it is set.
func (w *Watcher) query(ctx context.Context, q Querier, expr string, ts time.Time, limit time.Duration) Outcome {
	ctx, cancel := context.WithTimeout(ctx, w.queryTimeout(limit))
	defer cancel()
	v, _, _, err := q.Query(ctx, expr, ts)
	return Outcome{Value: v, Err: err}
}

func (w *Watcher) queryRange(ctx context.Context, q Querier, expr string, r v1.Range) (model.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, w.queryTimeout(0))
	defer cancel()
	v, _, _, err := q.QueryRange(ctx, expr, r)
	return v, err
}

func (w *Watcher) queryTimeout(limit time.Duration) time.Duration {
	t := w.client().timeout()
	if limit > 0 {
		t = min(t, limit)
	}
	return t
}

// window sizes the rate window of the built-in checks for a cluster: RateWindow of the scrape
// interval (configured or measured) and the watch interval.
func (w *Watcher) window(ctx context.Context, q Querier, c *config.Cluster, now time.Time) (window, scrape time.Duration) {
	scrape = c.Prometheus.ScrapeInterval.D()
	if scrape <= 0 {
		scrape = w.ScrapeInterval
	}
	if scrape <= 0 {
		scrape = w.measureScrape(ctx, q, c.Prometheus.Selector, now)
	}
	return RateWindow(scrape, c.Watch.Interval.D()), scrape
}

// measureScrape is the median spacing of the cluster's up and kong_datastore_reachable
// samples over the last 3 minutes (up is written on every scrape, even a failed one).
func (w *Watcher) measureScrape(ctx context.Context, q Querier, selector string, now time.Time) time.Duration {
	out := w.query(ctx, q, matchers(selector, `__name__=~"up|kong_datastore_reachable"`)+"[3m]", now, 0)
	m, ok := out.Value.(model.Matrix)
	if out.Err != nil || !ok {
		return DefaultScrapeInterval
	}
	var gaps []time.Duration
	for _, s := range m {
		for i := 1; i < len(s.Values); i++ {
			gaps = append(gaps, s.Values[i].Timestamp.Sub(s.Values[i-1].Timestamp))
		}
	}
	if len(gaps) == 0 {
		return DefaultScrapeInterval
	}
	slices.Sort(gaps)
	return max(gaps[len(gaps)/2].Round(100*time.Millisecond), 100*time.Millisecond)
}

// redact hides the password of a URL (http://user:xxxxx@prometheus:9090) for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
