package promwatch

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

func nan() float64 { return math.NaN() }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// fakeClock advances by itself: After(d) moves the time forward by d and fires at once.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// fakeProm answers queries from a function of the query and its time; range queries get
// one point per step from the same function.
type fakeProm struct {
	mu      sync.Mutex
	answer  func(q string, ts time.Time) (model.Value, error)
	queries []time.Time // times of the instant queries of the checks
}

func (f *fakeProm) Query(_ context.Context, q string, ts time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	if strings.Contains(q, "[3m]") { // the scrape interval measurement
		return model.Matrix{{Metric: model.Metric{"__name__": "up"}, Values: []model.SamplePair{
			{Timestamp: model.TimeFromUnixNano(ts.Add(-2 * time.Second).UnixNano()), Value: 1},
			{Timestamp: model.TimeFromUnixNano(ts.Add(-time.Second).UnixNano()), Value: 1},
		}}}, nil, nil, nil
	}
	f.mu.Lock()
	f.queries = append(f.queries, ts)
	f.mu.Unlock()
	v, err := f.answer(q, ts)
	return v, nil, nil, err
}

func (f *fakeProm) QueryRange(_ context.Context, q string, r v1.Range, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	var m model.Matrix // one series per element of the instant answers
	for ts := r.Start; !ts.After(r.End); ts = ts.Add(r.Step) {
		v, err := f.answer(q, ts)
		if err != nil {
			return nil, nil, nil, err
		}
		vec, _ := v.(model.Vector)
		for i, s := range vec {
			if i == len(m) {
				m = append(m, &model.SampleStream{Metric: s.Metric})
			}
			m[i].Values = append(m[i].Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(ts.UnixNano()), Value: s.Value})
		}
	}
	return m, nil, nil, nil
}

// decodePNG decodes a chart and checks its size and that it is not blank: more than one
// colour, and some pixels of the first series' colour (the series is drawn).
func decodePNG(t *testing.T, name string, b []byte, wantSeries bool) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if got := img.Bounds().Size(); got != (image.Point{800, 400}) {
		t.Errorf("%s: size %v, want 800×400", name, got)
	}
	colours := map[color.RGBA]int{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, a := img.At(x, y).RGBA()
			colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}]++
		}
	}
	if len(colours) < 2 {
		t.Errorf("%s: blank image (%d colours)", name, len(colours))
	}
	if wantSeries {
		series := colSeries[0].(color.RGBA)
		if colours[series] < 20 {
			t.Errorf("%s: %d pixels of the series colour, want the series drawn", name, colours[series])
		}
	}
	return img
}
