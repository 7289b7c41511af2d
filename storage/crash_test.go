package storage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
)

// TestCrashKill: a child process writes records with fsync on and is killed
// with SIGKILL at a random point, many times over the same file. After each
// kill the file must pass Check and hold every write the child reported as
// committed. Set DRAWBRIDGE_CRASH_SEED to replay a failing seed.
func TestCrashKill(t *testing.T) {
	iterations := 100
	if testing.Short() {
		iterations = 20
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("DRAWBRIDGE_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (DRAWBRIDGE_CRASH_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	path := filepath.Join(t.TempDir(), "drawbridge.db")
	ledger := newCrashLedger()
	lines := 0
	for i := range iterations {
		// Mostly kill while writing; sometimes while the child is still opening.
		waitReady := rng.IntN(10) != 0
		delay := time.Duration(rng.Int64N(int64(40 * time.Millisecond)))
		if !waitReady {
			delay = time.Duration(rng.Int64N(int64(20 * time.Millisecond)))
		}
		out := runAndKill(t, path, rng.Uint64(), waitReady, delay)
		lines += len(out)
		fresh, err := ledger.record(out)
		if err != nil {
			t.Fatalf("iteration %d: %v", i, err)
		}
		verifyAfterCrash(t, path, fresh, ledger, fmt.Sprintf("iteration %d", i))
	}
	verifyAfterCrash(t, path, ledger, ledger, "final")
	t.Logf("%d kills, %d reported writes", iterations, lines)
}

// runAndKill starts a crash writer on path and kills it with SIGKILL delay
// after it is ready (or after it started, if !waitReady). It returns every
// line the child printed.
func runAndKill(t *testing.T, path string, seed uint64, waitReady bool, delay time.Duration) []string {
	t.Helper()
	cmd := helperCommand(t, "crash", path, helperSeedEnv+"="+strconv.FormatUint(seed, 10))
	stdout, err := cmd.StdoutPipe()
	mustDo(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	mustDo(t, cmd.Start())
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	var out []string
	if waitReady {
		select {
		case l, ok := <-lines:
			if !ok || l != "ready" {
				_ = cmd.Wait()
				t.Fatalf("child said %q instead of ready; stderr:\n%s", l, stderr.String())
			}
			out = append(out, l)
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("child did not get ready within 30s")
		}
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	alive := true
	for alive {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("child exited before it was killed: %v; stderr:\n%s", cmd.ProcessState, stderr.String())
			}
			out = append(out, l)
		case <-timer.C:
			mustDo(t, cmd.Process.Signal(syscall.SIGKILL))
			alive = false
		}
	}
	for l := range lines { // everything it printed before dying
		out = append(out, l)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL; stderr:\n%s", err, stderr.String())
	}
	return out
}

// crashLedger is what the children reported as committed.
type crashLedger struct {
	runs      map[domain.RunID]reportedRun
	steps     map[[2]uint64]int // (run, index) → attempt
	approvals map[domain.RunID]map[string]domain.Decision
	audit     map[uint64]AuditEvent // Seq, domain.Run, Detail
	enqueued  map[uint64]string     // seq → key
	completed map[uint64]bool
}

type reportedRun struct {
	cluster string
	rev     uint64
}

func newCrashLedger() *crashLedger {
	return &crashLedger{
		runs:      map[domain.RunID]reportedRun{},
		steps:     map[[2]uint64]int{},
		approvals: map[domain.RunID]map[string]domain.Decision{},
		audit:     map[uint64]AuditEvent{},
		enqueued:  map[uint64]string{},
		completed: map[uint64]bool{},
	}
}

// record adds one child's lines to l and returns a ledger of those lines
// alone (what this iteration must find).
func (l *crashLedger) record(lines []string) (*crashLedger, error) {
	fresh := newCrashLedger()
	for _, line := range lines {
		if line == "ready" {
			continue
		}
		for _, into := range []*crashLedger{fresh, l} {
			if err := into.add(line); err != nil {
				return nil, fmt.Errorf("line %q: %w", line, err)
			}
		}
	}
	for seq := range fresh.completed { // verify the key of a message enqueued earlier
		if _, ok := fresh.enqueued[seq]; !ok {
			fresh.enqueued[seq] = l.enqueued[seq]
		}
	}
	return fresh, nil
}

func (l *crashLedger) add(line string) error {
	f := strings.Fields(line)
	n := func(i int) uint64 {
		v, _ := strconv.ParseUint(f[i], 10, 64)
		return v
	}
	switch {
	case f[0] == "run" && len(f) == 4: // run <id> <rev> <cluster>
		id := domain.RunID(n(1))
		if prev, ok := l.runs[id]; ok && (prev.rev >= n(2) || prev.cluster != f[3]) {
			return fmt.Errorf("run %s reported again with %v after %v", id, f[2:], prev)
		}
		l.runs[id] = reportedRun{cluster: f[3], rev: n(2)}
	case f[0] == "step" && len(f) == 4: // step <run> <index> <attempt>
		l.steps[[2]uint64{n(1), n(2)}] = int(n(3))
	case f[0] == "approval" && len(f) == 4: // approval <run> <user> <decision>
		id := domain.RunID(n(1))
		if l.approvals[id] == nil {
			l.approvals[id] = map[string]domain.Decision{}
		}
		l.approvals[id][f[2]] = domain.Decision(f[3])
	case f[0] == "audit" && len(f) == 4: // audit <seq> <run> <detail>
		l.audit[n(1)] = AuditEvent{Seq: n(1), Run: domain.RunID(n(2)), Detail: f[3]}
	case f[0] == "enqueue" && len(f) == 3: // enqueue <seq> <key>
		l.enqueued[n(1)] = f[2]
	case f[0] == "complete" && len(f) == 2: // complete <seq>
		l.completed[n(1)] = true
	default:
		return errors.New("unknown report")
	}
	return nil
}

// verifyAfterCrash opens path, checks it, and looks for every write in want.
func verifyAfterCrash(t *testing.T, path string, want, all *crashLedger, when string) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("%s: reopen: %v", when, err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Fatalf("%s: close: %v", when, err)
		}
	}()
	ctx := t.Context()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for id, rep := range want.runs {
		r, err := s.GetRun(ctx, id)
		switch {
		case err != nil:
			bad("run %s (reported rev %d): %v", id, rep.rev, err)
		case r.Revision < rep.rev || r.Cluster != rep.cluster:
			bad("run %s is rev %d on %q, reported rev %d on %q", id, r.Revision, r.Cluster, rep.rev, rep.cluster)
		case r.Reason != "rev "+strconv.FormatUint(r.Revision, 10) || r.CurrentStep != int(r.Revision)-1:
			bad("run %s rev %d holds the contents of another revision: %+v", id, r.Revision, r)
		}
	}
	stepsOf := map[domain.RunID][]domain.StepRecord{}
	for key, attempt := range want.steps {
		run := domain.RunID(key[0])
		if _, ok := stepsOf[run]; !ok {
			stepsOf[run], err = s.Steps(ctx, run)
			mustDo(t, err)
		}
		var found *domain.StepRecord
		for i, st := range stepsOf[run] {
			if st.Index == int(key[1]) {
				found = &stepsOf[run][i]
			}
		}
		switch {
		case found == nil:
			bad("step %d of run %s (attempt %d) is missing", key[1], run, attempt)
		case found.Attempt < attempt || found.OutputTail != fmt.Sprintf("attempt %d", found.Attempt):
			bad("step %d of run %s: attempt %d %q, reported attempt %d", key[1], run, found.Attempt, found.OutputTail, attempt)
		}
	}
	for run, users := range want.approvals {
		got, err := s.Approvals(ctx, run)
		mustDo(t, err)
		decided := map[string]domain.Decision{}
		for _, a := range got {
			decided[a.UserID] = a.Decision
		}
		for user, d := range users {
			if decided[user] != d {
				bad("approval of run %s by %s: got %q, reported %q", run, user, decided[user], d)
			}
		}
	}
	if len(want.audit) > 0 {
		events, err := s.Audit(ctx, AuditFilter{})
		mustDo(t, err)
		bySeq := map[uint64]AuditEvent{}
		for _, e := range events {
			bySeq[e.Seq] = AuditEvent{Seq: e.Seq, Run: e.Run, Detail: e.Detail}
		}
		for seq, e := range want.audit {
			if bySeq[seq] != e {
				bad("audit event %d: got %+v, reported %+v", seq, bySeq[seq], e)
			}
		}
	}
	pending, err := s.PendingOutbox(ctx, 0)
	mustDo(t, err)
	pendingBySeq := map[uint64]OutboxMessage{}
	for _, m := range pending {
		pendingBySeq[m.Seq] = m
	}
	for seq, key := range want.enqueued {
		m, isPending := pendingBySeq[seq]
		ref, delivered, err := s.MessageRef(ctx, key)
		mustDo(t, err)
		delivered = delivered && ref.TS == fmt.Sprintf("ts-%d", seq)
		switch {
		case all.completed[seq] && (isPending || !delivered):
			bad("message %d was reported completed but is pending %v, ref %+v", seq, isPending, ref)
		case isPending && (m.Key != key || string(m.Payload) != crashPayload(key)):
			bad("pending message %d is %+v, reported key %s", seq, m, key)
		case !isPending && !delivered:
			bad("message %d (key %s) is neither pending nor delivered", seq, key)
		}
	}
	if len(problems) > 0 {
		t.Fatalf("%s: %d reported writes are wrong or missing:\n%s", when, len(problems), strings.Join(problems, "\n"))
	}
}

