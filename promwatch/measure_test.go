package promwatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

func vec(vals ...float64) model.Vector {
	out := model.Vector{}
	for i, v := range vals {
		out = append(out, &model.Sample{Metric: model.Metric{"i": model.LabelValue(fmt.Sprint(i))}, Value: model.SampleValue(v)})
	}
	return out
}

func TestMeasure(t *testing.T) {
	nan := math.NaN()
	ratio5xx := Check{Name: "5xx ratio", Query: "q", Max: ptr(0.01)}
	p99 := Check{Name: "p99", Query: "q", Unit: "ms", MaxRatio: ptr(1.5)}
	traffic := Check{Name: "traffic", Query: "q", Unit: "req/s", MinRatio: ptr(0.5)}
	both := Check{Name: "both", Query: "q", Max: ptr(500.0), MaxRatio: ptr(1.5), Unit: "ms"}
	datastore := Check{Name: "db", Query: "q", Min: ptr(1.0)}
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/api/v1/query", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name      string
		check     Check
		out       Outcome
		base      float64
		prev      float64
		result    Result
		value     float64
		threshold string
		failed    string
		trend     string
		errHas    string
		noData    bool
	}{
		{name: "absolute max passes", check: ratio5xx, out: Outcome{Value: vec(0.002)}, base: nan, prev: nan,
			result: Pass, value: 0.002, threshold: "max 0.01"},
		{name: "absolute max fails", check: ratio5xx, out: Outcome{Value: vec(0.2)}, base: nan, prev: 0.002,
			result: Fail, value: 0.2, threshold: "max 0.01", failed: "max 0.01", trend: "↑"},
		{name: "at the max passes", check: ratio5xx, out: Outcome{Value: vec(0.01)}, base: nan, prev: 0.01,
			result: Pass, value: 0.01, threshold: "max 0.01", trend: "→"},
		{name: "scalar result", check: datastore, out: Outcome{Value: &model.Scalar{Value: 1}}, base: nan, prev: nan,
			result: Pass, value: 1, threshold: "min 1"},
		{name: "absolute min fails", check: datastore, out: Outcome{Value: vec(0)}, base: nan, prev: 1,
			result: Fail, value: 0, threshold: "min 1", failed: "min 1", trend: "↓"},
		{name: "ratio max passes", check: p99, out: Outcome{Value: vec(130)}, base: 100, prev: 128,
			result: Pass, value: 130, threshold: "max 1.5× baseline (150 ms)", trend: "→"},
		{name: "ratio max fails", check: p99, out: Outcome{Value: vec(151)}, base: 100, prev: nan,
			result: Fail, value: 151, threshold: "max 1.5× baseline (150 ms)", failed: "max 1.5× baseline (150 ms)"},
		{name: "ratio min fails", check: traffic, out: Outcome{Value: vec(40)}, base: 150, prev: 150,
			result: Fail, value: 40, threshold: "min 0.5× baseline (75 req/s)", failed: "min 0.5× baseline (75 req/s)", trend: "↓"},
		{name: "ratio without baseline is inconclusive", check: p99, out: Outcome{Value: vec(130)}, base: nan, prev: nan,
			result: Inconclusive, value: 130, threshold: "max 1.5× baseline (no baseline)", errHas: "no baseline value"},
		{name: "infinite baseline counts as none", check: p99, out: Outcome{Value: vec(130)}, base: math.Inf(1), prev: nan,
			result: Inconclusive, value: 130, threshold: "max 1.5× baseline (no baseline)", errHas: "no baseline value"},
		{name: "absolute threshold still fails without baseline", check: both, out: Outcome{Value: vec(900)}, base: nan, prev: nan,
			result: Fail, value: 900, threshold: "max 500 ms, max 1.5× baseline (no baseline)", failed: "max 500 ms"},
		{name: "absolute passes, ratio unknown: inconclusive", check: both, out: Outcome{Value: vec(100)}, base: nan, prev: nan,
			result: Inconclusive, value: 100, threshold: "max 500 ms, max 1.5× baseline (no baseline)", errHas: "max 1.5× baseline"},
		{name: "both thresholds fail", check: both, out: Outcome{Value: vec(900)}, base: 100, prev: nan,
			result: Fail, value: 900, threshold: "max 500 ms, max 1.5× baseline (150 ms)", failed: "max 500 ms, max 1.5× baseline (150 ms)"},
		{name: "no series", check: ratio5xx, out: Outcome{Value: model.Vector{}}, base: nan, prev: nan,
			result: Inconclusive, value: nan, threshold: "max 0.01", errHas: "no data", noData: true},
		{name: "nil value", check: ratio5xx, out: Outcome{}, base: nan, prev: nan,
			result: Inconclusive, value: nan, threshold: "max 0.01", errHas: "no data", noData: true},
		{name: "two series", check: ratio5xx, out: Outcome{Value: vec(0.1, 0.2)}, base: nan, prev: nan,
			result: Inconclusive, value: nan, threshold: "max 0.01", errHas: "2 series, want one"},
		{name: "NaN", check: ratio5xx, out: Outcome{Value: vec(nan)}, base: nan, prev: 0.002,
			result: Inconclusive, value: nan, threshold: "max 0.01", errHas: "NaN"},
		{name: "+Inf", check: p99, out: Outcome{Value: vec(math.Inf(1))}, base: 100, prev: nan,
			result: Inconclusive, value: nan, threshold: "max 1.5× baseline (150 ms)", errHas: "+Inf"},
		{name: "matrix result", check: ratio5xx, out: Outcome{Value: model.Matrix{}}, base: nan, prev: nan,
			result: Inconclusive, value: nan, threshold: "max 0.01", errHas: "want an instant vector"},
		{name: "query error", check: ratio5xx, out: Outcome{Err: &v1.Error{Type: v1.ErrBadData, Msg: "parse error"}}, base: nan, prev: nan,
			result: Inconclusive, value: nan, threshold: "max 0.01", errHas: "query error: bad_data: parse error"},
		{name: "prometheus unreachable", check: ratio5xx, out: Outcome{Err: refused}, base: nan, prev: nan,
			result: Inconclusive, value: nan, threshold: "max 0.01", errHas: "Prometheus unreachable"},
		{name: "prometheus too slow", check: ratio5xx, out: Outcome{Err: fmt.Errorf("post: %w", context.DeadlineExceeded)}, base: nan, prev: nan,
			result: Inconclusive, value: nan, threshold: "max 0.01", errHas: "did not answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Measure(tt.check, tt.out, tt.base, tt.prev)
			if m.Result != tt.result {
				t.Errorf("result %s, want %s (error %q)", m.Result, tt.result, m.Error)
			}
			if !same(m.Value, tt.value) {
				t.Errorf("value %v, want %v", m.Value, tt.value)
			}
			if m.Threshold != tt.threshold {
				t.Errorf("threshold %q, want %q", m.Threshold, tt.threshold)
			}
			if m.Failed != tt.failed {
				t.Errorf("failed %q, want %q", m.Failed, tt.failed)
			}
			if m.Trend != tt.trend {
				t.Errorf("trend %q, want %q", m.Trend, tt.trend)
			}
			if tt.errHas == "" && m.Error != "" || !strings.Contains(m.Error, tt.errHas) {
				t.Errorf("error %q, want it to contain %q", m.Error, tt.errHas)
			}
			if m.NoData != tt.noData {
				t.Errorf("noData %v, want %v", m.NoData, tt.noData)
			}
			if m.Query != tt.check.Query || m.Check != tt.check.Name {
				t.Errorf("check %q query %q, want %q %q", m.Check, m.Query, tt.check.Name, tt.check.Query)
			}
			if !same(m.Baseline, tt.base) && !(math.IsInf(tt.base, 0) && math.IsNaN(m.Baseline)) {
				t.Errorf("baseline %v, want %v", m.Baseline, tt.base)
			}
		})
	}
}

