package promwatch

import (
	"math"
	"strings"
	"testing"
)

// step is one interval of one check in a tally script: p(ass), f(ail), i(nconclusive),
// n(o data).
func meas(check, code string) Measurement {
	m := Measurement{Check: check, Value: math.NaN(), Threshold: "max 0.01"}
	switch code {
	case "p":
		m.Result, m.Value = Pass, 0.001
	case "f":
		m.Result, m.Value, m.Failed = Fail, 0.2, "max 0.01"
	case "i":
		m.Result, m.Error = Inconclusive, "Prometheus unreachable: refused"
	case "n":
		m.Result, m.Error, m.NoData = Inconclusive, "no data", true
	}
	return m
}

func TestTally(t *testing.T) {
	tests := []struct {
		name    string
		limit   int
		a, b    string // per interval, the result of checks "a" and "b"
		warmup  int    // the first intervals are warming up
		breakAt int    // interval (1-based) of the breach; 0: none
		check   string
		blind   bool
		streaks string // a's streak after each interval, as digits
	}{
		{name: "all pass", limit: 2, a: "pppp", b: "pppp", streaks: "0000"},
		{name: "one failure is not a breach", limit: 2, a: "pfpf", b: "pppp", streaks: "0101"},
		{name: "two consecutive failures", limit: 2, a: "pffp", b: "pppp", breakAt: 3, check: "a", streaks: "012"},
		{name: "limit 1 breaks at once", limit: 1, a: "pf", b: "pp", breakAt: 2, check: "a", streaks: "01"},
		{name: "limit 0 counts as 1", limit: 0, a: "f", b: "p", breakAt: 1, check: "a", streaks: "1"},
		{name: "limit 3", limit: 3, a: "ffpfff", b: "pppppp", breakAt: 6, check: "a", streaks: "120123"},
		{name: "inconclusive is never a pass: blind", limit: 2, a: "pii", b: "ppp", breakAt: 3, check: "a", blind: true, streaks: "012"},
		{name: "fail then inconclusive: a breach, not blind", limit: 2, a: "fi", b: "pp", breakAt: 2, check: "a", streaks: "12"},
		{name: "inconclusive then fail: a breach", limit: 2, a: "if", b: "pp", breakAt: 2, check: "a", streaks: "12"},
		{name: "a pass resets an inconclusive streak", limit: 2, a: "ipipi", b: "ppppp", streaks: "10101"},
		{name: "streaks are per check", limit: 2, a: "fpfp", b: "pfpf", streaks: "1010"},
		{name: "the failing check wins over a blind one", limit: 2, a: "ii", b: "ff", breakAt: 2, check: "b", streaks: "12"},
		{name: "first failing check in order", limit: 2, a: "ff", b: "ff", breakAt: 2, check: "a", streaks: "12"},
		{name: "no data while warming up is not counted", limit: 2, a: "nnnp", b: "pppp", warmup: 3, streaks: "0000"},
		{name: "no data after the warm-up counts", limit: 2, a: "nnn", b: "ppp", warmup: 1, breakAt: 3, check: "a", blind: true, streaks: "012"},
		{name: "errors count during the warm-up", limit: 2, a: "ii", b: "pp", warmup: 2, breakAt: 2, check: "a", blind: true, streaks: "12"},
		{name: "failures count during the warm-up", limit: 2, a: "ff", b: "pp", warmup: 2, breakAt: 2, check: "a", streaks: "12"},
		{name: "warm-up keeps a streak", limit: 2, a: "fnf", b: "ppp", warmup: 3, breakAt: 3, check: "a", streaks: "112"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tally := Tally{Limit: tt.limit}
			var streaks strings.Builder
			for i := range len(tt.a) {
				ms := []Measurement{meas("a", tt.a[i:i+1]), meas("b", tt.b[i:i+1])}
				br := tally.Add(ms, i < tt.warmup)
				streaks.WriteByte(byte('0' + tally.Failures("a")))
				if br == nil {
					continue
				}
				if i+1 != tt.breakAt {
					t.Fatalf("breach at interval %d (%v), want %d", i+1, br, tt.breakAt)
				}
				if br.Check != tt.check || br.Blind != tt.blind {
					t.Errorf("breach %+v, want check %q blind %v", br, tt.check, tt.blind)
				}
				if br.Blind {
					if !strings.Contains(br.Value, "intervals in a row") || br.Threshold != "max 0.01" {
						t.Errorf("blind breach value %q threshold %q", br.Value, br.Threshold)
					}
				} else if br.Value != "0.2" || br.Threshold != "max 0.01" {
					t.Errorf("breach value %q threshold %q, want 0.2 and max 0.01", br.Value, br.Threshold)
				}
				break
			}
			if tt.breakAt == 0 && streaks.Len() != len(tt.a) {
				t.Fatal("unexpected breach")
			}
			if tt.breakAt != 0 && streaks.Len() != tt.breakAt {
				t.Fatalf("no breach, want one at interval %d", tt.breakAt)
			}
			if streaks.String() != tt.streaks {
				t.Errorf("streaks of a %s, want %s", streaks.String(), tt.streaks)
			}
		})
	}
}
