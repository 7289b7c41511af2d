// Package traffic is the synthetic proxy traffic a simulated Kong node's metrics describe:
// requests per route and status code, latency histograms and bandwidth, advanced with
// elapsed time at the configured rate.
//
// The generator is deterministic in the quantities Prometheus measures. Every counter is the
// integral of its rate over time, exposed as a whole number (the fractional part carries
// over), so rate() in Prometheus equals the configured requests per second, status codes
// follow the configured error ratio, and each cumulative latency bucket grows by exactly its
// share of the requests, so histogram_quantile reads the distribution's Quantile. Seed only
// sets the phase of the fractional carries of each series (0: random), so that several
// nodes do not tick in lockstep.
package traffic

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/kongsim/facts"
	"github.com/drawbridge/drawbridge/kongsim/sim"
)

// Route is what a proxied request matched: the labels its metrics carry.
type Route struct {
	Service  string // service name (or host); "" when the route has no service
	Route    string // route name (or id)
	Consumer string // consumer username; "" for anonymous traffic
}

// Config is what the generator simulates.
type Config struct {
	Traffic        sim.Traffic // the rates in force (see Effective for faults)
	Routes         []Route     // where the traffic goes; Zipf-weighted in the given order
	RequestBuckets []float64   // upper bounds of the request and upstream latency histograms
	KongBuckets    []float64   // upper bounds of the Kong latency histogram
}

// Kong's own latency per request (plugins, routing): small and independent of the upstream.
const (
	kongP50Ms = 2
	kongP99Ms = 9
)

// Status code mix. Non-error responses share 1-ErrorRatio, 5xx share ErrorRatio. The source
// label says who produced the response: "service" (the upstream) or "kong" (Kong itself,
// e.g. a 502 when the upstream cannot be reached).
var (
	okCodes = []codeShare{
		{200, 0.90, "service", 450, 2300},
		{201, 0.05, "service", 1100, 640},
		{204, 0.03, "service", 450, 210},
		{404, 0.02, "service", 450, 260},
	}
	errorCodes = []codeShare{
		{500, 0.50, "service", 450, 330},
		{502, 0.30, "kong", 450, 390},
		{503, 0.20, "service", 450, 330},
	}
)

type codeShare struct {
	code          int
	share         float64 // of the non-error or of the error traffic
	source        string
	ingress, egre float64 // bytes per request in and out
}

// Effective is the traffic a node running version v serves: the configured traffic, with
// the bad-release fault's error ratio and p99 when the fault names v.
func Effective(f sim.File, v facts.Version) sim.Traffic {
	t := f.Traffic
	br := f.Faults.BadRelease
	if br == nil {
		return t
	}
	if !br.Applies(v) {
		return t
	}
	t.ErrorRatio = br.ErrorRatio
	if br.P99Ms > 0 {
		t.P99Ms = br.P99Ms
	}
	return t
}

// Generator advances the counters of every route with elapsed time. It is safe for
// concurrent use.
type Generator struct {
	mu          sync.Mutex
	cfg         Config
	request     Latency
	kong        Latency
	kongOnReq   []float64         // Kong latency CDF on the Kong buckets
	upstreamCDF []float64         // upstream latency CDF on the request buckets
	active      map[Route]float64 // route → share of the traffic
	series      map[Route]*series
	order       []Route // series in creation order
	rng         *rand.Rand
	last        time.Time
	requests    float64 // proxied requests so far, including those that matched no route
	other       uint64  // non-proxy requests served (Admin and Status API)
}

// series is the state of one route: expected counts so far, exposed as whole numbers.
type series struct {
	phase    float64 // initial fractional carry, in [0, 1)
	requests float64
	codes    map[int]float64
	ingress  float64
	egress   float64
	request  histState
	upstream histState
	kong     histState
}

type histState struct {
	cum   []float64 // expected cumulative count per bound
	count float64
	sum   float64
}

func (h *histState) add(n float64, cdf []float64, mean float64) {
	if h.cum == nil {
		h.cum = make([]float64, len(cdf))
	}
	for i, f := range cdf {
		h.cum[i] += n * f
	}
	h.count += n
	h.sum += n * mean
}

