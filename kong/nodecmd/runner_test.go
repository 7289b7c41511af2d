package nodecmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/scrub"
)

func newRunner(t *testing.T) *Runner {
	return &Runner{OutputDir: filepath.Join(t.TempDir(), "out"), Parallelism: 4, Timeout: 30 * time.Second}
}

func readLog(t *testing.T, res kong.CommandResult) string {
	t.Helper()
	b, err := os.ReadFile(res.LogPath)
	if err != nil {
		t.Fatalf("log of %s: %v", res.Action, err)
	}
	return string(b)
}

func TestRunSuccess(t *testing.T) {
	r := newRunner(t)
	before := time.Now()
	res := r.Run(t.Context(), Job{Action: "stop", Node: "kong-1", Argv: helper("sleep", "100ms", "stopped")})
	if res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = exit %d, %v", res.ExitCode, res.Err)
	}
	if res.Action != "stop" || res.Node != "kong-1" || res.Argv[len(res.Argv)-1] != "stopped" {
		t.Errorf("result names %q %q %q", res.Action, res.Node, res.Argv)
	}
	if res.Started.Before(before) || res.Duration < 100*time.Millisecond || res.Duration > 10*time.Second {
		t.Errorf("Started %v (test began %v), Duration %v", res.Started, before, res.Duration)
	}
	if res.Tail != "stopped\n" || readLog(t, res) != "stopped\n" {
		t.Errorf("Tail %q, log %q; want %q", res.Tail, readLog(t, res), "stopped\n")
	}
	if fi, err := os.Stat(r.OutputDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("output dir: %v %v, want mode 0700", fi.Mode(), err)
	}
	if fi, err := os.Stat(res.LogPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file: %v %v, want mode 0600", fi.Mode(), err)
	}
}

func TestLogFileNames(t *testing.T) {
	r := newRunner(t)
	cases := []struct {
		job  Job
		want string
	}{
		{Job{Action: "stop", Node: "kong-eu-1"}, `^\d+-stop-kong-eu-1\.log$`},
		{Job{Action: "migrations_up"}, `^\d+-migrations_up\.log$`},
		{Job{Node: "kong-1"}, `^\d+-command-kong-1\.log$`},
		{Job{Action: "start", Node: "../etc/passwd x"}, `^\d+-start-.._etc_passwd_x\.log$`},
	}
	for _, tc := range cases {
		tc.job.Argv = helper("print", "hi")
		res := r.Run(t.Context(), tc.job)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if filepath.Dir(res.LogPath) != r.OutputDir || !regexp.MustCompile(tc.want).MatchString(filepath.Base(res.LogPath)) {
			t.Errorf("%+v: log %s, want %s in %s", tc.job, res.LogPath, tc.want, r.OutputDir)
		}
	}
	// The same job twice in the same nanosecond gets two files.
	fixed := time.Unix(1700000000, 0)
	r.Now = func() time.Time { return fixed }
	a := r.Run(t.Context(), Job{Action: "stop", Node: "n", Argv: helper("print", "a")})
	b := r.Run(t.Context(), Job{Action: "stop", Node: "n", Argv: helper("print", "b")})
	if a.LogPath == b.LogPath || readLog(t, a) != "a\n" || readLog(t, b) != "b\n" {
		t.Errorf("logs %s and %s", a.LogPath, b.LogPath)
	}
}

func TestOutputInterleavedInWriteOrder(t *testing.T) {
	res := newRunner(t).Run(t.Context(), Job{Action: "start", Node: "kong-1", Argv: helper("interleave")})
	want := "o1\ne1\no2\ne2\n"
	if res.Err != nil || readLog(t, res) != want || res.Tail != want {
		t.Errorf("err %v, log %q, tail %q; want %q", res.Err, readLog(t, res), res.Tail, want)
	}
}

func TestTail(t *testing.T) {
	r := newRunner(t)
	r.TailBytes = 100
	res := r.Run(t.Context(), Job{Action: "install", Node: "kong-1", Argv: helper("lines", "2000")})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if !strings.HasPrefix(res.Tail, Cut+"\nline ") || !strings.HasSuffix(res.Tail, "line 02000\n") ||
		len(res.Tail) > 100+len(Cut+"\n") {
		t.Errorf("tail %q: want whole lines ending with line 02000, marked as cut, at most 100 bytes", res.Tail)
	}
	log := readLog(t, res)
	if n := strings.Count(log, "\n"); n != 2000 || !strings.HasPrefix(log, "line 00001\n") {
		t.Errorf("log has %d lines, starts %q", n, log[:min(len(log), 20)])
	}
	// Defaults: 4096 bytes.
	r.TailBytes = 0
	res = r.Run(t.Context(), Job{Action: "install", Node: "kong-1", Argv: helper("lines", "2000")})
	if len(res.Tail) > 4096+len(Cut+"\n") || len(res.Tail) < 4000 {
		t.Errorf("default tail is %d bytes", len(res.Tail))
	}
}

