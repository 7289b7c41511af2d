package promwatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Result is a measurement's outcome. Only the counting (Tally) turns results into a breach.
type Result string

const (
	Pass         Result = "pass"
	Fail         Result = "fail"
	Inconclusive Result = "inconclusive" // the value could not be judged: never a pass
)

// Measurement is one check evaluated once: what it read and how that compares.
type Measurement struct {
	Check     string
	Query     string // the resolved PromQL
	Unit      string
	At        time.Time
	Result    Result
	Value     float64 // NaN when there is none
	Baseline  float64 // NaN when there is none
	Threshold string  // every threshold, e.g. "max 0.01", "max 1.5× baseline (120 ms)"
	Failed    string  // the thresholds the value breaks, same format
	Trend     string  // "↑", "↓", "→" against the previous interval, or ""
	Error     string  // why it is inconclusive
	NoData    bool    // inconclusive because the query returned no series
}

// Outcome is what Prometheus answered to a check's query.
type Outcome struct {
	Value model.Value
	Err   error
}

// Measure judges one query outcome against a check's thresholds. baseline and prev (the
// value of the previous interval, for the trend) are NaN when unknown.
//
// It is inconclusive on a query error, an unreachable Prometheus, no series, more than one
// series, a result that is not a number, NaN or ±Inf. Otherwise a broken threshold fails
// it; a ratio threshold without a baseline cannot be judged and makes it inconclusive
// unless another threshold fails; else it passes. In a ratio threshold's text the
// parenthesis holds the limit (ratio × baseline), not the baseline.
func Measure(ch Check, out Outcome, baseline, prev float64) Measurement {
	if math.IsInf(baseline, 0) {
		baseline = math.NaN()
	}
	m := Measurement{Check: ch.Name, Query: ch.Query, Unit: ch.Unit, Value: math.NaN(), Baseline: baseline,
		Threshold: strings.Join(thresholds(ch, baseline), ", ")}
	inconclusive := func(noData bool, why string) Measurement {
		m.Result, m.NoData, m.Error = Inconclusive, noData, why
		return m
	}
	if out.Err != nil {
		return inconclusive(false, DescribeError(out.Err))
	}
	v, n, err := single(out.Value)
	switch {
	case err != nil:
		return inconclusive(false, err.Error())
	case n == 0 && ch.NoData != "":
		return inconclusive(true, words.NoDataBecause(ch.NoData))
	case n == 0:
		return inconclusive(true, words.NoSeries)
	case n > 1:
		return inconclusive(false, words.ReadingManySeries(n))
	case math.IsNaN(v):
		return inconclusive(false, words.ReadingNaN)
	case math.IsInf(v, 0):
		return inconclusive(false, words.ReadingInf(v))
	}
	m.Value = v
	m.Trend = Trend(prev, v)
	var failed, unknown []string
	check := func(limit *float64, ratio bool, isMax bool) {
		if limit == nil {
			return
		}
		text := threshold(*limit, ratio, isMax, baseline, ch.Unit)
		bound := *limit
		if ratio {
			if math.IsNaN(baseline) {
				unknown = append(unknown, text)
				return
			}
			bound = *limit * baseline
		}
		if (isMax && v > bound) || (!isMax && v < bound) {
			failed = append(failed, text)
		}
	}
	check(ch.Max, false, true)
	check(ch.Min, false, false)
	check(ch.MaxRatio, true, true)
	check(ch.MinRatio, true, false)
	switch {
	case len(failed) > 0:
		m.Result, m.Failed = Fail, strings.Join(failed, ", ")
	case len(unknown) > 0:
		m.Result, m.Error = Inconclusive, words.NoBaselineToJudge(unknown)
	default:
		m.Result = Pass
	}
	return m
}

