package promwatch

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Chart size: 8 × 4 inches at 100 dpi, 800 × 400 pixels.
const (
	chartDPI    = 100
	chartWidth  = 8 * vg.Inch
	chartHeight = 4 * vg.Inch
	chartPoints = 400 // at most this many points per series
)

// ChartData is what one check's chart shows.
type ChartData struct {
	Check    Check
	Title    string       // default: the check's name
	Series   model.Matrix // the query over [From, To]
	Note     string       // why there is no series, shown under the title
	From, To time.Time
	// DowntimeStart and DowntimeEnd are shaded (an unset end: until Started).
	DowntimeStart, DowntimeEnd time.Time
	Started                    time.Time // when the watch began: a vertical line
	Baseline                   float64   // NaN when there is none
}

// charts renders one PNG per check, from the baseline period to now: the baseline's
// lookback before it was taken (or before the watch began), the downtime shaded, the
// thresholds drawn.
func (w *Watcher) charts(ctx context.Context, q Querier, c *config.Cluster, checks []Check, req domain.WatchRequest, base domain.Baseline, now time.Time) []domain.Chart {
	from := req.Started.Add(-w.lookback(c))
	if !base.Taken.IsZero() {
		from = base.Taken.Add(-base.Lookback)
	}
	step := max((now.Sub(from) / chartPoints).Truncate(time.Second), time.Second)
	r := v1.Range{Start: from, End: now, Step: step}
	data := make([]ChartData, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() {
			d := ChartData{Check: ch, From: from, To: now, DowntimeStart: req.Run.DowntimeStart, DowntimeEnd: req.Run.DowntimeEnd,
				Started: req.Started, Baseline: lookup(base.Values, ch.Name)}
			v, err := w.queryRange(ctx, q, ch.Query, r)
			switch m, ok := v.(model.Matrix); {
			case err != nil:
				d.Note = DescribeError(err)
			case !ok || len(m) == 0:
				d.Note = words.NoData
			default:
				d.Series = m
			}
			data[i] = d
		})
	}
	wg.Wait()
	pngs := make([][]byte, len(data))
	for i, d := range data {
		wg.Go(func() {
			pngs[i], _ = RenderChart(d) // a chart is an illustration: the watch goes on without it
		})
	}
	wg.Wait()
	var out []domain.Chart
	for i, d := range data {
		if pngs[i] != nil {
			out = append(out, domain.Chart{Check: d.Check.Name, Name: ChartFile(d.Check.Name), PNG: pngs[i]})
		}
	}
	return out
}

// ChartFile is a check's chart file name: "5xx ratio" → "5xx-ratio.png".
func ChartFile(check string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(check) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	if b.Len() == 0 {
		b.WriteString("check")
	}
	return b.String() + ".png"
}

var (
	colSeries   = []color.Color{color.RGBA{31, 119, 180, 255}, color.RGBA{44, 160, 44, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255}}
	colMax      = color.RGBA{214, 39, 40, 255}
	colMin      = color.RGBA{255, 127, 14, 255}
	colBaseline = color.RGBA{127, 127, 127, 255}
	colDowntime = color.NRGBA{R: 255, G: 120, B: 120, A: 70}
	colStarted  = color.RGBA{23, 190, 207, 255}
)