func TestCutTail(t *testing.T) {
	cases := []struct{ in, want string }{
		{"rtial\nwhole\n", Cut + "\nwhole\n"},
		{"one long line without newline", Cut + "one long line without newline"},
		{"partial line ending\n", Cut + "partial line ending\n"},
		{"\x80\x80é and more", Cut + "é and more"}, // never half a character
	}
	for _, tc := range cases {
		if got := cutTail([]byte(tc.in)); got != tc.want {
			t.Errorf("cutTail(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExitCode(t *testing.T) {
	res := newRunner(t).Run(t.Context(), Job{Action: "stop", Node: "kong-eu-1", Argv: helper("exit", "3", "Error: nginx not running in prefix: /kong")})
	if res.ExitCode != 3 || res.Err == nil {
		t.Fatalf("exit %d, err %v; want 3 and an error", res.ExitCode, res.Err)
	}
	msg := res.Err.Error()
	for _, want := range []string{"stop on kong-eu-1: ", os.Args[0], "exit status 3", "about to fail\nError: nginx not running in prefix: /kong"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	var ee *exec.ExitError
	if !errors.As(res.Err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("error does not wrap the *exec.ExitError")
	}
}

func TestMissingProgram(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		prog, want string
		notFound   bool
	}{
		{"drawbridge-no-such-program", "stop on kong-eu-1: exec drawbridge-no-such-program: not found", true},
		{"/nonexistent/ssh", "stop on kong-eu-1: exec /nonexistent/ssh: not found", true},
		{notExec, "stop on kong-eu-1: exec " + notExec + ": permission denied", false},
	}
	r := newRunner(t)
	for _, tc := range cases {
		res := r.Run(t.Context(), Job{Action: "stop", Node: "kong-eu-1", Argv: []string{tc.prog, "-p", "/kong"}})
		if res.Err == nil || res.Err.Error() != tc.want || res.ExitCode != -1 || res.LogPath != "" {
			t.Errorf("%s: err %v, exit %d, log %q; want %q, -1, no log", tc.prog, res.Err, res.ExitCode, res.LogPath, tc.want)
		}
		if tc.notFound && !errors.Is(res.Err, exec.ErrNotFound) && !errors.Is(res.Err, os.ErrNotExist) {
			t.Errorf("%s: error does not wrap not-found", tc.prog)
		}
	}
	if entries, _ := os.ReadDir(r.OutputDir); len(entries) != 0 {
		t.Errorf("logs left for commands that never ran: %v", entries)
	}
}

func TestBadJobs(t *testing.T) {
	res := newRunner(t).Run(t.Context(), Job{Action: "stop", Node: "kong-1"})
	if res.Err == nil || res.Err.Error() != "stop on kong-1: no program to run" || res.ExitCode != -1 {
		t.Errorf("empty argv: %v", res.Err)
	}
	res = (&Runner{}).Run(t.Context(), Job{Action: "stop", Node: "kong-1", Argv: []string{"true"}})
	if res.Err == nil || !strings.Contains(res.Err.Error(), "OutputDir is not set") {
		t.Errorf("no output dir: %v", res.Err)
	}
}

// TestArgumentsAreLiteral: no shell sees the arguments.
func TestArgumentsAreLiteral(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	args := []string{"a; rm -rf /", "$(id)", "`id`", "*", `"quoted"`, "", "x > " + marker, "$HOME", "touch " + marker + " &&", "\\n"}
	res := newRunner(t).Run(t.Context(), Job{Action: "stop", Node: "kong-1", Argv: helper(append([]string{"args"}, args...)...)})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var want strings.Builder
	for _, a := range args {
		fmt.Fprintf(&want, "%q\n", a)
	}
	if got := readLog(t, res); got != want.String() {
		t.Errorf("the program saw\n%s\nwant\n%s", got, want.String())
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a shell ran an argument")
	}
}

func TestStdinIsEmpty(t *testing.T) {
	res := newRunner(t).Run(t.Context(), Job{Action: "stop", Node: "kong-1", Argv: helper("stdin")})
	if res.Err != nil || res.Tail != "stdin 0 bytes, err <nil>\n" {
		t.Errorf("err %v, output %q", res.Err, res.Tail)
	}
}

// TestTimeoutKillsTheProcessGroup: the helper's child sleeps in the same process group
// and would outlive it; both die at the timeout.
func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	r := newRunner(t)
	r.Timeout = time.Second
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	res := r.Run(t.Context(), Job{Action: "stop", Node: "kong-1", Argv: helper("spawn", pidFile)})
	if res.Err == nil || !errors.Is(res.Err, ErrTimeout) || !strings.Contains(res.Err.Error(), "stop on kong-1: ") ||
		!strings.Contains(res.Err.Error(), "timed out after 1s") {
		t.Errorf("err %v; want stop on kong-1 … timed out after 1s", res.Err)
	}
	if res.ExitCode != -1 || res.Duration < time.Second || res.Duration > 5*time.Second {
		t.Errorf("exit %d after %v; want -1 after about 1s", res.ExitCode, res.Duration)
	}
	if !strings.Contains(res.Tail, "spawned ") || !strings.Contains(res.Err.Error(), "spawned ") {
		t.Errorf("tail %q: want the helper's output, also in the error", res.Tail)
	}
	child := readPID(t, pidFile)
	waitGone(t, child)
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
}

// TestDetachedChildDoesNotHoldTheRun is a "kong start" that leaves a daemon behind, in a
// session of its own and holding the log: Run returns when the program exits and leaves
// the daemon alone.
func TestDetachedChildDoesNotHoldTheRun(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	res := newRunner(t).Run(t.Context(), Job{Action: "start", Node: "kong-1", Argv: helper("daemon", pidFile)})
	daemon := readPID(t, pidFile)
	if res.Err != nil || res.ExitCode != 0 || res.Duration > 10*time.Second {
		t.Errorf("err %v, exit %d after %v", res.Err, res.ExitCode, res.Duration)
	}
	if !alive(daemon) {
		t.Errorf("the daemon %d was killed", daemon)
	}
}

func TestCancelKillsAndSkips(t *testing.T) {
	r := newRunner(t)
	r.Parallelism = 2
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(time.Second, cancel)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	jobs := []Job{
		{Action: "stop", Node: "kong-1", Argv: helper("spawn", pidFile)},
		{Action: "stop", Node: "kong-2", Argv: helper("sleep", "30s")},
		{Action: "stop", Node: "kong-3", Argv: helper("sleep", "30s")},
	}
	start := time.Now()
	results := r.RunAll(ctx, jobs)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("RunAll took %v after cancel", d)
	}
	for i, res := range results[:2] {
		if !errors.Is(res.Err, context.Canceled) || !strings.Contains(res.Err.Error(), "cancelled after") || res.ExitCode != -1 {
			t.Errorf("job %d: exit %d, err %v; want killed and cancelled", i, res.ExitCode, res.Err)
		}
	}
	if res := results[2]; !errors.Is(res.Err, context.Canceled) || res.Err.Error() != "stop on kong-3: not started: context canceled" || res.LogPath != "" {
		t.Errorf("job 2: %v, log %q; want not started", res.Err, res.LogPath)
	}
	waitGone(t, readPID(t, pidFile))

	// A Run with an ended context starts nothing.
	res := r.Run(ctx, Job{Action: "start", Node: "kong-1", Argv: helper("print", "x")})
	if !errors.Is(res.Err, context.Canceled) || res.LogPath != "" {
		t.Errorf("Run after cancel: %v %q", res.Err, res.LogPath)
	}
}

func TestRunAllOrderAndIndependence(t *testing.T) {
	r := newRunner(t)
	r.Parallelism = 3
	var jobs []Job
	for i := range 6 {
		argv := helper("sleep", fmt.Sprintf("%dms", (6-i)*50), fmt.Sprintf("job %d", i))
		if i == 2 {
			argv = helper("exit", "1", "job 2 failed")
		}
		jobs = append(jobs, Job{Action: "start", Node: fmt.Sprintf("kong-%d", i), Argv: argv})
	}
	results := r.RunAll(t.Context(), jobs)
	if len(results) != len(jobs) {
		t.Fatalf("%d results for %d jobs", len(results), len(jobs))
	}
	for i, res := range results {
		if res.Node != jobs[i].Node {
			t.Errorf("result %d is for %s", i, res.Node)
		}
		if i == 2 {
			if res.ExitCode != 1 || !strings.Contains(res.Err.Error(), "job 2 failed") {
				t.Errorf("job 2: exit %d, %v", res.ExitCode, res.Err)
			}
			continue
		}
		if res.Err != nil || res.Tail != fmt.Sprintf("job %d\n", i) {
			t.Errorf("job %d: %v, tail %q", i, res.Err, res.Tail)
		}
	}
}

// TestParallelismBound measures the concurrency: each helper reports when it ran.
func TestParallelismBound(t *testing.T) {
	for _, tc := range []struct{ parallelism, jobs, want int }{{3, 9, 3}, {0, 3, 1}, {10, 4, 4}} {
		t.Run(fmt.Sprintf("parallelism=%d", tc.parallelism), func(t *testing.T) {
			r := newRunner(t)
			r.Parallelism = tc.parallelism
			jobs := make([]Job, tc.jobs)
			for i := range jobs {
				jobs[i] = Job{Action: "stop", Node: fmt.Sprintf("kong-%d", i), Argv: helper("interval", "1s")} // long enough that every start lands inside it on a loaded machine
			}
			var spans [][2]int64
			for _, res := range r.RunAll(t.Context(), jobs) {
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				var s, e int64
				if _, err := fmt.Sscanf(res.Tail, "start %d\nend %d\n", &s, &e); err != nil {
					t.Fatalf("helper output %q: %v", res.Tail, err)
				}
				spans = append(spans, [2]int64{s, e})
			}
			if got := maxOverlap(spans); got != tc.want {
				t.Errorf("at most %d ran at once, want %d", got, tc.want)
			}
		})
	}
}

// maxOverlap is the largest number of spans that contain a common instant.
func maxOverlap(spans [][2]int64) int {
	best := 0
	for _, s := range spans {
		n := 0
		for _, o := range spans {
			if o[0] <= s[0] && s[0] < o[1] {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

func TestArgvString(t *testing.T) {
	got := argvString([]string{"kong", "stop", "-p", "/usr/local/kong", "a; b", "", "$(id)"})
	want := `kong stop -p /usr/local/kong "a; b" "" "$(id)"`
	if got != want {
		t.Errorf("argvString = %s, want %s", got, want)
	}
}

func TestErrTail(t *testing.T) {
	var lines []string
	for i := range 30 {
		lines = append(lines, "l"+strconv.Itoa(i))
	}
	got := errTail(strings.Join(lines, "\n") + "\n\n")
	want := "; output ends:\n" + Cut + "\n" + strings.Join(lines[20:], "\n")
	if got != want {
		t.Errorf("errTail = %q, want %q", got, want)
	}
	if errTail(" \n") != "" {
		t.Error("errTail of no output is not empty")
	}
	if got := errTail(strings.Repeat("x", 5000)); len(got) > errTailBytes+40 || !strings.Contains(got, Cut) {
		t.Errorf("errTail of one long line: %d bytes", len(got))
	}
}

// TestMinimalEnvAndScrub: a command sees PATH, HOME, LANG, TZ and the allowed names only,
// and a secret it prints is gone from its result and its output file.
func TestMinimalEnvAndScrub(t *testing.T) {
	t.Setenv("NODECMD_TEST_SECRET_VAR", "drawbridge-only")
	t.Setenv("NODECMD_TEST_ALLOWED", "yes")
	r := &Runner{OutputDir: t.TempDir(), Env: MinimalEnv([]string{"NODECMD_TEST_ALLOWED"}), Scrub: scrub.New("hunter2-pw")}
	res := r.Run(t.Context(), Job{Action: "check", Node: "n1", Argv: []string{"sh", "-c", "env; echo pw=hunter2-pw; exit 2", "hunter2-pw"}})
	if res.ExitCode != 2 {
		t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
	}
	if strings.Contains(res.Tail, "NODECMD_TEST_SECRET_VAR") || !strings.Contains(res.Tail, "NODECMD_TEST_ALLOWED=yes") || !strings.Contains(res.Tail, "PATH=") {
		t.Errorf("environment: %s", res.Tail)
	}
	out, err := os.ReadFile(res.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"tail": res.Tail, "error": res.Err.Error(), "argv": strings.Join(res.Argv, " "), "output file": string(out)} {
		if strings.Contains(text, "hunter2") {
			t.Errorf("the %s shows the secret: %s", what, text)
		}
	}
	if !strings.Contains(string(out), "pw=[redacted]") {
		t.Errorf("output file: %s", out)
	}
}