// single extracts the one number of an instant query result, with the number of series.
func single(v model.Value) (float64, int, error) {
	switch r := v.(type) {
	case model.Vector:
		if len(r) != 1 {
			return math.NaN(), len(r), nil
		}
		return float64(r[0].Value), 1, nil
	case *model.Scalar:
		return float64(r.Value), 1, nil
	case nil:
		return math.NaN(), 0, nil
	default:
		return math.NaN(), 0, fmt.Errorf("the query returned a %s, want an instant vector or a scalar", v.Type())
	}
}

// DescribeError says why a query got no answer: a PromQL error, Prometheus not answering in
// time, or Prometheus unreachable.
func DescribeError(err error) string {
	var apiErr *v1.Error
	switch {
	case errors.As(err, &apiErr):
		switch apiErr.Type {
		case v1.ErrBadData, v1.ErrExec:
			return words.QueryError(apiErr.Error())
		case v1.ErrTimeout, v1.ErrCanceled:
			return words.GaveUp(apiErr.Error())
		default:
			return words.PromFailed(apiErr.Error())
		}
	case errors.Is(err, context.DeadlineExceeded):
		return words.PromLate
	case errors.Is(err, context.Canceled):
		return words.QueryCanceled
	default:
		return words.PromUnreachable(err.Error())
	}
}

// unreachable reports whether err means Prometheus could not be asked at all (rather than
// answering with an error about the query).
func unreachable(err error) bool {
	var apiErr *v1.Error
	return err != nil && !errors.As(err, &apiErr)
}

// thresholds renders every threshold of a check.
func thresholds(ch Check, baseline float64) []string {
	var out []string
	add := func(limit *float64, ratio, isMax bool) {
		if limit != nil {
			out = append(out, threshold(*limit, ratio, isMax, baseline, ch.Unit))
		}
	}
	add(ch.Max, false, true)
	add(ch.Min, false, false)
	add(ch.MaxRatio, true, true)
	add(ch.MinRatio, true, false)
	return out
}

// threshold renders one threshold: "max 0.01", "min 1", "max 1.5× baseline (120 ms)" (the
// limit in parentheses), "min 0.5× baseline (no baseline)".
func threshold(limit float64, ratio, isMax bool, baseline float64, unit string) string {
	word := "min"
	if isMax {
		word = "max"
	}
	if !ratio {
		return word + " " + FormatValue(limit, unit)
	}
	bound := "no baseline"
	if !math.IsNaN(baseline) {
		bound = FormatValue(limit*baseline, unit)
	}
	return fmt.Sprintf("%s %s× baseline (%s)", word, FormatNumber(limit), bound)
}

// Trend compares a value with the previous interval's: "↑" or "↓" when it moved by more than
// 5%, "→" otherwise, "" when either is unknown.
func Trend(prev, v float64) string {
	if math.IsNaN(prev) || math.IsNaN(v) || math.IsInf(prev, 0) || math.IsInf(v, 0) {
		return ""
	}
	if math.Abs(v-prev) <= 0.05*math.Max(math.Abs(v), math.Abs(prev)) {
		return "→"
	}
	if v > prev {
		return "↑"
	}
	return "↓"
}

// FormatValue renders a value with its unit ("120 ms", "0.0523"); "no value" for NaN.
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "no value"
	}
	if unit == "" {
		return FormatNumber(v)
	}
	return FormatNumber(v) + " " + unit
}

// FormatNumber renders a number with three significant digits without an exponent for
// everyday magnitudes: 0.01, 0.0523, 1.5, 12.3, 120, 15230.
func FormatNumber(v float64) string {
	a := math.Abs(v)
	var s string
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case a == 0:
		return "0"
	case a >= 100:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1e-4:
		digits := 2 - int(math.Floor(math.Log10(a)))
		s = strconv.FormatFloat(v, 'f', digits, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Report renders a measurement as the engine's CheckReport, with the check's streak.
func (m Measurement) Report(failures int) domain.CheckReport {
	return domain.CheckReport{Name: m.Check, Query: m.Query, Result: string(m.Result), Value: m.Value,
		Threshold: m.Threshold, Baseline: m.Baseline, Trend: m.Trend, Failures: failures, Error: m.Error}
}
