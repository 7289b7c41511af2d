package words

import (
	"fmt"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/units"
)

// The watch: why a reading or a baseline has no value, what it waits for, what it found
// missing in Prometheus, and its progress notices. Spans read as PromQL writes them
// (units.Window).

// Span is a baseline's lookback, "the 15m before 01:30:00 UTC".
func Span(lookback time.Duration, end time.Time) string {
	return fmt.Sprintf("the %s before %s", units.Window(lookback), end.UTC().Format(time.TimeOnly+" MST"))
}

// NoFullWindow: no point of the lookback had a full rate window.
func NoFullWindow(window time.Duration, span string) string {
	return fmt.Sprintf("no full %s rate window in %s: the series are newer, and a rate over a partly filled window reads low", units.Window(window), span)
}

// InSpan places a reason in the lookback.
func InSpan(why, span string) string { return fmt.Sprintf("%s in %s", why, span) }

// CoverageUnknown: whether the rate windows were full could not be read.
func CoverageUnknown(why string) string {
	return "could not tell whether its rate windows were full: " + why
}

// PartialBaseline: only part of the lookback had full rate windows.
func PartialBaseline(had time.Duration, span string, window time.Duration) string {
	return fmt.Sprintf("partial: only %s of %s had a full %s rate window; the rest would read low", units.Window(had), span, units.Window(window))
}

// WrongType: a query returned another type than a vector (typ as Prometheus names it).
func WrongType(typ string) string {
	return fmt.Sprintf("the query returned a %s, want an instant vector", typ)
}

// NoData: a query returned nothing.
const NoData = "no data"

// ManySeries: a baseline's query returned several series.
func ManySeries(n int) string {
	return fmt.Sprintf("%d series, want one (aggregate the query with sum, min or max)", n)
}

// Why a baseline has no average.
const (
	NoFullPoint      = "no point with a full rate window"
	AllInEarlierRuns = "every point falls in an earlier run"
	OnlyNaN          = "only NaN or infinite values (no traffic?)"
)

// NoDataBecause: an instant query returned nothing, and why that is expected.
func NoDataBecause(why string) string { return "no data: " + why }

// Why a reading is inconclusive.
const (
	NoSeries   = "no data: the query returned no series"
	ReadingNaN = "the query returned NaN (no requests to compute it from?)"
)

// ReadingManySeries: an instant query returned several series.
func ReadingManySeries(n int) string {
	return fmt.Sprintf("the query returned %d series, want one (aggregate it with sum, min or max)", n)
}

// ReadingInf: an instant query returned an infinity.
func ReadingInf(v float64) string {
	return fmt.Sprintf("the query returned %v (beyond the last histogram bucket?)", v)
}

// NoBaselineToJudge: ratio thresholds without a baseline value.
func NoBaselineToJudge(thresholds []string) string {
	return "no baseline value to judge " + strings.Join(thresholds, ", ")
}

// WarmingUp: a check without data while the watch warms up.
func WarmingUp(until time.Time) string {
	return "no data yet: warming up until " + until.UTC().Format(time.TimeOnly)
}

// InARow: a blind breach's reading, and for how many intervals.
func InARow(why string, n int) string { return fmt.Sprintf("%s (%d intervals in a row)", why, n) }

// Why a query got no answer.

// QueryError: Prometheus refused the query.
func QueryError(msg string) string { return "query error: " + msg }

// GaveUp: Prometheus timed out or cancelled the query.
func GaveUp(msg string) string { return "Prometheus gave up on the query: " + msg }

// PromFailed: Prometheus answered with another error.
func PromFailed(msg string) string { return "Prometheus failed: " + msg }

// PromUnreachable: Prometheus could not be asked.
func PromUnreachable(msg string) string { return "Prometheus unreachable: " + msg }

// Why a query got no answer, continued.
const (
	PromLate      = "Prometheus did not answer in time"
	QueryCanceled = "the query was canceled"
)

// Progress notices.

// ResumingWatch: a watch resumed after a restart judges the missed intervals first.
func ResumingWatch(cluster string, missed int, since time.Time, left time.Duration) string {
	return fmt.Sprintf("resuming the watch of %s: judging the %d intervals since %s from Prometheus's history, then %s left",
		cluster, missed, since.UTC().Format(time.TimeOnly), left.Round(time.Second))
}

// Watching: the watch begins.
func Watching(checks int, url, interval string, end time.Time, window, scrape time.Duration) string {
	return fmt.Sprintf("watching %d checks on %s every %s until %s (rate window %s, scrape interval %s)",
		checks, url, interval, end.UTC().Format(time.TimeOnly), units.Window(window), units.Window(scrape))
}

// NoBaseline: the baseline could not be taken.
func NoBaseline(err error) string { return fmt.Sprintf("no baseline: %v", err) }

// BaselineTaken: the watch took its own baseline on X.
func BaselineTaken(from string, lookback time.Duration) string {
	return fmt.Sprintf("baseline taken on %s over the %s before the downtime", from, units.Window(lookback))
}

// What Prometheus lacks for the watch (preflight's "watch metrics").

// NoKongSeries: nothing of Kong's in Prometheus for the cluster's selector.
func NoKongSeries(selector, url string) string {
	return fmt.Sprintf("no Kong series match %s in Prometheus %s: is it scraping the cluster's nodes (their Status API /metrics) with these labels, and is the prometheus plugin enabled?", selector, url)
}

// NoUpstreams: the upstream health family is absent (v3: Kong 3.x, where a flag turns it on).
func NoUpstreams(checks []string, family string, v3 bool) string {
	flag := ""
	if v3 {
		flag = ", or upstream_health_metrics is off"
	}
	return fmt.Sprintf("%s (no %s: the cluster has no upstream targets%s)", strings.Join(checks, ", "), family, flag)
}

// NoDataPlanes: no data plane has connected to the control planes.
func NoDataPlanes(checks []string) string {
	return fmt.Sprintf("%s (no data plane has connected to the control planes)", strings.Join(checks, ", "))
}

// CheckProblem: a custom check's query fails or returns nothing (why).
func CheckProblem(check, why string) string { return fmt.Sprintf("check %q: %s", check, why) }

// NoSeriesFor: a custom check's query returned no series.
func NoSeriesFor(query string) string { return "its query returned no series: " + query }

// MissingFamily says that a metric family has no series, which checks need it, and what
// turns it on: flag is the prometheus plugin's setting for it ("" when none), v3 whether
// the nodes run Kong 3.x.
func MissingFamily(family, selector string, checks []string, flag string, v3 bool) string {
	head := fmt.Sprintf("%s has no series for %s (needed by %s)", family, selector, strings.Join(checks, ", "))
	switch {
	case v3 && flag == "upstream_health_metrics":
		return head + ": turn on upstream_health_metrics in the prometheus plugin's config (or the cluster has no upstream targets)"
	case v3 && flag != "":
		return head + ": turn on " + flag + " in the prometheus plugin's config (off by default since Kong 3.0)"
	case family == "kong_upstream_target_health":
		return head + ": the cluster has no upstream targets, or the prometheus plugin is not enabled"
	}
	return head + ": is the prometheus plugin enabled, on routes that get traffic?"
}