// RenderChart draws one check as an 800 × 400 PNG: its series over time, the downtime
// shaded, the absolute thresholds and the ratio thresholds (ratio × baseline) as dashed
// lines, the baseline dotted.
func RenderChart(d ChartData) ([]byte, error) {
	p := plot.New()
	p.Title.Text = d.Title
	if p.Title.Text == "" {
		p.Title.Text = d.Check.Name
	}
	if d.Note != "" {
		p.Title.Text += "\n" + truncate(d.Note, 100)
	}
	p.X.Label.Text = "time (UTC)"
	p.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05"}
	p.Y.Label.Text = d.Check.Name
	if d.Check.Unit != "" {
		p.Y.Label.Text = d.Check.Unit
	}
	p.Legend.Top, p.Legend.Left = true, true
	x0, x1 := unix(d.From), unix(d.To)
	if x1 <= x0 {
		x1 = x0 + 1
	}
	p.X.Min, p.X.Max = x0, x1

	lo, hi := math.Inf(1), math.Inf(-1)
	see := func(y float64) {
		if !math.IsNaN(y) && !math.IsInf(y, 0) {
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
	}
	for _, s := range d.Series {
		for _, pt := range s.Values {
			see(float64(pt.Value))
		}
	}
	type ref struct {
		label string
		y     float64
		col   color.Color
		dash  []vg.Length
	}
	var refs []ref
	dashed, dotted := []vg.Length{vg.Points(6), vg.Points(3)}, []vg.Length{vg.Points(2), vg.Points(2)}
	addRef := func(limit *float64, ratio, isMax bool, col color.Color) {
		if limit == nil || (ratio && math.IsNaN(d.Baseline)) {
			return
		}
		y := *limit
		if ratio {
			y *= d.Baseline
		}
		refs = append(refs, ref{threshold(*limit, ratio, isMax, d.Baseline, d.Check.Unit), y, col, dashed})
		see(y)
	}
	addRef(d.Check.Max, false, true, colMax)
	addRef(d.Check.Min, false, false, colMin)
	addRef(d.Check.MaxRatio, true, true, colMax)
	addRef(d.Check.MinRatio, true, false, colMin)
	if !math.IsNaN(d.Baseline) {
		refs = append(refs, ref{"baseline " + FormatValue(d.Baseline, d.Check.Unit), d.Baseline, colBaseline, dotted})
		see(d.Baseline)
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if lo >= 0 {
		lo = 0
	}
	pad := (hi - lo) * 0.3 // room for the legend above the lines
	if pad == 0 {
		pad = math.Max(math.Abs(hi)*0.3, 1)
	}
	p.Y.Min, p.Y.Max = lo, hi+pad

	if !d.DowntimeStart.IsZero() {
		end := d.DowntimeEnd
		if end.IsZero() {
			end = d.Started
		}
		a, b := math.Max(unix(d.DowntimeStart), x0), math.Min(unix(end), x1)
		if b > a {
			poly, err := plotter.NewPolygon(plotter.XYs{{X: a, Y: p.Y.Min}, {X: b, Y: p.Y.Min}, {X: b, Y: p.Y.Max}, {X: a, Y: p.Y.Max}})
			if err != nil {
				return nil, err
			}
			poly.Color, poly.LineStyle.Width = colDowntime, 0
			p.Add(poly)
			p.Legend.Add("downtime", poly)
		}
	}
	if !d.Started.IsZero() && unix(d.Started) > x0 && unix(d.Started) < x1 {
		l, err := plotter.NewLine(plotter.XYs{{X: unix(d.Started), Y: p.Y.Min}, {X: unix(d.Started), Y: p.Y.Max}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes, l.Width = colStarted, dotted, vg.Points(1.5)
		p.Add(l)
		p.Legend.Add("watch started", l)
	}
	for _, r := range refs {
		l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: r.y}, {X: x1, Y: r.y}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes, l.Width = r.col, r.dash, vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(r.label, l)
	}
	for i, s := range d.Series {
		col := colSeries[i%len(colSeries)]
		for j, seg := range segments(s.Values) {
			var thumb plot.Thumbnailer
			if len(seg) == 1 {
				sc, err := plotter.NewScatter(seg)
				if err != nil {
					return nil, err
				}
				sc.Color, sc.Shape, sc.Radius = col, draw.CircleGlyph{}, vg.Points(3)
				p.Add(sc)
				thumb = sc
			} else {
				l, err := plotter.NewLine(seg)
				if err != nil {
					return nil, err
				}
				l.Color, l.Width = col, vg.Points(2)
				p.Add(l)
				thumb = l
			}
			if j == 0 && len(d.Series) > 1 {
				p.Legend.Add(truncate(s.Metric.String(), 60), thumb)
			}
		}
	}

	c := vgimg.NewWith(vgimg.UseWH(chartWidth, chartHeight), vgimg.UseDPI(chartDPI))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("chart %q: %w", d.Check.Name, err)
	}
	return buf.Bytes(), nil
}

// segments splits a series at NaN and infinite values and at gaps longer than three
// times its usual spacing (e.g. the downtime), so that a line never bridges missing data.
// A lone point is a segment of one point (drawn as a dot).
func segments(pts []model.SamplePair) []plotter.XYs {
	var gap time.Duration
	if len(pts) > 1 {
		gap = 3 * pts[len(pts)-1].Timestamp.Sub(pts[0].Timestamp) / time.Duration(len(pts)-1)
	}
	var out []plotter.XYs
	var cur plotter.XYs
	flush := func() {
		if len(cur) == 0 {
			return
		}
		out = append(out, cur)
		cur = nil
	}
	for i, pt := range pts {
		y := float64(pt.Value)
		if math.IsNaN(y) || math.IsInf(y, 0) {
			flush()
			continue
		}
		if i > 0 && gap > 0 && pt.Timestamp.Sub(pts[i-1].Timestamp) > gap {
			flush()
		}
		cur = append(cur, plotter.XY{X: float64(pt.Timestamp) / 1000, Y: y})
	}
	flush()
	return out
}

func unix(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
