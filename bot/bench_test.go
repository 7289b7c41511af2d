package bot_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkAckLatency: 200 signed slash commands at once against drawbridge's HTTP
// endpoint; every one must be answered (Slack's rule: within 3 s), and the p99 of the
// answers' latency is reported (goal: under 100 ms). The work itself is queued.
func BenchmarkAckLatency(b *testing.B) {
	w := newWorld(b, worldOpts{nodes: 1})
	const concurrent = 200
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrent}}
	var all []time.Duration
	b.ResetTimer()
	for range b.N {
		lat := make([]time.Duration, concurrent)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range concurrent {
			body := w.commandForm("U0OPERATOR", channel, "status", newTriggerID()).Encode() // a new command each
			req, _ := http.NewRequest(http.MethodPost, w.http.URL+"/slack/commands", strings.NewReader(body))
			sign(req.Header, body, time.Now())
			wg.Go(func() {
				<-start
				t0 := time.Now()
				resp, err := client.Do(req)
				lat[i] = time.Since(t0)
				if err != nil || resp.StatusCode != 200 {
					b.Errorf("request %d: %v %v", i, err, resp)
					return
				}
				resp.Body.Close()
			})
		}
		close(start)
		wg.Wait()
		all = append(all, lat...)
	}
	b.StopTimer()
	slices.Sort(all)
	p := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(all[len(all)-1].Microseconds())/1000, "max-ms")
}
