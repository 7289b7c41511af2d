package testsvc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Sample is one element of an instant query result.
type Sample struct {
	Metric map[string]string // labels, including __name__; empty for a scalar result
	Value  float64
	Time   time.Time
}

// API returns a client_golang query client for this server.
func (p *Prometheus) API() (v1.API, error) {
	c, err := api.NewClient(api.Config{Address: p.URL(), Client: p.client})
	if err != nil {
		return nil, fmt.Errorf("testsvc: prometheus client: %w", err)
	}
	return v1.NewAPI(c), nil
}

// Query evaluates promql now and returns the samples of a vector result (one sample for a
// scalar). A PromQL error names the API error type (e.g. "bad_data"); a dead or paused server
// gives the transport error or ctx's.
func (p *Prometheus) Query(ctx context.Context, promql string) ([]Sample, error) {
	a, err := p.API()
	if err != nil {
		return nil, err
	}
	val, _, _, err := a.Query(ctx, promql, time.Now())
	if err != nil {
		return nil, fmt.Errorf("testsvc: query %q: %w", promql, err)
	}
	samples, err := toSamples(val)
	if err != nil {
		return nil, fmt.Errorf("testsvc: query %q: %w", promql, err)
	}
	return samples, nil
}

// WaitForSeries polls Query until promql returns at least one sample and returns them. Without a
// deadline on ctx it gives up after 30 s; the error then includes the last query error.
func (p *Prometheus) WaitForSeries(ctx context.Context, promql string) ([]Sample, error) {
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	var samples []Sample
	err := poll(ctx, 200*time.Millisecond, func() error { return nil }, func(ctx context.Context) error {
		var err error
		samples, err = p.Query(ctx, promql)
		if err == nil && len(samples) == 0 {
			err = errors.New("empty result")
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("testsvc: wait for series %q: %w", promql, err)
	}
	return samples, nil
}

func toSamples(val model.Value) ([]Sample, error) {
	switch v := val.(type) {
	case model.Vector:
		out := make([]Sample, 0, len(v))
		for _, s := range v {
			labels := make(map[string]string, len(s.Metric))
			for k, lv := range s.Metric {
				labels[string(k)] = string(lv)
			}
			out = append(out, Sample{Metric: labels, Value: float64(s.Value), Time: s.Timestamp.Time()})
		}
		return out, nil
	case *model.Scalar:
		return []Sample{{Value: float64(v.Value), Time: v.Timestamp.Time()}}, nil
	default:
		return nil, fmt.Errorf("result type %s not supported (want vector or scalar)", val.Type())
	}
}