// New starts a generator at now with all counters at zero.
func New(cfg Config, now time.Time) *Generator {
	seed := uint64(cfg.Traffic.Seed)
	if seed == 0 {
		seed = rand.Uint64()
	}
	g := &Generator{
		series: map[Route]*series{},
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		last:   now,
	}
	g.cfg.RequestBuckets = slices.Clone(cfg.RequestBuckets)
	g.cfg.KongBuckets = slices.Clone(cfg.KongBuckets)
	g.kong = NewLatency(kongP50Ms, kongP99Ms, g.cfg.KongBuckets)
	g.kongOnReq = g.kong.CDFAtBounds()
	g.setTraffic(cfg.Traffic)
	g.setRoutes(cfg.Routes)
	return g
}

// SetTraffic changes the rates from now on; the time before now is counted at the old ones.
func (g *Generator) SetTraffic(t sim.Traffic, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advance(now)
	g.setTraffic(t)
}

func (g *Generator) setTraffic(t sim.Traffic) {
	t.RPS = math.Max(t.RPS, 0)
	t.ErrorRatio = math.Min(math.Max(t.ErrorRatio, 0), 1)
	g.cfg.Traffic = t
	g.request = NewLatency(t.P50Ms, t.P99Ms, g.cfg.RequestBuckets)
	g.upstreamCDF = g.request.shifted(g.kong.Mean(), g.cfg.RequestBuckets)
}

// SetRoutes changes where traffic goes from now on. Series of routes no longer listed keep
// their counts but stop growing, as Kong's do until a restart.
func (g *Generator) SetRoutes(routes []Route, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advance(now)
	g.setRoutes(routes)
}

func (g *Generator) setRoutes(routes []Route) {
	g.cfg.Routes = nil
	g.active = map[Route]float64{}
	var total float64
	for _, r := range routes {
		if _, dup := g.active[r]; dup {
			continue
		}
		w := 1 / float64(len(g.cfg.Routes)+1) // Zipf: the first routes are the busiest
		g.cfg.Routes = append(g.cfg.Routes, r)
		g.active[r] = w
		total += w
		if g.series[r] == nil {
			g.series[r] = &series{phase: g.rng.Float64(), codes: map[int]float64{}}
			g.order = append(g.order, r)
		}
	}
	for r, w := range g.active {
		g.active[r] = w / total
	}
}

// Traffic returns the rates in force.
func (g *Generator) Traffic() sim.Traffic {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cfg.Traffic
}

// RequestLatency returns the request latency distribution in force: what
// histogram_quantile over the request latency buckets estimates.
func (g *Generator) RequestLatency() Latency {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.request
}

// CountRequest counts one request that is not proxied traffic (an Admin or Status API
// call) in the nginx totals.
func (g *Generator) CountRequest() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.other++
}

// Advance counts the traffic between the last call and now. Time going backwards counts
// nothing.
func (g *Generator) Advance(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advance(now)
}

func (g *Generator) advance(now time.Time) {
	dt := now.Sub(g.last).Seconds()
	if dt <= 0 {
		return
	}
	g.last = now
	t := g.cfg.Traffic
	n := t.RPS * dt
	g.requests += n
	reqMean, kongMean := g.request.Mean(), g.kong.Mean()
	reqCDF := g.request.CDFAtBounds()
	for r, share := range g.active {
		s := g.series[r]
		x := n * share
		s.requests += x
		var fromService float64
		for _, cs := range codeMix(t.ErrorRatio) {
			c := x * cs.share
			s.codes[cs.code] += c
			s.ingress += c * cs.ingress
			s.egress += c * cs.egre
			if cs.source == "service" {
				fromService += c
			}
		}
		s.request.add(x, reqCDF, reqMean)
		s.kong.add(x, g.kongOnReq, kongMean)
		s.upstream.add(fromService, g.upstreamCDF, math.Max(reqMean-kongMean, 0))
	}
}

// codeMix is every status code with its share of all requests for an error ratio.
func codeMix(errorRatio float64) []codeShare {
	out := make([]codeShare, 0, len(okCodes)+len(errorCodes))
	for _, c := range okCodes {
		c.share *= 1 - errorRatio
		out = append(out, c)
	}
	for _, c := range errorCodes {
		c.share *= errorRatio
		out = append(out, c)
	}
	return out
}

