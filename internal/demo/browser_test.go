package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drawbridge/drawbridge/internal/browsertest"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kongsim/manifest"
)

// TestDemoInBrowser runs the demo as make demo does and drives its console in headless
// Chromium by typing and clicking only: an upgrade to 3.5.0 approved by the change manager,
// watched and decommissioned; then, with the bad-release switch on, an upgrade to 3.6.1 that
// breaches and is rolled back with the alert's button. Screenshots go to test-artifacts/.
func TestDemoInBrowser(t *testing.T) {
	browsertest.Chromium(t) // skip (or fail under CI) before starting anything
	kongsim := kongtest.Kongsim(t)
	data := t.TempDir()
	cfg := shortWatchConfig(t, data)

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Data: data, Config: cfg, Kongsim: kongsim, ConsoleListen: "127.0.0.1:0",
			PGPort: testsvc.FreePort(t), PromPort: testsvc.FreePort(t), DrawbridgePort: testsvc.FreePort(t),
			Ready: func(url string) { ready <- url }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("the demo did not stop within a minute")
		}
	})
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		if testsvc.ShouldSkip(err) {
			t.Skipf("skipping: %v", err)
		}
		t.Fatalf("demo did not start: %v", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("demo not ready after 3 minutes")
	}

	page := browsertest.Open(t, "demo-browser")
	shot := page.Shot
	// Each step may take two minutes (the watch alone is 16 s; a loaded CI machine is slow).
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		page.Step(name, 2*time.Minute, "#messages", actions...)
	}
	// settled: no update for half a second, so a button stays where the click aims.
	settled := browsertest.Settled(`document.body.getAttribute('data-version') + '/' + document.body.getAttribute('data-user') + '/' + document.getElementById('scroller').scrollTop + '/' + document.getElementById('scroller').scrollHeight`, 500*time.Millisecond)
	as := func(user string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#users button[data-user-id=%q]`, user))),
			chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`body[data-user=%q]`, user))),
			settled,
		)
	}
	typeCommand := func(text string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.WaitVisible(chromedp.CSS(`#command-input`)),
			chromedp.SendKeys(chromedp.CSS(`#command-input`), text+"\r"),
		)
	}
	status := func(run int, state string) chromedp.CSS {
		return chromedp.CSS(fmt.Sprintf(`#messages > article[data-kind="message"][data-run="%d"][data-state^=%q]`, run, state))
	}
	button := func(run int, action string) chromedp.CSS {
		return chromedp.CSS(fmt.Sprintf(`#messages > article[data-kind="message"][data-run="%d"] > .msg-main > .msg-body button[data-action-id=%q]`, run, action))
	}
	// Each step may take two minutes (the watch alone is 16 s; a loaded CI machine is slow);
	// a failed step leaves a screenshot and the page's messages in the log.
	step("open the console", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)), shot("01-console"))
	step("start as the operator", as(Operator), typeCommand("/kong-upgrade start demo 3.5.0"),
		chromedp.WaitVisible(status(1, "awaiting approval")), shot("02-awaiting-approval"))
	step("approve as the change manager", as(Manager), browsertest.Click(button(1, "approve"), settled),
		browsertest.Again(chromedp.WaitVisible(status(1, "watching")), chromedp.ScrollIntoView(status(1, "watching"))), shot("03-watching"))
	step("decommission after the watch", chromedp.WaitVisible(button(1, "decommission")), as(Operator),
		browsertest.Click(button(1, "decommission"), settled),
		chromedp.WaitVisible(status(1, "succeeded")), shot("04-succeeded"))
	step("bad release, upgrade again", chromedp.Click(chromedp.CSS(`input[data-switch="bad release"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[data-switch="bad release"][data-on="1"]`)),
		typeCommand("/kong-upgrade start demo 3.6.1"), chromedp.WaitVisible(status(2, "awaiting approval")),
		as(Manager), browsertest.Click(button(2, "approve"), settled))
	step("the watch breaches", chromedp.WaitVisible(status(2, "needs attention")),
		chromedp.WaitVisible(chromedp.CSS(`[data-thread] button[data-action-id="rollback"]`)),
		browsertest.Again(chromedp.ScrollIntoView(chromedp.CSS(`[data-thread] button[data-action-id="rollback"]`))), shot("05-breach"))
	step("roll back as the operator", as(Operator),
		browsertest.ClickUntil(chromedp.CSS(`[data-thread] button[data-action-id="rollback"]`), chromedp.CSS(`#confirm-dialog[data-open="1"]`), settled),
		shot("06-confirm"),
		chromedp.Click(chromedp.CSS(`#confirm-ok`)),
		chromedp.WaitVisible(status(2, "rolled back")),
		// The alert keeps the breach but loses its Roll back button.
		chromedp.WaitNotPresent(chromedp.CSS(`[data-thread] button[data-action-id="rollback"]`)),
		browsertest.Again(chromedp.ScrollIntoView(status(2, "rolled back"))), shot("07-rolled-back"))
	if errs := page.Errors(); len(errs) > 0 {
		t.Errorf("the page logged errors: %q", errs)
	}
	t.Logf("screenshots in %s", page.Shots())

	// The page said so; the cluster must agree: every node back on 3.5.0.
	m, err := manifest.Read(filepath.Join(data, "kong"))
	if err != nil {
		t.Fatal(err)
	}
	cl := cluster{Cluster: m, bin: kongsim}
	for _, n := range cl.Nodes {
		out, err := cl.run(context.Background(), "kong", "version", "-p", n.Prefix)
		if err != nil {
			t.Fatal(err)
		}
		if v := strings.TrimSpace(out); v != "3.5.0" {
			t.Errorf("after the rollback %s runs %s, want 3.5.0", n.Name, v)
		}
	}
}

// shortWatchConfig is examples/demo.yaml with a shorter watch, so the test does not wait
// the demo's 40 seconds twice.
func shortWatchConfig(t *testing.T, dir string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "examples", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "duration: 40s", "duration: 16s", 1)
	cfg = strings.Replace(cfg, "interval: 4s", "interval: 2s", 1)
	path := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
