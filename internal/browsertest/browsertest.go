// Package browsertest drives headless Chromium (Debian's chromium) through chromedp for the
// tests that use the demo console as a person does: by typing and clicking. It finds the
// browser (skipping without it, failing under CI=true), keeps screenshots as test artifacts
// and collects what the page logs as errors.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Page is one browser tab.
type Page struct {
	t     testing.TB
	ctx   context.Context
	shots string

	mu   sync.Mutex
	errs []string
}

// Open starts Chromium with one tab. Screenshots go to Artifacts(t, name).
func Open(t testing.TB, name string) *Page {
	t.Helper()
	bin := Chromium(t)
	// Not t.TempDir: Chromium's helpers may still write to the profile after the browser
	// is gone, which would fail the test's own cleanup.
	profile, err := os.MkdirTemp("", "drawbridge-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1400, 1000), chromedp.UserDataDir(profile))...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for i := 0; i < 40 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(50 * time.Millisecond) // the helpers exit on their own; nothing to poll
		}
	})
	p := &Page{t: t, ctx: ctx, shots: Artifacts(t, name)}
	// The first Do starts the browser for the lifetime of the context it is given: this
	// one, not a step's timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", bin, err)
	}
	if err := chromedp.Listen(ctx, p.listen); err != nil {
		t.Fatalf("listen to the page: %v", err)
	}
	return p
}

func (p *Page) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, string(a.Value)+a.Description)
		}
		msg = "console.error: " + strings.Join(parts, " ")
	default:
		return
	}
	p.mu.Lock()
	p.errs = append(p.errs, msg)
	p.mu.Unlock()
}

// Errors are the exceptions and console.error calls the page has logged so far.
func (p *Page) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// Context is the tab's context, for chromedp.Run.
func (p *Page) Context() context.Context { return p.ctx }

// Shots is the directory screenshots go to.
func (p *Page) Shots() string { return p.shots }

// Step runs actions within timeout; when they fail it keeps a screenshot, logs the text of
// the element logSelector (when not empty) and fails the test.
func (p *Page) Step(name string, timeout time.Duration, logSelector string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	sctx, cancel := context.WithTimeout(p.ctx, timeout)
	var err error
	for i, a := range actions {
		if err = chromedp.Do(sctx, a); err != nil {
			err = fmt.Errorf("action %d of %d: %w", i+1, len(actions), err)
			break
		}
	}
	cancel()
	if err == nil {
		return
	}
	fctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	_ = chromedp.Do(fctx, p.Shot("failed-"+strings.ReplaceAll(name, " ", "-")))
	if logSelector != "" {
		if text, terr := chromedp.Run(fctx, chromedp.Text(chromedp.CSS(logSelector))); terr == nil {
			p.t.Logf("the page's %s:\n%s", logSelector, text)
		}
	}
	if notice, terr := chromedp.Run(fctx, chromedp.Evaluate[string](`(function(){var n=document.getElementById('notice');return n&&!n.hidden?n.textContent:'';})()`)); terr == nil && notice != "" {
		p.t.Logf("the page's notice: %s", notice)
	}
	if errs := p.Errors(); len(errs) > 0 {
		p.t.Logf("the page logged errors: %q", errs)
	}
	p.t.Fatalf("%s: %v (screenshots in %s)", name, err, p.shots)
}

// Shot saves a screenshot of the viewport as name.png.
func (p *Page) Shot(name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return chromedp.Void{}, fmt.Errorf("screenshot %s: %w", name, err)
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(p.shots, name+".png"), buf, 0o644)
	}
}

// Settled waits until the page has shown the same version and layout for quiet: the live
// page re-renders and scrolls as messages arrive, images load and push what follows down,
// and a click aimed while it moves can land beside its button. version is a JavaScript
// expression for what changes with each update (and the scroll position and height of any
// scrolling pane); Settled adds the document's height and the images in view still loading
// (a lazy image out of view never loads, so it does not count).
func Settled(version string, quiet time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(function(){
		var loading = 0;
		for (var i = 0; i < document.images.length; i++) {
			var img = document.images[i], r = img.getBoundingClientRect();
			if (!img.complete && r.bottom >= 0 && r.top <= window.innerHeight) { loading++; }
		}
		var v = String(%s) + '|' + document.documentElement.scrollHeight + '|' + loading, now = Date.now();
		if (loading > 0) { window.__settledV = undefined; return false; }
		if (window.__settledV !== v) { window.__settledV = v; window.__settledAt = now; return false; }
		return now - window.__settledAt >= %d;
	})()`, version, quiet.Milliseconds()), chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0))
}

// Click clicks target once the page has settled, again if the page replaced the element
// first (see Again).
func Click(target chromedp.CSS, settled chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return Again(settled, chromedp.Click(target))
}

// Again runs actions, and runs them again (up to five times) while Chromium reports that an
// element they found was replaced before they could act on it ("Could not find node with
// given id": a message edited at that moment; nothing was done to it). Use it for actions
// that are harmless to repeat up to the failed one: finding, scrolling, one click.
func Again(actions ...chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		var err error
		for range 5 {
			err = chromedp.Do(ctx, actions...)
			if err == nil || !strings.Contains(err.Error(), "Could not find node with given id") {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, fmt.Errorf("five tries found an element replaced each time: %w", err)
	}
}

// ClickUntil clicks target once the page has settled and waits for want to show; a
// click that missed (the page moved under it) is tried again, up to five times. Use it
// only where a second click is harmless: one that opens a dialog, not one that acts.
func ClickUntil(target, want chromedp.CSS, settled chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		var err error
		for range 5 {
			if err = chromedp.Do(ctx, settled, chromedp.Click(target)); err != nil {
				return chromedp.Void{}, err
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = chromedp.Do(wctx, chromedp.WaitVisible(want))
			cancel()
			if err == nil || ctx.Err() != nil {
				return chromedp.Void{}, err
			}
		}
		return chromedp.Void{}, fmt.Errorf("five clicks on %s did not show %s: %w", string(target), string(want), err)
	}
}

// Chromium is the browser's path: $DRAWBRIDGE_CHROMIUM, /usr/bin/chromium or chromium on
// PATH. Without one the test is skipped, or fails under CI=true (make test installs it).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("DRAWBRIDGE_CHROMIUM"), "/usr/bin/chromium"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium; make test installs it as root)")
	}
	t.Skip("skipping: chromium is not installed (apt-get install -y chromium)")
	return ""
}

// Artifacts is the directory for a test's screenshots: $DRAWBRIDGE_ARTIFACTS/name, else
// test-artifacts/name at the repository's root.
func Artifacts(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("DRAWBRIDGE_ARTIFACTS")
	if dir == "" {
		_, file, _, _ := goruntime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "test-artifacts")
	}
	dir = filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
