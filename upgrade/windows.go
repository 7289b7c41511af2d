package upgrade

import (
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

// Opening is one opening of a maintenance window.
type Opening struct {
	Window string
	Opens  time.Time
	Closes time.Time
}

// blackoutAt returns the blackout in force at t.
func (e *Engine) blackoutAt(t time.Time) (config.Blackout, bool) {
	for _, b := range e.opts.Config.Blackouts {
		if !t.Before(b.From) && t.Before(b.To) {
			return b, true
		}
	}
	return config.Blackout{}, false
}

// checkWindow: a cluster with windows may only be upgraded inside one, and never in a
// blackout.
func (e *Engine) checkWindow(c *config.Cluster, now time.Time) Check {
	ch := Check{Name: "window"}
	if b, ok := e.blackoutAt(now); ok {
		ch.Detail = words.InBlackout(b.Name, b.To)
		return ch
	}
	if len(c.Windows) == 0 {
		ch.OK, ch.Detail = true, words.NoWindows
		return ch
	}
	if o, ok := e.openWindow(c, now); ok {
		ch.OK, ch.Detail = true, words.WindowOpen(o.Window, o.Closes)
		return ch
	}
	ch.Detail = words.NoWindowOpen(c.Name, c.Windows)
	return ch
}

// openWindow returns the cluster's window open at now.
func (e *Engine) openWindow(c *config.Cluster, now time.Time) (Opening, bool) {
	for _, name := range c.Windows {
		w, ok := e.opts.Config.Window(name)
		if !ok {
			continue
		}
		if opened, ok := w.OpenAt(now); ok {
			return Opening{Window: name, Opens: opened, Closes: opened.Add(w.Duration.D())}, true
		}
	}
	return Opening{}, false
}

// NextOpenings returns the next n openings of a cluster's windows after now (of the named
// window only, when window is not ""), earliest first, skipping openings that fall into a
// blackout.
func (e *Engine) NextOpenings(cluster, window string, now time.Time, n int) ([]Opening, error) {
	c, err := e.cluster(cluster)
	if err != nil {
		return nil, err
	}
	var all []Opening
	for _, name := range c.Windows {
		if window != "" && name != window {
			continue
		}
		w, ok := e.opts.Config.Window(name)
		if !ok {
			continue
		}
		all = append(all, e.windowOpenings(name, w, now, n)...)
	}
	sortOpenings(all)
	if len(all) > n {
		all = all[:n]
	}
	return all, nil
}

// windowOpenings are the next n openings of one window after now outside blackouts. A
// blackout is skipped as a whole, so a frequent window ("*/3 * * * *") finds its first
// opening after a week-long blackout as surely as a weekly one.
func (e *Engine) windowOpenings(name string, w *config.Window, now time.Time, n int) []Opening {
	var out []Opening
	after := now
	for guard := 0; len(out) < n && guard < 1000; guard++ {
		page := w.Openings(after, n+8)
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1]
		for _, o := range page {
			if b, black := e.blackoutAt(o); black {
				if end := b.To.Add(-time.Nanosecond); end.After(after) {
					after = end // the next page starts at the blackout's end
				}
				continue
			}
			if len(out) < n {
				out = append(out, Opening{Window: name, Opens: o, Closes: o.Add(w.Duration.D())})
			}
		}
	}
	return out
}

func sortOpenings(os []Opening) {
	for i := 1; i < len(os); i++ {
		for j := i; j > 0 && os[j].Opens.Before(os[j-1].Opens); j-- {
			os[j], os[j-1] = os[j-1], os[j]
		}
	}
}

// gateClosedUntil reports whether the gate may not be crossed now, when it may be, and
// why: before the time a scheduled run was scheduled for, outside every window of the
// cluster, or in a blackout.
func (e *Engine) gateClosedUntil(run domain.Run, now time.Time) (time.Time, string, bool) {
	c, err := e.cluster(run.Cluster)
	if err != nil {
		return time.Time{}, "", false
	}
	if b, ok := e.blackoutAt(now); ok {
		return b.To, words.BlackoutEnds(b.Name), true
	}
	if !run.ScheduledFor.IsZero() && now.Before(run.ScheduledFor) {
		if run.Window != "" {
			return run.ScheduledFor, words.WindowOpens(run.Window), true
		}
		return run.ScheduledFor, words.ScheduledTime, true
	}
	if ch := e.checkWindow(c, now); ch.OK {
		return time.Time{}, "", false
	}
	if next, err := e.NextOpenings(run.Cluster, "", now, 1); err == nil && len(next) == 1 {
		return next[0].Opens, words.WindowOpens(next[0].Window), true
	}
	return now.Add(time.Hour), words.AnyWindowOpens(run.Cluster), true
}