// SourceOf returns the source label of a status code: "kong" or "service".
func SourceOf(code int) string {
	for _, set := range [][]codeShare{okCodes, errorCodes} {
		for _, c := range set {
			if c.code == code {
				return c.source
			}
		}
	}
	return "service"
}

// Snapshot is the state of every counter at one instant.
type Snapshot struct {
	Series      []Series // one per route that ever had traffic, in first-seen order
	Requests    uint64   // every request the node served: proxied plus Admin/Status API
	Connections Connections
	Traffic     sim.Traffic // the rates in force
}

// Series are one route's counters.
type Series struct {
	Route
	Codes           []CodeCount // ascending by code; only codes seen so far
	RequestLatency  Histogram   // total request latency
	UpstreamLatency Histogram   // upstream part; only requests answered by the service
	KongLatency     Histogram   // Kong's own part
	IngressBytes    uint64
	EgressBytes     uint64
}

// CodeCount is the number of responses with one status code.
type CodeCount struct {
	Code   int
	Source string // "service" or "kong"
	Count  uint64
}

// Histogram is a cumulative histogram: Counts[i] requests took at most Bounds[i] ms.
type Histogram struct {
	Bounds []float64
	Counts []uint64 // cumulative, one per bound (the +Inf bucket is Count)
	Count  uint64
	Sum    float64 // ms, whole
}

// Connections are nginx's connection statistics.
type Connections struct {
	Active, Reading, Writing, Waiting, Accepted, Handled uint64
}

// Snapshot advances to now and returns every counter.
func (g *Generator) Snapshot(now time.Time) Snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advance(now)
	snap := Snapshot{Traffic: g.cfg.Traffic}
	for _, r := range g.order {
		s := g.series[r]
		out := Series{
			Route:           r,
			RequestLatency:  s.request.snapshot(g.cfg.RequestBuckets, s.phase),
			UpstreamLatency: s.upstream.snapshot(g.cfg.RequestBuckets, s.phase),
			KongLatency:     s.kong.snapshot(g.cfg.KongBuckets, s.phase),
			IngressBytes:    whole(s.ingress, s.phase),
			EgressBytes:     whole(s.egress, s.phase),
		}
		codes := make([]int, 0, len(s.codes))
		for c := range s.codes {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		for _, c := range codes {
			if n := whole(s.codes[c], s.phase); n > 0 {
				out.Codes = append(out.Codes, CodeCount{Code: c, Source: SourceOf(c), Count: n})
			}
		}
		snap.Series = append(snap.Series, out)
	}
	snap.Requests = uint64(g.requests) + g.other
	snap.Connections = g.connections(snap.Requests)
	return snap
}

func (h histState) snapshot(bounds []float64, phase float64) Histogram {
	out := Histogram{Bounds: slices.Clone(bounds), Counts: make([]uint64, len(bounds))}
	for i := range bounds {
		if i < len(h.cum) {
			out.Counts[i] = whole(h.cum[i], phase)
		}
	}
	out.Count = whole(h.count, phase)
	out.Sum = math.Round(h.sum) // Kong measures whole milliseconds
	return out
}

// whole is an expected count as a whole number, with the series' phase as carry.
func whole(x, phase float64) uint64 { return uint64(math.Floor(x + phase)) }

// connections models nginx's statistics: in-flight requests by Little's law, keep-alive
// connections idle in proportion to the rate, about ten requests per connection. The
// request asking for the statistics is itself being written.
func (g *Generator) connections(requests uint64) Connections {
	t := g.cfg.Traffic
	inflight := t.RPS * g.request.Mean() / 1000
	c := Connections{
		Reading: uint64(math.Round(inflight * 0.1)),
		Writing: 1 + uint64(math.Round(inflight*0.9)),
		Waiting: uint64(math.Round(2 + t.RPS*0.2)),
	}
	c.Active = c.Reading + c.Writing + c.Waiting
	c.Accepted = requests/10 + c.Active
	c.Handled = c.Accepted
	return c
}