func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func TestUnreachable(t *testing.T) {
	if !unreachable(&url.Error{Op: "Post", URL: "x", Err: syscall.ECONNREFUSED}) {
		t.Error("a refused connection is unreachable")
	}
	if unreachable(&v1.Error{Type: v1.ErrBadData}) || unreachable(nil) {
		t.Error("an API error or no error is not unreachable")
	}
	if !unreachable(errors.New("x")) {
		t.Error("another error is unreachable")
	}
}

func TestTrend(t *testing.T) {
	nan := math.NaN()
	for _, tt := range []struct {
		prev, v float64
		want    string
	}{
		{nan, 1, ""}, {1, nan, ""}, {0, 0, "→"}, {100, 104, "→"}, {100, 96, "→"}, {100, 110, "↑"}, {100, 90, "↓"}, {0, 0.001, "↑"},
		{math.Inf(1), 1, ""},
	} {
		if got := Trend(tt.prev, tt.v); got != tt.want {
			t.Errorf("Trend(%v, %v) = %q, want %q", tt.prev, tt.v, got, tt.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {0.01, "0.01"}, {0.0523, "0.0523"}, {0.19876, "0.199"}, {1, "1"}, {1.5, "1.5"}, {12.34, "12.3"},
		{120, "120"}, {120.4, "120"}, {15230.7, "15231"}, {-0.5, "-0.5"}, {0.00001234, "1.23e-05"}, {math.Inf(1), "+Inf"},
	} {
		if got := FormatNumber(tt.v); got != tt.want {
			t.Errorf("FormatNumber(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	if got := FormatValue(120, "ms"); got != "120 ms" {
		t.Errorf("FormatValue = %q", got)
	}
	if got := FormatValue(math.NaN(), "ms"); got != "no value" {
		t.Errorf("FormatValue(NaN) = %q", got)
	}
}
