// Package units is the one way drawbridge writes sizes and durations for people, in every
// message, log line and command output: binary units for sizes (10.2 MiB), and durations
// as 850ms, 4.2s, 2m10s or 1h05m. It imports nothing of drawbridge's.
package units

import (
	"fmt"
	"strconv"
	"time"
)

// Bytes writes a byte count in binary units: 512 B, 1.5 KiB, 10.2 MiB, 78.2 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Duration writes d for people: 850ms, 4.2s, 2m10s, 1h05m (a negative one is 0s).
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// Measured writes a measured time to the millisecond, in seconds: "41.250 s". Downtimes are
// judged to the second, and every message and reason writes them this one way.
func Measured(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + " s"
}

// Window writes a span as PromQL writes durations, largest unit first and no zero parts:
// 30s, 2m, 1h30m, 1d, 250ms (weeks and years only when they divide it exactly). Rate
// windows, lookbacks and scrape intervals read this way, as in the queries they go into.
func Window(d time.Duration) string {
	ms := d.Milliseconds()
	if ms <= 0 {
		return "0s"
	}
	const day = 24 * 60 * 60 * 1000
	var b []byte
	for _, u := range []struct {
		name  string
		ms    int64
		exact bool
	}{{"y", 365 * day, true}, {"w", 7 * day, true}, {"d", day, false}, {"h", 60 * 60 * 1000, false}, {"m", 60 * 1000, false}, {"s", 1000, false}, {"ms", 1, false}} {
		if u.exact && ms%u.ms != 0 {
			continue
		}
		if n := ms / u.ms; n > 0 {
			b = strconv.AppendInt(b, n, 10)
			b = append(b, u.name...)
			ms -= n * u.ms
		}
	}
	return string(b)
}
