package units

import (
	"testing"
	"time"
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
