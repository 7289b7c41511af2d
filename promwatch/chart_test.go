package promwatch

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func series(from time.Time, step time.Duration, vals ...float64) *model.SampleStream {
	s := &model.SampleStream{Metric: model.Metric{}}
	for i, v := range vals {
		s.Values = append(s.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(from.Add(time.Duration(i) * step).UnixNano()), Value: model.SampleValue(v)})
	}
	return s
}

func TestRenderChart(t *testing.T) {
	t.Parallel()
	from := t0.Add(-time.Minute)
	nan := math.NaN()
	vals := []float64{}
	for i := range 60 {
		switch {
		case i >= 20 && i < 26: // the downtime: no data
			vals = append(vals, nan)
		case i >= 45:
			vals = append(vals, 0.2)
		default:
			vals = append(vals, 0.002+0.001*math.Sin(float64(i)))
		}
	}
	tests := []struct {
		name       string
		d          ChartData
		wantSeries bool
	}{
		{"5xx ratio with a breach", ChartData{Check: Check{Name: Check5xxRatio, Max: ptr(0.01)}, Series: model.Matrix{series(from, time.Second, vals...)},
			From: from, To: from.Add(time.Minute), DowntimeStart: from.Add(20 * time.Second), DowntimeEnd: from.Add(26 * time.Second),
			Started: from.Add(26 * time.Second), Baseline: 0.002}, true},
		{"p99 against its baseline, downtime not ended", ChartData{Check: Check{Name: CheckP99Latency, Unit: "ms", MaxRatio: ptr(1.5)},
			Series: model.Matrix{series(from, 2*time.Second, 100, 110, 105, 120, 180, 190)}, From: from, To: from.Add(12 * time.Second),
			DowntimeStart: from.Add(5 * time.Second), Started: from.Add(7 * time.Second), Baseline: 100}, true},
		{"two series, a lone point", ChartData{Check: Check{Name: "custom", Min: ptr(-1.0)}, From: from, To: from.Add(3 * time.Second), Baseline: nan,
			Series: model.Matrix{series(from, time.Second, 1, 2, 3), {Metric: model.Metric{"node": "b"}, Values: series(from, time.Second, -2).Values}}}, true},
		{"no data", ChartData{Check: Check{Name: CheckTraffic, Unit: "req/s", MinRatio: ptr(0.5)}, Note: "Prometheus unreachable: connection refused",
			From: from, To: from.Add(time.Minute), Baseline: nan}, false},
		{"empty range", ChartData{Check: Check{Name: CheckDatastore, Min: ptr(1.0)}, Series: model.Matrix{series(from, time.Second, 1)},
			From: from, To: from, Baseline: 1}, true},
	}
	dir := os.Getenv("PROMWATCH_CHART_DIR") // set it to look at the charts
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := RenderChart(tt.d)
			if err != nil {
				t.Fatal(err)
			}
			decodePNG(t, tt.name, b, tt.wantSeries)
			if dir != "" {
				if err := os.WriteFile(filepath.Join(dir, ChartFile(tt.name)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestSegments(t *testing.T) {
	from := t0
	s := series(from, time.Second, 1, 2, math.NaN(), 4, 5, math.Inf(1), 7)
	// a gap: the last point comes 30 s after the one before
	s.Values = append(s.Values, model.SamplePair{Timestamp: s.Values[6].Timestamp.Add(30 * time.Second), Value: 8})
	segs := segments(s.Values)
	var lens []int
	for _, seg := range segs {
		lens = append(lens, len(seg))
	}
	if len(lens) != 4 || lens[0] != 2 || lens[1] != 2 || lens[2] != 1 || lens[3] != 1 {
		t.Errorf("segments of lengths %v, want [2 2 1 1]", lens)
	}
}
