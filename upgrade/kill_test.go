package upgrade_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/drawbridge/drawbridge/wire"
)

const (
	helperEnv      = "DRAWBRIDGE_UPGRADE_HELPER_CONFIG"
	helperChainEnv = "DRAWBRIDGE_UPGRADE_HELPER_CHAIN_TO" // start a chain run to this version
)

// The kill test upgrades 3.5.0 → 3.6.1: "up" leaves teardowns pending, so "finish" has an
// effect of its own to check after a kill.
const killFrom, killTo = "3.5.0", "3.6.1"

// helperMain is the engine process the kill test kills: it resumes whatever run the state
// file holds (or starts one), plays the people (approves at the gate, resumes a run that
// needs attention after a restart, decommissions after the watch) and prints every event.
func helperMain() int {
	cfg, err := config.Load(os.Getenv(helperEnv), config.LoadOptions{})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	store, err := storage.Open(cfg.StateFile, storage.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Printf(format+"\n", args...)
		mu.Unlock()
	}
	opts := nodeWatch(wire.EngineOptions(cfg, store, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	// At every step event the engine waits for the test's word (a line on stdin), so the
	// test can kill it exactly there, or let it go on and kill it inside the step.
	in := bufio.NewReader(os.Stdin)
	opts.Sink = upgrade.SinkFunc(func(e domain.Event) {
		switch e.Kind {
		case domain.EventStepStarted:
			say("started %s", e.Step.Name)
			_, _ = in.ReadString('\n')
		case domain.EventStepFinished:
			say("finished %s %s", e.Step.Name, e.Step.Status)
			_, _ = in.ReadString('\n')
		case domain.EventStateChanged:
			say("state %s", e.Run.State)
		case domain.EventNotice:
			if strings.HasPrefix(e.Message, "Chain: ") {
				say("notice %s", e.Message)
				_, _ = in.ReadString('\n')
			}
		}
	})
	eng, err := upgrade.New(opts)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	ctx := context.Background()
	if err := eng.Recover(ctx); err != nil {
		fmt.Println("error", err)
		return 1
	}
	runs, err := eng.List(ctx, storage.RunFilter{})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	var id domain.RunID
	if len(runs) == 0 {
		req := upgrade.StartRequest{Cluster: "test", To: killTo, RequestedBy: "U0OPERATOR"}
		if to := os.Getenv(helperChainEnv); to != "" {
			req.To, req.Chain = to, true
		}
		run, err := eng.Start(ctx, req)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		id = run.ID
	} else {
		id = runs[0].ID
	}
	say("ready %s", id)
	for {
		run, err := store.GetRun(ctx, id)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		switch run.State {
		case domain.StateAwaitingApproval:
			_, _ = eng.Approve(ctx, id, "U0APPROVER")
		case domain.StateAwaitingDecommission:
			_, _ = eng.Decommission(ctx, id, "U0OPERATOR")
		case domain.StateNeedsAttention:
			say("attention %s", run.Reason)
			_, _ = eng.Resume(ctx, id, "U0OPERATOR")
		}
		if run.State.Terminal() {
			say("end %s %s", run.State, run.Reason)
			eng.Close()
			store.Close()
			return 0
		}
		time.Sleep(50 * time.Millisecond) // this loop plays people, polling the run's state
	}
}

// TestKillAtEveryStep: an engine process drives an upgrade of a kongsim cluster and is
// killed with SIGKILL at every step boundary and in the middle of every step. After each
// restart the run goes on; at the end it has succeeded, no non-repeatable command ran
// twice (counted in kongsim's own log), and the records and the audit log are complete.
func TestKillAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("kills an engine 20-odd times")
	}
	c := newCluster(t, clusterOpts{version: killFrom, rehearsal: true})
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)

	type point struct {
		line   string // the event line after which to kill
		middle bool   // kill a little later, inside the step
	}
	var points []point
	for _, s := range []string{"preflight", "freeze", "backup", "evaluate", "rehearsal", "approval", "stop", "migrations_up", "migrations_finish", "start", "watch", "decommission"} {
		points = append(points, point{"started " + s, true}, point{"finished " + s, false})
	}
	kills := 0
	var log strings.Builder
	for len(points) > 0 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+c.cfgPath)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 64)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		ended, killed := "", false
		timeout := time.After(2 * time.Minute)
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				log.WriteString(l + "\n")
				switch {
				case strings.HasPrefix(l, "end "):
					ended = l
				case strings.HasPrefix(l, "error "):
					t.Fatalf("engine process: %s\n%s", l, stderr.String())
				}
				if !strings.HasPrefix(l, "started ") && !strings.HasPrefix(l, "finished ") {
					if strings.HasPrefix(l, "state ") && len(points) == 1 && !points[0].middle && !killed {
						// The last kill landed after its step was recorded done but before
						// the event was printed: the engine goes straight on. That kill was
						// at this boundary.
						fmt.Fprintf(&log, "--- killed at %q (just after it was recorded)\n", points[0].line)
						kills++
						points = points[1:]
					}
					continue
				}
				if len(points) > 0 && !points[0].middle && laterStep(l, points[0].line) {
					fmt.Fprintf(&log, "--- killed at %q (just after it was recorded)\n", points[0].line)
					kills++
					points = points[1:]
				}
				if len(points) == 0 {
					fmt.Fprintln(stdin, "go")
					continue
				}
				if l != points[0].line && !strings.HasPrefix(l, points[0].line+" ") {
					fmt.Fprintln(stdin, "go")
					continue
				}
				if points[0].middle {
					fmt.Fprintln(stdin, "go") // let the step run, then kill it inside
					time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
				}
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				kills++
				fmt.Fprintf(&log, "--- killed %s %q\n", map[bool]string{true: "inside", false: "at"}[points[0].middle], points[0].line)
				points = points[1:]
				break read
			case <-timeout:
				_ = cmd.Process.Kill()
				t.Fatalf("engine process made no progress; output:\n%s\nstderr:\n%s", log.String(), stderr.String())
			}
		}
		for l := range lines {
			log.WriteString(l + "\n")
			// A fast step can end before the kill inside it lands; the engine then waits at
			// the step's boundary, where the kill finds it: that point is covered too.
			if len(points) > 0 && !points[0].middle && strings.HasPrefix(l, points[0].line+" ") {
				fmt.Fprintf(&log, "--- killed at %q\n", points[0].line)
				kills++
				points = points[1:]
			}
		}
		err = cmd.Wait()
		if !killed {
			if err != nil {
				t.Fatalf("engine process failed: %v\n%s\n%s", err, log.String(), stderr.String())
			}
			if len(points) > 0 {
				t.Fatalf("engine process ended the run (%s) before point %q:\n%s", ended, points[0].line, log.String())
			}
		}
	}
	// Let the last restart finish the run.
	final := runHelperToEnd(t, c)
	t.Logf("%d kills; events:\n%s%s", kills, log.String(), final)
	if kills != 24 {
		t.Errorf("%d kills landed, want 24", kills)
	}
	if !strings.Contains(final, "end succeeded") {
		t.Fatalf("the run did not succeed:\n%s", final)
	}
	c.WantVersions(killTo)
	for _, cmd := range []string{"migrations up", "migrations finish"} {
		if n := c.CommandCount(cmd); n != 1 {
			t.Errorf("kong %s ran %d times", cmd, n)
		}
	}
	// The rehearsal killed half-way left its copy; the repeated rehearsal replaced and
	// dropped it.
	db := c.database()
	if copies, err := db.Copies(t.Context(), db.Name()+"_rehearsal_"); err != nil || len(copies) > 0 {
		t.Errorf("scratch databases left: %v %v", copies, err)
	}
	store, err := storage.Open(c.cfg.StateFile, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	runs, _ := store.ListRuns(t.Context(), storage.RunFilter{})
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	steps, _ := store.Steps(t.Context(), runs[0].ID)
	for _, s := range steps {
		if s.Status != domain.StepSucceeded && s.Status != domain.StepSkipped {
			t.Errorf("step %s is %s: %s", s.Name, s.Status, s.Error)
		}
	}
	audit, _ := store.Audit(t.Context(), storage.AuditFilter{Run: runs[0].ID})
	have := map[string]bool{}
	for _, e := range audit {
		have[e.Action+" "+strings.Fields(e.Detail + " x")[0]] = true
	}
	for _, s := range steps {
		if !have["step_started "+s.Name] {
			t.Errorf("audit log lacks the start of %s", s.Name)
		}
	}
	for _, want := range []string{"start upgrade", "approve x", "state_succeeded test"} {
		if !have[want] {
			t.Errorf("audit log lacks %q", want)
		}
	}
}

// runHelperToEnd runs the engine process until the run ends and returns its output.
func runHelperToEnd(t *testing.T, c *cluster) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+c.cfgPath)
	cmd.Stdin = strings.NewReader(strings.Repeat("go\n", 1000))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("engine process: %v\n%s", err, out)
	}
	return string(out)
}

var stepOrder = []string{"preflight", "freeze", "backup", "evaluate", "stage", "rehearsal", "approval", "stop", "migrations_up", "migrations_finish", "start", "watch", "decommission"}

// laterStep reports whether the event line is about a step after the one point names.
func laterStep(line, point string) bool {
	step := func(s string) int {
		f := strings.Fields(s)
		if len(f) < 2 {
			return -1
		}
		for i, n := range stepOrder {
			if n == f[1] {
				return i
			}
		}
		return -1
	}
	return step(line) > step(point)
}
