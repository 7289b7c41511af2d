package config

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func window(t *testing.T, spec, zone string, d time.Duration) *Window {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return &Window{Name: "w", Cron: spec, Duration: Duration(d), Timezone: zone, Schedule: s, Location: loc}
}

// TestOpeningsAcrossDST documents and asserts what a window does when its opening falls
// into the hour a daylight-saving change skips or repeats (see window.go).
func TestOpeningsAcrossDST(t *testing.T) {
	cases := []struct {
		name, spec, zone, after string
		want                    []string // UTC
	}{
		{"Berlin daily 02:30, spring forward: the skipped opening happens at the jump (03:00 CEST)",
			"30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"Berlin daily 02:30, fall back: the repeated hour opens once, at the first 02:30 (CEST)",
			"30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"Berlin Sundays 02:00: the change of offset keeps the local hour; 02:00 on the change day is the jump",
			"0 2 * * SUN", "Europe/Berlin", "2026-03-20T00:00:00Z",
			[]string{"2026-03-22T01:00:00Z", "2026-03-29T01:00:00Z", "2026-04-05T00:00:00Z"}},
		{"New York daily 02:30, spring forward: opens at 03:00 EDT",
			"30 2 * * *", "America/New_York", "2026-03-06T12:00:00Z",
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
		{"New York daily 01:30, fall back: once, at the first 01:30 (EDT)",
			"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
		{"New York Saturdays 23:00, fall back does not touch it but moves its UTC time",
			"0 23 * * SAT", "America/New_York", "2026-10-25T00:00:00Z",
			[]string{"2026-10-25T03:00:00Z", "2026-11-01T03:00:00Z", "2026-11-08T04:00:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := window(t, tc.spec, tc.zone, time.Hour)
			after, _ := time.Parse(time.RFC3339, tc.after)
			got := w.Openings(after, len(tc.want))
			if len(got) != len(tc.want) {
				t.Fatalf("got %v", got)
			}
			for i := range got {
				if g := got[i].UTC().Format(time.RFC3339); g != tc.want[i] {
					t.Errorf("opening %d = %s (%s), want %s", i, g, got[i].In(w.Location).Format("Mon 15:04 MST"), tc.want[i])
				}
			}
		})
	}
	// What robfig/cron alone would do, for the record: it skips the spring-forward day.
	s, _ := cron.ParseStandard("CRON_TZ=Europe/Berlin 30 2 * * *")
	after, _ := time.Parse(time.RFC3339, "2026-03-28T12:00:00Z")
	if got := s.Next(after).UTC().Format(time.RFC3339); got != "2026-03-30T00:30:00Z" {
		t.Errorf("robfig's own next opening after 03-28 is %s; the comparison above assumes it skips 03-29", got)
	}
}

func TestOpenAt(t *testing.T) {
	w := window(t, "0 2 * * SUN", "Europe/Berlin", 2*time.Hour) // Sundays 02:00–04:00 Berlin
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	cases := []struct {
		at   string
		open bool
		from string
	}{
		{"2026-11-29T01:00:00Z", true, "2026-11-29T01:00:00Z"}, // 02:00 CET, the opening itself
		{"2026-11-29T02:59:59Z", true, "2026-11-29T01:00:00Z"}, // 03:59:59 CET
		{"2026-11-29T03:00:00Z", false, ""},                    // 04:00 CET: closed
		{"2026-11-29T00:59:59Z", false, ""},                    // just before
		{"2026-11-25T01:30:00Z", false, ""},                    // a Wednesday
		{"2026-03-29T02:30:00Z", true, "2026-03-29T01:00:00Z"}, // spring-forward Sunday, opened at the jump
		{"2026-10-25T00:30:00Z", true, "2026-10-25T00:00:00Z"}, // fall-back Sunday, 02:30 CEST
	}
	for _, tc := range cases {
		got, ok := w.OpenAt(at(tc.at))
		if ok != tc.open || (ok && got.UTC().Format(time.RFC3339) != tc.from) {
			t.Errorf("OpenAt(%s) = %s, %v; want %s, %v", tc.at, got.UTC().Format(time.RFC3339), ok, tc.from, tc.open)
		}
	}
}

// TestOpenAtFrequentWindows: a window that opens many times a day is found open at every
// moment inside an opening, however many openings the day before holds (a */3 window
// was once never found open, and a run approved ahead of it expired).
func TestOpenAtFrequentWindows(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	cases := []struct {
		name, spec, zone string
		d                time.Duration
		at               string
		open             bool
		from             string
	}{
		{"every 3 minutes, at the opening", "*/3 * * * *", "UTC", 2 * time.Minute, "2026-12-02T00:12:00Z", true, "2026-12-02T00:12:00Z"},
		{"every 3 minutes, inside", "*/3 * * * *", "UTC", 2 * time.Minute, "2026-12-02T00:13:59Z", true, "2026-12-02T00:12:00Z"},
		{"every 3 minutes, at the close", "*/3 * * * *", "UTC", 2 * time.Minute, "2026-12-02T00:14:00Z", false, ""},
		{"every 3 minutes, between", "*/3 * * * *", "UTC", 2 * time.Minute, "2026-12-02T00:11:02Z", false, ""},
		{"every minute for 5 minutes: overlapping, the latest opening", "* * * * *", "UTC", 5 * time.Minute, "2026-12-02T00:12:30Z", true, "2026-12-02T00:12:00Z"},
		{"every minute for 3 days: thousands of openings cover t", "* * * * *", "UTC", 72 * time.Hour, "2026-12-02T00:12:30Z", true, "2026-12-02T00:12:00Z"},
		{"hourly at :30 for 20 minutes in Berlin", "30 * * * *", "Europe/Berlin", 20 * time.Minute, "2026-12-02T09:45:00Z", true, "2026-12-02T09:30:00Z"},
		{"hourly at :30 for 20 minutes in Berlin, closed", "30 * * * *", "Europe/Berlin", 20 * time.Minute, "2026-12-02T09:55:00Z", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := window(t, tc.spec, tc.zone, tc.d)
			got, ok := w.OpenAt(at(tc.at))
			if ok != tc.open || (ok && got.UTC().Format(time.RFC3339) != tc.from) {
				t.Errorf("OpenAt(%s) = %s, %v; want %s, %v", tc.at, got.UTC().Format(time.RFC3339), ok, tc.from, tc.open)
			}
		})
	}
}