func crashPayload(key string) string { return `{"key":"` + key + `"}` }

// crashWriter is the child side of TestCrashKill: it writes a random mix of
// records forever, printing one line for each write that returned nil.
func crashWriter(path string, seed uint64) error {
	s, err := Open(path, Options{}) // fsync on
	if err != nil {
		return err
	}
	fmt.Println("ready")
	w := &writer{
		s:        s,
		ctx:      context.Background(),
		rng:      rand.New(rand.NewPCG(seed, 1)),
		name:     strconv.FormatUint(seed, 36),
		attempts: map[[2]uint64]int{},
	}
	// Earlier children's runs are updated too, so revisions carry over kills.
	old, err := s.ListRuns(w.ctx, RunFilter{Limit: 20})
	if err != nil {
		return err
	}
	for _, r := range old {
		w.all = append(w.all, r.ID)
	}
	for {
		if err := w.step(); err != nil {
			return err
		}
	}
}

type writer struct {
	s        *Store
	ctx      context.Context
	rng      *rand.Rand
	name     string // unique to this child
	n        int
	all      []domain.RunID // runs it may update
	own      []domain.RunID // runs it created: steps and approvals go only there
	attempts map[[2]uint64]int
	pending  []uint64 // messages it enqueued and has not completed
}

func (w *writer) step() error {
	w.n++
	switch p := w.rng.IntN(100); {
	case p < 15 || len(w.own) == 0:
		return w.createRun()
	case p < 40:
		return w.updateRun()
	case p < 55:
		return w.putStep()
	case p < 65:
		return w.addApproval()
	case p < 80:
		return w.appendAudit()
	case p < 92 || len(w.pending) == 0:
		return w.enqueue()
	default:
		return w.complete()
	}
}

