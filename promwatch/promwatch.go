// Package promwatch is drawbridge's view of the Prometheus that scrapes a Kong cluster:
// whether it answers (preflight, Client), and the metric watch around an upgrade (Watcher):
// the checks' baseline on X before the gate, whether the series the checks need exist, and
// the watch of Y every interval, with a live report and a chart per check.
//
// A check's evaluation is a Measurement (pass, fail or inconclusive, with the resolved
// query, the value, the thresholds, the baseline and a trend); only the counting (Tally)
// turns measurements into a breach. The built-in checks (DefaultChecks) know the metric
// names of Kong 2.8 and 3.x, so a baseline taken on 2.8 compares with a watch on 3.x.
// It uses client_golang's api/prometheus/v1 query client and gonum/plot for the charts.
package promwatch

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// Client queries Prometheus servers.
type Client struct {
	HTTP    *http.Client  // default: http.DefaultClient's transport
	Timeout time.Duration // per query; default 5s
}

func (c *Client) api(url string) (v1.API, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	cl, err := api.NewClient(api.Config{Address: url, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", url, err)
	}
	return v1.NewAPI(cl), nil
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 5 * time.Second
}

// Reachable evaluates a trivial query on the server at url.
func (c *Client) Reachable(ctx context.Context, url string) error {
	a, err := c.api(url)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	if _, _, _, err := a.Query(ctx, "vector(1)", time.Now()); err != nil {
		return fmt.Errorf("prometheus %s does not answer: %w", url, err)
	}
	return nil
}
