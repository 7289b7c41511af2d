package units

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{10_695_475, "10.2 MiB"}, {48213504, "46.0 MiB"}, {84_000_000_000, "78.2 GiB"}, {1 << 62, "4.0 EiB"},
	} {
		if got := Bytes(tc.n); got != tc.want {
			t.Errorf("Bytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {850 * time.Millisecond, "850ms"}, {4200 * time.Millisecond, "4.2s"},
		{41250 * time.Millisecond, "41.2s"}, {130 * time.Second, "2m10s"}, {65 * time.Minute, "1h05m"},
	} {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestWindowReadsAsPromQL: Window writes every span as Prometheus's own model.Duration
// does, so a sentence and the query it speaks of agree.
func TestWindowReadsAsPromQL(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 250 * time.Millisecond, time.Second, 30 * time.Second, 90 * time.Second,
		2 * time.Minute, 15 * time.Minute, time.Hour, 90 * time.Minute, 24 * time.Hour, 36 * time.Hour, 7 * 24 * time.Hour,
		8 * 24 * time.Hour, 14 * 24 * time.Hour, 365 * 24 * time.Hour, 366 * 24 * time.Hour, time.Hour + 1500*time.Millisecond} {
		if got, want := Window(d), model.Duration(d).String(); got != want {
			t.Errorf("Window(%v) = %q, Prometheus writes %q", d, got, want)
		}
	}
}