func (w *writer) createRun() error {
	cluster := fmt.Sprintf("c%s-%d", w.name, w.n)
	r, err := w.s.CreateRun(w.ctx, domain.Run{Cluster: cluster, State: domain.StateScheduled, Reason: "rev 1"})
	if err != nil {
		return err
	}
	w.own = append(w.own, r.ID)
	w.all = append(w.all, r.ID)
	fmt.Printf("run %s %d %s\n", r.ID, r.Revision, r.Cluster)
	return nil
}

func (w *writer) updateRun() error {
	id := w.all[w.rng.IntN(len(w.all))]
	state := []domain.RunState{domain.StatePreparing, domain.StateWatching, domain.StateSucceeded, domain.StateAborted}[w.rng.IntN(4)]
	r, err := w.s.UpdateRun(w.ctx, id, func(r *domain.Run) error {
		r.State = state
		r.CurrentStep++
		r.Reason = "rev " + strconv.FormatUint(r.Revision+1, 10)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("run %s %d %s\n", r.ID, r.Revision, r.Cluster)
	return nil
}

func (w *writer) putStep() error {
	run := w.own[w.rng.IntN(len(w.own))]
	key := [2]uint64{uint64(run), uint64(w.rng.IntN(3))}
	w.attempts[key]++
	a := w.attempts[key]
	rec := domain.StepRecord{Index: int(key[1]), Name: "step", Status: domain.StepRunning, Attempt: a, OutputTail: fmt.Sprintf("attempt %d", a)}
	if err := w.s.PutStep(w.ctx, run, rec); err != nil {
		return err
	}
	fmt.Printf("step %s %d %d\n", run, key[1], a)
	return nil
}

func (w *writer) addApproval() error {
	run := w.own[w.rng.IntN(len(w.own))]
	user := fmt.Sprintf("U%d", w.n) // unique, so never a duplicate
	d := []domain.Decision{domain.DecisionApprove, domain.DecisionReject}[w.rng.IntN(2)]
	if err := w.s.AddApproval(w.ctx, run, domain.Approval{UserID: user, Decision: d}); err != nil {
		return err
	}
	fmt.Printf("approval %s %s %s\n", run, user, d)
	return nil
}

func (w *writer) appendAudit() error {
	var run domain.RunID
	if w.rng.IntN(4) != 0 {
		run = w.all[w.rng.IntN(len(w.all))]
	}
	detail := fmt.Sprintf("d%s-%d", w.name, w.n)
	e, err := w.s.AppendAudit(w.ctx, AuditEvent{Run: run, Actor: "crash", Action: "write", Detail: detail})
	if err != nil {
		return err
	}
	fmt.Printf("audit %d %s %s\n", e.Seq, e.Run, detail)
	return nil
}

func (w *writer) enqueue() error {
	key := fmt.Sprintf("k%s-%d", w.name, w.n)
	m, err := w.s.Enqueue(w.ctx, OutboxMessage{Method: "chat.postMessage", Key: key, Payload: json.RawMessage(crashPayload(key))})
	if err != nil {
		return err
	}
	w.pending = append(w.pending, m.Seq)
	fmt.Printf("enqueue %d %s\n", m.Seq, key)
	return nil
}

func (w *writer) complete() error {
	seq := w.pending[0]
	if err := w.s.CompleteOutbox(w.ctx, seq, MessageRef{Channel: "C1", TS: fmt.Sprintf("ts-%d", seq)}); err != nil {
		return err
	}
	w.pending = w.pending[1:]
	fmt.Printf("complete %d\n", seq)
	return nil
}
