package traffic

import (
	"math"
	"slices"
	"sort"
)

// Quantiles the distribution is pinned to: histogram_quantile reads exactly the configured
// median and 99th percentile whenever the bucket layout allows it.
const (
	medianQ = 0.5
	p99Q    = 0.99
	// tailCap bounds the CDF the p99 pinning may ask for at a bucket's upper edge, so that a
	// little traffic stays slower than that edge.
	tailCap = 0.9995
	// z99 is the standard normal quantile of 0.99.
	z99 = 2.3263478740408408
)

// Latency is a latency distribution in milliseconds as a Prometheus histogram with fixed
// bucket upper bounds sees it: its CDF at each bound, and linear interpolation in between,
// which is exactly what histogram_quantile assumes. The CDF at the bounds starts from a
// log-normal with the requested median and 99th percentile and is then adjusted so that
// the interpolated median and 99th percentile equal the requested ones (see pin); a
// histogram filled with this distribution's bucket shares therefore reads back those values
// in Prometheus. The zero value is unusable; build one with NewLatency.
type Latency struct {
	bounds []float64 // finite bucket upper bounds, ascending, all > 0
	cdf    []float64 // cdf[i] = P(X <= bounds[i]); non-decreasing, <= 1
}

// NewLatency builds the distribution for a median p50 and 99th percentile p99 (ms) on the
// given bucket upper bounds (ascending, positive, finite; +Inf is implicit). A p99 not above
// p50 is treated as p50 = p99/2; non-positive values are raised to 0.1 ms. When the bucket
// layout cannot express a quantile (p99 under a fraction of the first bound, or beyond the
// last bound), the nearest expressible value results; Quantile tells what it is.
func NewLatency(p50, p99 float64, bounds []float64) Latency {
	p99 = math.Max(p99, 0.1)
	if p50 <= 0 || p50 >= p99 {
		p50 = p99 / 2
	}
	l := Latency{bounds: slices.Clone(bounds), cdf: make([]float64, len(bounds))}
	mu, sigma := math.Log(p50), math.Log(p99/p50)/z99
	for i, b := range l.bounds {
		l.cdf[i] = 0.5 * math.Erfc(-(math.Log(b)-mu)/(sigma*math.Sqrt2))
	}
	l.pin(medianQ, p50)
	l.pin(p99Q, p99)
	return l
}

// pin adjusts the CDF at the edges of the bucket holding target so that linear interpolation
// inside that bucket puts quantile q exactly at target, keeping the CDF monotone.
func (l *Latency) pin(q, target float64) {
	b := sort.SearchFloat64s(l.bounds, target) // first bound >= target
	if b == len(l.bounds) {
		return // beyond the last bound: histogram_quantile caps at that bound anyway
	}
	lo, flo := 0.0, 0.0
	if b > 0 {
		lo, flo = l.bounds[b-1], l.cdf[b-1]
	}
	t := (target - lo) / (l.bounds[b] - lo) // where target sits in the bucket, (0, 1]
	if flo >= q {
		flo = q * 0.999 // cannot happen with the log-normal start; keep the bucket search right
	}
	fhi := flo + (q-flo)/t
	if ceiling := math.Max(tailCap, q); fhi > ceiling {
		// Keeping the lower edge needs more mass in the bucket than there is: fix the upper
		// edge at the ceiling and move the lower edge instead (t < 1 here).
		fhi = ceiling
		flo = math.Max(0, (q-t*fhi)/(1-t))
	}
	if b > 0 {
		l.cdf[b-1] = flo
	}
	l.cdf[b] = fhi
	for i := b - 2; i >= 0; i-- {
		l.cdf[i] = math.Min(l.cdf[i], flo)
	}
	for i := b + 1; i < len(l.cdf); i++ {
		l.cdf[i] = math.Max(l.cdf[i], fhi)
	}
}

// Bounds returns the bucket upper bounds.
func (l Latency) Bounds() []float64 { return slices.Clone(l.bounds) }

// CDFAtBounds returns P(X <= bound) for every bucket bound: the share of requests each
// cumulative bucket counts.
func (l Latency) CDFAtBounds() []float64 { return slices.Clone(l.cdf) }

// CDF returns P(X <= x), linear between bounds (from 0 at 0), as histogram_quantile sees it.
// Above the last bound it rises linearly to 1 at tailEnd.
func (l Latency) CDF(x float64) float64 {
	if x <= 0 || len(l.bounds) == 0 {
		return 0
	}
	i := sort.SearchFloat64s(l.bounds, x)
	if i == len(l.bounds) {
		last, end := l.bounds[i-1], l.tailEnd()
		if x >= end {
			return 1
		}
		return l.cdf[i-1] + (1-l.cdf[i-1])*(x-last)/(end-last)
	}
	lo, flo := 0.0, 0.0
	if i > 0 {
		lo, flo = l.bounds[i-1], l.cdf[i-1]
	}
	return flo + (l.cdf[i]-flo)*(x-lo)/(l.bounds[i]-lo)
}

// Quantile is what Prometheus' histogram_quantile(q, …) computes from a histogram whose
// buckets hold this distribution's shares (the algorithm of promql/quantile.go).
func (l Latency) Quantile(q float64) float64 {
	switch {
	case math.IsNaN(q) || len(l.bounds) == 0:
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	b := sort.Search(len(l.cdf), func(i int) bool { return l.cdf[i] >= q })
	if b == len(l.cdf) {
		return l.bounds[len(l.bounds)-1] // the rank falls in the +Inf bucket
	}
	lo, flo := 0.0, 0.0
	if b > 0 {
		lo, flo = l.bounds[b-1], l.cdf[b-1]
	}
	if l.cdf[b] == flo {
		return l.bounds[b]
	}
	return lo + (l.bounds[b]-lo)*(q-flo)/(l.cdf[b]-flo)
}

// Mean is the distribution's mean: uniform inside each bucket, and the share above the last
// bound spread uniformly up to tailEnd.
func (l Latency) Mean() float64 {
	var mean, lo, flo float64
	for i, b := range l.bounds {
		mean += (l.cdf[i] - flo) * (lo + b) / 2
		lo, flo = b, l.cdf[i]
	}
	return mean + (1-flo)*(lo+l.tailEnd())/2
}

// tailEnd is where the mass above the last bound ends (twice the last bound).
func (l Latency) tailEnd() float64 { return 2 * l.bounds[len(l.bounds)-1] }

// shifted returns P(X - d <= bound) for every bound of other: the CDF, on other's bounds, of
// this latency minus a constant d (how upstream latency is request latency minus Kong's).
func (l Latency) shifted(d float64, bounds []float64) []float64 {
	out := make([]float64, len(bounds))
	for i, b := range bounds {
		out[i] = l.CDF(b + d)
	}
	return out
}
