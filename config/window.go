package config

import (
	"time"
)

// Window openings and daylight saving time.
//
// A window's cron expression names wall-clock times in the window's zone ("0 2 * * SUN"
// in Europe/Berlin: Sundays at 02:00 Berlin time). robfig/cron on its own skips a time that
// does not exist on a spring-forward day and fires twice on a fall-back day; a maintenance
// window should do neither. drawbridge therefore evaluates the expression on the wall
// clock and then places each opening in the zone:
//
//   - An opening in the hour that is skipped (02:30 when clocks jump from 02:00 to 03:00)
//     opens at the jump itself, the first instant at or after that wall time: 03:00 local.
//     The window keeps its duration from there.
//   - An opening in the hour that repeats (01:30 when clocks go from 02:00 back to 01:00)
//     opens once, at the first 01:30 (the earlier, summer-time instant).
//
// Every other opening is the wall time in the zone, so a weekly window stays at its local
// hour across the change of offset.

// Openings returns the next n openings of the window strictly after t.
func (w *Window) Openings(after time.Time, n int) []time.Time {
	if w.Schedule == nil || n <= 0 {
		return nil
	}
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	// Walk the expression on a wall clock without daylight saving (UTC stands in for it),
	// starting a day before the local wall time of after, and keep what lands after it.
	local := after.In(loc)
	wall := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), local.Second(), 0, time.UTC).Add(-26 * time.Hour)
	var out []time.Time
	for guard := 0; len(out) < n && guard < 10000; guard++ {
		wall = w.Schedule.Next(wall)
		if wall.IsZero() {
			break
		}
		t := placeWall(wall, loc)
		if !t.After(after) {
			continue
		}
		if len(out) > 0 && !t.After(out[len(out)-1]) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// OpenAt returns the opening of the window that is open at t, if one is: the latest
// opening in (t − duration, t]. Every such opening covers t; the latest one closes last.
// The openings are walked in pages, so a frequent window ("*/3 * * * *") is found as
// surely as a weekly one.
func (w *Window) OpenAt(t time.Time) (opened time.Time, ok bool) {
	const page = 64
	after := t.Add(-w.Duration.D())
	for {
		os := w.Openings(after, page)
		for _, o := range os {
			if o.After(t) {
				return opened, ok
			}
			opened, ok = o, true
		}
		if len(os) < page {
			return opened, ok
		}
		after = os[len(os)-1]
	}
}

// placeWall is the instant of a wall-clock time (given in UTC fields) in loc: the first
// instant at or after it when it falls into a skipped hour, the earlier one when it is
// repeated.
func placeWall(wall time.Time, loc *time.Location) time.Time {
	t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, loc)
	if sameWall(t, wall) {
		// Repeated hour: an hour earlier may show the same wall clock.
		if e := t.Add(-time.Hour); sameWall(e, wall) {
			return e
		}
		return t
	}
	// Skipped: find the jump, the first instant whose wall clock is at or after wall.
	lo, hi := t.Add(-3*time.Hour), t.Add(3*time.Hour)
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if wallOf(mid).Before(wall) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi.Truncate(time.Second)
}

func wallOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

func sameWall(t, wall time.Time) bool { return wallOf(t).Equal(wall) }
