package upgrade

import (
	"fmt"
	"strings"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/storage"
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
		ch.Detail = fmt.Sprintf("blackout %s until %s", b.Name, b.To.Format(time.RFC3339))
		return ch
	}
	if len(c.Windows) == 0 {
		ch.OK, ch.Detail = true, "the cluster has no maintenance windows: any time"
		return ch
	}
	if o, ok := e.openWindow(c, now); ok {
		ch.OK, ch.Detail = true, fmt.Sprintf("window %s is open until %s", o.Window, o.Closes.Format(time.RFC3339))
		return ch
	}
	ch.Detail = "no maintenance window of " + c.Name + " is open now (" + strings.Join(c.Windows, ", ") + ")"
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
		for _, o := range w.Openings(now, n+8) {
			if _, black := e.blackoutAt(o); black {
				continue
			}
			all = append(all, Opening{Window: name, Opens: o, Closes: o.Add(w.Duration.D())})
		}
	}
	sortOpenings(all)
	if len(all) > n {
		all = all[:n]
	}
	return all, nil
}

func sortOpenings(os []Opening) {
	for i := 1; i < len(os); i++ {
		for j := i; j > 0 && os[j].Opens.Before(os[j-1].Opens); j-- {
			os[j], os[j-1] = os[j-1], os[j]
		}
	}
}

// gateClosedUntil reports whether the gate may not be crossed now (outside every window
// of the cluster, or in a blackout), and when it opens next.
func (e *Engine) gateClosedUntil(run storage.Run, now time.Time) (time.Time, bool) {
	c, err := e.cluster(run.Cluster)
	if err != nil {
		return time.Time{}, false
	}
	if ch := e.checkWindow(c, now); ch.OK {
		return time.Time{}, false
	}
	if b, ok := e.blackoutAt(now); ok {
		return b.To, true
	}
	if next, err := e.NextOpenings(run.Cluster, "", now, 1); err == nil && len(next) == 1 {
		return next[0].Opens, true
	}
	return now.Add(time.Hour), true
}
